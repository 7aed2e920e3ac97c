// End-to-end tests of `weft-import serve` (serve.hpp): the binary runs as a child process on a
// free port, and the test talks HTTP to it with a small socket client of its own (every read and
// write under a deadline) and with curl, as the tutorial does. It asserts statuses, the JSON
// answers, and what the database holds afterwards, read with the importer's own connect().
// This file's name makes CMake and Meson run it under scripts/with-postgres.sh; without
// WEFT_TEST_PG_URL the PostgreSQL cases are skipped with a message.
#include "database.hpp"
#include "generate.hpp"
#include "importer_support.hpp"
#include "process.hpp"

#include "../../../tests/support.hpp"

#include <doctest/doctest.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using importer_test::child;
using importer_test::run_importer;
using importer_test::run_result;
using importer_test::temp_dir;
using steady = std::chrono::steady_clock;

namespace {

// ---- the HTTP client -----------------------------------------------------------------------

struct response {
    int status = 0;
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;

    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
    json::object json() const {
        json::value v = json::parse(body);
        REQUIRE(v.is_object());
        return v.as_object();
    }
};

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// One connection to 127.0.0.1:port. Every operation waits at most until the connection's
// deadline (a server that never answers is a failed test, not a hung one).
class client {
public:
    explicit client(unsigned short port, std::chrono::seconds limit = 60s)
        : deadline_(steady::now() + limit) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
            REQUIRE(errno == EINPROGRESS);
            REQUIRE(wait_for(POLLOUT));
            int err = 0;
            socklen_t len = sizeof err;
            ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
            INFO("connect: " << std::strerror(err));
            REQUIRE(err == 0);
        }
    }
    client(const client&) = delete;
    client& operator=(const client&) = delete;
    ~client() { close(); }

    void close() {
        if (fd_ >= 0) ::close(std::exchange(fd_, -1));
    }

    // Sends all of `bytes`; false if the server closed or reset the connection first.
    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n > 0) {
                bytes.remove_prefix(static_cast<std::size_t>(n));
            } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                REQUIRE_MESSAGE(wait_for(POLLOUT), "the server stopped reading");
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else {
                return false;  // EPIPE, ECONNRESET: the server closed
            }
        }
        return true;
    }

    // Whether the server sent something (or closed) within `limit`.
    bool readable(std::chrono::milliseconds limit) {
        pollfd p{fd_, POLLIN, 0};
        return ::poll(&p, 1, static_cast<int>(limit.count())) > 0;
    }

    // The next response (a 1xx one included): Content-Length bodies, or up to the close; none
    // for a HEAD request.
    response read_response(bool to_head = false) {
        std::size_t end;
        while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
            REQUIRE_MESSAGE(fill(), "the connection closed before a response header: " << buf_);
        response r;
        std::istringstream head(buf_.substr(0, end));
        buf_.erase(0, end + 4);
        std::string line;
        std::getline(head, line);
        REQUIRE(line.starts_with("HTTP/1.1 "));
        r.status = std::stoi(line.substr(9, 3));
        while (std::getline(head, line)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            const auto colon = line.find(':');
            if (colon == std::string::npos) continue;
            std::string v = line.substr(colon + 1);
            v.erase(0, v.find_first_not_of(' '));
            r.headers[lower(line.substr(0, colon))] = v;
        }
        REQUIRE(r.header("transfer-encoding").empty());  // the server never chunks
        if (to_head || r.status / 100 == 1 || r.status == 204 || r.status == 304) return r;
        if (auto cl = r.header("content-length"); !cl.empty()) {
            const auto n = std::stoull(cl);
            while (buf_.size() < n) REQUIRE_MESSAGE(fill(), "the body was cut short");
            r.body = buf_.substr(0, n);
            buf_.erase(0, n);
        } else {
            while (fill()) {}
            r.body = std::exchange(buf_, {});
        }
        return r;
    }

    // Reads (and drops) until the server closes; false if it has not within `limit`.
    bool closed_within(std::chrono::milliseconds limit) {
        const auto end = steady::now() + limit;
        for (;;) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(end - steady::now());
            if (left.count() <= 0) return false;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            char b[4096];
            const ssize_t n = ::recv(fd_, b, sizeof b, 0);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return true;
            if (n > 0) received_after_.append(b, static_cast<std::size_t>(n));
        }
    }
    const std::string& received() const { return received_after_; }

private:
    bool wait_for(short events) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - steady::now());
        if (left.count() <= 0) return false;
        pollfd p{fd_, events, 0};
        return ::poll(&p, 1, static_cast<int>(left.count())) > 0;
    }
    // More bytes into buf_; false at the end of the stream (or a reset).
    bool fill() {
        for (;;) {
            char b[65536];
            const ssize_t n = ::recv(fd_, b, sizeof b, 0);
            if (n > 0) {
                buf_.append(b, static_cast<std::size_t>(n));
                return true;
            }
            if (n == 0) return false;
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
            REQUIRE_MESSAGE(wait_for(POLLIN), "no answer from the server in time");
        }
    }

    int fd_ = -1;
    steady::time_point deadline_;
    std::string buf_;
    std::string received_after_;
};

using header_list = std::vector<std::pair<std::string, std::string>>;

std::string request_text(const std::string& method, const std::string& target,
                         const std::string& body, const header_list& headers = {},
                         bool with_length = true) {
    std::string r = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& [k, v] : headers) r += k + ": " + v + "\r\n";
    if (with_length && (!body.empty() || method == "POST"))
        r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    return r + "\r\n" + body;
}

response request(unsigned short port, const std::string& method, const std::string& target,
                 const std::string& body = {}, const header_list& headers = {}) {
    client c(port);
    (void)c.send(request_text(method, target, body, headers));
    return c.read_response();
}

response get(unsigned short port, const std::string& target, const header_list& headers = {}) {
    return request(port, "GET", target, {}, headers);
}

struct part {
    std::string name;
    std::string filename;
    std::string content;
};

const std::string boundary = "----weft-test-boundary-7f3a";

