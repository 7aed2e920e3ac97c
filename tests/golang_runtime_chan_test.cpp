// Go's own channel tests from src/runtime/chan_test.go (Go 1.22), ported to weft.
//
// Each TEST_CASE names the Go test it ports and cites its source. The Go code is translated, not
// copied: a goroutine is a std::thread (joined before the test ends, where Go simply lets it
// run out), `<-c` is receive(), `c <- v` is send(v), `select` is weft::select and `default:` is
// weft::otherwise. A failure inside a goroutine (Go's t.Error from a goroutine) is counted in an
// atomic and checked on the test's own thread. Sizes are Go's; under sanitizers they shrink to
// a tenth via weft_test::scale(). Where Go sleeps to let a goroutine block (or to give a wrong
// implementation time to misbehave) this port sleeps too, and says so; nothing here uses a sleep
// to order operations that Go orders with a channel.
//
// Not ported (they test the Go runtime, not channel semantics):
// - TestShrinkStackDuringBlockedSend, TestNoShrinkStackWhileParking: Go's GC moves a goroutine's
//   stack while a waiter record points into it; a C++ thread's stack never moves.
// - The stack-shrinking half of TestSelectStackAdjust (runtime.GC() while select waits); the
//   channel half (a select with duplicate channels woken by close) is ported below.
// - The Benchmark* functions: weft's benchmarks live in benchmarks/.
#include <weft/channel.hpp>
#include <weft/select.hpp>
#include <weft/wait_group.hpp>

#include <doctest/doctest.h>

#include <any>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "support.hpp"

namespace {

using weft::channel;
using weft::on_receive;
using weft::on_send;
using weft::otherwise;
using namespace std::chrono_literals;

using weft_test::goroutines;

// Go's time.Sleep(time.Millisecond) "to let the goroutine block" (or to give a broken channel
// time to let it through): never used to order two operations.
void let_goroutines_block(std::chrono::milliseconds d = 1ms) { std::this_thread::sleep_for(d); }

}  // namespace

