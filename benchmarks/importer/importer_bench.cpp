// The importer benchmark (issue 11: "weft-import, hardened and faster"), in one run, on
// workbooks generated with `weft-import generate` (seed 1, 1% invalid rows) in two shapes:
//   generated   generate's default rows, ~170 bytes of text each
//   realistic   --text-size 320: ~450-byte rows, descriptions of a few hundred characters
// Cases (<db> is sqlite, a file in a temporary directory, or postgresql, WEFT_TEST_PG_URL: run
// under scripts/with-postgres.sh, or scripts/importer-bench.sh, which does that):
//   Method/<db>/<method>/10000         the tutorial's four methods, generated rows, new table
//   Pipeline/<db>/<shape>/new/N        weft-import's pipeline; the import creates the table
//                                      (SQLite: a new file)
//   Pipeline/<db>/<shape>/existing/N   the same into the table with its six indexes, already
//                                      holding 1,000 rows (so its indexes stay)
//   LoadOnly/<db>/<shape>/N            the importer's writer alone: the valid rows, already in
//                                      memory, into a new table, batches of 1,000, one
//                                      transaction
//   Floor/<db>/<shape>/indexed/N       the floor of the issue, in plain C API calls: the same
//                                      valid rows, in memory, into an empty table with its six
//                                      indexes, in one transaction. SQLite: one prepared INSERT,
//                                      SQLITE_STATIC binds, the library's default settings (a
//                                      new file). PostgreSQL: COPY ... FROM STDIN (FORMAT csv)
//                                      of the rows as CSV, as `psql \copy` sends a file.
//   Floor/<db>/<shape>/index_after/N   the same into the table without indexes, then the six
//                                      CREATE INDEX, in the same transaction
//   ReadOnly/<shape>/N                 the reader and validation alone, no database
//   PeakRSS/<shape>/N                  weft-import as a child process (new SQLite file): its
//                                      peak RSS in MB
// N is 100,000 or 1,000,000 (every size / 100 with --quick, the smoke test).
//
//   scripts/importer-bench.sh                     # the table for docs/importer.md
//   importer_bench --quick                        # sizes / 100: the smoke test
// Every benchmark runs one iteration per repetition (an import is long enough to time alone).
#include "database.hpp"
#include "database_sql.hpp"
#include "engine.hpp"
#include "generate.hpp"

#include <benchmark/benchmark.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace weft_import;

std::uint64_t divisor = 1;  // --quick: every size / 100

struct shape {
    const char* name;
    std::uint64_t text_size;
};
constexpr shape shapes[] = {{"generated", 0}, {"realistic", 320}};

fs::path work_dir() {
    static const fs::path dir = [] {
        std::string t = (fs::temp_directory_path() / "weft-import-bench-XXXXXX").string();
        if (!mkdtemp(t.data())) std::abort();
        return fs::path(t);
    }();
    return dir;
}

std::uint64_t rows_for(std::int64_t n) { return static_cast<std::uint64_t>(n) / divisor; }

generate_options gen_options(std::uint64_t rows, std::uint64_t text_size, std::uint64_t seed = 1) {
    generate_options g;
    g.rows = rows;
    g.seed = seed;
    g.invalid_rate = 0.01;
    g.text_size = text_size;
    return g;
}

// The workbook of `rows` rows of one shape, generated once per run.
const fs::path& workbook(std::uint64_t rows, const shape& sh) {
    static std::mutex m;
    static std::map<std::pair<std::uint64_t, std::uint64_t>, fs::path> books;
    std::lock_guard lock(m);
    auto& p = books[{rows, sh.text_size}];
    if (p.empty()) {
        p = work_dir() /
            ("businesses-" + std::string(sh.name) + "-" + std::to_string(rows) + ".xlsx");
        generate_workbook(p, gen_options(rows, sh.text_size));
    }
    return p;
}

// The valid rows of that workbook, as the importer would write them.
std::vector<business> valid_rows(std::uint64_t rows, std::uint64_t text_size,
                                 std::uint64_t seed = 1) {
    const auto g = gen_options(rows, text_size, seed);
    std::vector<business> valid;
    for (std::uint64_t i = 0; i < rows; ++i) {
        auto r = generate_row(g, i);
        if (r.invalid) continue;
        business b;
        b.row = static_cast<std::uint32_t>(i + 2);
        b.fields = std::move(r.values);
        valid.push_back(std::move(b));
    }
    return valid;
}

