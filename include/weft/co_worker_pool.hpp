// weft/co_worker_pool.hpp - a worker pool whose workers are coroutines on a Boost.Asio
// executor: Go's "jobs channel + N goroutines ranging over it" where the goroutines are
// Asio coroutines, so tasks may themselves be awaitables (I/O, timers, channel operations).
// Optional: includes Boost (through weft/asio.hpp).
//
//     asio::io_context ioc;
//     weft::co_worker_pool pool(ioc.get_executor(), 8);                // 8 worker coroutines
//     pool.post([] { log("fire and forget"); });                      // from a thread
//     co_await pool.async_post([]() -> asio::awaitable<void> {         // from a coroutine,
//         co_await fetch(url);                                         // an awaitable task
//     }, asio::use_awaitable);
//     weft::future<int> f = pool.submit([] { return 6 * 7; });         // a one-shot result
//     int v = co_await f.async_get(asio::use_awaitable);               // or f.get() on a thread
//     co_await pool.async_shutdown(asio::use_awaitable);               // drain, then done
//
// @par Semantics (worker_pool's, where they apply)
// - A task is a callable of no arguments returning void or R (run on the worker), or returning
//   boost::asio::awaitable<void> / awaitable<R> (awaited by the worker: while it is suspended,
//   the worker takes nothing else, so `workers` bounds the tasks in flight).
// - Backpressure: the queue holds at most `queue_capacity` tasks. post/submit block a thread
//   while it is full; async_post/async_submit suspend a coroutine; try_post fails with full;
//   post(ctx, f) gives up with canceled. A task that is not accepted is not run, and unlike
//   worker_pool's it is not handed back (an awaitable task is already a coroutine frame).
// - Order: tasks leave the queue in FIFO order. A worker runs the tasks it takes back to back
//   and suspends only when the queue is empty or a task awaits.
// - Exceptions never end a worker. A submit task's exception goes to its future; a post task's
//   to options.on_error (on the worker) and first_error(); it counts as failed.
// - shutdown() / async_shutdown() close the queue and wait until the workers have run
//   everything queued and ended. stop() closes the queue, cancels stop_context() and takes out
//   every task that has not started (counted as canceled, returned un-run); the running ones
//   finish (they may watch stop_context()); wait for them with shutdown()/async_shutdown().
//   A submit task dropped un-run sets weft::task_canceled in its future.
// - After shutdown or stop began, post/submit throw pool_closed (async_post/async_submit
//   complete with it) and try_post/post(ctx, f) return closed.
// - The destructor closes the queue and returns: the workers drain what is queued on their
//   executor, then end (Go's close(jobs) without the Wait). They keep the pool's state alive,
//   not the pool. An execution context destroyed with workers suspended destroys them (and
//   their tasks), as it destroys every coroutine.
// - shutdown() blocks its thread: never call it from a thread that runs the pool's executor
//   (it would wait for itself); a coroutine uses async_shutdown.
//
// A pattern, not a primitive: built only from public parts (channel, its async_receive and
// async_send, context, weft::promise/future, worker_pool::task) and co_spawn.
//
// Invariants:
// - Every task taken from the queue is, exactly once, run (started, then completed or failed)
//   or set aside as canceled (stopping was set, or stop() drained it); after the last worker
//   has ended, the queue is closed and empty and `exited` is closed.
// - `stopping` is set (before the queue is closed) only by stop(). A worker reads it after each
//   receive, so no task that leaves the queue after stop() has set it is run.
// - Each worker's counters have one writer at a time (its coroutine; a resumption on another
//   thread happens after its suspension, through the executor); readers sum them.
// - `live` counts workers that have not ended; the one that brings it to 0 closes `exited`.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "asio.hpp"
#include "channel.hpp"
#include "context.hpp"
#include "detail/config.hpp"
#include "future.hpp"
#include "worker_pool.hpp"

WEFT_BEGIN_NAMESPACE

namespace detail {

template <class T>
struct is_awaitable : std::false_type {};
template <class T, class E>
struct is_awaitable<boost::asio::awaitable<T, E>> : std::true_type {};

template <class T>
struct is_use_awaitable : std::false_type {};
template <class E>
struct is_use_awaitable<boost::asio::use_awaitable_t<E>> : std::true_type {};

template <class F>
using co_invoke_t = std::invoke_result_t<std::decay_t<F>>;

// What a submit task's future holds: R, or the T of the awaitable<T> it returns.
template <class F, class T = co_invoke_t<F>>
struct co_result {
    using type = T;
};
template <class F, class T, class E>
struct co_result<F, boost::asio::awaitable<T, E>> {
    using type = T;
};
template <class F>
using co_result_t = typename co_result<F>::type;

// Thrown by a submit task after it stored its exception in its future: the worker counts it as
// failed and reports nothing (the future's reader has the exception).
struct co_task_failed {};

// A submit task's state: the callable and its promise. Dropped without a result (the task was
// canceled, or never accepted and then dropped), it sets task_canceled in the future.
template <class F, class R>
struct co_submit_state {
    F f;
    promise<R> p;

