// Tests for weft/channel.hpp: every flavor (rendezvous, bounded, unbounded), every verb, close
// while blocked, timeouts, move-only values, values handed back on failure.
#include <weft/channel.hpp>
#include <weft/context.hpp>
#include <weft/select.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <limits>
#include <memory>
#include <optional>
#include <ratio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

using namespace std::chrono_literals;
using weft::op_status;

namespace {

// A value that is not default constructible and counts its live instances, to catch a value
// destroyed twice or leaked.
struct tracked {
    static inline std::atomic<int> live{0};
    int v;
    explicit tracked(int x) : v(x) { ++live; }
    tracked(const tracked& o) : v(o.v) { ++live; }
    tracked(tracked&& o) noexcept : v(o.v) { ++live; }
    tracked& operator=(const tracked&) = default;
    tracked& operator=(tracked&&) = default;
    ~tracked() { --live; }
};

}  // namespace

TEST_CASE("a buffered channel is a FIFO of its capacity") {
    weft::channel<int> ch(3);
    CHECK(ch.capacity() == 3);
    CHECK(ch.size() == 0);
    CHECK(ch.try_send(1));
    CHECK(ch.try_send(2));
    CHECK(ch.try_send(3));
    CHECK(ch.size() == 3);
    auto full = ch.try_send(4);
    CHECK(full.status == op_status::full);
    REQUIRE(full.value);
    CHECK(*full.value == 4);  // handed back
    CHECK(*ch.receive() == 1);
    CHECK(*ch.receive() == 2);
    CHECK(ch.try_send(5));
    CHECK(*ch.receive() == 3);
    CHECK(*ch.receive() == 5);
    auto empty = ch.try_receive();
    CHECK(empty.status == op_status::empty);
    CHECK(!empty.value);
}

TEST_CASE("the ring wraps around many laps") {
    weft::channel<int> ch(7);
    int next_in = 0, next_out = 0;
    for (int round = 0; round < 1000; ++round) {
        int k = round % 7 + 1;
        for (int i = 0; i < k; ++i) REQUIRE(ch.try_send(next_in++));
        for (int i = 0; i < k; ++i) REQUIRE(*ch.receive() == next_out++);
    }
    CHECK(ch.size() == 0);
}

TEST_CASE("a rendezvous channel blocks the sender until a receiver takes the value") {
    WEFT_WATCHDOG();
    weft::channel<int> ch(0);
    CHECK(ch.capacity() == 0);
    CHECK(ch.try_send(1).status == op_status::full);  // no receiver waiting
    CHECK(ch.try_receive().status == op_status::empty);
    std::atomic<bool> sent{false};
    std::thread t([&] {
        CHECK(ch.send(42));
        sent = true;
    });
    std::this_thread::sleep_for(20ms);
    CHECK_FALSE(sent.load());  // still waiting for a receiver
    CHECK(*ch.receive() == 42);
    t.join();
    CHECK(sent.load());
}

TEST_CASE("try_send on a rendezvous channel succeeds when a receiver waits") {
    WEFT_WATCHDOG();
    weft::channel<int> ch(0);
    std::optional<int> got;
    std::thread t([&] { got = ch.receive(); });
    // The receiver may not be waiting yet: retry until it is.
    for (int v = 7;;) {
        auto r = ch.try_send(v);
        if (r) break;
        REQUIRE(r.status == op_status::full);
        std::this_thread::yield();
    }
    t.join();
    CHECK(got == 7);
}

