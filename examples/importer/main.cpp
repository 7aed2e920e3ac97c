// weft-import: the command-line front end of the import engine (engine.hpp).
//
//   weft-import [options] FILE.xlsx
//   weft-import generate --rows N [--seed S] [--invalid-rate R] [--text-size B] OUT.xlsx
//
// Exit status: 0 the file was imported (rejected rows included), 1 the file or the database
// refused the import or it was interrupted, 2 a usage error. Errors are one line on stderr.
// With the default method nothing is written unless the status is 0; the tutorial's methods
// keep what they committed before a database error or an interruption. SIGINT and SIGTERM
// cancel the import through its context, and its transaction is rolled back.
#include "database.hpp"
#include "engine.hpp"
#include "generate.hpp"

#include <CLI/CLI.hpp>
#include <weft/context.hpp>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

namespace {

using namespace weft_import;

constexpr int exit_rejected = 1;
constexpr int exit_usage = 2;

// A usage error found after parsing (bad --require list, bad --db URL).
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// JSON string literal: quotes, backslash and control characters escaped; UTF-8 passes through.
std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (const char ch : s) {
        const auto u = static_cast<unsigned char>(ch);
        switch (ch) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (u < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", u);
                    out += buf;
                } else {
                    out += ch;
                }
        }
    }
    return out + "\"";
}

// The stats as one JSON object; the rejected rows were streamed into `rejected` (a temporary
// file of ",{...}" items) while importing, so they are copied, never held in memory.
void print_json(const import_stats& st, std::FILE* rejected) {
    const auto ms = std::chrono::duration<double, std::milli>(st.duration).count();
    std::string out = "{";
    out += "\"method\":" + json_string(st.method);
    out += ",\"file\":" + json_string(st.file);
    out += ",\"total_records\":" + std::to_string(st.total_records);
    out += ",\"success_count\":" + std::to_string(st.success_count);
    out += ",\"error_count\":" + std::to_string(st.error_count);
    out += ",\"duration_ms\":" + std::to_string(std::llround(ms));
    out += ",\"records_per_second\":" + std::to_string(std::llround(st.records_per_second()));
    out += ",\"rejected\":[";
    std::fputs(out.c_str(), stdout);
    std::rewind(rejected);
    char buf[65536];
    bool first = true;
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, rejected)) > 0; first = false)
        std::fwrite(buf + (first ? 1 : 0), 1, n - (first ? 1 : 0), stdout);  // drop the first ','
    std::fputs("]}\n", stdout);
}

// RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled.
std::string csv_field(std::string_view s) {
    if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
    std::string out = "\"";
    for (const char ch : s) {
        if (ch == '"') out += '"';
        out += ch;
    }
    return out + "\"";
}

// Where rejected rows go as the engine finds them: the --rejects CSV file and, for --json, a
// temporary file. Both are opened before the import, so a path that cannot be written is a
// usage error and not a failure after the commit; an import that fails removes the CSV file.
class reject_sink {
public:
    reject_sink(std::string csv_path, bool json) : csv_path_(std::move(csv_path)) {
        if (!csv_path_.empty()) {
            csv_ = std::fopen(csv_path_.c_str(), "wb");
            if (!csv_)
                throw usage_error("--rejects: cannot write '" + csv_path_ +
                                  "': " + std::strerror(errno));
            std::fputs("row,reason\r\n", csv_);
        }
        if (json) {
            json_ = std::tmpfile();
            if (!json_) throw std::runtime_error("cannot create a temporary file for --json");
        }
    }
    reject_sink(const reject_sink&) = delete;
    reject_sink& operator=(const reject_sink&) = delete;
    ~reject_sink() {
        if (csv_) std::fclose(csv_);
        if (json_) std::fclose(json_);
    }

    void operator()(const rejected_row& r) {
        if (csv_) std::fprintf(csv_, "%u,%s\r\n", r.row, csv_field(r.reason).c_str());
        if (json_)
            std::fprintf(json_, ",{\"row\":%u,\"reason\":%s}", r.row,
                         json_string(r.reason).c_str());
    }
    // After a successful import: the CSV file must be complete.
    void finish() {
        if (csv_ && (std::fflush(csv_) != 0 || std::ferror(csv_)))
            throw std::runtime_error("--rejects: writing '" + csv_path_ + "' failed");
    }
    void discard() {
        if (!csv_) return;
        std::fclose(csv_);
        csv_ = nullptr;
        std::remove(csv_path_.c_str());
    }
    std::FILE* json() const { return json_; }

private:
    std::string csv_path_;
    std::FILE* csv_ = nullptr;
    std::FILE* json_ = nullptr;
};

std::string thousands(std::uint64_t n) {
    const std::string digits = std::to_string(n);
    std::string s;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0) s += ',';
        s += digits[i];
    }
    return s;
}

void print_summary(const import_stats& st, std::string_view db_kind) {
    const auto ms = std::chrono::duration<double, std::milli>(st.duration).count();
    std::printf("%-20s %s\n", "file", st.file.c_str());
    std::printf("%-20s %s into %.*s\n", "method", st.method.c_str(),
                static_cast<int>(db_kind.size()), db_kind.data());
    std::printf("%-20s %s\n", "records", thousands(st.total_records).c_str());
    std::printf("%-20s %s\n", "imported", thousands(st.success_count).c_str());
    std::printf("%-20s %s\n", "rejected", thousands(st.error_count).c_str());
    if (st.skipped_blank)
        std::printf("%-20s %s\n", "blank rows skipped", thousands(st.skipped_blank).c_str());
    std::printf("%-20s %.0f ms\n", "duration", ms);
    std::printf(
        "%-20s %s\n", "records/s",
        thousands(static_cast<std::uint64_t>(std::llround(st.records_per_second()))).c_str());
    const std::size_t shown = std::min<std::size_t>(st.rejected.size(), 10);
    for (std::size_t i = 0; i < shown; ++i)
        std::printf("  row %u: %s\n", st.rejected[i].row, st.rejected[i].reason.c_str());
    if (st.error_count > shown)
        std::printf("  ... and %s more (--rejects FILE.csv lists them all)\n",
                    thousands(st.error_count - shown).c_str());
}

