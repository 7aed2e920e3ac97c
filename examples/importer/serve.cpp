// weft-import serve (serve.hpp): Beast on Asio coroutines, one coroutine per connection on a
// strand of its own; imports on a weft::worker_pool; a job's end is a weft channel closed,
// which a request awaits (or selects on, with a timer, for the events stream) from its
// coroutine without holding a thread.
//
// Invariants:
// - No coroutine blocks a thread: the import runs on the pool, the database check on its own
//   thread, and a request waits for its import by awaiting the job's finished() channel.
// - An upload is refused before its body is read when the answer is known from the header
//   (busy, too large, bad method or type): the connection is then closed, since the unread body
//   would be taken for the next request.
// - Nothing of a request outlives the server: the pool and the checker thread are stopped
//   before run() returns, and sessions hold the server through a shared_ptr.
#include "serve.hpp"

#include "database.hpp"
#include "engine.hpp"
#include "multipart.hpp"
#include "serve_jobs.hpp"
#include "serve_page.hpp"

#include <weft/asio.hpp>
#include <weft/context.hpp>
#include <weft/worker_pool.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace weft_import::serve {
namespace {

namespace mp = ::weft_import::http;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using asio::use_awaitable;
constexpr auto with_error = asio::as_tuple(use_awaitable);

using stream_type = beast::tcp_stream;
using request_parser = http::request_parser<http::buffer_body>;

// An answer decided while handling a request: status, JSON {"error": message}, and whether the
// connection must close after it (an unread body, a protocol error).
struct http_error {
    http_error(http::status st, std::string msg, bool close_after = false, std::string retry = {})
        : status(st), message(std::move(msg)), close(close_after), retry_after(std::move(retry)) {}
    http::status status;
    std::string message;
    bool close;
    std::string retry_after;  // 429: seconds
};

std::string error_body(std::string_view message) {
    json::object o;
    o["error"] = message;
    return json::serialize(o);
}

// The path and the query parameters of a request target, percent-decoded.
struct target {
    std::string path;
    std::vector<std::pair<std::string, std::string>> query;
    std::optional<std::string> param(std::string_view key) const {
        for (const auto& [k, v] : query)
            if (k == key) return v;
        return std::nullopt;
    }
    bool flag(std::string_view key) const {
        auto v = param(key);
        return v && (*v == "1" || *v == "true" || *v == "yes");
    }
};

std::string percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    const auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

target parse_target(std::string_view t) {
    target r;
    const auto q = t.find('?');
    r.path = percent_decode(t.substr(0, q));
    if (q == std::string_view::npos) return r;
    std::string_view rest = t.substr(q + 1);
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const std::string_view item = rest.substr(0, amp);
        const auto eq = item.find('=');
        if (!item.empty())
            r.query.emplace_back(
                percent_decode(item.substr(0, eq)),
                eq == std::string_view::npos ? std::string() : percent_decode(item.substr(eq + 1)));
        if (amp == std::string_view::npos) break;
        rest.remove_prefix(amp + 1);
    }
    return r;
}

std::optional<method> parse_method(std::string_view name) {
    if (name == "pipeline") return method::pipeline;
    if (name == "batch") return method::batch;
    if (name == "concurrent") return method::concurrent;
    if (name == "sequential") return method::sequential;
    return std::nullopt;
}

// Compares in time that depends only on the lengths, so a wrong token's timing says nothing of
// the right one.
bool same_secret(std::string_view a, std::string_view b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (std::size_t i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i % std::max<std::size_t>(b.size(), 1)]);
    return diff == 0;
}

// An owned descriptor.
struct fd_holder {
    int fd = -1;
    explicit fd_holder(int f) : fd(f) {}
    fd_holder(const fd_holder&) = delete;
    fd_holder& operator=(const fd_holder&) = delete;
    ~fd_holder() {
        if (fd >= 0) ::close(fd);
    }
    int release() { return std::exchange(fd, -1); }
};