// Go 1.22 src/runtime/chan_test.go, TestChan. Go loops over capacities and runs every check for
// each; here each check is a SUBCASE that loops over the same capacities 0..N-1 (N = 200).
TEST_CASE("TestChan") {
    // Go's size: 200 capacities, most of them starting threads (the FIFO check: 8 threads and
    // 4,000 hand-offs each), ~15 s in all on a loaded 2-core machine: the watchdog waits for
    // the capacities to stop coming, not for a deadline.
    std::atomic<std::uint64_t> caps_done{0};
    WEFT_WATCHDOG_PROGRESS(caps_done);
    const int n = static_cast<int>(weft_test::scale(200));

    SUBCASE("receive from an empty channel blocks; a non-blocking receive does not") {
        for (int cap = 0; cap < n; ++cap) {
            CAPTURE(cap);
            caps_done.fetch_add(1, std::memory_order_relaxed);
            channel<int> c(static_cast<std::size_t>(cap));
            std::atomic<bool> recv1{false};
            std::atomic<bool> recv2{false};
            goroutines g;
            g.go([&] {
                (void)c.receive();  // Go: _ = <-c
                recv1 = true;
            });
            g.go([&] {
                auto v = c.receive();  // Go: _, _ = <-c (the same operation in weft)
                (void)v;
                recv2 = true;
            });
            let_goroutines_block();  // as Go: give a broken receive time to return
            CHECK_FALSE(recv1.load());
            CHECK_FALSE(recv2.load());
            // Go's two non-blocking receive forms: `case _ = <-c` and `case _, _ = <-c`.
            CHECK(weft::select(on_receive(c, [] {}), otherwise([] {})) == 1);
            CHECK(weft::select(on_receive(c, [](std::optional<int>) {}), otherwise([] {})) == 1);
            CHECK(c.try_receive().status == weft::op_status::empty);  // weft's own spelling
            c.send(0);
            c.send(0);
        }
    }

    SUBCASE("send to a full channel blocks; a non-blocking send does not") {
        for (int cap = 0; cap < n; ++cap) {
            CAPTURE(cap);
            caps_done.fetch_add(1, std::memory_order_relaxed);
            channel<int> c(static_cast<std::size_t>(cap));
            for (int i = 0; i < cap; ++i) c.send(i);
            std::atomic<bool> sent{false};
            goroutines g;
            g.go([&] {
                c.send(0);
                sent = true;
            });
            let_goroutines_block();  // as Go: give a broken send time to return
            CHECK_FALSE(sent.load());
            CHECK(weft::select(on_send(c, 0, [] {}), otherwise([] {})) == 1);
            auto r = c.try_send(7);
            CHECK(r.status == weft::op_status::full);
            CHECK(r.value == std::optional<int>(7));  // handed back, not lost
            (void)c.receive();
        }
    }

    SUBCASE("receive from a closed channel drains the buffer, then reports closed") {
        for (int cap = 0; cap < n; ++cap) {
            CAPTURE(cap);
            caps_done.fetch_add(1, std::memory_order_relaxed);
            channel<int> c(static_cast<std::size_t>(cap));
            for (int i = 0; i < cap; ++i) c.send(i);
            c.close();
            for (int i = 0; i < cap; ++i) CHECK(c.receive() == std::optional<int>(i));
            // Go: `v := <-c` is the zero value, `v, ok := <-c` is (0, false); weft: empty.
            CHECK_FALSE(c.receive().has_value());
            CHECK_FALSE(c.receive().has_value());
            CHECK(c.try_receive().status == weft::op_status::closed);
        }
    }

    SUBCASE("close unblocks a blocked receive") {
        for (int cap = 0; cap < n; ++cap) {
            CAPTURE(cap);
            caps_done.fetch_add(1, std::memory_order_relaxed);
            channel<int> c(static_cast<std::size_t>(cap));
            channel<bool> done(0);
            goroutines g;
            g.go([&] {
                auto v = c.receive();
                done.send(!v.has_value());
            });
            let_goroutines_block();  // as Go: let the receiver block before closing
            c.close();
            CHECK(done.receive() == std::optional<bool>(true));
        }
    }

    SUBCASE("FIFO order, and what P senders send P receivers receive") {
        for (int cap = 0; cap < n; ++cap) {
            CAPTURE(cap);
            caps_done.fetch_add(1, std::memory_order_relaxed);
            channel<int> c(static_cast<std::size_t>(cap));
            {
                goroutines g;
                g.go([&] {
                    for (int i = 0; i < 100; ++i) c.send(i);
                });
                for (int i = 0; i < 100; ++i) { CHECK(c.receive() == std::optional<int>(i)); }
            }
            {
                // Go's "same, but using recv2" (v, ok := <-c): weft has one receive; check both
                // parts of its answer.
                goroutines g;
                g.go([&] {
                    for (int i = 0; i < 100; ++i) c.send(i);
                });
                for (int i = 0; i < 100; ++i) {
                    auto v = c.receive();
                    CHECK(v.has_value());
                    CHECK(v.value_or(-1) == i);
                }
            }
            {
                constexpr int P = 4;
                constexpr int L = 1000;
                channel<std::map<int, int>> done(0);
                goroutines g;
                for (int p = 0; p < P; ++p) {
                    g.go([&] {
                        for (int i = 0; i < L; ++i) c.send(i);
                    });
                }
                for (int p = 0; p < P; ++p) {
                    g.go([&] {
                        std::map<int, int> recv;
                        for (int i = 0; i < L; ++i) {
                            auto v = c.receive();
                            ++recv[v.value_or(-1)];
                        }
                        done.send(std::move(recv));
                    });
                }
                std::map<int, int> recv;
                for (int p = 0; p < P; ++p) {
                    auto part = done.receive();
                    CHECK(part.has_value());
                    for (auto [k, v] : part.value_or(std::map<int, int>{})) recv[k] += v;
                }
                CHECK(recv.size() == static_cast<std::size_t>(L));
                for (const auto& kv : recv) {
                    CAPTURE(kv.first);
                    CHECK(kv.second == P);
                }
            }
        }
    }

    SUBCASE("len and cap") {
        for (int cap = 0; cap < n; ++cap) {
            CAPTURE(cap);
            caps_done.fetch_add(1, std::memory_order_relaxed);
            channel<int> c(static_cast<std::size_t>(cap));
            CHECK(c.size() == 0);
            CHECK(c.capacity() == static_cast<std::size_t>(cap));
            for (int i = 0; i < cap; ++i) c.send(i);
            CHECK(c.size() == static_cast<std::size_t>(cap));
            CHECK(c.capacity() == static_cast<std::size_t>(cap));
        }
    }
}

