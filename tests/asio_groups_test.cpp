// weft/asio.hpp's wait_group::async_wait, error_group's coroutine tasks (try_spawn, async_spawn,
// async_wait) and weft::spawn: coroutines and threads on the same groups.
// First: the warning it silences is reported inside the Boost headers below.
#include "asio_support.hpp"

#include <weft/asio.hpp>
#include <weft/error_group.hpp>
#include <weft/wait_group.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

using boost::system::error_code;

TEST_CASE("wait_group::async_wait: coroutines wait while many threads call done()") {
    constexpr int threads = 8;
    const int per_thread = static_cast<int>(weft_test::scale(2000));
    net::io_context ioc;
    weft::wait_group wg;
    wg.add(threads * per_thread);
    std::atomic<int> work{0};
    int resumed = 0;
    for (int c = 0; c < 50; ++c) {
        net::co_spawn(
            ioc,
            [&]() -> awaitable<void> {
                auto [ec] = co_await wg.async_wait(net::as_tuple(use_awaitable));
                CHECK(!ec);
                // relaxed: Go's rule, done() happens before the wait it releases, must order it.
                CHECK(work.load(std::memory_order_relaxed) == threads * per_thread);
                ++resumed;
            },
            net::detached);
    }
    std::vector<std::thread> doers;
    for (int t = 0; t < threads; ++t) {
        doers.emplace_back([&] {
            for (int i = 0; i < per_thread; ++i) {
                work.fetch_add(1, std::memory_order_relaxed);
                wg.done();
            }
        });
    }
    std::thread waiter([&] { wg.wait(); });  // a thread waits on the same counter
    run(ioc, "coroutines wait on a wait_group");
    for (auto& t : doers) t.join();
    waiter.join();
    CHECK(resumed == 50);
    CHECK(wg.count() == 0);
}

TEST_CASE("wait_group::async_wait: a zero counter completes later, on the handler's executor") {
    net::io_context ioc;
    weft::wait_group wg;
    bool called = false;
    wg.async_wait(net::bind_executor(ioc, [&](error_code ec) {
        CHECK(!ec);
        called = true;
    }));
    CHECK_FALSE(called);  // never inside the initiating function
    run(ioc, "zero counter");
    CHECK(called);
}

TEST_CASE("wait_group::async_wait: a canceled wait completes with operation_aborted") {
    using namespace net::experimental::awaitable_operators;
    net::io_context ioc;
    weft::wait_group wg;
    wg.add(1);
    error_code first, second;
    bool timer_won = false, done_seen = false;
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            net::steady_timer t(ioc, 5ms);
            auto r = co_await (wg.async_wait(net::as_tuple(use_awaitable)) ||
                               t.async_wait(use_awaitable));
            timer_won = r.index() == 1;
            // A slot canceled explicitly, then the wait that completes.
            net::cancellation_signal sig;
            net::steady_timer t2(ioc, 5ms);
            t2.async_wait([&](error_code) { sig.emit(net::cancellation_type::terminal); });
            std::tie(first) = co_await wg.async_wait(
                net::bind_cancellation_slot(sig.slot(), net::as_tuple(use_awaitable)));
            net::post(ioc, [&] { wg.done(); });
            std::tie(second) = co_await wg.async_wait(net::as_tuple(use_awaitable));
            done_seen = wg.count() == 0;
        },
        net::detached);
    run(ioc, "cancel async_wait");
    CHECK(timer_won);
    CHECK(first == net::error::operation_aborted);
    CHECK(!second);
    CHECK(done_seen);
}

TEST_CASE("wait_group::async_wait: a wait_group destroyed as soon as its wait completes") {
    // done() must not touch the wait_group once the counter is zero (ASan and TSan see it).
    const std::size_t rounds = weft_test::scale(2000);
    net::io_context ioc;
    auto guard = net::make_work_guard(ioc);
    std::thread runner([&] { ioc.run(); });
    weft_test::watchdog w("wait_group lifetime");
    for (std::size_t i = 0; i < rounds; ++i) {
        auto* wg = new weft::wait_group;
        wg->add(2);
        std::atomic<bool> finished{false};
        net::co_spawn(
            ioc,
            [wg, &finished]() -> awaitable<void> {
                co_await wg->async_wait(use_awaitable);
                delete wg;
                finished.store(true, std::memory_order_release);
            },
            net::detached);
        std::thread a([wg] { wg->done(); });
        wg->done();
        a.join();
        while (!finished.load(std::memory_order_acquire)) std::this_thread::yield();
    }
    guard.reset();
    runner.join();
}

