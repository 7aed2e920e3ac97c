// weft/semaphore.hpp - Go's golang.org/x/sync/semaphore: a weighted semaphore whose acquire can
// be canceled through a context.
//
//     weft::semaphore sem(8);                       // 8 tokens in all
//     if (auto ec = sem.acquire(ctx, 3)) return ec;  // ctx.err() if canceled first
//     ...                                            // use 3 tokens' worth of the resource
//     sem.release(3);
//
// @par Thread Safety
// Every member function may be called concurrently. A semaphore is neither copyable nor movable
// (blocked callers refer to it by address). It must not be destroyed while a call is blocked in
// it. A caller woken by release() may destroy it at once: after unlocking, release() touches
// only the waiters it woke, never the semaphore.
//
// @par Semantics (x/sync's)
// Tokens are granted in FIFO order: while a caller waits, no later acquire or try_acquire can
// overtake it, even one that would fit, so a large request is never starved by a stream of
// small ones. acquire(ctx, n) returns {} with n tokens, or ctx.err() with nothing taken; a
// context that is already done fails the call even if tokens are free. A request larger than
// the semaphore never succeeds: it waits for its context without holding up anyone behind it.
//
// A pattern, not a primitive: built only from public parts (channel, select, context) and a
// std::mutex, after x/sync's semaphore.go (the version with the go.dev/issue/63615 fix).
// Where weft deviates:
// - Nobody is woken under the lock. x/sync closes a waiter's ready channel under its mutex;
//   here the granting thread closes it after unlocking (see the invariants).
// - release(n) of more than is held throws std::logic_error and changes nothing (x/sync panics,
//   after having changed its count); a negative weight or size throws std::invalid_argument.
//
// Invariants:
// - mu_ guards cur_, the waiter queue (head_, tail_, and each queued waiter's prev/next) and
//   every waiter's `granted`. There are no atomics here: everything shared is read and written
//   under mu_, or handed over by closing a channel, which happens-before the receive that sees
//   it closed (as in Go).
// - 0 <= cur_ <= size_ at every unlock. cur_ counts granted tokens, including those of a waiter
//   that has been granted but has not woken up yet.
// - FIFO: tokens go to the queue's head first; grant() stops at the first waiter that does not
//   fit, and fits() refuses a newcomer while anyone is queued. A queued waiter's weight is at
//   most size_ (larger requests never queue), so the head always fits once enough is released.
// - A waiter lives on its acquirer's stack. It is in the queue, or granted (granted == true,
//   out of the queue, in one granter's wake list), or removed by its canceled owner; never two.
// - Nobody is woken while mu_ is held. grant() only moves waiters from the queue to a wake list;
//   the granter closes their ready channels after unlocking. Until its ready channel is closed,
//   a granted waiter's owner does not return (even a canceled owner waits for that close), so
//   the granter may read the waiter after unlocking, up to the moment it closes that channel.
// - Grant and cancellation may cross. A canceled owner takes mu_ and looks at `granted`: not
//   granted, it leaves the queue (and, if it was the head, lets the waiters behind it be
//   re-examined); granted, it hands the tokens back, as x/sync does since go.dev/issue/63615, so
//   the outcome does not depend on which case select happened to see first.
// - An asynchronous acquire (async_acquire, weft/asio.hpp) queues the same waiter, on the heap,
//   owned by its pending operation (queued_acquire); granted means its ready channel is closed,
//   as for a thread, and a canceled or shut-down operation withdraws it as a canceled thread
//   does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

#include "channel.hpp"
#include "context.hpp"
#include "detail/config.hpp"
#include "select.hpp"

WEFT_BEGIN_NAMESPACE

// A weighted semaphore (Go: semaphore.Weighted): up to capacity() tokens may be held at once,
// taken and given back in any weights.
class semaphore {
public:
    // A semaphore of n tokens, all free. Throws std::invalid_argument if n < 0.
    explicit semaphore(std::int64_t n) : size_(n) {
        if (n < 0) throw std::invalid_argument("weft::semaphore: negative size");
    }
    semaphore(const semaphore&) = delete;
    semaphore& operator=(const semaphore&) = delete;

    // Takes n tokens, waiting until they are granted or ctx is done. Returns {} with the tokens,
    // or ctx.err() with the semaphore unchanged. Fails if ctx is already done, even when n
    // tokens are free. n > capacity() never succeeds: it waits for ctx and returns ctx.err().
    [[nodiscard]] std::error_code acquire(const context& ctx, std::int64_t n) {
        return acquire_impl(&ctx, checked(n, "acquire"));
    }

