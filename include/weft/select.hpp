// weft/select.hpp - Go's select statement, over channels of any element types at once.
//
//     weft::select(
//         weft::on_receive(jobs, [&](std::optional<job> j) { ... }),   // empty optional: closed
//         weft::on_send(results, r, [&] { ... }),
//         weft::on_receive(weft::after(1s), [&] { ... }),               // a timeout is a channel
//         weft::otherwise([&] { ... }));                                 // Go's default
//
// Semantics (Go's): among the cases that can proceed one is chosen uniformly at random; with
// none ready and no `otherwise`, select blocks until one is. Exactly one case fires and runs its
// function, after select has released every channel. A case on a nil handle never fires. A
// receive case on a closed channel fires with an empty optional; a send case on a closed channel
// fires with `false` (if its function takes a bool) and the value is not consumed.
//
// Guarantees beyond Go: lossless (a case that does not fire never consumes a value; an lvalue
// given to on_send is moved from only if that case fires), and a select never pairs with itself
// on a rendezvous channel. Returns the index of the case that fired.
//
// Cases refer to the handles and values they were given: build them inside the select call.
//
// `selector` is the same select with a number of cases known only at run time (fan-in over a
// vector of channels without a thread each).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "channel.hpp"
#include "detail/config.hpp"
#include "detail/invoke.hpp"
#include "detail/select_core.hpp"

WEFT_BEGIN_NAMESPACE

namespace detail {

class selector_body;

// Holds what a case was given: a reference to an lvalue, the object itself for an rvalue.
template <class A>
using held_t = std::conditional_t<std::is_lvalue_reference_v<A>, A, std::remove_cvref_t<A>>;

template <class T, class F>
void invoke_receive(F& fn, std::optional<T>&& v) {
    if constexpr (std::is_invocable_v<F&, std::optional<T>&&>) {
        detail::invoke(fn, std::move(v));
    } else {
        static_assert(std::is_invocable_v<F&>,
                      "on_receive: the function must take std::optional<T> (empty when the "
                      "channel is closed) or nothing");
        detail::invoke(fn);
    }
}

template <class F>
void invoke_send(F& fn, bool sent) {
    if constexpr (std::is_invocable_v<F&, bool>) {
        detail::invoke(fn, sent);
    } else {
        static_assert(std::is_invocable_v<F&>,
                      "on_send: the function must take a bool (false when the channel was "
                      "closed) or nothing");
        detail::invoke(fn);
    }
}

// The channel side of a receive case: what the select machinery drives. A case and the
// asynchronous receive of weft/asio.hpp add what happens when it fires.
template <class H>
class receive_op : public select_case {
public:
    using value_type = channel_value_t<H>;

    explicit receive_op(H&& h) : select_case(&packet_), h_(std::forward<H>(h)) {
        packet_.dst = &value_;
    }
    // Moving is for cases that never ran (an asynchronous select carries its cases into its
    // operation): the packet is new, so the id is too.
    receive_op(receive_op&& o) noexcept(std::is_nothrow_constructible_v<held_t<H>, held_t<H>&&>)
        : select_case(&packet_), h_(std::forward<held_t<H>>(o.h_)) {
        WEFT_ASSERT(!o.packet_.node.linked && !o.value_);
        packet_.dst = &value_;
    }

    bool enabled() const noexcept { return state() != nullptr; }
    op_status poll() override {
        return last_ = visit([&](auto& f) { return f.try_recv(value_); });
    }
    bool enlist(waiter& w) override {
        return visit([&](auto& f) { return f.register_recv(w, &packet_); });
    }
    void delist(waiter& w) override {
        visit([&](auto& f) { f.unregister_recv(w, &packet_); });
    }
    op_status accept() override {
        return last_ = visit([&](auto& f) { return f.accept_recv(value_, &packet_); });
    }
    std::uint64_t version() const override {
        return state()->visit([](const auto& f) { return f.version(); });
    }
    // After the case fired: the value (empty when the channel was closed and drained).
    std::optional<value_type>& value() noexcept { return value_; }
    op_status status() const noexcept { return last_; }
    const held_t<H>& handle() const noexcept { return h_; }

private:
    chan_state<value_type>* state() const noexcept { return access::state(h_); }
    template <class G>
    decltype(auto) visit(G&& g) {
        return state()->visit(std::forward<G>(g));
    }

