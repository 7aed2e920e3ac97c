// weft/error_group.hpp - Go's golang.org/x/sync/errgroup: run tasks on their own threads, wait
// for all of them, get the first error; with a context, the first error cancels the rest.
//
//     weft::error_group g(parent);        // Go: g, ctx := errgroup.WithContext(parent)
//     auto ctx = g.context();
//     for (const auto& url : urls)
//         g.go([ctx, &url] { fetch(ctx, url); });     // an error is an exception, or a return
//     if (auto err = g.wait()) std::rethrow_exception(err);
//
// @par Semantics (Go's)
// - go(f, args...) runs f(args...) on a new thread. f reports an error by throwing (anything),
//   by returning a non-zero std::error_code (kept as a std::system_error) or by returning a
//   non-null std::exception_ptr. Returning void, an empty code or a null pointer is success.
//   As in Go, f takes no context: it captures the one it needs (g.context(), usually).
// - The first error is the one wait() returns. In a group made from a parent context, the first
//   error also cancels context() with that error as its cause (weft::cause(ctx); Go 1.20's
//   context.Cause), before the failing task counts as finished. A parent canceled first wins:
//   the cause is then the parent's.
// - wait() blocks until every task has finished, including tasks that tasks started meanwhile,
//   then cancels context() as Go's Wait does (cause: the first error, or context_error(canceled)
//   if there was none) and returns the first error (null: none).
// - set_limit(n): at most n tasks are active at once. go() blocks until a slot is free,
//   try_go() returns false instead (and leaves f untouched, so it can be retried). Negative:
//   no limit (the default); 0: every go() blocks, every try_go() fails. Changing the limit while
//   a task is active throws std::logic_error (Go panics).
// - A default-constructed group (Go's zero Group) has no context: context() is background() and
//   an error cancels nothing.
// - After wait() the group can be used again: the first error stays the first, errors() keeps
//   growing, and context() stays canceled (as in Go).
//
// @par Beyond Go
// - An exception escaping a task is an error like any other: it never reaches std::terminate
//   (in Go a panic in a goroutine kills the program; so does one escaping weft::go).
// - Every error is kept: errors() returns them all, in the order they were recorded (Go keeps
//   only the first).
// - Nothing is left running when wait() returns: each task's thread has been joined, so the
//   task's callable and arguments have been destroyed and even its thread_local objects are gone.
// - The destructor of a group that still has tasks cancels context() and then waits for them,
//   as std::jthread requests a stop and joins (Go has no destructors). A group unwound by an
//   exception thrown between go() and wait() thus neither leaks running threads nor hangs on
//   tasks blocked on ctx.done(). Errors nobody asked for are dropped. Call wait() first when
//   the tasks must run to completion.
// - wait() called from one of the group's own tasks throws std::logic_error instead of waiting
//   for itself forever.
//
// @par Why a constructor rather than Go's two results
// `auto [g, ctx] = ...` would need a movable group (tasks hold its address) and, worse, Clang
// before 16 cannot capture a structured binding in a lambda, which is where ctx goes. So:
// `weft::error_group g(parent); auto ctx = g.context();`.
//
// @par Why threads that are joined
// A pattern, not a primitive: built from public parts only (the context API, std::thread,
// std::mutex). Each task is a std::thread, as weft::go's are, but joinable: weft::go's detached
// thread still runs after the last statement of the task (the task object's destructor, then
// thread_local destructors), so wait() could return while user code is still running. A thread
// whose task has ended is joined by the next go() or try_go() (so a long-lived group does not
// pile up finished threads) or by wait().
//
// @par Thread safety
// All member functions may be called concurrently, and from inside tasks (a task may start more
// tasks while wait() is waiting, as in Go). Neither copyable nor movable: tasks refer to the
// group by address. As with Go's WaitGroup, a go() from outside the group must happen before the
// wait() that is meant to wait for it.
//
// @par Coroutine tasks (weft/asio.hpp)
// try_spawn(ex, task) and co_await async_spawn(ex, task, token) start an Asio coroutine task
// (an awaitable, or a function returning one) on an executor: no thread of its own. It counts
// as a task in every respect above: its error is recorded (and cancels context()) like a
// thread task's, it holds a slot of the limit (async_spawn waits for one without blocking a
// thread), and wait(), the destructor and co_await async_wait(token) wait for it. A coroutine
// task destroyed before it finished (its execution context shut down) ends with an error
// (boost::system::system_error, operation_aborted). The group must outlive every pending
// async_spawn or async_wait (until its handler runs or its execution context is destroyed).
// wait() or the destructor on a thread that its coroutine tasks need in order to finish (the
// only thread running their io_context) waits forever: await async_wait there instead.
//
// Invariants:
// - mutex_ guards everything below it; ctx_ and cancel_ never change after construction (and a
//   cancel_cause_func may be called from any thread). There are no atomics.
// - active_ counts tasks holding a slot: taken by go()/try_go() before the thread starts, given
//   back by the task after its callable is destroyed and its error recorded. A coroutine task
//   holds one too, from try_spawn() or from the grant to its async_spawn (which may then still
//   be on its way to start it) until it has ended; it has no worker node. With limit_ >= 0,
//   active_ <= limit_ at every unlock (set_limit changes limit_ only while active_ == 0).
// - Every started task has one worker node. It is in running_ until its task has ended *and*
//   go() has stored its thread handle (whichever comes second moves it), then in exited_ until a
//   reaper takes it out under the lock and joins it after unlocking. starting_ counts go() calls
//   between taking a slot and storing the handle; joining_ counts reapers joining right now.
// - The group is idle when active_ == starting_ == joining_ == 0 and exited_ is empty: then every
//   thread it ever started has been joined. wait() and the destructor return only once they have
//   seen it idle under mutex_.
// - Asynchronous waiters (weft/asio.hpp's operations) are in slot_waiters_ (async_spawn, in
//   FIFO order) or idle_waiters_ (async_wait). Whoever frees a slot or makes active_ and
//   starting_ both zero takes them out under mutex_ (a slot waiter with its slot: active_ is
//   incremented for it) and wakes them after unlocking; a wake posts and touches the node only.
// - Nobody is woken while mutex_ is held: changed_ is notified after unlocking, and the context
//   is canceled after unlocking (canceling runs its hooks). A task's thread may still touch the
//   group after its last unlock (that notify, nothing else): the group outlives it because the
//   group's owner joins the thread before the group can die. One exception, wait_group's: a
//   coroutine task has no thread to join, so its end notifies changed_ before unlocking and
//   touches nothing of the group afterwards (a waiter cannot return before it locks mutex_).
#pragma once

