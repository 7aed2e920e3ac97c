// weft-chat's server in-process, over loopback sockets: the room runs on an io_context driven by
// two threads (so the sessions' strands matter), the clients are plain POSIX sockets, and every
// wait has a limit (chat_client.hpp) under a watchdog.
#include "chat_client.hpp"
#include "chat_server.hpp"

#include <doctest/doctest.h>
#include <weft/context.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace net = boost::asio;
using chat_test::client;

namespace {

// A chat::server on 127.0.0.1 (an ephemeral port) run by `threads` threads until stop().
class running_room {
public:
    explicit running_room(chat::options o = {}, int threads = 2)
        : server_(ioc_, {net::ip::make_address("127.0.0.1"), 0}, o) {
        server_.start(ctx_.ctx);
        for (int t = 0; t < threads; ++t) threads_.emplace_back([this] { ioc_.run(); });
    }
    running_room(const running_room&) = delete;
    running_room& operator=(const running_room&) = delete;
    ~running_room() { stop(); }

    unsigned short port() const { return server_.port(); }
    chat::stats stats() const { return server_.snapshot(); }

    // Cancels the server's context and returns once every thread's run() returned: the
    // acceptor and every session have ended.
    void stop() {
        ctx_.cancel();
        for (auto& t : threads_) t.join();
        threads_.clear();
    }

private:
    net::io_context ioc_;
    weft::cancelable<weft::cancel_func> ctx_ = weft::with_cancel(weft::background());
    chat::server server_;
    std::vector<std::thread> threads_;
};

std::vector<client*> raw(const std::vector<std::unique_ptr<client>>& cs) {
    std::vector<client*> r;
    for (const auto& c : cs) r.push_back(c.get());
    return r;
}

// Connects n clients one after another, each renamed to prefix + its index.
std::vector<std::unique_ptr<client>> members(const running_room& room, int n,
                                             const std::string& prefix,
                                             std::vector<std::string>& nicks) {
    std::vector<std::unique_ptr<client>> cs;
    for (int k = 0; k < n; ++k) {
        nicks.push_back(prefix + std::to_string(k));
        cs.push_back(std::make_unique<client>(room.port()));
        chat_test::join_as(*cs.back(), nicks.back());
    }
    return cs;
}

bool contains(const std::vector<std::string>& lines, const std::string& l) {
    return std::find(lines.begin(), lines.end(), l) != lines.end();
}

}  // namespace

TEST_CASE("every member hears every line in each sender's order, with join and leave notices") {
    weft_test::watchdog w("chat: conversation", std::chrono::seconds(120));
    running_room room;
    std::vector<std::string> nicks;
    auto cs = members(room, 4, "c", nicks);
    // One more member crashes (its kernel resets the connection) in the middle of the talk.
    client crash(room.port());
    chat_test::join_as(crash, "crash");
    const int count = static_cast<int>(weft_test::scale(2000));
    const auto conv =
        chat_test::converse(raw(cs), nicks, raw(cs), count, 8, 0, [&crash] { crash.reset(); });

    for (std::size_t j = 0; j < cs.size(); ++j) {
        for (const auto& nick : nicks) {
            CHECK(chat_test::said_by(conv.heard[j], nick) == chat_test::zero_to(count));
        }
        // The notices of the members that came after j, in the order they happened (guest
        // names follow the order of connection: guest1 is c0).
        std::vector<std::string> notices, want;
        for (const auto& l : conv.heard[j]) {
            if (l.starts_with("* ")) notices.push_back(l);
        }
        for (std::size_t k = j + 1; k <= cs.size(); ++k) {
            const std::string guest = "guest" + std::to_string(k + 1);
            want.push_back("* " + guest + " joined");
            want.push_back("* " + guest + " is now known as " +
                           (k < cs.size() ? nicks[k] : "crash"));
        }
        if (!contains(conv.heard[j], "* crash left")) (void)cs[j]->lines_until("* crash left");
        notices.erase(std::remove(notices.begin(), notices.end(), "* crash left"), notices.end());
        CHECK(notices == want);
    }

    // c3 leaves with /quit: the others hear it, and its connection ends.
    cs[3]->send("/quit");
    CHECK(cs[3]->until_eof().empty());
    for (std::size_t j = 0; j < 3; ++j) CHECK(cs[j]->lines_until("* c3 left").size() == 1);
    // c2's kernel resets the connection (a crash): the others hear it leave, and go on.
    cs[2]->reset();
    for (std::size_t j = 0; j < 2; ++j) CHECK(cs[j]->lines_until("* c2 left").size() == 1);
    const std::vector<client*> rest{cs[0].get(), cs[1].get()};
    const std::vector<std::string> rest_nicks{"c0", "c1"};
    const auto after = chat_test::converse(rest, rest_nicks, rest, 50, 8);
    for (const auto& heard : after.heard) {
        CHECK(chat_test::said_by(heard, "c0") == chat_test::zero_to(50));
        CHECK(chat_test::said_by(heard, "c1") == chat_test::zero_to(50));
    }

    room.stop();
    CHECK(cs[0]->until_eof().empty());
    CHECK(cs[1]->until_eof().empty());
    const auto s = room.stats();
    CHECK(s.sessions == 5);
    CHECK(s.active == 0);
    CHECK(s.messages == static_cast<std::uint64_t>(4 * count + 2 * 50));
    CHECK(s.too_slow == 0);
}

