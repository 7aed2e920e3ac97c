// weft/pipeline/stage_threads.hpp - what the stages of a pipeline run on their threads: the
// sources, map / filter / tap / sink in completion order, map / filter in input order, and
// batch. Internal to <weft/pipeline.hpp> (namespace weft::detail::pipe): not an API.
//
// Invariant: a stage's output channel is closed by the last of its threads to exit, whatever
// the reason, so the next stage always ends: by the close or by the cancellation.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "../channel.hpp"
#include "../context.hpp"
#include "../detail/config.hpp"
#include "../detail/invoke.hpp"
#include "../select.hpp"
#include "../time.hpp"
#include "emitter.hpp"
#include "runtime.hpp"

WEFT_BEGIN_NAMESPACE

namespace detail::pipe {

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
        while (auto v = receive(rx, rt, c)) {
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
            std::optional<T> v = detail::invoke(f);
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
    void produce(const runtime& rt, Emit& emit, counters& c) {
        emitter<T> e(emit, rt.ctx);
        detail::invoke(f, e);
        c.ended = !rt.stopping();
    }
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
                if (!out_.send(rt.ctx, std::move(v))) return false;
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
        while (auto v = receive(in_, rt, c)) {
            ++c.in;
            if constexpr (K == kind::map) {
                Out u = invoke_with_context(f_, rt.ctx, std::move(*v));
                if (!pass(rt, c, std::move(u))) return;
            } else if constexpr (K == kind::filter) {
                if (static_cast<bool>(invoke_with_context(f_, rt.ctx, std::as_const(*v)))) {
                    if (!pass(rt, c, std::move(*v))) return;
                } else {
                    ++c.filtered;
                }
            } else if constexpr (K == kind::tap) {
                invoke_with_context(f_, rt.ctx, std::as_const(*v));
                if (!pass(rt, c, std::move(*v))) return;
            } else {
                invoke_with_context(f_, rt.ctx, std::move(*v));
                ++c.out;
            }
        }
    }

    bool pass(const runtime& rt, counters& c, Out&& v) {
        if (!out_.send(rt.ctx, std::move(v))) return false;
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
                if (!receive(tokens_, rt, ignored)) return;
                v = receive(in_, rt, c);
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
                r.emplace(invoke_with_context(f_, rt.ctx, std::move(*v)));
            } else if (static_cast<bool>(invoke_with_context(f_, rt.ctx, std::as_const(*v)))) {
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
                if (!out_.send(rt.ctx, std::move(*out))) return false;  // emitting_ stays: stop
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
                v = receive(in_, rt, probe);
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
        if (!out_.send(rt.ctx, std::move(full))) return false;  // the n values are dropped
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

}  // namespace detail::pipe

WEFT_END_NAMESPACE
