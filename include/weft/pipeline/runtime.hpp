// weft/pipeline/runtime.hpp - the machinery one run of a pipeline shares: its context, its
// first failure and its threads (runtime), what a stage counts, and the stage base class.
// Internal to <weft/pipeline.hpp> (namespace weft::detail::pipe): not an API.
//
// Built only from weft's public parts (channel, context, error_group). Invariants:
// - Each thread counts into locals and adds them to its stage's atomics when it exits; run()
//   reads them after joining, which orders every add before the read.
// - Nobody is woken under the one lock (runtime::mutex_): fail() cancels after unlocking.
// - The fast path of every hand-off is a try_send / try_receive plus one load of the context's
//   state (what channel's send(ctx, v) and receive(ctx) do); only a hand-off that must wait
//   becomes a select with the context's done().
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "../channel.hpp"
#include "../context.hpp"
#include "../detail/config.hpp"
#include "../error_group.hpp"
#include "result.hpp"

WEFT_BEGIN_NAMESPACE

namespace detail::pipe {

template <class>
inline constexpr bool always_false = false;

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

// A stage function is called as f(ctx, v) when it takes the context, else as f(v).
template <class F, class A>
concept callable = requires { typename invoke_with_context_result_t<F&, A>; };
template <class F, class A>
using call_result_t = std::remove_cvref_t<invoke_with_context_result_t<F&, A>>;

template <class T>
inline constexpr bool item_ok =
    std::is_nothrow_move_constructible_v<T> && !std::is_void_v<T> && std::is_object_v<T>;

// Cancellation, the first failure and the threads, shared by all stages of one run. The
// threads are tasks of an error_group, which joins them all in wait() (and in its destructor).
class runtime {
    // Declared first: initialised before the public members that are made from them.
    cancelable<cancel_cause_func> outer_;  // a child of the parent: cancel() and failures
    error_group group_;                    // its context is the pipeline's

public:
    explicit runtime(const context& parent)
        : outer_(with_cancel_cause(parent)),
          group_(outer_.ctx),
          ctx(group_.context()),
          done(ctx.done()) {}
    runtime(const runtime&) = delete;
    runtime& operator=(const runtime&) = delete;

    const context ctx;                    // the pipeline's own context
    const receiver<std::monostate> done;  // ctx.done(), taken once (a call copies a shared_ptr)

    // One load: the cancellation state is written once and only read afterwards.
    bool stopping() const noexcept { return static_cast<bool>(ctx.err()); }

    // Stage `stage` failed with `e`. The first failure, unless the pipeline was already stopping
    // (then `e` is a consequence of the stop, not its cause), is kept and cancels the pipeline
    // at once - before the failing thread closes anything, so a stage that then sees its input
    // closed also sees the cancellation. Returns whether `e` was kept: the thread then returns
    // it to the group as its error (the group's first error is then always this one).
    bool fail(std::size_t stage, const std::exception_ptr& e) noexcept {
        {
            std::lock_guard lock(mutex_);
            if (error_ || stopping()) return false;
            error_ = e;
            failed_ = stage;
        }
        outer_.cancel(e);  // after unlocking: canceling wakes every blocked stage
        return true;
    }
    void cancel() noexcept { outer_.cancel(nullptr); }

    // A thread stopped before its input ended (cancellation or failure).
    void interrupted() noexcept { interrupted_.store(true, std::memory_order_relaxed); }

    template <class F>
    void spawn(F f) {
        group_.go(std::move(f));
    }
    void join() { (void)group_.wait(); }  // the error is error_, already kept by fail()

    // After join() (the joins order the threads' writes before these reads).
    void report(pipeline_result& r) {
        {
            std::lock_guard lock(mutex_);
            r.error = error_;
            r.failed_stage = failed_;
        }
        if (!r.error && interrupted_.load(std::memory_order_relaxed)) {
            r.error = cause(ctx);  // a thread stops early only once ctx is canceled
            if (!r.error) r.error = std::make_exception_ptr(context_error(context_errc::canceled));
        }
        outer_.cancel(nullptr);  // Go's `defer cancel()`: the child leaves its parent now
    }

private:
    std::mutex mutex_;
    std::exception_ptr error_;           // guarded by mutex_
    std::optional<std::size_t> failed_;  // guarded by mutex_
    std::atomic<bool> interrupted_{false};
};

// What one thread counted; added to its stage when the thread exits.
struct counters {
    std::uint64_t in = 0, out = 0, filtered = 0, sent = 0;
    bool ended = false;  // its input ended and all it held was passed on (not interrupted)
};

// The next value of `in`, or nothing when it is closed and drained (c.ended is then set) or
// when the pipeline is stopping. A stage that failed or was canceled cancels before its
// output is closed, so "closed" is believed only if the pipeline is not stopping: a truncated
// input must not pass for a complete one.
template <class H>
std::optional<channel_value_t<H>> receive(H& in, const runtime& rt, counters& c) {
    auto r = in.receive(rt.ctx);
    if (r.status == op_status::closed && !rt.stopping()) c.ended = true;
    return std::move(r.value);
}

template <class T>
std::uint64_t drain(channel<T>& ch) {
    std::uint64_t n = 0;
    while (ch.try_receive()) ++n;
    return n;
}

// One stage of a pipeline: its threads, its channels, its counters.
class stage_base {
public:
    stage_base(std::string name, std::size_t index, std::size_t workers)
        : name_(std::move(name)), index_(index), workers_(workers) {}
    stage_base(const stage_base&) = delete;
    stage_base& operator=(const stage_base&) = delete;
    virtual ~stage_base() = default;

