// weft/wait_group.hpp - Go's sync.WaitGroup.
//
// Invariants:
// - state_ packs the counter (high 32 bits, always in [0, INT32_MAX]) and the number of threads
//   registered in the slow path of wait (low 32 bits), as Go's WaitGroup does. Every change is a
//   single RMW on state_, so the counter and the waiter count are always seen together.
// - The counter never goes negative: add() computes the new value first and only publishes it
//   with a CAS; a negative result throws std::logic_error and leaves state_ unchanged.
// - Happens-before (Go's rule "Done synchronizes before the return of the Wait it unblocks"):
//   add/done publish with a release CAS; wait reads with acquire. All changes are RMWs, so
//   every earlier done() is in the release sequence read by the waiter. An asynchronous waiter
//   reads nothing: the locked CAS that wakes it is acq_rel, and the post of its completion
//   carries that on.
// - No lost wake-up: a waiter registers (CAS, which fails if the counter changed) before it
//   sleeps, and re-checks the counter under mutex_. An add() whose CAS brings the counter to 0
//   while waiters are registered does that CAS *under mutex_* and notifies before unlocking;
//   a registered waiter reads the counter only under mutex_, so it sees 0 only after that
//   add() has stopped touching the object.
// - Lifetime (why the notify is under the lock, against STYLE's "nobody is woken under a
//   lock"): the waiter may destroy the wait_group as soon as wait() returns, while the last
//   done() is still inside its call. The done() that wakes waiters therefore finishes all its
//   accesses (CAS, notify) before it releases mutex_, and the waiter cannot return before it
//   acquires mutex_. A woken waiter may block briefly on mutex_; that is the price of the slow
//   path only. The uncontended path (add, done, wait with no waiter asleep) takes no lock.
// - Asynchronous waiters (weft/asio.hpp's async_wait) count in the waiter half of state_ too,
//   and are in async_waiters_; both change together under mutex_ only. The add() that brings
//   the counter to zero takes them all in its CAS (it subtracts their count) and out of the list
//   under mutex_, and wakes them after unlocking: a wake posts their completion and touches
//   only the node, never the wait_group (which may be gone by then). A canceled or withdrawn
//   one is removed under mutex_, and only if a waker has not taken it.
// - Reuse: once wait() has returned, add() may start a new round. As in Go, an add() with a
//   positive delta while the counter is 0 must happen before the wait() it is meant to block.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "context.hpp"
#include "detail/async_list.hpp"
#include "detail/config.hpp"
#include "detail/context_tree.hpp"
#include "detail/deadline.hpp"
#include "detail/invoke.hpp"
#include "go.hpp"

WEFT_BEGIN_NAMESPACE

namespace detail {
struct wait_group_access;  // weft/asio.hpp's async_wait
}  // namespace detail

// Waits for a collection of tasks to finish: add(n) before starting them, done() as each ends,
// wait() until the counter is zero.
//
// @par Not a handle
// The object is the state (Go's WaitGroup, used through a pointer): share it by reference or
// pointer, not by copy. So its operations are not const; a lambda refers to it with [&wg].
//
// @par Copy and move
// Neither copyable nor movable (tasks refer to it by address, like Go's noCopy).
//
// @par Thread safety
// All member functions may be called concurrently. The wait_group must outlive every task that
// will call done(); it may be destroyed as soon as wait() has returned, or async_wait's handler
// has been called (even while the last done() call is still returning). It must outlive every
// pending async_wait: until its handler is called or its execution context is destroyed.
class wait_group {
public:
    wait_group() noexcept = default;
    wait_group(const wait_group&) = delete;
    wait_group& operator=(const wait_group&) = delete;

