// weft/future.hpp (a one-shot result on a channel) and weft/co_worker_pool.hpp (a worker pool
// of Asio coroutines): results for threads, select and coroutines; drain, stop, errors.
// First: the warning it silences is reported inside the Boost headers below.
#include "asio_support.hpp"

#include <weft/co_worker_pool.hpp>
#include <weft/future.hpp>
#include <weft/time.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

TEST_CASE("future: a value, an exception or a broken promise, for a thread") {
    weft_test::watchdog w("future get");
    weft::promise<std::unique_ptr<int>> p;
    auto f = p.get_future();
    std::thread t([p = std::move(p)]() mutable { p.set_value(std::make_unique<int>(7)); });
    CHECK(*f.get() == 7);
    t.join();
    CHECK_THROWS_AS(f.get(), weft::broken_promise);  // taken: there is no second result

    weft::promise<int> q;
    auto g = q.get_future();
    q.set_exception(std::make_exception_ptr(std::runtime_error("boom")));
    CHECK_THROWS_WITH_AS(g.get(), "boom", std::runtime_error);
    CHECK_THROWS_AS(q.set_value(1), std::logic_error);

    weft::future<void> h;
    {
        weft::promise<void> r;
        h = r.get_future();
    }
    CHECK_THROWS_AS(h.get(), weft::broken_promise);
    CHECK(!weft::future<int>().valid());
}

TEST_CASE("future: a case in select, beside a context") {
    weft_test::watchdog w("future select");
    weft::promise<int> p;
    auto f = p.get_future();
    std::size_t i =
        weft::select(weft::on_receive(f.chan(), [] {}), weft::on_receive(weft::after(20ms), [] {}));
    CHECK(i == 1);  // nothing yet: the timer fires
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    std::thread t([p = std::move(p)]() mutable { p.set_value(5); });
    int got = 0;
    i = weft::select(
        weft::on_receive(f.chan(),
                         [&](std::optional<weft::outcome<int>> r) { got = std::move(*r).get(); }),
        weft::on_receive(ctx.done(), [] {}));
    t.join();
    CHECK(i == 0);
    CHECK(got == 5);
    cancel();
}

TEST_CASE("future: async_get from a coroutine; an exception is thrown there") {
    net::io_context ioc;
    weft::promise<std::string> p;
    weft::promise<void> v;
    weft::promise<int> e;
    auto fp = p.get_future();
    auto fv = v.get_future();
    auto fe = e.get_future();
    std::string got;
    bool void_ok = false, threw = false, canceled_kept = false;
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            got = co_await fp.async_get(use_awaitable);
            co_await fv.async_get(use_awaitable);
            void_ok = true;
            try {
                (void)co_await fe.async_get(use_awaitable);
            } catch (const std::out_of_range&) { threw = true; }
            // Canceled before the result: nothing is taken, the result stays for get().
            weft::promise<int> late;
            auto fl = late.get_future();
            net::cancellation_signal sig;
            net::post(ioc, [&] { sig.emit(net::cancellation_type::terminal); });
            try {
                (void)co_await fl.async_get(net::bind_cancellation_slot(sig.slot(), use_awaitable));
            } catch (const boost::system::system_error& err) {
                canceled_kept = err.code() == net::error::operation_aborted;
            }
            late.set_value(3);
            canceled_kept = canceled_kept && fl.get() == 3;
        },
        net::detached);
    std::thread t([&] {
        p.set_value("hello");
        v.set_value();
        e.set_exception(std::make_exception_ptr(std::out_of_range("x")));
    });
    run(ioc, "async_get");
    t.join();
    CHECK(got == "hello");
    CHECK(void_ok);
    CHECK(threw);
    CHECK(canceled_kept);
}

TEST_CASE("co_worker_pool: post from threads, submit, run on coroutines, drain on shutdown") {
    for (int threads : {1, 2}) {
        net::io_context ioc;
        auto guard = net::make_work_guard(ioc);
        std::vector<std::thread> runners;
        for (int i = 0; i < threads; ++i) runners.emplace_back([&] { ioc.run(); });
        weft_test::watchdog w("post and submit");
        {
            weft::co_worker_pool pool(ioc.get_executor(), 4, 8);  // a small queue: backpressure
            std::atomic<int> ran{0};
            const int n = static_cast<int>(weft_test::scale(10000));
            for (int i = 0; i < n; ++i) pool.post([&] { ran.fetch_add(1); });
            auto f = pool.submit([] { return 6 * 7; });
            auto g = pool.submit([]() -> awaitable<int> {
                net::steady_timer t(co_await net::this_coro::executor, 1ms);
                co_await t.async_wait(use_awaitable);
                co_return 9;
            });
            CHECK(f.get() == 42);
            CHECK(g.get() == 9);
            pool.shutdown();
            CHECK(ran.load() == n);
            auto st = pool.stats();
            CHECK(st.completed == std::size_t(n) + 2);
            CHECK(st.failed == 0);
            CHECK(st.queued == 0);
            CHECK(st.running == 0);
            CHECK_THROWS_AS(pool.post([] {}), weft::pool_closed);
            CHECK(pool.try_post([] {}) == weft::op_status::closed);
        }
        guard.reset();
        for (auto& t : runners) t.join();
    }
}

