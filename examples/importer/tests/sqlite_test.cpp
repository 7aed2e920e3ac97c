// The database contract on SQLite (database_cases.hpp), plus what only SQLite has: files that
// cannot be opened, the bulk-load pragmas, NULL for empty cells seen from outside, NUL bytes,
// and connect()'s reading of URLs.
#include "database_cases.hpp"
#include "importer_support.hpp"

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace weft_import_test {
namespace {

// One temporary directory for the whole run, removed at exit; one database file per call.
std::filesystem::path next_database(std::string_view stem) {
    static importer_test::temp_dir dir;
    static int n = 0;
    return dir.path / (std::string(stem) + "-" + std::to_string(++n) + ".db");
}

std::filesystem::path path_of(const std::string& url) { return url.substr(7); }

// The file read through SQLite itself, not through the code under test.
std::string query(const std::string& url, const char* sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(path_of(url).c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    std::string out;
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
        const auto* text = sqlite3_column_text(s, 0);
        out = text ? reinterpret_cast<const char*>(text) : "(null)";
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return out;
}

// Runs `sql` on the file through SQLite itself, as another program would.
void exec_sql(const std::string& url, const char* sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(path_of(url).c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                            nullptr) == SQLITE_OK);
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
    const std::string why = error ? error : "";
    sqlite3_free(error);
    sqlite3_close(db);
    REQUIRE_MESSAGE(rc == SQLITE_OK, why);
}

// How SQLite would run `SELECT id FROM businesses WHERE <column> = 'x'`: its plan's details.
std::string plan_for(const std::string& url, const std::string& column) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(path_of(url).c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    const std::string sql =
        "EXPLAIN QUERY PLAN SELECT id FROM businesses WHERE " + column + " = 'x'";
    std::string out;
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK) {
        while (sqlite3_step(s) == SQLITE_ROW)
            out += reinterpret_cast<const char*>(sqlite3_column_text(s, 3));
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return out;
}

}  // namespace

std::string fresh_database() { return "sqlite:" + next_database("db").string(); }

}  // namespace weft_import_test

TEST_CASE("sqlite: a file that cannot be opened is a clear db_error") {
    WEFT_WATCHDOG();
    const auto missing_dir = next_database("no-such-dir") / "businesses.db";
    try {
        weft_import::connect("sqlite:" + missing_dir.string());
        FAIL("opened a database in a missing directory");
    } catch (const db_error& e) {
        CHECK(std::string(e.what()) ==
              "sqlite: cannot open '" + missing_dir.string() + "': unable to open database file");
    }

    const auto not_db = next_database("not-a-database");
    std::ofstream(not_db) << "PK\x03\x04 this is a workbook, not a database, and it is long enough "
                             "to have a header SQLite will read and reject.\n";
    try {
        weft_import::connect("sqlite:" + not_db.string());
        FAIL("opened a file that is not a database");
    } catch (const db_error& e) {
        CHECK(std::string(e.what()) ==
              "sqlite: cannot open '" + not_db.string() + "': file is not a database");
    }
}

TEST_CASE("sqlite: bulk_load switches the file to WAL; the schema and indexes are there") {
    WEFT_WATCHDOG();
    const std::string plain = fresh_database();
    weft_import::connect(plain)->create_schema();
    CHECK(query(plain, "PRAGMA journal_mode") == "delete");

    const std::string url = fresh_database();
    auto db = weft_import::connect(url, {.bulk_load = true});
    db->create_schema();
    CHECK(query(url, "PRAGMA journal_mode") == "wal");
    CHECK(query(url,
                "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master WHERE "
                "type = 'index' AND tbl_name = 'businesses' ORDER BY name)") ==
          "idx_businesses_category idx_businesses_city idx_businesses_country "
          "idx_businesses_deleted_at idx_businesses_email idx_businesses_name");
}

TEST_CASE("sqlite: empty cells are NULL in the table, timestamps are filled in") {
    WEFT_WATCHDOG();
    const std::string url = fresh_database();
    auto db = weft_import::connect(url);
    db->create_schema();
    business b = make_business("just a name");
    b[field::city] = " ";
    db->insert_one(b);
    db->insert_many(std::vector<business>{b});
    CHECK(query(url,
                "SELECT count(*) FROM businesses WHERE phone IS NULL AND description IS NULL "
                "AND city = ' ' AND created_at IS NOT NULL AND updated_at IS NOT NULL "
                "AND deleted_at IS NULL") == "2");
    CHECK(query(url, "SELECT group_concat(id) FROM businesses") == "1,2");
}

