// Tests for weft/select.hpp: fairness, blocking, otherwise, nil and closed cases, losslessness,
// no self-pairing, no deadlock between selects, the dynamic selector.
#include <weft/select.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

using namespace std::chrono_literals;
using weft::op_status;

TEST_CASE("select picks uniformly among ready cases") {
    const int n = 30000;
    int hits[3] = {0, 0, 0};
    weft::channel<int> a(1), b(1), c(1);
    for (int i = 0; i < n; ++i) {
        REQUIRE(a.try_send(0));
        REQUIRE(b.try_send(0));
        REQUIRE(c.try_send(0));
        auto k = weft::select(weft::on_receive(a, [] {}), weft::on_receive(b, [] {}),
                              weft::on_receive(c, [] {}));
        ++hits[k];
        // Drain the two that did not fire: they must still hold their values (lossless).
        int left = 0;
        for (auto* ch : {&a, &b, &c}) left += ch->try_receive() ? 1 : 0;
        REQUIRE(left == 2);
    }
    // Each case expects n/3 = 10000 hits, sd ~ 82; 600 is over 7 sd.
    for (int h : hits) CHECK(std::abs(h - n / 3) < 600);
}

TEST_CASE("select over channels of different element types") {
    WEFT_WATCHDOG();
    weft::channel<int> ints(0);
    weft::channel<std::string> strings(0);
    weft::channel<std::unique_ptr<double>> ptrs(0);
    std::thread t([&] {
        CHECK(strings.send("hi"));
        CHECK(ptrs.send(std::make_unique<double>(2.5)));
        CHECK(ints.send(7));
    });
    std::string s;
    double d = 0;
    int i = 0;
    for (int round = 0; round < 3; ++round) {
        weft::select(
            weft::on_receive(ints, [&](std::optional<int> v) { i = *v; }),
            weft::on_receive(strings,
                             [&](std::optional<std::string> v) { s = v.value_or("closed"); }),
            weft::on_receive(ptrs, [&](std::optional<std::unique_ptr<double>> v) { d = **v; }));
    }
    t.join();
    CHECK(s == "hi");
    CHECK(d == 2.5);
    CHECK(i == 7);
}

TEST_CASE("select blocks until a case is ready, and otherwise never blocks") {
    WEFT_WATCHDOG();
    weft::channel<int> ch(0);
    CHECK(weft::select(weft::on_receive(ch, [] { FAIL("nothing was sent"); }),
                       weft::otherwise([] {})) == 1);
    std::thread t([&] {
        std::this_thread::sleep_for(20ms);
        CHECK(ch.send(3));
    });
    int got = 0;
    CHECK(weft::select(weft::on_receive(ch, [&](std::optional<int> v) { got = *v; })) == 0);
    CHECK(got == 3);
    t.join();
}

TEST_CASE("a nil channel's case never fires") {
    WEFT_WATCHDOG();
    weft::channel<int> nil;
    weft::channel<int> ready(1);
    for (int i = 0; i < 200; ++i) {
        REQUIRE(ready.try_send(i));
        int v = 0;
        auto k = weft::select(weft::on_receive(nil, [] { FAIL("nil fired"); }),
                              weft::on_send(nil, 1, [] { FAIL("nil fired"); }),
                              weft::on_receive(ready, [&](std::optional<int> x) { v = *x; }));
        CHECK(k == 2);
        CHECK(v == i);
    }
    CHECK(weft::select(weft::on_receive(nil, [] {}), weft::otherwise([] {})) == 1);
}

TEST_CASE("closed channels: receive fires empty, send fires unsent and keeps the value") {
    WEFT_WATCHDOG();
    for (std::size_t cap : {std::size_t{0}, std::size_t{2}}) {
        CAPTURE(cap);
        weft::channel<std::unique_ptr<int>> ch(cap);
        ch.close();
        bool closed_seen = false;
        weft::select(
            weft::on_receive(ch, [&](std::optional<std::unique_ptr<int>> v) { closed_seen = !v; }));
        CHECK(closed_seen);
        auto value = std::make_unique<int>(4);
        bool sent = true;
        weft::select(weft::on_send(ch, value, [&](bool ok) { sent = ok; }));
        CHECK_FALSE(sent);
        REQUIRE(value);  // not consumed
        CHECK(*value == 4);
    }
}

TEST_CASE("close wakes a blocked select") {
    WEFT_WATCHDOG();
    weft::channel<int> a(0), b(3);
    std::thread t([&] {
        std::this_thread::sleep_for(20ms);
        b.close();
    });
    std::size_t k = weft::select(weft::on_receive(a, [] {}),
                                 weft::on_receive(b, [](std::optional<int> v) { CHECK(!v); }));
    CHECK(k == 1);
    t.join();
}

