// weft/detail/park.hpp - putting a thread to sleep until another one changes a word.
//
// Invariants:
// - Every thread owns one parker for its whole life. Parkers are never freed: when a thread
//   exits its parker goes to a free list and is handed to a later thread. So a waker that kept
//   a parker pointer past the end of the wait it was meant for touches valid memory, and at
//   worst causes a spurious wake-up of the parker's next owner.
// - Every park is spurious-wake-tolerant: the caller re-checks its condition in a loop.
// - A waker first publishes the condition (a seq_cst RMW on the waiter's word), then calls
//   unpark(); the parker first announces `parked`, then re-checks the condition. Both sides are
//   seq_cst, so at least one of them sees the other (Dekker): no wake-up is lost, and a waker
//   whose target is still spinning pays one load, not a system call.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "config.hpp"

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#else
#include <condition_variable>
#endif

WEFT_BEGIN_NAMESPACE
namespace detail {

class parker {
public:
    using clock = std::chrono::steady_clock;

    // Sleeps while `word` holds `expected`, or until `deadline`; may return spuriously.
    void park_while(const std::atomic<std::uintptr_t>& word, std::uintptr_t expected,
                    const clock::time_point* deadline) noexcept {
        // Only the owner parks its parker, one wait at a time: never parked on entry (a stale
        // unpark may have left `notified`, which this store overwrites: spurious, not lost).
        WEFT_ASSERT(this == current());
        WEFT_ASSERT(state_.load(std::memory_order_relaxed) != parked);
        // seq_cst store, then seq_cst load of the word: the Dekker pair with unpark().
        state_.store(parked, std::memory_order_seq_cst);
        if (word.load(std::memory_order_seq_cst) == expected) sleep(deadline);
        state_.store(idle, std::memory_order_relaxed);
    }

    // Called after the waker changed the word this parker waits on.
    void unpark() noexcept {
        // seq_cst load: pairs with the seq_cst store in park_while (see the invariants).
        if (state_.load(std::memory_order_seq_cst) != parked) return;
        // The exchange makes a concurrent sleep() see a changed value and not block.
        if (state_.exchange(notified, std::memory_order_seq_cst) == parked) wake();
    }

    // The calling thread's parker. Throws std::bad_alloc if the thread has none yet and none
    // can be made (the next call tries again); never fails once the thread has one.
    static parker* current() {
        thread_local owner o;
        return o.p;
    }

private:
    enum : std::uint32_t { idle = 0, parked = 1, notified = 2 };

#if defined(__linux__)
    void sleep(const clock::time_point* deadline) noexcept {
        timespec ts{};
        timespec* tp = nullptr;
        if (deadline) {
            // steady_clock is CLOCK_MONOTONIC on Linux, the clock FUTEX_WAIT_BITSET uses.
            auto ns =
                std::chrono::duration_cast<std::chrono::nanoseconds>(deadline->time_since_epoch())
                    .count();
            if (ns < 0) ns = 0;
            ts.tv_sec = static_cast<time_t>(ns / 1000000000);
            ts.tv_nsec = static_cast<long>(ns % 1000000000);
            tp = &ts;
        }
        syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&state_),
                FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, parked, tp, nullptr,
                FUTEX_BITSET_MATCH_ANY);
    }
    void wake() noexcept {
        syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&state_),
                FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, nullptr, nullptr, 0);
    }
#else
    void sleep(const clock::time_point* deadline) noexcept {
        std::unique_lock lock(mutex_);
        auto still = [this] { return state_.load(std::memory_order_relaxed) == parked; };
        if (deadline)
            cv_.wait_until(lock, *deadline, still);
        else
            cv_.wait(lock, still);
    }
    void wake() noexcept {
        // The lock orders the state change before a sleeper's check; notify after unlocking.
        { std::lock_guard lock(mutex_); }
        cv_.notify_one();
    }
    std::mutex mutex_;
    std::condition_variable cv_;
#endif

    // The parkers of exited threads, chained through next_free_ (a stack, newest on top):
    // giving one back never allocates, as it must not in a thread's exit.
    struct pool {
        std::mutex mutex;
        parker* free = nullptr;
    };
    static pool& the_pool() {  // may throw on first use, like current()
        // Leaked on purpose: threads may exit after static destructors have run.
        static pool* p = new pool;
        return *p;
    }
    struct owner {
        parker* p;
        owner() {
            pool& pl = the_pool();
            std::lock_guard lock(pl.mutex);
            if (!pl.free) {
                p = new parker;
            } else {
                p = pl.free;
                pl.free = p->next_free_;
            }
        }
        ~owner() {
            pool& pl = the_pool();  // made by our constructor: cannot throw now
            std::lock_guard lock(pl.mutex);
            p->next_free_ = pl.free;
            pl.free = p;
        }
    };

    static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
    std::atomic<std::uint32_t> state_{idle};
    parker* next_free_ = nullptr;  // guarded by the pool's mutex, while in its free list
};

}  // namespace detail
WEFT_END_NAMESPACE