// Go 1.22 src/runtime/chan_test.go, TestNonblockRecvRace: a buffered value that is there before
// the goroutine starts keeps a non-blocking receive ready, even while close and a competing
// receive run: the goroutine gets either the value or "closed", never the default case.
TEST_CASE("TestNonblockRecvRace") {
    WEFT_WATCHDOG();
    const std::size_t n = weft_test::scale(10000);
    std::atomic<int> not_ready{0};
    for (std::size_t i = 0; i < n; ++i) {
        channel<int> c(1);
        c.send(1);
        goroutines g;
        g.go([&] {
            if (weft::select(on_receive(c, [] {}), otherwise([] {})) == 1) ++not_ready;
        });
        c.close();
        (void)c.receive();
    }
    CHECK(not_ready.load() == 0);
}

// Go 1.22 src/runtime/chan_test.go, TestNonblockSelectRace: select acts on the state of its
// channels at one moment. From the goroutine's start, c1 or c2 is always ready (c1 holds a value
// until c2 does), so its non-blocking select must never take the default case.
TEST_CASE("TestNonblockSelectRace") {
    // Go's size: 100,000 threads, one after another, seconds on an idle machine and a minute
    // on a loaded one: the watchdog waits for the iterations to stop coming.
    std::atomic<std::uint64_t> step{0};
    WEFT_WATCHDOG_PROGRESS(step);
    const std::size_t n = weft_test::scale(100000);
    channel<bool> done(1);
    std::size_t defaults = 0;
    for (std::size_t i = 0; i < n; ++i, step.fetch_add(1, std::memory_order_relaxed)) {
        channel<int> c1(1);
        channel<int> c2(1);
        c1.send(1);
        goroutines g;
        g.go([&] {
            bool ready = true;
            weft::select(on_receive(c1, [] {}), on_receive(c2, [] {}),
                         otherwise([&] { ready = false; }));
            done.send(ready);
        });
        c2.send(1);
        weft::select(on_receive(c1, [] {}), otherwise([] {}));
        if (done.receive() != std::optional<bool>(true)) ++defaults;
    }
    CHECK(defaults == 0);
}

// Go 1.22 src/runtime/chan_test.go, TestNonblockSelectRace2: the same, with close(c2) (c2 is
// unbuffered) making c2 ready instead of a send.
TEST_CASE("TestNonblockSelectRace2") {
    // Go's size: 100,000 threads, one after another, seconds on an idle machine and a minute
    // on a loaded one: the watchdog waits for the iterations to stop coming.
    std::atomic<std::uint64_t> step{0};
    WEFT_WATCHDOG_PROGRESS(step);
    const std::size_t n = weft_test::scale(100000);
    channel<bool> done(1);
    std::size_t defaults = 0;
    for (std::size_t i = 0; i < n; ++i, step.fetch_add(1, std::memory_order_relaxed)) {
        channel<int> c1(1);
        channel<int> c2(0);
        c1.send(1);
        goroutines g;
        g.go([&] {
            bool ready = true;
            weft::select(on_receive(c1, [] {}), on_receive(c2, [] {}),
                         otherwise([&] { ready = false; }));
            done.send(ready);
        });
        c2.close();
        weft::select(on_receive(c1, [] {}), otherwise([] {}));
        if (done.receive() != std::optional<bool>(true)) ++defaults;
    }
    CHECK(defaults == 0);
}

