// weft/pipeline.hpp - Go's pipeline pattern as one expression: stages on their own threads,
// joined by bounded channels, under one context.
//
//     auto p = weft::pipeline(ctx)
//            | weft::stage::source(lines)                      // a range, a generator or a
//            receiver | weft::stage::map(parse, 4, weft::stage::ordered)       // 4 threads, output
//            in input order | weft::stage::filter(valid) | weft::stage::batch(100, 50ms) // vectors
//            of <= 100, oldest waits <= 50ms | weft::stage::sink(write);
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
// standard library. Invariants of the implementation:
// - Each thread counts into locals and adds them to its stage's atomics when it exits; run()
//   reads them after joining, which orders every add before the read.
// - A stage's output channel is closed by the last of its threads to exit, whatever the reason,
//   so the next stage always ends: by the close or by the cancellation.
// - Nobody is woken under the one lock (runtime::mutex_): fail() cancels after unlocking.
// - The fast path of every hand-off is a try_send / try_receive plus one load of the context's
//   state; only a hand-off that must wait becomes a select with the context's done().
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "channel.hpp"
#include "context.hpp"
#include "detail/config.hpp"
#include "error_group.hpp"
#include "select.hpp"
#include "time.hpp"

WEFT_BEGIN_NAMESPACE

// Whether a map or filter with several workers keeps the input order.
enum class ordering { unordered, ordered };

// Settings for a whole pipeline: weft::pipeline(ctx, {.capacity = 16}).
struct pipeline_options {
    // Capacity of each stage's output channel unless the stage sets its own (0 = rendezvous).
    // A batch stage's default is capacity / size (at least 2): its values are whole batches.
    std::size_t capacity = 256;
};

// What one stage did. See the file comment for the invariants between the counters.
struct stage_stats {
    std::string name;         // "source", "map", ... or the stage's .name(...)
    std::size_t index = 0;    // position in the pipeline; the source is 0
    std::size_t workers = 0;  // threads that ran the stage's function
    std::uint64_t in = 0;     // values received (source: values taken from its range or function)
    std::uint64_t out = 0;    // values passed on (batch: inside emitted batches; sink: consumed)
    std::uint64_t filtered = 0;     // values a filter rejected
    std::uint64_t dropped = 0;      // values the stage held, or held inside it, when it stopped
    std::uint64_t stranded = 0;     // values left in its input channel after every thread stopped
    std::uint64_t sent = 0;         // values put on its output channel (batch: batches; sink: 0)
    std::size_t max_reordered = 0;  // ordered map/filter: most results in its ring (<= window)
};

// What run() / wait() report.
struct [[nodiscard]] pipeline_result {
    // Null when the pipeline ran to the end of its input. Otherwise the first exception thrown
    // by a stage, or the cause of the context that canceled it (a weft::context_error carrying
    // canceled / deadline_exceeded unless the canceller gave a cause).
    std::exception_ptr error;
    // The index of the stage whose exception stopped the pipeline (empty: it was canceled).
    std::optional<std::size_t> failed_stage;
    std::vector<stage_stats> stages;

    bool ok() const noexcept { return !error; }
    explicit operator bool() const noexcept { return ok(); }
    // Stopped by its context (the parent's cancellation or deadline, or pipeline_run::cancel).
    bool canceled() const noexcept { return error && !failed_stage; }