    co_submit_state(F fn, promise<R> pr) : f(std::move(fn)), p(std::move(pr)) {}
    co_submit_state(co_submit_state&&) noexcept = default;
    co_submit_state& operator=(co_submit_state&&) = delete;
    ~co_submit_state() {
        if (!p.is_set()) p.set_exception(std::make_exception_ptr(task_canceled()));
    }
};

}  // namespace detail

// A worker pool of coroutines on an Asio executor. See the file comment.
class co_worker_pool {
public:
    using executor_type = boost::asio::any_io_executor;

    // One unit of work, what the queue holds and stop() hands back: a plain callable (fn) or
    // an awaitable (co), never both. Run it elsewhere with co_await t.run().
    struct task {
        worker_pool::task fn;
        boost::asio::awaitable<void> co;

        explicit operator bool() const noexcept { return static_cast<bool>(fn) || co.valid(); }
        // Takes the task out (it is left empty) and returns an awaitable that runs it once. A
        // post task's exception propagates; a submit task's goes to its future. Taken at the
        // call: the awaitable does not refer to this object, which may be gone when it runs.
        boost::asio::awaitable<void> run() { return run_task(std::move(*this)); }

    private:
        static boost::asio::awaitable<void> run_task(task t) {
            try {
                if (t.fn) {
                    t.fn();
                } else if (t.co.valid()) {
                    co_await std::move(t.co);
                }
            } catch (const detail::co_task_failed&) {}  // the exception is in the future
        }
    };

    // `options.workers` coroutines on `ex`, started now (they run when the executor does), and
    // a queue of `options.queue_capacity`; either 0 throws std::invalid_argument.
    co_worker_pool(executor_type ex, worker_pool_options options = {})
        : s_(std::make_shared<state>(checked(options))) {
        s_->on_error = std::move(options.on_error);
        auto [ctx, cancel] = with_cancel(background());
        s_->stop_ctx = ctx;
        s_->stop_cancel = cancel;
        s_->live.store(options.workers, std::memory_order_relaxed);
        for (std::size_t i = 0; i < options.workers; ++i) {
            try {
                boost::asio::co_spawn(ex, work(s_, i), boost::asio::detached);
            } catch (...) {
                // The workers started drain the closed queue and end; the ones that never
                // started are not waited for.
                (void)s_->queue.close();
                if (s_->live.fetch_sub(options.workers - i, std::memory_order_acq_rel) ==
                    options.workers - i)
                    (void)s_->exited.close();
                throw;
            }
        }
        ex_ = std::move(ex);
    }
    co_worker_pool(executor_type ex, std::size_t workers, std::size_t queue_capacity = 1024)
        : co_worker_pool(std::move(ex), worker_pool_options{workers, queue_capacity, {}}) {}

    co_worker_pool(const co_worker_pool&) = delete;
    co_worker_pool& operator=(const co_worker_pool&) = delete;

    // Closes the queue; the workers drain it and end, without anyone waiting here.
    ~co_worker_pool() { (void)s_->queue.close(); }

    // --- from threads ---

    // Queues f, waiting while the queue is full. Throws pool_closed after shutdown/stop.
    template <class F>
    void post(F&& f) {
        if (!s_->queue.send(make_post(std::forward<F>(f)))) throw pool_closed();
    }
    // Queues f if there is room now: ok, or full / closed (f is not run).
    template <class F>
    [[nodiscard]] op_status try_post(F&& f) {
        return s_->queue.try_send(make_post(std::forward<F>(f))).status;
    }
    // As post(f), giving up when ctx ends: ok, or canceled / closed (f is not run).
    template <class F>
    [[nodiscard]] op_status post(const context& ctx, F&& f) {
        return s_->queue.send(ctx, make_post(std::forward<F>(f))).status;
    }
    // Queues f, waiting while the queue is full; its result or exception goes to the future.
    // Throws pool_closed after shutdown/stop.
    template <class F, class R = detail::co_result_t<F>>
    [[nodiscard]] future<R> submit(F&& f) {
        promise<R> p;
        future<R> fut = p.get_future();
        if (!s_->queue.send(make_submit<R>(std::forward<F>(f), std::move(p)))) throw pool_closed();
        return fut;
    }

