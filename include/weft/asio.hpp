// weft/asio.hpp - weft's channels and select for Boost.Asio: coroutines, or any asynchronous
// code, send, receive and select on the same channels that threads use, in Asio's universal
// asynchronous model (completion tokens: use_awaitable, deferred, use_future, as_tuple, a plain
// callback). Optional: the only weft header that includes Boost (Asio 1.81, header-only).
//
//     asio::awaitable<void> consume(weft::receiver<job> jobs) {
//         while (auto j = co_await jobs.async_receive(asio::use_awaitable)) process(*j);
//     }
//     auto r = co_await results.async_send(std::move(v), asio::use_awaitable);  // send_result
//     auto i = co_await weft::async_select(asio::use_awaitable,
//                                          weft::on_receive(a, [&](std::optional<int> v) {...}),
//                                          weft::on_receive(weft::after(1s), [&] {...}));
//
// Semantics are the blocking operations' (Go's): a receive completes with the value, or closed
// once the channel is closed and drained (never an exception); a send on a closed channel hands
// the value back; select is uniform among ready cases and lossless. And Asio's rules:
// - Completion runs on the handler's associated executor, through defer(): never inline in the
//   initiating function, nor in another party's send, receive or close, nor under a lock. A
//   coroutine woken by a party running on the same io_context thread resumes on that thread
//   when the party's handler returns (Asio's continuation queue, Go's runnext; no system call).
// - With plain use_awaitable, an operation that can complete at once (a value, a buffer slot,
//   a waiting peer, a close, a ready select case) completes inside its co_await without
//   suspending (Asio 1.83's "immediate completion"); only one that must wait suspends. Up to 64
//   such completions in a row per thread; the next operation goes through the executor's queue
//   (a coroutine cannot be preempted, as a goroutine is: this bounds how long it keeps its
//   thread). The awaitable owns a copy of the handle, so it may be stored and awaited later.
// - Per-operation cancellation: an operation whose handler has a cancellation slot
//   (bind_cancellation_slot, awaitable_operators' ||, parallel_group) is withdrawn when any
//   cancellation type is emitted, losslessly: a canceled send hands its value back and a
//   canceled receive consumed nothing. A peer that claimed the operation first wins: then it
//   completes normally.
// - A pending operation keeps its channel alive and is outstanding work on its executor (as a
//   socket read is). When the execution context shuts down (an io_context is destroyed) its
//   pending operations are withdrawn and their handlers destroyed without being called (Asio's
//   rule for every pending operation); the channels stay usable by everyone else.
//
// Invariants:
// - An operation's waiter is claimed exactly once per round (detail/waiter.hpp's CAS): by a peer
//   that hands it a value, a close or a retry, by its cancellation, or by its initiator (a case
//   that may be ready). Whoever claims it, except the initiator, calls its wake handle, which
//   posts the operation's next step; after that, the claimer touches nothing of it.
// - `gate_` keeps a step from running while the initiator still registers: a wake that arrives
//   during registration only marks the gate, and the initiator posts the step itself once it has
//   finished.
// - A step runs only after the waker stored `posted` (the step waits for it): the waker's last
//   access to the operation happens before the operation can be freed.
// - An operation waiting for a wake is in its execution context's registry. The registry's
//   shutdown (no thread runs the context then) either claims it and frees it, or waits until
//   its step is posted, which Asio's scheduler shutdown then destroys.
#pragma once

#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/defer.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/recycling_allocator.hpp>
#include <boost/asio/system_executor.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>

#include "channel.hpp"
#include "context.hpp"
#include "detail/config.hpp"
#include "detail/select_core.hpp"
#include "select.hpp"

WEFT_BEGIN_NAMESPACE

// What an asynchronous select completes with when it was canceled before any case fired.
inline constexpr std::size_t select_canceled = detail::select_none;

namespace detail {
namespace net = boost::asio;

class async_registry;

// What the registry knows of an operation.
class async_op_base {
public:
    async_op_base(const async_op_base&) = delete;
    async_op_base& operator=(const async_op_base&) = delete;

    // Called by the registry's shutdown, with no thread running the context: claims the
    // operation and frees it, or waits until its step is posted (Asio then destroys the step).
    virtual void shutdown() noexcept = 0;

protected:
    async_op_base() noexcept = default;
    ~async_op_base() = default;

private:
    friend class async_registry;
    async_op_base* prev_ = nullptr;  // guarded by the registry's mutex
    async_op_base* next_ = nullptr;  // guarded by the registry's mutex
    bool linked_ = false;            // guarded by the registry's mutex
};

// The operations of one execution context that wait for a wake, so that the context's shutdown
// can withdraw them (an Asio service, as Asio's own I/O objects have).
class async_registry final : public net::execution_context::service {
public:
    using key_type = async_registry;
    static inline net::execution_context::id id;

