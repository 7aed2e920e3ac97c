// weft-import serve's jobs, registry and metrics (serve_jobs.hpp).
#include "serve_jobs.hpp"

#include "database.hpp"
#include "record.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <new>
#include <random>
#include <stdexcept>
#include <system_error>

namespace weft_import::serve {
namespace {

namespace json = boost::json;

// The first rejected rows an answer lists; GET /imports/{id}/rejects.csv has them all.
constexpr std::size_t rejects_in_answer = 100;

// Thrown through the context (its cause) so that the job can tell why it was canceled.
struct canceled_by : std::runtime_error {
    cancel_reason why;
    explicit canceled_by(cancel_reason r)
        : std::runtime_error(r == cancel_reason::shutdown
                                 ? "the server is shutting down: the import was canceled and "
                                   "nothing was written"
                                 : "the client disconnected: the import was canceled and "
                                   "nothing was written"),
          why(r) {}
};

std::string error_json(std::string_view message) {
    json::object o;
    o["error"] = message;
    return json::serialize(o);
}

json::object stats_json(const import_stats& st, std::string_view id, std::string_view filename) {
    json::object o;
    o["id"] = id;
    o["method"] = st.method;
    o["file"] = filename;
    o["total_records"] = st.total_records;
    o["success_count"] = st.success_count;
    o["error_count"] = st.error_count;
    o["skipped_blank"] = st.skipped_blank;
    o["duration_ms"] = std::llround(std::chrono::duration<double, std::milli>(st.duration).count());
    o["records_per_second"] = std::llround(st.records_per_second());
    json::array rejected;
    for (const auto& r : st.rejected) {
        if (rejected.size() == rejects_in_answer) break;
        rejected.push_back(json::object{{"row", r.row}, {"reason", r.reason}});
    }
    o["rejected"] = std::move(rejected);
    o["rejects_url"] = "/imports/" + std::string(id) + "/rejects.csv";
    return o;
}

// The client's view of an exception out of run_import: a status and one line, never a path of
// this machine (the engine names none: the file it reads is /proc/self/fd/N, and file_error
// messages do not name the file).
std::pair<int, std::string> classify(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const canceled_by& x) { return {503, x.what()}; } catch (const file_error& x) {
        return {422, std::string("the workbook was rejected: ") + x.what()};
    } catch (const db_error& x) {
        return {503, std::string("the database refused the import: ") + x.what()};
    } catch (const std::bad_alloc&) {
        return {503, "the server is out of memory: try again later"};
    } catch (const std::system_error& x) {
        if (x.code() == std::errc::resource_unavailable_try_again)
            return {503, "the server is out of resources: try again later"};
        return {500, x.what()};
    } catch (const std::exception& x) { return {500, x.what()}; } catch (...) {
        return {500, "unknown error"};
    }
}

}  // namespace

std::string_view state_name(job_state s) {
    switch (s) {
        case job_state::queued: return "queued";
        case job_state::running: return "running";
        case job_state::succeeded: return "succeeded";
        case job_state::failed: return "failed";
    }
    return "unknown";
}

job::job(std::string id, method m, std::string filename, const weft::context& parent)
    : id_(std::move(id)),
      method_(m),
      filename_(std::move(filename)),
      created_(std::chrono::system_clock::now()),
      ctx_(weft::with_cancel_cause(parent)) {}

job::~job() {
    if (upload_fd_ >= 0) ::close(upload_fd_);
}

std::exception_ptr cancel_cause(cancel_reason why) {
    return std::make_exception_ptr(canceled_by(why));
}

void job::cancel(cancel_reason why) { ctx_.cancel(cancel_cause(why)); }

