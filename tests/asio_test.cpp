// weft/asio.hpp: channels, select and cancellation from Boost.Asio coroutines and callbacks,
// mixed with threads on the same channels.
// First: the warning it silences is reported inside the Boost headers below.
#include "asio_support.hpp"

#include <weft/asio.hpp>
#include <weft/time.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

TEST_CASE("a coroutine receives what a thread sends, then closed; never an exception") {
    net::io_context ioc;
    weft::channel<int> ch(0);  // rendezvous: every value is a hand-off between thread and coroutine
    std::vector<int> got;
    bool saw_closed = false;
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            for (;;) {
                auto r = co_await ch.async_receive(use_awaitable);
                if (!r) {
                    saw_closed = r.status == weft::op_status::closed;
                    co_return;
                }
                got.push_back(*r);
            }
        },
        net::detached);
    std::thread sender([&] {
        for (int i = 0; i < 1000; ++i) REQUIRE(ch.send(i));
        ch.close();
    });
    run(ioc, "receive from a thread");
    sender.join();
    REQUIRE(got.size() == 1000);
    for (int i = 0; i < 1000; ++i) CHECK(got[std::size_t(i)] == i);
    CHECK(saw_closed);
}

TEST_CASE("a coroutine's send reaches a thread; on a closed channel the value comes back") {
    net::io_context ioc;
    weft::channel<std::unique_ptr<int>> ch(1);
    std::vector<int> got;
    std::thread receiver([&] {
        for (auto& p : ch) got.push_back(*p);
    });
    std::unique_ptr<int> returned;
    weft::op_status last = weft::op_status::ok;
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            for (int i = 0; i < 500; ++i) {
                auto r = co_await ch.async_send(std::make_unique<int>(i), use_awaitable);
                REQUIRE(r);
            }
            ch.close();
            auto r = co_await ch.async_send(std::make_unique<int>(7), use_awaitable);
            last = r.status;
            returned = std::move(*r.value);
        },
        net::detached);
    run(ioc, "send to a thread");
    receiver.join();
    REQUIRE(got.size() == 500);
    CHECK(got[499] == 499);
    CHECK(last == weft::op_status::closed);
    REQUIRE(returned);
    CHECK(*returned == 7);
}

TEST_CASE("two coroutines ping-pong on rendezvous channels, on one thread and on two") {
    for (int threads : {1, 2}) {
        net::io_context ioc;
        weft::channel<int> ping(0), pong(0);
        constexpr int rounds = 20000;
        int last = -1;
        net::co_spawn(
            ioc,
            [&]() -> awaitable<void> {
                for (int i = 0; i < rounds; ++i) {
                    REQUIRE(co_await ping.async_send(i, use_awaitable));
                    auto r = co_await pong.async_receive(use_awaitable);
                    REQUIRE(r);
                    last = *r;
                }
                ping.close();
            },
            net::detached);
        net::co_spawn(
            ioc,
            [&]() -> awaitable<void> {
                while (auto r = co_await ping.async_receive(use_awaitable))
                    REQUIRE(co_await pong.async_send(*r + 1, use_awaitable));
            },
            net::detached);
        run(ioc, "ping-pong", threads);
        CHECK(last == rounds);
    }
}

TEST_CASE("callbacks, use_future and deferred complete on the handler's executor") {
    net::io_context ioc;
    weft::channel<std::string> ch(4);
    std::thread::id ran_on;
    std::optional<std::string> got;
    // A plain callback runs on Asio's system executor; bound to ioc, in ioc.run().
    ch.async_receive(net::bind_executor(ioc, [&](weft::receive_result<std::string> r) {
        ran_on = std::this_thread::get_id();
        got = std::move(r.value);
    }));
    // Not inline: the value is sent by this thread, but the handler runs only in ioc.run().
    REQUIRE(ch.send("hello"));
    CHECK(!got);
    run(ioc, "callback");
    CHECK(got == "hello");
    CHECK(ran_on == std::this_thread::get_id());

    // A ready value does not complete inline either.
    REQUIRE(ch.send("ready"));
    bool done = false;
    ch.async_receive(net::bind_executor(ioc, [&](weft::receive_result<std::string> r) {
        done = true;
        CHECK(*r == "ready");
    }));
    CHECK(!done);
    ioc.restart();
    run(ioc, "callback, ready");
    CHECK(done);

    // use_future: the completion runs on a thread pool's executor.
    net::thread_pool pool(1);
    weft::channel<int> c2(0);
    auto f = c2.async_receive(net::bind_executor(pool, net::use_future));
    REQUIRE(c2.send(5));
    CHECK(f.get().value == 5);

    // deferred: nothing happens until it is started.
    auto op = c2.async_send(9, net::deferred);
    CHECK(!c2.try_receive());
    auto f2 = std::move(op)(net::bind_executor(pool, net::use_future));
    CHECK(*c2.receive() == 9);
    CHECK(f2.get().status == weft::op_status::ok);
    pool.join();
}