#include <concepts>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <list>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "context.hpp"
#include "detail/async_list.hpp"
#include "detail/config.hpp"
#include "detail/invoke.hpp"

WEFT_BEGIN_NAMESPACE

namespace detail {
struct error_group_access;  // weft/asio.hpp's coroutine tasks and operations
}  // namespace detail

// What a task may return: nothing (an error is an exception), a std::error_code (non-zero: an
// error) or a std::exception_ptr (non-null: an error).
template <class R>
concept error_group_result =
    std::is_void_v<R> || std::same_as<std::remove_cvref_t<R>, std::error_code> ||
    std::same_as<std::remove_cvref_t<R>, std::exception_ptr>;

// A callable that error_group::go can run as f(args...) on another thread: f and args are
// decay-copied (moved when they are rvalues), as for std::thread.
template <class F, class... A>
concept error_group_task =
    std::constructible_from<std::decay_t<F>, F> &&
    (std::constructible_from<std::decay_t<A>, A> && ...) &&
    std::invocable<std::decay_t<F>, std::decay_t<A>...> &&
    error_group_result<std::invoke_result_t<std::decay_t<F>, std::decay_t<A>...>>;

// A group of tasks working on parts of one job (Go: errgroup.Group). See the file comment.
class error_group {
public:
    // Go's zero Group: no context, no limit.
    error_group() noexcept = default;

    // Go's WithContext(parent): context() is a child of parent, canceled by the first error
    // or by wait(), whichever comes first.
    explicit error_group(const weft::context& parent) {
        auto [ctx, cancel] = with_cancel_cause(parent);
        ctx_ = std::move(ctx);
        cancel_ = std::move(cancel);
    }