    // "" when ok; "stage 2 (parse) failed: <what>"; "canceled: <what>".
    std::string message() const {
        if (!error) return {};
        std::string what = "unknown exception";
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) { what = e.what(); } catch (...) {
        }
        if (!failed_stage) return "canceled: " + what;
        return "stage " + std::to_string(*failed_stage) + " (" + stages.at(*failed_stage).name +
               ") failed: " + what;
    }

    void rethrow_if_error() const {
        if (error) std::rethrow_exception(error);
    }

    // Values dropped or stranded anywhere (0 after a successful run).
    std::uint64_t lost() const noexcept {
        std::uint64_t n = 0;
        for (const auto& s : stages) n += s.dropped + s.stranded;
        return n;
    }

    // Every value is accounted for: per stage in == out + filtered + dropped, and per channel
    // sent == received + stranded (the output of a started pipeline is the reader's).
    bool conserved() const noexcept {
        for (std::size_t i = 0; i < stages.size(); ++i) {
            const auto& s = stages[i];
            if (s.in != s.out + s.filtered + s.dropped) return false;
            if (i > 0 && stages[i - 1].sent != s.in + s.stranded) return false;
        }
        return true;
    }
};

template <class T>
class emitter;
template <class T>
class pipeline_of;
template <class T>
class pipeline_run;
class pipeline_start;

