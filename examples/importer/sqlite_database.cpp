// The SQLite backend: one sqlite3 handle per connection object, used by one thread at a time.
//
// Invariants:
// - Every write transaction starts with BEGIN IMMEDIATE: the write lock is taken up front, where
//   the busy handler waits for it, so writers on other connections queue up instead of failing
//   with SQLITE_BUSY when a read lock would have to be upgraded (a deferred BEGIN can deadlock
//   there, and SQLite then reports BUSY without waiting).
// - insert_many is atomic: inside the caller's transaction, or in one of its own.
// - indexes_deferred_ is true only inside a transaction, between a create_schema that created
//   the table (or dropped the importer's own indexes of an empty one) and the commit() that
//   builds them; rollback() and a failed build clear it with the transaction.
// - An empty field is stored as NULL and read back as "": the table's NOT NULL on name then
//   refuses a nameless row even if validation was skipped.
// - bulk_load never trades crash safety: WAL with synchronous=NORMAL keeps every committed
//   transaction across a killed process (only a power loss may drop the last commits), and an
//   uncommitted one is rolled back on the next open; so does the rollback journal (with
//   synchronous=FULL) that the first transaction into a database with no page yet keeps.
//   synchronous=OFF is never used.
#include "sqlite_database.hpp"

#include "database_sql.hpp"

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace weft_import {
namespace {

using database_sql::column_list;
using database_sql::row_suffix;

struct statement_deleter {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using statement = std::unique_ptr<sqlite3_stmt, statement_deleter>;

std::string create_table_sql() {
    return database_sql::create_table("INTEGER PRIMARY KEY", "DATETIME", "CURRENT_TIMESTAMP");
}

// What `CREATE INDEX IF NOT EXISTS idx_businesses_<column> ON businesses (<column>)` makes.
constexpr const char* own_index_sql =
    "SELECT count(*) FROM pragma_index_list('businesses') AS l"
    " WHERE l.name = ?1 AND l.\"unique\" = 0 AND l.partial = 0 AND l.origin = 'c'"
    " AND (SELECT count(*) FROM pragma_index_xinfo(l.name) AS x WHERE x.key) = 1"
    " AND EXISTS (SELECT 1 FROM pragma_index_xinfo(l.name) AS x WHERE x.key AND x.name = ?2"
    "             AND x.\"desc\" = 0 AND x.coll = 'BINARY')";

// The page cache of a bulk load (a negative size is in KiB): 64 MiB, which inserts into an
// existing table's six indexes use; and the smaller one an index build after the load runs
// with (see build_indexes).
constexpr const char* load_cache_sql = "PRAGMA cache_size=-65536";
constexpr const char* index_cache_sql = "PRAGMA cache_size=-16384";

std::string insert_sql() {
    std::string sql = "INSERT INTO businesses (" + column_list() + ") VALUES (";
    for (std::size_t i = 0; i < field_count; ++i) sql += i == 0 ? "?" : ", ?";
    return sql + ")";
}

class sqlite_connection final : public connection {
public:
    sqlite_connection(const std::string& path, const connect_options& opt) {
        const std::string doing = "cannot open '" + path + "'";
        const int rc = sqlite3_open_v2(
            path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
            nullptr);
        if (rc != SQLITE_OK) {
            // db_ may hold the error text even though the open failed; it must be closed.
            const std::string why = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
            sqlite3_close_v2(db_);
            db_ = nullptr;
            throw db_error("sqlite: " + doing + ": " + why);
        }
        try {
            sqlite3_extended_result_codes(db_, 1);
            sqlite3_busy_timeout(db_, opt.busy_timeout_ms);
            // The first statement reads the file: "file is not a database" shows up here, at
            // connect time, rather than at the first insert.
            const auto run = [this, &doing](const char* sql, std::string* first = nullptr) {
                const auto keep = [](void* out, int, char** values, char**) {
                    if (out && values[0]) *static_cast<std::string*>(out) = values[0];
                    return 0;
                };
                if (sqlite3_exec(db_, sql, keep, first, nullptr) != SQLITE_OK) {
                    throw db_error("sqlite: " + doing + ": " + sqlite3_errmsg(db_));
                }
            };
            run("PRAGMA schema_version");
            if (opt.bulk_load) {
                std::string pages;
                run("PRAGMA page_count", &pages);
                // A database with no page yet (a file this connection created, or an empty
                // one): its first transaction keeps the rollback journal, which records only
                // the pages that existed before it (none), so the load is written once; WAL
                // would write every page twice, to the log and back into the file. Crash
                // safety is the same: a killed load leaves a hot journal and the next open
                // rolls it back (synchronous stays FULL meanwhile). The first commit then
                // switches the file to WAL, as for any other bulk load.
                if (pages == "0") {
                    wal_after_commit_ = true;
                } else {
                    use_wal();
                }
                run(load_cache_sql);
                // temp_store stays the default (files): building an index after the load sorts
                // the whole column, and an in-memory temp store would hold all of it.
            }
        } catch (...) {
            sqlite3_close_v2(db_);
            db_ = nullptr;
            throw;
        }
    }

    sqlite_connection(const sqlite_connection&) = delete;
    sqlite_connection& operator=(const sqlite_connection&) = delete;

    ~sqlite_connection() override {
        insert_.reset();
        // Closing with a transaction open rolls it back, as a crash would.
        sqlite3_close_v2(db_);
    }

    std::string_view kind() const override { return "sqlite"; }

    void create_schema() override {
        const bool own = !in_transaction();
        if (own) begin();
        try {
            if (own) {
                exec((create_table_sql() + database_sql::create_indexes()).c_str(),
                     "create table businesses");
            } else if (!table_exists()) {
                exec(create_table_sql().c_str(), "create table businesses");
                indexes_deferred_ = true;
            } else if (table_empty()) {
                drop_own_indexes();
                indexes_deferred_ = true;
            } else {
                exec(database_sql::create_indexes().c_str(), "create the indexes of businesses");
            }
        } catch (...) {
            if (own) rollback();
            throw;
        }
        if (own) commit();
    }

    void begin() override {
        exec("BEGIN IMMEDIATE", "begin a transaction");
        failed_ = false;
        indexes_deferred_ = false;
    }

    void commit() override {
        // SQLite undoes only the failed statement and would commit the rest; PostgreSQL aborts
        // the whole transaction. Both backends follow PostgreSQL, the all-or-nothing reading.
        if (failed_) {
            rollback();
            throw db_error(
                "sqlite: commit failed: an earlier error aborted the transaction; it was rolled "
                "back");
        }
        if (indexes_deferred_) {
            indexes_deferred_ = false;
            build_indexes();
        }
        exec("COMMIT", "commit");
        if (wal_after_commit_) {
            wal_after_commit_ = false;
            use_wal();
        }
    }

    void rollback() override {
        failed_ = false;
        indexes_deferred_ = false;
        // SQLite rolls back by itself after some errors (I/O, full disk, out of memory).
        if (in_transaction()) exec("ROLLBACK", "rollback");
    }

    void insert_one(const business& b) override {
        prepare_insert();
        step_insert(b);
    }

    void insert_many(std::span<const business> rows) override {
        if (rows.empty()) return;
        prepare_insert();
        const bool own = !in_transaction();
        if (own) begin();
        try {
            for (const business& b : rows) step_insert(b);
        } catch (...) {
            if (own) rollback();
            throw;
        }
        if (own) commit();
    }

    std::int64_t count() override {
        statement s = prepare("SELECT count(*) FROM businesses", "count businesses");
        if (sqlite3_step(s.get()) != SQLITE_ROW) fail("count businesses");
        return sqlite3_column_int64(s.get(), 0);
    }

    std::vector<business> select_all() override {
        statement s =
            prepare("SELECT " + column_list() + " FROM businesses ORDER BY id", "read businesses");
        std::vector<business> out;
        int rc;
        while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
            business& b = out.emplace_back();
            for (std::size_t i = 0; i < field_count; ++i) {
                const int col = static_cast<int>(i);
                const auto* text = sqlite3_column_text(s.get(), col);  // NULL reads as ""
                if (text) {
                    b.fields[i].assign(
                        reinterpret_cast<const char*>(text),
                        static_cast<std::size_t>(sqlite3_column_bytes(s.get(), col)));
                }
            }
        }
        if (rc != SQLITE_DONE) fail("read businesses");
        return out;
    }

    std::vector<std::string> index_names() override {
        statement s = prepare(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'businesses'"
            " ORDER BY name",
            "list the indexes of businesses");
        std::vector<std::string> out;
        int rc;
        while ((rc = sqlite3_step(s.get())) == SQLITE_ROW)
            out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s.get(), 0)));
        if (rc != SQLITE_DONE) fail("list the indexes of businesses");
        return out;
    }

    void drop_table() override {
        insert_.reset();
        indexes_deferred_ = false;
        exec("DROP TABLE IF EXISTS businesses", "drop table businesses");
    }

