// What weft-import prints about an import: the summary table, the --json object, and the
// rejected rows streamed to the --rejects CSV file (and, for --json, to a temporary file) as
// the engine finds them. JSON is written with Boost.JSON, one small value at a time, so memory
// does not grow with the rejected rows.
//
// Every write is checked: a failure throws report_error with the file and strerror(errno), and
// reject_sink::finish() (the engine's before_commit hook) flushes and fsyncs the CSV file, so a
// full disk is found before the import commits, never after.
#pragma once

#include "engine.hpp"

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>

namespace weft_import::cli {

// A report (the --rejects file, the --json temporary file, stdout) could not be written.
class report_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// "1,234,567".
std::string thousands(std::uint64_t n);

// Where rejected rows go as the engine finds them. Both files are opened before the import, so
// a path that cannot be opened is found before anything is read (open_error: a usage error).
// An import that fails removes the CSV file again, unless it was not a regular file of ours
// (a device such as /dev/stdout, or a pipe).
class reject_sink {
public:
    class open_error : public std::runtime_error {
    public:
        using std::runtime_error::runtime_error;
    };
    reject_sink(std::string csv_path, bool json);
    reject_sink(const reject_sink&) = delete;
    reject_sink& operator=(const reject_sink&) = delete;
    ~reject_sink();

    void operator()(const rejected_row& r);  // throws report_error
    // Every rejected row has been passed: the CSV file is flushed to the disk and closed.
    // Throws report_error; the import then rolls back.
    void finish();
    // The import failed: the CSV file is closed and removed (if it is ours).
    void discard() noexcept;
    std::FILE* json() const { return json_; }

private:
    std::string csv_path_;
    std::FILE* csv_ = nullptr;
    bool csv_removable_ = false;
    std::FILE* json_ = nullptr;
};

// The stats as one JSON object on stdout, on one line; the rejected rows are copied from the
// sink's temporary file. `error` non-empty: the import failed after rows were committed, and
// the object says so ("error"), success_count counting the committed rows. Throws report_error.
void print_json(const import_stats& st, const reject_sink& rejects, std::string_view error = {});

// The summary table on stdout. Throws report_error.
void print_summary(const import_stats& st, std::string_view db_kind);

}  // namespace weft_import::cli