std::string multipart_body(const std::vector<part>& parts) {
    std::string b;
    for (const auto& p : parts) {
        b += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + p.name + "\"";
        if (!p.filename.empty()) b += "; filename=\"" + p.filename + "\"";
        b += "\r\nContent-Type: application/octet-stream\r\n\r\n" + p.content + "\r\n";
    }
    return b + "--" + boundary + "--\r\n";
}

const header_list multipart_type = {{"Content-Type", "multipart/form-data; boundary=" + boundary}};
const header_list raw_type = {{"Content-Type", "application/octet-stream"}};

response upload_multipart(unsigned short port, const std::string& query, const std::string& content,
                          const std::string& filename = "book.xlsx") {
    return request(port, "POST", "/upload" + query, multipart_body({{"file", filename, content}}),
                   multipart_type);
}

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    REQUIRE(f);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// ---- the server ----------------------------------------------------------------------------

// `weft-import serve --listen 127.0.0.1:0 ARGS...`, up once it printed its address.
class server {
public:
    explicit server(const std::vector<std::string>& args) : proc_(command(args)) {
        const std::string marker = "weft-import serve: listening on http://127.0.0.1:";
        const std::string& out = proc_.wait_for_output(marker, 60s);
        const auto at = out.find(marker);
        if (at == std::string::npos || out.find('\n', at) == std::string::npos) {
            run_result r = proc_.wait(10s);
            FAIL("the server did not start: " << r.out << r.err);
        }
        port = static_cast<unsigned short>(std::stoul(out.substr(at + marker.size())));
    }

    // SIGTERM (or `sig`), then the exit: status, output.
    run_result stop(int sig = SIGTERM) {
        proc_.kill(sig);
        return proc_.wait(60s);
    }
    void signal(int sig) { proc_.kill(sig); }
    run_result wait() { return proc_.wait(60s); }

    unsigned short port = 0;

private:
    static std::vector<std::string> command(const std::vector<std::string>& args) {
        std::vector<std::string> c = {importer_test::importer_exe(), "serve", "--listen",
                                      "127.0.0.1:0"};
        c.insert(c.end(), args.begin(), args.end());
        return c;
    }
    child proc_;
};

void stop_cleanly(server& s) {
    const run_result r = s.stop();
    INFO(r.err);
    CHECK(r.status == 0);
}

// A value of the Prometheus text: the line "NAME VALUE".
double metric(const std::string& text, const std::string& name) {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (line.starts_with(name + " ")) return std::stod(line.substr(name.size() + 1));
    FAIL("no metric " << name << " in:\n" << text);
    return 0;
}

double metric_now(unsigned short port, const std::string& name) {
    const response r = get(port, "/metrics");
    REQUIRE(r.status == 200);
    return metric(r.body, name);
}

const std::string succeeded_total = "weft_import_imports_total{outcome=\"succeeded\"}";
const std::string failed_total = "weft_import_imports_total{outcome=\"failed\"}";

// Polls `done` every 10 ms until it holds; fails the test after `limit`.
template <class F>
void eventually(const char* what, F done, std::chrono::seconds limit = 60s) {
    const auto end = steady::now() + limit;
    while (!done()) {
        if (steady::now() > end) FAIL("timed out waiting for " << what);
        std::this_thread::sleep_for(10ms);
    }
}

// ---- workbooks and databases ---------------------------------------------------------------

// A workbook made by `weft-import generate`, and what an import of it must report.
struct workbook {
    std::string path;
    std::uint64_t rows = 0;
    std::uint64_t valid = 0;
    std::vector<std::uint64_t> invalid_rows;  // sheet row numbers (the header is row 1)
};

workbook make_workbook(const temp_dir& dir, const std::string& name, std::uint64_t rows,
                       std::uint64_t seed, double invalid_rate) {
    workbook w;
    w.path = dir / name;
    w.rows = rows;
    std::ostringstream rate;
    rate << invalid_rate;
    const run_result r =
        run_importer({"generate", "--rows", std::to_string(rows), "--seed", std::to_string(seed),
                      "--invalid-rate", rate.str(), "--quiet", w.path});
    INFO(r.err);
    REQUIRE(r.status == 0);
    weft_import::generate_options g;
    g.rows = rows;
    g.seed = seed;
    g.invalid_rate = invalid_rate;
    for (std::uint64_t i = 0; i < rows; ++i) {
        if (weft_import::generate_row(g, i).invalid)
            w.invalid_rows.push_back(i + 2);
        else
            ++w.valid;
    }
    return w;
}

// The long import of the shutdown and cancel cases: big enough to be caught running.
const workbook& big_workbook() {
    static temp_dir dir;
    static const workbook w =
        make_workbook(dir, "big.xlsx", WEFT_TEST_SANITIZED ? 40'000 : 100'000, 3, 0.01);
    return w;
}

std::string pg_url() {
    const char* u = std::getenv("WEFT_TEST_PG_URL");
    return u ? u : "";
}

// The databases a case runs against: SQLite, and PostgreSQL (its table dropped) when the run
// has one.
std::vector<std::string> databases(const temp_dir& dir, const std::string& name) {
    std::vector<std::string> out = {"sqlite:" + dir / (name + ".db")};
    if (pg_url().empty()) {
        MESSAGE("WEFT_TEST_PG_URL is not set: the PostgreSQL case is skipped");
    } else {
        weft_import::connect(pg_url())->drop_table();
        out.push_back(pg_url());
    }
    return out;
}

// The rows of the table; 0 when there is no table (or no SQLite file: none is created here).
std::int64_t rows_in(const std::string& url) {
    if (url.starts_with("sqlite:") && !fs::exists(url.substr(7))) return 0;
    try {
        return weft_import::connect(url)->count();
    } catch (const weft_import::db_error& e) {
        const std::string what = e.what();
        if (what.find("no such table") != std::string::npos ||
            what.find("does not exist") != std::string::npos)
            return 0;
        throw;
    }
}