TEST_CASE("close wakes blocked receivers and keeps buffered values receivable") {
    WEFT_WATCHDOG();
    SUBCASE("buffered, drained first") {
        weft::channel<int> ch(4);
        CHECK(ch.try_send(1));
        CHECK(ch.try_send(2));
        CHECK(ch.close());
        CHECK_FALSE(ch.close());  // idempotent, and tells
        CHECK(ch.is_closed());
        CHECK(ch.send(3).status == op_status::closed);
        CHECK(*ch.receive() == 1);
        CHECK(*ch.receive() == 2);
        CHECK(!ch.receive());
        CHECK(ch.try_receive().status == op_status::closed);
    }
    for (std::size_t cap : {std::size_t{0}, std::size_t{1}, std::size_t{8}}) {
        CAPTURE(cap);
        weft::channel<int> ch(cap);
        std::vector<std::thread> ts;
        std::atomic<int> woke{0};
        for (int i = 0; i < 4; ++i) {
            ts.emplace_back([&] {
                CHECK(!ch.receive());
                ++woke;
            });
        }
        std::this_thread::sleep_for(20ms);
        CHECK(woke.load() == 0);
        CHECK(ch.close());
        for (auto& t : ts) t.join();
        CHECK(woke.load() == 4);
    }
}

TEST_CASE("close wakes blocked senders and hands their values back") {
    WEFT_WATCHDOG();
    for (std::size_t cap : {std::size_t{0}, std::size_t{1}}) {
        CAPTURE(cap);
        weft::channel<std::unique_ptr<int>> ch(cap);
        if (cap) REQUIRE(ch.try_send(std::make_unique<int>(0)));  // now full
        std::vector<std::thread> ts;
        std::atomic<int> back{0};
        for (int i = 1; i <= 3; ++i) {
            ts.emplace_back([&, i] {
                auto r = ch.send(std::make_unique<int>(i));
                CHECK(r.status == op_status::closed);
                REQUIRE(r.value);
                REQUIRE(*r.value);
                CHECK(**r.value == i);
                ++back;
            });
        }
        std::this_thread::sleep_for(20ms);
        CHECK(ch.close());
        for (auto& t : ts) t.join();
        CHECK(back.load() == 3);
        if (cap) {
            auto v = ch.receive();  // the buffered value survives the close
            REQUIRE(v);
            CHECK(**v == 0);
        }
        CHECK(!ch.receive());
    }
}

TEST_CASE("range-for receives until closed and drained") {
    WEFT_WATCHDOG();
    for (std::size_t cap : {std::size_t{0}, std::size_t{3}}) {
        weft::channel<int> ch(cap);
        std::thread t([&] {
            for (int i = 0; i < 100; ++i) REQUIRE(ch.send(i));
            ch.close();
        });
        int expect = 0;
        for (int v : ch) CHECK(v == expect++);
        CHECK(expect == 100);
        t.join();
    }
}

TEST_CASE("unbounded channel never blocks the sender") {
    WEFT_WATCHDOG();
    auto ch = weft::channel<int>::unbounded();
    CHECK(ch.capacity() == std::numeric_limits<std::size_t>::max());
    for (int i = 0; i < 100000; ++i) REQUIRE(ch.try_send(i));
    CHECK(ch.size() == 100000);
    for (int i = 0; i < 100000; ++i) REQUIRE(*ch.receive() == i);
    std::thread t([&] {
        std::this_thread::sleep_for(10ms);
        CHECK(ch.send(5));
    });
    CHECK(*ch.receive() == 5);  // blocked receive woken by a send
    t.join();
    ch.close();
    CHECK(ch.send(1).status == op_status::closed);
    CHECK(!ch.receive());
}

TEST_CASE("timed operations time out and hand the value back") {
    WEFT_WATCHDOG();
    for (std::size_t cap : {std::size_t{0}, std::size_t{1}}) {
        CAPTURE(cap);
        weft::channel<std::string> ch(cap);
        if (cap) REQUIRE(ch.try_send("fill"));
        auto t0 = std::chrono::steady_clock::now();
        auto r = ch.send_for(std::string("late"), 30ms);
        auto waited = std::chrono::steady_clock::now() - t0;
        CHECK(r.status == op_status::timeout);
        REQUIRE(r.value);
        CHECK(*r.value == "late");
        CHECK(waited >= 30ms);
        auto r2 = ch.send_until(std::string("later"), std::chrono::system_clock::now() + 10ms);
        CHECK(r2.status == op_status::timeout);
        CHECK(r2.value == "later");
    }
    weft::channel<int> ch(0);
    auto t0 = std::chrono::steady_clock::now();
    auto r = ch.receive_for(30ms);
    CHECK(r.status == op_status::timeout);
    CHECK(std::chrono::steady_clock::now() - t0 >= 30ms);
    CHECK(ch.receive_until(std::chrono::steady_clock::now() - 1s).status == op_status::timeout);
    // A huge timeout saturates instead of overflowing into the past.
    std::thread t([&] {
        std::this_thread::sleep_for(10ms);
        CHECK(ch.send(9));
    });
    auto got = ch.receive_for(std::chrono::hours::max());
    CHECK(got.status == op_status::ok);
    CHECK(*got == 9);
    t.join();
}

