// weft/worker_pool.hpp - a fixed set of worker threads fed by a bounded queue: Go's
// "jobs channel + N goroutines ranging over it", with results, errors and shutdown built in.
//
//     weft::worker_pool pool(4);                        // 4 workers, a queue of 1024 tasks
//     auto sum = pool.submit([] { return 6 * 7; });     // weft::future<int>
//     pool.post([] { log("fire and forget"); });        // no future, no allocation
//     pool.shutdown();                                  // run what is queued, join
//
// @par Semantics
// - Backpressure: the queue holds at most `queue_capacity` tasks. submit/post block while it is
//   full; try_submit/try_post fail with op_status::full; submit(ctx, f)/post(ctx, f) give up
//   with op_status::canceled when ctx ends (a context already canceled wins over a free
//   slot). A call that fails never runs and never loses the callable: it comes back in the
//   result's `task`.
// - Order: tasks leave the queue in FIFO order; one worker runs them in that order, several
//   finish them in any order.
// - Exceptions never kill a worker or the process. A submit task's exception is stored in its
//   future. A post task's exception goes to options.on_error (called on the worker thread) and
//   the first one is kept for first_error(); it counts as failed.
// - shutdown() closes the queue, lets the workers run everything already queued, and joins
//   them. shutdown(ctx) stops waiting when ctx ends (the workers go on draining; call stop() or
//   shutdown() next). The destructor calls shutdown(): it drains and joins, like Go's
//   close(jobs) + wg.Wait(), so no task is silently dropped (Asio's thread_pool destructor
//   instead abandons what is queued: call stop() first for that).
// - stop() closes the queue, cancels stop_context(), takes every task that has not started
//   out of the queue (counted as canceled), waits for the running ones and joins. It returns
//   the canceled tasks, un-run: run them elsewhere (each at most once), post them to another
//   pool, or drop them. A submit task dropped without running sets weft::task_canceled in its
//   future, so every future of a canceled task ends (with that exception) once stop()'s result
//   is gone.
// - After shutdown() or stop() has begun, submit(f)/post(f) throw weft::pool_closed and the
//   try_/context forms return op_status::closed with the callable handed back.
// - Counters (stats()): queued (in the queue), running, completed, failed (threw), canceled
//   (taken out by stop()). Every accepted task is in exactly one of them, so at a quiescent
//   moment queued + running + completed + failed + canceled == tasks accepted. stats() is a
//   snapshot of counters that change concurrently: exact only when nothing is in flight.
//
// @par Deadlocks (the pool cannot detect them)
// - A task that blocks in submit/post on its own pool while the queue is full waits for a
//   worker, and if every worker does the same, for ever. From inside a task use try_post /
//   try_submit, or post(ctx, f), or size the queue for the fan-out.
// - A task that waits on the future of a task queued behind it needs a free worker to run that
//   task: with every worker waiting, nobody runs it.
// - shutdown(), stop() and the destructor wait for the workers, so they cannot be called from
//   one of the pool's own tasks: shutdown() and stop() throw std::logic_error there; the
//   destructor must not run there (it would wait for itself).
//
// @par Thread safety
// Every member function may be called concurrently, except the destructor: the pool must not be
// destroyed while another thread is still calling it. A pool is neither copyable nor movable
// (its workers refer to it by address).
//
// @par Cost (see docs/patterns/worker_pool.md for numbers)
// post() moves a 64-byte task object into a slot of weft::channel's lock-free ring: no
// allocation for a callable of up to 56 bytes (move-only captures are fine), one for a larger
// one. submit() adds a weft::promise/future pair: one channel of capacity 1. Workers keep their
// counters on their own cache lines, so counting costs no shared atomic read-modify-write.
//
// Invariants:
// - Every task taken from queue_ is, exactly once: run (started, then completed or failed), or
//   set aside as canceled (stopping_ was set, or stop() drained it). Nothing else removes
//   tasks, and after the workers are joined the queue is closed and empty.
// - stopping_ is set (before the queue is closed) only by stop(). A worker reads it after each
//   receive, so no task that leaves the queue after stop() has set it is run.
// - Each worker_counters line has one writer, its worker; readers sum them. A worker bumps
//   `started` before and `completed`/`failed` after the task, with release stores; stats()
//   reads completed and failed before started (acquire), so running never comes out negative.
// - join_mutex_ serialises the joins (two threads must not join one std::thread); it is held
//   while waiting for the workers, but no worker ever takes it.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "channel.hpp"
#include "context.hpp"
#include "detail/config.hpp"
#include "future.hpp"
#include "wait_group.hpp"

