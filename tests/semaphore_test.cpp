// Tests of weft/semaphore.hpp. The cases of golang.org/x/sync's semaphore/semaphore_test.go are
// ported first (each cites its Go test); then weft's own: misuse, cancellation without leaked
// tokens, grants racing cancellations, conservation under contention, FIFO order, timeouts, and
// no allocation on the uncontended path.
#include <weft/semaphore.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <random>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include <weft/context.hpp>
#include <weft/wait_group.hpp>

#include "support.hpp"

using namespace std::chrono_literals;
using weft_test::scale;

// Counts this thread's allocations, to show that the uncontended path makes none. Replacing the
// global operator new is per program, and each tests/*_test.cpp is its own program. Not under
// sanitizers: their runtimes define operator new themselves.
#if !WEFT_TEST_SANITIZED
namespace {
thread_local std::size_t allocations = 0;
}  // namespace

void* operator new(std::size_t n) {
    ++allocations;
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}
// GCC 12 sees free() applied to what `new` returned and warns, not knowing that this `new` is
// the malloc above.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif  // !WEFT_TEST_SANITIZED

namespace {

// Go's trick for "some acquirer is queued now": with n tokens free, try_acquire(n) fails only
// because somebody waits (FIFO: nobody may overtake a waiter).
void wait_until_queued(weft::semaphore& sem, std::int64_t n) {
    while (sem.try_acquire(n)) {
        sem.release(n);
        std::this_thread::yield();
    }
}

std::chrono::microseconds random_us(std::minstd_rand& rng, int max_us) {
    return std::chrono::microseconds(std::uniform_int_distribution<int>(0, max_us - 1)(rng));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Ports of golang.org/x/sync semaphore/semaphore_test.go

// golang.org/x/sync semaphore/semaphore_test.go, HammerWeighted + TestWeighted: n goroutines, the
// i-th acquiring weight i over and over on a semaphore of n. Go sleeps up to 1 ms per loop; 250 us
// here, and the loop count shrinks under sanitizers.
TEST_CASE("semaphore: hammer with weights 0..n-1 (x/sync TestWeighted)") {
    WEFT_WATCHDOG();
    const int n = static_cast<int>(std::max(4u, std::thread::hardware_concurrency()));
    weft::semaphore sem(n);
    const auto loops = scale(1000);
    weft_test::goroutines g;
    for (int i = 0; i < n; ++i) {
        g.go([&, i] {
            std::minstd_rand rng(static_cast<unsigned>(i) + 1);
            for (std::size_t k = 0; k < loops; ++k) {
                sem.acquire(i);
                std::this_thread::sleep_for(random_us(rng, 250));
                sem.release(i);
            }
        });
    }
    g.join();
    CHECK(sem.try_acquire(n));
}

// golang.org/x/sync semaphore/semaphore_test.go, TestWeightedPanic: Go panics; weft throws
// std::logic_error and leaves the count as it was.
TEST_CASE("semaphore: releasing more than held throws logic_error (x/sync TestWeightedPanic)") {
    weft::semaphore w(1);
    CHECK_THROWS_AS(w.release(1), std::logic_error);
    CHECK(w.try_acquire(1));  // unchanged: the one token is still free
    CHECK_THROWS_AS(w.release(2), std::logic_error);
    w.release(1);
    CHECK_THROWS_AS(w.release(1), std::logic_error);
    CHECK(w.try_acquire(1));
}

// golang.org/x/sync semaphore/semaphore_test.go, TestWeightedTryAcquire.
TEST_CASE("semaphore: try_acquire (x/sync TestWeightedTryAcquire)") {
    WEFT_WATCHDOG();
    auto ctx = weft::background();
    weft::semaphore sem(2);
    std::vector<bool> tries;
    CHECK_FALSE(sem.acquire(ctx, 1));
    tries.push_back(sem.try_acquire(1));
    tries.push_back(sem.try_acquire(1));
    sem.release(2);
    tries.push_back(sem.try_acquire(1));
    CHECK_FALSE(sem.acquire(ctx, 1));
    tries.push_back(sem.try_acquire(1));
    CHECK(tries == std::vector<bool>{true, false, true, false});
}

// golang.org/x/sync semaphore/semaphore_test.go, TestWeightedAcquire: acquire with a 10 ms timeout.
TEST_CASE("semaphore: acquire with a timeout (x/sync TestWeightedAcquire)") {
    WEFT_WATCHDOG();
    auto ctx = weft::background();
    weft::semaphore sem(2);
    auto try_acquire = [&](std::int64_t n) {
        auto t = weft::with_timeout(ctx, 10ms);
        return !sem.acquire(t.ctx, n);
    };
    std::vector<bool> tries;
    CHECK_FALSE(sem.acquire(ctx, 1));
    tries.push_back(try_acquire(1));
    tries.push_back(try_acquire(1));
    sem.release(2);
    tries.push_back(try_acquire(1));
    CHECK_FALSE(sem.acquire(ctx, 1));
    tries.push_back(try_acquire(1));
    CHECK(tries == std::vector<bool>{true, false, true, false});
}

// golang.org/x/sync semaphore/semaphore_test.go, TestWeightedDoesntBlockIfTooBig: a request larger
// than the semaphore must not hold up the small ones behind it. Go's errgroup becomes a count of
// errors plus a shared cancel (the first error cancels the others, as errgroup.WithContext does).
TEST_CASE("semaphore: an oversize request blocks nobody (x/sync TestWeightedDoesntBlockIfTooBig)") {
    WEFT_WATCHDOG();
    const std::int64_t n = 2;
    weft::semaphore sem(n);
    auto big = weft::with_cancel(weft::background());
    auto group = weft::with_cancel(weft::background());
    std::atomic<int> errors{0};
    weft_test::goroutines oversize;
    oversize.go([&] { CHECK(sem.acquire(big.ctx, n + 1) == weft::context_errc::canceled); });
    {
        weft_test::goroutines g;
        for (std::int64_t i = n * 3; i > 0; --i) {
            g.go([&] {
                if (auto ec = sem.acquire(group.ctx, 1)) {
                    errors.fetch_add(1);
                    group.cancel();
                    return;
                }
                std::this_thread::sleep_for(1ms);
                sem.release(1);
            });
        }
    }
    CHECK_MESSAGE(errors.load() == 0,
                  "semaphore(2) failed acquire(_, 1) with acquire(_, 3) pending");
    big.cancel();
    oversize.join();
    CHECK(sem.try_acquire(n));
}

// golang.org/x/sync semaphore/semaphore_test.go, TestLargeAcquireDoesntStarve: n workers keep
// releasing and re-acquiring one token each; acquire(n) must still get through (the watchdog fails
// it if not).
TEST_CASE("semaphore: a large acquire does not starve (x/sync TestLargeAcquireDoesntStarve)") {
    WEFT_WATCHDOG();
    auto ctx = weft::background();
    const auto n = static_cast<std::int64_t>(std::max(2u, std::thread::hardware_concurrency()));
    weft::semaphore sem(n);
    std::atomic<bool> running{true};
    weft_test::goroutines g;
    for (std::int64_t i = n; i > 0; --i) {
        REQUIRE_FALSE(sem.acquire(ctx, 1));
        g.go([&] {
            while (running.load()) {
                std::this_thread::sleep_for(1ms);
                sem.release(1);
                CHECK_FALSE(sem.acquire(ctx, 1));
            }
            sem.release(1);
        });
    }
    REQUIRE_FALSE(sem.acquire(ctx, n));
    running.store(false);
    sem.release(n);
    g.join();
    CHECK(sem.try_acquire(n));
}

// golang.org/x/sync semaphore/semaphore_test.go, TestAllocCancelDoesntStarve: a canceled waiter at
// the head must let the waiters behind it be re-examined, or they wait forever for tokens that are
// free.
TEST_CASE(
    "semaphore: a canceled head lets the others through (x/sync TestAllocCancelDoesntStarve)") {
    WEFT_WATCHDOG();
    weft::semaphore sem(10);
    // Hold one token so that the acquire(_, 10) below blocks.
    sem.acquire(1);
    auto big = weft::with_cancel(weft::background());
    weft_test::goroutines g;
    g.go([&] { CHECK(sem.acquire(big.ctx, 10) == weft::context_errc::canceled); });
    wait_until_queued(sem, 1);
    // Now acquire a small weight while the big one is being canceled: both must return.
    g.go([&] { big.cancel(); });
    CHECK_FALSE(sem.acquire(weft::background(), 1));
    sem.release(1);
    g.join();
    sem.release(1);
    CHECK(sem.try_acquire(10));
}

// golang.org/x/sync semaphore/semaphore_test.go, TestWeightedAcquireCanceled (go.dev/issue/63615):
// a context that is canceled before the tokens become free must make the acquire fail, whichever
// of "done" and "granted" the waiter notices first, and must leak no token; an acquire on a done
// context fails even when it would not have to wait.
TEST_CASE(
    "semaphore: canceled before the grant means failure (x/sync TestWeightedAcquireCanceled)") {
    WEFT_WATCHDOG();
    for (std::size_t round = 0; round < scale(200); ++round) {
        weft::semaphore sem(2);
        auto c = weft::with_cancel(weft::background());
        sem.acquire(1);
        weft::channel<int> finished(0);
        weft_test::goroutines g;
        g.go([&] {
            // Synchronize with the acquire(2) below: it is queued once try_acquire(1) fails.
            wait_until_queued(sem, 1);
            c.cancel();  // first cancel, then free the token
            sem.release(1);
            finished.close();
        });
        CHECK(sem.acquire(c.ctx, 2) == weft::context_errc::canceled);
        (void)finished.receive();
        REQUIRE(sem.try_acquire(2));  // both tokens are back
        sem.release(2);
        CHECK(sem.acquire(c.ctx, 1) == weft::context_errc::canceled);  // no wait needed: fails
        g.join();
    }
}

// ---------------------------------------------------------------------------------------------
// weft's own

TEST_CASE("semaphore: negative sizes and weights are invalid_argument, zero is fine") {
    CHECK_THROWS_AS(weft::semaphore(-1), std::invalid_argument);
    weft::semaphore sem(3);
    CHECK(sem.capacity() == 3);
    CHECK_THROWS_AS(sem.acquire(-1), std::invalid_argument);
    CHECK_THROWS_AS((void)sem.acquire(weft::background(), -1), std::invalid_argument);
    CHECK_THROWS_AS((void)sem.try_acquire(-1), std::invalid_argument);
    CHECK_THROWS_AS(sem.release(-1), std::invalid_argument);
    CHECK(sem.try_acquire(0));
    sem.acquire(0);
    CHECK_FALSE(sem.acquire(weft::background(), 0));
    sem.release(0);
    CHECK(sem.try_acquire(3));  // none of the above took anything
    CHECK(sem.try_acquire(0));  // zero fits even when nothing is free
    sem.release(3);

    weft::semaphore empty(0);
    CHECK(empty.try_acquire(0));
    CHECK_FALSE(empty.try_acquire(1));
}

TEST_CASE("semaphore: acquire on a done context fails although tokens are free") {
    weft::semaphore sem(5);
    auto c = weft::with_cancel(weft::background());
    c.cancel();
    const std::error_code ec = sem.acquire(c.ctx, 1);
    CHECK(ec == weft::context_errc::canceled);
    CHECK(ec == std::errc::operation_canceled);
    auto t = weft::with_timeout(weft::background(), 0ms);
    CHECK(sem.acquire(t.ctx, 1) == weft::context_errc::deadline_exceeded);
    CHECK(sem.acquire(t.ctx, 1) == std::errc::timed_out);
    CHECK(sem.try_acquire(5));  // nothing was taken
}

TEST_CASE("semaphore: acquire without a context waits for a release") {
    WEFT_WATCHDOG();
    weft::semaphore sem(3);
    sem.acquire(3);
    std::atomic<bool> got{false};
    weft_test::goroutines g;
    g.go([&] {
        sem.acquire(2);
        got.store(true);
    });
    wait_until_queued(sem, 0);  // zero-weight: fails only while somebody waits
    CHECK_FALSE(got.load());
    sem.release(1);  // 1 free: not enough for 2
    std::this_thread::sleep_for(10ms);
    CHECK_FALSE(got.load());
    sem.release(1);
    g.join();
    CHECK(got.load());
    CHECK_FALSE(sem.try_acquire(1));  // 1 held here, 2 by the goroutine
    sem.release(3);
    CHECK(sem.try_acquire(3));
}

TEST_CASE("semaphore: a request larger than the semaphore waits for its context") {
    WEFT_WATCHDOG();
    weft::semaphore sem(2);
    const auto start = std::chrono::steady_clock::now();
    auto t = weft::with_timeout(weft::background(), 30ms);
    const std::error_code ec = sem.acquire(t.ctx, 3);
    CHECK(ec == weft::context_errc::deadline_exceeded);
    CHECK(std::chrono::steady_clock::now() - start >= 25ms);
    CHECK(sem.try_acquire(2));  // it never queued, never took anything
}

TEST_CASE("semaphore: timeouts through with_timeout leave the semaphore unchanged") {
    WEFT_WATCHDOG();
    weft::semaphore sem(4);
    sem.acquire(3);
    const auto start = std::chrono::steady_clock::now();
    auto t = weft::with_timeout(weft::background(), 30ms);
    const std::error_code ec = sem.acquire(t.ctx, 2);
    CHECK(ec == weft::context_errc::deadline_exceeded);
    CHECK(ec == std::errc::timed_out);
    CHECK(std::chrono::steady_clock::now() - start >= 25ms);
    CHECK(sem.try_acquire(1));  // the timed-out waiter left the queue and took nothing
    sem.release(4);
    CHECK(sem.try_acquire(4));
}

// FIFO, as in x/sync: the head blocks later requests, even ones that would fit.
TEST_CASE("semaphore: a waiting head blocks later small requests") {
    WEFT_WATCHDOG();
    weft::semaphore sem(2);
    sem.acquire(1);
    weft_test::goroutines g;
    g.go([&] { CHECK_FALSE(sem.acquire(weft::background(), 2)); });
    wait_until_queued(sem, 1);
    // One token is free, yet a newcomer must not take it ahead of the head.
    CHECK_FALSE(sem.try_acquire(1));
    auto t = weft::with_timeout(weft::background(), 20ms);
    CHECK(sem.acquire(t.ctx, 1) == weft::context_errc::deadline_exceeded);
    auto t0 = weft::with_timeout(weft::background(), 20ms);
    CHECK(sem.acquire(t0.ctx, 0) == weft::context_errc::deadline_exceeded);  // even weight 0
    sem.release(1);                                                          // now the head fits
    g.join();
    CHECK_FALSE(sem.try_acquire(1));
    sem.release(2);
    CHECK(sem.try_acquire(2));
}

// Grants follow arrival order. Each waiter wants the whole semaphore, so each must release
// before the next is granted and the order of records is the order of grants. Arrivals are
// spaced by 50 ms after each thread says it is about to call acquire: far above a scheduling
// quantum, so the queue order is the start order.
TEST_CASE("semaphore: waiters are granted in FIFO order") {
    WEFT_WATCHDOG();
    weft::semaphore sem(2);
    sem.acquire(1);
    std::mutex mu;
    std::vector<int> order;
    weft::channel<int> starting(0);
    const int k = 5;
    weft_test::goroutines g;
    for (int i = 0; i < k; ++i) {
        g.go([&, i] {
            starting.send(i);
            sem.acquire(2);
            {
                std::lock_guard lock(mu);
                order.push_back(i);
            }
            sem.release(2);
        });
        CHECK(*starting.receive() == i);
        if (i == 0) {
            wait_until_queued(sem, 1);
        } else {
            std::this_thread::sleep_for(50ms);
        }
    }
    sem.release(1);
    g.join();
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
    CHECK(sem.try_acquire(2));
}

TEST_CASE("semaphore: canceling blocked waiters leaks no tokens") {
    WEFT_WATCHDOG();
    weft::semaphore sem(10);
    sem.acquire(9);
    auto all = weft::with_cancel(weft::background());
    std::atomic<int> canceled{0};
    weft_test::goroutines g;
    for (std::int64_t w = 2; w <= 10; ++w) {
        g.go([&, w] {
            // Half on the shared context, half on a child of it: cancellation reaches both.
            auto child = weft::with_cancel(all.ctx);
            const auto& ctx = w % 2 ? child.ctx : all.ctx;
            if (sem.acquire(ctx, w) == weft::context_errc::canceled) canceled.fetch_add(1);
        });
    }
    wait_until_queued(sem, 1);
    std::this_thread::sleep_for(20ms);  // let the others queue too (if not, they fail at once)
    all.cancel();
    g.join();
    CHECK(canceled.load() == 9);
    CHECK_FALSE(sem.try_acquire(2));  // 9 still held by us
    sem.release(9);
    CHECK(sem.try_acquire(10));  // the full weight: nothing leaked
}

TEST_CASE("semaphore: canceling a big head grants the small waiters behind it") {
    WEFT_WATCHDOG();
    weft::semaphore sem(4);
    sem.acquire(2);
    auto big = weft::with_cancel(weft::background());
    std::atomic<int> granted{0};
    weft::wait_group small_done;
    weft_test::goroutines g;
    g.go([&] { CHECK(sem.acquire(big.ctx, 4) == weft::context_errc::canceled); });
    wait_until_queued(sem, 1);
    small_done.add(2);
    for (int i = 0; i < 2; ++i) {
        g.go([&] {
            sem.acquire(1);  // queued behind the big one
            granted.fetch_add(1);
            small_done.done();
        });
    }
    std::this_thread::sleep_for(20ms);
    CHECK(granted.load() == 0);
    big.cancel();
    small_done.wait();  // both fit in the 2 free tokens once the head is gone
    CHECK(granted.load() == 2);
    g.join();
    CHECK_FALSE(sem.try_acquire(1));
    sem.release(4);
    CHECK(sem.try_acquire(4));
}

// The race the invariants talk about: a grant and a cancellation cross. Whatever the outcome of
// each acquire, a success holds its tokens and a failure holds none.
TEST_CASE("semaphore: grants racing cancellations keep every token accounted for") {
    WEFT_WATCHDOG(60s);
    for (std::size_t round = 0; round < scale(500); ++round) {
        weft::semaphore sem(3);
        sem.acquire(3);
        auto c = weft::with_cancel(weft::background());
        weft_test::goroutines g;
        for (std::int64_t w = 1; w <= 3; ++w) {
            g.go([&, w] {
                if (!sem.acquire(c.ctx, w)) sem.release(w);  // a success holds exactly w
            });
        }
        g.go([&] { c.cancel(); });
        std::this_thread::yield();
        sem.release(3);
        g.join();
        REQUIRE(sem.try_acquire(3));
    }
}

// Many threads, mixed weights and every way of acquiring, some canceled, some timed out: the
// tokens held at once never exceed the size, and all come back at the end.
TEST_CASE("semaphore: conservation under contention") {
    WEFT_WATCHDOG(60s);
    const std::int64_t size = 5;
    weft::semaphore sem(size);
    std::atomic<std::int64_t> held{0};
    std::atomic<int> over{0};
    std::atomic<int> successes{0};
    std::atomic<int> failures{0};
    const int threads = 8;
    const auto loops = scale(2000);
    weft_test::goroutines g;
    for (int t = 0; t < threads; ++t) {
        g.go([&, t] {
            std::minstd_rand rng(static_cast<unsigned>(t) * 7919u + 1u);
            for (std::size_t i = 0; i < loops; ++i) {
                const auto w = std::uniform_int_distribution<std::int64_t>(1, 3)(rng);
                bool ok = false;
                switch (rng() % 4) {
                    case 0:
                        sem.acquire(w);
                        ok = true;
                        break;
                    case 1: ok = sem.try_acquire(w); break;
                    case 2: {
                        auto to = weft::with_timeout(weft::background(),
                                                     std::chrono::microseconds(rng() % 200));
                        ok = !sem.acquire(to.ctx, w);
                        break;
                    }
                    default: {
                        auto c = weft::with_cancel(weft::background());
                        if (rng() % 2) c.cancel();
                        ok = !sem.acquire(c.ctx, w);
                        break;
                    }
                }
                if (!ok) {
                    failures.fetch_add(1);
                    continue;
                }
                successes.fetch_add(1);
                if (held.fetch_add(w) + w > size) over.fetch_add(1);
                if (rng() % 8 == 0) std::this_thread::yield();
                held.fetch_sub(w);
                sem.release(w);
            }
        });
    }
    g.join();
    CHECK(over.load() == 0);
    CHECK(successes.load() > 0);
    MESSAGE("successes ", successes.load(), ", failures ", failures.load());
    CHECK(sem.try_acquire(size));
}

#if !WEFT_TEST_SANITIZED
TEST_CASE("semaphore: the uncontended path allocates nothing") {
    weft::semaphore sem(4);
    auto c = weft::with_cancel(weft::background());  // a cancellable context, not yet done
    int failed = 0;  // counted, not asserted in the loop: an assertion might allocate
    const auto before = allocations;
    for (int i = 0; i < 1000; ++i) {
        sem.acquire(1);
        failed += sem.acquire(c.ctx, 2) ? 1 : 0;
        failed += sem.try_acquire(1) ? 0 : 1;
        sem.release(4);
    }
    const auto after = allocations;
    CHECK(failed == 0);
    CHECK(after == before);
}
#endif  // !WEFT_TEST_SANITIZED
