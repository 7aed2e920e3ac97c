// The four import methods (see engine.hpp). Every concurrent part is a weft pattern: the
// pipeline method is one weft::pipeline; the tutorial's concurrent and batch methods are a
// weft::worker_pool whose tasks borrow database connections from a weft::channel, the way a Go
// program shares a pool of *sql.Conn.
//
// Invariants:
// - pipeline: every write happens inside the one transaction that run_pipeline() opened on its
//   connection, and the only commit is after the pipeline ended without error; any exception
//   (file, database, cancellation) rolls it back before it leaves.
// - Rejected rows are reported in sheet order: the map stage is ordered, and batch and the
//   single sink keep order. on_reject is called by that sink only (pipeline) or by the caller's
//   thread (the others), so never concurrently with itself.
// - on_progress never runs concurrently with itself either: the pipeline's reading thread calls
//   it while the pipeline runs, the caller's thread before and after; the tutorial's methods
//   call it from the caller's thread only (it reads, and posts the pool's tasks).
#include "engine.hpp"

#include "database.hpp"

#include <weft/channel.hpp>
#include <weft/context.hpp>
#include <weft/pipeline.hpp>
#include <weft/semaphore.hpp>
#include <weft/worker_pool.hpp>

#include <algorithm>
#include <atomic>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <shared_mutex>
#include <span>
#include <string>
#include <thread>
#include <utility>

namespace weft_import {

std::string_view method_name(method m) {
    switch (m) {
        case method::pipeline: return "pipeline";
        case method::batch: return "batch";
        case method::concurrent: return "concurrent";
        case method::sequential: return "sequential";
    }
    return "?";
}

unsigned max_workers() { return std::max(8u, 4 * std::thread::hardware_concurrency()); }

double import_stats::records_per_second() const {
    const double s = std::chrono::duration<double>(duration).count();
    return s > 0 ? static_cast<double>(success_count) / s : 0.0;
}

namespace {

using clock = std::chrono::steady_clock;
constexpr auto progress_interval = std::chrono::milliseconds(50);

unsigned worker_count(const import_options& opt) {
    if (opt.workers) return std::min(opt.workers, max_workers());
    return std::max(2u, std::thread::hardware_concurrency());
}

// The reader, opened, with the header row already consumed.
struct sheet {
    xlsx_reader reader;
    header_map header;
};

sheet open_sheet(const import_options& opt) {
    xlsx_reader reader(opt.file, opt.limits, opt.sheet);
    sheet_row first;
    if (!reader.next(first)) throw file_error("the sheet is empty: it has no header row");
    header_map h = header_map::from(first);
    // Cells of the columns the header does not map are only checked for content, never
    // copied: a row with a cell at XFD costs no more than a narrow one, whichever column the
    // header puts at XFD.
    reader.keep_columns(h.keep_mapped_columns());
    return {std::move(reader), h};
}

// Calls on_progress at most every progress_interval, from whichever thread finds it due: the
// reader as it reads, the writer as it writes, so the figures move while either one waits for
// the other. A mutex keeps the calls from overlapping; a thread that finds it taken skips its
// report instead of waiting (the other is reporting). While reading, the clock is checked only
// every 256 rows, which keeps its cost off the per-row path; a write is slow enough to check it
// every time.
class progress_meter {
public:
    progress_meter(const std::function<void(const progress&)>& f,
                   const std::atomic<std::uint64_t>* written, std::uint64_t rows_read = 0)
        : f_(f), written_(written), read_(rows_read) {}

    // From the one reading thread.
    void row_read(const xlsx_reader& r) {
        const auto n = read_.load(std::memory_order_relaxed) + 1;
        read_.store(n, std::memory_order_relaxed);
        if (f_ && (n & 255) == 0) {
            fraction_.store(r.fraction_read(), std::memory_order_relaxed);
            if (due()) report();
        }
    }
    // Something was written; `all_read` once the whole sheet has been read.
    void wrote(bool all_read = false) {
        if (!f_) return;
        if (all_read) fraction_.store(1.0, std::memory_order_relaxed);
        if (due()) report();
    }
    // The last report, when the import is done.
    void finish() {
        fraction_.store(1.0, std::memory_order_relaxed);
        report();
    }

private:
    bool due() {
        std::lock_guard lock(clock_mu_);
        const auto now = clock::now();
        if (now - last_ < progress_interval) return false;
        last_ = now;
        return true;
    }
    void report() {
        if (!f_) return;
        std::unique_lock lock(call_mu_, std::try_to_lock);
        if (!lock.owns_lock()) return;
        // Loaded under call_mu_, so one report's figures are never below the previous one's.
        progress p;
        p.rows_read = read_.load(std::memory_order_relaxed);
        p.rows_written = written_ ? written_->load(std::memory_order_relaxed) : 0;
        p.fraction_read = fraction_.load(std::memory_order_relaxed);
        f_(p);
    }