TEST_CASE("async_select: receive, send, timers and default, with its function run first") {
    net::io_context ioc;
    weft::channel<int> in(1), out(0);
    std::vector<std::string> log;
    std::thread late;
    std::thread reader([&] {
        auto v = out.receive();
        REQUIRE(v);
        CHECK(*v == 42);
    });
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            // Nothing ready: the default runs.
            auto i = co_await weft::async_select(
                use_awaitable, weft::on_receive(in, [&] { log.push_back("in"); }),
                weft::otherwise([&] { log.push_back("default"); }));
            CHECK(i == 1);
            // A send to the waiting thread.
            int v = 42;
            i = co_await weft::async_select(
                use_awaitable, weft::on_receive(in, [&] { log.push_back("in"); }),
                weft::on_send(out, v, [&](bool sent) { log.push_back(sent ? "sent" : "closed"); }));
            CHECK(i == 1);
            // A timer is a channel.
            i = co_await weft::async_select(
                use_awaitable, weft::on_receive(in, [&] { log.push_back("in"); }),
                weft::on_receive(weft::after(20ms), [&] { log.push_back("timeout"); }));
            CHECK(i == 1);
            // A value that arrives while we wait.
            late = std::thread([&] { REQUIRE(in.send(3)); });
            i = co_await weft::async_select(
                use_awaitable,
                weft::on_receive(in,
                                 [&](std::optional<int> x) { log.push_back(std::to_string(*x)); }),
                weft::on_receive(weft::after(10s), [&] { log.push_back("timeout"); }));
            CHECK(i == 0);
        },
        net::detached);
    run(ioc, "async_select");
    reader.join();
    late.join();
    CHECK(log == std::vector<std::string>{"default", "sent", "timeout", "3"});
}

TEST_CASE("async_select: an exception from a case's function reaches the coroutine") {
    net::io_context ioc;
    weft::channel<int> ch(1);
    REQUIRE(ch.send(1));
    bool caught = false;
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            try {
                (void)co_await weft::async_select(
                    use_awaitable, weft::on_receive(ch, [](std::optional<int>) -> void {
                        throw std::runtime_error("boom");
                    }));
            } catch (const std::runtime_error& e) { caught = std::string(e.what()) == "boom"; }
        },
        net::detached);
    run(ioc, "select throws");
    CHECK(caught);
}

TEST_CASE("a canceled receive consumes nothing and a canceled send hands its value back") {
    using namespace net::experimental::awaitable_operators;
    net::io_context ioc;
    weft::channel<std::unique_ptr<int>> ch(0);
    bool recv_canceled = false, send_canceled = false, value_back = false;
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            net::steady_timer t(ioc, 10ms);
            auto r = co_await (ch.async_receive(use_awaitable) || t.async_wait(use_awaitable));
            recv_canceled = r.index() == 1;
            t.expires_after(10ms);
            auto s = co_await (ch.async_send(std::make_unique<int>(5), use_awaitable) ||
                               t.async_wait(use_awaitable));
            send_canceled = s.index() == 1;
            // The || operator drops a canceled operation's result; bind a slot to see it.
            net::cancellation_signal sig;
            auto f = ch.async_send(std::make_unique<int>(6),
                                   net::bind_cancellation_slot(sig.slot(), use_awaitable));
            net::post(ioc, [&] { sig.emit(net::cancellation_type::terminal); });
            auto res = co_await std::move(f);
            value_back = res.status == weft::op_status::canceled && res.value && **res.value == 6;
        },
        net::detached);
    run(ioc, "cancel");
    CHECK(recv_canceled);
    CHECK(send_canceled);
    CHECK(value_back);
    CHECK(!ch.try_receive());  // nothing was left behind
}