    explicit async_registry(net::execution_context& ctx) : net::execution_context::service(ctx) {}

    void add(async_op_base* op) noexcept {
        std::lock_guard g(mutex_);
        WEFT_ASSERT(!op->linked_);
        op->prev_ = nullptr;
        op->next_ = head_;
        if (head_) head_->prev_ = op;
        head_ = op;
        op->linked_ = true;
    }
    void remove(async_op_base* op) noexcept {
        std::lock_guard g(mutex_);
        unlink(op);
    }

private:
    void unlink(async_op_base* op) noexcept {
        if (!op->linked_) return;
        (op->prev_ ? op->prev_->next_ : head_) = op->next_;
        if (op->next_) op->next_->prev_ = op->prev_;
        op->prev_ = op->next_ = nullptr;
        op->linked_ = false;
    }
    void shutdown() override {
        for (;;) {
            async_op_base* op;
            {
                std::lock_guard g(mutex_);
                op = head_;
                if (!op) return;
                unlink(op);
            }
            op->shutdown();  // may free op, whose destructor calls remove(): taken out already
        }
    }

    std::mutex mutex_;
    async_op_base* head_ = nullptr;  // guarded by mutex_
};

template <class Handler>
using async_executor_t = net::associated_executor_t<Handler, net::system_executor>;

// One asynchronous send, receive or select: the steps of select_core's run_select, with a
// suspension where a thread would park. Body holds the cases and makes the completion's
// arguments (see receive_body, send_body, select_body).
// A round's first step (phase 1 of select_core): the case that fires without waiting, or
// select_none. With an otherwise case it never waits: Go's default, and the blocking select's
// snapshot rule applies.
template <class Body>
std::size_t poll_ready(Body& body) {
    if (body.has_otherwise()) {
        std::size_t i = run_select(body.cases(), body.order(), body.size(), true, nullptr);
        return i == select_none ? body.otherwise_index() : i;
    }
    shuffle_order(body.order(), body.size());
    return poll_cases(body.cases(), body.order(), body.size());
}

template <class Body, class Handler>
class async_op final : public async_op_base {
    using allocator_type = typename std::allocator_traits<net::associated_allocator_t<
        Handler, net::recycling_allocator<void>>>::template rebind_alloc<async_op>;
    using work_type = std::decay_t<decltype(net::prefer(std::declval<async_executor_t<Handler>>(),
                                                        net::execution::outstanding_work.tracked))>;

public:
    // Starts the operation; the handler is called later, on its executor.
    template <class... A>
    static void start(Handler&& handler, A&&... args) {
        allocator_type alloc(
            net::get_associated_allocator(handler, net::recycling_allocator<void>()));
        async_op* op = std::allocator_traits<allocator_type>::allocate(alloc, 1);
        try {
            ::new (static_cast<void*>(op)) async_op(std::move(handler), std::forward<A>(args)...);
        } catch (...) {
            std::allocator_traits<allocator_type>::deallocate(alloc, op, 1);
            throw;
        }
        op->install_cancellation();
        op->run(true);
    }

private:
    enum : int { gate_initiating, gate_waiting, gate_woken, gate_posted };

    template <class... A>
    explicit async_op(Handler&& handler, A&&... args)
        : body_(std::forward<A>(args)...),
          handler_(std::move(handler)),
          work_(net::prefer(net::get_associated_executor(handler_, net::system_executor()),
                            net::execution::outstanding_work.tracked)),
          waiter_(wake_handle{&on_wake, this}) {
        // The waiter starts decided: run() re-arms it for each round.
        waiter_.try_select(sel_aborted);
    }
    ~async_op() {
        if (registry_) registry_->remove(this);
    }

    // Owns an operation between a post and its step. Destroyed without being called only when
    // the execution context shuts down: then it frees the operation, handler included.
    class step {
    public:
        explicit step(async_op* op) noexcept : op_(op) {}
        step(step&& o) noexcept : op_(std::exchange(o.op_, nullptr)) {}
        step& operator=(step&&) = delete;
        ~step() {
            if (!op_) return;
            op_->clear_slot();  // the handler never ran: its slot still holds our canceller
            destroy(op_);
        }
        void operator()() { std::exchange(op_, nullptr)->on_step(); }