// Go 1.22 src/runtime/chan_test.go, TestSelfSelect: two goroutines each select over a send and
// a receive on the same channel; no crash, no deadlock, and on an unbuffered channel a select
// never receives its own send.
TEST_CASE("TestSelfSelect") {
    WEFT_WATCHDOG();
    for (std::size_t cap : {std::size_t{0}, std::size_t{10}}) {
        CAPTURE(cap);
        channel<int> c(cap);
        std::atomic<int> self_receives{0};
        {
            goroutines g;
            for (int p = 0; p < 2; ++p) {
                g.go([&, p] {
                    auto check = [&](std::optional<int> v) {
                        if (cap == 0 && v == std::optional<int>(p)) ++self_receives;
                    };
                    for (int i = 0; i < 1000; ++i) {
                        if (p == 0 || i % 2 == 0) {
                            weft::select(on_send(c, p, [] {}), on_receive(c, check));
                        } else {
                            weft::select(on_receive(c, check), on_send(c, p, [] {}));
                        }
                    }
                });
            }
        }
        CHECK(self_receives.load() == 0);
    }
}

// Go 1.22 src/runtime/chan_test.go, TestSelectStress: 4 senders and 4 receivers, one per
// channel, plus one goroutine that sends N values on each channel through a single select and
// one that receives N from each the same way, disabling a channel (nil) once its N are done.
// Go checks only that this chaos does not deadlock (here: the watchdog); the port also checks
// that a disabled case never fires.
TEST_CASE("TestSelectStress") {
    WEFT_WATCHDOG(std::chrono::seconds(60));  // Go's size: seconds of thread churn
    const std::size_t n = weft_test::scale(100000);
    std::array<channel<int>, 4> c{channel<int>(0), channel<int>(0), channel<int>(2),
                                  channel<int>(3)};
    std::array<std::size_t, 4> sent{};
    std::array<std::size_t, 4> received{};
    {
        goroutines g;
        for (std::size_t k = 0; k < 4; ++k) {
            g.go([&, k] {
                for (std::size_t i = 0; i < n; ++i) c[k].send(0);
            });
            g.go([&, k] {
                for (std::size_t i = 0; i < n; ++i) (void)c[k].receive();
            });
        }
        g.go([&] {
            auto c1 = c;
            constexpr std::size_t order[] = {3, 2, 0, 1};  // Go's case order
            for (std::size_t i = 0; i < 4 * n; ++i) {
                std::size_t k =
                    order[weft::select(on_send(c1[3], 0, [] {}), on_send(c1[2], 0, [] {}),
                                       on_send(c1[0], 0, [] {}), on_send(c1[1], 0, [] {}))];
                if (++sent[k] == n) c1[k] = channel<int>();  // Go: c1[k] = nil
            }
        });
        g.go([&] {
            auto c1 = c;
            for (std::size_t i = 0; i < 4 * n; ++i) {
                std::size_t k = weft::select(on_receive(c1[0], [] {}), on_receive(c1[1], [] {}),
                                             on_receive(c1[2], [] {}), on_receive(c1[3], [] {}));
                if (++received[k] == n) c1[k] = channel<int>();
            }
        });
    }
    for (std::size_t k = 0; k < 4; ++k) {
        CAPTURE(k);
        CHECK(sent[k] == n);
        CHECK(received[k] == n);
    }
}

// Go 1.22 src/runtime/chan_test.go, TestSelectFairness: with two always-ready channels among
// four cases, select picks each about half the time (within 10 sigma, Go's bound).
TEST_CASE("TestSelectFairness") {
    WEFT_WATCHDOG();
    const std::size_t trials = weft_test::scale(10000);
    channel<std::uint8_t> c1(trials + 1);
    channel<std::uint8_t> c2(trials + 1);
    for (std::size_t i = 0; i < trials + 1; ++i) {
        c1.send(1);
        c2.send(2);
    }
    channel<std::uint8_t> c3(0);
    channel<std::uint8_t> c4(0);
    channel<std::uint8_t> out(0);
    channel<std::uint8_t> done(0);
    goroutines g;
    g.go([&] {
        for (;;) {
            std::uint8_t b = 0;
            auto take = [&](std::optional<std::uint8_t> v) { b = v.value_or(0); };
            weft::select(on_receive(c3, take), on_receive(c4, take), on_receive(c1, take),
                         on_receive(c2, take));
            bool stop = false;
            weft::select(on_send(out, b, [] {}), on_receive(done, [&] { stop = true; }));
            if (stop) return;
        }
    });
    std::size_t cnt1 = 0;
    std::size_t cnt2 = 0;
    std::size_t unexpected = 0;
    for (std::size_t i = 0; i < trials; ++i) {
        auto b = out.receive();
        if (b == std::optional<std::uint8_t>(1)) {
            ++cnt1;
        } else if (b == std::optional<std::uint8_t>(2)) {
            ++cnt2;
        } else {
            ++unexpected;
        }
    }
    CHECK(unexpected == 0);
    const double mean = static_cast<double>(trials) * 0.5;
    const double stddev = std::sqrt(static_cast<double>(trials) * 0.5 * (1 - 0.5));
    CAPTURE(cnt1);
    CAPTURE(cnt2);
    CHECK(std::abs(static_cast<double>(cnt1) - mean) <= 10 * stddev);
    done.close();
}

