// Go's channel tests with coroutine parties, and threads and coroutines mixed on every operation.
//
// Part 1 ports tests from Go 1.22's src/runtime/chan_test.go and test/chan/*.go (the thread
// versions are golang_runtime_chan_test.cpp and golang_test_chan_test.cpp) with goroutines
// played by C++20 coroutines on a Boost.Asio io_context (weft/asio.hpp), often beside threads:
// a goroutine that is a coroutine is `net::co_spawn`, `<-c` is `co_await c.async_receive`,
// `select` is `co_await weft::async_select`. Where Go sleeps to let a goroutine block, a
// coroutine is made to park deterministically instead: `ioc.poll()` runs it until it waits.
// Sizes are smaller than Go's (every case also runs on one and two io_context threads) and
// shrink to a tenth under sanitizers (weft_test::scale).
//
// Part 2 is the mixed thread/coroutine matrix that asio_test.cpp does not cover: each operation
// (send, receive, select with send and receive cases) of one kind of party completed by the
// other, close and context cancellation while blocked, move-only values, exceptions from select
// case functions, and the use_awaitable fast path's own rules (lazy start, bounded run).
// First: the warning it silences is reported inside the Boost headers below.
#include "asio_support.hpp"

#include <weft/asio.hpp>
#include <weft/context.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

using weft::channel;
using weft::on_receive;
using weft::on_send;
using weft::op_status;
using weft::otherwise;
using weft_test::goroutines;

namespace {

// Coroutines on one io_context; an exception escaping one (a failed REQUIRE) is counted.
class tasks {
public:
    explicit tasks(int threads = 1) : threads_(threads), ioc_(threads) {}
    net::io_context& ioc() noexcept { return ioc_; }

    template <class F>
    void go(F&& f) {
        net::co_spawn(ioc_, std::forward<F>(f), [this](std::exception_ptr e) {
            if (e) failures_.fetch_add(1, std::memory_order_relaxed);
        });
    }
    // Runs what is ready, without waiting: afterwards every coroutine that must wait is parked.
    void poll() {
        ioc_.poll();
        ioc_.restart();
    }
    // Runs until every coroutine has finished, on the io_context's threads.
    void run() {
        std::vector<std::thread> more;
        for (int i = 1; i < threads_; ++i) more.emplace_back([this] { ioc_.run(); });
        ioc_.run();
        for (auto& t : more) t.join();
        ioc_.restart();
    }
    int failures() const noexcept { return failures_.load(std::memory_order_relaxed); }

private:
    int threads_;
    net::io_context ioc_;
    std::atomic<int> failures_{0};
};

// Go's time.Sleep(time.Millisecond) "to let the goroutine block", for a thread party.
void let_thread_block() { std::this_thread::sleep_for(2ms); }

}  // namespace

// =============================================================================================
// Part 1: Go's tests, goroutines as coroutines