WEFT_BEGIN_NAMESPACE

// What the future of a submit task holds when stop() canceled the task before it ran.
class task_canceled : public std::runtime_error {
public:
    task_canceled() : std::runtime_error("weft::worker_pool: task canceled before it ran") {}
};

// Thrown by submit(f) and post(f) once shutdown() or stop() has begun; the callable is not run.
class pool_closed : public std::runtime_error {
public:
    pool_closed() : std::runtime_error("weft::worker_pool: closed (shutdown or stop)") {}
};

// The outcome of try_post / post(ctx, f): ok, or full / canceled / closed with the callable
// handed back, not run.
template <class F>
struct post_result {
    op_status status;
    std::optional<F> task;  // engaged iff status != ok

    explicit operator bool() const noexcept { return status == op_status::ok; }
};

// The outcome of try_submit / submit(ctx, f): ok with the future, or full / canceled / closed
// with the callable handed back, not run.
template <class R, class F>
struct submit_result {
    op_status status;
    weft::future<R> future;  // valid() iff status == ok
    std::optional<F> task;   // engaged iff status != ok

    explicit operator bool() const noexcept { return status == op_status::ok; }
};

struct worker_pool_stats {
    std::size_t queued = 0;     // accepted, waiting in the queue
    std::size_t running = 0;    // taken by a worker, not finished
    std::size_t completed = 0;  // returned normally
    std::size_t failed = 0;     // threw (the exception went to the future or to on_error)
    std::size_t canceled = 0;   // taken out of the queue by stop()
};

struct worker_pool_options {
    // Worker threads; at least 1 (0 throws std::invalid_argument).
    std::size_t workers = std::max<std::size_t>(1, std::thread::hardware_concurrency());
    // Tasks the queue holds before submit/post block; at least 1 (0 throws).
    std::size_t queue_capacity = 1024;
    // Called on the worker thread with each exception thrown by a post task; may run
    // concurrently on several workers. An exception it throws is swallowed (and kept for
    // first_error() if none is kept yet). Empty: only first_error() records it.
    std::function<void(std::exception_ptr)> on_error;
};

namespace detail {

template <class F>
concept pool_callable =
    std::move_constructible<std::decay_t<F>> && std::is_constructible_v<std::decay_t<F>, F> &&
    std::is_invocable_v<std::decay_t<F>>;

// A type-erased job's three operations: a table beside the task's buffer, not a vtable inside
// it, so an empty task is a null pointer and a trivially copyable job moves by memcpy, without
// an indirect call, at each of the hand-overs between post() and the worker.
struct pool_job_ops {
    // Runs the job and destroys it. A post job's exception escapes (the job destroyed first); a
    // submit job stores its exception in its future and returns false.
    bool (*invoke)(void* buf);
    // Move-constructs the job from src's buffer into dst's and destroys the source. Null: the
    // job is trivially copyable and stored inline, so a memcpy of the buffer moves it.
    void (*relocate)(void* dst, void* src) noexcept;
    // Destroys a job that never ran; a submit job first sets task_canceled in its future.
    void (*discard)(void* buf) noexcept;
};

template <class F>
struct pool_post_job {
    F f;
    bool run() {
        std::invoke(std::move(f));
        return true;
    }
    void cancel() noexcept {}
};

template <class F, class R>
struct pool_submit_job {
    F f;
    weft::promise<R> promise;