namespace detail::pipe {

template <class>
inline constexpr bool always_false = false;

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
struct handle_item {
    using type = void;
};
template <class T>
struct handle_item<channel<T>> {
    using type = T;
};
template <class T>
struct handle_item<receiver<T>> {
    using type = T;
};
template <class H>
using handle_item_t = typename handle_item<std::remove_cvref_t<H>>::type;

// A stage function is called as f(ctx, v) when it takes the context, else as f(v).
template <class F, class A>
inline constexpr bool takes_ctx = std::is_invocable_v<F&, const context&, A>;
template <class F, class A>
inline constexpr bool callable = std::is_invocable_v<F&, A> || takes_ctx<F, A>;

template <class F, class A>
decltype(auto) call(F& f, const context& ctx, A&& v) {
    if constexpr (takes_ctx<F, A&&>) {
        return std::invoke(f, ctx, std::forward<A>(v));
    } else {
        return std::invoke(f, std::forward<A>(v));
    }
}

template <class F, class A>
using call_result_t = std::remove_cvref_t<decltype(call(
    std::declval<F&>(), std::declval<const context&>(), std::declval<A>()))>;

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
template <class T, class H>
std::optional<T> receive(H& in, const runtime& rt, counters& c) {
    if (rt.stopping()) return std::nullopt;
    auto r = in.try_receive();
    if (r.status == op_status::ok) return std::move(r.value);
    bool closed = r.status == op_status::closed;
    std::optional<T> v;
    if (!closed) {
        (void)select(on_receive(in,
                                [&](std::optional<T> x) {
                                    closed = !x;
                                    v = std::move(x);
                                }),
                     on_receive(rt.done, [] {}));
    }
    if (closed && !rt.stopping()) c.ended = true;
    return v;
}

// Sends v on `out`, waiting while it is full. False when the pipeline is stopping (v is then
// destroyed: the caller counts it as dropped).
template <class T>
bool send(channel<T>& out, T&& v, const runtime& rt) {
    if (rt.stopping()) return false;
    auto r = out.try_send(std::move(v));
    if (r.status == op_status::ok) return true;
    if (r.status == op_status::closed) return false;  // only the stage closes it: not reached
    bool sent = false;
    (void)select(on_send(out, *r.value, [&](bool ok) { sent = ok; }), on_receive(rt.done, [] {}));
    return sent;
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

// --- Sources: produce(rt, emit, c) calls emit(T&&) until the input ends or emit is false. ---

template <class R, bool Owned>
struct range_gen {
    R range;  // the range itself when owned, a reference to it when not

    template <class T, class Emit>
    void produce(const runtime&, Emit& emit, counters& c) {
        for (auto&& x : range) {
            if constexpr (Owned) {
                if (!emit(T(std::move(x)))) return;
            } else {
                if (!emit(T(x))) return;
            }
        }
        c.ended = true;
    }
};

template <class T>
struct receiver_gen {
    receiver<T> rx;

    template <class, class Emit>
    void produce(const runtime& rt, Emit& emit, counters& c) {
        while (auto v = receive<T>(rx, rt, c)) {
            if (!emit(std::move(*v))) return;
        }
    }
};

template <class F>
struct pull_gen {
    F f;

    template <class T, class Emit>
    void produce(const runtime& rt, Emit& emit, counters& c) {
        while (!rt.stopping()) {
            std::optional<T> v = std::invoke(f);
            if (!v) {
                c.ended = true;
                return;
            }
            if (!emit(std::move(*v))) return;
        }
    }
};

template <class F>
struct push_gen {
    F f;

    template <class T, class Emit>
    void produce(const runtime& rt, Emit& emit, counters& c);  // after emitter
};

template <class T, class Gen>
class source_stage final : public stage_base {
public:
    source_stage(std::string name, Gen gen, channel<T> out)
        : stage_base(std::move(name), 0, 1), gen_(std::move(gen)), out_(std::move(out)) {}

    void start(runtime& rt) override {
        rt.spawn([this, &rt] { return work(rt); });
    }

private:
    std::exception_ptr work(runtime& rt) noexcept {
        std::exception_ptr err = guarded(rt, [&](counters& c) {
            auto emit = [&](T&& v) -> bool {
                ++c.in;
                if (!send(out_, std::move(v), rt)) return false;
                ++c.out;
                ++c.sent;
                return true;
            };
            gen_.template produce<T>(rt, emit, c);
        });
        out_.close();
        return err;
    }

    Gen gen_;
    channel<T> out_;
};

// --- map / filter / tap / sink with N workers, in completion order. ---

enum class kind { map, filter, tap, sink };

template <kind K, class In, class Out, class F>  // Out: std::monostate for a sink
class worker_stage final : public stage_base {
public:
    worker_stage(std::string name, std::size_t index, std::size_t workers, F f, channel<In> in,
                 channel<Out> out)
        : stage_base(std::move(name), index, workers),
          f_(std::move(f)),
          in_(std::move(in)),
          out_(std::move(out)) {}

    void start(runtime& rt) override {
        remaining_.store(workers_, std::memory_order_relaxed);
        for (std::size_t i = 0; i < workers_; ++i) rt.spawn([this, &rt] { return work(rt); });
    }
    void settle() override { stranded_ = drain(in_); }

private:
    std::exception_ptr work(runtime& rt) noexcept {
        std::exception_ptr err = guarded(rt, [&](counters& c) { loop(rt, c); });
        // acq_rel: the last worker to leave closes; a thread that never started (spawn failed)
        // leaves the count above zero, and the next stage then ends by the cancellation.
        if constexpr (K != kind::sink) {
            if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) out_.close();
        }
        return err;
    }

    void loop(runtime& rt, counters& c) {
        while (auto v = receive<In>(in_, rt, c)) {
            ++c.in;
            if constexpr (K == kind::map) {
                Out u = call(f_, rt.ctx, std::move(*v));
                if (!pass(rt, c, std::move(u))) return;
            } else if constexpr (K == kind::filter) {
                if (static_cast<bool>(call(f_, rt.ctx, std::as_const(*v)))) {
                    if (!pass(rt, c, std::move(*v))) return;
                } else {
                    ++c.filtered;
                }
            } else if constexpr (K == kind::tap) {
                call(f_, rt.ctx, std::as_const(*v));
                if (!pass(rt, c, std::move(*v))) return;
            } else {
                call(f_, rt.ctx, std::move(*v));
                ++c.out;
            }
        }
    }

    bool pass(const runtime& rt, counters& c, Out&& v) {
        if (!send(out_, std::move(v), rt)) return false;
        ++c.out;
        ++c.sent;
        return true;
    }

    F f_;
    channel<In> in_;
    channel<Out> out_;
    std::atomic<std::size_t> remaining_{0};
};

// --- map / filter with N workers, in input order, at most `window` values inside. ---

template <kind K, class In, class Out, class F>  // K: map or filter (then Out == In)
class ordered_stage final : public stage_base {
    struct slot {
        bool arrived = false;
        std::optional<Out> value;  // empty: rejected by the filter
    };

public:
    ordered_stage(std::string name, std::size_t index, std::size_t workers, std::size_t window, F f,
                  channel<In> in, channel<Out> out)
        : stage_base(std::move(name), index, workers),
          window_(window),
          f_(std::move(f)),
          in_(std::move(in)),
          out_(std::move(out)),
          tokens_(window),
          ring_(window) {
        for (std::size_t i = 0; i < window_; ++i) (void)tokens_.try_send(std::monostate{});
    }

