// weft-chat's server: see chat_server.hpp for the design.
#include "chat_server.hpp"

#include <weft/asio.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace chat {

namespace net = boost::asio;
using net::awaitable;
using net::use_awaitable;
using net::ip::tcp;
using namespace net::experimental::awaitable_operators;

struct server::state {
    state(net::io_context& io, const tcp::endpoint& at, options o)
        : ioc(io), acceptor(net::make_strand(io)), opt(o) {
        acceptor.open(at.protocol());
        acceptor.set_option(tcp::acceptor::reuse_address(true));
        acceptor.bind(at);
        acceptor.listen();
    }

    // A member of the room: what the publishers need to cut it off.
    struct member {
        std::string nick;
        const weft::subscription<line>* sub;
        weft::cancel_func cancel;
    };

    // Registers a new member under a fresh guest name and returns its id and name.
    std::pair<std::uint64_t, std::string> join(const weft::subscription<line>& sub,
                                               weft::cancel_func cancel) {
        std::lock_guard lock(mutex);
        const std::uint64_t id = next_id++;
        std::string nick = "guest" + std::to_string(id);
        while (taken(nick)) nick += '_';  // someone renamed themselves to it
        members.emplace(id, member{nick, &sub, std::move(cancel)});
        return {id, nick};
    }
    bool rename(std::uint64_t id, const std::string& nick) {
        std::lock_guard lock(mutex);
        if (taken(nick)) return false;
        members.at(id).nick = nick;
        return true;
    }
    // Before the member's subscription is destroyed: publishers no longer look at it.
    void leave(std::uint64_t id) {
        std::lock_guard lock(mutex);
        members.erase(id);
    }

    // Publishes to every member. The hub never waits (every member is under the disconnect
    // policy); a member it disconnected has a writer stuck on a full socket, which only the
    // member's context can abort: cancel it, after the lock is released.
    void say(std::string text) {
        text += '\n';
        const auto r = room.publish(std::make_shared<const std::string>(std::move(text)));
        if (r.disconnected == 0) return;
        std::vector<weft::cancel_func> cut_off;
        {
            std::lock_guard lock(mutex);
            for (const auto& [id, m] : members) {
                if (m.sub->disconnected()) cut_off.push_back(m.cancel);
            }
        }
        for (const auto& cancel : cut_off) cancel();
    }

    net::io_context& ioc;
    tcp::acceptor acceptor;  // used on its strand only
    const options opt;
    weft::broadcast<line> room;
    // Relaxed: counters read as a snapshot; they order nothing.
    std::atomic<std::uint64_t> sessions{0}, active{0}, messages{0}, too_slow{0};

private:
    bool taken(const std::string& nick) const {
        for (const auto& [id, m] : members) {
            if (m.nick == nick) return true;
        }
        return false;
    }

    std::mutex mutex;
    std::unordered_map<std::uint64_t, member> members;  // guarded by mutex
    std::uint64_t next_id = 1;                          // guarded by mutex
};

namespace {

bool valid_nick(std::string_view n) {
    if (n.empty() || n.size() > 32) return false;
    for (char ch : n) {
        auto c = static_cast<unsigned char>(ch);
        if (c <= ' ' || c == 0x7f) return false;
    }
    return n[0] != '*' && n[0] != '<';  // would read like a notice or a message
}

// What the three coroutines of one session share; it lives in session()'s frame, which
// outlives them.
struct session_state {
    session_state(std::shared_ptr<server::state> s, tcp::socket so,
                  weft::cancelable<weft::cancel_func> c)
        : st(std::move(s)),
          sock(std::move(so)),
          ctx(std::move(c.ctx)),
          cancel(std::move(c.cancel)) {}

