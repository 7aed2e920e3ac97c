// weft/fan.hpp - Go's fan-out, fan-in and tee: spread a channel over workers, merge channels into
// one, copy a channel to several consumers.
//
//     auto found = weft::fan_out(ctx, numbers, 4, check);  // 4 workers, one output each
//     auto all = weft::merge(ctx, found.outputs());        // one thread, a dynamic select
//     for (auto r : all.output()) ...                      // closed when every input is
//     if (auto e = found.wait()) std::rethrow_exception(e); // joined; f's exception, if any
//
//     auto copies = weft::tee(events, 2);                  // both consumers get every item
//
// @par What each one does
// - fan_out(rx, n, f): n worker threads take items from rx (whichever is free takes the next)
//   and send f(item) - or f(ctx, item) - on an output channel of their own: n outputs. f is
//   called concurrently by the workers (a mutable lambda's state is shared by them).
// - merge(inputs...) / merge(vector): one thread sends every item of its inputs on one output.
//   Not a thread per input: it looks at every input once with try_receive, from a random one
//   on, and when none is ready it blocks in a weft::selector over all of them. So a ready input
//   is taken with a probability of at least 1/n at every step (none is starved: with all of
//   them ready, the choice is uniform), and each input's order is kept.
// - tee(rx, n): one thread takes an item from rx and gives a copy to every one of n outputs
//   (the last output gets the original), sending to whichever output is ready first, before it
//   takes the next item. Each output sees every item, in input order. Consumers may read the
//   outputs in any order, even from one thread, without deadlocking the tee. A slow consumer
//   slows the tee, as in Go: once its output's buffer is full, the others wait for it. So T
//   must be copyable; for a move-only T use fan_out (each item to one worker) or share it
//   (std::shared_ptr<const T>). This is also what is often called a broadcast.
//
// @par Closing
// An output is closed when its thread ends. A thread ends when its input is closed and drained
// (merge: every input) and its last item has been sent - or when the fan is stopped. The inputs
// are never closed by the fan: they belong to their producers. A nil input would never close,
// so it is rejected (std::invalid_argument), as is n == 0.
//
// @par Stopping, and what happens to an item in flight
// Every fan runs under a child of the given context (background() if none). It stops when that
// context is canceled (the parent's cancellation or deadline, or cancel() on the handle, or the
// handle's destructor), or when f (or a copy made by tee) throws: the first exception cancels
// the fan with itself as the cause. A stopped fan takes nothing more from its inputs; a thread
// that was waiting to receive or to send wakes up, and an item it held is dropped - destroyed
// and counted in stats().dropped, never silently - unless a consumer takes it in that same
// instant (the waking select picks at random among its ready cases; the item then counts as
// sent). For tee an item in flight may have reached some outputs (counted in sent) and not the
// others (counted in dropped, once per output).
// What is still buffered in an input stays there; what is buffered in an output stays
// receivable (a close never discards). An exception thrown after the fan began to stop is a
// consequence of the stop and is counted (failed) but not reported.
//
// @par Threads and the handle
// fan_out, merge and tee return a weft::fan<T>, which owns the fan's threads (std::threads).
// wait() joins them and returns why the fan ended: null when every input was closed and drained
// and every item sent; the first exception thrown by f (or by a copy); or, when the context was
// canceled first, its cause (weft::cause: a weft::context_error for cancel() or a deadline).
// The destructor cancels the fan and joins its threads, as std::jthread does: no thread of a fan
// outlives its handle, and a consumer that stops reading early cannot leak one (the classic Go
// fan-in leak). So keep the handle while its outputs are read. Before it ends, a thread destroys
// everything it holds of the user's (items, inputs, and for the last worker, f) and then closes
// its output: a consumer that sees every output closed has seen the fan's last user-visible act.
//
// @par Accounting (stats(), exact after wait())
// merge: received == sent + dropped. fan_out: received == sent + dropped + failed.
// tee: received * n == sent + dropped. After a fan that ended with a null wait(), dropped and
// failed are 0.
//
// @par Thread safety
// cancel() may be called from any thread at any time. Everything else on a fan<T> is used by one
// thread at a time; its receivers, like every channel handle, may be copied and used anywhere.
// A fan is movable, not copyable.
//
// Built only from weft's public primitives (channel, select, context) and the standard library.
// Invariants of the implementation:
// - Each thread counts into locals and adds them to the shared state under its mutex when it
//   exits; wait() reads them after joining. Nobody is woken while that mutex is held (it guards
//   only counters).
// - Every wait of every thread is a select that includes the fan context's done(), so a stop
//   always wakes it; the fast path of each hand-off is a try_ operation after one load of the
//   context's state, and a context already canceled wins over a ready channel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "channel.hpp"
#include "context.hpp"
#include "detail/config.hpp"
#include "select.hpp"