    void start(runtime& rt) override {
        remaining_.store(workers_, std::memory_order_relaxed);
        for (std::size_t i = 0; i < workers_; ++i) rt.spawn([this, &rt] { return work(rt); });
    }
    void settle() override {
        stranded_ = drain(in_);
        for (auto& s : ring_) s = slot{};  // values left behind a missing one: already dropped
        max_reordered_ = max_waiting_;
    }

private:
    std::exception_ptr work(runtime& rt) noexcept {
        std::exception_ptr err = guarded(rt, [&](counters& c) { loop(rt, c); });
        if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) out_.close();
        return err;
    }

    void loop(runtime& rt, counters& c) {
        for (;;) {
            std::optional<In> v;
            std::uint64_t seq = 0;
            {
                // Taking a token, receiving and numbering are one step, so numbers follow the
                // input order. The holder may wait here for a token or a value; the others
                // would only wait for the same value behind it.
                std::lock_guard lock(in_mu_);
                if (in_ended_) {  // another worker saw the end: no token to take for it
                    c.ended = true;
                    return;
                }
                counters ignored;
                if (!receive<std::monostate>(tokens_, rt, ignored)) return;
                v = receive<In>(in_, rt, c);
                if (!v) {
                    // Tokens are not for exiting: with more workers than tokens, the workers
                    // still to leave would wait for one forever.
                    (void)tokens_.try_send(std::monostate{});
                    in_ended_ = c.ended;
                    return;
                }
                ++c.in;
                seq = next_in_++;
            }
            std::optional<Out> r;
            if constexpr (K == kind::map) {
                r.emplace(call(f_, rt.ctx, std::move(*v)));
            } else if (static_cast<bool>(call(f_, rt.ctx, std::as_const(*v)))) {
                r.emplace(std::move(*v));
            }
            if (!deposit(rt, c, seq, std::move(r))) return;
        }
    }

    // Puts the result of `seq` in the ring. If no other worker is emitting, this one emits every
    // value that is next in order - sending with no lock held - until the next is missing.
    // False when the pipeline is stopping.
    bool deposit(const runtime& rt, counters& c, std::uint64_t seq, std::optional<Out>&& r) {
        std::unique_lock lock(out_mu_);
        // seq < next_out_ + window_: its token was taken after seq - window_ had been emitted.
        slot& s = ring_[static_cast<std::size_t>(seq % window_)];
        s.arrived = true;
        s.value = std::move(r);
        ++waiting_;
        if (emitting_) {  // the emitter takes it when its turn comes (it checks under out_mu_)
            max_waiting_ = std::max(max_waiting_, waiting_);
            return true;
        }
        emitting_ = true;
        for (;;) {
            slot& head = ring_[static_cast<std::size_t>(next_out_ % window_)];
            if (!head.arrived) break;
            head.arrived = false;
            --waiting_;
            ++next_out_;
            std::optional<Out> out = std::move(head.value);
            head.value.reset();
            lock.unlock();
            if (out) {
                if (!send(out_, std::move(*out), rt)) return false;  // emitting_ stays: stop
                ++c.out;
                ++c.sent;
            } else {
                ++c.filtered;
            }
            (void)tokens_.try_send(std::monostate{});  // never full: one per value emitted
            lock.lock();
        }
        emitting_ = false;
        max_waiting_ = std::max(max_waiting_, waiting_);
        return true;
    }

