// The database tests that every backend must pass, word for word: sqlite_test.cpp and
// postgres_test.cpp each define fresh_database() and include this header once, so the two
// backends are held to one contract.
#pragma once

#include "../../../tests/support.hpp"
#include "../database.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace weft_import_test {

using weft_import::business;
using weft_import::connection;
using weft_import::db_error;
using weft_import::field;

// The URL of a database without a businesses table (SQLite: a new file in a temporary
// directory; PostgreSQL: the test server, its table dropped). Fails the test when there is none.
std::string fresh_database();

inline business make_business(std::string name, std::uint32_t row = 0) {
    business b;
    b.row = row;
    b[field::name] = std::move(name);
    return b;
}

// A fully filled, ordinary row: the bulk of what an import writes.
inline business plain_business(std::size_t i) {
    business b = make_business("Business " + std::to_string(i), static_cast<std::uint32_t>(i + 2));
    b[field::category] = "Retail";
    b[field::phone] = "+1-415-555-" + std::to_string(1000 + i % 9000);
    b[field::email] = "owner" + std::to_string(i) + "@example.com";
    b[field::address] = std::to_string(i) + " Market Street";
    b[field::city] = "San Francisco";
    b[field::country] = "USA";
    b[field::website] = "https://example.com/" + std::to_string(i);
    b[field::description] = "A shop, \"the best\" in town.\nOpen daily.";
    return b;
}

// Text that breaks naive SQL or COPY: every escape COPY knows, the strings COPY gives meaning
// to ("\N" is NULL, "\." ends the data), quotes, commas, CR/LF, Unicode, a 10 KB cell, empty cells.
inline std::vector<business> tricky_rows() {
    std::vector<business> rows;
    business a = make_business("Caf\u00e9 \"Z\u00fcrich\", Ltd.", 2);
    a[field::category] = "a\tb\t";
    a[field::phone] = "+1 (415) 555-0100";
    a[field::email] = "o'brien@example.com";
    a[field::address] = "Line 1\nLine 2\r\nLine 3\r";
    a[field::city] = "S\u00e3o Paulo";
    a[field::country] = "\u65e5\u672c";
    a[field::website] = "https://example.com/?q=a,b&c='d'";
    a[field::description] = "back\\slash \\N \\t \\\\ end\\";
    rows.push_back(a);

    rows.push_back(make_business("\\.", 3));  // alone on a line, COPY's end-of-data marker
    business n = make_business("\\N", 4);     // the text, not NULL
    n[field::category] = "\\N";
    n[field::description] = "\\.\n\\.\n";
    rows.push_back(n);

    business big = make_business("NULL", 5);
    for (std::size_t i = 0; big[field::description].size() < 10 * 1024; ++i) {
        big[field::description] +=
            "Line " + std::to_string(i) + ": tab\there, \"quoted\", \u00e9\r\n";
    }
    rows.push_back(big);

    business e = make_business("\U0001F355 Pizza \U0001F469\u200D\U0001F469\u200D\U0001F467", 6);
    e[field::city] = "  spaces kept  ";
    e[field::description] = "\t\n\r\\";
    rows.push_back(e);

    business sql = make_business("O'Brien'); DROP TABLE businesses; --", 7);
    sql[field::website] = "a,b;c|d\"e'f";
    rows.push_back(sql);

    rows.push_back(make_business("only a name", 8));
    return rows;
}

// Same fields in the same order; business::row is not stored.
inline void check_same(const std::vector<business>& got, const std::vector<business>& want) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        CHECK(got[i].row == 0);
        for (std::size_t f = 0; f < weft_import::field_count; ++f) {
            CHECK_MESSAGE(got[i].fields[f] == want[i].fields[f], "row ", i, ", field ", f);
        }
    }
}

inline std::vector<business> plain_rows(std::size_t first, std::size_t n) {
    std::vector<business> rows;
    for (std::size_t i = first; i < first + n; ++i) rows.push_back(plain_business(i));
    return rows;
}

}  // namespace weft_import_test

using namespace weft_import_test;