WEFT_BEGIN_NAMESPACE

// Settings of a fan: weft::merge(ctx, inputs, {.capacity = 64}).
struct fan_options {
    // Capacity of each output channel: 0 is a rendezvous (Go's make(chan T)).
    std::size_t capacity = 0;
};

// What a fan did. See the file comment for the invariants between the counters.
struct fan_stats {
    std::uint64_t received = 0;  // items taken from the input(s)
    std::uint64_t sent = 0;      // items put on an output (tee: once per output)
    std::uint64_t dropped = 0;   // taken, not sent, because the fan stopped (tee: per output)
    std::uint64_t failed = 0;    // fan_out: items for which f threw
};

template <class T>
class fan;

namespace detail {

// What every thread of one fan shares: its context and the counts of the threads that ended.
class fan_state {
public:
    explicit fan_state(const context& parent) : scope_(with_cancel_cause(parent)) {}

    const context& ctx() const noexcept { return scope_.ctx; }
    void cancel() const noexcept { scope_.cancel(); }

    // Stops the fan because of an exception. The cancel keeps the first cause only, so an
    // exception thrown because the fan was already stopping is not the one reported.
    void fail(std::exception_ptr e) const noexcept { scope_.cancel(std::move(e)); }

    // A thread's counts, and whether it ended because the fan stopped (else: input drained).
    void finish(const fan_stats& s, bool stopped) noexcept {
        std::lock_guard lock(mutex_);
        stats_.received += s.received;
        stats_.sent += s.sent;
        stats_.dropped += s.dropped;
        stats_.failed += s.failed;
        stopped_ = stopped_ || stopped;
    }

    fan_stats stats() const {
        std::lock_guard lock(mutex_);
        return stats_;
    }
    // Null when no thread was stopped, else why the fan stopped (the first cause).
    std::exception_ptr result() const {
        std::lock_guard lock(mutex_);
        return stopped_ ? cause(scope_.ctx) : nullptr;
    }

private:
    cancelable<cancel_cause_func> scope_;
    mutable std::mutex mutex_;
    fan_stats stats_;       // guarded by mutex_
    bool stopped_ = false;  // guarded by mutex_
};

using done_rx = receiver<std::monostate>;

// Sends the value in `slot` unless the fan stops first; true when sent (slot is then empty).
// Only the fan closes its outputs, so a send cannot meet a closed channel.
template <class T>
bool fan_send(sender<T>& out, std::optional<T>& slot, const context& ctx) {
    auto r = out.send(ctx, std::move(*slot));
    slot.reset();
    if (r.value) slot.emplace(std::move(*r.value));  // T need not be assignable
    return r.status == op_status::ok;
}

template <class T>
struct merge_job {
    selector sel;                     // case i receives from inputs[i]; then the stop case
    std::vector<receiver<T>> inputs;  // for the fast path, which needs no select
    std::optional<T> got;  // what the case that fired received (empty: that input closed)
    std::size_t open = 0;  // inputs not yet closed and drained
    std::size_t stop_case = 0;
    std::uint64_t seed = 1;  // xorshift64: never 0

