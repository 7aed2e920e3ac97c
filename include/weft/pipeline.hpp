// weft/pipeline.hpp - Go's pipeline pattern as one expression: stages on their own threads,
// joined by bounded channels, under one context.
//
//     using namespace weft::stage;  // or write weft::stage::map etc.
//     auto p = weft::pipeline(ctx)
//            | source(lines)                // a range, a generator or a receiver
//            | map(parse, 4, ordered)       // 4 threads, output in input order
//            | filter(valid)
//            | batch(100, 50ms)             // vectors of <= 100, the oldest waits <= 50ms
//            | sink(write);
//     weft::pipeline_result r = p.run();  // every thread joined; r.error, r.failed_stage, r.stages
//
// Stages: source (first), map, filter, batch, tap, and sink (last). A pipeline without a sink
// is started with start(); its output is then a weft::receiver the caller reads while the
// pipeline keeps owning, and finally joining, its threads.
//
// @par Semantics
// - Threads. Each stage runs on threads of its own: one for source, batch and tap, `workers`
//   for map, filter and sink. They are the tasks of an error_group owned by the pipeline, so
//   run() / wait() (or the destructor) join them: when those return, no thread of the pipeline
//   is left, not even one still destroying its locals.
// - Blocking. A stage sends on a channel of `capacity` values (pipeline_options::capacity,
//   default 256; per stage `.capacity(n)`, 0 = rendezvous; a batch stage's default is that
//   divided by the batch size, at least 2), so a slow stage makes the stages before it wait
//   (backpressure) and memory stays bounded. Bigger channels cost memory and save time: a
//   thread that must sleep and be woken costs microseconds, which a full or empty channel
//   makes it pay every `capacity` values (see docs/patterns/pipeline.md, Cost).
// - Closing. When the source ends (range exhausted, generator returned nullopt, receiver
//   closed) it closes its channel; every stage finishes what its input still holds, then its
//   last thread closes its output. batch emits its partial batch at the end of its input.
// - Cancellation. The pipeline runs under a child of the given context. The first exception
//   thrown by a stage (by a user function, by the source's range, or by the machinery, e.g.
//   bad_alloc) cancels that child with the exception as the cause. Every wait of every stage
//   also waits on the child's done(), so every stage stops: the value a stage held is dropped,
//   nothing more is produced. Canceling the parent context (or its deadline) stops the
//   pipeline the same way. run() then reports the exception and the stage (index and name),
//   or, for a cancellation from outside, the context's cause. Exceptions thrown after the
//   pipeline began to stop are consequences of the stop and are not reported.
// - Ordering. Single-threaded stages keep the order they receive. map / filter with
//   workers > 1 emit in completion order, unless `weft::ordered`: then a worker takes one of
//   `window` tokens, receives a value and numbers it (one step, under a mutex), and puts its
//   result in a ring of `window` slots; whichever worker completes the next number emits the
//   run of results that are ready, and gives their tokens back. So at most `window` values are
//   inside the stage at once (being worked on, or waiting in the ring for an earlier one): a
//   slow value makes the input wait instead of making memory grow.
// - Accounting. stage_stats counts per stage the values received (in), passed on (out),
//   rejected by a filter (filtered), dropped because the pipeline stopped (dropped: held by
//   the stage, or inside it, when it stopped), and left in its input channel when everything
//   had stopped (stranded: run() takes them out and destroys them). For every stage
//   in == out + filtered + dropped, and for every channel, what the upstream stage sent equals
//   what the downstream one received plus what was stranded (pipeline_result::conserved()).
//   After a successful run, dropped and stranded are 0.
//
// @par Functions
// A stage function gets the value (map: T&&, filter and tap: const T&, sink: T&&), or the
// pipeline's context and the value: f(const weft::context&, T&&) - so a slow call can stop
// when the pipeline stops. A function run by several workers is called concurrently; a mutable
// lambda's state is shared by them. Functions are moved into the pipeline.
//
// @par Lifetime and thread safety
// An lvalue range given to source() is referenced, not copied: it must outlive the run, and
// its values are copied; an rvalue range is moved into the pipeline and its values are moved
// out (needed for move-only values). Values must be nothrow move constructible (channels need
// it; wrap others in std::unique_ptr). A pipeline runs once. A pipeline or pipeline_run object
// is used by one thread at a time; destroying a running one cancels it and joins its threads.
//
// Built only from weft's public parts (channel, select, time, context, error_group) and the
// standard library. This header holds the pipeline itself (pipeline_start, pipeline_of,
// pipeline_run, operator|); the rest is in weft/pipeline/, each header compiling on its own:
//   stage.hpp          public: the weft::stage:: factories and the specs they return
//   stage_threads.hpp  internal: what each stage runs on its threads (its invariants there)
//   emitter.hpp        public: weft::emitter<T>, for source<T>(f)
//   runtime.hpp        internal: the context, first failure and threads of one run
//   result.hpp         public: pipeline_options, ordering, stage_stats, pipeline_result
// Each includes only headers below it in this list, and primitives; none includes this one.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "channel.hpp"
#include "context.hpp"
#include "detail/config.hpp"
#include "pipeline/emitter.hpp"
#include "pipeline/result.hpp"
#include "pipeline/runtime.hpp"
#include "pipeline/stage.hpp"
#include "pipeline/stage_threads.hpp"