TEST_CASE("stress: cancellation racing a hand-off has exactly one outcome, nothing lost") {
    // A thread sends 0..n-1 on a rendezvous channel. A coroutine receives with a cancellation
    // emitted at random moments from another handler; every value must arrive exactly once, in
    // order, whatever wins each race. Then the same for sends.
    const int n = static_cast<int>(weft_test::scale(20000));
    for (int threads : {1, 2}) {
        net::io_context ioc;
        auto strand = net::make_strand(ioc);
        weft::channel<int> ch(0);
        std::vector<int> got;
        int canceled = 0;
        std::thread sender([&] {
            for (int i = 0; i < n; ++i) REQUIRE(ch.send(i));
            ch.close();
        });
        net::co_spawn(
            strand,
            [&]() -> awaitable<void> {
                net::cancellation_signal sig;
                for (unsigned k = 0;; ++k) {
                    // Emit from another handler on the strand: before, during or after the
                    // hand-off.
                    if (k % 3 == 0)
                        net::post(strand, [&] { sig.emit(net::cancellation_type::all); });
                    auto r = co_await ch.async_receive(
                        net::bind_cancellation_slot(sig.slot(), use_awaitable));
                    if (r.status == weft::op_status::canceled) {
                        ++canceled;
                        continue;
                    }
                    if (!r) break;
                    got.push_back(*r);
                }
            },
            net::detached);
        run(ioc, "cancel stress, receive", threads);
        sender.join();
        REQUIRE(got.size() == std::size_t(n));
        for (int i = 0; i < n; ++i) REQUIRE(got[std::size_t(i)] == i);
        MESSAGE("receive: " << canceled << " canceled of " << n << " on " << threads
                            << " thread(s)");

        net::io_context ioc2;
        auto strand2 = net::make_strand(ioc2);
        weft::channel<int> ch2(0);
        std::vector<int> got2;
        std::thread receiver([&] {
            for (int v : ch2) got2.push_back(v);
        });
        int canceled2 = 0;
        net::co_spawn(
            strand2,
            [&]() -> awaitable<void> {
                net::cancellation_signal sig;
                unsigned k = 0;
                for (int i = 0; i < n; ++k) {
                    if (k % 3 == 0)
                        net::post(strand2, [&] { sig.emit(net::cancellation_type::all); });
                    auto r = co_await ch2.async_send(
                        i, net::bind_cancellation_slot(sig.slot(), use_awaitable));
                    if (r.status == weft::op_status::canceled) {
                        REQUIRE(r.value);
                        REQUIRE(*r.value == i);  // handed back: sent again next round
                        ++canceled2;
                        continue;
                    }
                    REQUIRE(r);
                    ++i;
                }
                ch2.close();
            },
            net::detached);
        run(ioc2, "cancel stress, send", threads);
        receiver.join();
        REQUIRE(got2.size() == std::size_t(n));
        for (int i = 0; i < n; ++i) REQUIRE(got2[std::size_t(i)] == i);
        MESSAGE("send: " << canceled2 << " canceled of " << n);
    }
}