void write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t w = ::write(fd, bytes.data(), bytes.size());
        if (w < 0 && errno == EINTR) continue;
        if (w < 0)
            throw http_error{
                errno == ENOSPC ? http::status::insufficient_storage
                                : http::status::internal_server_error,
                std::string("the server cannot store the upload: ") + std::strerror(errno), true};
        bytes.remove_prefix(static_cast<std::size_t>(w));
    }
}

// Imports run below the threads that answer requests: on a machine whose cores the imports
// keep busy, a request (GET /health above all) otherwise waits for a time slice behind them.
// Linux keeps the nice value per thread and a new thread inherits it, so the import's own
// stage threads run at it too. Best effort: a failure leaves the import at normal priority.
void import_priority() {
    static constexpr int import_nice = 10;
    errno = 0;
    const int now = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
    if (errno == 0 && now < import_nice)
        (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), import_nice);
}

// Where the multipart parser puts the parts: the one named "file" into the upload's file.
class upload_writer final : public mp::multipart_parser::handler {
public:
    explicit upload_writer(int fd) : fd_(fd) {}
    void on_part_begin(const mp::part_info& p) override {
        in_file_ = p.name == "file";
        if (!in_file_) return;
        if (seen_file_)
            throw http_error{http::status::bad_request,
                             "more than one part named \"file\": send one workbook per upload",
                             true};
        seen_file_ = true;
        filename_ = p.filename.value_or("");
    }
    void on_part_data(std::string_view bytes) override {
        if (in_file_) write_all(fd_, bytes);
    }
    void on_part_end() override { in_file_ = false; }
    bool seen_file() const { return seen_file_; }
    const std::string& filename() const { return filename_; }

private:
    int fd_;
    bool in_file_ = false;
    bool seen_file_ = false;
    std::string filename_;
};

// Whether the database answers, checked every few seconds on a thread of its own, so that
// GET /health reads a flag and never waits for a connection.
class db_checker {
public:
    explicit db_checker(std::string url) : url_(std::move(url)) {
        check();
        thread_ = std::thread([this] {
            while (ctx_.ctx.done().receive_for(interval).status != weft::op_status::closed) check();
        });
    }
    db_checker(const db_checker&) = delete;
    db_checker& operator=(const db_checker&) = delete;
    ~db_checker() {
        ctx_.cancel();
        thread_.join();
    }
    // The last check's error; empty when the database answered.
    std::string error() const {
        std::lock_guard lock(lock_);
        return error_;
    }

private:
    static constexpr auto interval = 2s;

    void check() {
        std::string err;
        try {
            if (url_.starts_with("sqlite:")) {
                // Not a connection: opening a missing file would create it, and an import into
                // a new file holds it locked until its commit. What an import needs is a file
                // it can read and write, or a directory it can create one in.
                const std::string path = url_.substr(7);
                const auto dir = std::filesystem::path(path).parent_path();
                if (::access(path.c_str(), F_OK) == 0) {
                    if (::access(path.c_str(), R_OK | W_OK) != 0)
                        err = "the SQLite file cannot be written: " +
                              std::string(std::strerror(errno));
                } else if (::access(dir.empty() ? "." : dir.c_str(), W_OK | X_OK) != 0) {
                    err = "the SQLite file cannot be created: " + std::string(std::strerror(errno));
                }
            } else {
                (void)connect(url_);
            }
        } catch (const std::exception& e) { err = e.what(); }
        std::lock_guard lock(lock_);
        error_ = std::move(err);
    }

    std::string url_;
    mutable std::mutex lock_;
    std::string error_;  // guarded by lock_
    weft::cancelable<weft::cancel_func> ctx_ = weft::with_cancel(weft::background());
    std::thread thread_;
};

struct server {
    server(asio::io_context& io, const options& o, std::string secret)
        : opt(o),
          ioc(io),
          acceptor(io),
          token(std::move(secret)),
          pool(weft::worker_pool_options{o.max_imports, o.max_queue, {}}),
          db(o.db_url) {}