        using allocator_type = typename async_op::allocator_type;
        allocator_type get_allocator() const noexcept {
            return allocator_type(
                net::get_associated_allocator(op_->handler_, net::recycling_allocator<void>()));
        }

    private:
        async_op* op_;
    };

    static void destroy(async_op* op) noexcept {
        allocator_type alloc(
            net::get_associated_allocator(op->handler_, net::recycling_allocator<void>()));
        op->~async_op();
        std::allocator_traits<allocator_type>::deallocate(alloc, op, 1);
    }

    void clear_slot() noexcept {
        auto slot = net::get_associated_cancellation_slot(handler_);
        if (slot.is_connected()) slot.clear();
    }
    void install_cancellation() {
        auto slot = net::get_associated_cancellation_slot(handler_);
        if (slot.is_connected()) slot.template emplace<canceller>(this);
    }
    struct canceller {
        explicit canceller(async_op* o) noexcept : op(o) {}
        async_op* op;
        void operator()(net::cancellation_type_t type) noexcept {
            if (type != net::cancellation_type::none) op->request_cancel();
        }
    };
    // The emitter runs on the operation's executor (Asio's rule for slots), but a peer may be
    // claiming the waiter from another thread at the same time: the CAS decides.
    void request_cancel() noexcept {
        // seq_cst: run() re-arms, then loads this flag; we store it, then CAS the waiter. One of
        // the two sees the other, so a cancel between two rounds is never lost.
        cancel_requested_.store(true, std::memory_order_seq_cst);
        if (waiter_.try_select(sel_aborted)) on_wake(this);
    }

    // A round: poll, and complete if a case fired; otherwise register and suspend.
    // `initiating`: called from the initiating function, where the handler must not run.
    void run(bool initiating) {
        select_case* const* cases = body_.cases();
        std::size_t* order = body_.order();
        const std::size_t n = body_.size();
        for (;;) {
            if (std::size_t i = poll_ready(body_); i != select_none) return finish(i, initiating);
            if (cancel_requested_.load(std::memory_order_relaxed))
                return finish(select_canceled, initiating);
            if (!registry_) {
                // Before the first registration in a channel: nothing can fail once we are in.
                registry_ =
                    &net::use_service<async_registry>(net::query(work_, net::execution::context));
                registry_->add(this);
            }
            // relaxed: the release of rearm() publishes it to whoever claims the waiter.
            gate_.store(gate_initiating, std::memory_order_relaxed);
            waiter_.rearm();
            bool self_aborted = false;
            if (cancel_requested_.load(std::memory_order_seq_cst)) {
                self_aborted = waiter_.try_select(sel_aborted);
                enlisted_ = 0;
            } else {
                enlisted_ = enlist_cases(cases, order, n, waiter_, self_aborted);
            }
            if (self_aborted) {
                // Nobody else claimed us, so nobody will wake us: take back and go round.
                (void)delist_cases(cases, order, enlisted_, waiter_, sel_aborted);
                continue;
            }
            // acq_rel: a waker's CAS that failed against this sees our registration done; ours
            // failing means a wake came during registration, and we post the step for it.
            int expected = gate_initiating;
            if (gate_.compare_exchange_strong(expected, gate_waiting, std::memory_order_acq_rel))
                return;
            post_step();
            return;
        }
    }

    static void on_wake(void* self) noexcept {
        auto* op = static_cast<async_op*>(self);
        int expected = gate_initiating;
        // acq_rel: pairs with run()'s CAS (see there).
        if (op->gate_.compare_exchange_strong(expected, gate_woken, std::memory_order_acq_rel))
            return;
        WEFT_ASSERT(expected == gate_waiting);
        op->post_step();
    }

    // Hands the operation to its executor. Asio may allocate here (from its recycling cache as a
    // rule): a failure terminates, as it would in any other noexcept wake path.
    void post_step() noexcept {
        net::defer(work_, step(this));
        // release: the step waits for this (acquire) before it touches, and maybe frees, us.
        gate_.store(gate_posted, std::memory_order_release);
    }

    void on_step() {
        while (gate_.load(std::memory_order_acquire) != gate_posted) std::this_thread::yield();
        if (fired_ != no_result) return complete();
        select_case* const* cases = body_.cases();
        const std::uintptr_t sel = waiter_.selected();
        const std::size_t chosen = delist_cases(cases, body_.order(), enlisted_, waiter_, sel);
        if (chosen != select_none && fired(cases[chosen]->accept())) {
            fired_ = chosen;
            return complete();
        }
        run(false);  // closed, aborted, or a retry that failed: another round
    }

