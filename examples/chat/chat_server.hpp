// weft-chat's server: a TCP chat room on Boost.Asio coroutines whose sessions talk through weft
// channels, a weft::broadcast hub and weft::async_select, and end with a weft context.
//
//     boost::asio::io_context ioc;
//     auto [ctx, cancel] = weft::with_cancel(weft::background());
//     chat::server room(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0}, {});
//     room.start(ctx);     // accepts until ctx is canceled
//     ioc.run();           // returns once the acceptor and every session have ended
//
// The protocol is lines of text. A line from a client is said to the room: every member,
// its sender too, gets "<nick> text". "/nick NAME" renames (unique names), "/quit" leaves;
// the room sees "* NAME joined", "* OLD is now known as NEW", "* NAME left". Replies meant for
// one member ("* nick taken") go to it alone.
//
// Each session is three coroutines on its own strand, and one weft context that ends them all:
// - the reader turns socket lines into hub publishes (or replies on the session's own channel);
// - the writer selects over its subscription, its replies and the context's done() and writes
//   what it got to the socket;
// - the closer waits for done() and closes the socket, which aborts a pending read or write.
// Whatever ends first (end of input, /quit, a socket error, the subscription disconnected,
// the server's context) cancels the session's context, and the other two follow.
//
// Slow members: each subscription holds `options::buffer` lines under
// weft::slow_policy::disconnect. A member whose writer is that many lines behind (its client
// does not read, so the socket's buffers are full and the write is stuck) is cut off at the
// next publish: the publisher never waits, so the room goes on at full speed, and the member's
// session is canceled at once. Dropping lines with a counter instead would leave the member a
// transcript with holes that it cannot see; a closed connection is unambiguous, and a client
// can reconnect.
//
// @par Thread safety
// start() once; stats() and port() from any thread. The io_context may be run by any number
// of threads: each session and the acceptor run on a strand of their own.
#pragma once

#include <weft/broadcast.hpp>
#include <weft/context.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace chat {

// One line of the room, shared by every subscriber's copy (broadcast copies values).
using line = std::shared_ptr<const std::string>;

struct options {
    std::size_t buffer = 256;     // lines a member may fall behind before it is cut off
    std::size_t max_line = 4096;  // longest input line, in bytes; longer ends the session
    int send_buffer = 0;          // SO_SNDBUF of each connection in bytes; 0: the system's
};

// Counters since start(): a snapshot.
struct stats {
    std::uint64_t sessions = 0;  // connections accepted
    std::uint64_t active = 0;    // sessions not yet ended
    std::uint64_t messages = 0;  // lines said to the room
    std::uint64_t too_slow = 0;  // sessions cut off because their buffer was full
};

class server {
public:
    // Binds and listens on `at` (port 0: an ephemeral port, see port()). Throws
    // boost::system::system_error when it cannot.
    server(boost::asio::io_context& ioc, const boost::asio::ip::tcp::endpoint& at, options o);
    server(const server&) = delete;
    server& operator=(const server&) = delete;
    ~server();

    unsigned short port() const noexcept;

    // Accepts connections on the io_context until `ctx` is canceled; then closes the acceptor
    // and every session. The io_context then runs out of work: run() returns.
    void start(const weft::context& ctx);

    stats snapshot() const;

    struct state;

private:
    std::shared_ptr<state> state_;
    unsigned short port_;
};

}  // namespace chat
