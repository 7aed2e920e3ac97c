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
// file writes nothing with them either.
#pragma once

#include "record.hpp"
#include "xlsx_reader.hpp"

#include <weft/context.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
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
    std::string sheet;                        // empty: Sheet1, else the first worksheet
    unsigned workers = 0;                     // 0: one per hardware thread (at least 2)
    std::size_t batch_size = 0;               // 0: 100 for `batch`, 1000 for `pipeline`
    std::chrono::milliseconds max_wait{100};  // pipeline: a partial batch is written after this
    std::vector<field> required;
    weft_import::limits limits;
    // Every rejected row, in sheet order, as it is found (from one thread at a time), so a
    // caller can stream them out: import_stats keeps only the first `rejects_kept`, and memory
    // does not grow with the sheet.
    std::function<void(const rejected_row&)> on_reject;
    std::size_t rejects_kept = 1000;
};

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

// Throws url_error (before anything is read or opened), file_error (the file is rejected;
// nothing written), db_error, or the cause of `ctx`'s cancellation. With `pipeline` nothing is
// written unless it returns; the tutorial's methods keep the rows they committed before a
// database error or a cancellation. `on_progress` is called from the
// engine's threads, at most every ~50 ms, never concurrently with itself.
import_stats run_import(const weft::context& ctx, const import_options& opt,
                        const std::function<void(const progress&)>& on_progress = {});

}  // namespace weft_import