TEST_CASE("database: create_schema is idempotent and keeps the rows") {
    WEFT_WATCHDOG();
    const std::string url = fresh_database();
    const std::vector<business> rows = plain_rows(0, 3);
    {
        auto db = weft_import::connect(url);
        CHECK_THROWS_AS(db->count(), db_error);  // no table yet
        db->create_schema();
        db->create_schema();
        CHECK(db->count() == 0);
        db->insert_many(rows);
        db->create_schema();
        CHECK(db->count() == 3);
    }
    auto again = weft_import::connect(url);
    again->create_schema();
    check_same(again->select_all(), rows);
}

TEST_CASE("database: insert_one stores tricky text verbatim") {
    WEFT_WATCHDOG();
    auto db = weft_import::connect(fresh_database());
    db->create_schema();
    const std::vector<business> rows = tricky_rows();
    for (const business& b : rows) db->insert_one(b);
    CHECK(db->count() == static_cast<std::int64_t>(rows.size()));
    check_same(db->select_all(), rows);
}

TEST_CASE("database: insert_many stores tricky text verbatim, in a transaction or alone") {
    WEFT_WATCHDOG(std::chrono::seconds(60));
    const std::string url = fresh_database();
    auto db = weft_import::connect(url, {.bulk_load = true});
    db->create_schema();
    std::vector<business> want = tricky_rows();
    db->begin();
    db->insert_many(want);
    // Beyond one chunk of COPY data (1 MiB) in one call.
    std::vector<business> big;
    for (std::size_t i = 0; i < 150; ++i) {
        business b = tricky_rows()[3];
        b[field::name] = "big " + std::to_string(i);
        big.push_back(b);
    }
    db->insert_many(big);
    db->commit();
    want.insert(want.end(), big.begin(), big.end());
    db->insert_many(tricky_rows());  // no transaction open: one of its own
    const std::vector<business> more = tricky_rows();
    want.insert(want.end(), more.begin(), more.end());
    db->insert_many(std::span<const business>());  // nothing to do
    check_same(db->select_all(), want);
    check_same(weft_import::connect(url)->select_all(), want);
}

TEST_CASE("database: a row without a name is refused by the table") {
    WEFT_WATCHDOG();
    const std::string url = fresh_database();
    auto db = weft_import::connect(url);
    db->create_schema();
    const std::vector<business> base = plain_rows(0, 2);
    db->insert_many(base);

    business nameless = plain_business(10);
    nameless[field::name].clear();
    nameless.row = 12;
    try {
        db->insert_one(nameless);
        FAIL("insert_one accepted a row without a name");
    } catch (const db_error& e) {
        const std::string what = e.what();
        CHECK(what.find(std::string(db->kind()) + ": ") == 0);
        CHECK(what.find("name") != std::string::npos);
        CHECK(what.find("sheet row 12") != std::string::npos);
    }

    // In a batch without a transaction: the whole batch is refused, nothing of it is kept.
    std::vector<business> batch = plain_rows(20, 5);
    batch[3][field::name].clear();
    try {
        db->insert_many(batch);
        FAIL("insert_many accepted a row without a name");
    } catch (const db_error& e) {
        const std::string what = e.what();
        CHECK(what.find("name") != std::string::npos);
        CHECK_MESSAGE(what.find("sheet row " + std::to_string(batch[3].row)) != std::string::npos,
                      what);
    }
    check_same(db->select_all(), base);
    db->insert_one(plain_business(30));  // the connection is still usable
    CHECK(db->count() == 3);
}