    held_t<H> h_;
    std::optional<value_type> value_;
    packet<value_type> packet_;
    op_status last_ = op_status::empty;
};

template <class H, class F>
class receive_case final : public receive_op<H> {
public:
    receive_case(H&& h, F&& fn) : receive_op<H>(std::forward<H>(h)), fn_(std::forward<F>(fn)) {}
    receive_case(receive_case&& o)
        : receive_op<H>(std::move(o)), fn_(std::forward<held_t<F>>(o.fn_)) {}
    // The same case owning its handle and function (an asynchronous select keeps its cases
    // past the expression that built them). Only a case that never ran is copied from.
    template <class H2, class F2>
    explicit receive_case(receive_case<H2, F2>&& o)
        : receive_op<H>(H(o.handle())), fn_(std::forward<F2>(o.fn_)) {}

    void fire() {
        invoke_receive<channel_value_t<H>>(fn_, std::move(this->value()));
        this->value().reset();
    }
    bool consumed() const noexcept { return false; }

private:
    template <class, class>
    friend class receive_case;
    held_t<F> fn_;
};

// The channel side of a send case (see receive_op).
template <class H, class V>
class send_op : public select_case {
public:
    using value_type = channel_value_t<H>;

    send_op(H&& h, V&& v) : select_case(&packet_), h_(std::forward<H>(h)), v_(std::forward<V>(v)) {
        packet_.src = &value();
    }
    // For cases that never ran (see receive_op).
    send_op(send_op&& o)
        : select_case(&packet_),
          h_(std::forward<held_t<H>>(o.h_)),
          v_(std::forward<held_t<V>>(o.v_)) {
        WEFT_ASSERT(!o.packet_.node.linked);
        packet_.src = &value();
    }

    bool enabled() const noexcept { return state() != nullptr; }
    op_status poll() override {
        return last_ = visit([&](auto& f) { return f.try_send(value()); });
    }
    bool enlist(waiter& w) override {
        return visit([&](auto& f) { return f.register_send(w, &packet_); });
    }
    void delist(waiter& w) override {
        visit([&](auto& f) { f.unregister_send(w, &packet_); });
    }
    op_status accept() override {
        return last_ = visit([&](auto& f) { return f.accept_send(value(), &packet_); });
    }
    std::uint64_t version() const override {
        return state()->visit([](const auto& f) { return f.version(); });
    }
    bool consumed() const noexcept { return last_ == op_status::ok; }
    op_status status() const noexcept { return last_; }
    value_type& value() noexcept { return v_; }
    const held_t<H>& handle() const noexcept { return h_; }

private:
    chan_state<value_type>* state() const noexcept { return access::state(h_); }
    template <class G>
    decltype(auto) visit(G&& g) {
        return state()->visit(std::forward<G>(g));
    }

    held_t<H> h_;
    held_t<V> v_;
    packet<value_type> packet_;
    op_status last_ = op_status::full;
};

template <class H, class V, class F>
class send_case final : public send_op<H, V> {
public:
    send_case(H&& h, V&& v, F&& fn)
        : send_op<H, V>(std::forward<H>(h), std::forward<V>(v)), fn_(std::forward<F>(fn)) {}
    send_case(send_case&& o) : send_op<H, V>(std::move(o)), fn_(std::forward<held_t<F>>(o.fn_)) {}
    // The same case owning its handle and function; the value is moved over, unless the source
    // referred to an lvalue, which this one then refers to as well (see receive_case).
    template <class H2, class V2, class F2>
    explicit send_case(send_case<H2, V2, F2>&& o)
        : send_op<H, V>(H(o.handle()), forward_value(o)), fn_(std::forward<F2>(o.fn_)) {}

    void fire() { invoke_send(fn_, this->status() == op_status::ok); }

private:
    template <class, class, class>
    friend class send_case;
    template <class O>
    static V&& forward_value(O& o) noexcept {
        return static_cast<V&&>(o.value());
    }
    held_t<F> fn_;
};

template <class F>
class otherwise_case {
public:
    explicit otherwise_case(F&& fn) : fn_(std::forward<F>(fn)) {}
    // The same case owning its function (see receive_case).
    template <class F2>
    explicit otherwise_case(otherwise_case<F2>&& o) : fn_(std::forward<F2>(o.fn_)) {}
    void fire() { detail::invoke(fn_); }

private:
    template <class>
    friend class otherwise_case;
    held_t<F> fn_;
};

template <class C>
struct is_otherwise : std::false_type {};
template <class F>
struct is_otherwise<otherwise_case<F>> : std::true_type {};

}  // namespace detail

