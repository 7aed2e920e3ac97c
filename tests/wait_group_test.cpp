// Tests of weft/wait_group.hpp. Go's src/sync/waitgroup_test.go is the model: TestWaitGroup
// (two rounds of n workers), TestWaitGroupMisuse (negative counter), TestWaitGroupRace, and
// TestWaitGroupGo (Go 1.25's wg.Go).
#include <weft/wait_group.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

using namespace std::chrono_literals;
using weft_test::scale;

TEST_CASE("wait_group: n workers, two rounds (Go's TestWaitGroup)") {
    WEFT_WATCHDOG();
    weft::wait_group wg1, wg2;
    const std::ptrdiff_t n = 16;
    wg1.add(n);
    wg2.add(n);
    std::atomic<int> exited{0};
    std::vector<std::thread> threads;
    for (std::ptrdiff_t i = 0; i < n; ++i)
        threads.emplace_back([&] {
            wg1.done();
            wg2.wait();
            exited.fetch_add(1);
        });
    wg1.wait();
    for (std::ptrdiff_t i = 0; i < n; ++i) {
        CHECK(exited.load() == 0);  // nobody passes wg2 before all its dones
        wg2.done();
    }
    for (auto& t : threads) t.join();
    CHECK(exited.load() == n);
}

TEST_CASE("wait_group: wait on zero returns at once") {
    WEFT_WATCHDOG();
    weft::wait_group wg;
    wg.wait();
    CHECK(wg.wait_for(0ms));
    CHECK(wg.wait_until(std::chrono::steady_clock::now() - 1s));
    CHECK(wg.count() == 0);
}

TEST_CASE("wait_group: a negative counter throws and leaves the counter unchanged") {
    WEFT_WATCHDOG();
    weft::wait_group wg;
    CHECK_THROWS_AS(wg.done(), std::logic_error);
    CHECK(wg.count() == 0);
    wg.add(3);
    try {
        wg.add(-4);
        FAIL("add(-4) on 3 did not throw");
    } catch (const std::logic_error& e) {
        CHECK(std::string(e.what()) == "weft::wait_group: negative counter");
    }
    CHECK(wg.count() == 3);
    wg.add(-3);
    CHECK(wg.count() == 0);
    wg.wait();
    wg.add(0);  // no-op
    CHECK(wg.count() == 0);
    CHECK_THROWS_AS(wg.add(std::ptrdiff_t{1} << 40), std::length_error);
    CHECK(wg.count() == 0);
}

TEST_CASE("wait_group: negative counter with a sleeping waiter still throws cleanly") {
    WEFT_WATCHDOG();
    weft::wait_group wg;
    wg.add(1);
    std::thread waiter([&] { wg.wait(); });
    std::this_thread::sleep_for(10ms);  // let it register and sleep
    CHECK_THROWS_AS(wg.add(-2), std::logic_error);
    CHECK(wg.count() == 1);
    wg.done();
    waiter.join();
}

TEST_CASE("wait_group: wait_for times out, then succeeds") {
    WEFT_WATCHDOG();
    weft::wait_group wg;
    wg.add(1);
    const auto start = std::chrono::steady_clock::now();
    CHECK_FALSE(wg.wait_for(20ms));
    CHECK(std::chrono::steady_clock::now() - start >= 20ms);
    CHECK_FALSE(wg.wait_until(std::chrono::system_clock::now() + 5ms));
    std::thread t([&] {
        std::this_thread::sleep_for(10ms);
        wg.done();
    });
    CHECK(wg.wait_for(10s));
    t.join();
    CHECK(wg.count() == 0);
    // "Forever" does not overflow the deadline.
    CHECK(wg.wait_for(std::chrono::nanoseconds::max()));
    CHECK(wg.wait_for(std::chrono::hours::max()));
    CHECK(wg.wait_for(-1s));
}

TEST_CASE("wait_group: done publishes the worker's writes to the waiter") {
    WEFT_WATCHDOG();
    for (std::size_t round = 0; round < scale(200); ++round) {
        weft::wait_group wg;
        std::vector<int> out(8, 0);  // plain ints: TSan checks the happens-before edge
        wg.add(static_cast<std::ptrdiff_t>(out.size()));
        std::vector<std::thread> threads;
        for (std::size_t i = 0; i < out.size(); ++i)
            threads.emplace_back([&, i] {
                out[i] = static_cast<int>(i) + 1;
                wg.done();
            });
        wg.wait();
        for (std::size_t i = 0; i < out.size(); ++i) CHECK(out[i] == static_cast<int>(i) + 1);
        for (auto& t : threads) t.join();
    }
}