    // `i`: the case that fired, an otherwise case, or select_canceled.
    void finish(std::size_t i, bool initiating) {
        fired_ = i;
        if (!initiating) return complete();
        // Nobody else knows this operation yet: the step may run as soon as it is posted.
        gate_.store(gate_posted, std::memory_order_relaxed);
        net::defer(work_, step(this));
    }

    // On the handler's executor: make the arguments, free the operation, call the handler.
    void complete() {
        clear_slot();
        auto args = body_.result(fired_);
        Handler h(std::move(handler_));
        destroy(this);
        std::apply(std::move(h), std::move(args));
    }

    void shutdown() noexcept override {
        if (waiter_.try_select(sel_aborted)) {
            (void)delist_cases(body_.cases(), body_.order(), enlisted_, waiter_, sel_aborted);
            registry_ = nullptr;  // the registry took us out already
            clear_slot();         // nobody runs the context now: no emitter races this
            destroy(this);
            return;
        }
        // Claimed: the claimer is posting our step (a moment: it holds no lock and blocks on
        // nothing); Asio's scheduler destroys the step when it shuts down after us.
        while (gate_.load(std::memory_order_acquire) != gate_posted) std::this_thread::yield();
        registry_ = nullptr;
    }

    static constexpr std::size_t no_result = select_none - 1;

    Body body_;
    Handler handler_;
    work_type work_;
    waiter waiter_;
    std::atomic<int> gate_{gate_posted};
    std::atomic<bool> cancel_requested_{false};
    std::size_t enlisted_ = 0;
    std::size_t fired_ = no_result;
    async_registry* registry_ = nullptr;
};

template <class Body, class Handler, class... A>
void start_async(Handler&& handler, A&&... args) {
    async_op<Body, std::decay_t<Handler>>::start(std::move(handler), std::forward<A>(args)...);
}

// A handler and the arguments it will be called with; allocates (when Asio posts it) with the
// handler's allocator.
template <class Handler, class Arg>
class bound_completion {
public:
    bound_completion(Handler&& h, Arg&& a) : h_(std::move(h)), a_(std::move(a)) {}
    void operator()() { std::move(h_)(std::move(a_)); }

    using allocator_type = net::associated_allocator_t<Handler>;
    allocator_type get_allocator() const noexcept { return net::get_associated_allocator(h_); }

private:
    Handler h_;
    Arg a_;
};

// Completes a handler with `arg` later, on its executor (an operation that did not wait).
template <class Handler, class Arg>
void complete_later(Handler&& handler, Arg&& arg) {
    auto ex = net::get_associated_executor(handler, net::system_executor());
    net::defer(ex, bound_completion<Handler, Arg>(std::move(handler), std::move(arg)));
}

template <class H>
class receive_body {
    using T = channel_value_t<H>;

public:
    explicit receive_body(H h) : c_(std::move(h)) { table_[0] = c_.enabled() ? &c_ : nullptr; }

    select_case* const* cases() noexcept { return table_; }
    std::size_t* order() noexcept { return order_; }
    static constexpr std::size_t size() noexcept { return 1; }
    static constexpr bool has_otherwise() noexcept { return false; }
    static constexpr std::size_t otherwise_index() noexcept { return select_none; }

    std::tuple<receive_result<T>> result(std::size_t fired) {
        if (fired == 0) return {receive_result<T>{c_.status(), std::move(c_.value())}};
        return {receive_result<T>{op_status::canceled, std::nullopt}};
    }

private:
    receive_op<H> c_;
    select_case* table_[1];
    std::size_t order_[1] = {};
};

template <class H>
class send_body {
    using T = channel_value_t<H>;

public:
    send_body(H h, T v) : c_(std::move(h), std::move(v)) {
        table_[0] = c_.enabled() ? &c_ : nullptr;
    }

    select_case* const* cases() noexcept { return table_; }
    std::size_t* order() noexcept { return order_; }
    static constexpr std::size_t size() noexcept { return 1; }
    static constexpr bool has_otherwise() noexcept { return false; }
    static constexpr std::size_t otherwise_index() noexcept { return select_none; }

