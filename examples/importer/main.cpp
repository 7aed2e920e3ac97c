// weft-import: the command-line front end of the import engine (engine.hpp): the options, and
// what each outcome prints and exits with. The reports are in cli_output, the progress line in
// cli_progress, the signal thread in cli_signals.
//
//   weft-import [options] FILE.xlsx
//   weft-import generate --rows N [--seed S] [--invalid-rate R] [--text-size B] [--quiet] OUT.xlsx
//   weft-import serve [--listen 127.0.0.1:8080] [--db URL] [--max-upload-mb N] [--max-imports N]
//                     [--max-queue N] [--token-file F] [--grace S] [--header-timeout S]
//                     [--body-timeout S]   (serve.hpp)
//
// Exit status: 0 the file was imported (rejected rows included); 1 the file, the database, a
// report or the machine's resources refused the import, or it was interrupted, and nothing was
// written; 2 a usage error (nothing read); 3 the import failed after rows were committed (a
// tutorial method that commits as it goes, or the report on stdout after the commit), and the
// message says how many. Errors are one line on stderr. SIGINT and SIGTERM cancel the import
// through its context, and its transaction is rolled back; a second one exits at once (after a
// commit in progress, which it cannot stop), with 1 or with 3 and the exact committed count.
#include "cli_output.hpp"
#include "cli_progress.hpp"
#include "cli_signals.hpp"
#include "database.hpp"
#include "engine.hpp"
#include "generate.hpp"
#include "serve.hpp"

#include <CLI/CLI.hpp>
#include <weft/context.hpp>

#include <malloc.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <new>
#include <optional>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

namespace {

using namespace weft_import;
using namespace weft_import::cli;

constexpr int exit_rejected = 1;
constexpr int exit_usage = 2;
constexpr int exit_partial = 3;
constexpr std::size_t thread_stack_bytes = std::size_t{2} << 20;

// A usage error found after parsing (bad --require list, bad --db URL).
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Threads cost address space before they cost memory: glibc reserves each thread's stack at
// RLIMIT_STACK (8 MiB by default), and may give each thread a malloc arena that reserves 64 MiB,
// up to 8 arenas per core. Under an address-space limit (ulimit -v) that, not the rows, is what
// runs out first. The importer's threads need little stack (expat and SQLite do not recurse
// deeply), and a few arenas serve its handful of busy threads.
void economize_threads() {
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) == 0) {
        (void)pthread_attr_setstacksize(&attr, thread_stack_bytes);
        (void)pthread_setattr_default_np(&attr);
        pthread_attr_destroy(&attr);
    }
    (void)mallopt(M_ARENA_MAX, static_cast<int>(std::max(2u, std::thread::hardware_concurrency())));
}

// The one line that says why an import stopped (without the "weft-import: " prefix).
std::string describe(const std::exception_ptr& e, const std::string& file) {
    try {
        std::rethrow_exception(e);
    } catch (const std::bad_alloc&) {
        return "out of memory (std::bad_alloc)";
    } catch (const std::system_error& x) {
        if (x.code() == std::errc::resource_unavailable_try_again)
            return std::string("out of resources: ") + x.what();
        return x.what();
    } catch (const file_error& x) { return file + ": " + x.what(); } catch (const url_error& x) {
        return std::string("--db: ") + x.what();
    } catch (const std::exception& x) { return x.what(); } catch (...) {
        return "unknown error";
    }
}

int run_generate(const std::string& out, const generate_options& g, bool quiet) {
    const auto t0 = std::chrono::steady_clock::now();
    generate_workbook(out, g);
    if (!quiet) {
        const auto ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count();
        std::printf("wrote %s: %s rows (seed %llu, invalid rate %g) in %.0f ms\n", out.c_str(),
                    thousands(g.rows).c_str(), static_cast<unsigned long long>(g.seed),
                    g.invalid_rate, ms);
    }
    return 0;
}