const fs::path& sqlite_file() {
    static const fs::path p = work_dir() / "bench.db";
    return p;
}

std::string db_url(const std::string& kind) {
    if (kind == "sqlite") return "sqlite:" + sqlite_file().string();
    const char* pg = std::getenv("WEFT_TEST_PG_URL");
    return pg ? pg : "";
}

// No table: SQLite, no file at all (an import into a new database); PostgreSQL, the table
// dropped.
void no_table(const std::string& kind) {
    if (kind == "sqlite") {
        for (const char* suffix : {"", "-wal", "-shm", "-journal"})
            fs::remove(sqlite_file().string() + suffix);
    } else {
        connect(db_url(kind))->drop_table();
    }
}

// The table with its six indexes, holding 1,000 rows of another seed.
void existing_table(const std::string& kind, std::uint64_t text_size) {
    no_table(kind);
    auto c = connect(db_url(kind));
    c->create_schema();
    c->insert_many(valid_rows(1000, text_size, 2));
}

void report(benchmark::State& state, std::uint64_t rows) {
    state.counters["rows"] = static_cast<double>(rows);
    state.counters["rows_per_s"] =
        benchmark::Counter(static_cast<double>(rows) * static_cast<double>(state.iterations()),
                           benchmark::Counter::kIsRate);
}

bool have_db(benchmark::State& state, const std::string& kind) {
    if (!db_url(kind).empty()) return true;
    state.SkipWithError("no PostgreSQL: run under scripts/with-postgres.sh");
    return false;
}

void bm_method(benchmark::State& state, std::string kind, method m) {
    if (!have_db(state, kind)) return;
    const auto rows = rows_for(state.range(0));
    import_options opt;
    opt.file = workbook(rows, shapes[0]);
    opt.db_url = db_url(kind);
    opt.method = m;
    std::uint64_t written = 0;
    for (auto _ : state) {
        state.PauseTiming();
        no_table(kind);
        state.ResumeTiming();
        written = run_import(weft::background(), opt).success_count;
    }
    report(state, written);
}

void bm_pipeline(benchmark::State& state, std::string kind, shape sh, bool existing) {
    if (!have_db(state, kind)) return;
    const auto rows = rows_for(state.range(0));
    import_options opt;
    opt.file = workbook(rows, sh);
    opt.db_url = db_url(kind);
    std::uint64_t written = 0;
    for (auto _ : state) {
        state.PauseTiming();
        if (existing)
            existing_table(kind, sh.text_size);
        else
            no_table(kind);
        state.ResumeTiming();
        written = run_import(weft::background(), opt).success_count;
    }
    report(state, written);
}

void bm_read_only(benchmark::State& state, shape sh) {
    const auto rows = rows_for(state.range(0));
    const auto& book = workbook(rows, sh);
    std::uint64_t valid = 0;
    for (auto _ : state) {
        valid = 0;
        xlsx_reader reader(book);
        sheet_row r;
        reader.next(r);
        const auto header = header_map::from(r);
        while (reader.next(r)) {
            auto b = header.map(r);
            if (b && !validate(*b, {})) ++valid;
            benchmark::DoNotOptimize(b);
        }
    }
    report(state, valid);
}

void bm_load_only(benchmark::State& state, std::string kind, shape sh) {
    if (!have_db(state, kind)) return;
    const std::string url = db_url(kind);
    const std::vector<business> valid = valid_rows(rows_for(state.range(0)), sh.text_size);
    connect_options co;
    co.bulk_load = true;
    const std::size_t batch = 1000;  // the pipeline's default batch size
    for (auto _ : state) {
        state.PauseTiming();
        no_table(kind);
        state.ResumeTiming();
        auto db = connect(url, co);
        db->begin();
        db->create_schema();
        for (std::size_t i = 0; i < valid.size(); i += batch)
            db->insert_many(std::span(valid).subspan(i, std::min(batch, valid.size() - i)));
        db->commit();
    }
    report(state, valid.size());
}

// The floors talk to the databases directly, as a small C program would.
void sqlite_exec(sqlite3* db, const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
        const std::string why = error ? error : "?";
        sqlite3_free(error);
        throw std::runtime_error("sqlite floor: " + why);
    }
}