    // Adds n (may be negative) to the counter. Throws std::logic_error if the counter would go
    // negative, std::length_error if it would exceed INT32_MAX; the counter is then unchanged.
    // Reaching zero releases every waiter.
    void add(std::ptrdiff_t n = 1) {
        if (n == 0) return;
        // relaxed: only a guess for the CAS, which re-reads on failure.
        std::uint64_t old = state_.load(std::memory_order_relaxed);
        for (;;) {
            const std::uint64_t next = apply(old, n);
            if (counter(next) == 0 && waiters(old) != 0) break;  // wake-up path, below
            // release: publishes the finished task's work to the wait() that reads this value
            // (or a later one: all changes are RMWs, so they extend the release sequence).
            // relaxed on failure: the retry only recomputes from the fresh value.
            if (state_.compare_exchange_weak(old, next, std::memory_order_release,
                                             std::memory_order_relaxed))
                return;
        }
        // The counter reaches zero and someone sleeps: do the final CAS under mutex_ (see the
        // "Lifetime" invariant), then wake the threads before unlocking; the asynchronous
        // waiters leave with the CAS and are woken after unlocking.
        detail::async_list woken;
        {
            std::lock_guard lock(mutex_);
            old = state_.load(std::memory_order_relaxed);
            for (;;) {
                std::uint64_t next = apply(old, n);  // may throw if a racing done() won
                const bool zero = counter(next) == 0;
                if (zero) {
                    WEFT_ASSERT(waiters(next) >= async_waiters_.size());
                    next -= async_waiters_.size();  // their registrations go with them
                }
                // acq_rel: as above, and acquire because asynchronous waiters read no state_:
                // this CAS acquires every earlier done()'s release for them (it reads the end of
                // their release sequence), and the post of their completion passes it on.
                // relaxed on failure: as above.
                if (state_.compare_exchange_weak(old, next, std::memory_order_acq_rel,
                                                 std::memory_order_relaxed)) {
                    if (zero) {
                        woken = async_waiters_.take_all();
                        if (waiters(next) != 0) cv_.notify_all();
                    }
                    break;
                }
            }
        }
        woken.wake_all();  // touches the nodes only: the wait_group may be gone already
    }

    // add(-1). Throws std::logic_error if the counter is already zero.
    void done() { add(-1); }

    // Blocks until the counter is zero. Returns at once if it already is.
    void wait() {
        // acquire: pairs with the release CAS of the done() that wrote 0.
        if (counter(state_.load(std::memory_order_acquire)) == 0) return;
        if (!register_waiter()) return;
        {
            std::unique_lock lock(mutex_);
            cv_.wait(lock, [this] { return is_zero(); });
        }
        unregister_waiter();
    }

    // As wait(), giving up when ctx is canceled. Empty when the counter reached zero (that
    // wins if both happen), ctx.err() otherwise.
    [[nodiscard]] std::error_code wait(const context& ctx) {
        if (counter(state_.load(std::memory_order_acquire)) == 0) return {};  // as in wait()
        if (auto e = ctx.err()) return e;
        struct wake {
            wait_group* wg;
            bool canceled = false;  // guarded by wg->mutex_
            static void fire(void* p) noexcept {
                auto* w = static_cast<wake*>(p);
                {
                    std::lock_guard lock(w->wg->mutex_);
                    w->canceled = true;
                }
                w->wg->cv_.notify_all();  // cancel_hook::remove keeps `w` alive until we return
            }
        } w{this};
        detail::cancel_hook hook(&wake::fire, &w);
        if (!hook.add(ctx)) {  // cannot be canceled, or was just canceled
            if (auto e = ctx.err()) return e;
            wait();
            return {};
        }
        bool zero = true;
        if (register_waiter()) {
            {
                std::unique_lock lock(mutex_);
                cv_.wait(lock, [&] { return is_zero() || w.canceled; });
                zero = is_zero();
            }
            unregister_waiter();
        }
        hook.remove();
        return zero ? std::error_code{} : ctx.err();
    }

    // As wait(), giving up after d (any duration; one beyond steady_clock's range waits
    // forever, see detail/deadline.hpp). True iff the counter reached zero.
    template <class Rep, class Period>
    [[nodiscard]] bool wait_for(const std::chrono::duration<Rep, Period>& d) {
        return wait_steady(detail::deadline_after(d));
    }

    // As wait(), giving up at deadline (any clock, measured on steady_clock). True iff the
    // counter reached zero.
    template <class Clock, class Duration>
    [[nodiscard]] bool wait_until(const std::chrono::time_point<Clock, Duration>& deadline) {
        return wait_steady(detail::to_steady(deadline));
    }

    // Go 1.25's wg.Go: add(1), then run f(args...) on a new thread (weft::go) and call done()
    // when it returns. If f throws, done() is NOT called: the exception is a panic that
    // weft::go prints before calling std::terminate, so no waiter is ever released by a task
    // that failed. If the thread cannot be started, the add is undone and the
    // std::system_error propagates.
    template <class F, class... A>
    void go(F&& f, A&&... args) {
        add(1);
        try {
            ::weft::go(
                [this](auto&& fn, auto&&... xs) {
                    detail::invoke(std::move(fn), std::move(xs)...);
                    done();
                },
                std::forward<F>(f), std::forward<A>(args)...);
        } catch (...) {
            done();
            throw;
        }
    }