WEFT_BEGIN_NAMESPACE

template <class T>
class pipeline_of;
template <class T>
class pipeline_run;
class pipeline_start;

// The start of a pipeline: the context it runs under and its options. Follow it with
// `| weft::stage::source(...)`.
class pipeline_start {
public:
    pipeline_start(const context& ctx, pipeline_options options) noexcept
        : ctx_(ctx), options_(options) {}

private:
    context ctx_;
    pipeline_options options_;
    friend struct detail::pipe::access;
};

// `weft::pipeline(ctx) | weft::stage::source(...) | ...`: ctx is the parent of the pipeline's
// context.
inline pipeline_start pipeline(const context& ctx = background(), pipeline_options options = {}) {
    return pipeline_start(ctx, options);
}

// A running pipeline (from start()). T: the type of its output values, void if it ends in a
// sink. The destructor cancels a pipeline that is still running and joins its threads.
template <class T>
class [[nodiscard]] pipeline_run {
public:
    pipeline_run(pipeline_run&&) noexcept = default;
    pipeline_run& operator=(pipeline_run&&) = delete;
    ~pipeline_run() = default;  // ~state cancels and joins if wait() was not called

    // The last stage's output; closed once the pipeline has ended. Read it to its end (or call
    // cancel()) before wait(): a stage blocked on a full output never ends by itself.
    receiver<T> output() const
        requires(!std::is_void_v<T>)
    {
        return out_;
    }

    // Joins every thread and reports. Throws std::logic_error if called twice.
    pipeline_result wait() {
        if (!s_ || s_->finished) throw std::logic_error("weft::pipeline_run: wait() called twice");
        return s_->finish();
    }

    // Stops the pipeline (as a cancellation of its context); wait() still has to be called.
    void cancel() noexcept {
        if (s_) s_->rt.cancel();
    }

private:
    using out_t = std::conditional_t<std::is_void_v<T>, std::monostate, channel<T>>;
    pipeline_run(std::unique_ptr<detail::pipe::state> s, out_t out) noexcept
        : s_(std::move(s)), out_(std::move(out)) {}

    std::unique_ptr<detail::pipe::state> s_;
    out_t out_;
    friend class pipeline_of<T>;
};

// A pipeline whose last stage outputs T (void: it ends in a sink). Built with operator|, run
// once with run() (T void) or start(). Movable, not copyable.
template <class T>
class [[nodiscard]] pipeline_of {
public:
    using value_type = T;

    pipeline_of(pipeline_of&&) noexcept = default;
    pipeline_of& operator=(pipeline_of&&) noexcept = default;

    // Runs the pipeline to its end and joins every thread.
    pipeline_result run() {
        static_assert(
            std::is_void_v<T>,
            "weft::pipeline: run() needs a pipeline that ends in weft::stage::sink(f); for a "
            "pipeline whose output you read, call start() and read output()");
        return start().wait();
    }