// Go 1.22 src/runtime/chan_test.go, TestChan, the checks that apply to a coroutine party: for
// each capacity, a receive from an empty channel and a send to a full one wait (and their
// non-blocking forms do not), close wakes a waiting receive, a closed channel drains and then
// reports closed, and values arrive in order, none lost or duplicated with several parties.
TEST_CASE("TestChan, coroutine parties") {
    std::atomic<std::uint64_t> caps_done{0};
    WEFT_WATCHDOG_PROGRESS(caps_done);
    const int n = static_cast<int>(weft_test::scale(40));

    SUBCASE("a receive from an empty channel waits; a non-blocking one does not") {
        for (int cap = 0; cap < n; ++cap) {
            CAPTURE(cap);
            caps_done.fetch_add(1, std::memory_order_relaxed);
            tasks t;
            channel<int> c(static_cast<std::size_t>(cap));
            bool recv1 = false, recv2 = false;
            t.go([&]() -> awaitable<void> {
                (void)co_await c.async_receive(use_awaitable);
                recv1 = true;
            });
            t.go([&]() -> awaitable<void> {
                (void)co_await weft::async_select(use_awaitable,
                                                  on_receive(c, [](std::optional<int>) {}));
                recv2 = true;
            });
            t.poll();
            CHECK_FALSE(recv1);
            CHECK_FALSE(recv2);
            std::size_t nonblocking = 0;
            t.go([&]() -> awaitable<void> {
                nonblocking = co_await weft::async_select(use_awaitable, on_receive(c, [] {}),
                                                          otherwise([] {}));
            });
            t.poll();
            CHECK(nonblocking == 1);
            // The woken receivers must run for a second send to find room in a buffer of one.
            std::thread runner([&] { t.run(); });
            REQUIRE(c.send(0));
            REQUIRE(c.send(0));
            runner.join();
            CHECK(recv1);
            CHECK(recv2);
            CHECK(t.failures() == 0);
        }
    }

    SUBCASE("a send to a full channel waits; a non-blocking one does not") {
        for (int cap = 0; cap < n; ++cap) {
            CAPTURE(cap);
            caps_done.fetch_add(1, std::memory_order_relaxed);
            tasks t;
            channel<int> c(static_cast<std::size_t>(cap));
            for (int i = 0; i < cap; ++i) REQUIRE(c.try_send(i));
            bool sent = false;
            t.go([&]() -> awaitable<void> {
                auto r = co_await c.async_send(-1, use_awaitable);
                sent = r.status == op_status::ok;
            });
            t.poll();
            CHECK_FALSE(sent);
            std::size_t nonblocking = 0;
            t.go([&]() -> awaitable<void> {
                nonblocking = co_await weft::async_select(use_awaitable, on_send(c, 7, [] {}),
                                                          otherwise([] {}));
            });
            t.poll();
            CHECK(nonblocking == 1);
            // Drain: the buffered values in order, then the waiting sender's (which must run
            // to put it in a buffer).
            std::thread runner([&] { t.run(); });
            for (int i = 0; i < cap; ++i) CHECK(c.receive() == std::optional<int>(i));
            CHECK(c.receive() == std::optional<int>(-1));
            runner.join();
            CHECK(sent);
            CHECK(c.try_receive().status == op_status::empty);  // 7 was never sent
            CHECK(t.failures() == 0);
        }
    }

    SUBCASE("close wakes a waiting receive; a closed channel drains, then reports closed") {
        for (int cap = 0; cap < n; ++cap) {
            CAPTURE(cap);
            caps_done.fetch_add(1, std::memory_order_relaxed);
            tasks t;
            channel<int> c(static_cast<std::size_t>(cap));
            op_status woke = op_status::ok;
            t.go([&]() -> awaitable<void> {
                woke = (co_await c.async_receive(use_awaitable)).status;
            });
            t.poll();
            c.close();
            t.run();
            CHECK(woke == op_status::closed);

            channel<int> d(static_cast<std::size_t>(cap));
            for (int i = 0; i < cap; ++i) REQUIRE(d.try_send(i));
            d.close();
            std::vector<int> got;
            int closed = 0;
            t.go([&]() -> awaitable<void> {
                for (int i = 0; i < cap + 2; ++i) {
                    auto r = co_await d.async_receive(use_awaitable);
                    if (r)
                        got.push_back(*r);
                    else
                        closed += r.status == op_status::closed;
                }
            });
            t.run();
            CHECK(got.size() == static_cast<std::size_t>(cap));
            for (int i = 0; i < static_cast<int>(got.size()); ++i)
                CHECK(got[static_cast<std::size_t>(i)] == i);
            CHECK(closed == 2);
            CHECK(t.failures() == 0);
        }
    }

    SUBCASE("FIFO order; what P sending coroutines send P receiving coroutines receive") {
        for (int cap = 0; cap < n; ++cap) {
            CAPTURE(cap);
            caps_done.fetch_add(1, std::memory_order_relaxed);
            for (int threads : {1, 2}) {
                CAPTURE(threads);
                tasks t(threads);
                channel<int> c(static_cast<std::size_t>(cap));
                int out_of_order = 0;
                t.go([&]() -> awaitable<void> {
                    for (int i = 0; i < 100; ++i) (void)co_await c.async_send(i, use_awaitable);
                });
                t.go([&]() -> awaitable<void> {
                    for (int i = 0; i < 100; ++i) {
                        auto r = co_await c.async_receive(use_awaitable);
                        out_of_order += r.value != i;
                    }
                });
                t.run();
                CHECK(out_of_order == 0);

                constexpr int P = 4, L = 500;
                std::vector<std::map<int, int>> parts(P);
                for (int p = 0; p < P; ++p) {
                    t.go([&]() -> awaitable<void> {
                        for (int i = 0; i < L; ++i) (void)co_await c.async_send(i, use_awaitable);
                    });
                    t.go([&, p]() -> awaitable<void> {
                        for (int i = 0; i < L; ++i) {
                            auto r = co_await c.async_receive(use_awaitable);
                            ++parts[static_cast<std::size_t>(p)][r.value.value_or(-1)];
                        }
                    });
                }
                t.run();
                std::map<int, int> recv;
                for (auto& part : parts)
                    for (auto [k, v] : part) recv[k] += v;
                CHECK(recv.size() == static_cast<std::size_t>(L));
                for (const auto& kv : recv) {
                    CAPTURE(kv.first);
                    CHECK(kv.second == P);
                }
                CHECK(t.failures() == 0);
            }
        }
    }
}