TEST_CASE("an lvalue given to on_send is moved from only if its case fires") {
    WEFT_WATCHDOG();
    weft::channel<std::unique_ptr<int>> full(1), open(1);
    REQUIRE(full.try_send(std::make_unique<int>(0)));
    auto v1 = std::make_unique<int>(1);
    auto v2 = std::make_unique<int>(2);
    auto k = weft::select(weft::on_send(full, v1, [] {}), weft::on_send(open, v2, [] {}));
    CHECK(k == 1);
    REQUIRE(v1);  // the losing case kept its value
    CHECK(*v1 == 1);
    CHECK_FALSE(v2);
    CHECK(**open.receive() == 2);
}

TEST_CASE("a select never pairs with itself on a rendezvous channel") {
    WEFT_WATCHDOG();
    weft::channel<int> ch(0);
    for (int i = 0; i < 100; ++i) {
        auto k = weft::select(weft::on_send(ch, i, [] { FAIL("paired with itself"); }),
                              weft::on_receive(ch, [] { FAIL("paired with itself"); }),
                              weft::otherwise([] {}));
        CHECK(k == 2);
    }
    // Blocking: it can only complete with another thread.
    std::thread t([&] { CHECK(*ch.receive() == 5); });
    int v = 5;
    auto k = weft::select(weft::on_send(ch, v, [] {}), weft::on_receive(ch, [] { FAIL("self"); }));
    CHECK(k == 0);
    t.join();
}

TEST_CASE("selects on both ends of rendezvous channels hand values to each other") {
    WEFT_WATCHDOG();
    const int n = static_cast<int>(weft_test::scale(20000));
    weft::channel<int> a(0), b(0);
    long sum = 0;
    std::thread t([&] {
        for (int i = 0; i < n; ++i) {
            // Opposite case order to the receiver's: must not deadlock.
            weft::select(weft::on_send(b, i, [] {}), weft::on_send(a, i, [] {}));
        }
    });
    for (int i = 0; i < n; ++i) {
        weft::select(weft::on_receive(a, [&](std::optional<int> v) { sum += *v; }),
                     weft::on_receive(b, [&](std::optional<int> v) { sum += *v; }));
    }
    t.join();
    CHECK(sum == long{n} * (n - 1) / 2);
}

TEST_CASE("an exception from a case's function reaches the caller, the value was delivered") {
    weft::channel<int> ch(1);
    REQUIRE(ch.try_send(1));
    CHECK_THROWS_AS(weft::select(weft::on_receive(
                        ch, [](std::optional<int>) { throw std::runtime_error("handler"); })),
                    std::runtime_error);
    CHECK(ch.size() == 0);
    REQUIRE(ch.try_send(2));
    CHECK(*ch.receive() == 2);
}

TEST_CASE("selector fans in a vector of channels without a thread each") {
    WEFT_WATCHDOG();
    const int inputs = 8, per = static_cast<int>(weft_test::scale(2000));
    std::vector<weft::channel<int>> chans;
    for (int i = 0; i < inputs; ++i) chans.emplace_back(i % 2 ? 0 : 4);
    std::vector<std::thread> producers;
    for (int i = 0; i < inputs; ++i) {
        producers.emplace_back([&, i] {
            for (int k = 0; k < per; ++k) REQUIRE(chans[static_cast<std::size_t>(i)].send(k));
            chans[static_cast<std::size_t>(i)].close();
        });
    }
    weft::selector sel;
    long sum = 0;
    int open = inputs;
    for (int i = 0; i < inputs; ++i) {
        std::size_t idx =
            sel.add_receive(chans[static_cast<std::size_t>(i)], [&, i](std::optional<int> v) {
                if (v) {
                    sum += *v;
                } else {
                    sel.set_enabled(static_cast<std::size_t>(i), false);
                    --open;
                }
            });
        CHECK(idx == static_cast<std::size_t>(i));
    }
    while (open > 0) sel.select();
    for (auto& t : producers) t.join();
    CHECK(sum == long{inputs} * per * (per - 1) / 2);
    CHECK_FALSE(sel.try_select());  // everything disabled: nothing can fire
}

TEST_CASE("selector: try_select, select_for and a send case that fires once") {
    WEFT_WATCHDOG();
    weft::channel<std::string> out(1);
    weft::channel<int> in(0);
    weft::selector sel;
    int sent = 0;
    auto send_idx = sel.add_send(out, std::string("x"), [&](bool ok) { sent += ok; });
    sel.add_receive(in, [] {});
    CHECK(sel.size() == 2);
    CHECK(sel.try_select() == send_idx);
    CHECK(sent == 1);
    CHECK_FALSE(sel.enabled(send_idx));
    CHECK_FALSE(sel.try_select());
    auto t0 = std::chrono::steady_clock::now();
    CHECK_FALSE(sel.select_for(30ms));
    CHECK(std::chrono::steady_clock::now() - t0 >= 30ms);
    CHECK(*out.receive() == "x");
}

