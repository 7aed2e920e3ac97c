// The importer's view of a database: the tutorial's `businesses` table on SQLite or PostgreSQL,
// one connection per object (not thread-safe; one writer thread each).
//
// Values are stored verbatim, except that an empty field is stored as NULL (and read back as
// ""), so the table's NOT NULL on name refuses a nameless row on its own. A failed statement
// throws db_error; inside a transaction the caller then rolls back, which restores the table
// exactly as it was before begin().
#pragma once

#include "record.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace weft_import {

// The database refused something (cannot connect, constraint, I/O); the message names it.
class db_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A database URL of no form weft-import knows (or a conninfo libpq cannot parse): a usage error.
class url_error : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

class connection {
public:
    virtual ~connection() = default;
    virtual std::string_view kind() const = 0;  // "sqlite" or "postgresql"

    // CREATE TABLE IF NOT EXISTS businesses (...) and its six indexes (idx_businesses_name,
    // ..._category, ..._email, ..._city, ..._country, ..._deleted_at).
    // Outside a transaction the table and its indexes are committed at once. Inside one, the
    // caller is about to bulk-load, so when the table is new or empty the indexes are built by
    // commit(), after the rows are in (sorting every key once beats inserting them one by one):
    // - a table it creates gets its indexes at commit();
    // - an empty existing table has those of its indexes that are exactly the importer's own
    //   (that name, that one column, ascending, not unique, no condition) dropped now and built
    //   again at commit(); any other index is left alone and kept up to date row by row;
    // - a table that holds rows keeps all its indexes; the rows go in through them.
    // Either way the table, its rows and its indexes commit together or not at all: a failed
    // index build rolls the whole transaction back.
    virtual void create_schema() = 0;

    virtual void begin() = 0;  // db_error when a transaction is already open
    // Builds the indexes create_schema deferred, then commits. When an index cannot be built,
    // the transaction is rolled back and db_error thrown.
    virtual void commit() = 0;
    virtual void rollback() = 0;  // no-op when no transaction is open

    // One prepared INSERT (the tutorial's per-row methods).
    virtual void insert_one(const business& b) = 0;
    // The fastest safe bulk path: SQLite prepared statement reuse, PostgreSQL COPY. Atomic:
    // part of the open transaction, or a transaction of its own when none is open.
    virtual void insert_many(std::span<const business> rows) = 0;

    // For tests and the demo: rows in id order, and their count.
    virtual std::int64_t count() = 0;
    virtual std::vector<business> select_all() = 0;  // business::row is 0
    // The names of the indexes on businesses that the database uses (not the primary key's),
    // sorted; none when there is no table.
    virtual std::vector<std::string> index_names() = 0;
    virtual void drop_table() = 0;
};

struct connect_options {
    // SQLite: WAL + synchronous=NORMAL (a killed process still leaves every transaction
    // whole), a 64 MiB page cache (16 MiB while indexes are built after a load), and sorts
    // that spill to temp files. A database with no page yet (a new file) keeps the rollback
    // journal, synchronous=FULL, for its first transaction, which then writes each page once
    // instead of twice; its commit switches it to WAL. PostgreSQL: no change; COPY is the
    // fast path.
    bool bulk_load = false;
    int busy_timeout_ms = 30000;  // SQLite writers from several connections wait, not fail
};

// `sqlite:PATH`, or a PostgreSQL URI (postgres://, postgresql://) or conninfo ("host=...
// dbname=..."): "sqlite" or "postgresql". Only the form is checked: nothing is opened or
// created. Throws url_error.
std::string_view check_url(std::string_view url);

// Checks the URL as check_url does, then connects. Throws url_error, or db_error when the
// connection fails.
std::unique_ptr<connection> connect(std::string_view url, const connect_options& opt = {});

// Makes "nothing written" hold for a SQLite file too: a guard made before the first connection
// notes whether the file exists, and its destructor removes the file (and its -wal, -shm and
// -journal companions) when the import created it and did not call keep(). Declare it before
// the connections, so they are closed first. Nothing to do for PostgreSQL.
class new_database_guard {
public:
    explicit new_database_guard(std::string_view url);
    new_database_guard(const new_database_guard&) = delete;
    new_database_guard& operator=(const new_database_guard&) = delete;
    ~new_database_guard();
    void keep() noexcept { path_.clear(); }

private:
    std::string path_;  // the SQLite file this import would create; empty: nothing to remove
};

}  // namespace weft_import