void job::run(const std::string& db_url, const limits& lim, metrics& m) noexcept {
    state_.store(job_state::running, std::memory_order_release);
    const auto t0 = std::chrono::steady_clock::now();
    try {
        file_ptr rejects(std::tmpfile());
        if (!rejects) throw std::system_error(errno, std::generic_category(), "tmpfile");
        if (std::fputs("row,reason\r\n", rejects.get()) < 0)
            throw std::system_error(errno, std::generic_category(), "writing the rejects file");
        import_options opt;
        // The upload's descriptor, by a path the engine can open (never a client's name).
        opt.file = "/proc/self/fd/" + std::to_string(upload_fd_);
        opt.db_url = db_url;
        opt.method = method_;
        opt.limits = lim;
        opt.rejects_kept = rejects_in_answer;
        std::FILE* out = rejects.get();
        opt.on_reject = [out](const rejected_row& r) {
            const std::string line = std::to_string(r.row) + "," + csv_field(r.reason) + "\r\n";
            if (std::fwrite(line.data(), 1, line.size(), out) != line.size())
                throw std::system_error(errno ? errno : EIO, std::generic_category(),
                                        "writing the rejects file");
        };
        // Every rejected row is in the file before anything commits (and readers, who use
        // pread on its descriptor, see them all): a disk that fills fails the import, not the
        // report of one that committed.
        opt.before_commit = [out] {
            if (std::fflush(out) != 0)
                throw std::system_error(errno, std::generic_category(), "writing the rejects file");
        };
        import_stats st = run_import(ctx_.ctx, opt, [this](const progress& p) {
            rows_read_.store(p.rows_read, std::memory_order_relaxed);
            rows_written_.store(p.rows_written, std::memory_order_relaxed);
            permille_read_.store(static_cast<std::uint32_t>(p.fraction_read * 1000),
                                 std::memory_order_relaxed);
        });
        rows_read_.store(st.total_records + st.skipped_blank, std::memory_order_relaxed);
        rows_written_.store(st.success_count, std::memory_order_relaxed);
        permille_read_.store(1000, std::memory_order_relaxed);
        st.file = filename_;
        rejects_ = std::move(rejects);
        m.import_finished(job_state::succeeded, st.success_count, st.error_count,
                          std::chrono::steady_clock::now() - t0);
        json::object o = stats_json(st, id_, filename_);
        o["status"] = "succeeded";
        finish(200, json::serialize(o));
    } catch (const partial_import_error& e) {
        // A tutorial method committed rows before it failed: they stay, and the answer says so.
        auto [status, message] = classify(e.cause());
        json::object o = stats_json(e.stats(), id_, filename_);
        o["status"] = "failed";
        o["error"] = message + " (" + std::to_string(e.stats().success_count) +
                     " rows stay committed: the " + e.stats().method +
                     " method commits as it goes)";
        o["committed"] = e.stats().success_count;
        m.import_finished(job_state::failed, e.stats().success_count, e.stats().error_count,
                          std::chrono::steady_clock::now() - t0);
        finish(status == 503 ? 503 : 500, json::serialize(o));
    } catch (...) {
        auto [status, message] = classify(std::current_exception());
        m.import_finished(job_state::failed, 0, 0, std::chrono::steady_clock::now() - t0);
        finish(status, error_json(message));
    }
}

void job::refuse(int status, std::string_view message) { finish(status, error_json(message)); }

void job::finish(int status, std::string result) noexcept {
    if (upload_fd_ >= 0) ::close(std::exchange(upload_fd_, -1));
    status_ = status;
    result_ = std::move(result);
    state_.store(status == 200 ? job_state::succeeded : job_state::failed,
                 std::memory_order_release);
    (void)finished_.close();
}

std::string job::progress_json() const {
    json::object o;
    o["id"] = id_;
    o["state"] = state_name(state());
    o["rows_read"] = rows_read_.load(std::memory_order_relaxed);
    o["rows_written"] = rows_written_.load(std::memory_order_relaxed);
    o["fraction_read"] = permille_read_.load(std::memory_order_relaxed) / 1000.0;
    return json::serialize(o);
}

std::string job::snapshot_json() const {
    if (finished_.is_closed()) {
        // The outcome is complete once finished() is closed; the state says which.
        json::object o;
        o["id"] = id_;
        o["state"] = state_name(state());
        o["http_status"] = status_;
        o["result"] = json::parse(result_);
        o["fraction_read"] = permille_read_.load(std::memory_order_relaxed) / 1000.0;
        return json::serialize(o);
    }
    return progress_json();
}