    std::size_t window_;
    F f_;
    channel<In> in_;
    channel<Out> out_;
    channel<std::monostate> tokens_;  // window_ of them: a value enters the stage with one
    std::atomic<std::size_t> remaining_{0};

    std::mutex in_mu_;
    std::uint64_t next_in_ = 0;  // guarded by in_mu_
    bool in_ended_ = false;      // guarded by in_mu_: the input is closed and drained

    std::mutex out_mu_;
    std::vector<slot> ring_;       // guarded by out_mu_; the result of seq is at seq % window_
    std::uint64_t next_out_ = 0;   // guarded by out_mu_: the next seq to emit
    bool emitting_ = false;        // guarded by out_mu_: a worker is emitting the ready run
    std::size_t waiting_ = 0;      // guarded by out_mu_: results in the ring
    std::size_t max_waiting_ = 0;  // guarded by out_mu_
};

// --- batch ---

template <class T>
class batch_stage final : public stage_base {
    using clock = std::chrono::steady_clock;

public:
    batch_stage(std::string name, std::size_t index, std::size_t size,
                std::optional<clock::duration> max_wait, channel<T> in, channel<std::vector<T>> out)
        : stage_base(std::move(name), index, 1),
          size_(size),
          max_wait_(max_wait),
          in_(std::move(in)),
          out_(std::move(out)) {}

    void start(runtime& rt) override {
        rt.spawn([this, &rt] { return work(rt); });
    }
    void settle() override { stranded_ = drain(in_); }

private:
    std::exception_ptr work(runtime& rt) noexcept {
        std::exception_ptr err = guarded(rt, [&](counters& c) { loop(rt, c); });
        out_.close();
        return err;
    }

    void loop(runtime& rt, counters& c) {
        std::vector<T> buf;
        buf.reserve(size_);
        std::optional<timer> tm;  // armed when a batch gets its first value
        clock::time_point due{};
        for (;;) {
            std::optional<T> v;
            bool expired = false;
            counters probe;  // only for its `ended`: set when the input is closed and drained
            if (buf.empty() || !max_wait_) {
                v = receive<T>(in_, rt, probe);
            } else if (rt.stopping()) {
                return;
            } else if (auto r = in_.try_receive(); r.status != op_status::empty) {
                v = std::move(r.value);
                probe.ended = r.status == op_status::closed && !rt.stopping();  // see receive()
            } else {
                // Nothing ready: wait for a value, the oldest value's deadline, or the stop.
                (void)select(on_receive(in_,
                                        [&](std::optional<T> x) {
                                            probe.ended = !x && !rt.stopping();
                                            v = std::move(x);
                                        }),
                             on_receive(tm->chan(), [&] { expired = true; }),
                             on_receive(rt.done, [] {}));
            }
            if (v) {
                ++c.in;
                buf.push_back(std::move(*v));
                if (max_wait_ && buf.size() == 1) {
                    due = clock::now() + *max_wait_;
                    // reset(): no value of the previous batch's timer can arrive after it.
                    if (tm)
                        (void)tm->reset(*max_wait_);
                    else
                        tm.emplace(*max_wait_);
                } else if (max_wait_ && clock::now() >= due) {
                    expired = true;  // values kept coming: the timer case never had its turn
                }
            }
            if (probe.ended) {  // end of input: the partial batch goes out
                if (!buf.empty() && !flush(rt, c, buf)) return;
                c.ended = true;
                return;
            }
            if (!v && !expired) {
                if (rt.stopping()) return;
                continue;
            }
            if ((buf.size() >= size_ || expired) && !buf.empty() && !flush(rt, c, buf)) return;
        }
    }