    // Starts the threads and hands the pipeline over to the returned object.
    pipeline_run<T> start() {
        if (!s_ || s_->started) throw std::logic_error("weft::pipeline: a pipeline runs once");
        s_->start();
        return pipeline_run<T>(std::move(s_), std::move(tail_));
    }

    // Number of stages, the source included.
    std::size_t size() const noexcept { return s_ ? s_->stages.size() : 0; }

private:
    using out_t = std::conditional_t<std::is_void_v<T>, std::monostate, channel<T>>;
    pipeline_of(std::unique_ptr<detail::pipe::state> s, out_t tail) noexcept
        : s_(std::move(s)), tail_(std::move(tail)) {}

    std::unique_ptr<detail::pipe::state> s_;
    out_t tail_;  // the output channel of the last stage
    friend struct detail::pipe::access;
};

namespace detail::pipe {

struct access {
    template <class T, class G>
    static pipeline_of<T> attach(const pipeline_start& p, source_spec<T, G>&& s) {
        auto st = std::make_unique<state>(p.ctx_, p.options_);
        channel<T> out(st->capacity(s.capacity_));
        st->stages.push_back(
            std::make_unique<source_stage<T, G>>(std::move(s.name_), std::move(s.gen_), out));
        return pipeline_of<T>(std::move(st), std::move(out));
    }

    // Appends a stage; `out` becomes the pipeline's output (nothing for a sink).
    template <class U, class Stage, class T, class... A>
    static pipeline_of<U> add(pipeline_of<T>&& p, typename pipeline_of<U>::out_t out, A&&... a) {
        std::unique_ptr<state> st = std::move(p.s_);
        if (!st) throw std::logic_error("weft::pipeline: stage added to a moved-from pipeline");
        st->stages.push_back(std::make_unique<Stage>(std::forward<A>(a)...));
        return pipeline_of<U>(std::move(st), std::move(out));
    }

    template <class T, class F>
    static auto attach(pipeline_of<T>&& p, map_spec<F>&& s) {
        constexpr bool ok = callable<F, T&&>;
        static_assert(
            ok,
            "weft::stage::map: the function cannot be called with the values of the previous "
            "stage (it is called as f(T&&) or f(const weft::context&, T&&), T being the "
            "previous stage's output type)");
        if constexpr (ok) {
            using U = call_result_t<F, T&&>;
            static_assert(
                !std::is_void_v<U>,
                "weft::stage::map: the function returns void; use weft::stage::tap(f) for a side "
                "effect, or weft::stage::sink(f) to end the pipeline");
            static_assert(
                std::is_void_v<U> || item_ok<U>,
                "weft::stage::map: the function's result must be a nothrow move constructible "
                "object (wrap it in std::unique_ptr)");
            if constexpr (!std::is_void_v<U> && item_ok<U>) {
                return add_workers<kind::map, T, U>(std::move(p), std::move(s));
            }
        }
    }

    template <class T, class F>
    static auto attach(pipeline_of<T>&& p, filter_spec<F>&& s) {
        constexpr bool ok = callable<F, const T&>;
        static_assert(ok,
                      "weft::stage::filter: the predicate cannot be called with the values of the "
                      "previous stage (it is called as f(const T&) or f(const weft::context&, "
                      "const T&))");
        if constexpr (ok) {
            static_assert(
                std::is_constructible_v<bool, call_result_t<F, const T&>>,
                "weft::stage::filter: the predicate must return something that converts to "
                "bool (true: keep the value)");
            return add_workers<kind::filter, T, T>(std::move(p), std::move(s));
        }
    }

    // map and filter: n workers in completion order, or in input order within a window.
    template <kind K, class T, class U, class F, class Kind>
    static auto add_workers(pipeline_of<T>&& p, worker_spec<F, Kind>&& s) {
        auto& st = *p.s_;
        const std::size_t index = st.next_index();
        channel<U> out(st.capacity(s.capacity_));
        if (s.order_ == ordering::ordered && s.workers_ > 1) {
            const std::size_t window =
                s.window_.value_or(std::max(st.capacity(s.capacity_), 2 * s.workers_));
            return add<U, ordered_stage<K, T, U, F>>(std::move(p), out, std::move(s.name_), index,
                                                     s.workers_, window, std::move(s.f_), p.tail_,
                                                     out);
        }
        return add<U, worker_stage<K, T, U, F>>(std::move(p), out, std::move(s.name_), index,
                                                s.workers_, std::move(s.f_), p.tail_, out);
    }