TEST_CASE("a value handed over in a timed operation is never also reported as timed out") {
    WEFT_WATCHDOG();
    // Races the deadline against the hand-off: every value is either received or handed back.
    const int n = static_cast<int>(weft_test::scale(2000));
    weft::channel<int> ch(0);
    std::atomic<long> received{0}, returned{0};
    std::thread rx([&] {
        for (;;) {
            auto r = ch.receive_for(std::chrono::microseconds(50));
            if (r.status == op_status::closed) break;
            if (r) received += *r;
        }
    });
    long sent_sum = 0;
    for (int i = 1; i <= n; ++i) {
        auto r = ch.send_for(i, std::chrono::microseconds(30));
        if (r) {
            sent_sum += i;
        } else {
            REQUIRE(r.status == op_status::timeout);
            REQUIRE(r.value == i);
            returned += i;
        }
    }
    ch.close();
    rx.join();
    CHECK(received.load() == sent_sum);
    CHECK(received.load() + returned.load() == long{n} * (n + 1) / 2);
}

TEST_CASE("move-only values and types without a default constructor") {
    WEFT_WATCHDOG();
    {
        weft::channel<tracked> ch(2);
        CHECK(ch.try_send(tracked(1)));
        CHECK(ch.try_send(tracked(2)));
        auto back = ch.try_send(tracked(3));
        CHECK(back.status == op_status::full);
        CHECK(back.value->v == 3);
        CHECK(ch.receive()->v == 1);
        // One value left in the buffer: destroyed with the channel, exactly once.
    }
    CHECK(tracked::live.load() == 0);
    {
        auto ch = weft::channel<tracked>::unbounded();
        for (int i = 0; i < 10; ++i) CHECK(ch.try_send(tracked(i)));
    }
    CHECK(tracked::live.load() == 0);
    weft::channel<std::unique_ptr<int>> ch(0);
    std::thread t([&] { CHECK(ch.send(std::make_unique<int>(5))); });
    auto p = ch.receive();
    REQUIRE(p);
    CHECK(**p == 5);
    t.join();
}

TEST_CASE("sender and receiver views share the channel") {
    weft::channel<int> ch(1);
    weft::sender<int> tx = ch;
    weft::receiver<int> rx = ch;
    CHECK(tx == ch);
    CHECK(rx == ch);
    CHECK(tx.try_send(3));
    CHECK(rx.size() == 1);
    CHECK(*rx.receive() == 3);
    CHECK(tx.close());
    CHECK(rx.is_closed());
    weft::channel<int> other(1);
    CHECK_FALSE(weft::sender<int>(other) == tx);
}

TEST_CASE("the nil channel blocks forever and never succeeds") {
    WEFT_WATCHDOG();
    weft::channel<int> nil;
    CHECK_FALSE(nil);
    CHECK(nil == weft::channel<int>());
    CHECK(nil.try_send(1).status == op_status::full);
    CHECK(nil.try_receive().status == op_status::empty);
    CHECK(nil.send_for(1, 10ms).status == op_status::timeout);
    CHECK(nil.receive_for(10ms).status == op_status::timeout);
    CHECK_FALSE(nil.close());
    CHECK(nil.size() == 0);
    CHECK(nil.capacity() == 0);
}