    std::tuple<send_result<T>> result(std::size_t fired) {
        if (fired == 0 && c_.status() == op_status::ok) return {send_result<T>{op_status::ok, {}}};
        const op_status st = fired == 0 ? c_.status() : op_status::canceled;
        return {send_result<T>{st, std::optional<T>(std::move(c_.value()))}};
    }

private:
    send_op<H, T> c_;
    select_case* table_[1];
    std::size_t order_[1] = {};
};

// The owning copy of a select case: handles and functions held by value (the operation outlives
// the expression that built the cases); a send value given as an lvalue stays referenced.
template <class C>
struct owned_case;
template <class H, class F>
struct owned_case<receive_case<H, F>> {
    using type = receive_case<std::remove_cvref_t<H>, std::decay_t<F>>;
};
template <class H, class V, class F>
struct owned_case<send_case<H, V, F>> {
    using type = send_case<std::remove_cvref_t<H>, V, std::decay_t<F>>;
};
template <class F>
struct owned_case<otherwise_case<F>> {
    using type = otherwise_case<std::decay_t<F>>;
};
template <class C>
using owned_case_t = typename owned_case<std::remove_cvref_t<C>>::type;

template <class... Cases>
class select_body {
    static constexpr std::size_t n = sizeof...(Cases);

public:
    template <class... A>
    explicit select_body(A&&... cases) : cases_(std::forward<A>(cases)...) {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            ((table_[I] = enabled_case(std::get<I>(cases_))), ...);
        }(std::make_index_sequence<n>{});
    }

    select_case* const* cases() noexcept { return table_; }
    std::size_t* order() noexcept { return order_; }
    static constexpr std::size_t size() noexcept { return n; }
    static constexpr bool has_otherwise() noexcept { return otherwise_at != select_none; }
    static constexpr std::size_t otherwise_index() noexcept { return otherwise_at; }
    // The cases, to be moved into an operation while none has run (the use_awaitable path).
    std::tuple<Cases...>& owned() noexcept { return cases_; }

    // Runs the function of the case that fired; an exception it throws is the first argument.
    std::tuple<std::exception_ptr, std::size_t> result(std::size_t fired) {
        if (fired == select_canceled) return {nullptr, select_canceled};
        try {
            [&]<std::size_t... I>(std::index_sequence<I...>) {
                ((fired == I ? (std::get<I>(cases_).fire(), 0) : 0), ...);
            }(std::make_index_sequence<n>{});
        } catch (...) { return {std::current_exception(), fired}; }
        return {nullptr, fired};
    }

private:
    template <class C>
    static select_case* enabled_case(C& c) noexcept {
        if constexpr (is_otherwise<C>::value) {
            return nullptr;
        } else {
            return c.enabled() ? &c : nullptr;
        }
    }
    static constexpr std::size_t find_otherwise() noexcept {
        std::size_t i = 0, at = select_none;
        ((is_otherwise<Cases>::value ? (at = i, ++i) : ++i), ...);
        return at;
    }
    static constexpr std::size_t otherwise_at = find_otherwise();

    std::tuple<Cases...> cases_;
    select_case* table_[n] = {};
    std::size_t order_[n] = {};
};

// A selector's cases, where they live (the selector outlives the operation).
class selector_body {
public:
    explicit selector_body(selector& s) noexcept : s_(&s) { s.prepare(); }

    select_case* const* cases() noexcept { return s_->table_.data(); }
    std::size_t* order() noexcept { return s_->order_.data(); }
    std::size_t size() const noexcept { return s_->cases_.size(); }
    static constexpr bool has_otherwise() noexcept { return false; }
    static constexpr std::size_t otherwise_index() noexcept { return select_none; }

    std::tuple<std::exception_ptr, std::size_t> result(std::size_t fired) {
        if (fired == select_canceled) return {nullptr, select_canceled};
        try {
            s_->fire(fired);
        } catch (...) { return {std::current_exception(), fired}; }
        return {nullptr, fired};
    }

private:
    selector* s_;
};

// The initiations: a callback is never called inside them (complete_later, or the operation's
// own defer).
template <class D>
struct send_initiation {
    template <class Handler, class T>
    void operator()(Handler handler, D h, T value) const {
        // Nobody waits for us if a receiver or the buffer can take the value now.
        auto r = h.try_send(std::move(value));
        if (r.status != op_status::full) return complete_later(std::move(handler), std::move(r));
        start_async<send_body<D>>(std::move(handler), std::move(h), std::move(*r.value));
    }
};

template <class D>
struct receive_initiation {
    template <class Handler>
    void operator()(Handler handler, D h) const {
        auto r = h.try_receive();
        if (r.status != op_status::empty) return complete_later(std::move(handler), std::move(r));
        start_async<receive_body<D>>(std::move(handler), std::move(h));
    }
};