    // --- from coroutines (Boost.Asio's universal model) ---

    // Queues f, suspending while the queue is full. Completes with (std::exception_ptr):
    // null, or pool_closed, or Asio's operation_aborted when canceled (f not run).
    template <class F, class Token>
        requires(!detail::is_use_awaitable<std::decay_t<Token>>::value)
    auto async_post(F&& f, Token&& token) {
        return boost::asio::async_initiate<Token, void(std::exception_ptr)>(
            [](auto handler, channel<task> q, task t) {
                send_task(std::move(handler), q, std::move(t),
                          [](auto h, std::exception_ptr e) { std::move(h)(std::move(e)); });
            },
            token, s_->queue, make_post(std::forward<F>(f)));
    }
    // As async_post, with a future of the result: completes with (std::exception_ptr,
    // future<R>), the future valid iff the exception is null.
    template <class F, class Token, class R = detail::co_result_t<F>>
        requires(!detail::is_use_awaitable<std::decay_t<Token>>::value)
    auto async_submit(F&& f, Token&& token) {
        promise<R> p;
        future<R> fut = p.get_future();
        return boost::asio::async_initiate<Token, void(std::exception_ptr, future<R>)>(
            [](auto handler, channel<task> q, task t, future<R> fu) {
                send_task(std::move(handler), q, std::move(t),
                          [fu = std::move(fu)](auto h, std::exception_ptr e) mutable {
                              if (e) fu = future<R>();
                              std::move(h)(std::move(e), std::move(fu));
                          });
            },
            token, s_->queue, make_submit<R>(std::forward<F>(f), std::move(p)), std::move(fut));
    }

    // With use_awaitable, async_post and async_submit are nested coroutines that send at once
    // when the queue has room, without a trip through the executor (a Go send on a buffered
    // channel does not yield either), and suspend in async_send only while it is full. Same
    // results, exceptions thrown as use_awaitable throws them, same cancellation.
    // f is taken by value: the coroutine may start after the caller's expression has ended.
    // The pool must outlive the awaitable.
    template <class F, class Executor>
    boost::asio::awaitable<void, Executor> async_post(F f, boost::asio::use_awaitable_t<Executor>) {
        auto r = s_->queue.try_send(make_post(std::move(f)));
        if (r.status == op_status::full)
            co_await send_now<Executor>(s_->queue, std::move(*r.value));
        else
            throw_unless_sent(r.status);
    }
    template <class F, class Executor, class R = detail::co_result_t<F>>
    boost::asio::awaitable<future<R>, Executor> async_submit(
        F f, boost::asio::use_awaitable_t<Executor>) {
        promise<R> p;
        future<R> fut = p.get_future();
        auto r = s_->queue.try_send(make_submit<R>(std::move(f), std::move(p)));
        if (r.status == op_status::full)
            co_await send_now<Executor>(s_->queue, std::move(*r.value));
        else
            throw_unless_sent(r.status);
        co_return fut;
    }

    // --- ending ---

    // Closes the queue and blocks until every queued task has run and the workers have ended.
    // Never from a thread that runs the pool's executor (see the file comment).
    void shutdown() {
        (void)s_->queue.close();
        (void)s_->exited.receive();
    }
    // Closes the queue; completes with () once every queued task has run and the workers have
    // ended. Canceling the wait leaves the pool draining.
    template <class Token>
    auto async_shutdown(Token&& token) {
        (void)s_->queue.close();
        return boost::asio::async_initiate<Token, void()>(
            [](auto handler, receiver<std::monostate> exited) {
                using handler_type = decltype(handler);
                auto adapt = [](handler_type h, receive_result<std::monostate>) { std::move(h)(); };
                exited.async_receive(detail::adapted_handler<handler_type, decltype(adapt)>(
                    std::move(handler), adapt));
            },
            token, receiver<std::monostate>(s_->exited));
    }

    // Closes the queue, cancels stop_context(), takes out every task that has not started
    // (counted as canceled) and returns them un-run; the running ones go on. Then
    // shutdown()/async_shutdown() waits for them.
    std::vector<task> stop() {
        state& s = *s_;
        // seq_cst: see the load in work().
        s.stopping.store(true, std::memory_order_seq_cst);
        s.stop_cancel();
        (void)s.queue.close();
        std::vector<task> out;
        for (;;) {
            auto r = s.queue.try_receive();
            if (!r) break;
            s.canceled.fetch_add(1, std::memory_order_relaxed);
            out.push_back(std::move(*r));
        }
        std::lock_guard lock(s.aside_mutex);
        for (auto& t : s.aside) out.push_back(std::move(t));
        s.aside.clear();
        return out;
    }