    bool flush(const runtime& rt, counters& c, std::vector<T>& buf) {
        const std::size_t n = buf.size();
        std::vector<T> full = std::move(buf);
        buf = std::vector<T>();
        if (!send(out_, std::move(full), rt)) return false;  // the n values are dropped
        c.out += n;
        ++c.sent;
        buf.reserve(size_);
        return true;
    }

    std::size_t size_;
    std::optional<clock::duration> max_wait_;
    channel<T> in_;
    channel<std::vector<T>> out_;
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

struct access;

// The options every stage spec has: its name (in stats and error messages) and, for stages
// with an output, the capacity of that channel.
template <class D>
class spec_base {
public:
    D name(std::string n) && {
        name_ = std::move(n);
        return std::move(static_cast<D&>(*this));
    }
    D capacity(std::size_t n) && {
        static_assert(!D::is_sink, "weft::stage::sink has no output channel, so no capacity");
        capacity_ = n;
        return std::move(static_cast<D&>(*this));
    }

protected:
    explicit spec_base(std::string default_name) : name_(std::move(default_name)) {}
    std::string name_;
    std::optional<std::size_t> capacity_;
    friend struct access;
};

inline std::size_t check_workers(std::size_t n, const char* what) {
    if (n == 0) throw std::invalid_argument(std::string(what) + ": workers must be at least 1");
    return n;
}

template <class T, class Gen>
class source_spec : public spec_base<source_spec<T, Gen>> {
public:
    static constexpr bool is_sink = false;
    explicit source_spec(Gen g) : spec_base<source_spec>("source"), gen_(std::move(g)) {}

private:
    Gen gen_;
    friend struct access;
};

// map and filter take the same settings; Kind tells them apart (and names the stage).
struct map_kind {
    static constexpr const char* name = "map";
    static constexpr const char* qualified = "weft::stage::map";
};
struct filter_kind {
    static constexpr const char* name = "filter";
    static constexpr const char* qualified = "weft::stage::filter";
};

template <class F, class Kind>
class worker_spec : public spec_base<worker_spec<F, Kind>> {
public:
    static constexpr bool is_sink = false;
    worker_spec(F f, std::size_t workers, ordering o)
        : spec_base<worker_spec>(Kind::name),
          f_(std::move(f)),
          workers_(check_workers(workers, Kind::qualified)),
          order_(o) {}
    // ordered only: how many values may be inside the stage at once (default: the stage's
    // capacity, at least 2 x workers). Fewer than `workers` leaves workers idle.
    worker_spec window(std::size_t n) && {
        if (n == 0)
            throw std::invalid_argument(std::string(Kind::qualified) +
                                        ": window must be at least 1");
        window_ = n;
        return std::move(*this);
    }

private:
    F f_;
    std::size_t workers_;
    ordering order_;
    std::optional<std::size_t> window_;
    friend struct access;
};

template <class F>
using map_spec = worker_spec<F, map_kind>;
template <class F>
using filter_spec = worker_spec<F, filter_kind>;

template <class F>
class tap_spec : public spec_base<tap_spec<F>> {
public:
    static constexpr bool is_sink = false;
    explicit tap_spec(F f) : spec_base<tap_spec>("tap"), f_(std::move(f)) {}

private:
    F f_;
    friend struct access;
};

template <class F>
class sink_spec : public spec_base<sink_spec<F>> {
public:
    static constexpr bool is_sink = true;
    sink_spec(F f, std::size_t workers)
        : spec_base<sink_spec>("sink"),
          f_(std::move(f)),
          workers_(check_workers(workers, "weft::stage::sink")) {}

private:
    F f_;
    std::size_t workers_;
    friend struct access;
};

class batch_spec : public spec_base<batch_spec> {
public:
    static constexpr bool is_sink = false;
    batch_spec(std::size_t size, std::optional<std::chrono::steady_clock::duration> max_wait)
        : spec_base<batch_spec>("batch"), size_(size), max_wait_(max_wait) {
        if (size == 0) throw std::invalid_argument("weft::stage::batch: size must be at least 1");
        if (max_wait && *max_wait <= std::chrono::steady_clock::duration::zero())
            throw std::invalid_argument("weft::stage::batch: max_wait must be positive");
    }

private:
    std::size_t size_;
    std::optional<std::chrono::steady_clock::duration> max_wait_;
    friend struct access;
};

template <class S>
struct is_spec : std::false_type {};
template <class T, class G>
struct is_spec<source_spec<T, G>> : std::true_type {};
template <class F>
struct is_spec<map_spec<F>> : std::true_type {};
template <class F>
struct is_spec<filter_spec<F>> : std::true_type {};
template <class F>
struct is_spec<tap_spec<F>> : std::true_type {};
template <class F>
struct is_spec<sink_spec<F>> : std::true_type {};
template <>
struct is_spec<batch_spec> : std::true_type {};

template <class S>
struct is_source : std::false_type {};
template <class T, class G>
struct is_source<source_spec<T, G>> : std::true_type {};

}  // namespace detail::pipe