template <class Body>
struct select_initiation {
    template <class Handler, class... C>
    void operator()(Handler handler, C&&... c) const {
        start_async<Body>(std::move(handler), std::move(c)...);
    }
};

struct selector_initiation {
    template <class Handler>
    void operator()(Handler handler, selector* s) const {
        start_async<selector_body>(std::move(handler), *s);
    }
};

// The use_awaitable fast path. Asio 1.81's use_awaitable suspends the coroutine for every
// operation and resumes it through the executor's queue (a frame for the initiation, a handler,
// a scheduler round trip), even when the channel is ready. An operation awaited with plain
// use_awaitable is instead a small awaitable that tries first and, when a case fires at once,
// returns without suspending: the coroutine goes on in the same co_await (what Asio 1.83 calls
// an immediate completion). Only an operation that must wait starts an async_op (a select
// through async_initiate; a send or receive in the awaitable's own frame, see
// wait_in_this_frame). Other tokens (callbacks, deferred, as_tuple(use_awaitable)...) keep the
// initiation above: their handler is never called inside the initiating function.
//
// Fairness: a coroutine whose operations always complete at once would never yield its thread
// (Go preempts a goroutine after 10 ms; a coroutine cannot be preempted). So a thread makes at
// most ready_run_limit immediate completions in a row; the next operation takes the executor's
// queue (through complete_later, when ready), and the handlers waiting there run first. The
// count is per thread, not per coroutine: any operation that suspends resets it. 64 spreads
// the queue's round trip over many operations and still hands the thread over often.
//
// The awaitable owns a copy of the caller's handle. A pointer would save a shared_ptr copy (a
// fifth of ProdCons/1p1c/cap100/weft_coro/1t) but dangle when a stored awaitable outlives a
// temporary handle, as in co_spawn(ex, make_channel().async_receive(use_awaitable), ...).
#if defined(BOOST_ASIO_HAS_CO_AWAIT)
template <class Token>
struct awaitable_token : std::false_type {};
template <class Executor>
struct awaitable_token<net::use_awaitable_t<Executor>> : std::true_type {
    using executor_type = Executor;
};

inline constexpr unsigned ready_run_limit = 64;

// This thread's immediate completions since it last went through the executor's queue.
inline unsigned& ready_run() noexcept {
    thread_local unsigned n = 0;
    return n;
}

// Whether the caller may complete at once; if it may, and does, it calls ready_done().
inline bool ready_allowed() noexcept { return ready_run() < ready_run_limit; }
inline void ready_done() noexcept { ++ready_run(); }
// The caller takes the executor's queue (it waits, or yields).
inline void ready_yield() noexcept { ready_run() = 0; }

// An operation that waits does so in the awaitable's own frame, not in one more: the frame
// plays the part of the one async_result<use_awaitable_t>::initiate makes per operation (Asio's
// impl/use_awaitable.hpp). Awaiting the function suspends the coroutine; do_init then hands the
// coroutine's thread to a handler and runs the initiation; the handler completes this frame
// with its argument and pops it, without resuming it. (Through async_initiate a waiting
// operation cost two frames: a fifth more memory per parked coroutine, and slower wake-ups.)
template <class Executor, class Signature, class Initiation, class... A>
auto wait_in_this_frame(Initiation& init, net::use_awaitable_t<Executor>& token,
                        A&... args) noexcept {
    return [&init, &token, &args...](auto* frame) {
        return net::async_result<net::use_awaitable_t<Executor>, Signature>::do_init(
            frame, init, token, args...);
    };
}

template <class Executor, class T, class D>
net::awaitable<send_result<T>, Executor> awaitable_send(D h, T v) {
    std::optional<T> back;  // the value a try handed back (T need not be assignable)
    if (ready_allowed()) {
        auto r = h.try_send(std::move(v));
        if (r.status != op_status::full) {
            ready_done();
            co_return r;
        }
        back.emplace(std::move(*r.value));
    }
    ready_yield();
    T& value = back ? *back : v;
    net::use_awaitable_t<Executor> token;
    send_initiation<D> init;
    co_await wait_in_this_frame<Executor, void(send_result<T>)>(init, token, h, value);
    std::terminate();  // never resumed: the handler completed and popped this frame
}