    // Takes n tokens, waiting as long as it takes. n > capacity() waits forever (Go's
    // Acquire(context.Background(), n) does too).
    void acquire(std::int64_t n) { (void)acquire_impl(nullptr, checked(n, "acquire")); }

    // Takes n tokens asynchronously, in Boost.Asio's universal model (defined in weft/asio.hpp,
    // which must be included to use it): completes with a std::error_code, {} with the tokens, or
    // context_errc::canceled with nothing taken when the operation was canceled through its
    // handler's cancellation slot (bind_cancellation_slot, awaitable operators, a
    // weft::context_signal). Threads and asynchronous operations share one FIFO queue. A grant
    // that crosses the cancellation wins, as in channel operations: then it completes with the
    // tokens. n > capacity() completes only when canceled. The semaphore must outlive the
    // operation; an execution context's shutdown withdraws it (nothing taken).
    template <class Token>
    auto async_acquire(std::int64_t n, Token&& token);

    // Takes n tokens if they are free and nobody is waiting; never waits.
    [[nodiscard]] bool try_acquire(std::int64_t n) {
        checked(n, "try_acquire");
        std::lock_guard lock(mu_);
        if (!fits(n)) return false;
        cur_ += n;
        return true;
    }

    // Gives back n tokens and grants them to waiters, in queue order. Throws std::logic_error
    // (and changes nothing) if fewer than n tokens are held.
    void release(std::int64_t n) {
        checked(n, "release");
        wake_list woken;
        {
            std::lock_guard lock(mu_);
            if (n > cur_) throw std::logic_error("weft::semaphore: released more than held");
            cur_ -= n;
            grant(woken);
        }
        wake(woken);
    }

    // The total number of tokens (Go: the n of NewWeighted).
    std::int64_t capacity() const noexcept { return size_; }

private:
    struct waiter {
        explicit waiter(std::int64_t weight) : n(weight) {}
        const std::int64_t n;
        // Closed by the thread that granted this waiter, after it unlocked mu_. A rendezvous
        // channel: only its close is ever used. This is the one allocation of a blocked acquire.
        channel<std::monostate> ready{0};
        waiter* prev = nullptr;  // queue links, guarded by mu_
        waiter* next = nullptr;
        // The granter's wake list: written under mu_, read by the granter after unlocking, until
        // it closes `ready`.
        waiter* next_woken = nullptr;
        bool granted = false;  // guarded by mu_; once true, never false again
    };

    // Waiters granted under mu_, to be woken after it is released (in grant order).
    struct wake_list {
        waiter* head = nullptr;
        waiter** tail = &head;
    };

    static std::int64_t checked(std::int64_t n, const char* what) {
        if (n < 0) {
            throw std::invalid_argument(std::string("weft::semaphore::") + what +
                                        ": negative weight");
        }
        return n;
    }

    // ctx == nullptr: not cancellable (acquire(n)).
    std::error_code acquire_impl(const context* ctx, std::int64_t n) {
        std::unique_lock lock(mu_);
        if (ctx) {
            // A cancellation that happened before this call, or while it waited for mu_,
            // happened before the acquire: fail even if tokens are free (x/sync does the same).
            // A cancellation after this check is concurrent with the call, so succeeding below
            // is as correct as failing.
            if (auto ec = ctx->err()) return ec;
        }
        if (fits(n)) {
            cur_ += n;
            return {};
        }
        // Taken before queueing: done() may allocate (contexts make it on first use), and
        // nothing may throw once the waiter is queued.
        receiver<std::monostate> done = ctx ? ctx->done() : receiver<std::monostate>();
        if (n > size_) {
            // Never satisfiable. Queueing it would block everyone behind it for nothing.
            lock.unlock();
            for (;;) {
                (void)done.receive();  // a nil receiver (no ctx, or background) never returns
                if (ctx) return ctx->err();
            }
        }
        waiter w(n);  // may throw std::bad_alloc: unique_lock unlocks, nothing has changed
        enqueue(w);
        lock.unlock();
        return wait(ctx, done, w);
    }