TEST_CASE("many selects compete for few values: each value is taken exactly once") {
    WEFT_WATCHDOG();
    const int n = static_cast<int>(weft_test::scale(50000));
    for (std::size_t cap : {std::size_t{0}, std::size_t{1}, std::size_t{16}}) {
        CAPTURE(cap);
        weft::channel<int> a(cap), b(cap);
        weft::channel<int> quit(0);
        std::atomic<long> sum{0};
        std::atomic<int> count{0};
        std::vector<std::thread> consumers;
        for (int c = 0; c < 4; ++c) {
            consumers.emplace_back([&] {
                for (bool done = false; !done;) {
                    weft::select(
                        weft::on_receive(a, [&](std::optional<int> v) { sum += *v, ++count; }),
                        weft::on_receive(b, [&](std::optional<int> v) { sum += *v, ++count; }),
                        weft::on_receive(quit, [&] { done = true; }));
                }
            });
        }
        std::thread p1([&] {
            for (int i = 0; i < n; i += 2) REQUIRE(a.send(i));
        });
        std::thread p2([&] {
            for (int i = 1; i < n; i += 2) REQUIRE(b.send(i));
        });
        p1.join();
        p2.join();
        quit.close();
        for (auto& t : consumers) t.join();
        // A consumer may pick `quit` while values are still buffered: they must still be there.
        for (auto* ch : {&a, &b}) {
            while (auto r = ch->try_receive()) sum += *r, ++count;
        }
        CHECK(count.load() == n);
        CHECK(sum.load() == long{n} * (n - 1) / 2);
    }
}

TEST_CASE("selector: a send case whose function throws has sent once and stays disabled") {
    WEFT_WATCHDOG();
    weft::channel<std::unique_ptr<int>> out(2);
    weft::selector sel;
    const auto idx = sel.add_send(out, std::make_unique<int>(7),
                                  [](bool) { throw std::runtime_error("handler failed"); });
    CHECK_THROWS_AS((void)sel.try_select(), std::runtime_error);
    CHECK_FALSE(sel.enabled(idx));
    sel.set_enabled(idx, true);  // cannot re-arm a case whose value is gone
    CHECK_FALSE(sel.enabled(idx));
    CHECK_FALSE(sel.try_select());  // used to send the moved-from (null) pointer
    auto v = out.try_receive();
    REQUIRE(v);
    REQUIRE(*v != nullptr);
    CHECK(**v == 7);
    CHECK(out.try_receive().status == weft::op_status::empty);

    // A send case that fires on a closed channel keeps its value and stays enabled, also when
    // its function throws.
    weft::channel<std::unique_ptr<int>> shut(1);
    shut.close();
    weft::selector sel2;
    const auto j = sel2.add_send(shut, std::make_unique<int>(8), [](bool sent) {
        if (!sent) throw std::runtime_error("closed");
    });
    CHECK_THROWS_AS((void)sel2.try_select(), std::runtime_error);
    CHECK(sel2.enabled(j));
    CHECK_THROWS_AS((void)sel2.try_select(), std::runtime_error);
}

TEST_CASE("select and selector take const handles, in lambdas that are not mutable") {
    WEFT_WATCHDOG();
    const weft::channel<int> ch(1);
    const weft::sender<int> tx = ch;
    const weft::receiver<int> rx = ch;
    auto send_one = [tx] {
        return weft::select(weft::on_send(tx, 1, [] {}), weft::otherwise([] {}));
    };
    auto receive_one = [rx] {
        int got = 0;
        weft::select(weft::on_receive(rx, [&](std::optional<int> v) { got = v.value_or(-1); }),
                     weft::otherwise([] {}));
        return got;
    };
    CHECK(send_one() == 0);
    CHECK(send_one() == 1);  // full: otherwise
    CHECK(receive_one() == 1);
    CHECK(receive_one() == 0);  // empty: otherwise
    auto with_selector = [ch, tx, rx] {
        weft::selector sel;
        sel.add_send(tx, 2, [] {});
        sel.add_receive(rx, [](std::optional<int>) {});
        sel.add_receive(ch, [](std::optional<int>) {});
        return sel.select_for(std::chrono::seconds(10));
    };
    CHECK(with_selector() == std::optional<std::size_t>(0));  // only the send is ready
    CHECK(*ch.receive() == 2);
}