template <class Executor, class T, class D>
net::awaitable<receive_result<T>, Executor> awaitable_receive(D h) {
    if (ready_allowed()) {
        auto r = h.try_receive();
        if (r.status != op_status::empty) {
            ready_done();
            co_return r;
        }
    }
    ready_yield();
    net::use_awaitable_t<Executor> token;
    receive_initiation<D> init;
    co_await wait_in_this_frame<Executor, void(receive_result<T>)>(init, token, h);
    std::terminate();  // never resumed: the handler completed and popped this frame
}

// A case that fires at once runs its function here; an exception it throws propagates out of
// the co_await, as use_awaitable rethrows the exception_ptr of the slow path.
template <class Executor, class Body, class Initiation, class... A>
net::awaitable<std::size_t, Executor> awaitable_select(Body& body, Initiation init, A&&... args) {
    net::use_awaitable_t<Executor> token;
    if (ready_allowed()) {
        if (std::size_t i = poll_ready(body); i != select_none) {
            ready_done();
            auto [e, fired] = body.result(i);
            if (e) std::rethrow_exception(e);
            co_return fired;
        }
    }
    ready_yield();
    co_return co_await net::async_initiate<net::use_awaitable_t<Executor>,
                                           void(std::exception_ptr, std::size_t)>(
        std::move(init), token, std::forward<A>(args)...);
}

template <class Executor, class Body, class... C>
net::awaitable<std::size_t, Executor> awaitable_select_cases(C... cases) {
    Body body(std::move(cases)...);
    // Nothing fired in the poll, so no case ran: they move into the operation as they are.
    co_return co_await std::apply(
        [&](auto&... c) {
            return awaitable_select<Executor>(body, select_initiation<Body>{}, std::move(c)...);
        },
        body.owned());
}

template <class Executor>
net::awaitable<std::size_t, Executor> awaitable_selector(selector* s) {
    selector_body body(*s);
    co_return co_await awaitable_select<Executor>(body, selector_initiation{}, s);
}
#endif

}  // namespace detail

template <class T, class D>
template <class Token>
auto detail::send_api<T, D>::async_send(T v, Token&& token) const {
#if defined(BOOST_ASIO_HAS_CO_AWAIT)
    if constexpr (detail::awaitable_token<std::decay_t<Token>>::value) {
        return detail::awaitable_send<
            typename detail::awaitable_token<std::decay_t<Token>>::executor_type, T>(
            static_cast<const D&>(*this), std::move(v));
    } else
#endif
    {
        return boost::asio::async_initiate<Token, void(send_result<T>)>(
            detail::send_initiation<D>{}, token, static_cast<const D&>(*this), std::move(v));
    }
}

template <class T, class D>
template <class Token>
auto detail::receive_api<T, D>::async_receive(Token&& token) const {
#if defined(BOOST_ASIO_HAS_CO_AWAIT)
    if constexpr (detail::awaitable_token<std::decay_t<Token>>::value) {
        return detail::awaitable_receive<
            typename detail::awaitable_token<std::decay_t<Token>>::executor_type, T>(
            static_cast<const D&>(*this));
    } else
#endif
    {
        return boost::asio::async_initiate<Token, void(receive_result<T>)>(
            detail::receive_initiation<D>{}, token, static_cast<const D&>(*this));
    }
}

template <class Token>
auto selector::async_select(Token&& token) {
#if defined(BOOST_ASIO_HAS_CO_AWAIT)
    if constexpr (detail::awaitable_token<std::decay_t<Token>>::value) {
        return detail::awaitable_selector<
            typename detail::awaitable_token<std::decay_t<Token>>::executor_type>(this);
    } else
#endif
    {
        return boost::asio::async_initiate<Token, void(std::exception_ptr, std::size_t)>(
            detail::selector_initiation{}, token, this);
    }
}

// Go's select from a coroutine: the cases of weft::select (on_receive, on_send, otherwise; a
// timer is a channel), the same uniform choice and lossless guarantee. Completes with
// (std::exception_ptr, std::size_t): the index of the case that fired, after its function ran
// on the handler's executor (an exception it threw is the first argument; use_awaitable
// rethrows it), or select_canceled when the operation was canceled before any case fired.
// The operation owns copies of the handles and functions; a send value given as an lvalue is
// referenced (moved from only if its case fires) and must outlive the operation.
template <class Token, class... Cases>
auto async_select(Token&& token, Cases&&... cases) {
    static_assert(sizeof...(Cases) > 0, "async_select: needs at least one case");
    static_assert(
        (std::size_t{detail::is_otherwise<std::remove_cvref_t<Cases>>::value} + ... + 0) <= 1,
        "async_select: at most one otherwise case");
    using body = detail::select_body<detail::owned_case_t<Cases>...>;
#if defined(BOOST_ASIO_HAS_CO_AWAIT)
    if constexpr (detail::awaitable_token<std::decay_t<Token>>::value) {
        return detail::awaitable_select_cases<
            typename detail::awaitable_token<std::decay_t<Token>>::executor_type, body>(
            detail::owned_case_t<Cases>(std::move(cases))...);
    } else
#endif
    {
        return boost::asio::async_initiate<Token, void(std::exception_ptr, std::size_t)>(
            detail::select_initiation<body>{}, token,
            detail::owned_case_t<Cases>(std::move(cases))...);
    }
}

