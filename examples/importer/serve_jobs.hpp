// The service's imports (weft-import serve): a job per accepted upload, the registry that finds
// it by id, and the counters behind GET /metrics. No HTTP here: serve.cpp speaks HTTP and calls
// these; a job runs the one import engine (run_import), as the CLI does.
//
// A job's life: made queued, with its upload in an unnamed temporary file and a context that is
// a child of the server's (so shutdown cancels every import at once, and a client that asked
// for it cancels its own); run() on an import pool thread; then finished() is closed, once, after
// the outcome is written, so whoever sees the close reads the outcome without a lock (the close
// orders it, as Go's close does).
//
// Invariants:
// - state, counters and progress are atomics, read at any time (GET /imports/{id}, the events
//   stream); the outcome (status, result JSON, rejects file) is written by run() alone and read
//   only after finished() is closed.
// - The registry keeps every job that has not finished, and the last `keep_finished` finished
//   ones; a handle (shared_ptr) held by a request outlives its eviction.
#pragma once

#include "engine.hpp"

#include <weft/channel.hpp>
#include <weft/context.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace weft_import::serve {

enum class job_state : std::uint8_t { queued, running, succeeded, failed };
std::string_view state_name(job_state s);

// Why a canceled import was canceled: the answer's message and status depend on it.
enum class cancel_reason : std::uint8_t { shutdown, client_disconnected };
// The cause a context is canceled with, so that the job's answer says why.
std::exception_ptr cancel_cause(cancel_reason why);

// Closes a descriptor or FILE* when the owner goes.
struct file_closer {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};
using file_ptr = std::unique_ptr<std::FILE, file_closer>;

class metrics;

class job {
public:
    job(std::string id, method m, std::string filename, const weft::context& parent);
    job(const job&) = delete;
    job& operator=(const job&) = delete;
    ~job();

    const std::string& id() const { return id_; }
    method import_method() const { return method_; }
    const std::string& filename() const { return filename_; }
    job_state state() const { return state_.load(std::memory_order_acquire); }

    // The upload: written by the server before run(), which imports it and closes it.
    int upload_fd() const { return upload_fd_; }
    void set_upload_fd(int fd) { upload_fd_ = fd; }

    // Runs the import (on a pool thread). Never throws: every outcome becomes a status and a
    // JSON answer.
    void run(const std::string& db_url, const limits& lim, metrics& m) noexcept;
    // Cancels the import through its context (nothing written); no effect once it committed.
    void cancel(cancel_reason why);
    // Ends a job that will never run (the pool refused it): finished() closes with this answer.
    void refuse(int status, std::string_view message);

    // Closed when the outcome is written (see the header comment).
    weft::receiver<std::monostate> finished() const { return finished_; }
    // After finished(): the HTTP status and the JSON answer of POST /upload.
    int status() const { return status_; }
    const std::string& result() const { return result_; }
    // After finished(): the rejected rows as CSV ("row,reason"), or null when the import failed.
    std::FILE* rejects() const { return rejects_.get(); }

    // GET /imports/{id}: state, counts and progress (and the result once finished).
    std::string snapshot_json() const;
    // The events stream's progress event, and whether it changed since `last`.
    std::string progress_json() const;

private:
    void finish(int status, std::string result) noexcept;

    std::string id_;
    method method_;
    std::string filename_;
    std::chrono::system_clock::time_point created_;
    weft::cancelable<weft::cancel_cause_func> ctx_;
    std::atomic<job_state> state_{job_state::queued};  // release on change, acquire to read
    // relaxed: progress counters, each a snapshot on its own.
    std::atomic<std::uint64_t> rows_read_{0};
    std::atomic<std::uint64_t> rows_written_{0};
    std::atomic<std::uint32_t> permille_read_{0};
    int upload_fd_ = -1;
    weft::channel<std::monostate> finished_{0};
    int status_ = 0;
    std::string result_;
    file_ptr rejects_;
};

// The counters of GET /metrics (Prometheus text format).
class metrics {
public:
    static constexpr std::array<double, 9> duration_buckets{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

    void import_finished(job_state outcome, std::uint64_t rows, std::uint64_t rejects,
                         std::chrono::duration<double> took);
    // relaxed, all of them: independent counters, each read as a snapshot.
    std::atomic<std::int64_t> uploads_in_flight{0};
    std::atomic<std::int64_t> connections{0};
    std::atomic<std::uint64_t> bytes_received{0};
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> refused_busy{0};  // 429s
    std::string text(std::int64_t queue_depth, std::int64_t imports_running) const;

private:
    std::atomic<std::uint64_t> succeeded_{0};
    std::atomic<std::uint64_t> failed_{0};
    std::atomic<std::uint64_t> rows_{0};
    std::atomic<std::uint64_t> rejects_{0};
    std::array<std::atomic<std::uint64_t>, duration_buckets.size() + 1> buckets_{};
    std::atomic<std::uint64_t> duration_us_{0};
};

class registry {
public:
    explicit registry(std::size_t keep_finished = 256) : keep_(keep_finished) {}
    // A new queued job with a fresh unguessable id.
    std::shared_ptr<job> make(method m, std::string filename, const weft::context& parent);
    std::shared_ptr<job> find(std::string_view id);
    // Drops the oldest finished jobs beyond the limit; call after a job finishes.
    void trim();

private:
    std::mutex lock_;
    std::map<std::string, std::shared_ptr<job>, std::less<>> jobs_;  // guarded by lock_
    std::deque<std::string> order_;                                  // guarded by lock_
    std::size_t keep_;
};

}  // namespace weft_import::serve
