// The import engine: one workbook into one database by one of four methods. A module of its own
// (no printing, no exit codes) so that the CLI and, later, a service can drive it: progress
// arrives through a callback, cancellation through a weft::context.
//
//   pipeline    streaming read -> validate (parallel) -> batch(size, max_wait) -> one writer, in
//               one transaction: all or nothing.
//   batch       the tutorial's third method: the sheet read whole, batches of `batch_size` over a
//               worker pool, one transaction per batch.
//   concurrent  the tutorial's second: a worker pool, one INSERT (and transaction) per row.
//   sequential  the tutorial's first: one INSERT per row, one after another.
// The three tutorial methods read the whole sheet first, as the tutorial does, so a rejected
// file writes nothing with them either; they then commit as they go, and a failure after a
// commit is reported as partial_import_error, with the count of the rows that stay.
//
// Memory: `pipeline` holds at most max_bytes_in_flight bytes of rows (plus one chunk) between
// the reader and the database, and at most a few chunks of <= 256 rows per stage, whatever the
// sheet's length: when the database is slower than the reader, the reader waits. The tutorial
// methods hold the whole sheet, as the tutorial does.
#pragma once

#include "record.hpp"
#include "xlsx_reader.hpp"

#include <weft/context.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace weft_import {

enum class method { pipeline, batch, concurrent, sequential };
std::string_view method_name(method m);

struct import_options {
    std::filesystem::path file;
    std::string db_url = "sqlite:businesses.db";
    weft_import::method method = method::pipeline;
    std::string sheet;           // empty: Sheet1, else the first worksheet
    unsigned workers = 0;        // 0: one per hardware thread (at least 2); capped at max_workers()
    std::size_t batch_size = 0;  // 0: 100 for `batch`, 1000 for `pipeline`
    std::chrono::milliseconds max_wait{100};  // pipeline: a partial batch is written after this
    std::vector<field> required;
    weft_import::limits limits;
    // Every rejected row, in sheet order, as it is found (from one thread at a time), so a
    // caller can stream them out: import_stats keeps only the first `rejects_kept`, and memory
    // does not grow with the sheet.
    std::function<void(const rejected_row&)> on_reject;
    std::size_t rejects_kept = 1000;
    // Called once every rejected row has been passed to on_reject and before anything is
    // committed: pipeline calls it before its one commit, the tutorial's methods after reading
    // the sheet and before connecting. An exception from it aborts the import, nothing written
    // (a report that cannot be completed must not follow a commit).
    std::function<void()> before_commit;
    // pipeline: the rows between the reader and the database, counted as the bytes their text
    // and bookkeeping take, are kept under this; the reader waits while it is reached.
    std::size_t max_bytes_in_flight = std::size_t{16} << 20;
    // If set (to 0 by the caller), the rows committed so far, for a caller that must tell
    // them from another thread (a signal that ends the process at once): pipeline stores its
    // count after its commit, the tutorial's methods add to it after each of theirs (relaxed:
    // the gate below orders it).
    std::atomic<std::uint64_t>* committed = nullptr;
    // If set, every commit holds it shared from before it starts until `committed` counts its
    // rows. A caller that ends the process locks it exclusively first: then no commit is in
    // progress and none can start, so `committed` is exactly what stays in the database (a
    // process that died between a commit and its count would otherwise report too few rows,
    // or none).
    std::shared_mutex* commit_gate = nullptr;
};

// The most threads (pipeline) or connections (pool methods) an import uses: 4 per hardware
// thread, at least 8. More only costs memory and address space (each thread has a stack and
// may get a malloc arena), and with a limit on either it is how an import dies.
unsigned max_workers();

struct progress {
    std::uint64_t rows_read = 0;  // data rows read so far
    std::uint64_t rows_written = 0;
    double fraction_read = 0;  // of the sheet part
};

struct import_stats {
    std::string method;
    std::string file;
    std::uint64_t total_records = 0;  // data rows that were not blank
    std::uint64_t success_count = 0;  // written
    std::uint64_t error_count = 0;    // rejected
    std::uint64_t skipped_blank = 0;
    std::chrono::nanoseconds duration{};
    std::vector<rejected_row> rejected;  // the first import_options::rejects_kept, in sheet order
    double records_per_second() const;
};

// A tutorial method stopped after it had committed rows: those rows stay in the table.
// stats().success_count counts them; what() is the message of cause(), the exception that
// stopped the import (a db_error, the context's cause, std::bad_alloc, ...).
class partial_import_error : public std::runtime_error {
public:
    partial_import_error(std::exception_ptr cause, std::string what, import_stats stats)
        : std::runtime_error(std::move(what)), cause_(std::move(cause)), stats_(std::move(stats)) {}
    std::exception_ptr cause() const noexcept { return cause_; }
    const import_stats& stats() const noexcept { return stats_; }

private:
    std::exception_ptr cause_;
    import_stats stats_;
};

// Throws url_error (before anything is read or opened), file_error (the file is rejected;
// nothing written), db_error, what before_commit or on_reject threw, resource exhaustion
// (std::bad_alloc, std::system_error from creating a thread), or the cause of `ctx`'s
// cancellation: then nothing was written. With `pipeline` nothing is ever written unless it
// returns. The tutorial's methods throw partial_import_error instead once they have committed
// rows. `on_progress` is called from the engine's threads (the reader's and the writer's, so
// it moves while either does), at most every ~50 ms, never concurrently with itself.
import_stats run_import(const weft::context& ctx, const import_options& opt,
                        const std::function<void(const progress&)>& on_progress = {});

}  // namespace weft_import
