// Allocation failure on the paths that must not allocate. This executable replaces the global
// operator new (every form, so that a sanitizer runtime's own definitions are not linked in) so
// that a thread can make every allocation it attempts fail (and count them):
// - canceling a context is noexcept (it runs in destructors and on failure paths), so it must
//   allocate nothing: a tree with many children, deadlines, stop tokens and blocked waiters of
//   every kind is canceled with allocation failing, no allocation is attempted, no terminate,
//   and every waiter wakes (issue 11: std::terminate inside cancel_node::cancel);
// - after_func's thread cannot be started then: f runs on the canceller instead of never;
// - a thread's first wait makes its parker: that reports std::bad_alloc instead of terminating
//   (issue 11: terminate from the thread_local in parker::current()), and a thread's exit,
//   which hands its parker back, allocates nothing.
// Test cases run in file order; the parker case is first, while the process has few parkers.
//
// clang's sanitizer runtimes link their own operator new into every executable (a replacement
// cannot be linked beside it), so under clang's TSan or ASan nothing can be made to fail: the
// cases that need a failure are skipped there, and the tree case runs for its races only. The
// normal builds and GCC's sanitizers (a shared runtime, which a replacement overrides) run all.
#include <weft/channel.hpp>
#include <weft/context.hpp>
#include <weft/select.hpp>
#include <weft/wait_group.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdlib>
#include <latch>
#include <mutex>
#include <new>
#include <stop_token>
#include <system_error>
#include <thread>
#include <vector>

#include "support.hpp"

using namespace std::chrono_literals;
using weft::op_status;
using weft_test::eventually;
using weft_test::goroutines;
using weft_test::scale;

#if defined(__clang__) && defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define WEFT_TEST_NO_ALLOC_HOOKS 1
#endif
#endif

namespace {

#ifdef WEFT_TEST_NO_ALLOC_HOOKS
constexpr bool can_fail_allocations = false;
#else
constexpr bool can_fail_allocations = true;
#endif

// Constant-initialized thread_locals of trivial type: reading them allocates nothing.
thread_local bool fail_allocations = false;
thread_local std::size_t failed_attempts = 0;

#ifndef WEFT_TEST_NO_ALLOC_HOOKS
void* allocate(std::size_t n, std::size_t align) {
    if (fail_allocations) {
        ++failed_attempts;
        throw std::bad_alloc();
    }
    if (n == 0) n = 1;
    void* p = align <= alignof(std::max_align_t)
                  ? std::malloc(n)
                  : std::aligned_alloc(align, (n + align - 1) / align * align);
    if (!p) throw std::bad_alloc();
    return p;
}
#endif

// Makes every allocation on this thread fail while in scope; counts the attempts.
class failing_allocations {
public:
    failing_allocations() noexcept {
        failed_attempts = 0;
        fail_allocations = true;
    }
    ~failing_allocations() { fail_allocations = false; }
    failing_allocations(const failing_allocations&) = delete;
    failing_allocations& operator=(const failing_allocations&) = delete;
    std::size_t attempts() const noexcept { return failed_attempts; }
};

}  // namespace

