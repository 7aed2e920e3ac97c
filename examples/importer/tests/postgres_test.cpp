// The database contract on a real PostgreSQL server (database_cases.hpp), plus what only
// PostgreSQL has: unreachable servers, missing databases, URIs, and text it cannot hold.
// The server is the one scripts/with-postgres.sh starts for this test (CMake and Meson run the
// test under it): WEFT_TEST_PG_URL names it, and without it every test fails, none passes empty.
#include "database_cases.hpp"

#include <libpq-fe.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace weft_import_test {
namespace {

std::string server_url() {
    const char* url = std::getenv("WEFT_TEST_PG_URL");
    if (!url || !*url) {
        FAIL(
            "WEFT_TEST_PG_URL is not set: run this test under scripts/with-postgres.sh "
            "(ctest and meson test do)");
    }
    return url;
}

// Runs `sql` on its own connection, as another program would: the first value of its result
// ("" when there is none). Fails the test when the server refuses it.
std::string server_query(const std::string& sql) {
    PGconn* c = PQconnectdb(server_url().c_str());
    REQUIRE(PQstatus(c) == CONNECTION_OK);
    PGresult* r = PQexec(c, sql.c_str());
    const auto status = PQresultStatus(r);
    const std::string why = PQresultErrorMessage(r);
    std::string out;
    if (status == PGRES_TUPLES_OK && PQntuples(r) > 0) {
        for (int i = 0; i < PQntuples(r); ++i) out += PQgetvalue(r, i, 0);
    }
    PQclear(r);
    PQfinish(c);
    REQUIRE_MESSAGE((status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK), why);
    return out;
}

}  // namespace

std::string fresh_database() {
    std::string url = server_url();
    weft_import::connect(url)->drop_table();
    return url;
}

}  // namespace weft_import_test

TEST_CASE("postgresql: an unreachable server is a clear db_error") {
    WEFT_WATCHDOG();
    try {
        weft_import::connect("host=/nonexistent/weft-socket-dir dbname=weft_test");
        FAIL("connected to a server that does not exist");
    } catch (const db_error& e) {
        const std::string what = e.what();
        CHECK_MESSAGE(what.find("postgresql: connection to server on socket "
                                "\"/nonexistent/weft-socket-dir/.s.PGSQL.5432\" failed: ") == 0,
                      what);
        CHECK(what.find('\n') == std::string::npos);
    }
}

TEST_CASE("postgresql: a missing database is named; the URL's password is not") {
    WEFT_WATCHDOG();
    const std::string url = server_url();
    try {
        weft_import::connect(url + " dbname=no_such_database password=hunter2");
        FAIL("connected to a database that does not exist");
    } catch (const db_error& e) {
        const std::string what = e.what();
        CHECK_MESSAGE(
            what.find("database \"no_such_database\" does not exist") != std::string::npos, what);
        CHECK(what.find("hunter2") == std::string::npos);
    }
}

TEST_CASE("postgresql: a postgresql:// URI reaches the same server") {
    WEFT_WATCHDOG();
    const std::string conninfo = server_url();
    // "host=/tmp/weft-pg.X user=weft dbname=weft_test" -> URI with the socket directory as host.
    const auto value = [&conninfo](const std::string& key) {
        const std::size_t at = conninfo.find(key + "=");
        REQUIRE(at != std::string::npos);
        const std::size_t from = at + key.size() + 1;
        return conninfo.substr(from, conninfo.find(' ', from) - from);
    };
    std::string host;
    for (char c : value("host")) host += c == '/' ? std::string("%2F") : std::string(1, c);
    const std::string uri = "postgresql://" + value("user") + "@" + host + "/" + value("dbname");
    auto db = weft_import::connect(fresh_database());
    db->create_schema();
    db->insert_one(make_business("via conninfo"));
    auto via_uri = weft_import::connect(uri);
    CHECK(via_uri->kind() == "postgresql");
    CHECK(via_uri->count() == 1);
}

TEST_CASE("postgresql: text with a NUL byte is refused, not cut short") {
    WEFT_WATCHDOG();
    auto db = weft_import::connect(fresh_database());
    db->create_schema();
    business b = make_business("nul", 9);
    b[field::description] = std::string("before\0after", 12);
    try {
        db->insert_one(b);
        FAIL("stored text with a NUL byte");
    } catch (const db_error& e) {
        CHECK(std::string(e.what()) ==
              "postgresql: insert into businesses (sheet row 9) failed: column description "
              "contains a NUL character, which PostgreSQL text cannot hold");
    }
    CHECK_THROWS_AS(db->insert_many(std::vector<business>{make_business("ok"), b}), db_error);
    CHECK(db->count() == 0);
}

TEST_CASE("postgresql: invalid UTF-8 is refused by the server") {
    WEFT_WATCHDOG();
    auto db = weft_import::connect(fresh_database());
    db->create_schema();
    const business bad = make_business("\xff\xfe not UTF-8", 3);
    CHECK_THROWS_AS(db->insert_one(bad), db_error);
    CHECK_THROWS_AS(db->insert_many(std::vector<business>{bad}), db_error);
    CHECK(db->count() == 0);
}