TEST_CASE("threads' selects and coroutines' selects wait on the same channels at once") {
    // Two producers (a thread, a coroutine) and two consumers (a thread, a coroutine), each in a
    // select over both channels: every value arrives once.
    const int n = static_cast<int>(weft_test::scale(20000));
    net::io_context ioc;
    weft::channel<int> a(0), b(8);
    std::atomic<long> sum{0};
    std::atomic<int> count{0};
    std::atomic<int> producers{2};
    auto producer_done = [&] {
        if (--producers == 0) {
            a.close();
            b.close();
        }
    };
    std::thread tp([&] {
        for (int i = 0; i < n; ++i) {
            int v = i;
            (void)weft::select(weft::on_send(a, v, [] {}), weft::on_send(b, v, [] {}));
        }
        producer_done();
    });
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            for (int i = n; i < 2 * n; ++i) {
                int v = i;
                (void)co_await weft::async_select(use_awaitable, weft::on_send(a, v, [] {}),
                                                  weft::on_send(b, v, [] {}));
            }
            producer_done();
        },
        net::detached);
    auto consume = [&](std::optional<int> v, int& open) {
        if (v) {
            sum += *v;
            ++count;
        } else {
            --open;
        }
    };
    std::thread tc([&] {
        weft::receiver<int> ra = a, rb = b;
        int open = 2;
        while (open > 0) {
            (void)weft::select(weft::on_receive(ra,
                                                [&](std::optional<int> v) {
                                                    if (!v) ra = {};
                                                    consume(v, open);
                                                }),
                               weft::on_receive(rb, [&](std::optional<int> v) {
                                   if (!v) rb = {};
                                   consume(v, open);
                               }));
        }
    });
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            weft::receiver<int> ra = a, rb = b;
            int open = 2;
            while (open > 0) {
                (void)co_await weft::async_select(use_awaitable,
                                                  weft::on_receive(ra,
                                                                   [&](std::optional<int> v) {
                                                                       if (!v) ra = {};
                                                                       consume(v, open);
                                                                   }),
                                                  weft::on_receive(rb, [&](std::optional<int> v) {
                                                      if (!v) rb = {};
                                                      consume(v, open);
                                                  }));
            }
        },
        net::detached);
    run(ioc, "mixed selects", 2);
    tp.join();
    tc.join();
    CHECK(count == 2 * n);
    const long m = 2L * n;
    CHECK(sum == m * (m - 1) / 2);
}

TEST_CASE(
    "an io_context destroyed with coroutines parked on channels frees them; channels stay usable") {
    weft::channel<int> rendezvous(0), buffered(4), unheard(0);
    auto alive = std::make_shared<int>(0);
    {
        net::io_context ioc;
        for (int i = 0; i < 1000; ++i) {
            net::co_spawn(
                ioc,
                [&, i, keep = alive]() -> awaitable<void> {
                    (void)keep;
                    if (i % 2)
                        (void)co_await rendezvous.async_receive(use_awaitable);
                    else
                        (void)co_await weft::async_select(use_awaitable,
                                                          weft::on_receive(buffered, [] {}),
                                                          weft::on_send(unheard, 1, [] {}));
                    FAIL("a parked coroutine resumed");
                },
                net::detached);
        }
        weft_test::watchdog w("park, then destroy");
        ioc.run_for(50ms);  // everybody parks; run() would never return (outstanding work)
        CHECK(alive.use_count() == 1001);
    }
    CHECK(alive.use_count() == 1);  // every frame was destroyed
    // Nobody is registered any more: a send finds no receiver, the buffer works as before.
    CHECK(rendezvous.try_send(1).status == weft::op_status::full);
    CHECK(unheard.try_receive().status == weft::op_status::empty);
    REQUIRE(buffered.send(5));
    CHECK(*buffered.receive() == 5);
}

TEST_CASE("a parked operation's cancellation slot is let go when its io_context is destroyed") {
    // The signal outlives the context: emitting on it afterwards must reach nobody (the
    // operation's canceller was removed with it).
    net::cancellation_signal sig;
    weft::channel<int> ch(0);
    {
        net::io_context ioc;
        net::co_spawn(
            ioc,
            [&]() -> awaitable<void> {
                (void)co_await ch.async_receive(
                    net::bind_cancellation_slot(sig.slot(), use_awaitable));
            },
            net::detached);
        weft_test::watchdog w("park, then destroy");
        ioc.run_for(20ms);
        CHECK(sig.slot().has_handler());
    }
    CHECK(!sig.slot().has_handler());
    sig.emit(net::cancellation_type::terminal);  // a use after free under ASan, if it were kept
    CHECK(ch.try_send(1).status == weft::op_status::full);
}