    options opt;
    asio::io_context& ioc;
    tcp::acceptor acceptor;
    std::string token;
    registry jobs;
    metrics m;
    // The parent of every import's context: shutdown cancels it once the grace period is over.
    weft::cancelable<weft::cancel_cause_func> imports = weft::with_cancel_cause(weft::background());
    weft::worker_pool pool;
    db_checker db;
    std::atomic<bool> stopping{false};       // relaxed: a hint; the pool refuses once closed
    std::atomic<std::int64_t> answering{0};  // requests being handled (relaxed: a count)
};

// Counts a value up for a scope.
struct gauge {
    std::atomic<std::int64_t>& g;
    std::int64_t value;  // the count with this one
    explicit gauge(std::atomic<std::int64_t>& a)
        : g(a), value(g.fetch_add(1, std::memory_order_relaxed) + 1) {}
    gauge(const gauge&) = delete;
    gauge& operator=(const gauge&) = delete;
    ~gauge() { g.fetch_sub(1, std::memory_order_relaxed); }
};

class session {
public:
    session(std::shared_ptr<server> s, tcp::socket sock)
        : s_(std::move(s)), stream_(std::move(sock)) {}

    asio::awaitable<void> run() {
        gauge open(s_->m.connections);
        try {
            while (co_await one_request()) {}
        } catch (const std::exception&) {
            // A socket error while answering: the connection is gone; nothing to tell anyone.
        }
        beast::error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
        stream_.close();
    }

private:
    // Reads and answers one request; false: close the connection.
    asio::awaitable<bool> one_request() {
        parser_.emplace();
        parser_->header_limit(static_cast<std::uint32_t>(s_->opt.max_header_bytes));
        parser_->body_limit(boost::none);
        stream_.expires_after(s_->opt.header_timeout);
        auto [ec, n] = co_await http::async_read_header(stream_, buf_, *parser_, with_error);
        if (ec == http::error::header_limit) {
            co_await send_error({http::status::request_header_fields_too_large,
                                 "the request header is larger than " +
                                     std::to_string(s_->opt.max_header_bytes) + " bytes",
                                 true},
                                11);
            co_return false;
        }
        // A timeout (a client idle or stalling in its header) cannot be answered with 408:
        // tcp_stream closes the socket when it expires.
        if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
            ec == asio::error::connection_reset || ec == asio::error::eof)
            co_return false;
        if (ec) {
            co_await send_error(
                {http::status::bad_request, "malformed request: " + ec.message(), true}, 11);
            co_return false;
        }
        s_->m.requests.fetch_add(1, std::memory_order_relaxed);
        gauge answering(s_->answering);
        auto& req = parser_->get();
        const unsigned version = req.version();
        std::optional<http_error> refused;
        try {
            co_return co_await route(req);
        } catch (http_error& e) { refused.emplace(std::move(e)); }
        // A request that still has unread body bytes cannot be followed by another.
        if (!parser_->is_done()) refused->close = true;
        co_await send_error(*refused, version);
        co_return !refused->close && req.keep_alive();
    }

    asio::awaitable<bool> route(http::request<http::buffer_body>& req) {
        const target t = parse_target(req.target());
        if (t.path != "/health") authorize(req, t);
        const bool has_body =
            req.has_content_length() ? parser_->content_length().value_or(0) > 0 : req.chunked();
        if (t.path == "/upload") {
            if (req.method() != http::verb::post)
                throw http_error{http::status::method_not_allowed, "use POST for /upload",
                                 has_body};
            co_return co_await upload(req, t);
        }
        if (req.method() != http::verb::get && req.method() != http::verb::head)
            throw http_error{http::status::method_not_allowed, "use GET for " + t.path, has_body};
        if (has_body)
            throw http_error{http::status::bad_request, "a GET request has no body", true};
        if (t.path == "/health") co_return co_await health(req);
        if (t.path == "/metrics") {
            const auto st = s_->pool.stats();
            co_return co_await send(req, http::status::ok, "text/plain; version=0.0.4",
                                    s_->m.text(static_cast<std::int64_t>(st.queued),
                                               static_cast<std::int64_t>(st.running)));
        }
        if (t.path == "/")
            co_return co_await send(req, http::status::ok, "text/html; charset=utf-8",
                                    std::string(upload_page));
        constexpr std::string_view prefix = "/imports/";
        if (t.path.starts_with(prefix)) {
            std::string_view rest = std::string_view(t.path).substr(prefix.size());
            const auto slash = rest.find('/');
            auto j = s_->jobs.find(rest.substr(0, slash));
            if (!j) throw http_error{http::status::not_found, "no such import"};
            const std::string_view what =
                slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
            if (what.empty())
                co_return co_await send(req, http::status::ok, "application/json",
                                        j->snapshot_json());
            if (what == "/events") co_return co_await events(req, j);
            if (what == "/rejects.csv") co_return co_await rejects(req, j);
        }
        throw http_error{http::status::not_found, "no such route: " + t.path};
    }

    void authorize(const http::request<http::buffer_body>& req, const target& t) const {
        if (s_->token.empty()) return;
        std::string given;
        const auto h = req[http::field::authorization];
        if (h.size() > 7 && beast::iequals(h.substr(0, 7), "Bearer "))
            given = std::string(h.substr(7));
        else if (auto q = t.param("access_token"))
            given = *q;
        if (given.empty() || !same_secret(given, s_->token))
            throw http_error{http::status::unauthorized, "a valid bearer token is required",
                             !parser_->is_done()};
    }

    asio::awaitable<bool> health(const http::request<http::buffer_body>& req) {
        const std::string err = s_->db.error();
        json::object o;
        o["status"] = err.empty() ? "healthy" : "unhealthy";
        o["database"] = err.empty() ? "ok" : err;
        co_return co_await send(req,
                                err.empty() ? http::status::ok : http::status::service_unavailable,
                                "application/json", json::serialize(o));
    }

    asio::awaitable<bool> upload(http::request<http::buffer_body>& req, const target& t) {
        const std::string method_name = t.param("method").value_or("pipeline");
        const auto m = parse_method(method_name);
        if (!m)
            throw http_error{
                http::status::bad_request,
                "unknown method '" + method_name + "': pipeline, batch, concurrent or sequential",
                true};
        if (s_->stopping.load(std::memory_order_relaxed))
            throw http_error{http::status::service_unavailable, "the server is shutting down",
                             true};
        if (s_->pool.stats().queued >= s_->opt.max_queue) {
            s_->m.refused_busy.fetch_add(1, std::memory_order_relaxed);
            throw http_error{http::status::too_many_requests,
                             "too many imports are waiting: try again later", true, "5"};
        }
        // Uploads in flight are bounded as imports are: each may become one, and each holds a
        // temporary file of up to --max-upload-mb.
        gauge in_flight(s_->m.uploads_in_flight);
        if (in_flight.value > static_cast<std::int64_t>(s_->opt.max_imports + s_->opt.max_queue)) {
            s_->m.refused_busy.fetch_add(1, std::memory_order_relaxed);
            throw http_error{http::status::too_many_requests,
                             "too many uploads are in progress: try again later", true, "5"};
        }
        if (const auto len = parser_->content_length(); len && *len > s_->opt.max_upload_bytes)
            throw http_error{http::status::payload_too_large, too_large(), true};
        std::optional<std::string> boundary;
        const std::string_view type = req[http::field::content_type];
        try {
            boundary = mp::form_data_boundary(type);
        } catch (const mp::multipart_error& e) {
            throw http_error{http::status::bad_request, e.what(), true};
        }
        const auto media = type.substr(0, type.find(';'));
        if (!boundary && !beast::iequals(media, "application/octet-stream") &&
            !beast::iequals(media,
                            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
            throw http_error{http::status::bad_request,
                             "send the workbook as multipart/form-data with a part named \"file\" "
                             "(curl -F file=@x.xlsx), or as the raw body",
                             true};

        if (beast::iequals(req[http::field::expect], "100-continue")) {
            http::response<http::empty_body> cont{http::status::continue_, req.version()};
            stream_.expires_after(s_->opt.body_timeout);
            co_await http::async_write(stream_, cont, use_awaitable);
        }
        fd_holder file(unnamed_temp_file("an upload"));
        std::string filename = "upload.xlsx";
        std::optional<upload_writer> writer;
        std::optional<mp::multipart_parser> parts;
        if (boundary) {
            writer.emplace(file.fd);
            parts.emplace(*boundary, *writer);
        }
        std::uint64_t received = 0;
        std::vector<char> chunk(64 * 1024);
        while (!parser_->is_done()) {
            req.body().data = chunk.data();
            req.body().size = chunk.size();
            stream_.expires_after(s_->opt.body_timeout);
            auto [ec, n] = co_await http::async_read(stream_, buf_, *parser_, with_error);
            if (ec == http::error::need_buffer) ec = {};
            // The client went away (or stalled) mid-upload: nothing was imported, nobody to tell.
            if (ec) co_return false;
            const std::size_t got = chunk.size() - req.body().size;
            received += got;
            s_->m.bytes_received.fetch_add(got, std::memory_order_relaxed);
            if (received > s_->opt.max_upload_bytes)
                throw http_error{http::status::payload_too_large, too_large(), true};
            const std::string_view bytes(chunk.data(), got);
            try {
                if (parts)
                    parts->feed(bytes);
                else
                    write_all(file.fd, bytes);
            } catch (const mp::multipart_error& e) {
                throw http_error{http::status::bad_request, e.what(), true};
            }
        }
        if (parts) {
            try {
                parts->finish();
            } catch (const mp::multipart_error& e) {
                throw http_error{http::status::bad_request, e.what()};
            }
            if (!writer->seen_file())
                throw http_error{http::status::bad_request,
                                 "no part named \"file\": send the workbook as -F file=@x.xlsx"};
            if (!writer->filename().empty()) filename = writer->filename();
        }
        check_workbook(file.fd);

        auto j = s_->jobs.make(*m, filename, s_->imports.ctx);
        j->set_upload_fd(file.release());
        server* srv = s_.get();
        if (s_->stopping.load(std::memory_order_relaxed))
            throw http_error{http::status::service_unavailable, "the server is shutting down"};
        auto r = s_->pool.try_post([srv, j] {
            import_priority();
            j->run(srv->opt.db_url, srv->opt.limits, srv->m);
            srv->jobs.trim();
        });
        if (!r) {
            s_->m.refused_busy.fetch_add(1, std::memory_order_relaxed);
            // Never run: it ends here, so that its id does not read as queued for ever.
            j->refuse(503, "the import was refused: the server was busy or shutting down");
            throw http_error{r.status == weft::op_status::full ? http::status::too_many_requests
                                                               : http::status::service_unavailable,
                             r.status == weft::op_status::full
                                 ? "too many imports are waiting: try again later"
                                 : "the server is shutting down",
                             false, "5"};
        }
        if (t.flag("async")) {
            json::object o;
            o["id"] = j->id();
            o["state"] = state_name(j->state());
            o["status_url"] = "/imports/" + j->id();
            o["events_url"] = "/imports/" + j->id() + "/events";
            co_return co_await send(req, http::status::accepted, "application/json",
                                    json::serialize(o));
        }
        if (t.flag("cancel_on_disconnect")) {
            using namespace asio::experimental::awaitable_operators;
            auto done = co_await (j->finished().async_receive(use_awaitable) || disconnected());
            if (done.index() == 1) {
                j->cancel(cancel_reason::client_disconnected);
                co_return false;
            }
        } else {
            (void)co_await j->finished().async_receive(use_awaitable);
        }
        co_return co_await send(req, static_cast<http::status>(j->status()), "application/json",
                                j->result());
    }

    std::string too_large() const {
        return "the upload is larger than the limit of " +
               std::to_string(s_->opt.max_upload_bytes) + " bytes (--max-upload-mb)";
    }

    // The checks that need no unzipping: an empty upload, and something that is not a zip.
    static void check_workbook(int fd) {
        unsigned char head[8] = {};
        const ssize_t got = ::pread(fd, head, sizeof head, 0);
        if (got <= 0) throw http_error{http::status::bad_request, "the uploaded file is empty"};
        static constexpr unsigned char ole2[] = {0xD0, 0xCF, 0x11, 0xE0};
        if (got >= 4 && std::memcmp(head, ole2, 4) == 0)
            throw http_error{http::status::unsupported_media_type,
                             "a legacy .xls workbook (or a password-protected one), not .xlsx: "
                             "save it as .xlsx"};
        if (got < 4 || head[0] != 'P' || head[1] != 'K' || (head[2] != 3 && head[2] != 5))
            throw http_error{http::status::unsupported_media_type,
                             "not an .xlsx workbook (not a zip archive)"};
    }

    // Completes when the client closes its side (or the connection fails); never when it only
    // sends more bytes (a pipelined request): then it waits for ever, and is canceled by `||`.
    asio::awaitable<void> disconnected() {
        stream_.expires_never();
        auto& sock = stream_.socket();
        for (;;) {
            co_await sock.async_wait(tcp::socket::wait_read, use_awaitable);
            char c;
            const ssize_t n = ::recv(sock.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
                co_return;
            if (n > 0) {
                asio::steady_timer forever(stream_.get_executor(),
                                           asio::steady_timer::time_point::max());
                co_await forever.async_wait(use_awaitable);
            }
        }
    }

    asio::awaitable<bool> events(const http::request<http::buffer_body>& req,
                                 std::shared_ptr<job> j) {
        http::response<http::empty_body> res{http::status::ok, req.version()};
        res.set(http::field::content_type, "text/event-stream");
        res.set(http::field::cache_control, "no-cache");
        res.keep_alive(false);
        http::response_serializer<http::empty_body> sr{res};
        stream_.expires_after(s_->opt.body_timeout);
        co_await http::async_write_header(stream_, sr, use_awaitable);
        std::string last;
        for (;;) {
            const bool done = j->finished().is_closed();
            std::string msg;
            if (std::string p = j->progress_json(); p != last) {
                msg = "event: progress\ndata: " + p + "\n\n";
                last = std::move(p);
            }
            if (done) msg += "event: result\ndata: " + j->snapshot_json() + "\n\n";
            if (!msg.empty()) {
                stream_.expires_after(s_->opt.body_timeout);
                co_await asio::async_write(stream_, asio::buffer(msg), use_awaitable);
            }
            if (done) co_return false;
            // The job's end or a tick, whichever comes first: weft's select, awaited.
            co_await weft::async_select(use_awaitable, weft::on_receive(j->finished(), [] {}),
                                        weft::on_receive(weft::after(200ms), [] {}));
        }
    }

    asio::awaitable<bool> rejects(const http::request<http::buffer_body>& req,
                                  std::shared_ptr<job> j) {
        if (!j->finished().is_closed())
            throw http_error{http::status::conflict, "the import is still running"};
        std::FILE* f = j->rejects();
        if (!f) throw http_error{http::status::not_found, "the import failed: it has no rejects"};
        struct stat st{};
        if (::fstat(fileno(f), &st) != 0)
            throw http_error{http::status::internal_server_error, "cannot read the rejects"};
        http::response<http::empty_body> res{http::status::ok, req.version()};
        res.set(http::field::content_type, "text/csv; charset=utf-8");
        res.content_length(static_cast<std::uint64_t>(st.st_size));
        res.keep_alive(req.keep_alive());
        http::response_serializer<http::empty_body> sr{res};
        stream_.expires_after(s_->opt.body_timeout);
        co_await http::async_write_header(stream_, sr, use_awaitable);
        if (req.method() == http::verb::head) co_return req.keep_alive();
        std::vector<char> chunk(64 * 1024);
        for (off_t at = 0; at < st.st_size;) {
            const ssize_t n = ::pread(fileno(f), chunk.data(), chunk.size(), at);
            if (n <= 0) co_return false;  // the length is promised: only closing can say it failed
            at += n;
            stream_.expires_after(s_->opt.body_timeout);
            co_await asio::async_write(
                stream_, asio::buffer(chunk.data(), static_cast<std::size_t>(n)), use_awaitable);
        }
        co_return req.keep_alive();
    }

    asio::awaitable<bool> send(const http::request<http::buffer_body>& req, http::status status,
                               std::string_view type, std::string body, bool close = false) {
        http::response<http::string_body> res{status, req.version()};
        res.set(http::field::content_type, type);
        res.keep_alive(req.keep_alive() && !close);
        // HEAD: GET's header, its Content-Length included (prepare_payload would say 0), and
        // no body.
        if (req.method() == http::verb::head) {
            res.content_length(body.size());
        } else {
            res.body() = std::move(body);
            res.prepare_payload();
        }
        stream_.expires_after(s_->opt.body_timeout);
        co_await http::async_write(stream_, res, use_awaitable);
        co_return res.keep_alive();
    }

    asio::awaitable<void> send_error(const http_error& e, unsigned version) {
        http::response<http::string_body> res{e.status, version};
        res.set(http::field::content_type, "application/json");
        if (!e.retry_after.empty()) res.set(http::field::retry_after, e.retry_after);
        if (e.status == http::status::method_not_allowed)
            res.set(http::field::allow, "GET, HEAD, POST");
        if (e.status == http::status::unauthorized)
            res.set(http::field::www_authenticate, "Bearer");
        res.keep_alive(!e.close);
        res.body() = error_body(e.message);
        res.prepare_payload();
        stream_.expires_after(s_->opt.body_timeout);
        auto [ec, n] = co_await http::async_write(stream_, res, with_error);
        (void)n;
    }

    std::shared_ptr<server> s_;
    stream_type stream_;
    beast::flat_buffer buf_;
    std::optional<request_parser> parser_;
};

asio::awaitable<void> serve_connection(std::shared_ptr<server> s, tcp::socket sock) {
    session conn(std::move(s), std::move(sock));
    co_await conn.run();
}

asio::awaitable<void> accept_loop(std::shared_ptr<server> s) {
    for (;;) {
        auto [ec, sock] = co_await s->acceptor.async_accept(asio::make_strand(s->ioc), with_error);
        if (!s->acceptor.is_open()) co_return;
        if (ec) {
            // Out of descriptors (EMFILE) or a connection reset before it was accepted: wait a
            // moment rather than spin.
            asio::steady_timer pause(s->ioc, 50ms);
            co_await pause.async_wait(with_error);
            continue;
        }
        if (s->m.connections.load(std::memory_order_relaxed) >=
            static_cast<std::int64_t>(s->opt.max_connections)) {
            // The length is counted, not written by hand (40 for a body of 39 made clients
            // wait for a byte that never came).
            static constexpr std::string_view busy_body =
                "{\"error\":\"too many connections: retry\"}";
            static const std::string busy =
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                "Content-Length: " +
                std::to_string(busy_body.size()) +
                "\r\nRetry-After: 5\r\nConnection: close\r\n\r\n" + std::string(busy_body);
            beast::error_code ignored;
            sock.non_blocking(true, ignored);
            (void)sock.write_some(asio::buffer(busy), ignored);
            sock.close(ignored);
            continue;
        }
        weft::spawn(sock.get_executor(), serve_connection(s, std::move(sock)));
    }
}

// SIGINT/SIGTERM: the graceful shutdown of the header comment.
asio::awaitable<void> shutdown_on_signal(std::shared_ptr<server> s) {
    asio::signal_set signals(co_await asio::this_coro::executor, SIGINT, SIGTERM);
    auto [ec, sig] = co_await signals.async_wait(with_error);
    if (ec) co_return;
    std::fprintf(stderr,
                 "weft-import serve: signal %d: no new connections; waiting up to %lld ms "
                 "for the imports in progress\n",
                 sig, static_cast<long long>(s->opt.grace.count()));
    s->stopping.store(true, std::memory_order_relaxed);
    beast::error_code ignored;
    s->acceptor.close(ignored);
    signals.async_wait([](const beast::error_code& e, int) {
        if (!e) std::_Exit(1);
    });
    const auto busy = [&s] {
        const auto st = s->pool.stats();
        return st.queued + st.running > 0;
    };
    asio::steady_timer tick(co_await asio::this_coro::executor);
    const auto deadline = std::chrono::steady_clock::now() + s->opt.grace;
    while (busy() && std::chrono::steady_clock::now() < deadline) {
        tick.expires_after(20ms);
        co_await tick.async_wait(with_error);
    }
    if (busy()) {
        std::fprintf(stderr,
                     "weft-import serve: grace period over: canceling the imports left "
                     "(rolled back, nothing written)\n");
        s->imports.cancel(cancel_cause(cancel_reason::shutdown));
        while (busy()) {
            tick.expires_after(20ms);
            co_await tick.async_wait(with_error);
        }
    }
    // The answers of the imports just finished are being written: a moment for them.
    const auto flush_deadline = std::chrono::steady_clock::now() + 2s;
    while (s->answering.load(std::memory_order_relaxed) > 0 &&
           std::chrono::steady_clock::now() < flush_deadline) {
        tick.expires_after(10ms);
        co_await tick.async_wait(with_error);
    }
    s->ioc.stop();
}

tcp::endpoint parse_listen(const std::string& listen) {
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos)
        throw startup_error("--listen: expected HOST:PORT, got '" + listen + "'");
    std::string host = listen.substr(0, colon);
    const std::string port = listen.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    if (host == "localhost") host = "127.0.0.1";
    if (host.empty()) host = "0.0.0.0";
    beast::error_code ec;
    const auto addr = asio::ip::make_address(host, ec);
    if (ec) throw startup_error("--listen: '" + host + "' is not an IP address");
    char* end = nullptr;
    const unsigned long p = std::strtoul(port.c_str(), &end, 10);
    if (port.empty() || *end != '\0' || p > 65535)
        throw startup_error("--listen: '" + port + "' is not a port");
    return {addr, static_cast<unsigned short>(p)};
}

std::string read_token(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw startup_error("--token-file: cannot read '" + path + "'");
    std::string token((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back())))
        token.pop_back();
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.front())))
        token.erase(0, 1);
    if (token.size() < 16)
        throw startup_error("--token-file: the token must be at least 16 characters");
    return token;
}

}  // namespace