// A case that receives from `rx` (a channel<T> or receiver<T>) and calls fn(std::optional<T>)
// (empty when the channel is closed and drained) or fn().
template <class H, class F>
    requires receivable<H>
[[nodiscard]] auto on_receive(H&& rx, F&& fn) {
    return detail::receive_case<H, F>(std::forward<H>(rx), std::forward<F>(fn));
}

// A case that sends `value` on `tx` (a channel<T> or sender<T>) and calls fn(bool sent) or fn().
// An lvalue `value` is moved from only if this case fires with sent == true.
template <class H, class V, class F>
    requires sendable<H> && (std::is_same_v<V &&, channel_value_t<H>&> ||
                             std::is_convertible_v<V &&, channel_value_t<H>>)
[[nodiscard]] auto on_send(H&& tx, V&& value, F&& fn) {
    using T = channel_value_t<H>;
    // An lvalue of exactly T is referenced; anything else becomes a T stored in the case.
    if constexpr (std::is_same_v<V&&, T&>) {
        return detail::send_case<H, T&, F>(std::forward<H>(tx), value, std::forward<F>(fn));
    } else {
        return detail::send_case<H, T, F>(std::forward<H>(tx), T(std::forward<V>(value)),
                                          std::forward<F>(fn));
    }
}

// Go's `default:` - runs when no other case is ready; select then never blocks.
template <class F>
[[nodiscard]] auto otherwise(F&& fn) {
    return detail::otherwise_case<F>(std::forward<F>(fn));
}

// Runs one ready case (uniformly at random among the ready ones), blocking until one is ready
// unless an `otherwise` case is given. Returns the index of the case that ran.
template <class... Cases>
std::size_t select(Cases&&... cases) {
    constexpr std::size_t n = sizeof...(Cases);
    constexpr std::size_t n_otherwise =
        (std::size_t{detail::is_otherwise<std::remove_cvref_t<Cases>>::value} + ... + 0);
    static_assert(n_otherwise <= 1, "select: at most one otherwise case");
    static_assert(n > 0, "select: needs at least one case");

    auto all = std::forward_as_tuple(cases...);
    detail::select_case* table[n] = {};
    std::size_t order[n] = {};
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        ((table[I] = [&]() -> detail::select_case* {
             auto& c = std::get<I>(all);
             if constexpr (detail::is_otherwise<std::remove_cvref_t<decltype(c)>>::value) {
                 return nullptr;
             } else {
                 return c.enabled() ? &c : nullptr;
             }
         }()),
         ...);
    }(std::make_index_sequence<n>{});

    std::size_t fired = detail::run_select(table, order, n, n_otherwise != 0, nullptr);
    if (fired == detail::select_none) {
        // Only reachable with an otherwise case: find it.
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            ((detail::is_otherwise<std::remove_cvref_t<decltype(std::get<I>(all))>>::value
                  ? (std::get<I>(all).fire(), fired = I, 0)
                  : 0),
             ...);
        }(std::make_index_sequence<n>{});
        return fired;
    }
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        ((fired == I ? (std::get<I>(all).fire(), 0) : 0), ...);
    }(std::make_index_sequence<n>{});
    return fired;
}

// A select whose cases are added at run time. Reusable: each select()/try_select() call runs one
// case. A send case that sent its value is disabled before its function runs (so also when the
// function throws): it sends at most once. A send case that fired on a closed channel keeps its
// value and stays enabled. An exception from a case's function propagates out of select().
//
// @par Thread Safety
// One selector is used by one thread at a time.
class selector {
public:
    // Adds a receive case; returns its index. fn(std::optional<T>) or fn().
    template <class H, class F>
        requires receivable<H>
    std::size_t add_receive(H&& rx, F&& fn) {
        using R = std::remove_cvref_t<H>;
        using G = std::decay_t<F>;
        return add(std::make_unique<dyn<detail::receive_case<R, G>>>(R(std::forward<H>(rx)),
                                                                     G(std::forward<F>(fn))));
    }