// curl, if the machine has it (scripts/setup-debian.sh installs it).
std::string curl_exe() {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path ? path : "/usr/bin:/bin");
    for (std::string d; std::getline(dirs, d, ':');)
        if (!d.empty() && ::access((d + "/curl").c_str(), X_OK) == 0) return d + "/curl";
    return {};
}

// curl ARGS... URL: the status and the body.
response curl(const std::vector<std::string>& args) {
    std::vector<std::string> cmd = {curl_exe(), "-sS", "--max-time", "60", "-w", "\n%{http_code}"};
    cmd.insert(cmd.end(), args.begin(), args.end());
    child c(cmd);
    const run_result r = c.wait(90s);
    INFO(r.err);
    REQUIRE(r.status == 0);
    const auto nl = r.out.rfind('\n');
    REQUIRE(nl != std::string::npos);
    response out;
    out.status = std::stoi(r.out.substr(nl + 1));
    out.body = r.out.substr(0, nl);
    return out;
}

std::int64_t as_int(const json::object& o, const char* key) {
    INFO(key);
    REQUIRE(o.contains(key));
    return o.at(key).to_number<std::int64_t>();
}

std::string as_string(const json::object& o, const char* key) {
    INFO(key);
    REQUIRE(o.contains(key));
    REQUIRE(o.at(key).is_string());
    return std::string(o.at(key).as_string());
}

// The answer of a successful import of `w` by `method`, and its rejects.csv.
void check_result(unsigned short port, const response& r, const workbook& w,
                  const std::string& method) {
    INFO(r.body);
    REQUIRE(r.status == 200);
    const json::object o = r.json();
    CHECK(as_string(o, "method") == method);
    CHECK(as_string(o, "status") == "succeeded");
    CHECK(as_int(o, "total_records") == static_cast<std::int64_t>(w.rows));
    CHECK(as_int(o, "success_count") == static_cast<std::int64_t>(w.valid));
    CHECK(as_int(o, "error_count") == static_cast<std::int64_t>(w.invalid_rows.size()));
    CHECK(as_int(o, "duration_ms") >= 0);
    CHECK(as_int(o, "records_per_second") >= 0);
    const std::string id = as_string(o, "id");
    CHECK(id.size() == 16);
    CHECK(as_string(o, "rejects_url") == "/imports/" + id + "/rejects.csv");
    REQUIRE(o.at("rejected").is_array());
    const auto& rejected = o.at("rejected").as_array();
    CHECK(rejected.size() == std::min<std::size_t>(w.invalid_rows.size(), 100));
    for (std::size_t i = 0; i < rejected.size(); ++i)
        CHECK(rejected[i].at("row").to_number<std::uint64_t>() == w.invalid_rows[i]);

    const response csv = get(port, as_string(o, "rejects_url"));
    REQUIRE(csv.status == 200);
    CHECK(csv.header("content-type").starts_with("text/csv"));
    std::vector<std::string> lines;
    std::istringstream in(csv.body);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    REQUIRE(lines.size() == w.invalid_rows.size() + 1);
    CHECK(lines[0] == "row,reason\r");
    for (std::size_t i = 0; i < w.invalid_rows.size(); ++i)
        CHECK(lines[i + 1].starts_with(std::to_string(w.invalid_rows[i]) + ","));

    const response status = get(port, "/imports/" + id);
    REQUIRE(status.status == 200);
    const json::object s = status.json();
    CHECK(as_string(s, "state") == "succeeded");
    CHECK(as_int(s, "http_status") == 200);
    CHECK(as_int(s.at("result").as_object(), "success_count") ==
          static_cast<std::int64_t>(w.valid));
}

std::string error_of(const response& r) {
    INFO(r.body);
    return as_string(r.json(), "error");
}

// A request that is sent, then left waiting for its answer. `sent` is false when the server
// answered and closed before it had read all of it (a refusal from the header alone).
struct pending {
    explicit pending(unsigned short port, const std::string& text) : c(port), sent(c.send(text)) {}
    client c;
    bool sent;
};

}  // namespace

TEST_CASE("serve: every method by curl -F, multipart and raw bodies; results, rejects, rows") {
    WEFT_WATCHDOG(std::chrono::seconds(300));
    temp_dir dir;
    const workbook w = make_workbook(dir, "book.xlsx", 1500, 11, 0.05);
    REQUIRE(!w.invalid_rows.empty());
    const std::string bytes = read_file(w.path);
    const bool have_curl = !curl_exe().empty();
    if (!have_curl) MESSAGE("curl not found: the uploads go through the test's client only");

    for (const auto& db : databases(dir, "methods")) {
        CAPTURE(db);
        server s({"--db", db});
        const std::string base = "http://127.0.0.1:" + std::to_string(s.port);
        std::int64_t expected = 0;
        for (const std::string m : {"pipeline", "batch", "concurrent", "sequential"}) {
            CAPTURE(m);
            // The tutorial's line: curl -F file=@x.xlsx "http://.../upload?method=batch".
            const response r = have_curl
                                   ? curl({"-F", "file=@" + w.path, base + "/upload?method=" + m})
                                   : upload_multipart(s.port, "?method=" + m, bytes);
            check_result(s.port, r, w, m);
            if (have_curl) CHECK(as_string(r.json(), "file") == "book.xlsx");
            expected += static_cast<std::int64_t>(w.valid);
            CHECK(rows_in(db) == expected);
        }
        // The test's own multipart (default method: pipeline), with a second, ignored part.
        {
            const response r = request(
                s.port, "POST", "/upload",
                multipart_body({{"note", "", "ignored"}, {"file", "from client.xlsx", bytes}}),
                multipart_type);
            check_result(s.port, r, w, "pipeline");
            CHECK(as_string(r.json(), "file") == "from client.xlsx");
            expected += static_cast<std::int64_t>(w.valid);
        }
        // The raw workbook as the body, under either type a client may give it.
        for (const auto& type : {std::string("application/octet-stream"),
                                 std::string("application/vnd.openxmlformats-officedocument."
                                             "spreadsheetml.sheet")}) {
            const response r =
                request(s.port, "POST", "/upload?method=batch", bytes, {{"Content-Type", type}});
            check_result(s.port, r, w, "batch");
            CHECK(as_string(r.json(), "file") == "upload.xlsx");
            expected += static_cast<std::int64_t>(w.valid);
        }
        CHECK(rows_in(db) == expected);
        stop_cleanly(s);
        CHECK(rows_in(db) == expected);
    }
}