// Contexts and Asio cancellation, both ways.

// An Asio cancellation signal that a weft context drives: bind Asio operations (a timer, a
// socket, a weft channel operation) to slot() and they are canceled when `ctx` is canceled, as
// Go's operations that take a ctx are. The emission is posted to `ex`, the executor the bound
// operations run on (Asio's rule: a slot is used from its operation's executor), so a context
// canceled on any thread is safe. One operation is bound to the slot at a time (Asio's rule
// for a slot). Keeps nothing alive but itself; destroying it unregisters from the context.
// Posting the emission may allocate; a failure then terminates (it runs inside the context's
// noexcept cancel).
//
//     weft::context_signal cancel_on(ctx, co_await asio::this_coro::executor);
//     co_await timer.async_wait(asio::bind_cancellation_slot(cancel_on.slot(),
//     asio::use_awaitable));
template <class Executor>
class context_signal {
public:
    context_signal(const context& ctx, Executor ex,
                   boost::asio::cancellation_type type = boost::asio::cancellation_type::terminal)
        : state_(std::make_shared<state>(std::move(ex), type)),
          callback_(ctx.stop_token(), emit_later{state_}) {}
    context_signal(const context_signal&) = delete;
    context_signal& operator=(const context_signal&) = delete;

    boost::asio::cancellation_slot slot() noexcept { return state_->signal.slot(); }

private:
    struct state {
        state(Executor e, boost::asio::cancellation_type t) : ex(std::move(e)), type(t) {}
        Executor ex;
        boost::asio::cancellation_type type;
        boost::asio::cancellation_signal signal;  // used on `ex` only
    };
    // Runs on the canceling thread; the emission itself runs on `ex`. The state outlives this
    // object if the posted emission is still queued.
    struct emit_later {
        std::shared_ptr<state> s;
        void operator()() const noexcept {
            boost::asio::post(s->ex, [s = s] { s->signal.emit(s->type); });
        }
    };

    std::shared_ptr<state> state_;
    std::stop_callback<emit_later> callback_;
};

template <class Executor>
context_signal(const context&, Executor) -> context_signal<Executor>;
template <class Executor>
context_signal(const context&, Executor, boost::asio::cancellation_type)
    -> context_signal<Executor>;

// A child of `parent` that is canceled when an Asio cancellation is emitted on `slot` (any
// type), or when `parent` is: hand Asio's cancellation to code that takes a weft context (a
// thread blocked in receive(ctx), a worker pool, a pipeline). The slot must be one nobody else
// installs a handler in until the cancellation came (a slot holds one handler): a
// cancellation_signal's, or the slot of a handler a composed operation was given. Not a
// coroutine's own this_coro::cancellation_state slot, which its next co_await takes over: a
// coroutine passes its cancellation on by awaiting ctx.done().async_receive() and calling the
// cancel function when that completes with canceled.
[[nodiscard]] inline cancelable<cancel_func> with_cancellation_slot(
    const context& parent, boost::asio::cancellation_slot slot) {
    auto c = with_cancel(parent);
    struct on_cancel {
        explicit on_cancel(cancel_func f) noexcept : cancel(std::move(f)) {}
        cancel_func cancel;
        void operator()(boost::asio::cancellation_type_t type) const noexcept {
            if (type != boost::asio::cancellation_type::none) cancel();
        }
    };
    if (slot.is_connected()) slot.template emplace<on_cancel>(c.cancel);
    return c;
}

WEFT_END_NAMESPACE

// Asynchronous waits of the synchronization patterns (semaphore, rate limiter).
#include "detail/asio_sync.hpp"

// Coroutines await wait_group and error_group; error_group runs coroutine tasks; weft::spawn.
#include "detail/asio_groups.hpp"