// Go 1.22 src/runtime/chan_test.go, TestSelfSelect: two parties each select over a send and a
// receive on the same channel; no deadlock, and on an unbuffered channel a select never
// receives its own send. Here: two coroutines (on 1 and 2 threads), and a coroutine beside a
// thread.
TEST_CASE("TestSelfSelect, coroutine parties") {
    WEFT_WATCHDOG();
    for (std::size_t cap : {std::size_t{0}, std::size_t{10}}) {
        for (int mode = 0; mode < 3; ++mode) {  // 2 coroutines on 1 thread, on 2; mixed
            CAPTURE(cap);
            CAPTURE(mode);
            tasks t(mode == 1 ? 2 : 1);
            channel<int> c(cap);
            std::atomic<int> self_receives{0};
            auto check = [&](int p) {
                return [&, p](std::optional<int> v) {
                    if (cap == 0 && v == std::optional<int>(p)) ++self_receives;
                };
            };
            auto coro = [&](int p) -> awaitable<void> {
                for (int i = 0; i < 1000; ++i) {
                    if (p == 0 || i % 2 == 0)
                        (void)co_await weft::async_select(use_awaitable, on_send(c, p, [] {}),
                                                          on_receive(c, check(p)));
                    else
                        (void)co_await weft::async_select(use_awaitable, on_receive(c, check(p)),
                                                          on_send(c, p, [] {}));
                }
            };
            t.go([&] { return coro(0); });
            goroutines g;
            if (mode == 2) {
                g.go([&] {
                    for (int i = 0; i < 1000; ++i) {
                        if (i % 2 == 0)
                            weft::select(on_send(c, 1, [] {}), on_receive(c, check(1)));
                        else
                            weft::select(on_receive(c, check(1)), on_send(c, 1, [] {}));
                    }
                });
            } else {
                t.go([&] { return coro(1); });
            }
            t.run();
            g.join();
            CHECK(self_receives.load() == 0);
            CHECK(t.failures() == 0);
        }
    }
}

// Go 1.22 src/runtime/chan_test.go, TestSelectStress: per channel (2 unbuffered, caps 2 and 3)
// one sender and one receiver, plus one party that sends N values on each channel through a
// single select and one that receives N from each the same way, disabling a channel (nil) once
// its N are done. Here the per-channel parties alternate thread and coroutine, the select
// sender is a coroutine and the select receiver a thread, then the other way round. Go checks
// that this does not deadlock (the watchdog); the port also checks that a disabled case never
// fires and that every value arrived.
TEST_CASE("TestSelectStress, threads and coroutines") {
    WEFT_WATCHDOG(std::chrono::seconds(60));
    constexpr int N = static_cast<int>(weft_test::scale(10000));
    for (bool coro_sends : {true, false}) {
        CAPTURE(coro_sends);
        tasks t(2);
        std::array<channel<int>, 4> c{channel<int>(0), channel<int>(0), channel<int>(2),
                                      channel<int>(3)};
        std::atomic<int> received{0};
        std::atomic<int> overfired{0};
        goroutines g;
        for (int k = 0; k < 4; ++k) {
            auto ch = c[static_cast<std::size_t>(k)];
            if (k % 2 == 0) {
                g.go([ch] {
                    for (int i = 0; i < N; ++i) (void)ch.send(0);
                });
                t.go([ch, &received]() -> awaitable<void> {
                    for (int i = 0; i < N; ++i) {
                        auto r = co_await ch.async_receive(use_awaitable);
                        received += r.status == op_status::ok;
                    }
                });
            } else {
                t.go([ch]() -> awaitable<void> {
                    for (int i = 0; i < N; ++i) (void)co_await ch.async_send(0, use_awaitable);
                });
                g.go([ch, &received] {
                    for (int i = 0; i < N; ++i)
                        if (ch.receive()) ++received;
                });
            }
        }
        // The select parties: count per channel, and drop a channel (nil) at N.
        auto select_sender = [&](std::array<channel<int>, 4> c1, auto select_fn) {
            std::array<int, 4> n{};
            for (int i = 0; i < 4 * N; ++i) {
                auto sent = [&](int k) {
                    return [&, k] {
                        if (++n[static_cast<std::size_t>(k)] > N) ++overfired;
                        if (n[static_cast<std::size_t>(k)] == N)
                            c1[static_cast<std::size_t>(k)] = channel<int>();
                    };
                };
                select_fn(c1, sent);
            }
        };
        auto select_receiver = [&](std::array<channel<int>, 4> c1, auto select_fn) {
            std::array<int, 4> n{};
            for (int i = 0; i < 4 * N; ++i) {
                auto got = [&](int k) {
                    return [&, k](std::optional<int> v) {
                        if (v) ++received;
                        if (++n[static_cast<std::size_t>(k)] > N) ++overfired;
                        if (n[static_cast<std::size_t>(k)] == N)
                            c1[static_cast<std::size_t>(k)] = channel<int>();
                    };
                };
                select_fn(c1, got);
            }
        };
        auto thread_send = [](auto& c1, auto& f) {
            weft::select(on_send(c1[3], 0, f(3)), on_send(c1[2], 0, f(2)), on_send(c1[0], 0, f(0)),
                         on_send(c1[1], 0, f(1)));
        };
        auto thread_receive = [](auto& c1, auto& f) {
            weft::select(on_receive(c1[0], f(0)), on_receive(c1[1], f(1)), on_receive(c1[2], f(2)),
                         on_receive(c1[3], f(3)));
        };
        if (coro_sends) {
            t.go([&, c]() -> awaitable<void> {
                auto c1 = c;
                std::array<int, 4> n{};
                for (int i = 0; i < 4 * N; ++i) {
                    auto sent = [&](int k) {
                        return [&, k] {
                            if (++n[static_cast<std::size_t>(k)] > N) ++overfired;
                            if (n[static_cast<std::size_t>(k)] == N)
                                c1[static_cast<std::size_t>(k)] = channel<int>();
                        };
                    };
                    (void)co_await weft::async_select(
                        use_awaitable, on_send(c1[3], 0, sent(3)), on_send(c1[2], 0, sent(2)),
                        on_send(c1[0], 0, sent(0)), on_send(c1[1], 0, sent(1)));
                }
            });
            g.go([&, c] { select_receiver(c, thread_receive); });
        } else {
            g.go([&, c] { select_sender(c, thread_send); });
            t.go([&, c]() -> awaitable<void> {
                auto c1 = c;
                std::array<int, 4> n{};
                for (int i = 0; i < 4 * N; ++i) {
                    auto got = [&](int k) {
                        return [&, k](std::optional<int> v) {
                            if (v) ++received;
                            if (++n[static_cast<std::size_t>(k)] > N) ++overfired;
                            if (n[static_cast<std::size_t>(k)] == N)
                                c1[static_cast<std::size_t>(k)] = channel<int>();
                        };
                    };
                    (void)co_await weft::async_select(
                        use_awaitable, on_receive(c1[0], got(0)), on_receive(c1[1], got(1)),
                        on_receive(c1[2], got(2)), on_receive(c1[3], got(3)));
                }
            });
        }
        t.run();
        g.join();
        CHECK(overfired.load() == 0);
        CHECK(received.load() == 8 * N);
        CHECK(t.failures() == 0);
    }
}