TEST_CASE("serve: async upload, status, events, health, metrics, the page") {
    WEFT_WATCHDOG(std::chrono::seconds(180));
    temp_dir dir;
    const workbook w = make_workbook(dir, "book.xlsx", 3000, 5, 0.02);
    const std::string bytes = read_file(w.path);
    const std::string db = "sqlite:" + dir / "async.db";
    server s({"--db", db});

    const response health = get(s.port, "/health");
    REQUIRE(health.status == 200);
    CHECK(as_string(health.json(), "status") == "healthy");
    CHECK(as_string(health.json(), "database") == "ok");

    const response page = get(s.port, "/");
    CHECK(page.status == 200);
    CHECK(page.header("content-type").starts_with("text/html"));
    CHECK(page.body.find("<form") != std::string::npos);

    const std::string before = get(s.port, "/metrics").body;

    const response accepted = upload_multipart(s.port, "?method=sequential&async=1", bytes);
    INFO(accepted.body);
    REQUIRE(accepted.status == 202);
    const std::string id = as_string(accepted.json(), "id");
    CHECK(as_string(accepted.json(), "status_url") == "/imports/" + id);
    CHECK(as_string(accepted.json(), "events_url") == "/imports/" + id + "/events");

    // The events stream: progress, then one result, then the end of the stream.
    const response events = get(s.port, "/imports/" + id + "/events");
    REQUIRE(events.status == 200);
    CHECK(events.header("content-type") == "text/event-stream");
    std::vector<std::string> kinds;
    std::string result_data;
    std::istringstream in(events.body);
    for (std::string l; std::getline(in, l);) {
        if (l.starts_with("event: ")) kinds.push_back(l.substr(7));
        if (!kinds.empty() && kinds.back() == "result" && l.starts_with("data: "))
            result_data = l.substr(6);
    }
    INFO(events.body);
    REQUIRE(kinds.size() >= 2);
    CHECK(kinds.front() == "progress");
    CHECK(kinds.back() == "result");
    CHECK(std::count(kinds.begin(), kinds.end(), "result") == 1);
    const json::object result = json::parse(result_data).as_object();
    CHECK(as_string(result, "state") == "succeeded");
    CHECK(as_int(result.at("result").as_object(), "success_count") ==
          static_cast<std::int64_t>(w.valid));

    // The status, until it says succeeded (it has, since the stream ended).
    json::object st;
    eventually("the import to succeed", [&] {
        st = get(s.port, "/imports/" + id).json();
        return as_string(st, "state") == "succeeded";
    });
    CHECK(as_int(st.at("result").as_object(), "error_count") ==
          static_cast<std::int64_t>(w.invalid_rows.size()));
    const response csv = get(s.port, "/imports/" + id + "/rejects.csv");
    CHECK(csv.status == 200);
    CHECK(static_cast<std::size_t>(std::count(csv.body.begin(), csv.body.end(), '\n')) ==
          w.invalid_rows.size() + 1);
    CHECK(rows_in(db) == static_cast<std::int64_t>(w.valid));

    // The counters moved by this one import.
    const std::string after = get(s.port, "/metrics").body;
    CHECK(metric(after, succeeded_total) == metric(before, succeeded_total) + 1);
    CHECK(metric(after, failed_total) == metric(before, failed_total));
    CHECK(metric(after, "weft_import_rows_total") ==
          metric(before, "weft_import_rows_total") + static_cast<double>(w.valid));
    CHECK(metric(after, "weft_import_rejects_total") ==
          metric(before, "weft_import_rejects_total") + static_cast<double>(w.invalid_rows.size()));
    CHECK(metric(after, "weft_import_bytes_received_total") >=
          metric(before, "weft_import_bytes_received_total") + static_cast<double>(bytes.size()));
    CHECK(metric(after, "weft_import_duration_seconds_count") ==
          metric(before, "weft_import_duration_seconds_count") + 1);
    CHECK(metric(after, "weft_import_http_requests_total") >
          metric(before, "weft_import_http_requests_total"));
    CHECK(metric(after, "weft_import_imports_running") == 0);

    // A keep-alive connection answers several requests in turn, pipelined ones too, an upload
    // among them; HEAD has GET's header and no body.
    {
        client c(s.port);
        const std::string get_health = request_text("GET", "/health", {});
        REQUIRE(c.send(get_health + request_text("HEAD", "/health", {}) +
                       request_text("POST", "/upload?method=batch", bytes, raw_type) + get_health));
        const response got = c.read_response();
        CHECK(got.status == 200);
        const response head = c.read_response(true);
        CHECK(head.status == 200);
        CHECK(head.header("content-length") == std::to_string(got.body.size()));
        const response up = c.read_response();
        CHECK(up.status == 200);
        CHECK(as_int(up.json(), "success_count") == static_cast<std::int64_t>(w.valid));
        const response again = c.read_response();
        CHECK(again.status == 200);
        CHECK(again.body == got.body);
    }
    CHECK(rows_in(db) == 2 * static_cast<std::int64_t>(w.valid));
    stop_cleanly(s);
}