    // The blocked path: w is queued and mu_ is not held.
    std::error_code wait(const context* ctx, receiver<std::monostate>& done, waiter& w) noexcept {
        if (!ctx || !done) {
            // Nothing can cancel this wait (no context, or one that is never canceled: its
            // done() is nil), so no select is needed.
            (void)w.ready.receive();  // empty optional: closed, i.e. granted
            return {};
        }
        const std::size_t fired =
            weft::select(weft::on_receive(w.ready, [] {}), weft::on_receive(done, [] {}));
        if (fired == 0) {
            // Granted. If ctx is done as well, select picked between two ready cases at random;
            // x/sync then prefers to fail, so the result does not depend on that coin.
            if (auto ec = ctx->err()) {
                release(w.n);
                return ec;
            }
            return {};
        }
        const std::error_code ec = ctx->err();
        withdraw(w);
        return ec;
    }

    // A canceled owner takes w out of the queue, or, if a grant crossed the cancellation, hands
    // its tokens back (to whoever fits now). Pre: w queued or granted, mu_ NOT held.
    void withdraw(waiter& w) noexcept {
        wake_list woken;
        bool granted;
        {
            std::lock_guard lock(mu_);
            granted = w.granted;
            if (granted) {
                cur_ -= w.n;
                grant(woken);
            } else {
                const bool was_head = head_ == &w;
                dequeue(w);
                // The head may have been what held the others back (a big request in front of
                // small ones): with it gone, look at the queue again.
                if (was_head && cur_ < size_) grant(woken);
            }
        }
        wake(woken);
        // Our granter may still be reading w until it closes w.ready: w must outlive that. It
        // holds no lock and blocks on nothing then, so this wait is a moment.
        if (granted) (void)w.ready.receive();
    }

    // The waiter of an asynchronous acquire (async_acquire), on the heap: the operation owns it.
    // Destroyed unless claim()ed - canceled, or its execution context shut down - it is
    // withdrawn, so nothing is taken.
    class queued_acquire {
    public:
        queued_acquire(semaphore& s, std::int64_t n) : s_(&s), w_(new waiter(n)) {}
        queued_acquire(queued_acquire&& o) noexcept : s_(o.s_), w_(std::exchange(o.w_, nullptr)) {}
        queued_acquire& operator=(queued_acquire&&) = delete;
        ~queued_acquire() {
            if (!w_) return;
            s_->withdraw(*w_);
            delete w_;
        }
        waiter& get() const noexcept { return *w_; }
        // The waiter's ready channel was closed: it was granted and the tokens are the owner's.
        void claim() noexcept { delete std::exchange(w_, nullptr); }

    private:
        semaphore* s_;
        waiter* w_;
    };

    // Pre: mu_ held.
    bool fits(std::int64_t n) const noexcept { return head_ == nullptr && size_ - cur_ >= n; }

    // Pre: mu_ held. Grants tokens to waiters from the head of the queue while the head fits.
    // It stops at the first one that does not, even if a later, smaller one would fit: skipping
    // ahead would let a steady stream of small requests (readers of a read-write lock built from
    // size_ tokens, say) starve a large one (the writer) forever.
    void grant(wake_list& woken) noexcept {
        while (head_ != nullptr && size_ - cur_ >= head_->n) {
            waiter* w = head_;
            cur_ += w->n;
            dequeue(*w);
            w->granted = true;
            *woken.tail = w;
            woken.tail = &w->next_woken;
        }
    }

    // Wakes the waiters grant() collected. Pre: mu_ NOT held.
    static void wake(const wake_list& woken) noexcept {
        for (waiter* w = woken.head; w != nullptr;) {
            // Read what we need before closing: once its ready channel is closed, w's owner may
            // return and w is gone. The handle copy keeps the channel alive through close().
            waiter* next = w->next_woken;
            channel<std::monostate> ready = w->ready;
            w = next;
            ready.close();
        }
    }

    // Pre: mu_ held.
    void enqueue(waiter& w) noexcept {
        w.prev = tail_;
        if (tail_ != nullptr) {
            tail_->next = &w;
        } else {
            head_ = &w;
        }
        tail_ = &w;
    }

    // Pre: mu_ held, w queued.
    void dequeue(waiter& w) noexcept {
        (w.prev != nullptr ? w.prev->next : head_) = w.next;
        (w.next != nullptr ? w.next->prev : tail_) = w.prev;
        w.prev = w.next = nullptr;
    }

    const std::int64_t size_;
    std::mutex mu_;
    std::int64_t cur_ = 0;    // tokens held (granted), guarded by mu_
    waiter* head_ = nullptr;  // FIFO queue of blocked acquirers, guarded by mu_
    waiter* tail_ = nullptr;
};

WEFT_END_NAMESPACE