std::string sqlite_table_sql() {
    return database_sql::create_table("INTEGER PRIMARY KEY", "DATETIME", "CURRENT_TIMESTAMP");
}

void bm_floor_sqlite(benchmark::State& state, shape sh, bool index_after) {
    const std::vector<business> valid = valid_rows(rows_for(state.range(0)), sh.text_size);
    std::string insert = "INSERT INTO businesses (" + database_sql::column_list() + ") VALUES (?";
    for (std::size_t i = 1; i < field_count; ++i) insert += ", ?";
    insert += ")";
    for (auto _ : state) {
        state.PauseTiming();
        no_table("sqlite");
        sqlite3* db = nullptr;
        if (sqlite3_open(sqlite_file().c_str(), &db) != SQLITE_OK) std::abort();
        sqlite_exec(db, sqlite_table_sql());
        if (!index_after) sqlite_exec(db, database_sql::create_indexes());
        state.ResumeTiming();
        sqlite_exec(db, "BEGIN");
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v2(db, insert.c_str(), -1, &s, nullptr) != SQLITE_OK) std::abort();
        for (const business& b : valid) {
            for (std::size_t i = 0; i < field_count; ++i) {
                const std::string& v = b.fields[i];
                const int col = static_cast<int>(i) + 1;
                if (v.empty())
                    sqlite3_bind_null(s, col);
                else
                    sqlite3_bind_text64(s, col, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8);
            }
            if (sqlite3_step(s) != SQLITE_DONE) std::abort();
            sqlite3_reset(s);
        }
        sqlite3_finalize(s);
        if (index_after) sqlite_exec(db, database_sql::create_indexes());
        sqlite_exec(db, "COMMIT");
        sqlite3_close(db);
    }
    report(state, valid.size());
}

// RFC 4180 as PostgreSQL's CSV COPY reads it: an empty unquoted field is NULL.
std::string as_csv(const std::vector<business>& rows) {
    std::string out;
    for (const business& b : rows) {
        for (std::size_t i = 0; i < field_count; ++i) {
            if (i > 0) out += ',';
            const std::string& v = b.fields[i];
            if (v.empty()) continue;
            out += '"';
            for (char c : v) {
                if (c == '"') out += '"';
                out += c;
            }
            out += '"';
        }
        out += '\n';
    }
    return out;
}

void pg_exec(PGconn* c, const std::string& sql, ExecStatusType want = PGRES_COMMAND_OK) {
    PGresult* r = PQexec(c, sql.c_str());
    const bool ok = PQresultStatus(r) == want;
    const std::string why = PQresultErrorMessage(r);
    PQclear(r);
    if (!ok) throw std::runtime_error("postgresql floor: " + why);
}

void bm_floor_postgres(benchmark::State& state, shape sh, bool index_after) {
    if (!have_db(state, "postgresql")) return;
    std::vector<business> valid = valid_rows(rows_for(state.range(0)), sh.text_size);
    const std::string csv = as_csv(valid);
    const std::uint64_t n = valid.size();
    valid = {};
    PGconn* c = PQconnectdb(db_url("postgresql").c_str());
    if (PQstatus(c) != CONNECTION_OK) {
        state.SkipWithError(PQerrorMessage(c));
        PQfinish(c);
        return;
    }
    pg_exec(c, "SET client_min_messages TO warning");
    const std::string table = database_sql::create_table(
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "TIMESTAMPTZ", "now()");
    const std::string copy =
        "COPY businesses (" + database_sql::column_list() + ") FROM STDIN (FORMAT csv)";
    constexpr std::size_t chunk = std::size_t{1} << 20;
    for (auto _ : state) {
        state.PauseTiming();
        pg_exec(c, "DROP TABLE IF EXISTS businesses");
        pg_exec(c, table);
        if (!index_after) pg_exec(c, database_sql::create_indexes());
        state.ResumeTiming();
        pg_exec(c, "BEGIN");
        pg_exec(c, copy, PGRES_COPY_IN);
        for (std::size_t at = 0; at < csv.size(); at += chunk) {
            const std::size_t len = std::min(chunk, csv.size() - at);
            if (PQputCopyData(c, csv.data() + at, static_cast<int>(len)) != 1) std::abort();
        }
        if (PQputCopyEnd(c, nullptr) != 1) std::abort();
        while (PGresult* r = PQgetResult(c)) {
            const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
            if (!ok) std::abort();
        }
        if (index_after) pg_exec(c, database_sql::create_indexes());
        pg_exec(c, "COMMIT");
    }
    PQfinish(c);
    report(state, n);
}