int run_import_command(import_options opt, const std::string& require, const std::string& rejects,
                       bool json, bool quiet) {
    try {
        opt.required = parse_fields(require);
    } catch (const std::invalid_argument& e) {
        throw usage_error(std::string("--require: ") + e.what());
    }
    const std::string_view db_kind = check_url(opt.db_url);
    if (opt.workers > max_workers() && !quiet)
        std::fprintf(stderr, "weft-import: --workers %u is more than this machine can use: %u\n",
                     opt.workers, max_workers());
    std::optional<reject_sink> sink;
    try {
        sink.emplace(rejects, json);
    } catch (const reject_sink::open_error& e) { throw usage_error(e.what()); }
    opt.on_reject = std::ref(*sink);
    opt.before_commit = [&sink] { sink->finish(); };
    opt.rejects_kept = 10;  // the summary shows ten; the sink has them all
    std::atomic<std::uint64_t> committed{0};
    opt.committed = &committed;
    std::shared_mutex commit_gate;
    opt.commit_gate = &commit_gate;

    auto root = weft::with_cancel_cause(weft::background());
    const bool show_progress = !quiet && isatty(STDERR_FILENO);
    progress_bar bar;
    std::function<void(const progress&)> on_progress;
    if (show_progress) on_progress = std::ref(bar);

    import_stats st;
    // Until the reports are out: a signal after the commit must not kill the process with
    // the default action (status 130, the committed rows unsaid), but end it with 3 and their
    // count.
    std::optional<signal_canceller> signals;
    try {
        signals.emplace(root.cancel, committed, commit_gate, exit_rejected, exit_partial);
        st = run_import(root.ctx, opt, on_progress);
    } catch (const partial_import_error& e) {
        // The rejects file was complete before the first commit, and stays with the rows.
        if (show_progress) bar.clear();
        const std::string why = describe(e.cause(), opt.file.string());
        std::fprintf(stderr,
                     "weft-import: %s; %s rows stay committed (the %s method commits as it "
                     "goes)\n",
                     why.c_str(), thousands(e.stats().success_count).c_str(),
                     e.stats().method.c_str());
        if (json) print_json(e.stats(), *sink, why);
        return exit_partial;
    } catch (...) {
        if (show_progress) bar.clear();
        sink->discard();
        throw;
    }
    if (show_progress) bar.clear();
    // Committed: from here on a failure must not say that nothing was written.
    try {
        if (json)
            print_json(st, *sink);
        else if (!quiet)
            print_summary(st, db_kind);
    } catch (const report_error& e) {
        std::fprintf(stderr, "weft-import: %s; the import was committed (%s rows)\n", e.what(),
                     thousands(st.success_count).c_str());
        return exit_partial;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    economize_threads();
    // A file over RLIMIT_FSIZE fails its write with EFBIG, which the reports turn into a
    // message, instead of killing the process with SIGXFSZ halfway through a line.
    std::signal(SIGXFSZ, SIG_IGN);
    CLI::App app{"weft-import: stream an .xlsx business directory into SQLite or PostgreSQL",
                 "weft-import"};
    // weft's version (VERSION, which both builds check against WEFT_VERSION_*): one number.
    app.set_version_flag("--version", "weft-import " + std::to_string(WEFT_VERSION_MAJOR) + "." +
                                          std::to_string(WEFT_VERSION_MINOR) + "." +
                                          std::to_string(WEFT_VERSION_PATCH));

    import_options opt;
    std::string file, method = "pipeline", require, rejects;
    bool json = false, quiet = false;
    std::uint64_t max_part_mb = opt.limits.max_part_bytes >> 20;
    std::uint64_t max_text_mb = opt.limits.max_text_bytes >> 20;
    app.add_option("FILE", file, "the workbook to import (.xlsx), or - for standard input");
    app.add_option(
           "--db", opt.db_url,
           "sqlite:PATH, or a PostgreSQL URI (postgresql://...) or conninfo (host=... dbname=...)")
        ->capture_default_str();
    app.add_option("--method", method, "pipeline | batch | concurrent | sequential")
        ->check(CLI::IsMember({"pipeline", "batch", "concurrent", "sequential"}))
        ->capture_default_str();
    app.add_option("--sheet", opt.sheet, "the worksheet to read (default: Sheet1, else the first)");
    app.add_option("--workers", opt.workers,
                   "validation threads / pool workers (default: cores, at least 2; capped at "
                   "max(8, 4 x cores) = " +
                       std::to_string(max_workers()) + " here)")
        ->check(CLI::Range(1u, 1024u));
    app.add_option("--batch-size", opt.batch_size,
                   "rows per batch, at most (default: 1000 pipeline, 100 batch; unused by "
                   "concurrent and sequential)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
    app.add_option("--require", require,
                   "comma-separated columns that must not be empty, e.g. Email,Phone");
    app.add_option("--rejects", rejects, "write the rejected rows (row,reason) to this CSV file");
    app.add_option("--max-part-mb", max_part_mb,
                   "refuse a zip part that inflates beyond this size (and a piped input's copy)")
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 20))
        ->capture_default_str();
    app.add_option("--max-text-mb", max_text_mb, "refuse a sheet whose cell text exceeds this size")
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 20))
        ->capture_default_str();
    app.add_option("--max-ratio", opt.limits.max_ratio,
                   "refuse a part over 10 MiB whose inflate ratio exceeds this")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_flag("--json", json, "print the stats as one JSON object on stdout");
    app.add_flag("--quiet,-q", quiet, "no progress bar and no summary");

    generate_options gen;
    std::string gen_out;
    auto* generate = app.add_subcommand("generate", "write a sample workbook (libxlsxwriter)");
    generate->add_option("--rows", gen.rows, "data rows")
        ->required()
        ->check(CLI::Range(std::uint64_t{0}, max_generated_rows));
    generate->add_option("--seed", gen.seed, "random seed")->capture_default_str();
    generate->add_option("--invalid-rate", gen.invalid_rate, "share of invalid rows")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    generate
        ->add_option("--text-size", gen.text_size,
                     "mean description bytes (0: short ones; 320: rows of ~450 bytes)")
        ->check(CLI::Range(std::uint64_t{0}, max_text_size))
        ->capture_default_str();
    generate->add_option("OUT", gen_out, "the workbook to write (.xlsx)")->required();
    generate->add_flag("--quiet,-q", quiet, "print nothing");

    serve::options srv;
    std::uint64_t max_upload_mb = srv.max_upload_bytes >> 20;
    double grace_s = std::chrono::duration<double>(srv.grace).count();
    double header_timeout_s = std::chrono::duration<double>(srv.header_timeout).count();
    double body_timeout_s = std::chrono::duration<double>(srv.body_timeout).count();
    auto* serve_cmd = app.add_subcommand(
        "serve", "run the import service: POST /upload, GET /imports/{id}, /health, /metrics, /");
    serve_cmd->add_option("--listen", srv.listen, "HOST:PORT (port 0: any free port)")
        ->capture_default_str();
    serve_cmd->add_option("--db", srv.db_url, "as for an import")->capture_default_str();
    serve_cmd->add_option("--max-upload-mb", max_upload_mb, "refuse larger uploads with 413")
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 20))
        ->capture_default_str();
    serve_cmd->add_option("--max-imports", srv.max_imports, "imports running at once")
        ->check(CLI::Range(1u, 64u))
        ->capture_default_str();
    serve_cmd->add_option("--max-queue", srv.max_queue, "imports waiting; beyond: 429")
        ->check(CLI::Range(1u, 10000u))
        ->capture_default_str();
    serve_cmd->add_option("--max-connections", srv.max_connections, "open connections at most")
        ->check(CLI::Range(1u, 100000u))
        ->capture_default_str();
    serve_cmd->add_option("--token-file", srv.token_file,
                          "bearer token for every route but /health (required off loopback)");
    serve_cmd
        ->add_option("--grace", grace_s, "seconds the imports in progress get after SIGINT/SIGTERM")
        ->check(CLI::Range(0.0, 86400.0))
        ->capture_default_str();
    serve_cmd
        ->add_option("--header-timeout", header_timeout_s,
                     "seconds a client gets to send a request's header (idle keep-alive too)")
        ->check(CLI::Range(0.1, 3600.0))
        ->capture_default_str();
    serve_cmd
        ->add_option("--body-timeout", body_timeout_s,
                     "seconds a client may stall between two reads of a body or response")
        ->check(CLI::Range(0.1, 3600.0))
        ->capture_default_str();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);  // prints help/version to stdout, errors to stderr
        return rc == 0 ? 0 : exit_usage;
    }

    try {
        if (generate->parsed()) return run_generate(gen_out, gen, quiet);
        if (serve_cmd->parsed()) {
            srv.max_upload_bytes = max_upload_mb << 20;
            srv.grace = std::chrono::milliseconds(std::llround(grace_s * 1000));
            srv.header_timeout = std::chrono::milliseconds(std::llround(header_timeout_s * 1000));
            srv.body_timeout = std::chrono::milliseconds(std::llround(body_timeout_s * 1000));
            srv.on_listening = [](const std::string& url) {
                std::printf("weft-import serve: listening on %s\n", url.c_str());
                std::fflush(stdout);
            };
            return serve::run(srv);
        }
        if (file.empty()) {
            std::fprintf(stderr, "weft-import: no FILE.xlsx given (see --help)\n");
            return exit_usage;
        }
        opt.file = file;
        opt.method = method == "batch"        ? method::batch
                     : method == "concurrent" ? method::concurrent
                     : method == "sequential" ? method::sequential
                                              : method::pipeline;
        opt.limits.max_part_bytes = max_part_mb << 20;
        opt.limits.max_text_bytes = max_text_mb << 20;
        return run_import_command(opt, require, rejects, json, quiet);
    } catch (const serve::startup_error& e) {
        std::fprintf(stderr, "weft-import serve: %s\n", e.what());
        return exit_usage;
    } catch (const usage_error& e) {
        std::fprintf(stderr, "weft-import: %s\n", e.what());
        return exit_usage;
    } catch (const url_error& e) {
        std::fprintf(stderr, "weft-import: --db: %s\n", e.what());
        return exit_usage;
    } catch (...) {
        std::fprintf(stderr, "weft-import: %s\n", describe(std::current_exception(), file).c_str());
        return exit_rejected;
    }
}