// What a function given to source<T>(f) pushes values with: emit(v) sends v to the next stage,
// waiting while it is full, and returns false once the pipeline is stopping (v is then
// dropped and counted; f should return).
template <class T>
class emitter {
public:
    emitter(const emitter&) = delete;
    emitter& operator=(const emitter&) = delete;

    bool operator()(T v) { return send_(self_, std::move(v)); }
    // The pipeline's context: for waits inside f that should end when the pipeline stops.
    const weft::context& ctx() const noexcept { return *ctx_; }
    bool stopping() const noexcept { return static_cast<bool>(ctx_->err()); }

private:
    template <class E>
    emitter(E& e, const weft::context& c) noexcept
        : self_(&e),
          send_(+[](void* s, T&& v) -> bool { return (*static_cast<E*>(s))(std::move(v)); }),
          ctx_(&c) {}

    void* self_;
    bool (*send_)(void*, T&&);
    const weft::context* ctx_;
    friend struct detail::pipe::access;
};

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
    template <class T, class E>
    static emitter<T> make_emitter(E& e, const context& c) noexcept {
        return emitter<T>(e, c);
    }

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

template <class F>
template <class T, class Emit>
void push_gen<F>::produce(const runtime& rt, Emit& emit, counters& c) {
    emitter<T> e = access::make_emitter<T>(emit, rt.ctx);
    std::invoke(f, e);
    c.ended = !rt.stopping();
}

}  // namespace detail::pipe

