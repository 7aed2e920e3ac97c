// weft/boost_thread.hpp - a boost::thread and a weft::context linked both ways: interrupting the
// thread cancels the context, canceling the context interrupts the thread. Optional: it includes
// Boost.Thread and links libboost_thread (CMake weft::boost_thread, Meson weft-boost-thread).
//
//     auto [ctx, cancel] = weft::with_cancel(parent);
//     boost::thread t([ctx, rx] { while (auto v = rx.receive(ctx)) use(*v); });
//     weft::interruption_link link(t, ctx, cancel);
//     ...
//     t.interrupt();   // rx.receive(ctx) returns canceled (weft waits listen to the context)
//     link.unlink();   // before join: the link borrows t
//     t.join();
//
// The two directions, and what each can and cannot do:
// - Context -> thread: the context's cancellation (cancel, a deadline, a parent) calls
//   t.interrupt(), at once if the context is already canceled, from the canceling thread (a
//   std::stop_callback on ctx.stop_token()). Boost then throws boost::thread_interrupted at the
//   thread's next interruption point (boost::this_thread::sleep_for, interruption_point(), a
//   boost::condition_variable wait, join), as for any interrupt. weft's own waits are not
//   interruption points: they end when they are given the context (receive(ctx), weft::sleep(ctx,
//   d), a select with a case on ctx.done()).
// - Thread -> context: boost::thread::interrupt() only sets a flag (and wakes a Boost wait); it
//   calls no one. So the link polls t.interruption_requested() every interruption_poll_period
//   on weft's timer thread, and cancels the context when it sees the request (with a
//   boost::thread_interrupted cause when given a cancel_cause_func). A weft wait on the context
//   therefore ends up to one period after the interrupt, plus scheduling. The limits of a poll:
//   a request the thread consumes first (an interruption point throws boost::thread_interrupted
//   and clears it) may be missed; the thread then has Boost's own signal, the exception. A
//   request made inside disable_interruption is seen (Boost keeps it pending), so the context is
//   canceled although the thread throws nothing. Polling stops once the context is canceled,
//   whoever canceled it. While one link is polled, the timer thread wakes once per period.
//
// Lifetime: the link borrows t. Until unlink() or the link's destruction, t must not be joined,
// detached, moved from, assigned to or destroyed (those write the boost::thread object that the
// link reads from other threads); calling t.interrupt() or t.interruption_requested() is fine.
// unlink() returns once no poll or interrupt of the link is in flight, and none starts after;
// if the context is canceled by then, t has been interrupted, exactly once, whether the
// canceller's callback reached it or not (done() closes before the stop callbacks run, so a
// thread that saw done() close and then unlinked would otherwise race the interrupt).
// The thread may end while linked: an interrupt of an ended (not yet joined) thread is harmless,
// and the context lives on. The link keeps the context's node (through the cancel function), not
// the thread's work; the caller may drop its own handles to the context first.
//
// Invariants:
// - An entry is polled only while it is in the watch list, under the list's lock; unlink()
//   removes it under that lock, so after remove() nothing polls t through it. The context's
//   cancellation removes it too (the stop_callback, after interrupting t), so a canceled
//   context is not polled, and a poll never reads the context (err() may close done(), and
//   nobody is woken under the list's lock).
// - A poll never cancels under the lock: it copies the cancel function (a shared_ptr copy),
//   removes the entry, unlocks, then cancels. The canceler may run this link's stop_callback
//   (t.interrupt()); ~stop_callback in unlink() waits for it.
// - The watch list is immortal (as the timer service is), so a tick at process exit never meets
//   a dead list; at most one tick is scheduled at a time (ticking_), and none while the list is
//   empty. Lock order: the list's lock -> the timer service's lock -> Boost's per-thread lock.
#pragma once

#include <boost/thread/exceptions.hpp>
#include <boost/thread/thread_only.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <mutex>
#include <optional>
#include <stop_token>
#include <utility>
#include <variant>