TEST_CASE("blocked receivers are served in order of arrival") {
    WEFT_WATCHDOG();
    weft::channel<int> ch(0);
    std::vector<int> got(3, -1);
    std::vector<std::thread> ts;
    for (int i = 0; i < 3; ++i) {
        ts.emplace_back([&, i] { got[static_cast<std::size_t>(i)] = *ch.receive(); });
        std::this_thread::sleep_for(20ms);  // let receiver i block before i + 1 arrives
    }
    for (int v = 0; v < 3; ++v) CHECK(ch.send(v));
    for (auto& t : ts) t.join();
    CHECK(got == std::vector<int>{0, 1, 2});
}

TEST_CASE("what a thread wrote before close() is visible to whoever sees the close") {
    WEFT_WATCHDOG();
    // Go's memory model: a close happens before a receive that returns because of it. Under
    // ThreadSanitizer a missing synchronisation here is reported as a race on `data`.
    for (std::size_t cap : {std::size_t{0}, std::size_t{4}}) {
        for (bool blocking : {false, true}) {
            weft::channel<int> ch(cap);
            int data = 0;
            std::thread t([&] {
                data = 42;
                ch.close();
            });
            if (blocking) {
                CHECK(!ch.receive());
            } else {
                while (ch.try_receive().status != op_status::closed) std::this_thread::yield();
            }
            CHECK(data == 42);
            t.join();
        }
    }
    auto u = weft::channel<int>::unbounded();
    int data = 0;
    std::thread t([&] {
        data = 7;
        u.close();
    });
    while (u.try_receive().status != op_status::closed) std::this_thread::yield();
    CHECK(data == 7);
    t.join();
}

TEST_CASE("every verb works on a const handle captured by a lambda that is not mutable") {
    WEFT_WATCHDOG();
    const weft::channel<int> ch(4);
    const weft::sender<int> tx = ch;
    const weft::receiver<int> rx = ch;
    // Each lambda is const-callable: the captured copies are const inside it.
    auto sends = [tx] {
        CHECK(tx.send(1));
        CHECK(tx.try_send(2));
        CHECK(tx.send_for(3, 1s));
        CHECK(tx.send_until(4, std::chrono::steady_clock::now() + 1s));
        CHECK(tx.try_send(5).status == op_status::full);
    };
    sends();
    auto receives = [rx] {
        CHECK(*rx.receive() == 1);
        CHECK(*rx.try_receive() == 2);
        CHECK(*rx.receive_for(1s) == 3);
        CHECK(*rx.receive_until(std::chrono::system_clock::now() + 1s) == 4);
        CHECK(rx.try_receive().status == op_status::empty);
    };
    receives();
    auto both = [ch] {
        CHECK(ch.send(6));
        CHECK(*ch.receive() == 6);
        CHECK(ch.try_send(7));
        CHECK(ch.close());
        CHECK_FALSE(ch.close());
        std::vector<int> seen;
        for (int v : ch) seen.push_back(v);  // begin()/end() on a const handle
        CHECK(seen == std::vector<int>{7});
    };
    both();
    auto closed = [tx, rx] {
        CHECK(tx.send(8).status == op_status::closed);
        CHECK(rx.receive_for(1ms).status == op_status::closed);
        CHECK_FALSE(tx.close());
    };
    closed();
}

TEST_CASE("a capacity no allocation could hold throws length_error, before allocating") {
    constexpr std::size_t max = std::numeric_limits<std::size_t>::max();
    constexpr std::size_t two63 = std::size_t{1} << 63;
    // Used to hang in next_pow2 (2^63 < n) or throw std::bad_array_new_length.
    for (std::size_t n : {max, max - 1, two63, two63 + 1, two63 - 1, static_cast<std::size_t>(-1),
                          static_cast<std::size_t>(-2), weft::channel<int>::max_capacity() + 1}) {
        CAPTURE(n);
        CHECK_THROWS_WITH_AS(weft::channel<int>{n}, "weft::channel: capacity out of range",
                             std::length_error);
    }
    CHECK_THROWS_AS(weft::channel<int>{static_cast<std::size_t>(-2)}, std::length_error);
    CHECK(weft::channel<int>::max_capacity() < two63);
    CHECK(weft::channel<std::string>::max_capacity() < weft::channel<char>::max_capacity());
    // A large capacity that memory holds works as any other.
    weft::channel<int> big(std::size_t{1} << 20);
    CHECK(big.capacity() == std::size_t{1} << 20);
    REQUIRE(big.try_send(1));
    CHECK(*big.receive() == 1);
}