// Go 1.22 src/runtime/chan_test.go, TestChanSendInterface. Go's test targets the compiler's
// conversion of a *mt to an interface inside a select send case; the C++ counterpart is a send
// case whose value is converted to the element type (here std::any), on a full channel: the
// default case must run, and the buffered value must be the first one, intact.
TEST_CASE("TestChanSendInterface") {
    WEFT_WATCHDOG();
    struct mt {};
    mt first;
    mt other;
    mt* m = &first;
    channel<std::any> c(1);
    c.send(m);
    CHECK(weft::select(on_send(c, m, [] {}), otherwise([] {})) == 1);
    CHECK(weft::select(on_send(c, m, [] {}), on_send(c, &other, [] {}), otherwise([] {})) == 2);
    CHECK(c.size() == 1);
    auto v = c.try_receive();
    REQUIRE(v.status == weft::op_status::ok);
    CHECK(std::any_cast<mt*>(*v) == &first);
}

// Go 1.22 src/runtime/chan_test.go, TestPseudoRandomSend: a select over `c <- 1` and `c <- 0`
// must pick both (more than n/10 of each), for an unbuffered and a buffered channel. n stays
// Go's 100 under sanitizers: fewer draws would make the n/10 bound flaky.
TEST_CASE("TestPseudoRandomSend") {
    WEFT_WATCHDOG();
    constexpr int n = 100;
    for (std::size_t cap : {std::size_t{0}, std::size_t{n}}) {
        CAPTURE(cap);
        channel<int> c(cap);
        std::vector<int> l(n, -1);
        {
            goroutines g;  // Go waits with a mutex the goroutine unlocks; here: join
            g.go([&] {
                for (int i = 0; i < n; ++i) {
                    std::this_thread::yield();  // Go: runtime.Gosched()
                    l[static_cast<std::size_t>(i)] = c.receive().value_or(-1);
                }
            });
            for (int i = 0; i < n; ++i) {
                weft::select(on_send(c, 1, [] {}), on_send(c, 0, [] {}));
            }
        }
        int n0 = 0;
        int n1 = 0;
        int other = 0;
        for (int i : l) {
            if (i == 0) {
                ++n0;
            } else if (i == 1) {
                ++n1;
            } else {
                ++other;
            }
        }
        CAPTURE(n0);
        CAPTURE(n1);
        CHECK(other == 0);
        CHECK(n0 > n / 10);
        CHECK(n1 > n / 10);
    }
}