    bool run() noexcept {
        try {
            if constexpr (std::is_void_v<R>) {
                std::invoke(std::move(f));
                promise.set_value();
            } else {
                promise.set_value(std::invoke(std::move(f)));
            }
            return true;
        } catch (...) {
            try {
                promise.set_exception(std::current_exception());
            } catch (...) {}  // not satisfied yet, so it does not throw; keeps run() noexcept
            return false;
        }
    }
    void cancel() noexcept {
        try {
            promise.set_exception(std::make_exception_ptr(task_canceled()));
        } catch (...) {}  // the promise's destructor still ends the future (broken_promise)
    }
};

inline constexpr std::size_t pool_task_inline = 56;

template <class Job>
inline constexpr bool pool_job_inline =
    sizeof(Job) <= pool_task_inline && alignof(Job) <= alignof(void*) &&
    std::is_nothrow_move_constructible_v<Job>;

template <class Job, bool Inline = pool_job_inline<Job>>
struct pool_job_table {
    static Job* get(void* buf) noexcept {
        if constexpr (Inline) {
            return std::launder(static_cast<Job*>(buf));
        } else {
            return *std::launder(static_cast<Job**>(buf));
        }
    }
    static void destroy(Job* j) noexcept {
        if constexpr (Inline) {
            j->~Job();
        } else {
            delete j;
        }
    }
    static bool invoke(void* buf) {
        struct guard {
            Job* j;
            ~guard() { destroy(j); }
        } g{get(buf)};
        return g.j->run();
    }
    static void relocate(void* dst, void* src) noexcept {
        if constexpr (Inline) {
            Job* s = get(src);
            ::new (dst) Job(std::move(*s));
            s->~Job();
        } else {
            ::new (dst) Job*(get(src));
        }
    }
    static void discard(void* buf) noexcept {
        Job* j = get(buf);
        j->cancel();
        destroy(j);
    }
    static constexpr bool trivial = Inline && std::is_trivially_copyable_v<Job>;
    static constexpr pool_job_ops ops{&invoke, trivial ? nullptr : &relocate, &discard};
};

}  // namespace detail

// A fixed set of worker threads fed by a bounded FIFO queue of tasks. See the file comment.
class worker_pool {
public:
    // One unit of work: a move-only, type-erased callable of no arguments, what the queue holds
    // and stop() hands back. A callable of up to 56 bytes (alignment up to a pointer's, noexcept
    // move) is stored inline; a larger one is moved to the heap. sizeof(task) == 64.
    class task {
    public:
        task() noexcept = default;

        // Wraps a callable the way post(f) does: an exception it throws escapes operator().
        template <class F>
            requires(!std::is_same_v<std::remove_cvref_t<F>, task> && detail::pool_callable<F>)
        explicit task(F&& f) {
            emplace<detail::pool_post_job<std::decay_t<F>>>(std::forward<F>(f));
        }

        task(task&& o) noexcept { take(o); }
        task& operator=(task&& o) noexcept {
            if (this != &o) {
                reset();
                take(o);
            }
            return *this;
        }
        // A task dropped without running is canceled: a submit task's future gets
        // weft::task_canceled.
        ~task() { reset(); }

        // False for an empty task (default-constructed, moved from, or already run).
        explicit operator bool() const noexcept { return ops_ != nullptr; }

        // Runs the task once and leaves it empty. A post task's exception propagates; a submit
        // task completes its future (value or exception) and never throws. An empty task
        // throws std::bad_function_call.
        void operator()() {
            if (!ops_) throw std::bad_function_call();
            (void)invoke();
        }

    private:
        friend class worker_pool;

        template <class Job, class... A>
        void emplace(A&&... a) {
            if constexpr (detail::pool_job_inline<Job>) {
                ::new (static_cast<void*>(buf_)) Job{std::forward<A>(a)...};
            } else {
                ::new (static_cast<void*>(buf_)) Job*(new Job{std::forward<A>(a)...});
            }
            ops_ = &detail::pool_job_table<Job>::ops;
        }

        // The job, when this task holds a Job (the caller knows which type it put in).
        template <class Job>
        Job* get() noexcept {
            return detail::pool_job_table<Job>::get(buf_);
        }

        // Pre: not empty. True unless a submit job stored an exception; a post job's escapes.
        bool invoke() { return std::exchange(ops_, nullptr)->invoke(buf_); }

        void take(task& o) noexcept {
            ops_ = std::exchange(o.ops_, nullptr);
            if (!ops_) return;
            if (ops_->relocate) {
                ops_->relocate(buf_, o.buf_);
            } else {
                std::memcpy(buf_, o.buf_, sizeof buf_);
            }
        }