    // One look at every open input, from a random one on: true if an item was taken. Each
    // input that is ready is taken with probability at least 1/n, so none starves.
    bool try_take() {
        const std::size_t n = inputs.size();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::size_t i = static_cast<std::size_t>((seed >> 32) * n >> 32);
        for (std::size_t k = 0; k < n; ++k, i = i + 1 == n ? 0 : i + 1) {
            if (!sel.enabled(i)) continue;
            auto r = inputs[i].try_receive();
            if (r.status == op_status::ok) {
                got.emplace(std::move(*r.value));
                return true;
            }
            if (r.status == op_status::closed) {
                sel.set_enabled(i, false);
                --open;
            }
        }
        return false;
    }
};

template <class T>
void run_merge(fan_state& st, std::unique_ptr<merge_job<T>> job, sender<T> out,
               done_rx done) noexcept {
    fan_stats s;
    bool stopped = false;
    const context& ctx = st.ctx();
    try {
        while (job->open > 0) {
            if (ctx.err()) {
                stopped = true;
                break;
            }
            if (!job->try_take()) {
                if (job->open == 0) break;
                const std::size_t i = job->sel.select();
                if (i == job->stop_case) {
                    stopped = true;
                    break;
                }
                if (!job->got) {  // input i is closed and drained: Go's "set it to nil"
                    job->sel.set_enabled(i, false);
                    --job->open;
                    continue;
                }
            }
            ++s.received;
            if (!fan_send(out, job->got, ctx)) {
                stopped = true;
                break;
            }
            ++s.sent;
        }
    } catch (...) {
        st.fail(std::current_exception());
        stopped = true;
    }
    if (job->got) ++s.dropped;
    job.reset();  // inputs and the dropped item go before the output closes
    done = {};
    st.finish(s, stopped);
    out.close();
}

template <class T, class U, class F>
void run_worker(fan_state& st, receiver<T> in, std::shared_ptr<F> f, sender<U> out) noexcept {
    fan_stats s;
    bool stopped = false;
    const context& ctx = st.ctx();
    {
        std::optional<U> result;
        for (;;) {
            auto item = in.receive(ctx);
            if (item.status == op_status::closed) break;
            if (item.status != op_status::ok) {
                stopped = true;
                break;
            }
            ++s.received;
            try {
                result.emplace(invoke_with_context(*f, ctx, std::move(*item)));
            } catch (...) {
                ++s.failed;
                st.fail(std::current_exception());
                stopped = true;
                break;
            }
            if (!fan_send(out, result, ctx)) {
                ++s.dropped;
                stopped = true;
                break;
            }
            ++s.sent;
        }
    }
    in = {};
    f.reset();  // the last worker destroys f
    st.finish(s, stopped);
    out.close();
}

// Gives one item to every output, the last one the original. Returns false if the fan stopped
// first; `reached` counts the outputs that got it (also when a copy throws).
template <class T>
bool tee_one(std::vector<sender<T>>& outs, std::optional<T>& item, std::size_t& reached,
             done_rx& done) {
    const std::size_t n = outs.size();
    std::optional<selector> slow;  // only when an output is not ready: a select over the rest
    std::size_t waiting = 0;
    for (std::size_t i = 0; i < n; ++i) {
        auto r = outs[i].try_send(i + 1 < n ? T(*item) : std::move(*item));
        if (r) {
            ++reached;
            continue;
        }
        if (!slow) slow.emplace();
        (void)slow->add_send(outs[i], std::move(*r.value), [] {});
        ++waiting;
    }
    item.reset();
    if (waiting == 0) return true;
    const std::size_t stop = slow->add_receive(done, [] {});
    for (; waiting > 0; --waiting) {
        if (slow->select() == stop) return false;
        ++reached;
    }
    return true;
}

template <class T>
void run_tee(fan_state& st, receiver<T> in, std::vector<sender<T>> outs, done_rx done) noexcept {
    fan_stats s;
    bool stopped = false;
    const context& ctx = st.ctx();
    const std::size_t n = outs.size();
    {
        std::optional<T> item;
        for (;;) {
            auto r = in.receive(ctx);
            if (r.status == op_status::closed) break;
            if (r.status != op_status::ok) {
                stopped = true;
                break;
            }
            item.emplace(std::move(*r.value));
            ++s.received;
            std::size_t reached = 0;
            bool all = false;
            try {
                all = tee_one(outs, item, reached, done);
            } catch (...) { st.fail(std::current_exception()); }
            s.sent += reached;
            if (!all) {
                s.dropped += n - reached;
                stopped = true;
                break;
            }
        }
    }
    in = {};
    done = {};
    st.finish(s, stopped);
    for (auto& out : outs) out.close();
}

struct fan_access;

}  // namespace detail

// A running fan-out, merge or tee: its output receivers, and its threads. See the file comment.
template <class T>
class [[nodiscard]] fan {
public:
    using value_type = T;