    // Canceled by stop(): long tasks watch it to end early. Never canceled by shutdown.
    const context& stop_context() const noexcept { return s_->stop_ctx; }

    // --- observers ---

    // A snapshot (see worker_pool::stats): exact only when nothing is in flight.
    worker_pool_stats stats() const noexcept {
        const state& s = *s_;
        worker_pool_stats st;
        std::size_t started = 0;
        for (std::size_t i = 0; i < s.workers; ++i) {
            const counters& c = s.counters[i];
            // acquire: pairs with the worker's release stores; completed/failed first, so the
            // started read below is at least their sum.
            st.completed += c.completed.load(std::memory_order_acquire);
            st.failed += c.failed.load(std::memory_order_acquire);
            started += c.started.load(std::memory_order_acquire);
        }
        const std::size_t finished = st.completed + st.failed;
        st.running = started > finished ? started - finished : 0;
        st.canceled = s.canceled.load(std::memory_order_relaxed);
        st.queued = s.queue.size();
        return st;
    }
    // The first exception thrown by a post task (or by on_error), or null.
    std::exception_ptr first_error() const {
        std::lock_guard lock(s_->error_mutex);
        return s_->first_error;
    }
    std::size_t workers() const noexcept { return s_->workers; }
    std::size_t queue_capacity() const noexcept { return s_->queue.capacity(); }
    bool is_closed() const noexcept { return s_->queue.is_closed(); }
    const executor_type& get_executor() const noexcept { return ex_; }

private:
    struct alignas(128) counters {
        std::atomic<std::size_t> started{0};
        std::atomic<std::size_t> completed{0};
        std::atomic<std::size_t> failed{0};
    };

    // What the workers share with the pool, and keep alive after it.
    struct state {
        explicit state(const worker_pool_options& o)
            : queue(o.queue_capacity),
              workers(o.workers),
              counters(new co_worker_pool::counters[o.workers]) {}

        channel<task> queue;
        const std::size_t workers;
        std::unique_ptr<co_worker_pool::counters[]> counters;
        std::function<void(std::exception_ptr)> on_error;
        std::atomic<bool> stopping{false};
        std::atomic<std::size_t> canceled{0};
        std::atomic<std::size_t> live{0};
        channel<std::monostate> exited{0};  // closed when the last worker ends
        context stop_ctx;
        cancel_func stop_cancel;

        mutable std::mutex error_mutex;
        std::exception_ptr first_error;  // guarded by error_mutex

        std::mutex aside_mutex;
        std::vector<task> aside;  // guarded by aside_mutex: taken by workers after stop()

        void report(std::exception_ptr e) noexcept {
            record(e);
            if (!on_error) return;
            try {
                on_error(std::move(e));
            } catch (...) { record(std::current_exception()); }
        }
        void record(const std::exception_ptr& e) noexcept {
            std::lock_guard lock(error_mutex);
            if (!first_error) first_error = e;
        }
        void set_aside(task&& t) noexcept {
            canceled.fetch_add(1, std::memory_order_relaxed);
            try {
                std::lock_guard lock(aside_mutex);
                aside.push_back(std::move(t));
            } catch (...) {}  // out of memory: t is dropped here, which still cancels its future
        }
    };

    static std::size_t bump(std::atomic<std::size_t>& c) noexcept {
        // relaxed load: one writer at a time (see the invariants). release: see stats().
        const std::size_t v = c.load(std::memory_order_relaxed) + 1;
        c.store(v, std::memory_order_release);
        return v;
    }

    static const worker_pool_options& checked(const worker_pool_options& o) {
        if (o.workers == 0) throw std::invalid_argument("weft::co_worker_pool: 0 workers");
        if (o.queue_capacity == 0)
            throw std::invalid_argument("weft::co_worker_pool: queue capacity 0");
        return o;
    }