// Go 1.22 src/runtime/chan_test.go, TestMultiConsumer: 23 workers range over a work channel and
// forward to a result channel; the feeder closes the work channel, waits for the workers, then
// closes the results. Every value arrives exactly once (count and sum). `expect` is written by
// the feeder and read here after the range over r ends: close(r) is what orders the two, as in
// Go, so ThreadSanitizer checks that close/receive-closed synchronizes.
TEST_CASE("TestMultiConsumer") {
    WEFT_WATCHDOG();
    constexpr int nwork = 23;
    const std::size_t niter = weft_test::scale(271828);
    static constexpr int pn[] = {2, 3, 7, 11, 13, 17, 19, 23, 27, 31};
    constexpr std::size_t npn = std::size(pn);

    channel<int> q(nwork * 3);
    channel<int> r(nwork * 3);
    weft::wait_group wg;
    long long expect = 0;
    goroutines g;
    for (int w = 0; w < nwork; ++w) {
        wg.add(1);
        g.go([&, w] {
            for (int v : q) {
                // mess with the FIFO-ish nature of range (Go's comment)
                if (pn[static_cast<std::size_t>(w) % npn] == v) std::this_thread::yield();
                r.send(v);
            }
            wg.done();
        });
    }
    g.go([&] {
        for (std::size_t i = 0; i < niter; ++i) {
            int v = pn[i % npn];
            expect += v;
            q.send(v);
        }
        q.close();  // no more work
        wg.wait();  // workers done
        r.close();  // ... so there can be no more results
    });
    std::size_t n = 0;
    long long s = 0;
    for (int v : r) {
        ++n;
        s += v;
    }
    CHECK(n == niter);
    CHECK(s == expect);
}

// Go 1.22 src/runtime/chan_test.go, TestSelectDuplicateChannel: a select may wait on the same
// channel twice. Goroutine A waits on c, c and d; goroutine B then waits on c. Waking A through
// d must take A out of c's queue cleanly, so the later send on c wakes B (in Go, this once
// corrupted the queue). The sleeps are Go's: they order A's and B's enqueueing on c.
TEST_CASE("TestSelectDuplicateChannel") {
    WEFT_WATCHDOG();
    channel<int> c(0);
    channel<int> d(0);
    channel<int> e(0);
    std::size_t a_fired = 99;
    std::optional<int> b_got;
    goroutines g;
    g.go([&] {  // goroutine A
        a_fired = weft::select(on_receive(c, [] {}), on_receive(c, [] {}), on_receive(d, [] {}));
        e.send(9);
    });
    let_goroutines_block();              // as Go: A gets queued on c first
    g.go([&] { b_got = c.receive(); });  // goroutine B
    let_goroutines_block();              // as Go: B gets queued on c before we continue
    d.send(7);                           // wakes A, which must dequeue itself from c
    CHECK(e.receive() == std::optional<int>(9));
    c.send(8);  // must wake B, not the already-running A
    g.join();
    CHECK(a_fired == 2);
    CHECK(b_got == std::optional<int>(8));
}

// Go 1.22 src/runtime/chan_test.go, TestSelectStackAdjust, the channel half only (the GC stack
// shrinking it was written for has no C++ counterpart). Two goroutines wait in a select over
// receive cases on c and d, one of them with each channel listed twice; close(d) must wake both
// through a d case, and the c case's destination (a local pointer) must stay untouched.
TEST_CASE("TestSelectStackAdjust (channel half)") {
    WEFT_WATCHDOG();
    channel<int*> c(0);
    channel<int*> d(0);
    channel<bool> ready1(0);
    channel<bool> ready2(0);
    std::atomic<int> failures{0};

    auto f = [&](channel<bool>& ready, bool dup) {
        ready.send(true);  // Go: "we're ready to trigger GC and stack shrink"
        int val = 42;
        int* cx = &val;
        channel<int*> c2;  // nil unless dup
        channel<int*> d2;
        if (dup) {
            c2 = c;
            d2 = d;
        }
        std::size_t fired =
            weft::select(on_receive(c, [&](std::optional<int*> v) { cx = v.value_or(nullptr); }),
                         on_receive(c2, [] {}), on_receive(d, [] {}), on_receive(d2, [] {}));
        if (fired != 2 && fired != 3) ++failures;
        if (!dup && fired == 3) ++failures;  // d2 is nil here: it must never fire
        if (cx != &val || val != 42) ++failures;
        ready.send(true);
    };

    goroutines g;
    g.go([&] { f(ready1, false); });
    g.go([&] { f(ready2, true); });
    (void)ready1.receive();
    (void)ready2.receive();
    let_goroutines_block(10ms);  // as Go: let the goroutines get into the select
    d.close();
    (void)ready1.receive();
    (void)ready2.receive();
    g.join();
    CHECK(failures.load() == 0);
}
