// weft/asio.hpp's asynchronous semaphore and rate-limiter waits: FIFO shared with threads,
// cancellation that takes nothing, shutdown that withdraws.
// First: the warning it silences is reported inside the Boost headers below.
#include "asio_support.hpp"

#include <weft/asio.hpp>
#include <weft/rate.hpp>
#include <weft/semaphore.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace {

// try_acquire(0) fails exactly when someone is queued (FIFO: nobody overtakes a waiter).
bool queued(weft::semaphore& s) { return !s.try_acquire(0); }

}  // namespace

TEST_CASE("async_acquire: free tokens complete at once, later, on the executor") {
    net::io_context ioc;
    weft::semaphore sem(3);
    std::error_code ec = std::make_error_code(std::errc::io_error);
    bool in_initiation = true;
    bool ran_late = false;
    sem.async_acquire(2, net::bind_executor(ioc, [&](std::error_code e) {
                          ec = e;
                          ran_late = !in_initiation;
                      }));
    in_initiation = false;
    CHECK(!sem.try_acquire(2));  // taken already, before the handler runs
    run(ioc, "free tokens");
    CHECK(!ec);
    CHECK(ran_late);
    CHECK(sem.try_acquire(1));
    sem.release(3);
}

TEST_CASE("async_acquire: one FIFO queue for coroutines and threads") {
    net::io_context ioc;
    weft::semaphore sem(2);
    sem.acquire(2);
    std::atomic<int> step{0};
    int coro_got_at = -1;
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            auto ec = co_await sem.async_acquire(2, use_awaitable);
            REQUIRE(!ec);
            coro_got_at = step.load();
            sem.release(2);
        },
        net::detached);
    ioc.poll();  // the coroutine is queued now, first
    REQUIRE(queued(sem));
    int thread_got_at = -1;
    std::thread t([&] {
        sem.acquire(1);
        thread_got_at = step.load();
        sem.release(1);
    });
    // One token back: it would fit the thread, but the coroutine's 2 are ahead of it.
    step = 1;
    sem.release(1);
    std::this_thread::sleep_for(30ms);
    step = 2;
    sem.release(1);  // now the coroutine fits; when it gives its 2 back, the thread goes
    run(ioc, "coroutine ahead of a thread");
    t.join();
    CHECK(coro_got_at == 2);
    CHECK(thread_got_at == 2);
    CHECK(sem.try_acquire(2));

    // And a thread queued ahead of a coroutine: the coroutine waits behind it.
    net::io_context ioc2;
    int order = 0, thread_pos = 0, coro_pos = 0;
    std::mutex m;
    std::thread t2([&] {
        sem.acquire(2);
        std::lock_guard g(m);
        thread_pos = ++order;
    });
    REQUIRE(weft_test::eventually([&] { return queued(sem); }));
    net::co_spawn(
        ioc2,
        [&]() -> awaitable<void> {
            REQUIRE(!co_await sem.async_acquire(1, use_awaitable));
            std::lock_guard g(m);
            coro_pos = ++order;
        },
        net::detached);
    ioc2.poll();
    sem.release(1);  // fits the coroutine's 1, but the thread's 2 are ahead
    std::this_thread::sleep_for(30ms);
    ioc2.poll();
    CHECK(coro_pos == 0);
    sem.release(1);
    t2.join();
    sem.release(2);
    run(ioc2, "thread ahead of a coroutine");
    CHECK(thread_pos == 1);
    CHECK(coro_pos == 2);
    sem.release(1);
    CHECK(sem.try_acquire(2));
}

TEST_CASE("async_acquire: canceled, nothing is taken and the waiters behind go on") {
    using namespace net::experimental::awaitable_operators;
    net::io_context ioc;
    weft::semaphore sem(3);
    sem.acquire(2);
    bool big_timed_out = false, small_got = false, huge_canceled = false;
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            net::steady_timer t(ioc, 20ms);
            // 3 does not fit behind the 2 held; the timer wins and withdraws it.
            auto r = co_await (sem.async_acquire(3, use_awaitable) || t.async_wait(use_awaitable));
            big_timed_out = r.index() == 1;
        },
        net::detached);
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            // Queued behind the 3: it fits the free token, but only once the 3 has left.
            auto ec = co_await sem.async_acquire(1, use_awaitable);
            small_got = !ec;
        },
        net::detached);
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            // More than the semaphore holds: completes only when canceled, with nothing taken.
            net::cancellation_signal sig;
            net::steady_timer t(ioc, 10ms);
            t.async_wait([&](auto) { sig.emit(net::cancellation_type::terminal); });
            auto ec = co_await sem.async_acquire(
                4, net::bind_cancellation_slot(sig.slot(), use_awaitable));
            huge_canceled =
                ec == weft::context_errc::canceled && ec == std::errc::operation_canceled;
        },
        net::detached);
    run(ioc, "cancel");
    CHECK(big_timed_out);
    CHECK(small_got);
    CHECK(huge_canceled);
    sem.release(3);
    CHECK(sem.try_acquire(3));  // all tokens accounted for
}