namespace {

// A custom clock whose epoch and unit differ from steady_clock's.
struct tenths_clock {
    using duration = std::chrono::duration<long long, std::deci>;
    using rep = duration::rep;
    using period = duration::period;
    using time_point = std::chrono::time_point<tenths_clock>;
    [[maybe_unused]] static constexpr bool is_steady = false;  // a Clock has one; unused here
    static time_point now() {
        return time_point(std::chrono::duration_cast<duration>(
            std::chrono::system_clock::now().time_since_epoch()));
    }
};

}  // namespace

TEST_CASE("timeouts and deadlines at the extremes of every clock neither overflow nor misfire") {
    WEFT_WATCHDOG();
    using namespace std::chrono;
    using secs_tp = time_point<system_clock, seconds>;
    weft::channel<int> ch(1);
    // Past deadlines and non-positive timeouts: one try, then timeout (at once).
    CHECK(ch.receive_until(system_clock::time_point::min()).status == op_status::timeout);
    CHECK(ch.receive_until(steady_clock::time_point::min()).status == op_status::timeout);
    CHECK(ch.receive_until(secs_tp::min()).status == op_status::timeout);
    CHECK(ch.receive_until(tenths_clock::time_point::min()).status == op_status::timeout);
    CHECK(ch.receive_for(hours::min()).status == op_status::timeout);
    CHECK(ch.receive_for(-1ns).status == op_status::timeout);
    CHECK(ch.receive_for(duration<double>(-1e300)).status == op_status::timeout);
    // Past deadlines on a ready channel still succeed (Go's select with a fired timer may too).
    REQUIRE(ch.send_until(1, system_clock::time_point::min()));
    CHECK(ch.send_for(2, hours::min()).status == op_status::timeout);
    CHECK(*ch.receive_until(secs_tp::min()) == 1);

    // Far deadlines: they must not expire at once. A value sent later proves the receive waited.
    auto waits = [&](auto&& receive) {
        std::thread t([&] {
            std::this_thread::sleep_for(20ms);
            (void)ch.send(9);
        });
        auto r = receive();
        t.join();
        CHECK(r.status == op_status::ok);
    };
    waits([&] { return ch.receive_until(system_clock::time_point::max()); });
    waits([&] { return ch.receive_until(steady_clock::time_point::max()); });
    waits([&] { return ch.receive_until(secs_tp::max()); });
    waits([&] { return ch.receive_until(tenths_clock::time_point::max()); });
    waits([&] { return ch.receive_for(hours::max()); });
    waits([&] { return ch.receive_for(duration<double, std::ratio<3600>>(1e300)); });
    waits([&] { return ch.receive_for(duration<unsigned long long, std::pico>(~0ull)); });
    // And the send side, on a full channel.
    REQUIRE(ch.try_send(0));
    std::thread t([&] {
        std::this_thread::sleep_for(20ms);
        (void)ch.receive();
    });
    CHECK(ch.send_until(1, secs_tp::max()));
    t.join();
    CHECK(*ch.receive() == 1);
}