    const std::function<void(const progress&)>& f_;
    // relaxed: progress figures, ordering nothing (call_mu_ orders the reports).
    const std::atomic<std::uint64_t>* written_;
    std::atomic<std::uint64_t> read_;
    std::atomic<double> fraction_{0.0};
    std::mutex clock_mu_;  // guards last_
    clock::time_point last_ = clock::now();
    std::mutex call_mu_;  // held while f_ runs
};

// One data row after validation: written, rejected, or skipped because it is blank.
struct checked_row {
    enum class kind : std::uint8_t { valid, rejected, blank };
    kind what = kind::blank;
    std::uint32_t row = 0;
    business record;
    std::string reason;
};

// Takes the row's text; the row itself (its vector of cells) stays with the caller.
checked_row check(const header_map& h, std::span<const field> required, sheet_row& r) {
    checked_row c;
    c.row = r.number;
    auto b = h.take(r);
    if (!b) return c;
    if (auto why = validate(*b, required)) {
        c.what = checked_row::kind::rejected;
        c.reason = std::move(*why);
    } else {
        c.what = checked_row::kind::valid;
        c.record = std::move(*b);
    }
    return c;
}

void count(const import_options& opt, import_stats& st, checked_row& c) {
    switch (c.what) {
        case checked_row::kind::valid: ++st.total_records; break;
        case checked_row::kind::rejected: {
            ++st.total_records;
            ++st.error_count;
            rejected_row r{c.row, std::move(c.reason)};
            if (opt.on_reject) opt.on_reject(r);
            if (st.rejected.size() < opt.rejects_kept) st.rejected.push_back(std::move(r));
            break;
        }
        case checked_row::kind::blank: ++st.skipped_blank; break;
    }
}

// On the way out with an exception: that exception is the one to report, so a rollback that
// fails too (a lost connection) must not replace it. The database discards the transaction
// anyway when the connection ends.
void rollback_quietly(connection& db) noexcept {
    try {
        db.rollback();
    } catch (...) {}
}

// Leaves with the context's cause when it was canceled.
void throw_if_canceled(const weft::context& ctx) {
    if (auto cause = weft::cause(ctx)) std::rethrow_exception(cause);
}

// Holds import_options::commit_gate, if any, over one commit and the count of its rows.
std::shared_lock<std::shared_mutex> commit_section(const import_options& opt) {
    return opt.commit_gate ? std::shared_lock(*opt.commit_gate)
                           : std::shared_lock<std::shared_mutex>();
}

connect_options db_options() {
    connect_options o;
    o.bulk_load = true;
    return o;
}

// Rows travel between the pipeline's stages in chunks: a channel hand-off, and the ordered
// map's numbering, cost about a microsecond each, as much as validating a row, so paying them
// once per chunk instead of once per row is what lets the reader keep up with the writer. A
// batch is a whole number of chunks: `batch_size` rows when it is a multiple of the chunk
// size (as 1,000 = 4 x 250 and 100 are), else the nearest multiple below it. A chunk is also
// cut once its rows take chunk_bytes(), so that one chunk of long rows stays a small part of
// the byte budget.
struct chunking {
    std::size_t rows_per_chunk;
    std::size_t chunks_per_batch;
};
chunking chunks_for(std::size_t batch_size) {
    constexpr std::size_t max_chunk = 256;
    const std::size_t per_batch = (batch_size + max_chunk - 1) / max_chunk;
    return {batch_size / per_batch, per_batch};
}
std::size_t chunk_bytes(std::size_t budget) { return std::max<std::size_t>(budget / 16, 1); }

// What a row costs while it is in flight: the row, its cells' strings and their heap text,
// and the validated record it becomes (whose strings are the cells', moved). An estimate
// (malloc adds its own overhead), but one that grows with exactly what a row holds.
std::size_t row_bytes(const sheet_row& r) {
    std::size_t n = sizeof(sheet_row) + sizeof(business) + 64;
    n += r.cells.capacity() * sizeof(std::string);
    for (const auto& c : r.cells)
        if (c.capacity() > 15) n += c.capacity() + 1;  // beyond the small-string buffer
    return n;
}

// Channels between stages hold this many chunks (the ordered map holds at most max(this,
// 2 x workers) inside it, the batch stage's output 2 batches): enough to hide a hand-off, few
// enough that rows in flight are bounded by chunks, not by weft::pipeline's default of 256
// values per channel.
constexpr std::size_t chunks_per_channel = 4;

// pipeline: reader thread -> ordered parallel validation -> batch(size, max_wait) -> one writer.
// Memory is bounded twice: by rows, through the channels' capacities counted in chunks of at
// most 256 rows, and by bytes, through `budget`, a weighted semaphore the reader acquires for
// every chunk it sends and the writer releases once it has written the chunk's rows. A chunk
// heavier than the whole budget takes all of it, so it waits for everything before it and then
// passes alone. The reader waits on the pipeline's context, so a failure anywhere ends the
// wait: it can never deadlock on tokens that a stopped writer will not release.
void run_pipeline(const weft::context& ctx, const import_options& opt,
                  const std::function<void(const progress&)>& on_progress, import_stats& st) {
    // A bad URL is found before the file is read, a bad file before the database is touched,
    // and a SQLite file this import creates is gone again if the import fails.
    new_database_guard fresh(opt.db_url);
    sheet sh = open_sheet(opt);
    auto db = connect(opt.db_url, db_options());
    std::atomic<std::uint64_t> written{0};
    std::atomic<bool> all_read{false};  // relaxed: only decides the progress fraction
    progress_meter meter(on_progress, &written);
    const chunking ck = chunks_for(opt.batch_size ? opt.batch_size : 1000);
    const std::span<const field> required(opt.required);
    const auto budget =
        static_cast<std::int64_t>(std::max<std::size_t>(opt.max_bytes_in_flight, 1));
    const std::size_t cut_at = chunk_bytes(static_cast<std::size_t>(budget));
    weft::semaphore in_flight(budget);
    struct rows_chunk {
        std::vector<sheet_row> rows;
        std::int64_t tokens = 0;  // held in `in_flight` until the rows are written
    };
    struct checked_chunk {
        std::vector<checked_row> rows;
        std::vector<sheet_row> shells;  // the chunk's rows, their text taken
        std::int64_t tokens = 0;
    };
    // What the writer is done with goes back to the reading thread, which frees the rows' text
    // there and reads new rows into the shells. Every string of a row is allocated by the
    // reader; freed by the writer, each one would take the reader's malloc arena lock from the
    // other core, and the two threads would contend for that lock on every cell (seen as a
    // tenth of the import's samples in futex waits). Freed by the reader, they go back to its
    // own caches, where its next rows' strings come from.
    struct done_rows {
        std::vector<business> rows;
        std::vector<std::vector<sheet_row>> shells;
    };
    std::mutex done_mu;
    std::vector<done_rows> done;        // guarded by done_mu
    std::atomic<bool> any_done{false};  // relaxed: a hint that done is not empty; done_mu orders

    db->begin();
    try {
        db->create_schema();
        auto p = weft::pipeline(ctx, {.capacity = chunks_per_channel}) |
                 weft::stage::source<rows_chunk>([&](weft::emitter<rows_chunk>& emit) {
                     rows_chunk chunk;
                     std::size_t bytes = 0;
                     std::vector<sheet_row> spare;  // shells to read the next rows into
                     // Checked before every row: written rows are freed before the reader
                     // allocates more, so their memory is gone by the time their tokens let
                     // the reader go on.
                     const auto take_back = [&] {
                         if (!any_done.load(std::memory_order_relaxed)) return;
                         std::vector<done_rows> got;
                         {
                             std::lock_guard lock(done_mu);
                             got.swap(done);
                             any_done.store(false, std::memory_order_relaxed);
                         }
                         for (auto& d : got)
                             for (auto& shells : d.shells)
                                 for (auto& s : shells)
                                     if (spare.size() < ck.rows_per_chunk)
                                         spare.push_back(std::move(s));
                     };
                     const auto send = [&] {
                         chunk.tokens =
                             std::min<std::int64_t>(static_cast<std::int64_t>(bytes), budget);
                         if (in_flight.acquire(emit.ctx(), chunk.tokens)) return false;
                         if (!emit(std::move(chunk))) return false;
                         chunk = rows_chunk{};
                         chunk.rows.reserve(ck.rows_per_chunk);
                         bytes = 0;
                         return true;
                     };
                     chunk.rows.reserve(ck.rows_per_chunk);
                     sheet_row r;
                     for (;;) {
                         take_back();
                         if (!spare.empty()) {
                             r = std::move(spare.back());
                             spare.pop_back();
                         }
                         if (!sh.reader.next(r)) break;
                         meter.row_read(sh.reader);
                         bytes += row_bytes(r);
                         chunk.rows.push_back(std::move(r));
                         r = sheet_row{};
                         if (chunk.rows.size() < ck.rows_per_chunk && bytes < cut_at) continue;
                         if (!send()) return;
                     }
                     if (!chunk.rows.empty()) (void)send();
                     all_read.store(true, std::memory_order_relaxed);
                 }).name("read") |
                 weft::stage::map(
                     [&](rows_chunk&& chunk) {
                         checked_chunk out;
                         out.tokens = chunk.tokens;
                         out.rows.reserve(chunk.rows.size());
                         for (auto& r : chunk.rows)
                             out.rows.push_back(check(sh.header, required, r));
                         out.shells = std::move(chunk.rows);
                         return out;
                     },
                     worker_count(opt), weft::stage::ordered)
                     .name("validate") |
                 weft::stage::batch(ck.chunks_per_batch, opt.max_wait) |
                 weft::stage::sink([&](std::vector<checked_chunk>&& batch) {
                     done_rows d;
                     std::int64_t tokens = 0;
                     for (auto& chunk : batch) {
                         tokens += chunk.tokens;
                         for (auto& c : chunk.rows) {
                             count(opt, st, c);
                             if (c.what == checked_row::kind::valid)
                                 d.rows.push_back(std::move(c.record));
                         }
                         d.shells.push_back(std::move(chunk.shells));
                     }
                     if (!d.rows.empty()) {
                         db->insert_many(d.rows);
                         written.fetch_add(d.rows.size(), std::memory_order_relaxed);
                     }
                     batch.clear();
                     // The rows go back before their tokens do, and the reader frees them
                     // before it reads another row: what it may read next is what has really
                     // left memory. Once it has read everything, they are freed here.
                     if (!all_read.load(std::memory_order_relaxed)) {
                         std::lock_guard lock(done_mu);
                         done.push_back(std::move(d));
                         any_done.store(true, std::memory_order_relaxed);
                     }
                     d = done_rows{};
                     in_flight.release(tokens);
                     meter.wrote(all_read.load(std::memory_order_relaxed));
                 }).name("write");
        const auto result = p.run();
        if (result.error) std::rethrow_exception(result.error);
        if (opt.before_commit) opt.before_commit();
        {
            const auto gate = commit_section(opt);
            // A cancellation that came after the last row still stops the import; once the
            // commit has begun, it is too late.
            throw_if_canceled(ctx);
            db->commit();
            st.success_count = written.load(std::memory_order_relaxed);
            if (opt.committed) opt.committed->store(st.success_count, std::memory_order_relaxed);
        }
        fresh.keep();
        meter.finish();
    } catch (...) {
        rollback_quietly(*db);
        throw;
    }
}

// The tutorial's methods read the whole sheet first, as it does (excelize's GetRows).
std::vector<business> read_all(const import_options& opt,
                               const std::function<void(const progress&)>& on_progress,
                               import_stats& st) {
    sheet sh = open_sheet(opt);
    progress_meter meter(on_progress, nullptr);
    std::vector<business> rows;
    sheet_row r;
    while (sh.reader.next(r)) {
        meter.row_read(sh.reader);
        auto c = check(sh.header, opt.required, r);
        count(opt, st, c);
        if (c.what == checked_row::kind::valid) rows.push_back(std::move(c.record));
    }
    meter.finish();
    return rows;
}

// Runs `work(connection&, begin, end)` over [0, n) in chunks of `chunk` on a worker pool; each
// task borrows one of `workers` connections from a channel and gives it back. The first error
// cancels the rest and is rethrown once the pool is drained.
template <class Work>
void run_pooled(const weft::context& parent, const import_options& opt, std::size_t n,
                std::size_t chunk, std::uint64_t rows_read, std::atomic<std::uint64_t>& written,
                const std::function<void(const progress&)>& on_progress, Work work) {
    const unsigned workers = worker_count(opt);
    weft::channel<std::unique_ptr<connection>> idle(workers);
    for (unsigned i = 0; i < workers; ++i) (void)idle.try_send(connect(opt.db_url, db_options()));

    auto child = weft::with_cancel_cause(parent);
    const weft::context& ctx = child.ctx;
    {
        weft::worker_pool_options po;
        po.workers = workers;
        po.queue_capacity = 2 * workers;
        po.on_error = [c = child.cancel](std::exception_ptr e) { c(std::move(e)); };
        progress_meter meter(on_progress, &written, rows_read);
        weft::worker_pool pool(std::move(po));
        for (std::size_t begin = 0; begin < n && !ctx.err(); begin += chunk) {
            const std::size_t end = std::min(n, begin + chunk);
            auto posted = pool.post(ctx, [&, begin, end] {
                if (ctx.err()) return;
                auto c = idle.receive(ctx);
                if (!c) return;
                auto conn = std::move(*c);
                try {
                    const auto gate = commit_section(opt);
                    work(*conn, begin, end);
                    written.fetch_add(end - begin, std::memory_order_relaxed);
                } catch (...) {
                    (void)idle.try_send(std::move(conn));
                    throw;
                }
                (void)idle.try_send(std::move(conn));
                meter.wrote(true);
            });
            if (!posted) break;  // canceled: the cause is reported below
        }
        pool.shutdown();
    }
    throw_if_canceled(ctx);
}

void write_all(const weft::context& ctx, const import_options& opt,
               const std::function<void(const progress&)>& on_progress,
               const std::vector<business>& rows, std::uint64_t rows_read,
               std::atomic<std::uint64_t>& written) {
    auto db = connect(opt.db_url, db_options());
    db->create_schema();
    const std::span<const business> all(rows);
    switch (opt.method) {
        case method::sequential: {
            progress_meter meter(on_progress, &written, rows_read);
            for (const auto& b : rows) {
                throw_if_canceled(ctx);
                {
                    const auto gate = commit_section(opt);
                    db->insert_one(b);  // commits on its own
                    written.fetch_add(1, std::memory_order_relaxed);
                }
                meter.wrote(true);
            }
            break;
        }
        case method::concurrent:
            run_pooled(ctx, opt, rows.size(), 1, rows_read, written, on_progress,
                       [all](connection& c, std::size_t i, std::size_t) { c.insert_one(all[i]); });
            break;
        case method::batch:
            run_pooled(ctx, opt, rows.size(), opt.batch_size ? opt.batch_size : 100, rows_read,
                       written, on_progress, [all](connection& c, std::size_t b, std::size_t e) {
                           c.begin();
                           try {
                               c.insert_many(all.subspan(b, e - b));
                               c.commit();
                           } catch (...) {
                               rollback_quietly(c);
                               throw;
                           }
                       });
            break;
        case method::pipeline: break;
    }
}

// The message of the exception `e`, for partial_import_error::what().
std::string message_of(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::bad_alloc&) {
        return "out of memory (std::bad_alloc)";
    } catch (const std::exception& x) { return x.what(); } catch (...) {
        return "unknown exception";
    }
}

// `written` counts rows whose transaction has committed: each method adds to it only after
// its commit returned, so on a failure it is what stays in the table.
void run_tutorial(const weft::context& ctx, const import_options& opt,
                  const std::function<void(const progress&)>& on_progress, import_stats& st,
                  clock::time_point t0) {
    (void)check_url(opt.db_url);  // a bad URL is found before the file is read
    const std::vector<business> rows = read_all(opt, on_progress, st);
    throw_if_canceled(ctx);
    if (opt.before_commit) opt.before_commit();  // every rejected row is known by now

    std::atomic<std::uint64_t> local{0};
    std::atomic<std::uint64_t>& written = opt.committed ? *opt.committed : local;
    const std::uint64_t rows_read = st.total_records + st.skipped_blank;
    try {
        write_all(ctx, opt, on_progress, rows, rows_read, written);
    } catch (...) {
        st.success_count = written.load(std::memory_order_relaxed);
        if (st.success_count == 0) throw;
        st.duration = clock::now() - t0;
        auto cause = std::current_exception();
        throw partial_import_error(cause, message_of(cause), std::move(st));
    }
    st.success_count = written.load(std::memory_order_relaxed);
    progress_meter(on_progress, &written, rows_read).finish();
}

}  // namespace

import_stats run_import(const weft::context& ctx, const import_options& opt,
                        const std::function<void(const progress&)>& on_progress) {
    import_stats st;
    st.method = std::string(method_name(opt.method));
    st.file = opt.file.string();
    const auto t0 = clock::now();
    if (opt.method == method::pipeline)
        run_pipeline(ctx, opt, on_progress, st);
    else
        run_tutorial(ctx, opt, on_progress, st, t0);
    st.duration = clock::now() - t0;
    return st;
}

}  // namespace weft_import
