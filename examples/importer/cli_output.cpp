// The CLI's reports (cli_output.hpp).
//
// Invariants:
// - A write that fails is reported at once, with errno captured right after the failing call
//   (later calls may change it), and the sink is then unusable: every later row throws too.
// - The CSV file's bytes reach the disk (fsync) before finish() returns; fsync is skipped for
//   what is not a regular file (a device or a pipe has no disk to reach, and fails EINVAL).
#include "cli_output.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>

namespace weft_import::cli {
namespace {

namespace json = boost::json;

[[noreturn]] void fail(const std::string& what, int err) {
    throw report_error(what + ": " + std::strerror(err));
}

void put(std::FILE* f, std::string_view s, const std::string& what) {
    if (s.empty()) return;
    if (std::fwrite(s.data(), 1, s.size(), f) != s.size()) fail(what, errno ? errno : EIO);
}

// "key":value, with Boost.JSON doing the escaping.
std::string member(std::string_view key, const json::value& v) {
    std::string out = json::serialize(json::string_view(key.data(), key.size()));
    out += ':';
    out += json::serialize(v);
    return out;
}

std::string csv_what(const std::string& path) { return "--rejects: writing '" + path + "' failed"; }
const std::string json_what = "--json: writing a temporary file failed";
const std::string stdout_what = "writing the report to stdout failed";

}  // namespace

std::string thousands(std::uint64_t n) {
    const std::string digits = std::to_string(n);
    std::string s;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0) s += ',';
        s += digits[i];
    }
    return s;
}

reject_sink::reject_sink(std::string csv_path, bool json) : csv_path_(std::move(csv_path)) {
    if (!csv_path_.empty()) {
        struct stat sb{};
        const bool existed = ::stat(csv_path_.c_str(), &sb) == 0;
        csv_ = std::fopen(csv_path_.c_str(), "wb");
        if (!csv_)
            throw open_error("--rejects: cannot write '" + csv_path_ +
                             "': " + std::strerror(errno));
        csv_removable_ = !existed || S_ISREG(sb.st_mode);
        put(csv_, "row,reason\r\n", csv_what(csv_path_));
    }
    if (json) {
        json_ = std::tmpfile();
        if (!json_)
            throw report_error("--json: cannot create a temporary file: " +
                               std::string(std::strerror(errno)));
    }
}

reject_sink::~reject_sink() {
    if (csv_) std::fclose(csv_);
    if (json_) std::fclose(json_);
}

void reject_sink::operator()(const rejected_row& r) {
    if (csv_) {
        std::string line = std::to_string(r.row);
        line += ',';
        line += csv_field(r.reason);
        line += "\r\n";
        put(csv_, line, csv_what(csv_path_));
    }
    if (json_) {
        json::object o;
        o["row"] = r.row;
        o["reason"] = r.reason;
        std::string item(1, ',');
        item += json::serialize(o);
        put(json_, item, json_what);
    }
}

void reject_sink::finish() {
    if (json_ && std::fflush(json_) != 0) fail(json_what, errno);
    if (!csv_) return;
    const std::string what = csv_what(csv_path_);
    if (std::fflush(csv_) != 0) fail(what, errno);
    struct stat sb{};
    if (::fstat(fileno(csv_), &sb) == 0 && S_ISREG(sb.st_mode) && ::fsync(fileno(csv_)) != 0)
        fail(what, errno);
    std::FILE* f = csv_;
    csv_ = nullptr;
    if (std::fclose(f) != 0) fail(what, errno);
}

void reject_sink::discard() noexcept {
    if (!csv_) return;
    std::fclose(csv_);
    csv_ = nullptr;
    if (csv_removable_) std::remove(csv_path_.c_str());
}

void print_json(const import_stats& st, const reject_sink& rejects, std::string_view error) {
    const auto ms = std::chrono::duration<double, std::milli>(st.duration).count();
    // One member at a time, appended: GCC 12 warns (-Wrestrict, falsely) on "," + string&&.
    std::string out = "{";
    const auto add = [&out](std::string_view key, const json::value& v) {
        if (out.size() > 1) out += ',';
        out += member(key, v);
    };
    add("method", json::string(st.method));
    add("file", json::string(st.file));
    add("total_records", st.total_records);
    add("success_count", st.success_count);
    add("error_count", st.error_count);
    add("duration_ms", std::llround(ms));
    add("records_per_second", std::llround(st.records_per_second()));
    if (!error.empty()) add("error", json::string(error));
    out += ",\"rejected\":[";
    put(stdout, out, stdout_what);
    if (std::FILE* items = rejects.json()) {
        std::rewind(items);
        char buf[65536];
        bool first = true;  // the items are ",{...}": the first comma goes
        for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, items)) > 0; first = false)
            put(stdout, std::string_view(buf + (first ? 1 : 0), n - (first ? 1 : 0)), stdout_what);
        if (std::ferror(items)) fail("--json: reading the temporary file failed", errno);
    }
    put(stdout, "]}\n", stdout_what);
    if (std::fflush(stdout) != 0) fail(stdout_what, errno);
}

void print_summary(const import_stats& st, std::string_view db_kind) {
    const auto ms = std::chrono::duration<double, std::milli>(st.duration).count();
    std::string out;
    const auto line = [&out](const char* label, const std::string& value) {
        char head[32];
        std::snprintf(head, sizeof head, "%-20s ", label);
        out += head + value + "\n";
    };
    line("file", st.file);
    line("method", st.method + " into " + std::string(db_kind));
    line("records", thousands(st.total_records));
    line("imported", thousands(st.success_count));
    line("rejected", thousands(st.error_count));
    if (st.skipped_blank) line("blank rows skipped", thousands(st.skipped_blank));
    line("duration", std::to_string(std::llround(ms)) + " ms");
    line("records/s", thousands(static_cast<std::uint64_t>(std::llround(st.records_per_second()))));
    const std::size_t shown = std::min<std::size_t>(st.rejected.size(), 10);
    for (std::size_t i = 0; i < shown; ++i)
        out += "  row " + std::to_string(st.rejected[i].row) + ": " + st.rejected[i].reason + "\n";
    if (st.error_count > shown)
        out += "  ... and " + thousands(st.error_count - shown) +
               " more (--rejects FILE.csv lists them all)\n";
    put(stdout, out, stdout_what);
    if (std::fflush(stdout) != 0) fail(stdout_what, errno);
}

}  // namespace weft_import::cli