#include "context.hpp"
#include "detail/config.hpp"
#include "detail/timer_service.hpp"

WEFT_BEGIN_NAMESPACE

// How often a linked thread's interruption flag is read (see the header comment).
inline constexpr std::chrono::milliseconds interruption_poll_period{1};

namespace detail {

// One polled link: the thread to read and the context to cancel. Owned by the link.
struct interruption_entry {
    boost::thread* thread = nullptr;
    std::variant<std::monostate, cancel_func, cancel_cause_func> cancel;
    interruption_entry* prev = nullptr;  // guarded by interruption_watch::lock_
    interruption_entry* next = nullptr;  // guarded by interruption_watch::lock_
    bool linked = false;                 // guarded by interruption_watch::lock_
};

class interruption_watch {
public:
    static interruption_watch& instance() {
        // Deliberately leaked: see "Invariants" above.
        static interruption_watch* const watch = new interruption_watch;
        return *watch;
    }

    // Starts polling `e`. Throws (std::bad_alloc, std::system_error) if the first tick cannot be
    // scheduled; `e` is then not linked.
    void add(interruption_entry& e) {
        std::lock_guard lock(lock_);
        if (!ticking_) {
            // 0: the process is exiting and the timer service has stopped; nothing will poll.
            ticking_ = timer_service::instance().schedule(next_tick(), [this] { tick(); }) != 0;
        }
        e.prev = last_;
        e.next = nullptr;
        (last_ ? last_->next : head_) = &e;
        last_ = &e;
        e.linked = true;
    }

    // Makes the cause a poll reports before any link can need it (it allocates).
    static void prepare() { (void)interrupted_cause(); }

    // Stops polling `e`; no poll of it is running or starts once this returns.
    void remove(interruption_entry& e) noexcept {
        std::lock_guard lock(lock_);
        unlink(e);
    }

    // Snapshot of the number of polled links (for tests: a canceled context is no longer
    // polled, an unlinked one is gone).
    std::size_t size() {
        std::lock_guard lock(lock_);
        std::size_t n = 0;
        for (auto* e = head_; e; e = e->next) ++n;
        return n;
    }

private:
    interruption_watch() = default;

    static timer_service::clock::time_point next_tick() {
        return timer_service::clock::now() + interruption_poll_period;
    }

    void unlink(interruption_entry& e) noexcept {
        if (!e.linked) return;
        (e.prev ? e.prev->next : head_) = e.next;
        (e.next ? e.next->prev : last_) = e.prev;
        e.prev = e.next = nullptr;
        e.linked = false;
    }

    // On the timer thread. Cancels, outside the lock, the contexts of the interrupted threads,
    // in batches of a fixed size (no allocation here: an exception would terminate).
    void tick() noexcept {
        constexpr std::size_t batch = 16;
        for (;;) {
            std::variant<std::monostate, cancel_func, cancel_cause_func> fire[batch];
            std::size_t n = 0;
            bool more = false;
            {
                std::lock_guard lock(lock_);
                for (auto* e = head_; e;) {
                    auto* following = e->next;
                    if (e->thread->interruption_requested()) {
                        if (n == batch) {
                            more = true;
                            break;
                        }
                        fire[n++] = e->cancel;
                        unlink(*e);
                    }
                    e = following;
                }
                if (!more) {
                    ticking_ = false;
                    if (head_) {
                        try {
                            ticking_ = timer_service::instance().schedule(next_tick(),
                                                                          [this] { tick(); }) != 0;
                        } catch (...) {
                            // Out of memory: polling pauses until the next add() restarts it.
                        }
                    }
                }
            }
            for (std::size_t i = 0; i < n; ++i) {
                if (auto* c = std::get_if<cancel_func>(&fire[i])) {
                    (*c)();
                } else if (auto* cc = std::get_if<cancel_cause_func>(&fire[i])) {
                    (*cc)(interrupted_cause());
                }
            }
            if (!more) return;
        }
    }