TEST_CASE("wait_group: reusable after wait returns") {
    WEFT_WATCHDOG();
    weft::wait_group wg;
    int sum = 0;
    for (std::size_t round = 0; round < scale(2000); ++round) {
        int a = 0, b = 0;
        wg.add(2);
        std::thread ta([&] {
            a = 1;
            wg.done();
        });
        std::thread tb([&] {
            b = 2;
            wg.done();
        });
        wg.wait();
        sum += a + b;
        ta.join();
        tb.join();
    }
    CHECK(sum == static_cast<int>(3 * scale(2000)));
}

TEST_CASE("wait_group: many threads adding, finishing and waiting at once") {
    WEFT_WATCHDOG();
    weft::wait_group wg;
    const int workers = 32;
    const std::size_t iters = scale(5000);
    std::atomic<std::size_t> finished{0};
    wg.add(workers);
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w)
        threads.emplace_back([&] {
            for (std::size_t i = 0; i < iters; ++i) {
                wg.add(1);
                wg.done();
            }
            finished.fetch_add(1);
            wg.done();
        });
    std::vector<std::thread> waiters;
    std::atomic<int> released{0};
    for (int i = 0; i < 8; ++i)
        waiters.emplace_back([&] {
            wg.wait();
            CHECK(finished.load() == static_cast<std::size_t>(workers));
            released.fetch_add(1);
        });
    for (auto& t : threads) t.join();
    for (auto& t : waiters) t.join();
    CHECK(released.load() == 8);
    CHECK(wg.count() == 0);
}

TEST_CASE("wait_group: may be destroyed as soon as wait returns") {
    WEFT_WATCHDOG();
    // The last done() may still be inside its call when the waiter deletes the wait_group;
    // ASan would report a use after free if done() touched the object after the release.
    for (std::size_t i = 0; i < scale(3000); ++i) {
        auto* wg = new weft::wait_group;
        wg->add(1);
        std::thread t([wg] { wg->done(); });
        if (i % 2) std::this_thread::yield();
        if (i % 3 == 0) {
            while (!wg->wait_for(1ms)) {}
        } else {
            wg->wait();
        }
        delete wg;
        t.join();
    }
}

TEST_CASE("wait_group::go: add, run with arguments, done") {
    WEFT_WATCHDOG();
    weft::wait_group wg;
    std::vector<int> out(64, 0);
    for (int i = 0; i < 64; ++i)
        wg.go([&out](int k, std::unique_ptr<int> p) { out[static_cast<std::size_t>(k)] = *p; }, i,
              std::make_unique<int>(i * i));
    wg.wait();
    for (int i = 0; i < 64; ++i) CHECK(out[static_cast<std::size_t>(i)] == i * i);
    CHECK(wg.count() == 0);

    // Reuse with go.
    std::atomic<int> n{0};
    for (std::size_t r = 0; r < scale(50); ++r) {
        for (int i = 0; i < 4; ++i) wg.go([&n] { n.fetch_add(1); });
        wg.wait();
    }
    CHECK(n.load() == static_cast<int>(4 * scale(50)));
}

TEST_CASE("wait_group: waits at the extremes of every clock neither overflow nor misfire") {
    WEFT_WATCHDOG();
    using namespace std::chrono;
    using secs_tp = time_point<system_clock, seconds>;
    weft::wait_group wg;
    wg.add(1);
    // Past deadlines and non-positive timeouts give up at once (they used to overflow for
    // system_clock::time_point::min()).
    CHECK_FALSE(wg.wait_until(system_clock::time_point::min()));
    CHECK_FALSE(wg.wait_until(steady_clock::time_point::min()));
    CHECK_FALSE(wg.wait_until(secs_tp::min()));
    CHECK_FALSE(wg.wait_for(hours::min()));
    CHECK_FALSE(wg.wait_for(duration<double>(-1e300)));
    // Far deadlines wait (time_point<system_clock, seconds>::max() used to expire at once).
    auto waits = [&](auto&& wait) {
        std::thread t([&] {
            std::this_thread::sleep_for(20ms);
            wg.done();
        });
        CHECK(wait());
        t.join();
        wg.add(1);
    };
    waits([&] { return wg.wait_until(secs_tp::max()); });
    waits([&] { return wg.wait_until(system_clock::time_point::max()); });
    waits([&] { return wg.wait_until(steady_clock::time_point::max()); });
    waits([&] { return wg.wait_for(hours::max()); });
    waits([&] { return wg.wait_for(duration<double>(1e300)); });
    wg.done();
}