TEST_CASE("database: rollback leaves the table exactly as it was") {
    WEFT_WATCHDOG(std::chrono::seconds(60));
    const std::string url = fresh_database();
    auto db = weft_import::connect(url, {.bulk_load = true});
    db->create_schema();
    const std::vector<business> base = tricky_rows();
    db->insert_many(base);

    db->begin();
    for (std::size_t batch = 0; batch < 5; ++batch) db->insert_many(plain_rows(batch * 100, 100));
    db->insert_one(plain_business(999));
    CHECK(db->count() == static_cast<std::int64_t>(base.size()) + 501);
    db->rollback();
    db->rollback();  // none open: nothing to do
    check_same(db->select_all(), base);
    check_same(weft_import::connect(url)->select_all(), base);

    SUBCASE("after a failed statement the transaction can only be rolled back") {
        db->begin();
        db->insert_many(plain_rows(0, 10));
        business nameless = plain_business(11);
        nameless[field::name].clear();
        CHECK_THROWS_AS(db->insert_one(nameless), db_error);
        CHECK_THROWS_AS(db->commit(), db_error);  // refused, and rolled back
        check_same(db->select_all(), base);
    }
    SUBCASE("a failed batch, then rollback") {
        db->begin();
        db->insert_many(plain_rows(0, 10));
        std::vector<business> bad = plain_rows(10, 10);
        bad[9][field::name].clear();
        CHECK_THROWS_AS(db->insert_many(bad), db_error);
        db->rollback();
        check_same(db->select_all(), base);
    }
    // Either way the connection is ready for the next transaction.
    db->begin();
    db->insert_one(plain_business(1));
    db->commit();
    CHECK(db->count() == static_cast<std::int64_t>(base.size()) + 1);
}

TEST_CASE("database: commit persists across connections, a dropped connection rolls back") {
    WEFT_WATCHDOG();
    const std::string url = fresh_database();
    const std::vector<business> rows = plain_rows(0, 50);
    {
        auto db = weft_import::connect(url);
        db->create_schema();
        db->begin();
        db->insert_many(rows);
        db->commit();
    }
    {
        auto db = weft_import::connect(url);
        check_same(db->select_all(), rows);
        db->begin();
        db->insert_many(plain_rows(50, 50));
        db->insert_one(plain_business(100));
        // Closed with the transaction open, as a killed importer would leave it.
    }
    auto db = weft_import::connect(url);
    check_same(db->select_all(), rows);
}

TEST_CASE("database: begin inside a transaction, and a missing table, are errors") {
    WEFT_WATCHDOG();
    auto db = weft_import::connect(fresh_database());
    try {
        db->insert_one(plain_business(0));
        FAIL("insert into a missing table succeeded");
    } catch (const db_error& e) {
        CHECK(std::string(e.what()).find("businesses") != std::string::npos);
    }
    CHECK_THROWS_AS(db->insert_many(plain_rows(0, 2)), db_error);
    db->create_schema();
    db->begin();
    CHECK_THROWS_AS(db->begin(), db_error);
    db->rollback();
    db->drop_table();
    db->drop_table();  // already gone: nothing to do
    db->create_schema();
    db->insert_one(plain_business(0));  // prepared again for the new table
    CHECK(db->count() == 1);
}

TEST_CASE("database: concurrent writers on separate connections lose no row") {
    WEFT_WATCHDOG(std::chrono::seconds(120));
    const std::string url = fresh_database();
    weft_import::connect(url)->create_schema();
    constexpr std::size_t writers = 4;
    static constexpr std::size_t per_writer = weft_test::scale(25);
    std::mutex mutex;
    std::vector<std::string> failures;  // doctest asserts stay on this thread
    {
        weft_test::goroutines g;
        for (std::size_t w = 0; w < writers; ++w) {
            g.go([&url, &mutex, &failures, w] {
                try {
                    auto db = weft_import::connect(url, {.busy_timeout_ms = 60000});
                    for (std::size_t i = 0; i < per_writer; ++i) {
                        const std::size_t id = (w * per_writer + i) * 3;
                        db->insert_one(plain_business(id));  // its own transaction
                        db->begin();
                        db->insert_one(plain_business(id + 1));
                        db->commit();
                        const std::vector<business> one = {plain_business(id + 2)};
                        db->insert_many(one);
                    }
                } catch (const std::exception& e) {
                    std::lock_guard lock(mutex);
                    failures.push_back("writer " + std::to_string(w) + ": " + e.what());
                }
            });
        }
    }
    for (const std::string& f : failures) MESSAGE(f);
    REQUIRE(failures.empty());
    const std::vector<business> got = weft_import::connect(url)->select_all();
    CHECK(got.size() == writers * per_writer * 3);
    std::set<std::string> names;
    for (const business& b : got) names.insert(b[field::name]);
    CHECK(names.size() == writers * per_writer * 3);
    for (std::size_t i = 0; i < writers * per_writer * 3; ++i) {
        CHECK(names.count(plain_business(i)[field::name]) == 1);
    }
}