void metrics::import_finished(job_state outcome, std::uint64_t rows, std::uint64_t rejects,
                              std::chrono::duration<double> took) {
    (outcome == job_state::succeeded ? succeeded_ : failed_)
        .fetch_add(1, std::memory_order_relaxed);
    rows_.fetch_add(rows, std::memory_order_relaxed);
    rejects_.fetch_add(rejects, std::memory_order_relaxed);
    std::size_t b = 0;
    while (b < duration_buckets.size() && took.count() > duration_buckets[b]) ++b;
    buckets_[b].fetch_add(1, std::memory_order_relaxed);
    duration_us_.fetch_add(static_cast<std::uint64_t>(took.count() * 1e6),
                           std::memory_order_relaxed);
}

std::string metrics::text(std::int64_t queue_depth, std::int64_t imports_running) const {
    const auto get = [](const auto& a) {
        return std::to_string(a.load(std::memory_order_relaxed));
    };
    std::string out;
    const auto head = [&out](const char* name, const char* type, const char* help) {
        out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    };
    head("weft_import_imports_total", "counter", "Imports finished, by outcome.");
    out += "weft_import_imports_total{outcome=\"succeeded\"} " + get(succeeded_) + "\n";
    out += "weft_import_imports_total{outcome=\"failed\"} " + get(failed_) + "\n";
    // A metric of one sample.
    const auto single = [&](const char* name, const char* type, const char* help,
                            const std::string& value) {
        head(name, type, help);
        out += std::string(name) + " " + value + "\n";
    };
    single("weft_import_rows_total", "counter", "Rows written by finished imports.", get(rows_));
    single("weft_import_rejects_total", "counter", "Rows rejected by finished imports.",
           get(rejects_));
    head("weft_import_duration_seconds", "histogram", "Import durations.");
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= duration_buckets.size(); ++i) {
        cumulative += buckets_[i].load(std::memory_order_relaxed);
        char le[32];
        if (i < duration_buckets.size())
            std::snprintf(le, sizeof le, "%g", duration_buckets[i]);
        else
            std::snprintf(le, sizeof le, "+Inf");
        out += std::string("weft_import_duration_seconds_bucket{le=\"") + le + "\"} " +
               std::to_string(cumulative) + "\n";
    }
    char sum[64];
    std::snprintf(sum, sizeof sum, "%.6f",
                  static_cast<double>(duration_us_.load(std::memory_order_relaxed)) / 1e6);
    out += std::string("weft_import_duration_seconds_sum ") + sum + "\n";
    out += "weft_import_duration_seconds_count " + std::to_string(cumulative) + "\n";
    single("weft_import_uploads_in_flight", "gauge", "Uploads being received.",
           get(uploads_in_flight));
    single("weft_import_queue_depth", "gauge", "Imports waiting for a slot.",
           std::to_string(queue_depth));
    single("weft_import_imports_running", "gauge", "Imports running.",
           std::to_string(imports_running));
    single("weft_import_bytes_received_total", "counter", "Upload bytes received.",
           get(bytes_received));
    single("weft_import_connections", "gauge", "Open connections.", get(connections));
    single("weft_import_http_requests_total", "counter", "HTTP requests read.", get(requests));
    single("weft_import_refused_busy_total", "counter", "Uploads refused with 429.",
           get(refused_busy));
    return out;
}

std::shared_ptr<job> registry::make(method m, std::string filename, const weft::context& parent) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    char id[17];
    std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(rng()));
    auto j = std::make_shared<job>(id, m, std::move(filename), parent);
    std::lock_guard lock(lock_);
    jobs_.emplace(j->id(), j);
    order_.push_back(j->id());
    return j;
}

std::shared_ptr<job> registry::find(std::string_view id) {
    std::lock_guard lock(lock_);
    auto it = jobs_.find(id);
    return it == jobs_.end() ? nullptr : it->second;
}

void registry::trim() {
    std::lock_guard lock(lock_);
    std::size_t finished = 0;
    for (const auto& [id, j] : jobs_)
        if (j->state() == job_state::succeeded || j->state() == job_state::failed) ++finished;
    for (auto it = order_.begin(); finished > keep_ && it != order_.end();) {
        auto j = jobs_.find(*it);
        const auto s = j->second->state();
        if (s == job_state::succeeded || s == job_state::failed) {
            jobs_.erase(j);
            it = order_.erase(it);
            --finished;
        } else {
            ++it;
        }
    }
}

}  // namespace weft_import::serve