TEST_CASE("the saturating conversions themselves") {
    using namespace std::chrono;
    using weft::detail::saturating_duration;
    using d = steady_clock::duration;
    CHECK(saturating_duration(hours::max()) == d::max());
    CHECK(saturating_duration(hours::min()) == d::min());
    CHECK(saturating_duration(hours(1)) == hours(1));
    CHECK(saturating_duration(seconds(-3)) == seconds(-3));
    CHECK(saturating_duration(nanoseconds::max()) == d::max());
    CHECK(saturating_duration(duration<double>(1.5e-9)) == 2ns);  // rounded up
    CHECK(saturating_duration(duration<double>(-1.5e-9)) == -1ns);
    CHECK(saturating_duration(duration<double>(std::numeric_limits<double>::infinity())) ==
          d::max());
    CHECK(saturating_duration(duration<double>(-std::numeric_limits<double>::infinity())) ==
          d::min());
    CHECK(saturating_duration(duration<double>(std::numeric_limits<double>::quiet_NaN())) ==
          d::zero());
    CHECK(saturating_duration(duration<long long, std::pico>(1)) == 1ns);
    CHECK(saturating_duration(duration<unsigned long long>(~0ull)) == d::max());
    const auto now = steady_clock::now();
    CHECK(weft::detail::deadline_after(hours::max()) == steady_clock::time_point::max());
    CHECK(weft::detail::deadline_after(hours::min()) >= now);
    CHECK(weft::detail::to_steady(time_point<system_clock, seconds>::max()) ==
          steady_clock::time_point::max());
    CHECK(weft::detail::to_steady(system_clock::time_point::min()) >= now);
    CHECK(weft::detail::to_steady(steady_clock::time_point::min()) ==
          steady_clock::time_point::min());
    const auto in_an_hour = weft::detail::to_steady(system_clock::now() + 1h);
    CHECK(in_an_hour >= now + 59min);
    CHECK(in_an_hour <= steady_clock::now() + 61min);
}

TEST_CASE("the context verbs, sleep and with_deadline: const handles and extreme deadlines") {
    WEFT_WATCHDOG();
    using namespace std::chrono;
    using secs_tp = time_point<system_clock, seconds>;
    const weft::channel<int> ch(1);
    auto verbs = [ch](const weft::context& ctx) {
        CHECK(ch.send(ctx, 1));
        CHECK(*ch.receive(ctx) == 1);
    };
    verbs(weft::background());
    // A deadline at the far end of a seconds-based system_clock used to be "exceeded" at once.
    auto far = weft::with_deadline(weft::background(), secs_tp::max());
    CHECK(!far.ctx.err());
    verbs(far.ctx);
    auto forever = weft::with_timeout(weft::background(), hours::max());
    CHECK(!forever.ctx.err());
    // And the past, of any clock: exceeded at once, without overflow.
    CHECK(weft::with_deadline(weft::background(), system_clock::time_point::min()).ctx.err() ==
          weft::context_errc::deadline_exceeded);
    CHECK(weft::with_deadline(weft::background(), secs_tp::min()).ctx.err() ==
          weft::context_errc::deadline_exceeded);
    CHECK(weft::with_timeout(weft::background(), hours::min()).ctx.err() ==
          weft::context_errc::deadline_exceeded);
    CHECK(!weft::sleep(weft::background(), hours::min()));
    CHECK(!weft::sleep(weft::background(), duration<double>(-1e300)));
    far.cancel();
    forever.cancel();
    CHECK(weft::sleep(far.ctx, hours::max()) == weft::context_errc::canceled);
}

TEST_CASE("selector deadlines at the extremes") {
    WEFT_WATCHDOG();
    using namespace std::chrono;
    weft::channel<int> ch(1);
    weft::selector sel;
    sel.add_receive(ch, [](std::optional<int>) {});
    CHECK_FALSE(sel.select_until(system_clock::time_point::min()));
    CHECK_FALSE(sel.select_for(hours::min()));
    std::thread t([&] {
        std::this_thread::sleep_for(20ms);
        (void)ch.send(1);
    });
    CHECK(sel.select_until(time_point<system_clock, seconds>::max()) == 0u);
    t.join();
    std::thread t2([&] {
        std::this_thread::sleep_for(20ms);
        (void)ch.send(2);
    });
    CHECK(sel.select_for(hours::max()) == 0u);
    t2.join();
}