        void reset() noexcept {
            if (auto* ops = std::exchange(ops_, nullptr)) ops->discard(buf_);
        }

        alignas(void*) unsigned char buf_[detail::pool_task_inline];
        const detail::pool_job_ops* ops_ = nullptr;
    };

    // `workers` threads and a queue of `queue_capacity` tasks; either 0 throws
    // std::invalid_argument. If a thread cannot be started, the ones started are joined and
    // the std::system_error propagates.
    explicit worker_pool(worker_pool_options options = {})
        : queue_(checked_capacity(options)),
          counters_(new worker_counters[options.workers]),
          on_error_(std::move(options.on_error)) {
        auto [ctx, cancel] = with_cancel(background());
        stop_ctx_ = ctx;
        stop_cancel_ = cancel;
        threads_.reserve(options.workers);
        try {
            for (std::size_t i = 0; i < options.workers; ++i) {
                exited_.add(1);
                try {
                    threads_.emplace_back([this, i] { work(counters_[i]); });
                } catch (...) {
                    exited_.done();
                    throw;
                }
            }
        } catch (...) {
            (void)queue_.close();
            join();
            throw;
        }
    }

    explicit worker_pool(std::size_t workers, std::size_t queue_capacity = 1024)
        : worker_pool(worker_pool_options{workers, queue_capacity, {}}) {}

    worker_pool(const worker_pool&) = delete;
    worker_pool& operator=(const worker_pool&) = delete;

    // shutdown(): runs what is queued, then joins. Must not run on one of the pool's workers.
    ~worker_pool() {
        (void)queue_.close();
        join();
    }

    // --- post: fire and forget ---

    // Queues f, waiting while the queue is full. Throws pool_closed after shutdown()/stop().
    template <class F>
        requires detail::pool_callable<F>
    void post(F&& f) {
        if (!queue_.send(make_task(std::forward<F>(f)))) throw pool_closed();
    }

    // Queues f if there is room now: ok, or full / closed with f handed back.
    template <class F>
        requires detail::pool_callable<F>
    [[nodiscard]] post_result<std::decay_t<F>> try_post(F&& f) {
        return post_result_of<std::decay_t<F>>(queue_.try_send(make_task(std::forward<F>(f))));
    }

    // As post(f), giving up when ctx ends: ok, or canceled / closed with f handed back.
    template <class F>
        requires detail::pool_callable<F>
    [[nodiscard]] post_result<std::decay_t<F>> post(const context& ctx, F&& f) {
        return post_result_of<std::decay_t<F>>(queue_.send(ctx, make_task(std::forward<F>(f))));
    }

    // --- submit: a future of the result ---

    // Queues f, waiting while the queue is full; the future gets f's result or exception.
    // Throws pool_closed after shutdown()/stop().
    template <class F, class R = std::invoke_result_t<std::decay_t<F>>>
        requires detail::pool_callable<F>
    [[nodiscard]] weft::future<R> submit(F&& f) {
        auto [t, fut] = make_submit<R>(std::forward<F>(f));
        if (!queue_.send(std::move(t))) throw pool_closed();
        return std::move(fut);
    }

    // Queues f if there is room now: ok with the future, or full / closed with f handed back.
    template <class F, class R = std::invoke_result_t<std::decay_t<F>>>
        requires detail::pool_callable<F>
    [[nodiscard]] submit_result<R, std::decay_t<F>> try_submit(F&& f) {
        auto [t, fut] = make_submit<R>(std::forward<F>(f));
        return submit_result_of<R, std::decay_t<F>>(queue_.try_send(std::move(t)), fut);
    }

    // As submit(f), giving up when ctx ends: ok with the future, or canceled / closed with f
    // handed back.
    template <class F, class R = std::invoke_result_t<std::decay_t<F>>>
        requires detail::pool_callable<F>
    [[nodiscard]] submit_result<R, std::decay_t<F>> submit(const context& ctx, F&& f) {
        auto [t, fut] = make_submit<R>(std::forward<F>(f));
        return submit_result_of<R, std::decay_t<F>>(queue_.send(ctx, std::move(t)), fut);
    }