// The child's own high-water mark (VmHWM, KiB) while it runs. Not wait4's ru_maxrss: a child
// started by posix_spawn shares this process's memory until it execs, and Linux carries that
// (this benchmark holds a million rows) into the child's ru_maxrss.
std::uint64_t vm_hwm_kib(pid_t pid) {
    std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/status").c_str(), "r");
    if (!f) return 0;
    char line[256];
    std::uint64_t kib = 0;
    while (std::fgets(line, sizeof line, f))
        if (std::strncmp(line, "VmHWM:", 6) == 0) kib = std::strtoull(line + 6, nullptr, 10);
    std::fclose(f);
    return kib;
}

// weft-import as a child process: its peak resident set, polled every millisecond (the peak
// is a plateau while rows stream, not a spike at the end).
void bm_peak_rss(benchmark::State& state, shape sh) {
    const auto rows = rows_for(state.range(0));
    const std::string book = workbook(rows, sh).string();
    const std::string db = "sqlite:" + (work_dir() / "rss.db").string();
    double mb = 0;
    for (auto _ : state) {
        fs::remove(work_dir() / "rss.db");
        std::vector<std::string> args = {WEFT_IMPORT_EXE, book, "--db", db, "--quiet"};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        pid_t pid = 0;
        if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) {
            state.SkipWithError("cannot start weft-import");
            return;
        }
        int status = 0;
        std::uint64_t peak = 0;
        while (waitpid(pid, &status, WNOHANG) == 0) {
            peak = std::max(peak, vm_hwm_kib(pid));
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            state.SkipWithError("weft-import failed");
            return;
        }
        mb = static_cast<double>(peak) / 1024.0;
    }
    state.counters["peak_rss_mb"] = mb;
    state.counters["rows"] = static_cast<double>(rows);
}

void register_all() {
    const auto one = [](benchmark::internal::Benchmark* b) {
        return b->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);
    };
    const auto sizes = [](benchmark::internal::Benchmark* b) {
        return b->Arg(100'000)->Arg(1'000'000);
    };
    for (const std::string kind : {"sqlite", "postgresql"}) {
        for (const auto m :
             {method::pipeline, method::batch, method::concurrent, method::sequential})
            one(benchmark::RegisterBenchmark(
                    ("Method/" + kind + "/" + std::string(method_name(m))).c_str(), bm_method, kind,
                    m)
                    ->Arg(10'000));
        for (const shape& sh : shapes) {
            const std::string at = kind + "/" + sh.name;
            for (const bool existing : {false, true})
                sizes(one(benchmark::RegisterBenchmark(
                    ("Pipeline/" + at + (existing ? "/existing" : "/new")).c_str(), bm_pipeline,
                    kind, sh, existing)));
            sizes(one(
                benchmark::RegisterBenchmark(("LoadOnly/" + at).c_str(), bm_load_only, kind, sh)));
            for (const bool after : {false, true}) {
                const std::string name = "Floor/" + at + (after ? "/index_after" : "/indexed");
                if (kind == "sqlite")
                    sizes(one(
                        benchmark::RegisterBenchmark(name.c_str(), bm_floor_sqlite, sh, after)));
                else
                    sizes(one(
                        benchmark::RegisterBenchmark(name.c_str(), bm_floor_postgres, sh, after)));
            }
        }
    }
    for (const shape& sh : shapes) {
        sizes(one(benchmark::RegisterBenchmark(("ReadOnly/" + std::string(sh.name)).c_str(),
                                               bm_read_only, sh)));
        sizes(one(benchmark::RegisterBenchmark(("PeakRSS/" + std::string(sh.name)).c_str(),
                                               bm_peak_rss, sh)));
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<char*> args;
    for (int i = 0; i < argc; ++i) {
        if (std::strcmp(argv[i], "--quick") == 0)
            divisor = 100;
        else
            args.push_back(argv[i]);
    }
    int n = static_cast<int>(args.size());
    register_all();
    benchmark::Initialize(&n, args.data());
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    std::error_code ec;
    fs::remove_all(work_dir(), ec);
}