TEST_CASE("serve: 503 from /health and /upload when the database cannot be reached") {
    WEFT_WATCHDOG(std::chrono::seconds(120));
    temp_dir dir;
    const workbook w = make_workbook(dir, "book.xlsx", 200, 1, 0);
    // A closed port (1 is tcpmux, never served here), and a directory that does not exist.
    for (const std::string& db :
         {std::string("postgresql://weft@127.0.0.1:1/weft?connect_timeout=5"),
          "sqlite:" + dir / "no-such-dir/x.db"}) {
        CAPTURE(db);
        server s({"--db", db});
        const response h = get(s.port, "/health");
        INFO(h.body);
        CHECK(h.status == 503);
        CHECK(as_string(h.json(), "status") == "unhealthy");
        CHECK(!as_string(h.json(), "database").empty());
        const response up = upload_multipart(s.port, "", read_file(w.path));
        INFO(up.body);
        CHECK(up.status == 503);
        CHECK(error_of(up).find("database") != std::string::npos);
        stop_cleanly(s);
    }
    // An empty SQLite file (made by hand, or left by another tool) is healthy: the first import
    // creates the table.
    std::ofstream(dir / "empty.db").flush();
    server s({"--db", "sqlite:" + dir / "empty.db"});
    const response h = get(s.port, "/health");
    INFO(h.body);
    CHECK(h.status == 200);
    CHECK(upload_multipart(s.port, "", read_file(w.path)).status == 200);
    CHECK(rows_in("sqlite:" + dir / "empty.db") == static_cast<std::int64_t>(w.valid));
    stop_cleanly(s);
}

TEST_CASE("serve: the error statuses") {
    WEFT_WATCHDOG(std::chrono::seconds(180));
    temp_dir dir;
    const workbook w = make_workbook(dir, "book.xlsx", 500, 2, 0.01);
    const std::string bytes = read_file(w.path);
    const std::string db = "sqlite:" + dir / "errors.db";
    server s({"--db", db, "--max-upload-mb", "1"});

    SUBCASE("400") {
        const response plain =
            request(s.port, "POST", "/upload", "hello", {{"Content-Type", "text/plain"}});
        CHECK(plain.status == 400);
        CHECK(error_of(plain).find("multipart/form-data") != std::string::npos);
        const response no_file =
            request(s.port, "POST", "/upload", multipart_body({{"other", "x.xlsx", bytes}}),
                    multipart_type);
        CHECK(no_file.status == 400);
        CHECK(error_of(no_file).find("no part named \"file\"") != std::string::npos);
        const response two = request(
            s.port, "POST", "/upload",
            multipart_body({{"file", "a.xlsx", bytes}, {"file", "b.xlsx", bytes}}), multipart_type);
        CHECK(two.status == 400);
        CHECK(error_of(two).find("more than one part") != std::string::npos);
        const response method = upload_multipart(s.port, "?method=fastest", bytes);
        CHECK(method.status == 400);
        CHECK(error_of(method).find("unknown method 'fastest'") != std::string::npos);
        const response no_boundary =
            request(s.port, "POST", "/upload", "x", {{"Content-Type", "multipart/form-data"}});
        CHECK(no_boundary.status == 400);
        // Cut before its closing delimiter.
        std::string cut = multipart_body({{"file", "a.xlsx", bytes}});
        cut.resize(cut.size() - boundary.size() - 8);
        const response unclosed = request(s.port, "POST", "/upload", cut, multipart_type);
        CHECK(unclosed.status == 400);
        const response empty = request(s.port, "POST", "/upload", "", raw_type);
        CHECK(empty.status == 400);
        CHECK(error_of(empty).find("empty") != std::string::npos);
        const response get_body = request(s.port, "GET", "/health", "body");
        CHECK(get_body.status == 400);
    }
    SUBCASE("404 and 405") {
        const response nope = get(s.port, "/nope");
        CHECK(nope.status == 404);
        CHECK(error_of(nope).find("no such route") != std::string::npos);
        CHECK(get(s.port, "/imports/0123456789abcdef").status == 404);
        CHECK(get(s.port, "/imports/0123456789abcdef/events").status == 404);
        const response done = upload_multipart(s.port, "", bytes);
        REQUIRE(done.status == 200);
        const std::string id = as_string(done.json(), "id");
        CHECK(get(s.port, "/imports/" + id + "/nope").status == 404);
        const response not_get = request(s.port, "GET", "/upload");
        CHECK(not_get.status == 405);
        CHECK(not_get.header("allow").find("POST") != std::string::npos);
        CHECK(request(s.port, "PUT", "/health", "x").status == 405);
        CHECK(request(s.port, "DELETE", "/imports/" + id).status == 405);
    }
    SUBCASE("413: by Content-Length, before the body; by a chunked body that grows") {
        // Expect: 100-continue: the refusal comes instead of the go-ahead, no body sent.
        {
            client c(s.port);
            REQUIRE(
                c.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: "
                       "application/octet-stream\r\nExpect: 100-continue\r\n"
                       "Content-Length: 2000000\r\n\r\n"));
            const response r = c.read_response();
            CHECK(r.status == 413);
            CHECK(error_of(r).find("--max-upload-mb") != std::string::npos);
            CHECK(c.closed_within(10s));
        }
        // Without Expect: refused from the header alone, as the body starts to arrive.
        {
            client c(s.port);
            REQUIRE(
                c.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: "
                       "application/octet-stream\r\nContent-Length: 2000000\r\n\r\nPK"));
            CHECK(c.read_response().status == 413);
        }
        // Chunked: no length to refuse by; refused once more than 1 MiB arrived.
        {
            client c(s.port);
            REQUIRE(
                c.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: "
                       "application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"));
            // The body never ends (no last chunk): a 413 can only come from its size.
            const std::string chunk(64 * 1024, 'P');
            std::size_t sent = 0;
            char size_line[32];
            std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk.size());
            while (sent < (std::size_t{64} << 20) && !c.readable(1ms)) {
                if (!c.send(size_line + chunk + "\r\n")) break;
                sent += chunk.size();
            }
            CHECK(sent >= (std::size_t{1} << 20));
            const response r = c.read_response();
            CHECK(r.status == 413);
        }
        CHECK(metric_now(s.port, "weft_import_uploads_in_flight") == 0);
    }
    SUBCASE("415: not a zip, a legacy .xls") {
        const response text = request(s.port, "POST", "/upload", "Name,Email\nA,a@b.c\n", raw_type);
        CHECK(text.status == 415);
        CHECK(error_of(text).find("not a zip") != std::string::npos);
        std::string ole2 = "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
        ole2.resize(4096, '\0');
        const response xls = upload_multipart(s.port, "", ole2, "old.xls");
        CHECK(xls.status == 415);
        CHECK(error_of(xls).find(".xls") != std::string::npos);
    }
    SUBCASE("422: a truncated and a damaged zip, told in one line without a path") {
        std::string damaged = bytes;
        for (std::size_t i = damaged.size() / 3; i < damaged.size() / 3 + 256; ++i)
            damaged[i] = static_cast<char>(~damaged[i]);
        for (const auto& bad : {bytes.substr(0, bytes.size() / 2), damaged}) {
            const response r = upload_multipart(s.port, "?method=pipeline", bad);
            INFO(r.body);
            CHECK(r.status == 422);
            const std::string e = error_of(r);
            CHECK(e.starts_with("the workbook was rejected: "));
            CHECK(e.find('\n') == std::string::npos);
            CHECK(e.find(dir.path.string()) == std::string::npos);
            CHECK(e.find("/proc") == std::string::npos);
            CHECK(e.find("/tmp") == std::string::npos);
        }
        // The same, accepted asynchronously: the import's status says failed, and why.
        const response accepted =
            upload_multipart(s.port, "?async=1", bytes.substr(0, bytes.size() / 2));
        REQUIRE(accepted.status == 202);
        const std::string id = as_string(accepted.json(), "id");
        json::object st;
        eventually("the import to fail", [&] {
            st = get(s.port, "/imports/" + id).json();
            return as_string(st, "state") != "queued" && as_string(st, "state") != "running";
        });
        CHECK(as_string(st, "state") == "failed");
        CHECK(as_int(st, "http_status") == 422);
        CHECK(as_string(st.at("result").as_object(), "error")
                  .starts_with("the workbook was rejected"));
        const response no_rejects = get(s.port, "/imports/" + id + "/rejects.csv");
        CHECK(no_rejects.status == 404);
        CHECK(metric_now(s.port, failed_total) == 3);
    }
    SUBCASE("431: a header over the limit") {
        const response r =
            request(s.port, "GET", "/health", {}, {{"X-Filler", std::string(20000, 'a')}});
        CHECK(r.status == 431);
    }
    // None of the refused uploads wrote anything; the server is still well.
    CHECK(get(s.port, "/health").status == 200);
    const std::int64_t rows = rows_in(db);
    CHECK((rows == 0 || rows == static_cast<std::int64_t>(w.valid)));
    stop_cleanly(s);
}