// A channel that only parked coroutines still refer to lives as long as their operations: a
// cancellation hands the value back and the channel goes with the last frame; so does an
// io_context's shutdown. Seen through a value left in the channel's buffer.
TEST_CASE("a channel only coroutines refer to is freed with their operations") {
    auto tracked = std::make_shared<int>(7);
    for (bool by_cancel : {true, false}) {
        CAPTURE(by_cancel);
        net::cancellation_signal sig;
        std::optional<int> handed_back;
        {
            net::io_context ioc;
            {
                weft::channel<std::shared_ptr<int>> ch(1);
                REQUIRE(ch.try_send(tracked));  // the buffer is full: the next send parks
                net::co_spawn(
                    ioc,
                    [ch, &sig, &handed_back]() -> awaitable<void> {
                        auto r = co_await ch.async_send(
                            std::make_shared<int>(8),
                            net::bind_cancellation_slot(sig.slot(), use_awaitable));
                        if (r.status == weft::op_status::canceled && r.value)
                            handed_back = **r.value;
                    },
                    net::detached);
            }  // the last handle outside the coroutine is gone
            weft_test::watchdog w("park, then cancel or destroy");
            ioc.run_for(20ms);
            CHECK(tracked.use_count() == 2);  // the parked coroutine keeps the channel alive
            if (by_cancel) {
                sig.emit(net::cancellation_type::terminal);
                ioc.restart();
                ioc.run();  // the coroutine ends: no work is left
                CHECK(handed_back == 8);
                CHECK(tracked.use_count() == 1);
            }
        }
        CHECK(tracked.use_count() == 1);  // the io_context's shutdown freed frame and channel
    }
}

TEST_CASE("a stopped io_context, then destroyed while a thread races to wake its coroutines") {
    // Threads hand values to parked coroutines while the context is destroyed: each operation is
    // either withdrawn or its step posted and then destroyed; no value is lost in between: a
    // value a thread sent to a coroutine that never ran is gone with it, as in Go when the
    // receiver's goroutine dies, but the thread's send never blocks forever.
    for (int round = 0; round < 20; ++round) {
        weft::channel<int> ch(0);
        std::atomic<bool> stop{false};
        std::thread sender([&] {
            weft_test::watchdog w("sender");
            while (!stop.load()) (void)ch.send_for(1, 1ms);
        });
        {
            net::io_context ioc;
            for (int i = 0; i < 100; ++i) {
                net::co_spawn(
                    ioc,
                    [&]() -> awaitable<void> {
                        for (;;) (void)co_await ch.async_receive(use_awaitable);
                    },
                    net::detached);
            }
            ioc.run_for(2ms);
        }
        stop = true;
        sender.join();
    }
}

TEST_CASE("100,000 coroutines parked on one channel are woken by one close") {
    const int n = static_cast<int>(weft_test::scale(100000));
    net::io_context ioc;
    weft::channel<int> ch(0);
    int closed = 0;
    for (int i = 0; i < n; ++i) {
        net::co_spawn(
            ioc,
            [&]() -> awaitable<void> {
                auto r = co_await ch.async_receive(use_awaitable);
                closed += r.status == weft::op_status::closed;
            },
            net::detached);
    }
    net::post(ioc, [&] { ch.close(); });
    run(ioc, "100k parked");
    CHECK(closed == n);
}

TEST_CASE("a nil channel's operation waits for its cancellation only") {
    using namespace net::experimental::awaitable_operators;
    net::io_context ioc;
    weft::channel<int> nil;
    bool timer_won = false;
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            net::steady_timer t(ioc, 5ms);
            auto r = co_await (nil.async_receive(use_awaitable) || t.async_wait(use_awaitable));
            timer_won = r.index() == 1;
        },
        net::detached);
    run(ioc, "nil");
    CHECK(timer_won);
}

TEST_CASE("selector::async_select: a coroutine fans in a run-time set of channels") {
    net::io_context ioc;
    std::vector<weft::channel<int>> inputs;
    for (int i = 0; i < 8; ++i) inputs.emplace_back(i % 2 ? 0 : 4);
    std::vector<std::thread> producers;
    for (int i = 0; i < 8; ++i) {
        producers.emplace_back([&, i] {
            for (int k = 0; k < 100; ++k) REQUIRE(inputs[std::size_t(i)].send(i * 1000 + k));
            inputs[std::size_t(i)].close();
        });
    }
    long sum = 0;
    int values = 0;
    weft::channel<std::string> out(0);
    std::optional<std::string> sent_once;
    std::thread reader([&] { sent_once = out.receive(); });
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            weft::selector sel;
            int open = 8;
            for (int i = 0; i < 8; ++i) {
                sel.add_receive(inputs[std::size_t(i)], [&, i](std::optional<int> v) {
                    if (v) {
                        sum += *v;
                        ++values;
                    } else {
                        sel.set_enabled(std::size_t(i), false);
                        --open;
                    }
                });
            }
            const std::size_t send_case = sel.add_send(out, std::string("once"), [] {});
            while (open > 0) {
                auto i = co_await sel.async_select(use_awaitable);
                REQUIRE(i < sel.size());
            }
            CHECK(!sel.enabled(send_case));  // it sent its value: disabled, fired once
        },
        net::detached);
    run(ioc, "selector fan-in");
    for (auto& t : producers) t.join();
    reader.join();
    CHECK(values == 800);
    long want = 0;
    for (int i = 0; i < 8; ++i)
        for (int k = 0; k < 100; ++k) want += i * 1000 + k;
    CHECK(sum == want);
    CHECK(sent_once == "once");
}