    // --- ending ---

    // Closes the queue, waits until every queued task has run, joins the workers. Idempotent;
    // concurrent calls all return once the workers are joined. Throws std::logic_error when
    // called from one of the pool's tasks.
    void shutdown() {
        refuse_from_worker("shutdown");
        (void)queue_.close();
        join();
    }

    // As shutdown(), but stops waiting when ctx ends: {} once the workers are joined,
    // ctx.err() otherwise (the queue stays closed and the workers keep draining it).
    [[nodiscard]] std::error_code shutdown(const context& ctx) {
        refuse_from_worker("shutdown");
        (void)queue_.close();
        if (auto e = exited_.wait(ctx)) return e;
        join();
        return {};
    }

    // Closes the queue, cancels stop_context(), takes out every task that has not started
    // (counted as canceled), waits for the running ones and joins the workers. Returns the
    // canceled tasks, un-run, in no particular order; dropping a submit task sets
    // weft::task_canceled in its future. Overrides a shutdown() in progress. Throws
    // std::logic_error when called from one of the pool's tasks.
    std::vector<task> stop() {
        refuse_from_worker("stop");
        // seq_cst: see the load in work().
        stopping_.store(true, std::memory_order_seq_cst);
        stop_cancel_();
        (void)queue_.close();
        std::vector<task> out;
        for (;;) {
            auto r = queue_.try_receive();
            if (!r) break;  // closed and drained (workers may have taken the last ones)
            canceled_.fetch_add(1, std::memory_order_relaxed);
            out.push_back(std::move(*r));
        }
        join();
        std::lock_guard lock(aside_mutex_);
        for (auto& t : aside_) out.push_back(std::move(t));
        aside_.clear();
        return out;
    }

    // Canceled by stop(): long tasks can watch it (select on done(), pass it to blocking
    // calls) to end early. Never canceled by shutdown().
    const context& stop_context() const noexcept { return stop_ctx_; }

    // --- observers ---

    // A snapshot; see the file comment.
    worker_pool_stats stats() const noexcept {
        worker_pool_stats s;
        std::size_t started = 0;
        for (std::size_t i = 0; i < threads_.size(); ++i) {
            const worker_counters& c = counters_[i];
            // acquire: pairs with the worker's release stores; completed/failed first, so the
            // started read below is at least their sum (see the invariants).
            s.completed += c.completed.load(std::memory_order_acquire);
            s.failed += c.failed.load(std::memory_order_acquire);
            started += c.started.load(std::memory_order_acquire);
        }
        const std::size_t finished = s.completed + s.failed;
        s.running = started > finished ? started - finished : 0;
        s.canceled = canceled_.load(std::memory_order_relaxed);
        s.queued = queue_.size();
        return s;
    }

    // The first exception thrown by a post task (or by on_error), or null.
    std::exception_ptr first_error() const {
        std::lock_guard lock(error_mutex_);
        return first_error_;
    }

    std::size_t workers() const noexcept { return threads_.size(); }
    std::size_t queue_capacity() const noexcept { return queue_.capacity(); }
    // True once shutdown() or stop() has begun (a snapshot).
    bool is_closed() const noexcept { return queue_.is_closed(); }

private:
    // One worker's counters, alone on their cache lines (two, for the adjacent-line
    // prefetcher): the worker is the only writer, so a bump is a load and a store.
    struct alignas(128) worker_counters {
        std::atomic<std::size_t> started{0};
        std::atomic<std::size_t> completed{0};
        std::atomic<std::size_t> failed{0};
    };

    static void bump(std::atomic<std::size_t>& c) noexcept {
        // relaxed load: this thread is the only writer. release: see stats().
        c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    }

    static std::size_t checked_capacity(const worker_pool_options& o) {
        if (o.workers == 0) throw std::invalid_argument("weft::worker_pool: 0 workers");
        if (o.queue_capacity == 0)
            throw std::invalid_argument("weft::worker_pool: queue capacity 0");
        return o.queue_capacity;
    }