TEST_CASE("wait_group::async_wait: an io_context destroyed while coroutines wait withdraws them") {
    weft::wait_group wg;
    wg.add(1);
    auto alive = std::make_shared<int>(0);
    {
        net::io_context ioc;
        for (int i = 0; i < 100; ++i) {
            net::co_spawn(
                ioc,
                [&wg, alive]() -> awaitable<void> {
                    co_await wg.async_wait(use_awaitable);
                    FAIL_CHECK("resumed after its io_context was destroyed");
                },
                net::detached);
        }
        weft_test::watchdog w("park, then destroy");
        ioc.run_for(20ms);  // everybody parks; run() would never return (outstanding work)
        CHECK(alive.use_count() == 101);
    }
    CHECK(alive.use_count() == 1);  // every frame destroyed, none leaked
    wg.done();                      // nobody is registered any more
    weft_test::watchdog w("wait after");
    wg.wait();
    CHECK(wg.count() == 0);
}

TEST_CASE("weft::spawn: an escaped exception comes out of run(); the context stays usable") {
    net::io_context ioc;
    int ran = 0;
    weft::spawn(ioc, [&]() -> awaitable<void> {
        co_await net::post(ioc, use_awaitable);
        throw std::runtime_error("boom");
    });
    weft::spawn(ioc.get_executor(), [&]() -> awaitable<void> {
        for (int i = 0; i < 3; ++i) co_await net::post(ioc, use_awaitable);
        ++ran;
    });
    {
        weft_test::watchdog w("spawn");
        CHECK_THROWS_WITH_AS(ioc.run(), "boom", std::runtime_error);
        ioc.run();  // the rest of the work
    }
    CHECK(ran == 1);
}

TEST_CASE("error_group: thread and coroutine tasks, the first error wins and cancels the context") {
    net::io_context ioc;
    weft::error_group g(weft::background());
    auto ctx = g.context();
    std::atomic<int> saw_cancel{0};
    // Threads that run until the context is canceled.
    for (int i = 0; i < 3; ++i) {
        g.go([ctx, &saw_cancel] {
            (void)ctx.done().receive();
            saw_cancel.fetch_add(1, std::memory_order_relaxed);
        });
    }
    // Coroutines that park on ctx.done() until it is closed.
    for (int i = 0; i < 3; ++i) {
        REQUIRE(g.try_spawn(ioc.get_executor(), [ctx, &saw_cancel]() -> awaitable<void> {
            (void)co_await ctx.done().async_receive(use_awaitable);
            saw_cancel.fetch_add(1, std::memory_order_relaxed);
        }));
    }
    // The failing coroutine; then one that fails later, after the context is canceled.
    REQUIRE(g.try_spawn(ioc.get_executor(), [&ioc]() -> awaitable<void> {
        net::steady_timer t(ioc, 5ms);
        co_await t.async_wait(use_awaitable);
        throw std::runtime_error("first");
    }));
    REQUIRE(g.try_spawn(ioc.get_executor(), [ctx]() -> awaitable<std::error_code> {
        (void)co_await ctx.done().async_receive(use_awaitable);
        co_return std::make_error_code(std::errc::io_error);
    }));
    std::exception_ptr from_coroutine;
    bool canceled_then = false;
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            auto [ec, first] = co_await g.async_wait(net::as_tuple(use_awaitable));
            CHECK(!ec);
            from_coroutine = first;
            canceled_then = ctx.err() == weft::context_errc::canceled;
        },
        net::detached);
    std::thread runner([&] { ioc.run(); });
    std::exception_ptr first;
    {
        weft_test::watchdog w("mixed group");
        first = g.wait();  // a thread waits for the coroutines too
        runner.join();
    }
    REQUIRE(first);
    CHECK(weft::error_message(first) == "first");
    CHECK(from_coroutine == first);
    CHECK(canceled_then);
    CHECK(saw_cancel.load() == 6);
    CHECK(weft::cause(ctx) == first);
    CHECK(g.errors().size() == 2);
}