int run(const options& opt) {
    (void)check_url(opt.db_url);
    if (opt.max_imports == 0 || opt.max_queue == 0 || opt.io_threads == 0)
        throw startup_error("--max-imports, --max-queue and the I/O threads must be at least 1");
    const tcp::endpoint at = parse_listen(opt.listen);
    std::string token;
    if (!opt.token_file.empty()) token = read_token(opt.token_file);
    if (!at.address().is_loopback() && token.empty())
        throw startup_error("--listen " + opt.listen +
                            " is not loopback: give --token-file, so that only clients with the "
                            "token can import");

    asio::io_context ioc(static_cast<int>(opt.io_threads));
    auto s = std::make_shared<server>(ioc, opt, std::move(token));
    s->acceptor.open(at.protocol());
    s->acceptor.set_option(asio::socket_base::reuse_address(true));
    s->acceptor.bind(at);
    s->acceptor.listen(asio::socket_base::max_listen_connections);
    const auto bound = s->acceptor.local_endpoint();
    const std::string host = bound.address().is_v6() ? "[" + bound.address().to_string() + "]"
                                                     : bound.address().to_string();
    if (opt.on_listening) opt.on_listening("http://" + host + ":" + std::to_string(bound.port()));

    // One strand for the acceptor's two users: the accept loop and the shutdown that closes it.
    auto acceptor_strand = asio::make_strand(ioc);
    weft::spawn(acceptor_strand, shutdown_on_signal(s));
    weft::spawn(acceptor_strand, accept_loop(s));
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < opt.io_threads; ++i) threads.emplace_back([&ioc] { ioc.run(); });
    ioc.run();
    for (auto& t : threads) t.join();
    // Every import has ended (the shutdown waited for them); join the pool's threads.
    s->pool.shutdown();
    return 0;
}

}  // namespace weft_import::serve