    // An empty fan: no outputs, no threads.
    fan() noexcept = default;
    fan(fan&&) noexcept = default;
    fan& operator=(fan&& other) noexcept {
        if (this != &other) {
            stop_and_join();
            outputs_ = std::move(other.outputs_);
            threads_ = std::move(other.threads_);
            state_ = std::move(other.state_);
        }
        return *this;
    }
    fan(const fan&) = delete;
    fan& operator=(const fan&) = delete;
    // Cancels the fan and joins its threads (a no-op for threads that have ended).
    ~fan() { stop_and_join(); }

    // The outputs: n for fan_out and tee, one for merge.
    std::size_t size() const noexcept { return outputs_.size(); }
    receiver<T> operator[](std::size_t i) const { return outputs_.at(i); }
    const std::vector<receiver<T>>& outputs() const noexcept { return outputs_; }
    auto begin() const noexcept { return outputs_.begin(); }
    auto end() const noexcept { return outputs_.end(); }
    // The first output: merge's only one.
    receiver<T> output() const { return outputs_.at(0); }

    // Stops the fan (see the file comment). Never waits; idempotent.
    void cancel() const noexcept {
        if (state_) state_->cancel();
    }

    // Joins every thread of the fan, then returns why it ended: null when it ran to the end of
    // its inputs, else the first exception thrown inside it or the cause of the cancellation.
    // Blocks until the inputs are closed and drained and the outputs consumed, or until the fan
    // is stopped (give it a context with a deadline, or cancel() it, to bound the wait).
    [[nodiscard]] std::exception_ptr wait() {
        join();
        return state_ ? state_->result() : nullptr;
    }

    // The counters of the threads that have ended: exact after wait().
    fan_stats stats() const { return state_ ? state_->stats() : fan_stats{}; }

private:
    void join() noexcept {
        for (auto& t : threads_)
            if (t.joinable()) t.join();
        threads_.clear();
    }
    void stop_and_join() noexcept {
        cancel();
        join();
    }

    std::vector<receiver<T>> outputs_;
    std::vector<std::thread> threads_;
    std::unique_ptr<detail::fan_state> state_;  // stable address: the threads refer to it

    friend struct detail::fan_access;
};

namespace detail {

struct fan_access {
    template <class T>
    static fan<T> make(const context& ctx) {
        fan<T> f;
        f.state_ = std::make_unique<fan_state>(ctx);
        return f;
    }
    template <class T>
    static fan_state& state(fan<T>& f) noexcept {
        return *f.state_;
    }
    template <class T>
    static sender<T> add_output(fan<T>& f, std::size_t capacity) {
        channel<T> ch(capacity);
        f.outputs_.push_back(ch);
        return ch;
    }
    // If the thread cannot start, the exception propagates and the caller's fan, destroyed on
    // the way out, stops and joins the threads already started.
    template <class T, class G>
    static void start(fan<T>& f, G&& body) {
        f.threads_.reserve(f.threads_.size() + 1);
        f.threads_.emplace_back(std::forward<G>(body));
    }
};

}  // namespace detail

// One output fed by one thread that selects over every input; closed when all of them are
// closed and drained. An empty vector gives an output that is closed at once.
template <class T>
fan<T> merge(const context& ctx, std::vector<receiver<T>> inputs, fan_options options = {}) {
    using access = detail::fan_access;
    for (const auto& in : inputs) {
        if (!in) throw std::invalid_argument("weft::merge: a nil input never closes");
    }
    fan<T> f = access::make<T>(ctx);
    sender<T> out = access::add_output(f, options.capacity);
    if (inputs.empty()) {
        out.close();
        return f;
    }
    auto job = std::make_unique<detail::merge_job<T>>();
    for (auto& in : inputs) {
        (void)job->sel.add_receive(in, [j = job.get()](std::optional<T> v) {
            if (v) j->got.emplace(std::move(*v));
        });
    }
    job->open = inputs.size();
    job->inputs = std::move(inputs);
    job->seed = reinterpret_cast<std::uintptr_t>(job.get()) * 0x9E3779B97F4A7C15ULL | 1;
    detail::fan_state& st = access::state(f);
    detail::done_rx done = st.ctx().done();
    job->stop_case = job->sel.add_receive(done, [] {});
    access::start(f, [&st, j = std::move(job), out, done]() mutable {
        detail::run_merge(st, std::move(j), std::move(out), std::move(done));
    });
    return f;
}