TEST_CASE("error_group: 10,000 coroutine tasks under a limit, started without blocking") {
    const int tasks = 10000;
    constexpr int limit = 16;
    net::io_context ioc;
    weft::error_group g;
    g.set_limit(limit);
    int active = 0, peak = 0, finished = 0, started = 0;
    std::exception_ptr result = std::make_exception_ptr(1);
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            auto ex = co_await net::this_coro::executor;
            for (int i = 0; i < tasks; ++i) {
                co_await g.async_spawn(
                    ex,
                    [&]() -> awaitable<void> {
                        peak = std::max(peak, ++active);
                        // Stay until the limit is reached (or the last task has started), so
                        // that the spawner really waits for slots.
                        while (active < limit && started < tasks)
                            co_await net::post(ex, use_awaitable);
                        co_await net::post(ex, use_awaitable);
                        --active;
                        ++finished;
                    },
                    use_awaitable);
                ++started;
            }
            result = co_await g.async_wait(use_awaitable);
        },
        net::detached);
    run(ioc, "10,000 coroutine tasks");  // one thread: a blocking go() would deadlock here
    CHECK(finished == tasks);
    CHECK(peak == limit);
    CHECK(result == nullptr);
}

TEST_CASE("error_group: the limit is shared by thread and coroutine tasks") {
    net::io_context ioc;
    weft::error_group g;
    g.set_limit(2);
    weft::channel<int> release(0);
    g.go([release] { (void)release.receive(); });
    REQUIRE(g.try_spawn(ioc.get_executor(), [release]() -> awaitable<void> {
        (void)co_await release.async_receive(use_awaitable);
    }));
    CHECK_FALSE(g.try_go([] {}));
    CHECK_FALSE(g.try_spawn(ioc.get_executor(), []() -> awaitable<void> { co_return; }));
    bool spawned = false, ran = false;
    g.async_spawn(
        ioc.get_executor(),
        [&]() -> awaitable<void> {
            ran = true;
            co_return;
        },
        net::bind_executor(ioc, [&](error_code ec) { spawned = !ec; }));  // work for run()
    std::thread runner([&] { ioc.run(); });
    weft_test::watchdog w("shared limit");
    std::this_thread::sleep_for(10ms);
    CHECK_FALSE(spawned);  // no slot yet
    REQUIRE(release.send(1));
    REQUIRE(release.send(2));
    CHECK(g.wait() == nullptr);
    runner.join();
    CHECK(spawned);
    CHECK(ran);
}

TEST_CASE("error_group: a canceled async_spawn or async_wait leaves the group as it was") {
    using namespace net::experimental::awaitable_operators;
    net::io_context ioc;
    weft::error_group g;
    g.set_limit(1);
    weft::channel<int> release(0);
    REQUIRE(g.try_spawn(ioc.get_executor(), [release]() -> awaitable<void> {
        (void)co_await release.async_receive(use_awaitable);
    }));
    bool unrun_destroyed = false, ran = false;
    error_code spawn_ec, wait_ec;
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            auto ex = co_await net::this_coro::executor;
            auto marker = std::shared_ptr<bool>(&unrun_destroyed, [](bool* b) { *b = true; });
            {
                net::cancellation_signal sig0;
                net::steady_timer t(ex, 5ms);
                t.async_wait([&](error_code) { sig0.emit(net::cancellation_type::terminal); });
                auto task = [&ran, marker]() -> awaitable<void> {
                    ran = true;
                    co_return;
                };
                std::tie(spawn_ec) = co_await g.async_spawn(
                    ex, std::move(task),
                    net::bind_cancellation_slot(sig0.slot(), net::as_tuple(use_awaitable)));
            }
            marker.reset();
            // The same through awaitable_operators' ||, with the slot still taken.
            {
                net::steady_timer t(ex, 5ms);
                auto task = []() -> awaitable<void> { co_return; };
                auto r = co_await (g.async_spawn(ex, std::move(task), use_awaitable) ||
                                   t.async_wait(use_awaitable));
                CHECK(r.index() == 1);
            }
            net::cancellation_signal sig;
            net::steady_timer t2(ex, 5ms);
            t2.async_wait([&](error_code) { sig.emit(net::cancellation_type::terminal); });
            std::tie(wait_ec, std::ignore) = co_await g.async_wait(
                net::bind_cancellation_slot(sig.slot(), net::as_tuple(use_awaitable)));
            (void)co_await release.async_send(1, use_awaitable);
            co_await g.async_spawn(
                ex, []() -> awaitable<void> { co_return; }, use_awaitable);  // the slot is free
            auto [ec, first] = co_await g.async_wait(net::as_tuple(use_awaitable));
            CHECK(!ec);
            CHECK(first == nullptr);
        },
        net::detached);
    run(ioc, "cancel async_spawn and async_wait");
    CHECK(spawn_ec == net::error::operation_aborted);
    CHECK(unrun_destroyed);
    CHECK_FALSE(ran);
    CHECK(wait_ec == net::error::operation_aborted);
}