TEST_CASE("sqlite: text with a NUL byte is stored whole") {
    WEFT_WATCHDOG();
    auto db = weft_import::connect(fresh_database());
    db->create_schema();
    business b = make_business(std::string("nul\0inside", 10));
    b[field::description] = std::string("\0", 1);
    db->insert_one(b);
    db->insert_many(std::vector<business>{b});
    check_same(db->select_all(), {b, b});
}

// A load into a database with no page yet keeps the rollback journal (nothing to save in it,
// so every page is written once) and switches to WAL at its commit; a process that dies before
// the commit leaves a hot journal, and the next open rolls it back: no table, and the file
// takes the next import.
TEST_CASE("sqlite: a bulk load into a new file commits under the rollback journal, then WAL") {
    WEFT_WATCHDOG();
    const std::string url = fresh_database();
    const std::string path = path_of(url).string();
    {
        auto db = weft_import::connect(url, {.bulk_load = true});
        db->begin();
        db->create_schema();
        db->insert_many(plain_rows(0, 500));
        CHECK(std::filesystem::exists(path + "-journal"));
        CHECK_FALSE(std::filesystem::exists(path + "-wal"));
        db->commit();
        CHECK(query(url, "PRAGMA journal_mode") == "wal");
        CHECK(db->count() == 500);
        CHECK(db->index_names() == six_indexes);
    }
    CHECK(query(url, "SELECT count(*) FROM businesses") == "500");

    // An existing file goes to WAL at once, before its first transaction.
    auto again = weft_import::connect(url, {.bulk_load = true});
    CHECK(query(url, "PRAGMA journal_mode") == "wal");
    again->begin();
    again->insert_many(plain_rows(500, 10));
    CHECK_FALSE(std::filesystem::exists(path + "-journal"));
    again->commit();
    CHECK(again->count() == 510);

    const std::string killed = fresh_database();
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        // The child dies in the middle of its load, as a killed import would: no commit, no
        // rollback, no close.
        try {
            auto db = weft_import::connect(killed, {.bulk_load = true});
            db->begin();
            db->create_schema();
            db->insert_many(plain_rows(0, 2000));
            std::_Exit(std::filesystem::exists(path_of(killed).string() + "-journal") ? 0 : 2);
        } catch (...) { std::_Exit(3); }
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    auto after = weft_import::connect(killed, {.bulk_load = true});
    CHECK(after->index_names().empty());
    CHECK(query(killed, "SELECT count(*) FROM sqlite_master") == "0");
    after->begin();
    after->create_schema();
    after->insert_many(plain_rows(0, 3));
    after->commit();
    CHECK(after->count() == 3);
    CHECK(query(killed, "PRAGMA journal_mode") == "wal");
}

TEST_CASE("sqlite: concurrent writers in WAL mode lose no row") {
    WEFT_WATCHDOG(std::chrono::seconds(120));
    const std::string url = fresh_database();
    weft_import::connect(url, {.bulk_load = true})->create_schema();
    static constexpr std::size_t per_writer = weft_test::scale(200);
    std::mutex mutex;
    std::vector<std::string> failures;
    {
        weft_test::goroutines g;
        for (std::size_t w = 0; w < 4; ++w) {
            g.go([&url, &mutex, &failures, w] {
                try {
                    auto db = weft_import::connect(url, {.bulk_load = true});
                    for (std::size_t i = 0; i < per_writer; ++i) {
                        db->insert_one(plain_business(w * per_writer + i));
                    }
                } catch (const std::exception& e) {
                    std::lock_guard lock(mutex);
                    failures.push_back(e.what());
                }
            });
        }
    }
    for (const std::string& f : failures) MESSAGE(f);
    REQUIRE(failures.empty());
    CHECK(weft_import::connect(url)->count() == static_cast<std::int64_t>(4 * per_writer));
}