template <class T>
fan<T> merge(std::vector<receiver<T>> inputs, fan_options options = {}) {
    return merge(background(), std::move(inputs), options);
}

// merge(ctx, a, b, c): channels or receivers of one element type.
template <class R, class... Rs>
    requires receivable<R> && (receivable<Rs> && ...)
fan<channel_value_t<R>> merge(const context& ctx, R&& first, Rs&&... rest) {
    using T = channel_value_t<R>;
    static_assert((std::is_same_v<T, channel_value_t<Rs>> && ...),
                  "weft::merge: every input must carry the same element type");
    std::vector<receiver<T>> inputs;
    inputs.reserve(1 + sizeof...(Rs));
    inputs.push_back(receiver<T>(first));
    (inputs.push_back(receiver<T>(rest)), ...);
    return merge(ctx, std::move(inputs));
}

template <class R, class... Rs>
    requires receivable<R> && (receivable<Rs> && ...)
fan<channel_value_t<R>> merge(R&& first, Rs&&... rest) {
    return merge(background(), std::forward<R>(first), std::forward<Rs>(rest)...);
}

// n workers, each sending f(item) - or f(ctx, item) - for the items it takes from rx on an
// output of its own. Each output is closed when its worker ends.
template <class R, class F>
    requires receivable<R>
auto fan_out(const context& ctx, R&& rx, std::size_t n, F f, fan_options options = {}) {
    using T = channel_value_t<R>;
    static_assert(std::is_invocable_v<F&, T&&> || std::is_invocable_v<F&, const context&, T&&>,
                  "weft::fan_out: f must be callable as f(T&&) or f(const weft::context&, T&&)");
    using U = std::remove_cvref_t<invoke_with_context_result_t<F&, T&&>>;
    static_assert(!std::is_void_v<U>,
                  "weft::fan_out: f must return the value to send on its worker's output");
    using access = detail::fan_access;
    receiver<T> in(rx);
    if (!in) throw std::invalid_argument("weft::fan_out: a nil input never closes");
    if (n == 0) throw std::invalid_argument("weft::fan_out: needs at least one worker");
    fan<U> out = access::make<U>(ctx);
    detail::fan_state& st = access::state(out);
    auto shared = std::make_shared<F>(std::move(f));
    std::vector<sender<U>> senders;
    for (std::size_t i = 0; i < n; ++i)
        senders.push_back(access::add_output(out, options.capacity));
    for (auto& tx : senders) {
        access::start(out, [&st, in, shared, tx]() mutable {
            detail::run_worker<T, U, F>(st, std::move(in), std::move(shared), std::move(tx));
        });
    }
    return out;
}

template <class R, class F>
    requires receivable<R>
auto fan_out(R&& rx, std::size_t n, F f, fan_options options = {}) {
    return fan_out(background(), std::forward<R>(rx), n, std::move(f), options);
}

// n outputs that each get every item of rx, in order; one thread. See the file comment for the
// blocking policy (the slowest consumer sets the pace).
template <class R>
    requires receivable<R>
fan<channel_value_t<R>> tee(const context& ctx, R&& rx, std::size_t n, fan_options options = {}) {
    using T = channel_value_t<R>;
    static_assert(std::is_copy_constructible_v<T>,
                  "weft::tee: every output gets its own copy of each item, so T must be copy "
                  "constructible; for a move-only T, use fan_out (each item goes to one worker) "
                  "or send std::shared_ptr<const T>");
    using access = detail::fan_access;
    receiver<T> in(rx);
    if (!in) throw std::invalid_argument("weft::tee: a nil input never closes");
    if (n == 0) throw std::invalid_argument("weft::tee: needs at least one output");
    fan<T> out = access::make<T>(ctx);
    detail::fan_state& st = access::state(out);
    detail::done_rx done = st.ctx().done();
    std::vector<sender<T>> senders;
    for (std::size_t i = 0; i < n; ++i)
        senders.push_back(access::add_output(out, options.capacity));
    access::start(out, [&st, in, s = std::move(senders), done]() mutable {
        detail::run_tee(st, std::move(in), std::move(s), std::move(done));
    });
    return out;
}

template <class R>
    requires receivable<R>
fan<channel_value_t<R>> tee(R&& rx, std::size_t n, fan_options options = {}) {
    return tee(background(), std::forward<R>(rx), n, options);
}

WEFT_END_NAMESPACE
