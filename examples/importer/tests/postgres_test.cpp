// The database contract on a real PostgreSQL server (database_cases.hpp), plus what only
// PostgreSQL has: unreachable servers, missing databases, URIs, and text it cannot hold.
// The server is the one scripts/with-postgres.sh starts for this test (CMake and Meson run the
// test under it): WEFT_TEST_PG_URL names it, and without it every test fails, none passes empty.
#include "database_cases.hpp"

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