    void work(worker_counters& me) noexcept {
        current_ = this;
        while (auto t = queue_.receive()) {
            // seq_cst, as stop()'s store and the queue's own head/tail updates are: a task taken
            // from the queue after the flag was set (in that single order) sees it, and is set
            // aside instead of run.
            if (stopping_.load(std::memory_order_seq_cst)) {
                set_aside(std::move(*t));
                continue;
            }
            bump(me.started);
            bool ok;
            try {
                ok = t->invoke();
            } catch (...) {
                ok = false;
                report(std::current_exception());
            }
            bump(ok ? me.completed : me.failed);
        }
        current_ = nullptr;
        exited_.done();
    }

    void set_aside(task&& t) noexcept {
        canceled_.fetch_add(1, std::memory_order_relaxed);
        try {
            std::lock_guard lock(aside_mutex_);
            aside_.push_back(std::move(t));
        } catch (...) {}  // out of memory: t is dropped here, which still cancels its future
    }

    void report(std::exception_ptr e) noexcept {
        record(e);
        if (!on_error_) return;
        try {
            on_error_(std::move(e));
        } catch (...) { record(std::current_exception()); }
    }

    void record(const std::exception_ptr& e) noexcept {
        std::lock_guard lock(error_mutex_);
        if (!first_error_) first_error_ = e;
    }

    void refuse_from_worker(const char* what) const {
        if (current_ == this)
            throw std::logic_error(std::string("weft::worker_pool: ") + what +
                                   "() called from one of the pool's own tasks would wait for "
                                   "itself");
    }

    void join() {
        std::lock_guard lock(join_mutex_);
        for (auto& t : threads_)
            if (t.joinable()) t.join();
    }

    template <class F>
    static task make_task(F&& f) {
        if constexpr (std::is_same_v<std::remove_cvref_t<F>, task>) {
            return std::move(f);
        } else {
            return task(std::forward<F>(f));
        }
    }

    template <class R, class F>
    static std::pair<task, weft::future<R>> make_submit(F&& f) {
        using job = detail::pool_submit_job<std::decay_t<F>, R>;
        weft::promise<R> p;
        weft::future<R> fut = p.get_future();
        task t;
        t.emplace<job>(std::forward<F>(f), std::move(p));
        return {std::move(t), std::move(fut)};
    }

    // The callable back out of a job that was not accepted (the caller knows its job type).
    template <class Job, class F>
    static std::optional<F> unwrap(std::optional<task>& t) {
        std::optional<F> f(std::move(t->template get<Job>()->f));
        t.reset();
        return f;
    }

    template <class F>
    static post_result<F> post_result_of(send_result<task> r) {
        if (r) return {op_status::ok, std::nullopt};
        // A posted task goes into the queue as it is (make_task); anything else is wrapped.
        if constexpr (std::is_same_v<F, task>) {
            return {r.status, std::move(r.value)};
        } else {
            return {r.status, unwrap<detail::pool_post_job<F>, F>(r.value)};
        }
    }

    // A submitted callable is always wrapped with its promise, a task too: unwrap it, or the
    // caller would get back a wrapper whose result (and exception) goes to a dropped future.
    template <class R, class F>
    static submit_result<R, F> submit_result_of(send_result<task> r, weft::future<R>& fut) {
        if (r) return {op_status::ok, std::move(fut), std::nullopt};
        return {r.status, weft::future<R>(), unwrap<detail::pool_submit_job<F, R>, F>(r.value)};
    }

    static inline thread_local const worker_pool* current_ = nullptr;

    channel<task> queue_;
    std::unique_ptr<worker_counters[]> counters_;
    std::function<void(std::exception_ptr)> on_error_;
    std::atomic<bool> stopping_{false};
    std::atomic<std::size_t> canceled_{0};
    context stop_ctx_;
    cancel_func stop_cancel_;
    wait_group exited_;  // one count per worker thread still in work()

    mutable std::mutex error_mutex_;
    std::exception_ptr first_error_;  // guarded by error_mutex_

    std::mutex aside_mutex_;
    std::vector<task> aside_;  // guarded by aside_mutex_: tasks workers received after stop()

    std::mutex join_mutex_;
    std::vector<std::thread> threads_;  // filled by the constructor, then only joined
};

WEFT_END_NAMESPACE