// --- The stages ---
// In their own namespace, so that `using namespace std; using namespace weft;` leaves
// std::map and these names unambiguous: weft::stage::map, weft::stage::batch.
namespace stage {

inline constexpr ordering unordered = ordering::unordered;
inline constexpr ordering ordered = ordering::ordered;

// A source from a range, a channel / receiver, or a generator function f() -> std::optional<T>
// (an empty optional ends the input). An lvalue range is referenced (its values copied), an
// rvalue range is moved in (its values moved out).
template <class S>
auto source(S&& s) {
    using D = std::remove_cvref_t<S>;
    using namespace detail::pipe;
    if constexpr (!std::is_void_v<handle_item_t<D>>) {
        using T = handle_item_t<D>;
        return source_spec<T, receiver_gen<T>>(receiver_gen<T>{receiver<T>(s)});
    } else if constexpr (std::ranges::input_range<S&>) {
        using T = std::ranges::range_value_t<S&>;
        constexpr bool owned = !std::is_lvalue_reference_v<S>;
        constexpr bool from_value =
            owned ? std::is_constructible_v<T, std::ranges::range_rvalue_reference_t<D&>>
                  : std::is_constructible_v<T, std::ranges::range_reference_t<S&>>;
        static_assert(
            from_value || owned,
            "weft::stage::source: the values of an lvalue range are copied, and these cannot "
            "be; pass the range as an rvalue (std::move(v)) to move them out");
        static_assert(
            from_value || !owned,
            "weft::stage::source: the range's values cannot be converted to its value type");
        static_assert(
            item_ok<T>,
            "weft::stage::source: pipeline values must be nothrow move constructible (wrap "
            "the type in std::unique_ptr)");
        using R = std::conditional_t<owned, D, S&>;
        return source_spec<T, range_gen<R, owned>>(range_gen<R, owned>{std::forward<S>(s)});
    } else if constexpr (std::is_invocable_v<D&>) {
        using R = std::remove_cvref_t<std::invoke_result_t<D&>>;
        static_assert(is_optional<R>::value,
                      "weft::stage::source: a generator function must return std::optional<T> (an "
                      "empty optional ends the input); for a function that pushes values, use "
                      "weft::stage::source<T>(f) with f(weft::emitter<T>&)");
        if constexpr (is_optional<R>::value) {
            using T = typename R::value_type;
            static_assert(
                item_ok<T>,
                "weft::stage::source: pipeline values must be nothrow move constructible");
            return source_spec<T, pull_gen<D>>(pull_gen<D>{std::forward<S>(s)});
        }
    } else {
        static_assert(
            always_false<S>,
            "weft::stage::source takes a range, a weft::channel<T> / receiver<T>, a function "
            "returning std::optional<T>, or (as source<T>(f)) a function taking "
            "weft::emitter<T>&");
    }
}

// A source of the listed values: weft::stage::source({1, 2, 3}).
template <class T>
auto source(std::initializer_list<T> values) {
    return source(std::vector<T>(values));
}

// A source whose function pushes the values: source<T>([](weft::emitter<T>& emit) { ... }).
// The input ends when f returns; f should return when emit() returns false.
template <class T, class F>
auto source(F&& f) {
    using D = std::remove_cvref_t<F>;
    static_assert(
        std::is_invocable_v<D&, emitter<T>&>,
        "weft::stage::source<T>(f): f must take a weft::emitter<T>& and call it with each value");
    static_assert(detail::pipe::item_ok<T>,
                  "weft::stage::source: pipeline values must be nothrow move constructible");
    return detail::pipe::source_spec<T, detail::pipe::push_gen<D>>(
        detail::pipe::push_gen<D>{std::forward<F>(f)});
}

// f(T&&) -> U on `workers` threads; weft::stage::ordered keeps the input order (see the file
// comment).
template <class F>
auto map(F&& f, std::size_t workers = 1, ordering order = ordering::unordered) {
    return detail::pipe::map_spec<std::decay_t<F>>(std::forward<F>(f), workers, order);
}

// Passes on the values for which pred(const T&) is true.
template <class F>
auto filter(F&& pred, std::size_t workers = 1, ordering order = ordering::unordered) {
    return detail::pipe::filter_spec<std::decay_t<F>>(std::forward<F>(pred), workers, order);
}

// Calls f(const T&) for each value and passes the value on (logging, metrics, progress).
template <class F>
auto tap(F&& f) {
    return detail::pipe::tap_spec<std::decay_t<F>>(std::forward<F>(f));
}

// The end of a pipeline: f(T&&) for each value, on `workers` threads.
template <class F>
auto sink(F&& f, std::size_t workers = 1) {
    return detail::pipe::sink_spec<std::decay_t<F>>(std::forward<F>(f), workers);
}

// Groups values into std::vector<T>s of `size`; the last one may be smaller.
inline detail::pipe::batch_spec batch(std::size_t size) { return {size, std::nullopt}; }

// As batch(size), and a batch is also emitted when its oldest value has waited `max_wait`
// (since this stage received it). max_wait must be positive.
template <class Rep, class Per>
detail::pipe::batch_spec batch(std::size_t size, std::chrono::duration<Rep, Per> max_wait) {
    return {size, std::chrono::ceil<std::chrono::steady_clock::duration>(max_wait)};
}

}  // namespace stage

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