    std::shared_ptr<server::state> st;
    tcp::socket sock;
    weft::context ctx;
    weft::cancel_func cancel;
    std::uint64_t id = 0;
    std::string nick;
    weft::channel<line> replies{8};  // lines for this member only, from its reader to its writer
};

// Sends a line to this member alone; gives up when the session ends.
awaitable<void> reply(session_state& s, std::string text) {
    text += '\n';
    (void)co_await weft::async_select(
        use_awaitable,
        weft::on_send(s.replies, std::make_shared<const std::string>(std::move(text)), [] {}),
        weft::on_receive(s.ctx.done(), [] {}));
}

// Socket lines -> the room (or a reply). Ends the session at the end of input, on /quit or an
// error, or when the closer closed the socket.
awaitable<void> read_lines(session_state& s) {
    std::string buf;
    for (;;) {
        auto [ec, n] =
            co_await net::async_read_until(s.sock, net::dynamic_buffer(buf, s.st->opt.max_line),
                                           '\n', net::as_tuple(use_awaitable));
        if (ec) break;
        std::string text = buf.substr(0, n - 1);
        buf.erase(0, n);
        if (!text.empty() && text.back() == '\r') text.pop_back();
        if (text == "/quit") break;
        if (text.starts_with("/nick ")) {
            std::string nick = text.substr(6);
            if (!valid_nick(nick)) {
                co_await reply(s, "* invalid nick: " + nick);
            } else if (nick != s.nick && !s.st->rename(s.id, nick)) {
                co_await reply(s, "* nick taken: " + nick);
            } else if (nick != s.nick) {
                s.st->say("* " + s.nick + " is now known as " + nick);
                s.nick = std::move(nick);
            }
        } else if (text.starts_with('/')) {
            co_await reply(s, "* unknown command: " + text);
        } else if (!text.empty()) {
            s.st->messages.fetch_add(1, std::memory_order_relaxed);
            s.st->say("<" + s.nick + "> " + text);
        }
    }
    s.cancel();
}

// The member's subscription and replies -> the socket, until the session's context ends or
// the hub disconnects the member. What is already buffered goes out in one write: a writer that
// wrote line by line would be the room's bottleneck, one system call per line per member.
awaitable<void> write_lines(session_state& s, weft::receiver<line> sub) {
    constexpr std::size_t max_batch = 64;
    std::vector<line> batch;
    std::vector<net::const_buffer> buffers;
    for (;;) {
        batch.clear();
        const auto take = [&batch](std::optional<line> l) {
            if (l) batch.push_back(std::move(*l));
        };
        co_await weft::async_select(use_awaitable, weft::on_receive(sub, take),
                                    weft::on_receive(s.replies, take),
                                    weft::on_receive(s.ctx.done(), [] {}));
        if (batch.empty()) break;  // the context ended, or the subscription did
        while (batch.size() < max_batch) {
            auto more = sub.try_receive();
            if (!more) break;
            batch.push_back(std::move(*more));
        }
        buffers.clear();
        for (const auto& l : batch) buffers.push_back(net::buffer(*l));
        auto [ec, n] = co_await net::async_write(s.sock, buffers, net::as_tuple(use_awaitable));
        if (ec) break;
    }
    s.cancel();
}

// Go's `<-ctx.Done(); conn.Close()`: closing the socket aborts the pending read and write.
awaitable<void> close_on_done(session_state& s) {
    (void)co_await s.ctx.done().async_receive(use_awaitable);
    boost::system::error_code ignored;
    s.sock.shutdown(tcp::socket::shutdown_both, ignored);
    s.sock.close(ignored);
}

awaitable<void> session(std::shared_ptr<server::state> st, tcp::socket sock,
                        weft::context server_ctx) {
    session_state s(st, std::move(sock), weft::with_cancel(server_ctx));
    auto sub =
        st->room.subscribe({.capacity = st->opt.buffer, .policy = weft::slow_policy::disconnect});
    std::tie(s.id, s.nick) = st->join(sub, s.cancel);
    st->say("* " + s.nick + " joined");  // after subscribe: the member sees it too

    co_await (read_lines(s) && write_lines(s, sub.rx()) && close_on_done(s));

    st->leave(s.id);
    const bool slow = sub.disconnected();
    if (slow) st->too_slow.fetch_add(1, std::memory_order_relaxed);
    st->active.fetch_sub(1, std::memory_order_relaxed);  // before a member can hear it left
    if (!server_ctx.err()) st->say("* " + s.nick + " left" + (slow ? " (too slow)" : ""));
}

awaitable<void> accept_loop(std::shared_ptr<server::state> st, weft::context ctx) {
    for (;;) {
        auto [ec, sock] = co_await st->acceptor.async_accept(net::make_strand(st->ioc),
                                                             net::as_tuple(use_awaitable));
        if (ctx.err()) break;  // the closer closed the acceptor
        if (ec) {              // out of descriptors, a connection reset before accept, ...
            net::steady_timer pause(co_await net::this_coro::executor,
                                    std::chrono::milliseconds(50));
            (void)co_await pause.async_wait(net::as_tuple(use_awaitable));
            continue;
        }
        boost::system::error_code ignored;
        sock.set_option(tcp::no_delay(true), ignored);
        if (st->opt.send_buffer > 0) {
            sock.set_option(net::socket_base::send_buffer_size(st->opt.send_buffer), ignored);
        }
        st->sessions.fetch_add(1, std::memory_order_relaxed);
        st->active.fetch_add(1, std::memory_order_relaxed);
        auto ex = sock.get_executor();
        net::co_spawn(ex, session(st, std::move(sock), ctx), net::detached);
    }
}

awaitable<void> close_acceptor_on_done(std::shared_ptr<server::state> st, weft::context ctx) {
    (void)co_await ctx.done().async_receive(use_awaitable);
    boost::system::error_code ignored;
    st->acceptor.close(ignored);
}

}  // namespace

server::server(net::io_context& ioc, const tcp::endpoint& at, options o)
    : state_(std::make_shared<state>(ioc, at, o)),
      port_(state_->acceptor.local_endpoint().port()) {}

server::~server() = default;

unsigned short server::port() const noexcept { return port_; }

void server::start(const weft::context& ctx) {
    auto ex = state_->acceptor.get_executor();
    net::co_spawn(ex, accept_loop(state_, ctx), net::detached);
    net::co_spawn(ex, close_acceptor_on_done(state_, ctx), net::detached);
}

stats server::snapshot() const {
    stats r;
    r.sessions = state_->sessions.load(std::memory_order_relaxed);
    r.active = state_->active.load(std::memory_order_relaxed);
    r.messages = state_->messages.load(std::memory_order_relaxed);
    r.too_slow = state_->too_slow.load(std::memory_order_relaxed);
    return r;
}

}  // namespace chat
