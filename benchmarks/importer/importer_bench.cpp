// The importer benchmark (issue: "weft-import"), in one run, on workbooks generated with
// `weft-import generate` (the same generator, seed 1, 1% invalid rows):
//   Method/<db>/<method>/10000     the tutorial's table re-measured: the four methods, 10,000 rows
//   Method/<db>/pipeline/100000, /1000000
//   ReadOnly/N                     floor 1: the reader and validation alone, no database
//   LoadOnly/<db>/N                floor 2: the same valid rows, already in memory, written by
//                                  one connection in one transaction with the same bulk path
//   PeakRSS/100000                 weft-import run as a child process; its peak RSS in MB
// <db> is sqlite (a file in a temporary directory) and postgresql (WEFT_TEST_PG_URL; run the
// binary under scripts/with-postgres.sh, or scripts/importer-bench.sh, which does that).
//
//   scripts/importer-bench.sh                     # the table for docs/importer.md
//   importer_bench --quick                        # sizes / 100: the smoke test
// Every benchmark runs one iteration per repetition (an import is long enough to time alone).
#include "database.hpp"
#include "engine.hpp"
#include "generate.hpp"

#include <benchmark/benchmark.h>

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
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace weft_import;

std::uint64_t divisor = 1;  // --quick: every size / 100

fs::path work_dir() {
    static const fs::path dir = [] {
        std::string t = (fs::temp_directory_path() / "weft-import-bench-XXXXXX").string();
        if (!mkdtemp(t.data())) std::abort();
        return fs::path(t);
    }();
    return dir;
}

std::uint64_t rows_for(std::int64_t n) { return static_cast<std::uint64_t>(n) / divisor; }

generate_options gen_options(std::uint64_t rows) {
    generate_options g;
    g.rows = rows;
    g.seed = 1;
    g.invalid_rate = 0.01;
    return g;
}

// The workbook of `rows` rows, generated once per run.
const fs::path& workbook(std::uint64_t rows) {
    static std::mutex m;
    static std::map<std::uint64_t, fs::path> books;
    std::lock_guard lock(m);
    auto& p = books[rows];
    if (p.empty()) {
        p = work_dir() / ("businesses-" + std::to_string(rows) + ".xlsx");
        generate_workbook(p, gen_options(rows));
    }
    return p;
}

std::string db_url(const std::string& kind) {
    if (kind == "sqlite") return "sqlite:" + (work_dir() / "bench.db").string();
    const char* pg = std::getenv("WEFT_TEST_PG_URL");
    return pg ? pg : "";
}

void fresh_table(const std::string& url) {
    auto c = connect(url);
    c->drop_table();
    c->create_schema();
}

void report(benchmark::State& state, std::uint64_t rows) {
    state.counters["rows"] = static_cast<double>(rows);
    state.counters["rows_per_s"] =
        benchmark::Counter(static_cast<double>(rows) * static_cast<double>(state.iterations()),
                           benchmark::Counter::kIsRate);
}

void bm_method(benchmark::State& state, std::string kind, method m) {
    const std::string url = db_url(kind);
    if (url.empty()) {
        state.SkipWithError("no PostgreSQL: run under scripts/with-postgres.sh");
        return;
    }
    const auto rows = rows_for(state.range(0));
    import_options opt;
    opt.file = workbook(rows);
    opt.db_url = url;
    opt.method = m;
    std::uint64_t written = 0;
    for (auto _ : state) {
        state.PauseTiming();
        fresh_table(url);
        state.ResumeTiming();
        written = run_import(weft::background(), opt).success_count;
    }
    report(state, written);
}

void bm_read_only(benchmark::State& state) {
    const auto rows = rows_for(state.range(0));
    const auto& book = workbook(rows);
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

void bm_load_only(benchmark::State& state, std::string kind) {
    const std::string url = db_url(kind);
    if (url.empty()) {
        state.SkipWithError("no PostgreSQL: run under scripts/with-postgres.sh");
        return;
    }
    const auto rows = rows_for(state.range(0));
    const auto g = gen_options(rows);
    std::vector<business> valid;
    for (std::uint64_t i = 0; i < rows; ++i) {
        auto r = generate_row(g, i);
        if (r.invalid) continue;
        business b;
        b.row = static_cast<std::uint32_t>(i + 2);
        b.fields = std::move(r.values);
        valid.push_back(std::move(b));
    }
    connect_options co;
    co.bulk_load = true;
    const std::size_t batch = 1000;  // the pipeline's default batch size
    for (auto _ : state) {
        state.PauseTiming();
        fresh_table(url);
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
void bm_peak_rss(benchmark::State& state) {
    const auto rows = rows_for(state.range(0));
    const std::string book = workbook(rows).string();
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
    for (const std::string kind : {"sqlite", "postgresql"}) {
        for (const auto m :
             {method::pipeline, method::batch, method::concurrent, method::sequential})
            one(benchmark::RegisterBenchmark(
                    ("Method/" + kind + "/" + std::string(method_name(m))).c_str(), bm_method, kind,
                    m)
                    ->Arg(10'000));
        one(benchmark::RegisterBenchmark(("Method/" + kind + "/pipeline").c_str(), bm_method, kind,
                                         method::pipeline)
                ->Arg(100'000)
                ->Arg(1'000'000));
        one(benchmark::RegisterBenchmark(("LoadOnly/" + kind).c_str(), bm_load_only, kind)
                ->Arg(10'000)
                ->Arg(100'000)
                ->Arg(1'000'000));
    }
    one(benchmark::RegisterBenchmark("ReadOnly", bm_read_only)
            ->Arg(10'000)
            ->Arg(100'000)
            ->Arg(1'000'000));
    one(benchmark::RegisterBenchmark("PeakRSS", bm_peak_rss)->Arg(100'000));
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