// Go 1.22 src/runtime/chan_test.go, TestSelectFairness: a select over two always-ready
// channels (and two never-ready ones) picks each about half the time: more than 10 sigma away
// fails. The selecting goroutine is a coroutine, whose ready selects complete inside co_await
// (the use_awaitable fast path): its poll must be as uniform as the blocking select's. The
// consumer is a thread.
TEST_CASE("TestSelectFairness, coroutine select") {
    WEFT_WATCHDOG();
    constexpr int trials = 10000;
    channel<unsigned char> c1(trials + 1), c2(trials + 1), c3(0), c4(0), out(0), done(0);
    for (int i = 0; i < trials + 1; ++i) {
        REQUIRE(c1.try_send(1));
        REQUIRE(c2.try_send(2));
    }
    tasks t;
    t.go([&]() -> awaitable<void> {
        for (;;) {
            unsigned char b = 0;
            auto take = [&](std::optional<unsigned char> v) { b = v.value_or(0); };
            (void)co_await weft::async_select(use_awaitable, on_receive(c3, take),
                                              on_receive(c4, take), on_receive(c1, take),
                                              on_receive(c2, take));
            bool quit = false;
            (void)co_await weft::async_select(use_awaitable, on_send(out, b, [] {}),
                                              on_receive(done, [&] { quit = true; }));
            if (quit) co_return;
        }
    });
    int cnt1 = 0, cnt2 = 0, other = 0;
    std::thread consumer([&] {
        for (int i = 0; i < trials; ++i) {
            switch (out.receive().value_or(0)) {
                case 1: ++cnt1; break;
                case 2: ++cnt2; break;
                default: ++other;
            }
        }
        done.close();
    });
    t.run();
    consumer.join();
    CHECK(other == 0);
    const double r = static_cast<double>(cnt1) / trials;
    const double e = std::abs(r - 0.5);
    CAPTURE(cnt1);
    CAPTURE(cnt2);
    CHECK(e <= 4.4172 / (2 * std::sqrt(static_cast<double>(trials))));
    CHECK(t.failures() == 0);
}

// Go 1.22 src/runtime/chan_test.go, TestSelectDuplicateChannel: a select with the same channel
// twice, woken through another case, takes itself out of both registrations (a corrupted
// queue would then hand c's value to the select that has gone). A is a coroutine, B a thread.
TEST_CASE("TestSelectDuplicateChannel, coroutine select") {
    WEFT_WATCHDOG();
    tasks t;
    channel<int> c(0), d(0), e(0);
    t.go([&]() -> awaitable<void> {  // goroutine A
        (void)co_await weft::async_select(use_awaitable, on_receive(c, [] {}), on_receive(c, [] {}),
                                          on_receive(d, [] {}));
        (void)co_await e.async_send(9, use_awaitable);
    });
    t.poll();  // A is queued first on c (Go sleeps for this)
    std::optional<int> b_got;
    std::thread b([&] { b_got = c.receive(); });  // goroutine B
    let_thread_block();                           // as Go: B is queued on c before we go on
    std::thread runner([&] { t.run(); });
    REQUIRE(d.send(7));                           // wakes A, which leaves c's queue
    CHECK(e.receive() == std::optional<int>(9));  // A is done
    REQUIRE(c.send(8));                           // must wake B
    b.join();
    runner.join();
    CHECK(b_got == std::optional<int>(8));
    CHECK(t.failures() == 0);
}