#ifndef WEFT_TEST_NO_ALLOC_HOOKS
void* operator new(std::size_t n) { return allocate(n, 0); }
void* operator new[](std::size_t n) { return allocate(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) {
    return allocate(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
    return allocate(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    try {
        return allocate(n, 0);
    } catch (...) { return nullptr; }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
    try {
        return allocate(n, 0);
    } catch (...) { return nullptr; }
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    try {
        return allocate(n, static_cast<std::size_t>(a));
    } catch (...) { return nullptr; }
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    try {
        return allocate(n, static_cast<std::size_t>(a));
    } catch (...) { return nullptr; }
}
// GCC pairs operator new with free() below as a mismatch; here both are ours and malloc-based.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
#endif

TEST_CASE("a thread's first wait reports bad_alloc when its parker cannot be made" *
          doctest::skip(!can_fail_allocations)) {
    WEFT_WATCHDOG();
    // All alive at once, so each needs a parker of its own (the free list holds at most the
    // parkers of threads that have exited).
    constexpr int threads = 32;
    std::atomic<int> threw{0}, timed_out{0}, other{0};
    std::latch all_tried(threads);
    {
        std::vector<std::thread> ts;
        for (int i = 0; i < threads; ++i) {
            ts.emplace_back([&] {
                weft::channel<int> ch(0);
                {
                    failing_allocations f;
                    try {
                        const auto r = ch.receive_for(1ms);
                        (r.status == op_status::timeout ? timed_out : other).fetch_add(1);
                    } catch (const std::bad_alloc&) { threw.fetch_add(1); }
                }
                all_tried.arrive_and_wait();
                // Allocation works again: the next wait gets its parker and waits normally.
                if (ch.receive_for(1ms).status != op_status::timeout) other.fetch_add(1);
                // Exits with allocation failing: handing the parker back allocates nothing.
                fail_allocations = true;
            });
        }
        for (auto& t : ts) t.join();
    }
    CHECK(threw.load() > 0);  // the parkers made before this case are fewer than `threads`
    CHECK(threw.load() + timed_out.load() == threads);
    CHECK(other.load() == 0);
}

// close() is noexcept and a context's cancel calls it: it wakes its waiters in fixed-size
// batches (32) rather than collecting them in a vector. More waiters than one batch, on each
// flavor, blocked receiving and (where a send can block) sending.
TEST_CASE("closing a channel wakes more waiters than one batch and allocates nothing") {
    WEFT_WATCHDOG();
    constexpr int per_side = 40;
    struct shape {
        const char* name;
        weft::channel<int> ch;
        bool senders;  // a send blocks: cap 0, and cap 1 once full
    };
    shape shapes[] = {{"rendezvous, receivers", weft::channel<int>(0), false},
                      {"rendezvous, senders", weft::channel<int>(0), true},
                      {"bounded, receivers", weft::channel<int>(1), false},
                      {"bounded and full, senders", weft::channel<int>(1), true},
                      {"unbounded, receivers", weft::channel<int>::unbounded(), false}};
    for (auto& sh : shapes) {
        CAPTURE(sh.name);
        std::atomic<int> started{0}, woken{0}, wrong{0};
        const int receivers = sh.senders ? 0 : per_side;
        const int senders = sh.senders ? per_side : 0;
        // A channel has either blocked senders or blocked receivers, never both: for the
        // bounded one, fill it so that senders block.
        if (sh.senders && sh.ch.capacity() == 1) REQUIRE(sh.ch.try_send(0));
        {
            goroutines g;
            for (int i = 0; i < receivers; ++i) {
                g.go([&, ch = sh.ch]() mutable {
                    started.fetch_add(1);
                    if (ch.receive().has_value()) wrong.fetch_add(1);
                    woken.fetch_add(1);
                });
            }
            for (int i = 0; i < senders; ++i) {
                g.go([&, ch = sh.ch, i]() mutable {
                    started.fetch_add(1);
                    if (ch.send(i).status != op_status::closed) wrong.fetch_add(1);
                    woken.fetch_add(1);
                });
            }
            REQUIRE(eventually([&] { return started.load() == per_side; }));
            std::this_thread::sleep_for(100ms);  // let them block
            std::size_t attempts;
            bool closed;
            {
                failing_allocations f;
                closed = sh.ch.close();
                attempts = f.attempts();
            }
            CHECK(closed);
            if (can_fail_allocations) CHECK(attempts == 0);
            CHECK(eventually([&] { return woken.load() == per_side; }));
        }
        CHECK(wrong.load() == 0);
    }
}

TEST_CASE("canceling a tree allocates nothing: many children, every kind of waiter woken") {
    WEFT_WATCHDOG();
    auto [root, cancel] = weft::with_cancel(weft::background());
    static const weft::context_key<int> key("n");
    std::vector<weft::context> kept;
    std::stop_source unused_source;
    const std::size_t children = scale(2000);
    for (std::size_t i = 0; i < children; ++i) {
        switch (i % 4) {
            case 0: kept.push_back(weft::with_cancel(root).ctx); break;
            case 1: kept.push_back(weft::with_timeout(root, 1h).ctx); break;
            case 2: kept.push_back(weft::with_value(root, key, static_cast<int>(i))); break;
            case 3: kept.push_back(weft::with_stop_token(root, unused_source.get_token())); break;
        }
        kept.push_back(weft::with_cancel(kept.back()).ctx);  // a grandchild each
    }

    // More waiters on root.done() than close() wakes in one batch, and some of every kind.
    const int waiters = 60;
    std::atomic<int> started{0}, woken{0}, wrong{0};
    std::vector<weft::wait_group> groups(static_cast<std::size_t>(waiters));
    std::mutex m;
    std::condition_variable_any cv;
    {
        goroutines g;
        for (int i = 0; i < waiters; ++i) {
            const weft::context& ctx = kept[static_cast<std::size_t>(i) * 2 % kept.size()];
            weft::wait_group& wg = groups[static_cast<std::size_t>(i)];
            wg.add(1);
            g.go([&, i, ctx, root = root] {
                started.fetch_add(1);
                bool ok = true;
                // More than one batch (32) on root.done(), then the other kinds in turn.
                switch (i < 36 ? 1 : 2 + i % 4) {
                    case 1: ok = !root.done().receive().has_value(); break;
                    case 2: {
                        weft::channel<int> ch(0);
                        ok = ch.receive(ctx).status == op_status::canceled;
                        break;
                    }
                    case 3: ok = wg.wait(ctx) == weft::context_errc::canceled; break;
                    case 4: ok = weft::sleep(ctx, 1h) == weft::context_errc::canceled; break;
                    case 5: {
                        std::unique_lock lock(m);
                        ok = !cv.wait(lock, ctx.stop_token(), [] { return false; });
                        break;
                    }
                }
                if (!ok) wrong.fetch_add(1);
                woken.fetch_add(1);
            });
        }
        REQUIRE(eventually([&] { return started.load() == waiters; }));
        std::this_thread::sleep_for(100ms);  // let them block (a late one sees the cancel)

        std::size_t attempts;
        {
            failing_allocations f;
            cancel();
            attempts = f.attempts();
        }
        if (can_fail_allocations) CHECK(attempts == 0);
        CHECK(eventually([&] { return woken.load() == waiters; }));
        for (auto& wg : groups) wg.done();
    }
    CHECK(wrong.load() == 0);
    for (const auto& c : kept) CHECK(c.err() == weft::context_errc::canceled);
}

TEST_CASE("after_func when no thread can be started: f runs on the canceller, not never" *
          doctest::skip(!can_fail_allocations)) {
    WEFT_WATCHDOG();
    auto [root, cancel] = weft::with_cancel(weft::background());
    std::atomic<int> ran{0};
    std::vector<weft::after_func_handle> handles;
    std::vector<weft::context> kept;
    for (int i = 0; i < 8; ++i) {
        kept.push_back(weft::with_cancel(root).ctx);
        handles.push_back(weft::after_func(kept.back(), [&] { ran.fetch_add(1); }));
    }
    std::size_t attempts;
    {
        failing_allocations f;
        cancel();
        attempts = f.attempts();
    }
    CHECK(attempts > 0);     // weft::go tried to start the threads
    CHECK(ran.load() == 8);  // all ran inline: nothing was left to a thread
    for (auto& h : handles) CHECK_FALSE(h.stop());
}