TEST_CASE("connect: URLs of neither kind are usage errors") {
    const auto message_of = [](const std::string& url) -> std::string {
        try {
            weft_import::connect(url);
        } catch (const std::invalid_argument& e) { return e.what(); }
        FAIL("connect accepted ", url);
        return {};
    };
    CHECK(message_of("") ==
          "empty database URL: use sqlite:PATH, a postgres:// or postgresql:// URI, or a "
          "conninfo such as 'host=/run/postgresql dbname=app'");
    CHECK(message_of("sqlite:") == "database URL 'sqlite:' has no path: use sqlite:PATH");
    const std::string mysql = message_of("mysql://user:secret@host/db");
    CHECK(mysql.find("unsupported database URL scheme 'mysql'") == 0);
    CHECK(mysql.find("secret") == std::string::npos);  // a password is never echoed
    CHECK(message_of("businesses.db").find("(a file: sqlite:businesses.db)") != std::string::npos);
    // conninfo strings and URIs that libpq itself cannot parse: no connection is tried.
    CHECK(message_of("host=/tmp nosuchkeyword=1")
              .find("invalid PostgreSQL connection string: invalid connection option "
                    "\"nosuchkeyword\"") == 0);
    CHECK(message_of("postgresql://host/db?nosuchparam=1") ==
          "invalid PostgreSQL connection string: invalid URI query parameter: \"nosuchparam\"");
    CHECK(message_of("host='unterminated").find("invalid PostgreSQL connection string") == 0);
}

TEST_CASE("connect: the sqlite: prefix is case-insensitive and names a file") {
    WEFT_WATCHDOG();
    const std::string url = fresh_database();
    auto db = weft_import::connect("SQLite:" + url.substr(7));
    CHECK(db->kind() == "sqlite");
    db->create_schema();
    CHECK(std::filesystem::exists(path_of(url)));
}

TEST_CASE("sqlite: the indexes built at commit are whole and used by queries") {
    WEFT_WATCHDOG();
    const std::string url = fresh_database();
    auto db = weft_import::connect(url, {.bulk_load = true});
    db->begin();
    db->create_schema();
    db->insert_many(plain_rows(0, 2000));
    db->commit();
    for (const char* column : {"name", "category", "email", "city", "country", "deleted_at"}) {
        const std::string plan = plan_for(url, column);
        CHECK_MESSAGE(plan.find(std::string("INDEX idx_businesses_") + column) != std::string::npos,
                      plan);
    }
    CHECK(query(url, "PRAGMA integrity_check") == "ok");
    CHECK(query(url, "SELECT count(*) FROM businesses WHERE email = 'owner1234@example.com'") ==
          "1");
}

TEST_CASE("sqlite: an index that cannot be built at commit rolls the whole load back") {
    WEFT_WATCHDOG();
    const std::string url = fresh_database();
    // A table holding the name of one of the indexes: SQLite refuses to create that index.
    exec_sql(url,
             "CREATE TABLE idx_businesses_deleted_at (x); INSERT INTO "
             "idx_businesses_deleted_at VALUES (1);");
    auto db = weft_import::connect(url, {.bulk_load = true});
    db->begin();
    db->create_schema();
    db->insert_many(plain_rows(0, 100));
    try {
        db->commit();
        FAIL("committed a table whose index could not be built");
    } catch (const db_error& e) {
        const std::string what = e.what();
        CHECK_MESSAGE(what.find("create the indexes of businesses failed") != std::string::npos,
                      what);
        CHECK_MESSAGE(what.find("idx_businesses_deleted_at") != std::string::npos, what);
        CHECK_MESSAGE(what.find("the transaction was rolled back") != std::string::npos, what);
    }
    CHECK(query(url, "SELECT count(*) FROM sqlite_master WHERE tbl_name = 'businesses'") == "0");
    CHECK(query(url, "SELECT count(*) FROM idx_businesses_deleted_at") == "1");
    db->begin();  // the connection is not left inside the failed transaction
    db->rollback();
}

TEST_CASE("sqlite: a user's indexes on an empty table are never dropped") {
    WEFT_WATCHDOG();
    const std::string url = fresh_database();
    weft_import::connect(url)->create_schema();
    // One index of the user's own, and one that has the name of ours but is made otherwise.
    exec_sql(url,
             "CREATE INDEX user_phone ON businesses (phone); DROP INDEX idx_businesses_city; "
             "CREATE INDEX idx_businesses_city ON businesses (city DESC);");
    const std::string city_sql = "SELECT sql FROM sqlite_master WHERE name = 'idx_businesses_city'";
    const std::string before = query(url, city_sql.c_str());
    auto db = weft_import::connect(url, {.bulk_load = true});
    db->begin();
    db->create_schema();
    CHECK(db->index_names() == std::vector<std::string>{"idx_businesses_city", "user_phone"});
    db->insert_many(plain_rows(0, 100));
    db->commit();
    std::vector<std::string> all = six_indexes;
    all.emplace_back("user_phone");
    CHECK(db->index_names() == all);
    CHECK(query(url, city_sql.c_str()) == before);
    CHECK(query(url, "PRAGMA integrity_check") == "ok");
}