namespace weft_import_test {

inline const std::vector<std::string> six_indexes = {
    "idx_businesses_category",   "idx_businesses_city",  "idx_businesses_country",
    "idx_businesses_deleted_at", "idx_businesses_email", "idx_businesses_name"};

}  // namespace weft_import_test

TEST_CASE("database: a load into a new table ends with the six indexes, built at commit") {
    WEFT_WATCHDOG();
    const std::string url = fresh_database();
    const std::vector<business> rows = plain_rows(0, 500);
    {
        auto db = weft_import::connect(url, {.bulk_load = true});
        db->begin();
        db->create_schema();
        CHECK(db->index_names().empty());  // deferred: the rows go in without them
        db->insert_many(std::span(rows).first(200));
        db->insert_many(std::span(rows).subspan(200));
        db->commit();
        CHECK(db->index_names() == six_indexes);
    }
    auto db = weft_import::connect(url);
    CHECK(db->index_names() == six_indexes);
    check_same(db->select_all(), rows);
    // The committed table is an ordinary one: the next load goes through its indexes.
    db->begin();
    db->create_schema();
    CHECK(db->index_names() == six_indexes);
    db->insert_many(plain_rows(500, 10));
    db->commit();
    CHECK(db->count() == 510);
}

TEST_CASE("database: a rolled-back load into a new table leaves no table and no index") {
    WEFT_WATCHDOG();
    const std::string url = fresh_database();
    auto db = weft_import::connect(url, {.bulk_load = true});
    db->begin();
    db->create_schema();
    db->insert_many(plain_rows(0, 50));
    db->rollback();
    CHECK_THROWS_AS(db->count(), db_error);
    CHECK(db->index_names().empty());
    // Nothing deferred survives the rollback: a table made outside any transaction has its
    // indexes at once, and a later commit has nothing left to build.
    db->create_schema();
    CHECK(db->index_names() == six_indexes);
    db->begin();
    db->insert_many(plain_rows(0, 5));
    db->commit();
    CHECK(db->count() == 5);
}

TEST_CASE("database: a load into an empty existing table rebuilds its indexes, or restores them") {
    WEFT_WATCHDOG();
    const std::string url = fresh_database();
    auto db = weft_import::connect(url, {.bulk_load = true});
    db->create_schema();
    REQUIRE(db->index_names() == six_indexes);

    db->begin();
    db->create_schema();
    CHECK(db->index_names().empty());
    db->insert_many(plain_rows(0, 50));
    db->rollback();
    CHECK(db->index_names() == six_indexes);
    CHECK(db->count() == 0);

    const std::vector<business> rows = plain_rows(0, 300);
    db->begin();
    db->create_schema();
    db->insert_many(rows);
    db->commit();
    CHECK(db->index_names() == six_indexes);
    check_same(weft_import::connect(url)->select_all(), rows);
}

TEST_CASE("database: a load into a table that holds rows keeps its rows and indexes") {
    WEFT_WATCHDOG();
    const std::string url = fresh_database();
    auto db = weft_import::connect(url, {.bulk_load = true});
    db->create_schema();
    db->insert_many(plain_rows(0, 3));

    db->begin();
    db->create_schema();
    CHECK(db->index_names() == six_indexes);  // nothing dropped: the rows are indexed
    db->insert_many(plain_rows(3, 200));
    db->commit();
    CHECK(db->index_names() == six_indexes);
    check_same(weft_import::connect(url)->select_all(), plain_rows(0, 203));

    db->begin();
    db->create_schema();
    db->insert_many(plain_rows(203, 20));
    db->rollback();
    CHECK(db->index_names() == six_indexes);
    check_same(weft_import::connect(url)->select_all(), plain_rows(0, 203));
}