    // Waits asynchronously (weft/asio.hpp; a coroutine: co_await wg.async_wait(use_awaitable)).
    // Completes with boost::system::error_code: empty once the counter is zero, operation_aborted
    // when canceled through the handler's cancellation slot first. Defined in weft/asio.hpp.
    template <class Token>
    auto async_wait(Token&& token);

    // Snapshot of the counter (racy by nature; for tests and diagnostics).
    std::ptrdiff_t count() const noexcept {
        return counter(state_.load(std::memory_order_relaxed));
    }

private:
    friend struct detail::wait_group_access;

    static constexpr std::uint64_t waiter_mask = 0xffff'ffffu;

    // Parks an asynchronous waiter, unless the counter is zero already (then false).
    bool enlist_async(detail::async_node* node) {
        std::lock_guard lock(mutex_);
        if (!register_waiter()) return false;
        async_waiters_.push_back(node);
        return true;
    }
    // Takes back a parked asynchronous waiter; false if a waker took it first.
    bool delist_async(detail::async_node* node) noexcept {
        std::lock_guard lock(mutex_);
        if (!async_waiters_.remove(node)) return false;
        unregister_waiter();
        return true;
    }

    static std::ptrdiff_t counter(std::uint64_t s) noexcept {
        return static_cast<std::ptrdiff_t>(s >> 32);
    }
    static std::uint64_t waiters(std::uint64_t s) noexcept { return s & waiter_mask; }

    // The state after adding n to the counter of s, or a throw (state untouched).
    static std::uint64_t apply(std::uint64_t s, std::ptrdiff_t n) {
        const std::ptrdiff_t c = counter(s);
        if (n < 0 && c < -n) throw std::logic_error("weft::wait_group: negative counter");
        if (n > 0 && n > std::numeric_limits<std::int32_t>::max() - c)
            throw std::length_error("weft::wait_group: counter overflow");
        return (static_cast<std::uint64_t>(c + n) << 32) | waiters(s);
    }

    bool wait_steady(detail::clock::time_point deadline) {
        if (deadline == detail::clock::time_point::max()) {
            wait();
            return true;
        }
        if (counter(state_.load(std::memory_order_acquire)) == 0) return true;  // as in wait()
        if (deadline <= detail::clock::now()) return false;  // the check above was the one try
        if (!register_waiter()) return true;
        bool zero;
        {
            std::unique_lock lock(mutex_);
            zero = cv_.wait_until(lock, deadline, [this] { return is_zero(); });
        }
        unregister_waiter();
        return zero;
    }

    // Pre: mutex_ held (so a zero seen here is published by an add() that has finished).
    bool is_zero() const noexcept {
        // acquire: pairs with the release CAS that wrote 0.
        return counter(state_.load(std::memory_order_acquire)) == 0;
    }

    // Counts this thread as a sleeper unless the counter is already zero (then returns false).
    bool register_waiter() {
        std::uint64_t old = state_.load(std::memory_order_acquire);
        for (;;) {
            if (counter(old) == 0) return false;
            // acquire on failure: if the retry reads 0 we return, so that read must be
            // ordered after the done() that wrote it. Success needs no order of its own (the
            // waiter re-reads the counter under mutex_, and that the waking add() sees this
            // registration follows from the single modification order of state_); it is
            // acquire only because a failure order may not be stronger than the success one.
            if (state_.compare_exchange_weak(old, old + 1, std::memory_order_acquire,
                                             std::memory_order_acquire))
                return true;
        }
    }

    void unregister_waiter() noexcept {
        // relaxed: the waiter count only steers add() to the locked path; the counter half is
        // untouched, and the mutex already ordered this thread after the waking add().
        [[maybe_unused]] const std::uint64_t old = state_.fetch_sub(1, std::memory_order_relaxed);
        WEFT_ASSERT(waiters(old) != 0);  // registered before, so the count cannot wrap
    }

    std::atomic<std::uint64_t> state_{0};
    std::mutex mutex_;
    std::condition_variable cv_;
    detail::async_list async_waiters_;  // guarded by mutex_
};

WEFT_END_NAMESPACE