// The progress line on stderr: redrawn in place, cleared at the end.
class progress_bar {
public:
    void operator()(const progress& p) {
        const auto now = std::chrono::steady_clock::now();
        const double s = std::chrono::duration<double>(now - start_).count();
        const int width = 30;
        const int filled = static_cast<int>(p.fraction_read * width + 0.5);
        std::string bar(static_cast<std::size_t>(filled), '#');
        bar.resize(width, '.');
        std::fprintf(
            stderr, "\r[%s] %3.0f%%  %s rows read  %s written  %s rows/s ", bar.c_str(),
            p.fraction_read * 100, thousands(p.rows_read).c_str(),
            thousands(p.rows_written).c_str(),
            thousands(static_cast<std::uint64_t>(s > 0 ? static_cast<double>(p.rows_read) / s : 0))
                .c_str());
        drawn_ = true;
    }
    void clear() const {
        if (drawn_) std::fprintf(stderr, "\r\033[K");
    }

private:
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
    bool drawn_ = false;
};

// Turns SIGINT/SIGTERM into a cancellation: the signals are blocked in every thread (the
// engine's threads inherit the mask) and one thread takes them with sigwaitinfo. The first one
// cancels the import, which then rolls back and reports; a second one ends the process at once
// (an uncommitted transaction dies with its connection). The destructor wakes the thread with a
// SIGUSR1 of its own, the only one it accepts as the signal to leave, and restores the mask.
class signal_canceller {
public:
    explicit signal_canceller(weft::cancel_cause_func cancel) {
        sigemptyset(&set_);
        sigaddset(&set_, SIGINT);
        sigaddset(&set_, SIGTERM);
        sigaddset(&set_, SIGUSR1);
        pthread_sigmask(SIG_BLOCK, &set_, &old_);
        thread_ = std::thread([this, c = std::move(cancel)] {
            bool canceled = false;
            for (;;) {
                siginfo_t info{};
                if (sigwaitinfo(&set_, &info) < 0) continue;  // EINTR
                if (info.si_signo == SIGUSR1) {
                    if (info.si_pid == getpid()) return;
                    continue;
                }
                if (canceled) {
                    static const char msg[] = "\nweft-import: second signal: exiting now\n";
                    (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
                    _exit(exit_rejected);
                }
                canceled = true;
                c(std::runtime_error(info.si_signo == SIGINT ? "interrupted (SIGINT)"
                                                             : "terminated (SIGTERM)"));
            }
        });
    }
    ~signal_canceller() {
        // kill(), not pthread_kill(): si_pid is then this process, which is how the thread
        // tells this SIGUSR1 from a stray one. Only that thread waits for SIGUSR1, and every
        // other thread blocks it, so it is the one that takes it.
        ::kill(getpid(), SIGUSR1);
        thread_.join();
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    signal_canceller(const signal_canceller&) = delete;
    signal_canceller& operator=(const signal_canceller&) = delete;

private:
    sigset_t set_{};
    sigset_t old_{};
    std::thread thread_;
};

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
    reject_sink sink(rejects, json);
    opt.on_reject = std::ref(sink);
    opt.rejects_kept = 10;  // the summary shows ten; the sink has them all

    auto root = weft::with_cancel_cause(weft::background());
    const bool show_progress = !quiet && isatty(STDERR_FILENO);
    progress_bar bar;
    std::function<void(const progress&)> on_progress;
    if (show_progress) on_progress = std::ref(bar);

    import_stats st;
    try {
        signal_canceller signals(root.cancel);
        st = run_import(root.ctx, opt, on_progress);
    } catch (...) {
        if (show_progress) bar.clear();
        sink.discard();
        throw;
    }
    if (show_progress) bar.clear();
    sink.finish();
    if (json)
        print_json(st, sink.json());
    else if (!quiet)
        print_summary(st, db_kind);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
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
                   "validation threads / pool workers (default: cores, at least 2)")
        ->check(CLI::Range(1u, 1024u));
    app.add_option("--batch-size", opt.batch_size,
                   "rows per batch (default: 1000 pipeline, 100 batch)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
    app.add_option("--require", require,
                   "comma-separated columns that must not be empty, e.g. Email,Phone");
    app.add_option("--rejects", rejects, "write the rejected rows (row,reason) to this CSV file");
    app.add_option("--max-part-mb", max_part_mb, "refuse a zip part that inflates beyond this size")
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

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);  // prints help/version to stdout, errors to stderr
        return rc == 0 ? 0 : exit_usage;
    }

    try {
        if (generate->parsed()) return run_generate(gen_out, gen, quiet);
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
    } catch (const usage_error& e) {
        std::fprintf(stderr, "weft-import: %s\n", e.what());
        return exit_usage;
    } catch (const url_error& e) {
        std::fprintf(stderr, "weft-import: --db: %s\n", e.what());
        return exit_usage;
    } catch (const file_error& e) {
        std::fprintf(stderr, "weft-import: %s: %s\n", file.c_str(), e.what());
        return exit_rejected;
    } catch (const db_error& e) {
        std::fprintf(stderr, "weft-import: %s\n", e.what());
        return exit_rejected;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "weft-import: %s\n", e.what());
        return exit_rejected;
    }
}