    // Adds a send case owning a copy of `value`; returns its index. fn(bool sent) or fn().
    template <class H, class V, class F>
        requires sendable<H>
    std::size_t add_send(H&& tx, V&& value, F&& fn) {
        using S = std::remove_cvref_t<H>;
        using T = channel_value_t<H>;
        using G = std::decay_t<F>;
        return add(std::make_unique<dyn<detail::send_case<S, T, G>>>(
            S(std::forward<H>(tx)), T(std::forward<V>(value)), G(std::forward<F>(fn))));
    }

    // A disabled case never fires (like a nil channel in Go), e.g. a closed input of a fan-in.
    // A send case that has sent its value stays disabled: enabling it again does nothing.
    void set_enabled(std::size_t i, bool on) {
        auto& c = *cases_.at(i);
        c.enabled = on && !c.consumed();
    }
    bool enabled(std::size_t i) const { return cases_.at(i)->enabled; }
    std::size_t size() const noexcept { return cases_.size(); }

    // Blocks until a case fires; runs it; returns its index. With no enabled case it blocks
    // forever, as Go's empty select does.
    std::size_t select() { return run(false, nullptr); }

    // Runs a ready case, if any.
    [[nodiscard]] std::optional<std::size_t> try_select() { return wrap(run(true, nullptr)); }

    // Waits from a coroutine or other asynchronous code, in Boost.Asio's completion-token model:
    // completes as weft::async_select does, with (std::exception_ptr, index of the case that
    // ran, or select_canceled). The selector must outlive the operation and is not used by
    // anyone else meanwhile. Defined in weft/asio.hpp.
    template <class Token>
    auto async_select(Token&& token);

    template <class Rep, class Per>
    [[nodiscard]] std::optional<std::size_t> select_for(const std::chrono::duration<Rep, Per>& d) {
        auto deadline = detail::deadline_after(d);
        return wrap(run(false, &deadline));
    }
    template <class Clock, class Dur>
    [[nodiscard]] std::optional<std::size_t> select_until(
        const std::chrono::time_point<Clock, Dur>& tp) {
        auto deadline = detail::to_steady(tp);
        return wrap(run(false, &deadline));
    }

private:
    struct dyn_base {
        virtual ~dyn_base() = default;
        virtual detail::select_case* as_case() noexcept = 0;
        virtual bool consumed() const noexcept = 0;  // a send case whose value has gone
        virtual void fire() = 0;
        bool enabled = true;
    };
    template <class C>
    struct dyn final : dyn_base {
        template <class... A>
        explicit dyn(A&&... a) : c(std::forward<A>(a)...) {
            enabled = c.enabled();
        }
        detail::select_case* as_case() noexcept override { return &c; }
        bool consumed() const noexcept override { return c.consumed(); }
        void fire() override { c.fire(); }
        C c;
    };

    std::size_t add(std::unique_ptr<dyn_base> c) {
        cases_.push_back(std::move(c));
        table_.push_back(nullptr);
        order_.push_back(0);
        return cases_.size() - 1;
    }

    std::size_t run(bool nonblocking, const detail::clock::time_point* deadline) {
        prepare();
        std::size_t i =
            detail::run_select(table_.data(), order_.data(), cases_.size(), nonblocking, deadline);
        if (i != detail::select_none) fire(i);
        return i;
    }
    // Shared with the asynchronous select (detail::selector_body, in weft/asio.hpp).
    friend class detail::selector_body;
    void prepare() noexcept {
        for (std::size_t i = 0; i < cases_.size(); ++i) {
            table_[i] = cases_[i]->enabled ? cases_[i]->as_case() : nullptr;
        }
    }
    void fire(std::size_t i) {
        // Disabled before its function runs: a function that throws must not leave a send case
        // armed with the moved-from value (it fires once, as documented).
        if (cases_[i]->consumed()) cases_[i]->enabled = false;
        cases_[i]->fire();
    }

    static std::optional<std::size_t> wrap(std::size_t i) {
        if (i == detail::select_none) return std::nullopt;
        return i;
    }

    std::vector<std::unique_ptr<dyn_base>> cases_;
    std::vector<detail::select_case*> table_;
    std::vector<std::size_t> order_;
};

WEFT_END_NAMESPACE
