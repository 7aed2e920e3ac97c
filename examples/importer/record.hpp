// A business row as the importer sees it: the sheet's header maps columns to the nine fields of
// the tutorial's `businesses` table, and each data row is validated into a record or a reason.
#pragma once

#include "xlsx_reader.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace weft_import {

enum class field : std::uint8_t {
    name,
    category,
    phone,
    email,
    address,
    city,
    country,
    website,
    description
};
inline constexpr std::size_t field_count = 9;

// "Name", "Category", ... as in the header and the table's columns (lower case there).
std::string_view field_header(field f);
std::string_view field_column(field f);

struct business {
    std::uint32_t row = 0;  // sheet row number, for rejects and ordering
    std::array<std::string, field_count> fields;
    const std::string& operator[](field f) const { return fields[static_cast<std::size_t>(f)]; }
    std::string& operator[](field f) { return fields[static_cast<std::size_t>(f)]; }
};

struct rejected_row {
    std::uint32_t row = 0;
    std::string reason;
};

// Which sheet column holds each field, from row 1: names matched case-insensitively with
// surrounding spaces ignored; unknown columns ignored. Throws file_error without a Name column
// (or when `header` is not row 1).
class header_map {
public:
    static header_map from(const sheet_row& header);
    // The record for a data row, its cells moved in; nullopt when the row has no non-empty cell
    // (skipped), counting sheet_row::other_content as one.
    std::optional<business> map(sheet_row row) const { return take(row); }
    // The same, moving the mapped cells' text out of `row` and leaving the row itself (its
    // vector of cells) to the caller, who may give it to xlsx_reader::next again.
    std::optional<business> take(sheet_row& row) const;
    // The mapped columns, ascending (0 is column A): what xlsx_reader::keep_columns takes after
    // row 1. From then on map() takes rows that hold only those cells, in that order.
    std::vector<std::uint32_t> keep_mapped_columns();

private:
    std::array<int, field_count> column_{};  // -1 when absent
};

// "Phone, email" -> {phone, email}; throws std::invalid_argument naming an unknown column.
std::vector<field> parse_fields(std::string_view list);

// Empty when the record is valid; otherwise the reason it is rejected.
std::optional<std::string> validate(const business& b, std::span<const field> required);

// A CSV field (RFC 4180): quoted when it holds a comma, quote or line break, quotes doubled.
std::string csv_field(std::string_view s);

}  // namespace weft_import