// Go 1.22 test/chan/fifo.go: AsynchFifo (a buffered channel keeps order) and SynchFifo (a
// daisy chain of goroutines, each waiting for its turn, reads an unbuffered channel in order).
// The chain is coroutines on two threads; the main program is a thread.
TEST_CASE("fifo.go, coroutine chain") {
    WEFT_WATCHDOG();
    constexpr int N = 10;
    {
        tasks t;
        channel<int> ch(N);
        int wrong = 0;
        t.go([&]() -> awaitable<void> {
            for (int i = 0; i < N; ++i) (void)co_await ch.async_send(i, use_awaitable);
            for (int i = 0; i < N; ++i) {
                auto r = co_await ch.async_receive(use_awaitable);
                wrong += r.value != i;
            }
        });
        t.run();
        CHECK(wrong == 0);
        CHECK(t.failures() == 0);
    }
    for (int rounds = 0; rounds < 20; ++rounds) {
        tasks t(2);
        channel<int> ch(0);
        channel<int> in(0);
        channel<int> start = in;
        std::atomic<int> wrong{0};
        for (int i = 0; i < N; ++i) {
            channel<int> out(0);
            t.go([ch, i, in, out, &wrong]() -> awaitable<void> {  // Go's Chain
                (void)co_await in.async_receive(use_awaitable);
                auto r = co_await ch.async_receive(use_awaitable);
                wrong += r.value != i;
                (void)co_await out.async_send(1, use_awaitable);
            });
            in = out;
        }
        std::thread runner([&] { t.run(); });
        REQUIRE(start.send(0));
        for (int i = 0; i < N; ++i) REQUIRE(ch.send(i));
        CHECK(in.receive() == std::optional<int>(1));
        runner.join();
        CHECK(wrong.load() == 0);
        CHECK(t.failures() == 0);
    }
}

// Go 1.22 test/chan/sieve1.go: the concurrent prime sieve, every stage a coroutine (on two
// threads), the consumer of the primes a thread. Go leaks the stages; here they end when their
// output is closed: a stage whose send fails closes its input, so closing `primes` unwinds the
// chain.
namespace {
awaitable<void> generate(channel<int> ch) {
    for (int i = 2;; ++i) {
        auto r = co_await ch.async_send(i, use_awaitable);
        if (!r) co_return;
    }
}
awaitable<void> filter(channel<int> in, channel<int> out, int prime) {
    for (;;) {
        auto i = co_await in.async_receive(use_awaitable);
        if (!i) co_return;
        if (*i % prime == 0) continue;
        auto sent = co_await out.async_send(*i, use_awaitable);
        if (!sent) {
            in.close();
            co_return;
        }
    }
}
awaitable<void> sieve(tasks& t, channel<int> primes) {
    channel<int> ch(0);
    t.go(generate(ch));
    for (;;) {
        auto prime = co_await ch.async_receive(use_awaitable);
        if (!prime) co_return;
        auto sent = co_await primes.async_send(*prime, use_awaitable);
        if (!sent) {
            ch.close();
            co_return;
        }
        channel<int> ch1(0);
        t.go(filter(ch, ch1, *prime));
        ch = ch1;
    }
}
}  // namespace

TEST_CASE("sieve1.go, coroutine stages") {
    WEFT_WATCHDOG();
    constexpr int want[] = {2,  3,  5,  7,  11, 13, 17, 19, 23, 29, 31, 37, 41,
                            43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97};
    tasks t(2);
    channel<int> primes(0);
    t.go(sieve(t, primes));
    std::thread runner([&] { t.run(); });
    for (int p : want) CHECK(primes.receive() == std::optional<int>(p));
    primes.close();
    runner.join();  // every stage ended
    CHECK(t.failures() == 0);
}

// Go 1.22 test/chan/doubleselect.go: a sender selects over four unbuffered channels for each
// value; four muxes forward them onto one channel; a receiver checks that no value comes twice.
// "This test is designed to expose a race in the scheduler": here the sender and the receiver
// are coroutines, two muxes are threads and two are coroutines.
TEST_CASE("doubleselect.go, threads and coroutines") {
    WEFT_WATCHDOG();
    const int n = static_cast<int>(weft_test::scale(10000));
    tasks t(2);
    channel<int> c1(0), c2(0), c3(0), c4(0), cmux(0), done(0);
    t.go([&]() -> awaitable<void> {  // sender
        for (int i = 0; i < n; ++i) {
            (void)co_await weft::async_select(use_awaitable, on_send(c1, i, [] {}),
                                              on_send(c2, i, [] {}), on_send(c3, i, [] {}),
                                              on_send(c4, i, [] {}));
        }
        c1.close();
        c2.close();
        c3.close();
        c4.close();
    });
    goroutines g;
    int k = 0;
    for (auto* in : {&c1, &c2, &c3, &c4}) {
        if (k++ % 2 == 0) {
            g.go([&, in] {
                for (auto v : *in) REQUIRE(cmux.send(v));
                REQUIRE(done.send(1));
            });
        } else {
            t.go([&, in]() -> awaitable<void> {
                for (;;) {
                    auto v = co_await in->async_receive(use_awaitable);
                    if (!v) break;
                    auto sent = co_await cmux.async_send(*v, use_awaitable);
                    REQUIRE(sent);
                }
                auto sent = co_await done.async_send(1, use_awaitable);
                REQUIRE(sent);
            });
        }
    }
    std::set<int> seen;
    int duplicates = 0;
    t.go([&]() -> awaitable<void> {  // recver
        for (;;) {
            auto v = co_await cmux.async_receive(use_awaitable);
            if (!v) co_return;
            duplicates += !seen.insert(*v).second;
        }
    });
    std::thread runner([&] { t.run(); });
    for (int i = 0; i < 4; ++i) CHECK(done.receive() == std::optional<int>(1));
    cmux.close();
    runner.join();
    g.join();
    CHECK(duplicates == 0);
    CHECK(seen.size() == static_cast<std::size_t>(n));
    CHECK(t.failures() == 0);
}