    error_group(const error_group&) = delete;
    error_group& operator=(const error_group&) = delete;

    // Cancels context() (cause: the first error, or context_error(canceled)), then waits until
    // every task has finished and its thread has been joined. Never throws.
    ~error_group() {
        cancel_(first_error());
        join_all();
    }

    // The group's context: pass it (or a child) to the tasks. background() for a group made
    // without a parent.
    const weft::context& context() const noexcept { return ctx_; }

    // Runs f(args...) on a new thread, first waiting for a slot if a limit is set. If the thread
    // cannot be started, nothing runs, the slot is given back and std::system_error propagates.
    template <class F, class... A>
        requires error_group_task<F, A...>
    void go(F&& f, A&&... args) {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [this] { return has_slot(); });
        start(lock, std::forward<F>(f), std::forward<A>(args)...);
    }

    // As go(), if a slot is free now; otherwise returns false at once, without touching f or
    // args.
    template <class F, class... A>
        requires error_group_task<F, A...>
    [[nodiscard]] bool try_go(F&& f, A&&... args) {
        std::unique_lock lock(mutex_);
        if (!has_slot()) return false;
        start(lock, std::forward<F>(f), std::forward<A>(args)...);
        return true;
    }

    // At most n active tasks from now on; negative: no limit. Throws std::logic_error (and
    // changes nothing) while a task is active.
    void set_limit(std::ptrdiff_t n) {
        detail::async_list woken;
        {
            std::lock_guard lock(mutex_);
            if (active_ != 0) {
                throw std::logic_error("weft::error_group: set_limit while " +
                                       std::to_string(active_) + " tasks are active");
            }
            limit_ = n < 0 ? -1 : n;
            collect(woken);
        }
        changed_.notify_all();  // a go() held back by a limit of 0 may fit now
        woken.wake_all();
    }

    // Waits until every task has finished (and its thread has been joined), cancels context(),
    // and returns the first error, or null. Throws std::logic_error if called from one of the
    // group's own tasks (it would wait for itself).
    [[nodiscard]] std::exception_ptr wait() {
        if (current_ == this) {
            throw std::logic_error(
                "weft::error_group: wait() called from one of its own tasks (it would wait for "
                "itself)");
        }
        join_all();
        std::exception_ptr first = first_error();
        cancel_(first);  // Go's Wait: cancel(g.err); a no-op if the first error already did
        return first;
    }

    // Starts a coroutine task on `ex` (weft/asio.hpp) if a slot is free now: `fn` is an
    // asio::awaitable<R> or a function returning one, R as for go(). Otherwise returns false at
    // once without touching fn. Defined in weft/asio.hpp.
    template <class Executor, class Task>
    [[nodiscard]] bool try_spawn(const Executor& ex, Task&& fn);

    // Go's g.Go for a coroutine task: waits, without blocking a thread, for a slot, then starts
    // `fn` on `ex` (weft/asio.hpp). Completes with boost::system::error_code: empty once the
    // task has started, operation_aborted if canceled first (fn is then destroyed unrun).
    template <class Executor, class Task, class Token>
    auto async_spawn(const Executor& ex, Task&& fn, Token&& token);

    // wait() for a coroutine (weft/asio.hpp): completes with (boost::system::error_code,
    // std::exception_ptr): the first error (null: none) once every task, thread or coroutine,
    // has finished, and context() is canceled as by wait(); or operation_aborted (and a null
    // error) if canceled first. Joining ended threads may block the completing thread briefly.
    template <class Token>
    auto async_wait(Token&& token);

    // Every error recorded so far, in the order they were recorded (complete once wait() has
    // returned; while tasks run, a snapshot).
    std::vector<std::exception_ptr> errors() const {
        std::lock_guard lock(mutex_);
        return errors_;
    }