TEST_CASE("co_worker_pool: awaitable tasks; workers bound the tasks in flight") {
    net::io_context ioc;
    weft::co_worker_pool pool(ioc.get_executor(), 3);
    int in_flight = 0, most = 0, done = 0;
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            for (int i = 0; i < 12; ++i) {
                co_await pool.async_post(
                    [&]() -> awaitable<void> {
                        most = std::max(most, ++in_flight);
                        net::steady_timer t(co_await net::this_coro::executor, 2ms);
                        co_await t.async_wait(use_awaitable);
                        --in_flight;
                        ++done;
                    },
                    use_awaitable);
            }
            auto f = co_await pool.async_submit([] { return std::string("r"); }, use_awaitable);
            CHECK(co_await f.async_get(use_awaitable) == "r");
            co_await pool.async_shutdown(use_awaitable);
            CHECK(done == 12);
            bool closed = false;
            try {
                co_await pool.async_post([] {}, use_awaitable);
            } catch (const weft::pool_closed&) { closed = true; }
            CHECK(closed);
        },
        net::detached);
    run(ioc, "awaitable tasks");
    CHECK(done == 12);
    CHECK(most == 3);
}

TEST_CASE("co_worker_pool: a coroutine's async_post waits for room; FIFO") {
    net::io_context ioc;
    weft::co_worker_pool pool(ioc.get_executor(), 1, 2);
    std::vector<int> order;
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            for (int i = 0; i < 100; ++i)
                co_await pool.async_post([&order, i] { order.push_back(i); }, use_awaitable);
            co_await pool.async_shutdown(use_awaitable);
        },
        net::detached);
    run(ioc, "async_post backpressure");
    REQUIRE(order.size() == 100);
    for (int i = 0; i < 100; ++i) CHECK(order[std::size_t(i)] == i);
}

TEST_CASE("co_worker_pool: exceptions go to the future or to on_error; failed counts") {
    net::io_context ioc;
    std::atomic<int> reported{0};
    weft::worker_pool_options o;
    o.workers = 2;
    o.on_error = [&](std::exception_ptr) { reported.fetch_add(1); };
    weft::co_worker_pool pool(ioc.get_executor(), o);
    pool.post([] { throw std::runtime_error("post"); });
    pool.post([]() -> awaitable<void> {
        throw std::runtime_error("co post");
        co_return;
    });
    auto f = pool.submit([]() -> int { throw std::logic_error("submit"); });
    auto g = pool.submit([]() -> awaitable<int> {
        throw std::logic_error("co submit");
        co_return 1;
    });
    net::co_spawn(ioc, pool.async_shutdown(use_awaitable), net::detached);
    run(ioc, "exceptions");
    CHECK_THROWS_WITH_AS(f.get(), "submit", std::logic_error);
    CHECK_THROWS_WITH_AS(g.get(), "co submit", std::logic_error);
    CHECK(reported.load() == 2);
    REQUIRE(pool.first_error());
    auto st = pool.stats();
    CHECK(st.failed == 4);
    CHECK(st.completed == 0);
}

TEST_CASE("co_worker_pool: stop hands back the queued tasks; their futures get task_canceled") {
    net::io_context ioc;
    weft::co_worker_pool pool(ioc.get_executor(), 1);
    bool saw_stop = false;
    // The one worker is busy in this task until stop() cancels its context.
    auto busy = pool.submit([&]() -> awaitable<int> {
        auto r = co_await pool.stop_context().done().async_receive(use_awaitable);
        saw_stop = !r;  // closed: canceled
        co_return 1;
    });
    int ran = 0;
    for (int i = 0; i < 5; ++i) pool.post([&] { ++ran; });
    auto dropped = pool.submit([] { return 2; });
    ioc.poll();  // the worker takes the first task and suspends in it
    auto back = pool.stop();
    REQUIRE(back.size() == 6);
    // A handed-back task runs elsewhere, once; dropping the others cancels the submit task's
    // future.
    net::co_spawn(ioc, back[0].run(), net::detached);
    back.clear();
    CHECK_THROWS_AS(dropped.get(), weft::task_canceled);
    net::co_spawn(ioc, pool.async_shutdown(use_awaitable), net::detached);
    run(ioc, "stop");
    CHECK(saw_stop);
    CHECK(busy.get() == 1);
    CHECK(ran == 1);
    CHECK(pool.stats().canceled == 6);
    CHECK(pool.stats().completed == 1);
}

TEST_CASE("co_worker_pool: destroyed, it drains; an io_context destroyed ends its workers") {
    auto witness = std::make_shared<int>(0);
    int ran = 0;
    {
        net::io_context ioc;
        {
            weft::co_worker_pool pool(ioc.get_executor(), 2);
            for (int i = 0; i < 10; ++i) pool.post([&ran] { ++ran; });
        }  // closes the queue; the workers drain it when the context runs
        run(ioc, "drain after the pool");
        CHECK(ran == 10);

        net::io_context ioc2;
        weft::co_worker_pool pool2(ioc2.get_executor(), 1);
        pool2.post([w = witness]() -> awaitable<void> {
            net::steady_timer t(co_await net::this_coro::executor, std::chrono::hours(1));
            co_await t.async_wait(use_awaitable);
        });
        pool2.post([w = witness] {});  // queued behind it: never runs
        ioc2.poll();
        CHECK(witness.use_count() == 3);
    }  // ioc2 first: its workers and their tasks are destroyed
    CHECK(witness.use_count() == 1);
}