// =============================================================================================
// Part 2: threads and coroutines, each operation of one completed by the other

TEST_CASE("a thread's select with send and receive cases pairs with coroutines' operations") {
    WEFT_WATCHDOG();
    constexpr int rounds = 2000;
    tasks t(2);
    channel<int> to_thread(0), from_thread(0);
    int got_by_coro = 0, sent_by_coro = 0;
    t.go([&]() -> awaitable<void> {
        for (int i = 0; i < rounds; ++i) {
            auto r = co_await to_thread.async_send(i, use_awaitable);
            sent_by_coro += r.status == op_status::ok;
        }
    });
    t.go([&]() -> awaitable<void> {
        for (int i = 0; i < rounds; ++i) {
            auto r = co_await from_thread.async_receive(use_awaitable);
            got_by_coro += r.status == op_status::ok;
        }
    });
    int sends = 0, receives = 0, next_in = 0, wrong = 0;
    std::thread th([&] {
        int out = 0;
        while (sends < rounds || receives < rounds) {
            weft::select(on_send(sends < rounds ? from_thread : channel<int>(), out,
                                 [&](bool ok) {
                                     sends += ok;
                                     ++out;
                                 }),
                         on_receive(receives < rounds ? to_thread : channel<int>(),
                                    [&](std::optional<int> v) {
                                        if (v != std::optional<int>(next_in++)) ++wrong;
                                        ++receives;
                                    }));
        }
    });
    t.run();
    th.join();
    CHECK(sent_by_coro == rounds);
    CHECK(got_by_coro == rounds);
    CHECK(wrong == 0);
    CHECK(t.failures() == 0);
}

TEST_CASE("a coroutine's select with send and receive cases pairs with threads' operations") {
    WEFT_WATCHDOG();
    constexpr int rounds = 2000;
    for (std::size_t cap : {std::size_t{0}, std::size_t{3}}) {
        CAPTURE(cap);
        tasks t;
        channel<int> to_coro(cap), from_coro(cap);
        std::vector<int> thread_got;
        std::thread sender([&] {
            for (int i = 0; i < rounds; ++i) REQUIRE(to_coro.send(i));
        });
        std::thread receiver([&] {
            for (int i = 0; i < rounds; ++i) thread_got.push_back(from_coro.receive().value_or(-1));
        });
        int sends = 0, receives = 0, wrong = 0;
        t.go([&]() -> awaitable<void> {
            int out = 0;
            while (sends < rounds || receives < rounds) {
                // Named, not conditional temporaries inside the co_await expression: GCC 12
                // destroys those wrongly (the channel's state was freed under the select).
                const channel<int> send_to = sends < rounds ? from_coro : channel<int>();
                const channel<int> receive_from = receives < rounds ? to_coro : channel<int>();
                (void)co_await weft::async_select(
                    use_awaitable,
                    on_send(send_to, out,
                            [&](bool ok) {
                                sends += ok;
                                ++out;
                            }),
                    on_receive(receive_from, [&](std::optional<int> v) {
                        if (v != std::optional<int>(receives)) ++wrong;
                        ++receives;
                    }));
            }
        });
        t.run();
        sender.join();
        receiver.join();
        CHECK(wrong == 0);
        REQUIRE(thread_got.size() == static_cast<std::size_t>(rounds));
        for (int i = 0; i < rounds; ++i) CHECK(thread_got[static_cast<std::size_t>(i)] == i);
        CHECK(t.failures() == 0);
    }
}

TEST_CASE("close while blocked: coroutines woken by a thread's close, threads by a coroutine's") {
    WEFT_WATCHDOG();
    tasks t;
    channel<std::unique_ptr<int>> sends(0), selects(0), other(0);
    std::unique_ptr<int> back;
    op_status send_status = op_status::ok;
    t.go([&]() -> awaitable<void> {
        auto r = co_await sends.async_send(std::make_unique<int>(1), use_awaitable);
        send_status = r.status;
        if (r.value) back = std::move(*r.value);
    });
    auto kept = std::make_unique<int>(2);  // an lvalue send value: moved only if sent
    std::optional<bool> select_sent;
    t.go([&]() -> awaitable<void> {
        (void)co_await weft::async_select(
            use_awaitable, on_send(selects, kept, [&](bool ok) { select_sent = ok; }),
            on_receive(other, [] {}));
    });
    t.poll();  // both parked
    std::thread closer([&] {
        sends.close();
        selects.close();
    });
    closer.join();
    t.run();
    CHECK(send_status == op_status::closed);
    REQUIRE(back);
    CHECK(*back == 1);
    CHECK(select_sent == std::optional<bool>(false));
    REQUIRE(kept);
    CHECK(*kept == 2);

    // Threads blocked in a receive and in a select, woken by a coroutine's close.
    channel<int> a(0), b(0), never(0);
    std::optional<int> received = 5;
    std::size_t fired = 9;
    bool select_saw_closed = false;
    {
        goroutines g;
        g.go([&] { received = a.receive(); });
        g.go([&] {
            fired =
                weft::select(on_receive(never, [] {}),
                             on_receive(b, [&](std::optional<int> v) { select_saw_closed = !v; }));
        });
        let_thread_block();  // as Go: let them block first (a close before is also correct)
        t.go([&]() -> awaitable<void> {
            a.close();
            b.close();
            co_return;
        });
        t.run();
    }
    CHECK_FALSE(received.has_value());
    CHECK(fired == 1);
    CHECK(select_saw_closed);
    CHECK(t.failures() == 0);
}