TEST_CASE("stress: cancellation racing a grant takes tokens exactly when it says so") {
    // A coroutine acquires 1 of 1 token with a cancellation emitted at random moments; a thread
    // takes and gives the token back meanwhile. Every acquire that reports success holds the
    // token (the thread cannot have it), and at the end the token is free: none leaked, none
    // counted twice.
    const int n = static_cast<int>(weft_test::scale(20000));
    for (int threads : {1, 2}) {
        net::io_context ioc;
        auto strand = net::make_strand(ioc);
        weft::semaphore sem(1);
        std::atomic<bool> done{false};
        std::atomic<int> holders{0};
        std::atomic<bool> overlap{false};
        std::thread rival([&] {
            while (!done.load()) {
                sem.acquire(1);
                if (holders.fetch_add(1) != 0) overlap = true;
                holders.fetch_sub(1);
                sem.release(1);
            }
        });
        int got = 0, canceled = 0;
        net::co_spawn(
            strand,
            [&]() -> awaitable<void> {
                net::cancellation_signal sig;
                for (int k = 0; k < n; ++k) {
                    if (k % 2 == 0)
                        net::post(strand, [&] { sig.emit(net::cancellation_type::all); });
                    auto ec = co_await sem.async_acquire(
                        1, net::bind_cancellation_slot(sig.slot(), use_awaitable));
                    if (ec) {
                        REQUIRE(ec == weft::context_errc::canceled);
                        ++canceled;
                        continue;
                    }
                    ++got;
                    if (holders.fetch_add(1) != 0) overlap = true;
                    holders.fetch_sub(1);
                    sem.release(1);
                }
                done = true;
            },
            net::detached);
        run(ioc, "cancel racing grant", threads);
        rival.join();
        CHECK(!overlap);
        CHECK(got + canceled == n);
        CHECK(sem.try_acquire(1));
        MESSAGE(got << " acquired, " << canceled << " canceled on " << threads << " thread(s)");
    }
}

TEST_CASE("async_acquire: an io_context destroyed with parked acquires withdraws them") {
    weft::semaphore sem(2);
    sem.acquire(2);
    int completed = 0;
    {
        net::io_context ioc;
        for (int i = 0; i < 3; ++i) {
            net::co_spawn(
                ioc,
                [&]() -> awaitable<void> {
                    (void)co_await sem.async_acquire(1, use_awaitable);
                    ++completed;
                },
                net::detached);
        }
        // A callback one too, granted but never run: its grant goes back at shutdown.
        sem.async_acquire(2, net::bind_executor(ioc, [&](std::error_code) { ++completed; }));
        ioc.poll();
        REQUIRE(queued(sem));
        sem.release(1);  // grants the first coroutine; its completion is posted, never run
    }
    CHECK(completed == 0);
    CHECK(!queued(sem));  // everybody left the queue
    sem.release(1);
    CHECK(sem.try_acquire(2));  // and the grant came back
}

TEST_CASE("rate_limiter::async_wait: paced, and a canceled wait gives its token back") {
    using namespace net::experimental::awaitable_operators;
    net::io_context ioc;
    weft::rate_limiter lim(100, 1);  // one token per 10ms
    std::vector<std::chrono::steady_clock::time_point> at;
    std::error_code burst_ec, neg_ec;
    bool timed_out = false;
    double tokens_after_cancel = -10;
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            for (int i = 0; i < 4; ++i) {
                REQUIRE(!co_await lim.async_wait(use_awaitable));
                at.push_back(std::chrono::steady_clock::now());
            }
            burst_ec = co_await lim.async_wait_n(2, use_awaitable);
            neg_ec = co_await lim.async_wait_n(-1, use_awaitable);
            // A token 1s away, canceled after 20ms: it goes back.
            lim.set_limit(1);
            net::steady_timer t(ioc, 20ms);
            auto r = co_await (lim.async_wait(use_awaitable) || t.async_wait(use_awaitable));
            timed_out = r.index() == 1;
            tokens_after_cancel = lim.tokens();
        },
        net::detached);
    run(ioc, "rate");
    REQUIRE(at.size() == 4);
    CHECK(at[3] - at[0] >= 20ms);  // 3 tokens after the burst, due 10ms apart
    CHECK(burst_ec == weft::rate_errc::exceeds_burst);
    CHECK(neg_ec == std::errc::invalid_argument);
    CHECK(timed_out);
    // Without the give-back the bucket would owe almost a token (about -0.98).
    CHECK(tokens_after_cancel > -0.5);
}

TEST_CASE("rate_limiter::async_wait: shutdown withdraws a pending wait and its tokens") {
    weft::rate_limiter lim(1, 1);
    REQUIRE(lim.allow());
    bool completed = false;
    {
        net::io_context ioc;
        lim.async_wait(net::bind_executor(ioc, [&](std::error_code) { completed = true; }));
        CHECK(lim.tokens() < -0.5);  // reserved
    }
    CHECK(!completed);
    CHECK(lim.tokens() > -0.5);
}