TEST_CASE("error_group: an io_context destroyed under parked tasks and waiters ends them all") {
    weft::error_group g;
    g.set_limit(3);
    weft::channel<int> never(0);
    auto alive = std::make_shared<int>(0);
    {
        net::io_context ioc;
        for (int i = 0; i < 3; ++i) {
            REQUIRE(g.try_spawn(ioc.get_executor(), [never, alive]() -> awaitable<void> {
                (void)co_await never.async_receive(use_awaitable);
            }));
        }
        net::co_spawn(
            ioc,
            [&, alive]() -> awaitable<void> {
                auto ex = co_await net::this_coro::executor;
                // Named: GCC 12 destroys a temporary of a co_await expression twice when the
                // frame is destroyed while suspended there.
                auto task = [alive]() -> awaitable<void> { co_return; };
                co_await g.async_spawn(ex, std::move(task), use_awaitable);  // parks: no slot
                FAIL_CHECK("a slot after the io_context was destroyed");
            },
            net::detached);
        net::co_spawn(
            ioc,
            [&, alive]() -> awaitable<void> {
                (void)co_await g.async_wait(use_awaitable);
                FAIL_CHECK("resumed after its io_context was destroyed");
            },
            net::detached);
        weft_test::watchdog w("park, then destroy");
        ioc.run_for(20ms);
        CHECK(alive.use_count() == 7);  // 3 tasks, 2 coroutines, 1 task in async_spawn, ours
    }
    CHECK(alive.use_count() == 1);
    std::exception_ptr first;
    {
        weft_test::watchdog w("wait after destroy");
        first = g.wait();  // the destroyed tasks have ended, with an error
    }
    REQUIRE(first);
    CHECK(weft::error_message(first).find("destroyed before it finished") != std::string::npos);
    CHECK(g.errors().size() == 3);
    CHECK(g.try_go([] {}));  // every slot was given back
    CHECK(g.wait() == first);
}

TEST_CASE("error_group: a group destroyed as soon as its async_wait completes") {
    const std::size_t rounds = weft_test::scale(500);
    net::io_context ioc;
    auto guard = net::make_work_guard(ioc);
    std::thread runner([&] { ioc.run(); });
    weft_test::watchdog w("error_group lifetime");
    for (std::size_t i = 0; i < rounds; ++i) {
        auto* g = new weft::error_group(weft::background());
        std::atomic<bool> finished{false};
        g->go([] {});
        REQUIRE(g->try_spawn(ioc.get_executor(), []() -> awaitable<void> { co_return; }));
        net::co_spawn(
            ioc,
            [g, &finished]() -> awaitable<void> {
                auto first = co_await g->async_wait(use_awaitable);
                CHECK(first == nullptr);
                delete g;
                finished.store(true, std::memory_order_release);
            },
            net::detached);
        while (!finished.load(std::memory_order_acquire)) std::this_thread::yield();
    }
    guard.reset();
    runner.join();
}