    template <class T, class F>
    static auto attach(pipeline_of<T>&& p, tap_spec<F>&& s) {
        constexpr bool ok = callable<F, const T&>;
        static_assert(
            ok,
            "weft::stage::tap: the function cannot be called with the values of the previous "
            "stage (it is called as f(const T&) or f(const weft::context&, const T&))");
        if constexpr (ok) {
            auto& st = *p.s_;
            const std::size_t index = st.next_index();
            channel<T> out(st.capacity(s.capacity_));
            return add<T, worker_stage<kind::tap, T, T, F>>(std::move(p), out, std::move(s.name_),
                                                            index, std::size_t{1}, std::move(s.f_),
                                                            p.tail_, out);
        }
    }

    template <class T, class F>
    static auto attach(pipeline_of<T>&& p, sink_spec<F>&& s) {
        constexpr bool ok = callable<F, T&&>;
        static_assert(
            ok,
            "weft::stage::sink: the function cannot be called with the values of the previous "
            "stage (it is called as f(T&&) or f(const weft::context&, T&&))");
        if constexpr (ok) {
            auto& st = *p.s_;
            const std::size_t index = st.next_index();
            return add<void, worker_stage<kind::sink, T, std::monostate, F>>(
                std::move(p), std::monostate{}, std::move(s.name_), index, s.workers_,
                std::move(s.f_), p.tail_, channel<std::monostate>());
        }
    }

    template <class T>
    static auto attach(pipeline_of<T>&& p, batch_spec&& s) {
        auto& st = *p.s_;
        const std::size_t index = st.next_index();
        const std::size_t cap =
            s.capacity_.value_or(std::max<std::size_t>(st.options.capacity / s.size_, 2));
        channel<std::vector<T>> out(cap);
        return add<std::vector<T>, batch_stage<T>>(std::move(p), out, std::move(s.name_), index,
                                                   s.size_, s.max_wait_, p.tail_, out);
    }
};

}  // namespace detail::pipe

// --- Composition ---

template <class S>
auto operator|(const pipeline_start& p, S&& stage) {
    using D = std::remove_cvref_t<S>;
    static_assert(detail::pipe::is_source<D>::value,
                  "weft::pipeline: a pipeline starts with weft::stage::source(...)");
    static_assert(!std::is_lvalue_reference_v<S>,
                  "weft::pipeline: pass the stage as an rvalue (std::move(stage))");
    if constexpr (detail::pipe::is_source<D>::value && !std::is_lvalue_reference_v<S>)
        return detail::pipe::access::attach(p, std::move(stage));
}

template <class T, class S>
auto operator|(pipeline_of<T>&& p, S&& stage) {
    using D = std::remove_cvref_t<S>;
    static_assert(detail::pipe::is_spec<D>::value,
                  "weft::pipeline: only stages (weft::stage::map, filter, batch, tap, sink) can be "
                  "added with |");
    static_assert(!detail::pipe::is_source<D>::value,
                  "weft::pipeline: a pipeline has one source, and it comes first");
    static_assert(!std::is_void_v<T>,
                  "weft::pipeline: this pipeline already ends in a sink; nothing can follow it");
    static_assert(!std::is_lvalue_reference_v<S>,
                  "weft::pipeline: pass the stage as an rvalue (std::move(stage))");
    if constexpr (detail::pipe::is_spec<D>::value && !detail::pipe::is_source<D>::value &&
                  !std::is_void_v<T> && !std::is_lvalue_reference_v<S>)
        return detail::pipe::access::attach(std::move(p), std::move(stage));
}

template <class T, class S>
auto operator|(pipeline_of<T>&, S&&) {
    static_assert(detail::pipe::always_false<S>,
                  "weft::pipeline: a pipeline is moved into the next one: write std::move(p) | "
                  "stage");
}

WEFT_END_NAMESPACE
