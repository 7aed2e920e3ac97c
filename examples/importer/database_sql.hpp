// What the SQLite and PostgreSQL backends share: the `businesses` column list and index set
// (column names come from record.hpp's field_column, so the table and the records cannot
// drift apart), and the one-line form of a database's multi-line error text.
#pragma once

#include "record.hpp"

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace weft_import::database_sql {

inline constexpr std::string_view table = "businesses";

// The columns an import writes, in field order: "name, category, ..., description".
inline std::string column_list() {
    std::string out;
    for (std::size_t i = 0; i < field_count; ++i) {
        if (i > 0) out += ", ";
        out += field_column(static_cast<field>(i));
    }
    return out;
}

// The tutorial's indexes, one column each, named idx_businesses_<column>. A bulk load into a
// table the import creates (or finds empty) builds them after the rows are in, in the same
// transaction: see connection::create_schema.
inline constexpr std::array<std::string_view, 6> indexed_columns = {
    "name", "category", "email", "city", "country", "deleted_at"};

inline std::string index_name(std::string_view column) {
    return "idx_businesses_" + std::string(column);
}

inline std::string create_indexes() {
    std::string out;
    for (std::string_view c : indexed_columns) {
        out += "CREATE INDEX IF NOT EXISTS ";
        out += index_name(c);
        out += " ON businesses (";
        out += c;
        out += ");\n";
    }
    return out;
}

// CREATE TABLE IF NOT EXISTS businesses, in the backend's dialect: its identity column, its
// timestamp type and its "now"; without the indexes (create_indexes()).
inline std::string create_table(std::string_view id_column, std::string_view timestamp,
                                std::string_view now) {
    std::string sql = "CREATE TABLE IF NOT EXISTS businesses (\n    id ";
    sql += id_column;
    sql += ",\n";
    for (std::size_t i = 0; i < field_count; ++i) {
        const auto f = static_cast<field>(i);
        sql += "    ";
        sql += field_column(f);
        sql += f == field::name ? " TEXT NOT NULL,\n" : " TEXT,\n";
    }
    for (std::string_view stamp : {"created_at", "updated_at"}) {
        sql += "    ";
        sql += stamp;
        sql += ' ';
        sql += timestamp;
        sql += " NOT NULL DEFAULT ";
        sql += now;
        sql += ",\n";
    }
    sql += "    deleted_at ";
    sql += timestamp;
    sql += "\n);\n";
    return sql;
}

// " (sheet row 12)" for an error about a record from the sheet; nothing for one made elsewhere.
inline std::string row_suffix(const business& b) {
    return b.row == 0 ? std::string() : " (sheet row " + std::to_string(b.row) + ")";
}

// Database messages span lines (libpq adds hints on new lines, tabs before them): error
// messages here are one line, so runs of whitespace become one space and the ends are trimmed.
inline std::string one_line(std::string_view text) {
    std::string out;
    bool space = false;
    for (char c : text) {
        if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
            space = true;
            continue;
        }
        if (space && !out.empty()) out += ' ';
        space = false;
        out += c;
    }
    return out;
}

}  // namespace weft_import::database_sql