TEST_CASE("context cancel while blocked, across threads and coroutines") {
    WEFT_WATCHDOG();
    tasks t;
    // A coroutine waits in a select on a channel and a context's done(); a thread cancels.
    {
        // Not a structured binding: Clang 14 cannot capture one in a lambda.
        const auto c = weft::with_cancel(weft::background());
        const weft::context& ctx = c.ctx;
        const weft::cancel_func& cancel = c.cancel;
        channel<int> ch(0);
        std::size_t fired = 9;
        t.go([&]() -> awaitable<void> {
            fired = co_await weft::async_select(use_awaitable, on_receive(ch, [] {}),
                                                on_receive(ctx.done(), [] {}));
        });
        t.poll();
        std::thread([&] { cancel(); }).join();
        t.run();
        CHECK(fired == 1);
        CHECK(ch.try_send(1).status == op_status::full);  // the select left: nobody receives
    }
    // Threads wait in receive(ctx) and send(ctx, v); a coroutine cancels.
    {
        // Not a structured binding: Clang 14 cannot capture one in a lambda.
        const auto c = weft::with_cancel(weft::background());
        const weft::context& ctx = c.ctx;
        const weft::cancel_func& cancel = c.cancel;
        channel<std::unique_ptr<int>> ch(0);
        weft::receive_result<std::unique_ptr<int>> r;
        weft::send_result<std::unique_ptr<int>> s;
        channel<std::unique_ptr<int>> full(0);
        {
            goroutines g;
            g.go([&] { r = ch.receive(ctx); });
            g.go([&] { s = full.send(ctx, std::make_unique<int>(4)); });
            let_thread_block();  // as Go: let them block (canceling first is also correct)
            t.go([&, cancel = cancel]() -> awaitable<void> {
                cancel();
                co_return;
            });
            t.run();
        }
        CHECK(r.status == op_status::canceled);
        CHECK_FALSE(r.value.has_value());
        CHECK(s.status == op_status::canceled);
        REQUIRE(s.value);
        REQUIRE(*s.value);
        CHECK(**s.value == 4);  // handed back
    }
    CHECK(t.failures() == 0);
}

TEST_CASE("move-only values through selects, from threads to coroutines and back") {
    WEFT_WATCHDOG();
    constexpr int n = 300;
    for (std::size_t cap : {std::size_t{0}, std::size_t{2}}) {
        CAPTURE(cap);
        tasks t;
        channel<std::unique_ptr<int>> in(cap), out(cap), never(0);
        std::thread producer([&] {
            for (int i = 0; i < n; ++i) REQUIRE(in.send(std::make_unique<int>(i)));
            in.close();
        });
        std::vector<int> back;
        std::thread consumer([&] {
            for (auto& p : out) back.push_back(p ? *p : -1);
        });
        int wrong = 0;
        t.go([&]() -> awaitable<void> {
            for (;;) {
                std::unique_ptr<int> got;
                bool closed = false;
                (void)co_await weft::async_select(
                    use_awaitable,
                    on_receive(in,
                               [&](std::optional<std::unique_ptr<int>> v) {
                                   if (v)
                                       got = std::move(*v);
                                   else
                                       closed = true;
                               }),
                    on_receive(never, [] {}));
                if (closed) break;
                if (!got) ++wrong;
                *got *= 2;
                // An rvalue send value is owned by the operation.
                bool sent = false;
                (void)co_await weft::async_select(
                    use_awaitable, on_send(out, std::move(got), [&](bool ok) { sent = ok; }),
                    on_receive(never, [] {}));
                if (!sent) ++wrong;
            }
            out.close();
        });
        t.run();
        producer.join();
        consumer.join();
        CHECK(wrong == 0);
        REQUIRE(back.size() == static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) CHECK(back[static_cast<std::size_t>(i)] == 2 * i);
        CHECK(t.failures() == 0);
    }
}

