// weft::broadcast with coroutine subscribers (Boost.Asio, weft/asio.hpp) beside thread ones.
#include <weft/asio.hpp>
#include <weft/broadcast.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <doctest/doctest.h>

#include <thread>
#include <vector>

#include "support.hpp"

namespace net = boost::asio;
using net::awaitable;
using net::use_awaitable;

TEST_CASE("a coroutine subscriber and a thread subscriber receive the same stream") {
    weft_test::watchdog w("broadcast coroutine and thread");
    net::io_context ioc;
    weft::broadcast<int> hub;
    // Small buffers under block: the publisher keeps waiting for one or the other, so values
    // are handed over while both kinds of subscriber are parked.
    auto coro_sub = hub.subscribe({.capacity = 2, .policy = weft::slow_policy::block});
    auto thread_sub = hub.subscribe({.capacity = 2, .policy = weft::slow_policy::block});
    const int n = static_cast<int>(weft_test::scale(5000));

    std::vector<int> by_coroutine;
    bool coroutine_saw_closed = false;
    net::co_spawn(
        ioc,
        [&, rx = coro_sub.rx()]() -> awaitable<void> {
            for (;;) {
                auto r = co_await rx.async_receive(use_awaitable);
                if (!r) {
                    coroutine_saw_closed = r.status == weft::op_status::closed;
                    co_return;
                }
                by_coroutine.push_back(*r);
            }
        },
        net::detached);
    std::vector<int> by_thread;
    std::thread reader([&] {
        for (int v : thread_sub) by_thread.push_back(v);
    });
    std::thread publisher([&] {
        for (int i = 0; i < n; ++i) CHECK(hub.publish(i).delivered == 2);
        hub.close();
    });
    ioc.run();
    publisher.join();
    reader.join();

    std::vector<int> want;
    for (int i = 0; i < n; ++i) want.push_back(i);
    CHECK(by_coroutine == want);
    CHECK(by_thread == want);
    CHECK(coroutine_saw_closed);
    CHECK(coro_sub.state() == weft::subscription_state::closed);
    CHECK(coro_sub.dropped() == 0);
}

TEST_CASE("a coroutine subscriber that falls behind is disconnected and can tell") {
    weft_test::watchdog w("broadcast coroutine disconnected");
    net::io_context ioc;
    weft::broadcast<int> hub;
    auto sub = hub.subscribe({.capacity = 3, .policy = weft::slow_policy::disconnect});
    for (int i = 0; i < 5; ++i) (void)hub.publish(i);  // nobody reads yet: the 4th disconnects
    std::vector<int> got;
    weft::subscription_state seen = weft::subscription_state::active;
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            while (auto r = co_await sub.rx().async_receive(use_awaitable)) got.push_back(*r);
            seen = sub.state();  // read after the channel reported closed
        },
        net::detached);
    ioc.run();
    CHECK(got == std::vector<int>{0, 1, 2});
    CHECK(seen == weft::subscription_state::disconnected);
    CHECK_FALSE(hub.is_closed());
}