TEST_CASE("serve: 429 with Retry-After once --max-imports and --max-queue are taken") {
    WEFT_WATCHDOG(std::chrono::seconds(240));
    temp_dir dir;
    // sequential: one INSERT and commit per row, slow enough to hold the one import slot.
    const workbook w = make_workbook(dir, "slow.xlsx", 4000, 9, 0);
    const std::string bytes = read_file(w.path);
    const std::string db = "sqlite:" + dir / "busy.db";
    server s({"--db", db, "--max-imports", "1", "--max-queue", "1"});

    SUBCASE("async: one running, one queued, the third refused before its body") {
        const auto post = [&] {
            return upload_multipart(s.port, "?method=sequential&async=1", bytes);
        };
        const response first = post();
        REQUIRE(first.status == 202);
        const std::string a = as_string(first.json(), "id");
        std::string state;
        eventually("the first import to run", [&] {
            state = as_string(get(s.port, "/imports/" + a).json(), "state");
            return state != "queued";
        });
        REQUIRE(state == "running");
        const response second = post();
        REQUIRE(second.status == 202);
        const std::string b = as_string(second.json(), "id");
        CHECK(as_string(get(s.port, "/imports/" + b).json(), "state") == "queued");
        const response early = get(s.port, "/imports/" + b + "/rejects.csv");
        CHECK(early.status == 409);
        CHECK(error_of(early).find("still running") != std::string::npos);
        const response third = post();
        INFO(third.body);
        CHECK(third.status == 429);
        CHECK(third.header("retry-after") == "5");
        CHECK(error_of(third).find("try again later") != std::string::npos);
        CHECK(metric_now(s.port, "weft_import_refused_busy_total") == 1);
        for (const auto& id : {a, b})
            eventually("the accepted imports to succeed", [&] {
                return as_string(get(s.port, "/imports/" + id).json(), "state") == "succeeded";
            });
        CHECK(rows_in(db) == 2 * static_cast<std::int64_t>(w.valid));
    }
    SUBCASE("four at once, synchronous: the accepted ones are all the rows") {
        std::vector<std::unique_ptr<pending>> uploads;
        for (int i = 0; i < 4; ++i)
            uploads.push_back(std::make_unique<pending>(
                s.port, request_text("POST", "/upload?method=sequential",
                                     multipart_body({{"file", "b.xlsx", bytes}}), multipart_type)));
        int ok = 0, busy = 0;
        for (auto& u : uploads) {
            const response r = u->c.read_response();
            INFO(r.body);
            if (r.status == 200) {
                ++ok;
                CHECK(as_int(r.json(), "success_count") == static_cast<std::int64_t>(w.valid));
            } else {
                CHECK(r.status == 429);
                CHECK(r.header("retry-after") == "5");
                ++busy;
            }
        }
        CHECK(ok >= 1);
        CHECK(busy >= 1);
        CHECK(rows_in(db) == ok * static_cast<std::int64_t>(w.valid));
    }
    stop_cleanly(s);
}