TEST_CASE(
    "commands: replies reach the sender alone; a nick is unique; an overlong line ends "
    "the session") {
    weft_test::watchdog w("chat: commands");
    running_room room({.max_line = 64});
    client a(room.port());
    chat_test::join_as(a, "ann");
    client b(room.port());
    chat_test::join_as(b, "bob");
    CHECK(a.lines_until("* guest2 is now known as bob") ==
          std::vector<std::string>{"* guest2 joined", "* guest2 is now known as bob"});

    a.send("/nick bob");
    CHECK(a.line() == "* nick taken: bob");
    a.send("/nick *x");
    CHECK(a.line() == "* invalid nick: *x");
    a.send("/frob");
    CHECK(a.line() == "* unknown command: /frob");
    a.send("/nick ann");  // its own name: nothing happens
    a.send("done");
    CHECK(a.line() == "<ann> done");
    CHECK(b.line() == "<ann> done");  // none of ann's replies

    a.send("/nick anna");
    CHECK(a.line() == "* ann is now known as anna");
    CHECK(b.line() == "* ann is now known as anna");
    b.send("/nick ann");  // free again
    CHECK(a.line() == "* bob is now known as ann");
    CHECK(b.line() == "* bob is now known as ann");

    client c(room.port());
    chat_test::join_as(c, "carl");
    (void)a.lines_until("* guest3 is now known as carl");
    c.send_raw(std::string(100, 'x'));  // no newline within max_line
    CHECK(c.until_eof().empty());
    CHECK(a.line() == "* carl left");
    room.stop();
    CHECK(room.stats().messages == 1);
}

TEST_CASE("a member that stops reading is cut off at once; the others go on at full speed") {
    weft_test::watchdog w("chat: slow member", std::chrono::seconds(120));
    // Small socket buffers: a client that stops reading holds up its writer after about 200
    // lines of 100 bytes; 256 more fill its subscription. That many is more than a writer that
    // can write ever lags, so the member is cut off only once its writer is stuck.
    running_room room({.buffer = 256, .send_buffer = 4096});
    client slow(room.port(), 4096);
    chat_test::join_as(slow, "slow");
    std::vector<std::string> nicks;
    auto fast = members(room, 3, "f", nicks);
    const int count = 1000;  // 3,000 lines: several times what fills the slow member
    const auto conv = chat_test::converse(raw(fast), nicks, raw(fast), count, 8, 100);

    for (std::size_t j = 0; j < fast.size(); ++j) {
        for (const auto& nick : nicks) {
            CHECK(chat_test::said_by(conv.heard[j], nick) == chat_test::zero_to(count));
        }
        if (!contains(conv.heard[j], "* slow left (too slow)")) {
            (void)fast[j]->lines_until("* slow left (too slow)");
        }
    }
    CHECK(room.stats().too_slow == 1);
    CHECK(room.stats().active == 3);
    // The slow client gets what its buffers held, in order and without a hole, then the end.
    const auto got = slow.until_eof();
    for (const auto& nick : nicks) {
        const auto seq = chat_test::said_by(got, nick);
        CHECK(seq == chat_test::zero_to(static_cast<int>(seq.size())));
        CHECK(seq.size() < static_cast<std::size_t>(count));
    }
    room.stop();
    CHECK(room.stats().active == 0);
}

TEST_CASE("128 members at once") {
    weft_test::watchdog w("chat: 128 members", std::chrono::seconds(240));
    running_room room({.buffer = 1024});
    std::vector<std::string> nicks;
    auto cs = members(room, 128, "m", nicks);
    const int count = static_cast<int>(weft_test::scale(20));
    const auto conv = chat_test::converse(raw(cs), nicks, raw(cs), count, 2);
    for (std::size_t j = 0; j < cs.size(); ++j) {
        for (const auto& nick : nicks) {
            REQUIRE(chat_test::said_by(conv.heard[j], nick) == chat_test::zero_to(count));
        }
    }
    CHECK(room.stats().active == 128);
    room.stop();
    for (auto& c : cs) CHECK(c->until_eof().empty());
    CHECK(room.stats().sessions == 128);
    CHECK(room.stats().active == 0);
}

TEST_CASE("canceling the context ends every session: idle, mid-line, and stuck in a write") {
    weft_test::watchdog w("chat: shutdown", std::chrono::seconds(120));
    // A backlog too large to cut anyone off: the stuck member's writer stays stuck.
    running_room room({.buffer = 100000, .send_buffer = 4096});
    client stuck(room.port(), 4096);
    chat_test::join_as(stuck, "stuck");
    std::vector<std::string> nicks;
    auto cs = members(room, 3, "s", nicks);
    cs[2]->send_raw("half a line");
    const std::vector<client*> talker{cs[0].get()};
    const std::vector<std::string> talker_nick{nicks[0]};
    (void)chat_test::converse(talker, talker_nick, raw(cs), 1000, 8, 100);
    CHECK(room.stats().active == 4);
    CHECK(room.stats().too_slow == 0);

    room.stop();  // returns only once every session ended
    for (auto& c : cs) (void)c->until_eof();
    const auto got = stuck.until_eof();
    const auto seq = chat_test::said_by(got, nicks[0]);
    CHECK(seq == chat_test::zero_to(static_cast<int>(seq.size())));
    CHECK(seq.size() < 1000);  // it was stuck, not merely slow
    CHECK(room.stats().active == 0);
    CHECK(room.stats().too_slow == 0);
    // The acceptor is closed too.
    CHECK_THROWS_AS(client(room.port()), std::system_error);
}