private:
    friend struct detail::error_group_access;

    struct worker {
        std::thread thread;  // stored by adopt(), under mutex_
        bool ended = false;  // set by the task's thread, under mutex_
    };
    using worker_list = std::list<worker>;
    using worker_iter = worker_list::iterator;

    // One task: the decay-copied callable and arguments, owned by the thread that runs them.
    template <class F, class... A>
    struct task {
        template <class G, class... B>
        explicit task(G&& g, B&&... b) : f(std::forward<G>(g)), args(std::forward<B>(b)...) {}

        // Runs the callable once; its error, or null. Never throws.
        std::exception_ptr call() noexcept {
            try {
                auto call_f = [this](A&... xs) -> decltype(auto) {
                    return detail::invoke(std::move(f), std::move(xs)...);
                };
                if constexpr (std::is_void_v<std::invoke_result_t<F, A...>>) {
                    std::apply(call_f, args);
                    return nullptr;
                } else {
                    return to_error(std::apply(call_f, args));
                }
            } catch (...) { return std::current_exception(); }
        }

        F f;
        std::tuple<A...> args;
    };

    static std::exception_ptr to_error(const std::error_code& ec) {
        // May throw std::bad_alloc (the message): the caller's catch then records that.
        return ec ? std::make_exception_ptr(std::system_error(ec)) : nullptr;
    }
    static std::exception_ptr to_error(std::exception_ptr e) noexcept { return e; }

    // Pre: mutex_ held.
    bool has_slot() const noexcept { return limit_ < 0 || active_ < limit_; }

    std::exception_ptr first_error() const {
        std::lock_guard lock(mutex_);
        return first_;
    }

    // Takes a slot and starts the thread. Pre: `lock` holds mutex_ and has_slot(). Returns with
    // mutex_ released.
    template <class F, class... A>
    void start(std::unique_lock<std::mutex>& lock, F&& f, A&&... args) {
        const worker_iter self = running_.emplace(running_.end());  // may throw: nothing taken
        ++active_;
        ++starting_;
        lock.unlock();
        std::thread thread;
        try {
            using task_t = task<std::decay_t<F>, std::decay_t<A>...>;
            auto t = std::make_unique<task_t>(std::forward<F>(f), std::forward<A>(args)...);
            thread = std::thread(&error_group::run<task_t>, this, t.get(), self);
            (void)t.release();  // owned by the new thread now
        } catch (...) {
            abandon(self);
            throw;
        }
        adopt(self, std::move(thread));
    }

    // The thread body of one task.
    template <class Task>
    void run(Task* raw, worker_iter self) noexcept {
        current_ = this;
        std::exception_ptr error;
        {
            std::unique_ptr<Task> t(raw);
            error = t->call();
        }  // the callable and its arguments are destroyed before the task counts as finished
        if (error) record(error);
        detail::async_list woken;
        {
            std::lock_guard lock(mutex_);
            --active_;
            self->ended = true;
            if (self->thread.joinable()) exited_.splice(exited_.end(), running_, self);
            collect(woken);
        }
        // After unlocking. The group is still alive: its owner joins this thread before it can
        // destroy the group (see the invariants).
        changed_.notify_all();
        woken.wake_all();
    }

    // Pre: mutex_ held. Takes the asynchronous waiters that can go now: slot waiters while a
    // slot is free (taking it for them), then, if no task is active or starting, async_wait's.
    void collect(detail::async_list& woken) noexcept {
        while (!slot_waiters_.empty() && has_slot()) {
            slot_waiters_.move_front_to(woken);
            ++active_;
        }
        if (active_ == 0 && starting_ == 0) woken.splice_taken(idle_waiters_.take_all());
    }

    // Takes a slot if one is free.
    bool try_take_slot() {
        std::lock_guard lock(mutex_);
        if (!has_slot()) return false;
        ++active_;
        return true;
    }

    // A coroutine task has ended (or a slot taken for one was never used: error null). The
    // caller touches nothing of the group afterwards (see the invariants).
    void end_coroutine_task(const std::exception_ptr& error) noexcept {
        if (error) record(error);
        detail::async_list woken;
        {
            std::lock_guard lock(mutex_);
            --active_;
            collect(woken);
            changed_.notify_all();  // under the lock: nothing joins us (see the invariants)
        }
        woken.wake_all();  // the nodes only
    }

    // Parks an async_spawn until a slot is free; false (and the slot taken) if one is free now.
    bool enlist_slot(detail::async_node* node) {
        std::lock_guard lock(mutex_);
        if (slot_waiters_.empty() && has_slot()) {
            ++active_;
            return false;
        }
        slot_waiters_.push_back(node);
        return true;
    }
    // Parks an async_wait until no task is active or starting; false if none is now.
    bool enlist_idle(detail::async_node* node) {
        std::lock_guard lock(mutex_);
        if (active_ == 0 && starting_ == 0) return false;
        idle_waiters_.push_back(node);
        return true;
    }
    // Take back a parked waiter; false if a waker took it first.
    bool delist_slot(detail::async_node* node) noexcept {
        std::lock_guard lock(mutex_);
        return slot_waiters_.remove(node);
    }
    bool delist_idle(detail::async_node* node) noexcept {
        std::lock_guard lock(mutex_);
        return idle_waiters_.remove(node);
    }

    // Keeps the error; the first one also cancels the context.
    void record(const std::exception_ptr& e) noexcept {
        bool first;
        {
            std::lock_guard lock(mutex_);
            first = !first_;
            if (first) first_ = e;
            try {
                errors_.push_back(e);
            } catch (...) {}  // out of memory: errors() misses this one; first_ is kept anyway
        }
        // After unlocking: canceling runs the context's hooks. Before the task counts as
        // finished, so wait() and the next task started in its slot see the context canceled.
        if (first) cancel_(e);
    }

    // go() started the thread: store its handle, and join the threads whose tasks have ended.
    void adopt(worker_iter self, std::thread thread) noexcept {
        std::unique_lock lock(mutex_);
        self->thread = std::move(thread);
        --starting_;
        if (self->ended) exited_.splice(exited_.end(), running_, self);
        if (!exited_.empty()) reap(lock);
        detail::async_list woken;
        collect(woken);
        lock.unlock();
        changed_.notify_all();
        woken.wake_all();
    }

    // go() could not start the thread: give the slot back.
    void abandon(worker_iter self) noexcept {
        detail::async_list woken;
        {
            std::lock_guard lock(mutex_);
            running_.erase(self);
            --active_;
            --starting_;
            collect(woken);
        }
        changed_.notify_all();
        woken.wake_all();
    }

    // Joins the threads in exited_. Pre and post: `lock` holds mutex_ (released while joining).
    void reap(std::unique_lock<std::mutex>& lock) noexcept {
        worker_list mine;
        mine.splice(mine.end(), exited_);
        ++joining_;
        lock.unlock();
        for (worker& w : mine) w.thread.join();  // their tasks have ended: only exits remain
        mine.clear();
        lock.lock();
        --joining_;
    }

    // Returns once the group is idle (see the invariants), joining ended threads as it goes.
    void join_all() noexcept {
        std::unique_lock lock(mutex_);
        for (;;) {
            changed_.wait(lock, [this] {
                return active_ == 0 && starting_ == 0 && (joining_ == 0 || !exited_.empty());
            });
            if (exited_.empty()) return;  // and joining_ == 0: idle
            reap(lock);
            // Another caller of join_all may be waiting for our joins to end.
            lock.unlock();
            changed_.notify_all();
            lock.lock();
        }
    }

    // The group whose task runs on this thread, if any (each task has a thread of its own).
    static inline thread_local const error_group* current_ = nullptr;

    weft::context ctx_;         // background() for a group without a parent
    cancel_cause_func cancel_;  // does nothing for a group without a parent

    mutable std::mutex mutex_;
    std::condition_variable changed_;  // notified, after unlocking, on every change below
    std::ptrdiff_t limit_ = -1;        // negative: no limit
    std::ptrdiff_t active_ = 0;
    std::ptrdiff_t starting_ = 0;
    std::ptrdiff_t joining_ = 0;
    worker_list running_;
    worker_list exited_;
    std::exception_ptr first_;
    std::vector<std::exception_ptr> errors_;
    detail::async_list slot_waiters_;  // async_spawn operations waiting for a slot
    detail::async_list idle_waiters_;  // async_wait operations
};

WEFT_END_NAMESPACE