TEST_CASE("serve: --token-file; no loopback, no token, no start") {
    WEFT_WATCHDOG(std::chrono::seconds(120));
    temp_dir dir;
    const std::string token = "s3cret-token-0123456789abcdef";
    const std::string token_file = dir / "token";
    std::ofstream(token_file) << token << "\n";
    const std::string db = "sqlite:" + dir / "token.db";

    const run_result open = run_importer({"serve", "--listen", "0.0.0.0:0", "--db", db}, 60s);
    CHECK(open.status == 2);
    CHECK(open.err.find("--token-file") != std::string::npos);
    CHECK(open.out.find("listening") == std::string::npos);
    std::ofstream(dir / "short") << "short\n";
    const run_result short_token = run_importer(
        {"serve", "--listen", "127.0.0.1:0", "--db", db, "--token-file", dir / "short"}, 60s);
    CHECK(short_token.status == 2);
    CHECK(short_token.err.find("at least 16") != std::string::npos);

    const workbook w = make_workbook(dir, "book.xlsx", 300, 4, 0);
    server s({"--db", db, "--token-file", token_file});
    CHECK(get(s.port, "/health").status == 200);
    const response none = get(s.port, "/metrics");
    CHECK(none.status == 401);
    CHECK(none.header("www-authenticate") == "Bearer");
    CHECK(get(s.port, "/metrics", {{"Authorization", "Bearer wrong-token-0123456789abc"}}).status ==
          401);
    CHECK(get(s.port, "/metrics?access_token=" + token + "x").status == 401);
    CHECK(get(s.port, "/metrics", {{"Authorization", "Bearer " + token}}).status == 200);
    CHECK(get(s.port, "/metrics", {{"Authorization", "bearer " + token}}).status == 200);
    CHECK(get(s.port, "/?access_token=" + token).status == 200);
    const response refused = upload_multipart(s.port, "", read_file(w.path));
    CHECK(refused.status == 401);
    CHECK(rows_in(db) == 0);
    header_list auth = multipart_type;
    auth.emplace_back("Authorization", "Bearer " + token);
    const response ok = request(s.port, "POST", "/upload",
                                multipart_body({{"file", "b.xlsx", read_file(w.path)}}), auth);
    CHECK(ok.status == 200);
    const response by_query =
        upload_multipart(s.port, "?method=batch&access_token=" + token, read_file(w.path));
    CHECK(by_query.status == 200);
    CHECK(rows_in(db) == 2 * static_cast<std::int64_t>(w.valid));
    stop_cleanly(s);
}

TEST_CASE("serve: concurrent uploads all land") {
    WEFT_WATCHDOG(std::chrono::seconds(300));
    temp_dir dir;
    std::vector<workbook> books;
    for (int i = 0; i < 4; ++i)
        // Appended, not "c" + std::string&&: GCC 12 at -O3 warns falsely (-Wrestrict) on that.
        books.push_back(make_workbook(
            dir, std::string("c").append(std::to_string(i)).append(".xlsx"),
            800 + 300 * static_cast<std::uint64_t>(i), static_cast<std::uint64_t>(20 + i), 0.03));
    const char* methods[] = {"pipeline", "batch", "concurrent", "sequential"};
    for (const auto& db : databases(dir, "concurrent")) {
        CAPTURE(db);
        server s({"--db", db, "--max-imports", "2"});
        std::vector<std::unique_ptr<pending>> uploads;
        for (std::size_t i = 0; i < books.size(); ++i)
            uploads.push_back(std::make_unique<pending>(
                s.port, request_text("POST", std::string("/upload?method=") + methods[i],
                                     multipart_body({{"file", "c.xlsx", read_file(books[i].path)}}),
                                     multipart_type)));
        for (const auto& u : uploads) REQUIRE(u->sent);
        std::int64_t sum = 0;
        for (std::size_t i = 0; i < books.size(); ++i) {
            const response r = uploads[i]->c.read_response();
            INFO(r.body);
            REQUIRE(r.status == 200);
            CHECK(as_string(r.json(), "method") == methods[i]);
            CHECK(as_int(r.json(), "success_count") == static_cast<std::int64_t>(books[i].valid));
            sum += static_cast<std::int64_t>(books[i].valid);
        }
        CHECK(rows_in(db) == sum);
        stop_cleanly(s);
    }
}

TEST_CASE("serve: clients that go away") {
    WEFT_WATCHDOG(std::chrono::seconds(300));
    temp_dir dir;
    const std::string db = "sqlite:" + dir / "gone.db";
    server s({"--db", db});

    SUBCASE("half an upload, then closed: nothing written, the server well") {
        const workbook w = make_workbook(dir, "book.xlsx", 1000, 8, 0);
        const std::string text =
            request_text("POST", "/upload", multipart_body({{"file", "b.xlsx", read_file(w.path)}}),
                         multipart_type);
        {
            client c(s.port);
            REQUIRE(c.send(std::string_view(text).substr(0, text.size() / 2)));
            eventually("the upload to start",
                       [&] { return metric_now(s.port, "weft_import_uploads_in_flight") == 1; });
        }
        eventually("the upload to be dropped",
                   [&] { return metric_now(s.port, "weft_import_uploads_in_flight") == 0; });
        CHECK(metric_now(s.port, succeeded_total) + metric_now(s.port, failed_total) == 0);
        CHECK(rows_in(db) == 0);
        CHECK(get(s.port, "/health").status == 200);
        CHECK(upload_multipart(s.port, "", read_file(w.path)).status == 200);
        CHECK(rows_in(db) == static_cast<std::int64_t>(w.valid));
    }
    SUBCASE("gone while its import runs: the import completes") {
        const workbook w = make_workbook(dir, "book.xlsx", 20000, 8, 0);
        {
            pending p(s.port,
                      request_text("POST", "/upload?method=pipeline", read_file(w.path), raw_type));
            REQUIRE(p.sent);
            eventually("the import to start", [&] {
                return metric_now(s.port, "weft_import_imports_running") == 1 ||
                       metric_now(s.port, succeeded_total) == 1;
            });
        }
        eventually("the import to finish", [&] {
            return metric_now(s.port, succeeded_total) + metric_now(s.port, failed_total) == 1;
        });
        CHECK(metric_now(s.port, succeeded_total) == 1);
        CHECK(rows_in(db) == static_cast<std::int64_t>(w.valid));
    }
    SUBCASE("gone while its import runs, with cancel_on_disconnect=1: nothing written") {
        const workbook& w = big_workbook();
        {
            pending p(s.port, request_text("POST", "/upload?method=pipeline&cancel_on_disconnect=1",
                                           read_file(w.path), raw_type));
            REQUIRE(p.sent);
            eventually("the import to start",
                       [&] { return metric_now(s.port, "weft_import_imports_running") == 1; });
        }
        eventually("the import to end", [&] {
            return metric_now(s.port, succeeded_total) + metric_now(s.port, failed_total) == 1;
        });
        CHECK(metric_now(s.port, failed_total) == 1);
        CHECK(rows_in(db) == 0);
        CHECK(!fs::exists(dir / "gone.db"));
        CHECK(get(s.port, "/health").status == 200);
    }
    stop_cleanly(s);
}