    // Made once, by prepare(), so that the tick never allocates an exception_ptr.
    static const std::exception_ptr& interrupted_cause() {
        static const std::exception_ptr cause =
            std::make_exception_ptr(boost::thread_interrupted());
        return cause;
    }

    std::mutex lock_;
    interruption_entry* head_ = nullptr;  // guarded by lock_
    interruption_entry* last_ = nullptr;  // guarded by lock_
    bool ticking_ = false;                // guarded by lock_: a tick is scheduled
};

}  // namespace detail

// Links a running boost::thread and a context both ways (see the header comment for exactly
// what each direction does, and the lifetime rule: the link borrows `t`). Not copyable or
// movable, like std::stop_callback: construct it where it lives.
//
// @par Thread safety
// Construct, unlink and destroy it on one thread; t.interrupt() may be called from anywhere.
class interruption_link {
public:
    // Context -> thread only: canceling ctx interrupts t. (Without a cancel function, an
    // interrupt cannot cancel ctx.)
    interruption_link(boost::thread& t, const context& ctx) : t_(&t) { arm(ctx); }

    // Both ways: canceling ctx interrupts t; interrupting t calls cancel() (which should
    // cancel ctx: the cancel function with_cancel or with_timeout returned with it).
    interruption_link(boost::thread& t, const context& ctx, cancel_func cancel) : t_(&t) {
        watch(ctx, std::move(cancel));
    }

    // As above; the cause the context records for an interrupt is boost::thread_interrupted.
    interruption_link(boost::thread& t, const context& ctx, cancel_cause_func cancel) : t_(&t) {
        watch(ctx, std::move(cancel));
    }

    // The result of with_cancel, with_cancel_cause, with_timeout or with_deadline.
    template <class F>
    interruption_link(boost::thread& t, const cancelable<F>& c)
        : interruption_link(t, c.ctx, c.cancel) {}

    interruption_link(const interruption_link&) = delete;
    interruption_link& operator=(const interruption_link&) = delete;

    ~interruption_link() { unlink(); }

    // Ends both directions: afterwards the link never touches t again, and may be destroyed at
    // leisure. Waits for an interrupt (from a cancellation on another thread) in flight; if the
    // context is canceled and its callback has not interrupted t, interrupts t here. Calling it
    // again does nothing.
    void unlink() noexcept {
        detail::interruption_watch::instance().remove(entry_);
        if (!callback_) return;
        callback_.reset();
        // relaxed: ~stop_callback above either removed the callback before it ran or waited for
        // it to return, which orders its store before this load.
        if (!fired_.load(std::memory_order_relaxed) && ctx_.err()) t_->interrupt();
        ctx_ = context();
    }

private:
    struct interrupter {
        boost::thread* t;
        detail::interruption_entry* entry;
        std::atomic<bool>* fired;
        // boost::thread::interrupt() throws only if Boost's internal mutex fails to lock.
        void operator()() const noexcept {
            fired->store(true, std::memory_order_relaxed);
            t->interrupt();
            // The context is canceled, whoever did it: nothing left to poll for.
            detail::interruption_watch::instance().remove(*entry);
        }
    };

    template <class F>
    void watch(const context& ctx, F cancel) {
        detail::interruption_watch::prepare();
        entry_.thread = t_;
        entry_.cancel = std::move(cancel);
        auto& w = detail::interruption_watch::instance();
        w.add(entry_);
        try {
            arm(ctx);
        } catch (...) {
            w.remove(entry_);
            throw;
        }
    }

    // May interrupt t right here, if ctx is already canceled.
    void arm(const context& ctx) {
        ctx_ = ctx;
        callback_.emplace(ctx.stop_token(), interrupter{t_, &entry_, &fired_});
    }

    boost::thread* t_;
    context ctx_;  // read by unlink(), to interrupt t if the canceller's callback did not
    std::atomic<bool> fired_{false};
    detail::interruption_entry entry_;
    std::optional<std::stop_callback<interrupter>> callback_;
};

WEFT_END_NAMESPACE