TEST_CASE("postgresql: the indexes built at commit are valid and used by queries") {
    WEFT_WATCHDOG();
    const std::string url = fresh_database();
    auto db = weft_import::connect(url, {.bulk_load = true});
    db->begin();
    db->create_schema();
    db->insert_many(plain_rows(0, 2000));
    db->commit();
    CHECK(server_query("SELECT count(*) FROM pg_index WHERE indrelid = 'businesses'::regclass "
                       "AND indisvalid AND indisready AND NOT indisprimary") == "6");
    for (const char* column : {"name", "category", "email", "city", "country", "deleted_at"}) {
        // Off, the sequential scan a 2,000-row table would get shows no index.
        const std::string plan = server_query(
            std::string("SET enable_seqscan = off; EXPLAIN SELECT id FROM businesses WHERE ") +
            column + " IS NULL");
        CHECK_MESSAGE(plan.find(std::string("idx_businesses_") + column) != std::string::npos,
                      plan);
    }
    CHECK(server_query("SELECT count(*) FROM businesses WHERE email = 'owner1234@example.com'") ==
          "1");
}

// COPY FREEZE is used exactly when the transaction created the table (PostgreSQL refuses it
// otherwise): the pages of such a load are all-frozen at once; those of a load into a table
// that already existed are left for VACUUM, as any insert's.
TEST_CASE("postgresql: a load into a table its transaction created is written frozen") {
    WEFT_WATCHDOG();
    const std::string url = fresh_database();
    const std::string frozen =
        "CREATE EXTENSION IF NOT EXISTS pg_visibility; SELECT count(*) FILTER (WHERE "
        "all_frozen) || '/' || count(*) FROM pg_visibility_map('businesses')";
    auto db = weft_import::connect(url, {.bulk_load = true});
    db->begin();
    db->create_schema();
    db->insert_many(plain_rows(0, 1000));
    db->insert_many(plain_rows(1000, 1000));  // a second COPY in the same transaction
    db->commit();
    const std::string pages =
        server_query("SELECT relpages FROM pg_class WHERE relname = 'businesses'");
    CHECK(pages != "0");
    CHECK(server_query(frozen) == pages + "/" + pages);
    CHECK(db->count() == 2000);

    // The table exists now: the next load is a plain COPY, and its new pages are not frozen.
    db->begin();
    db->create_schema();
    db->insert_many(plain_rows(2000, 1000));
    db->commit();
    CHECK(db->count() == 3000);
    CHECK(server_query("SELECT count(*) FROM pg_visibility_map('businesses') WHERE NOT "
                       "all_frozen") != "0");
}

TEST_CASE("postgresql: an index that cannot be built at commit rolls the whole load back") {
    WEFT_WATCHDOG();
    const std::string url = fresh_database();
    // A name too long for a btree entry (2,704 bytes), and too random to be compressed below.
    business huge = plain_business(7);
    std::uint64_t x = 88172645463325252u;
    while (huge[field::name].size() < 4000) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        huge[field::name] += static_cast<char>('!' + x % 94);
    }
    std::vector<business> rows = plain_rows(0, 100);
    rows.push_back(huge);
    auto db = weft_import::connect(url, {.bulk_load = true});
    db->begin();
    db->create_schema();
    db->insert_many(rows);
    try {
        db->commit();
        FAIL("committed a table whose index could not be built");
    } catch (const db_error& e) {
        const std::string what = e.what();
        CHECK_MESSAGE(what.find("postgresql: create the indexes of businesses failed: index row "
                                "size") == 0,
                      what);
        CHECK_MESSAGE(what.find("idx_businesses_name") != std::string::npos, what);
        CHECK_MESSAGE(what.find("the transaction was rolled back") != std::string::npos, what);
    }
    CHECK(server_query("SELECT to_regclass('businesses') IS NULL") == "t");
    db->begin();  // the connection is not left inside the failed transaction
    db->rollback();
}

TEST_CASE("postgresql: a user's indexes on an empty table are never dropped") {
    WEFT_WATCHDOG();
    const std::string url = fresh_database();
    weft_import::connect(url)->create_schema();
    // One index of the user's own, and one that has the name of ours but is made otherwise.
    server_query(
        "CREATE INDEX user_phone ON businesses (phone); DROP INDEX idx_businesses_city; "
        "CREATE INDEX idx_businesses_city ON businesses (city DESC);");
    const std::string city_def =
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_businesses_city'";
    const std::string before = server_query(city_def);
    CHECK(before.find("DESC") != std::string::npos);
    auto db = weft_import::connect(url, {.bulk_load = true});
    db->begin();
    db->create_schema();
    CHECK(db->index_names() == std::vector<std::string>{"idx_businesses_city", "user_phone"});
    db->insert_many(plain_rows(0, 100));
    db->commit();
    std::vector<std::string> all = six_indexes;
    all.emplace_back("user_phone");
    CHECK(db->index_names() == all);
    CHECK(server_query(city_def) == before);
}