// A case's function that throws: the case fired (a received value was consumed, a send went
// through), and the exception reaches the awaiting coroutine, or a callback's exception_ptr;
// whether the case was ready at once (the use_awaitable fast path) or fired after a wait.
TEST_CASE("exceptions from select case functions, ready at once or after a wait") {
    WEFT_WATCHDOG();
    tasks t;
    channel<int> ch(1), sink(0);
    std::vector<std::string> caught;
    int after = 0;
    t.go([&]() -> awaitable<void> {
        REQUIRE(ch.try_send(1));
        try {  // ready at once: receive
            (void)co_await weft::async_select(
                use_awaitable,
                on_receive(ch,
                           [](std::optional<int> v) {
                               throw std::runtime_error("ready " + std::to_string(*v));
                           }),
                on_receive(sink, [] {}));
        } catch (const std::runtime_error& e) { caught.emplace_back(e.what()); }
        CHECK(ch.try_receive().status == op_status::empty);  // consumed by the case
        try {  // after a wait: a thread sends while we wait
            std::thread late([&] { REQUIRE(ch.send(2)); });
            struct joiner {
                std::thread& t;
                ~joiner() { t.join(); }
            } j{late};
            (void)co_await weft::async_select(
                use_awaitable,
                on_receive(ch,
                           [](std::optional<int> v) {
                               throw std::runtime_error("waited " + std::to_string(*v));
                           }),
                on_receive(sink, [] {}));
        } catch (const std::runtime_error& e) { caught.emplace_back(e.what()); }
        try {  // a send case, ready at once (the buffer has room)
            (void)co_await weft::async_select(use_awaitable, on_send(ch, 3, [](bool sent) {
                                                  throw std::runtime_error(sent ? "sent" : "no");
                                              }));
        } catch (const std::runtime_error& e) { caught.emplace_back(e.what()); }
        auto r = co_await ch.async_receive(use_awaitable);  // the send went through
        after = r.value.value_or(-1);
    });
    t.run();
    CHECK(caught == std::vector<std::string>{"ready 1", "waited 2", "sent"});
    CHECK(after == 3);

    // A callback gets the exception as its first argument, also when ready at once.
    REQUIRE(ch.try_send(4));
    std::exception_ptr e;
    std::size_t index = 9;
    weft::async_select(net::bind_executor(t.ioc(),
                                          [&](std::exception_ptr x, std::size_t i) {
                                              e = x;
                                              index = i;
                                          }),
                       on_receive(ch, [] { throw std::logic_error("callback"); }));
    CHECK(index == 9);  // never inline in the initiating function
    t.run();
    CHECK(index == 0);
    REQUIRE(e);
    CHECK_THROWS_AS(std::rethrow_exception(e), std::logic_error);
    CHECK(t.failures() == 0);
}

// The use_awaitable fast path's own rules (weft/asio.hpp): nothing happens before the co_await;
// a coroutine whose operations always complete at once still lets the others on its thread run
// (at most 64 immediate completions in a row per thread); other tokens keep their path.
TEST_CASE("use_awaitable: lazy until awaited, and a never-waiting coroutine cannot starve") {
    WEFT_WATCHDOG();
    tasks t;
    channel<int> ch(1);
    REQUIRE(ch.try_send(5));
    std::size_t size_before = 0, size_after = 9;
    int got = 0;
    t.go([&]() -> awaitable<void> {
        auto op = ch.async_receive(use_awaitable);
        size_before = ch.size();  // not started yet
        auto r = co_await std::move(op);
        got = r.value.value_or(-1);
        size_after = ch.size();
    });
    t.run();
    CHECK(size_before == 1);
    CHECK(got == 5);
    CHECK(size_after == 0);

    // A sender that never waits (the buffer never fills) and a task queued behind it.
    channel<int> big(1u << 20);
    bool stop = false;
    int sent = 0;
    t.go([&]() -> awaitable<void> {
        while (!stop) {
            auto r = co_await big.async_send(1, use_awaitable);
            if (!r) co_return;
            ++sent;
        }
    });
    t.go([&]() -> awaitable<void> {
        stop = true;
        co_return;
    });
    t.run();
    CHECK(stop);
    CHECK(sent >= 1);
    CHECK(sent <= 65);  // 64 immediate completions, then one through the queue

    // as_tuple(use_awaitable) keeps Asio's path, ready or not.
    channel<int> c2(1);
    int tuple_got = 0;
    t.go([&]() -> awaitable<void> {
        REQUIRE(c2.try_send(8));
        auto [r] = co_await c2.async_receive(net::as_tuple(use_awaitable));
        tuple_got = r.value.value_or(-1);
    });
    t.run();
    CHECK(tuple_got == 8);
    CHECK(t.failures() == 0);
}

// The awaitable owns a copy of the handle it was made from: a stored awaitable may outlive a
// temporary handle (under ASan a reference to the dead handle is a stack-use-after-scope).
TEST_CASE("use_awaitable: a stored awaitable outlives the handle it was made from") {
    WEFT_WATCHDOG();
    tasks t;
    channel<int> ch(1);
    std::optional<awaitable<weft::receive_result<int>>> op;
    {
        weft::receiver<int> rx = ch;
        op.emplace(rx.async_receive(use_awaitable));
    }
    REQUIRE(ch.try_send(3));
    int got = 0;
    t.go([&]() -> awaitable<void> {
        auto r = co_await std::move(*op);
        got = r.value.value_or(-1);
    });
    t.run();
    CHECK(got == 3);
    CHECK(t.failures() == 0);
}