TEST_CASE("serve: a client that stalls is cut off (--header-timeout, --body-timeout)") {
    WEFT_WATCHDOG(std::chrono::seconds(120));
    temp_dir dir;
    const std::string db = "sqlite:" + dir / "slow.db";
    server s({"--db", db, "--header-timeout", "1", "--body-timeout", "1"});

    SUBCASE("half a header: closed") {
        client c(s.port);
        const auto t0 = steady::now();
        REQUIRE(c.send("GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: "));
        CHECK(c.closed_within(15s));
        CHECK(steady::now() - t0 >= 900ms);
        CHECK(c.received().empty());
    }
    SUBCASE("nothing at all, or idle after a request: closed") {
        client idle(s.port);
        CHECK(idle.closed_within(15s));
        CHECK(idle.received().empty());
        client kept(s.port);
        REQUIRE(kept.send(request_text("GET", "/health", {})));
        CHECK(kept.read_response().status == 200);
        CHECK(kept.closed_within(15s));
    }
    SUBCASE("a body that stops coming: closed, nothing written") {
        client c(s.port);
        REQUIRE(
            c.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: "
                   "application/octet-stream\r\nContent-Length: 100000\r\n\r\nPK\x03\x04"));
        CHECK(c.closed_within(15s));
        eventually("the upload to be dropped",
                   [&] { return metric_now(s.port, "weft_import_uploads_in_flight") == 0; });
        CHECK(rows_in(db) == 0);
    }
    CHECK(get(s.port, "/health").status == 200);
    stop_cleanly(s);
}

TEST_CASE("serve: --max-connections: one more is answered 503 and closed") {
    WEFT_WATCHDOG(std::chrono::seconds(120));
    temp_dir dir;
    server s({"--db", "sqlite:" + dir / "conn.db", "--max-connections", "1"});
    {
        client idle(s.port);
        // Once the idle connection's session counts, the next is refused.
        response r;
        eventually("a connection to be refused", [&] {
            client c(s.port);
            (void)c.send(request_text("GET", "/health", {}));  // a refused one may be closed
            r = c.read_response();
            return r.status == 503;
        });
        CHECK(r.header("retry-after") == "5");
        CHECK(error_of(r).find("too many connections") != std::string::npos);
    }
    eventually("a connection to be served again",
               [&] { return get(s.port, "/health").status == 200; });
    stop_cleanly(s);
}

TEST_CASE(
    "serve: SIGTERM with an import in flight cancels it; a restart serves the same database") {
    WEFT_WATCHDOG(std::chrono::seconds(300));
    temp_dir dir;
    const workbook& big = big_workbook();
    const workbook small = make_workbook(dir, "small.xlsx", 600, 12, 0.02);
    for (const auto& db : databases(dir, "shutdown")) {
        CAPTURE(db);
        std::int64_t before = 0;
        {
            server s({"--db", db, "--grace", "0.2"});
            // PostgreSQL starts with rows, SQLite with no file: both must stay as they were.
            if (!db.starts_with("sqlite:")) {
                REQUIRE(upload_multipart(s.port, "", read_file(small.path)).status == 200);
                before = static_cast<std::int64_t>(small.valid);
            }
            pending p(s.port, request_text("POST", "/upload?method=pipeline", read_file(big.path),
                                           raw_type));
            REQUIRE(p.sent);
            eventually("the import to start",
                       [&] { return metric_now(s.port, "weft_import_imports_running") == 1; });
            s.signal(SIGTERM);
            const response r = p.c.read_response();
            INFO(r.body);
            CHECK(r.status == 503);
            CHECK(error_of(r).find("shutting down") != std::string::npos);
            const run_result exit = s.wait();
            INFO(exit.err);
            CHECK(exit.status == 0);
            CHECK(exit.err.find("canceling the imports left") != std::string::npos);
        }
        CHECK(rows_in(db) == before);
        if (db.starts_with("sqlite:")) CHECK(!fs::exists(dir / "shutdown.db"));
        {
            server s({"--db", db});
            CHECK(get(s.port, "/health").status == 200);
            const response r = upload_multipart(s.port, "?method=batch", read_file(small.path));
            CHECK(r.status == 200);
            CHECK(rows_in(db) == before + static_cast<std::int64_t>(small.valid));
            stop_cleanly(s);
        }
    }
}

TEST_CASE("serve: a second SIGTERM ends the process at once with 1; the import is rolled back") {
    WEFT_WATCHDOG(std::chrono::seconds(300));
    temp_dir dir;
    const workbook& big = big_workbook();
    const std::string db = "sqlite:" + dir / "twice.db";
    server s({"--db", db, "--grace", "60"});
    pending p(s.port,
              request_text("POST", "/upload?method=pipeline", read_file(big.path), raw_type));
    REQUIRE(p.sent);
    eventually("the import to start",
               [&] { return metric_now(s.port, "weft_import_imports_running") == 1; });
    s.signal(SIGTERM);
    std::this_thread::sleep_for(100ms);  // the first is being handled: the grace period runs
    s.signal(SIGTERM);
    const run_result exit = s.wait();
    INFO(exit.err);
    CHECK(exit.status == 1);
    CHECK(exit.err.find("waiting up to 60000 ms") != std::string::npos);
    CHECK(p.c.closed_within(10s));
    CHECK(p.c.received().empty());
    CHECK(rows_in(db) == 0);
}