    // Starts the stage's threads; each captures `this` and `rt`, which outlive them.
    virtual void start(runtime& rt) = 0;
    // After every thread of the pipeline is joined: takes out what is left in the stage's
    // input (stranded) and inside the stage (dropped), so nothing stays behind unaccounted.
    virtual void settle() {}

    stage_stats stats() const {
        stage_stats s;
        s.name = name_;
        s.index = index_;
        s.workers = workers_;
        s.in = in_.load(std::memory_order_relaxed);
        s.out = out_.load(std::memory_order_relaxed);
        s.filtered = filtered_.load(std::memory_order_relaxed);
        s.sent = sent_.load(std::memory_order_relaxed);
        s.stranded = stranded_;
        s.max_reordered = max_reordered_;
        // Whatever was received and neither passed on nor filtered was dropped.
        s.dropped = s.in - s.out - s.filtered;
        return s;
    }

protected:
    // A thread is done: add its counts (relaxed: run() reads them after joining the thread).
    void record(runtime& rt, const counters& c) noexcept {
        in_.fetch_add(c.in, std::memory_order_relaxed);
        out_.fetch_add(c.out, std::memory_order_relaxed);
        filtered_.fetch_add(c.filtered, std::memory_order_relaxed);
        sent_.fetch_add(c.sent, std::memory_order_relaxed);
        if (!c.ended) rt.interrupted();
    }
    // In a catch block: the exception, if it is the pipeline's failure (see runtime::fail).
    std::exception_ptr failed(runtime& rt) noexcept {
        std::exception_ptr e = std::current_exception();
        return rt.fail(index_, e) ? e : nullptr;
    }
    // One thread's life in a stage: run body(c), turn an escaping exception into the
    // pipeline's failure, and record the thread's counts. Returns the failure it reports.
    template <class Body>
    std::exception_ptr guarded(runtime& rt, Body&& body) noexcept {
        counters c;
        std::exception_ptr err;
        try {
            body(c);
        } catch (...) {
            c.ended = false;
            err = failed(rt);
        }
        record(rt, c);
        return err;
    }

    std::string name_;
    std::size_t index_;
    std::size_t workers_;
    std::uint64_t stranded_ = 0;     // written by settle(), after the joins
    std::size_t max_reordered_ = 0;  // written by settle()

private:
    std::atomic<std::uint64_t> in_{0}, out_{0}, filtered_{0}, sent_{0};
};

// The part of a pipeline that is built before it runs, and runs once.
struct state {
    state(const context& parent, pipeline_options o) : rt(parent), options(o) {}

    runtime rt;
    pipeline_options options;
    std::vector<std::unique_ptr<stage_base>> stages;
    bool started = false;
    bool finished = false;

    void start() {
        started = true;
        std::size_t i = 0;
        try {
            for (; i < stages.size(); ++i) stages[i]->start(rt);
        } catch (...) {
            // A thread could not be started: the ones that run see the cancellation.
            (void)rt.fail(i, std::current_exception());
        }
    }

    pipeline_result finish() {
        rt.join();
        finished = true;
        pipeline_result r;
        for (auto& s : stages) {
            s->settle();
            r.stages.push_back(s->stats());
        }
        rt.report(r);
        return r;
    }

    // A running pipeline that nobody waits for: stop it, and join before the stages go.
    ~state() {
        if (started && !finished) {
            rt.cancel();
            rt.join();
        }
    }

    std::size_t next_index() const noexcept { return stages.size(); }
    std::size_t capacity(const std::optional<std::size_t>& own) const noexcept {
        return own.value_or(options.capacity);
    }
};

}  // namespace detail::pipe

WEFT_END_NAMESPACE