TEST_CASE("context_signal: a context canceled on another thread cancels Asio operations") {
    net::io_context ioc;
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    weft::channel<int> ch(0);
    bool timer_aborted = false;
    weft::op_status receive_status = weft::op_status::ok;
    net::co_spawn(
        ioc,
        [&, c = ctx]() -> awaitable<void> {
            weft::context_signal on_cancel(c, co_await net::this_coro::executor);
            net::steady_timer t(ioc, 1h);
            auto [ec] = co_await t.async_wait(
                net::bind_cancellation_slot(on_cancel.slot(), net::as_tuple(use_awaitable)));
            timer_aborted = ec == net::error::operation_aborted;
            // Already canceled: an operation bound afterwards is canceled too, at once.
            weft::context_signal again(c, co_await net::this_coro::executor);
            auto r =
                co_await ch.async_receive(net::bind_cancellation_slot(again.slot(), use_awaitable));
            receive_status = r.status;
        },
        net::detached);
    std::thread canceler([&, f = cancel] {
        std::this_thread::sleep_for(20ms);
        f();
    });
    run(ioc, "context cancels Asio");
    canceler.join();
    CHECK(timer_aborted);
    CHECK(receive_status == weft::op_status::canceled);
}

TEST_CASE("with_cancellation_slot: an Asio cancellation cancels a context a thread waits on") {
    net::io_context ioc;
    weft::channel<int> ch(0);
    std::optional<weft::op_status> thread_saw;
    net::cancellation_signal sig;
    auto [ctx, cancel] = weft::with_cancellation_slot(weft::background(), sig.slot());
    std::thread worker([&, c = ctx] {
        weft_test::watchdog w("thread waits on the context");
        thread_saw = ch.receive(c).status;  // blocks until the context is canceled
    });
    // An Asio handler (here a timer's) emits the cancellation, on the slot's executor.
    net::steady_timer t(ioc, 20ms);
    t.async_wait([&](boost::system::error_code) { sig.emit(net::cancellation_type::terminal); });
    run(ioc, "Asio cancels a context");
    worker.join();
    REQUIRE(thread_saw);
    CHECK(*thread_saw == weft::op_status::canceled);
    CHECK(ctx.err() == weft::context_errc::canceled);
}

TEST_CASE("a coroutine canceled by || cancels the context it handed to a thread") {
    // The coroutine's own cancellation reaches its pending operation: here a wait on the
    // context's done(), canceled by the ||, after which the coroutine cancels the context.
    using namespace net::experimental::awaitable_operators;
    net::io_context ioc;
    weft::channel<int> ch(0);
    std::optional<weft::op_status> thread_saw;
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    std::thread worker([&, c = ctx] {
        weft_test::watchdog w("thread waits on the context");
        thread_saw = ch.receive(c).status;
    });
    net::co_spawn(
        ioc,
        [&, c = ctx, f = cancel]() -> awaitable<void> {
            auto guard = [&]() -> awaitable<void> {
                auto r = co_await c.done().async_receive(use_awaitable);
                if (r.status == weft::op_status::canceled) f();  // we were canceled: pass it on
            };
            net::steady_timer t(ioc, 20ms);
            (void)co_await (guard() || t.async_wait(use_awaitable));
        },
        net::detached);
    run(ioc, "coroutine cancels a context");
    worker.join();
    REQUIRE(thread_saw);
    CHECK(*thread_saw == weft::op_status::canceled);
}