    static boost::asio::awaitable<void> work(std::shared_ptr<state> sp, std::size_t i) {
        state& s = *sp;
        counters& me = s.counters[i];
        for (;;) {
            // The queue first: a task that is there is taken without a trip through the
            // executor; only an empty queue suspends the worker.
            auto r = s.queue.try_receive();
            if (r.status == op_status::empty)
                r = co_await s.queue.async_receive(boost::asio::use_awaitable);
            if (!r) break;  // closed and drained
            // seq_cst, as stop()'s store: a task taken after the flag was set is set aside.
            if (s.stopping.load(std::memory_order_seq_cst)) {
                s.set_aside(std::move(*r));
                continue;
            }
            bump(me.started);
            bool ok = true;
            try {
                if (r->fn) {
                    r->fn();
                } else {
                    co_await std::move(r->co);
                }
            } catch (const detail::co_task_failed&) { ok = false; } catch (...) {
                ok = false;
                s.report(std::current_exception());
            }
            bump(ok ? me.completed : me.failed);
        }
        // acq_rel: the last worker's close happens after every worker's counts.
        if (s.live.fetch_sub(1, std::memory_order_acq_rel) == 1) (void)s.exited.close();
    }

    // From a coroutine frame: a send that suspends only while the queue is full.
    template <class Executor>
    static boost::asio::awaitable<void, Executor> send_now(const channel<task>& q, task t) {
        auto r = q.try_send(std::move(t));
        if (r.status == op_status::full)
            r = co_await q.async_send(std::move(*r.value),
                                      boost::asio::use_awaitable_t<Executor>());
        throw_unless_sent(r.status);
    }
    static void throw_unless_sent(op_status st) {
        if (st == op_status::closed) throw pool_closed();
        if (st != op_status::ok)
            throw boost::system::system_error(boost::asio::error::operation_aborted);
    }

    // Sends t from a coroutine: at once if there is room (completing later, on the handler's
    // executor, never inside the initiating function), else suspended in async_send.
    // done(handler, exception) completes the operation.
    template <class Handler, class Done>
    static void send_task(Handler handler, const channel<task>& q, task t, Done done) {
        auto r = q.try_send(std::move(t));
        if (r.status != op_status::full) {
            std::exception_ptr e;
            if (!r) e = std::make_exception_ptr(pool_closed());
            return detail::complete_later(
                detail::adapted_handler<Handler, Done>(std::move(handler), std::move(done)),
                std::move(e));
        }
        auto adapt = [done = std::move(done)](Handler h, send_result<task> sr) mutable {
            std::exception_ptr e;
            if (sr.status == op_status::closed) {
                e = std::make_exception_ptr(pool_closed());
            } else if (sr.status != op_status::ok) {
                e = std::make_exception_ptr(
                    boost::system::system_error(boost::asio::error::operation_aborted));
            }
            std::move(done)(std::move(h), std::move(e));  // an unsent task is dropped here
        };
        q.async_send(std::move(*r.value), detail::adapted_handler<Handler, decltype(adapt)>(
                                              std::move(handler), std::move(adapt)));
    }

    template <class F>
    static task make_post(F&& f) {
        using D = std::decay_t<F>;
        if constexpr (std::is_same_v<D, task>) {
            return std::move(f);
        } else if constexpr (detail::is_awaitable<detail::co_invoke_t<F>>::value) {
            task t;
            // A coroutine that owns the callable: the awaitable it returns may refer to it.
            t.co = [](D fn) -> boost::asio::awaitable<void> {
                (void)co_await fn();
            }(std::forward<F>(f));
            return t;
        } else {
            task t;
            t.fn = worker_pool::task(std::forward<F>(f));
            return t;
        }
    }

    template <class R, class F>
    static task make_submit(F&& f, promise<R> p) {
        using D = std::decay_t<F>;
        using st = detail::co_submit_state<D, R>;
        task t;
        if constexpr (detail::is_awaitable<detail::co_invoke_t<F>>::value) {
            t.co = [](st s) -> boost::asio::awaitable<void> {
                std::exception_ptr e;
                try {
                    if constexpr (std::is_void_v<R>) {
                        co_await s.f();
                        s.p.set_value();
                    } else {
                        s.p.set_value(co_await s.f());
                    }
                } catch (...) { e = std::current_exception(); }
                if (e) {
                    s.p.set_exception(std::move(e));
                    throw detail::co_task_failed{};
                }
            }(st(std::forward<F>(f), std::move(p)));
        } else {
            t.fn = worker_pool::task([s = st(std::forward<F>(f), std::move(p))]() mutable {
                try {
                    if constexpr (std::is_void_v<R>) {
                        std::invoke(std::move(s.f));
                        s.p.set_value();
                    } else {
                        s.p.set_value(std::invoke(std::move(s.f)));
                    }
                } catch (...) {
                    s.p.set_exception(std::current_exception());
                    throw detail::co_task_failed{};
                }
            });
        }
        return t;
    }

    std::shared_ptr<state> s_;
    executor_type ex_;
};

WEFT_END_NAMESPACE