private:
    bool in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

    // WAL, and synchronous=NORMAL with it: NORMAL is crash-safe only under WAL; otherwise
    // (a file system without shared memory, an in-memory database) FULL stays.
    void use_wal() {
        std::string mode;
        const auto keep = [](void* out, int, char** values, char**) {
            if (values[0]) *static_cast<std::string*>(out) = values[0];
            return 0;
        };
        if (sqlite3_exec(db_, "PRAGMA journal_mode=WAL", keep, &mode, nullptr) != SQLITE_OK)
            fail("switch to WAL");
        if (mode == "wal") exec("PRAGMA synchronous=NORMAL", "set synchronous=NORMAL");
    }

    // Asks a question whose answer is one integer.
    std::int64_t scalar(const char* sql, std::string_view doing,
                        std::initializer_list<std::string_view> params = {}) {
        statement s = prepare(sql, doing);
        int i = 0;
        for (std::string_view p : params) {
            if (sqlite3_bind_text64(s.get(), ++i, p.data(), p.size(), SQLITE_STATIC, SQLITE_UTF8) !=
                SQLITE_OK)
                fail(doing);
        }
        if (sqlite3_step(s.get()) != SQLITE_ROW) fail(doing);
        return sqlite3_column_int64(s.get(), 0);
    }

    bool table_exists() {
        return scalar(
                   "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = "
                   "'businesses'",
                   "look for table businesses") > 0;
    }

    bool table_empty() {
        return scalar("SELECT NOT EXISTS (SELECT 1 FROM businesses)", "read businesses") != 0;
    }

    // Drops those of the six indexes that are exactly what create_indexes() makes: an index of
    // the same name made otherwise is the user's, and stays (CREATE INDEX IF NOT EXISTS then
    // leaves it alone too).
    void drop_own_indexes() {
        for (std::string_view column : database_sql::indexed_columns) {
            const std::string name = database_sql::index_name(column);
            if (scalar(own_index_sql, "read the indexes of businesses", {name, column}) == 1)
                exec(("DROP INDEX " + name).c_str(), "drop index " + name);
        }
    }

    // Inside the transaction, before COMMIT: a failure here rolls everything back.
    // CREATE INDEX sorts the column in a buffer as large as the page cache, spilling to temp
    // files beyond it, while the cache still holds the pages of the load: twice the cache. The
    // build reads the table once in order and writes each index in order, so a large cache
    // does not help it: for the build, the cache shrinks to index_cache_kib (its clean pages
    // freed, for the sorter to reuse), which bounds the sorter's buffer as well.
    void build_indexes() {
        try {
            exec(index_cache_sql, "shrink the page cache");
            (void)sqlite3_db_release_memory(db_);
            exec(database_sql::create_indexes().c_str(), "create the indexes of businesses");
            exec(load_cache_sql, "restore the page cache");
        } catch (const db_error& e) {
            rollback();
            throw db_error(std::string(e.what()) + "; the transaction was rolled back");
        }
    }

    [[noreturn]] void fail(std::string_view doing) const {
        throw db_error("sqlite: " + std::string(doing) + " failed: " + sqlite3_errmsg(db_));
    }

    void exec(const char* sql, std::string_view doing) {
        if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(doing);
    }

    statement prepare(const std::string& sql, std::string_view doing) {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size() + 1),
                               SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
            sqlite3_finalize(s);
            fail(doing);
        }
        return statement(s);
    }

    void prepare_insert() {
        if (!insert_) insert_ = prepare(insert_sql(), "prepare insert into businesses");
    }

    void step_insert(const business& b) {
        sqlite3_stmt* s = insert_.get();
        for (std::size_t i = 0; i < field_count; ++i) {
            const std::string& v = b.fields[i];
            const int col = static_cast<int>(i) + 1;
            // SQLITE_STATIC: the text is only read by the sqlite3_step below.
            const int rc = v.empty() ? sqlite3_bind_null(s, col)
                                     : sqlite3_bind_text64(s, col, v.data(), v.size(),
                                                           SQLITE_STATIC, SQLITE_UTF8);
            if (rc != SQLITE_OK) fail("insert into businesses" + row_suffix(b));
        }
        const int rc = sqlite3_step(s);
        if (rc != SQLITE_DONE) {
            const std::string why = sqlite3_errmsg(db_);
            sqlite3_reset(s);
            failed_ = in_transaction();
            throw db_error("sqlite: insert into businesses" + row_suffix(b) + " failed: " + why);
        }
        sqlite3_reset(s);
    }

    sqlite3* db_ = nullptr;
    statement insert_;
    bool failed_ = false;  // a statement of the open transaction failed: commit is refused
    bool indexes_deferred_ = false;  // commit() builds the indexes first
    bool wal_after_commit_ = false;  // bulk_load into a database with no page yet
};

}  // namespace

std::unique_ptr<connection> open_sqlite(const std::string& path, const connect_options& opt) {
    return std::make_unique<sqlite_connection>(path, opt);
}

}  // namespace weft_import
