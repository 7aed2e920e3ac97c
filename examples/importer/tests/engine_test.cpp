// The import engine as a module (engine.hpp), driven the way a service would drive it: progress
// through the callback, cancellation through a weft::context, errors as exceptions, and the
// pipeline's one transaction rolled back whatever stops it.
#include "engine.hpp"
#include "database.hpp"
#include "generate.hpp"
#include "importer_support.hpp"

#include "../../../tests/support.hpp"

#include <doctest/doctest.h>
#include <weft/context.hpp>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using namespace weft_import;

namespace {

struct fixture {
    importer_test::temp_dir dir;
    generate_options gen;
    import_options opt;
    explicit fixture(std::uint64_t rows) {
        gen.rows = rows;
        gen.seed = 3;
        opt.file = dir.path / "book.xlsx";
        opt.db_url = "sqlite:" + (dir.path / "engine.db").string();
        generate_workbook(opt.file, gen);
    }
    std::uint64_t valid_rows() const {
        std::uint64_t n = 0;
        for (std::uint64_t i = 0; i < gen.rows; ++i) n += !generate_row(gen, i).invalid;
        return n;
    }
};

}  // namespace

TEST_CASE("progress is reported from one thread at a time, and only grows") {
    WEFT_WATCHDOG(std::chrono::seconds(120));
    fixture f(weft_test::scale(50'000));
    for (const auto m : {method::pipeline, method::batch}) {
        CAPTURE(method_name(m));
        f.opt.method = m;
        connect(f.opt.db_url)->drop_table();
        std::mutex mu;  // try_lock fails if two calls ever overlap
        std::atomic<int> overlaps{0};
        std::vector<progress> seen;
        const auto st = run_import(weft::background(), f.opt, [&](const progress& p) {
            std::unique_lock lock(mu, std::try_to_lock);
            if (!lock.owns_lock()) {
                ++overlaps;
                return;
            }
            seen.push_back(p);
        });
        CHECK(overlaps == 0);
        REQUIRE(!seen.empty());
        for (std::size_t i = 1; i < seen.size(); ++i) {
            CHECK(seen[i].rows_read >= seen[i - 1].rows_read);
            CHECK(seen[i].rows_written >= seen[i - 1].rows_written);
            CHECK(seen[i].fraction_read >= seen[i - 1].fraction_read);
        }
        CHECK(seen.back().fraction_read == 1.0);
        CHECK(seen.back().rows_read == f.gen.rows);
        CHECK(st.success_count == f.valid_rows());
        CHECK(st.total_records == f.gen.rows);
        CHECK(st.error_count == st.rejected.size());
        CHECK(st.success_count + st.error_count == st.total_records);
        CHECK(connect(f.opt.db_url)->count() == static_cast<std::int64_t>(f.valid_rows()));
    }
}

TEST_CASE("canceling the context stops the pipeline with its cause and writes nothing") {
    WEFT_WATCHDOG(std::chrono::seconds(120));
    fixture f(weft_test::scale(100'000));
    f.opt.batch_size = 100;
    {  // a row the import must not disturb
        auto db = connect(f.opt.db_url);
        db->create_schema();
        business b;
        b[field::name] = "Already here";
        db->insert_one(b);
    }
    struct stop_now : std::runtime_error {
        stop_now() : std::runtime_error("the service shut down") {}
    };
    auto [ctx, cancel] = weft::with_cancel_cause(weft::background());
    std::uint64_t written_when_canceled = 0;
    CHECK_THROWS_AS(run_import(ctx, f.opt,
                               [&, c = cancel](const progress& p) {
                                   // Cancel once batches have been written inside the transaction.
                                   if (p.rows_written >= 1000 && !written_when_canceled) {
                                       written_when_canceled = p.rows_written;
                                       c(stop_now());
                                   }
                               }),
                    stop_now);
    CHECK(written_when_canceled >= 1000);
    auto rows = connect(f.opt.db_url)->select_all();
    REQUIRE(rows.size() == 1);
    CHECK(rows[0][field::name] == "Already here");
}

TEST_CASE("a context canceled from another thread stops every method") {
    WEFT_WATCHDOG(std::chrono::seconds(180));
    fixture f(weft_test::scale(20'000));
    for (const auto m : {method::pipeline, method::batch, method::concurrent, method::sequential}) {
        CAPTURE(method_name(m));
        f.opt.method = m;
        auto [ctx, cancel] = weft::with_cancel(weft::background());
        std::atomic<bool> started{false};
        std::thread canceller([&started, c = cancel] {
            while (!started) std::this_thread::yield();
            c();
        });
        try {
            (void)run_import(ctx, f.opt, [&](const progress&) { started = true; });
            // The import may legitimately win the race on a fast machine: then it is complete.
            CHECK(connect(f.opt.db_url)->count() == static_cast<std::int64_t>(f.valid_rows()));
        } catch (const weft::context_error& e) {
            CHECK(e.code() == weft::context_errc::canceled);
            if (m == method::pipeline) {
                auto db = connect(f.opt.db_url);
                db->create_schema();  // the rolled-back transaction had created it
                CHECK(db->count() == 0);
            }
        }
        started = true;
        canceller.join();
        connect(f.opt.db_url)->drop_table();
    }
}

TEST_CASE("an already-canceled context writes nothing with any method") {
    WEFT_WATCHDOG(std::chrono::seconds(60));
    fixture f(500);
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    cancel();
    for (const auto m : {method::pipeline, method::batch, method::concurrent, method::sequential}) {
        CAPTURE(method_name(m));
        f.opt.method = m;
        CHECK_THROWS_AS(run_import(ctx, f.opt), weft::context_error);
        auto db = connect(f.opt.db_url);
        db->create_schema();
        CHECK(db->count() == 0);
    }
}

TEST_CASE("a database error stops the import and rolls the pipeline back") {
    WEFT_WATCHDOG(std::chrono::seconds(60));
    fixture f(2000);
    // A trigger that refuses one particular row, as a constraint of the user's schema would.
    {
        auto db = connect(f.opt.db_url);
        db->create_schema();
    }
    const std::string name = generate_row(f.gen, 1500).values[0];
    REQUIRE(!generate_row(f.gen, 1500).invalid);
    // The trigger goes in with the sqlite3 shell, which CI installs (scripts/setup-debian.sh).
    const std::string path = f.opt.db_url.substr(7);
    std::string sql = "CREATE TRIGGER refuse BEFORE INSERT ON businesses WHEN NEW.name = '";
    for (char ch : name) sql += ch == '\'' ? std::string("''") : std::string(1, ch);
    sql += "' BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END;";
    const fs::path sql_file = f.dir.path / "trigger.sql";
    {
        std::FILE* out = std::fopen(sql_file.c_str(), "w");
        REQUIRE(out);
        std::fputs(sql.c_str(), out);
        std::fclose(out);
    }
    REQUIRE(std::system(("sqlite3 '" + path + "' < '" + sql_file.string() + "'").c_str()) == 0);

    f.opt.batch_size = 100;
    CHECK_THROWS_WITH_AS(run_import(weft::background(), f.opt),
                         doctest::Contains("refused by trigger"), db_error);
    CHECK(connect(f.opt.db_url)->count() == 0);
}

TEST_CASE(
    "pipeline: the reader stays a bounded number of rows ahead of a slow database, and "
    "progress moves with the writes") {
    WEFT_WATCHDOG(std::chrono::seconds(300));
    fixture f(weft_test::scale(60'000));
    f.opt.workers = 2;
    // Every insert does busy work in a trigger, then is dropped: the writer is several times
    // slower than the reader.
    {
        auto db = connect(f.opt.db_url);
        db->create_schema();
    }
    const fs::path sql_file = f.dir.path / "slow.sql";
    {
        std::FILE* out = std::fopen(sql_file.c_str(), "w");
        REQUIRE(out);
        std::fputs(
            "CREATE TRIGGER slow BEFORE INSERT ON businesses BEGIN SELECT RAISE(IGNORE) WHERE "
            "length(hex(randomblob(20000))) > 0; END;",
            out);
        std::fclose(out);
    }
    const std::string path = f.opt.db_url.substr(7);
    REQUIRE(std::system(("sqlite3 '" + path + "' < '" + sql_file.string() + "'").c_str()) == 0);

    std::vector<progress> seen;  // never called concurrently (checked by the first test)
    const auto st =
        run_import(weft::background(), f.opt, [&](const progress& p) { seen.push_back(p); });
    CHECK(st.total_records == f.gen.rows);
    CHECK(st.success_count == f.valid_rows());
    REQUIRE(seen.size() >= 2);
    // Rows in flight: at most ~30 chunks of 250 rows (four per channel, the ordered map's
    // window, two batches after the batch stage, the writer's batch). Before the bound, the
    // reader finished the sheet while the writer had written a few thousand rows.
    std::uint64_t widest = 0;
    for (const auto& p : seen) widest = std::max(widest, p.rows_read - p.rows_written);
    MESSAGE("widest gap between rows read and rows written: " << widest);
    CHECK(widest <= 10'000);
    // While the reader cannot read on (here: it has read everything, the writer has not
    // written it yet), the reports keep coming, from the writer: equal rows read, more
    // written. Before, the reader was the only reporter, so they stopped until the end.
    int writer_moves = 0;
    for (std::size_t i = 1; i + 1 < seen.size(); ++i)
        if (seen[i].rows_read == seen[i - 1].rows_read &&
            seen[i].rows_written > seen[i - 1].rows_written)
            ++writer_moves;
    MESSAGE("reports in which only the writer moved: " << writer_moves);
    CHECK(writer_moves >= 2);
}
