// weft/context.hpp - Go's context: cancellation trees with deadlines, causes and values, and
// the bridge to C++20's std::stop_token.
//
//     auto [ctx, cancel] = weft::with_timeout(parent, 3s);
//     weft::select(weft::on_receive(results, [&](auto r) { ... }),
//                  weft::on_receive(ctx.done(), [&] { ... }));   // cancellation is a channel
//
// Semantics (Go's): canceling a context cancels its descendants, never its ancestors. The first
// cancellation wins, for err() and for cause(). A child of a canceled parent is born canceled
// with the parent's error and cause. cancel() requests and never waits; calling it again does
// nothing. done() is closed on cancellation and is nil (never ready) for a context that can never
// be canceled. There is no thread per context and none per deadline: deadlines are entries in
// the one timer service.
//
// Beyond Go: a context whose handles are all gone leaves its parent by itself (Go needs the
// cancel call, and vet's lostcancel check, for that); a canceled child leaves its parent at
// once, so a long-lived parent spawning millions of short children does not grow.
//
// The machinery (nodes, links, the canceller's walk, and the invariants it keeps) is in
// detail/context_tree.hpp; the error vocabulary (context_errc, context_error, error_as) in
// errors.hpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <stop_token>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include "channel.hpp"
#include "detail/config.hpp"
#include "detail/context_tree.hpp"
#include "detail/deadline.hpp"
#include "detail/invoke.hpp"
#include "detail/timer_service.hpp"
#include "errors.hpp"
#include "select.hpp"

WEFT_BEGIN_NAMESPACE

// A key for context values. Its identity is its address (declare keys as static or global
// objects), and its type says what the value is, so lookups need no casts.
template <class T>
class context_key {
public:
    constexpr explicit context_key(const char* name = "") noexcept : name_(name) {}
    context_key(const context_key&) = delete;
    context_key& operator=(const context_key&) = delete;
    constexpr const char* name() const noexcept { return name_; }

private:
    const char* name_;
};

// A context: a cheap copyable handle to a node of a cancellation tree. A default-constructed
// context is background(): never canceled, no deadline, no values.
//
// @par Thread safety
// Every member may be called concurrently on copies of the same context.
class context {
public:
    context() noexcept = default;

    // Closed when the context is canceled. A nil receiver (never ready) for a context that
    // can never be canceled, as in Go.
    receiver<std::monostate> done() const {
        auto* c = n_ ? n_->canceler() : nullptr;
        if (!c) return {};
        return c->done();
    }

    // Empty while active; context_errc::canceled or deadline_exceeded once canceled.
    std::error_code err() const noexcept {
        auto* c = n_ ? n_->canceler() : nullptr;
        const int s = c ? c->state() : 0;
        return s ? make_error_code(static_cast<context_errc>(s)) : std::error_code{};
    }

    // When the context will be canceled by itself, if ever.
    std::optional<std::chrono::steady_clock::time_point> deadline() const noexcept {
        return n_ ? n_->deadline() : std::nullopt;
    }

    // The value stored under `key` by the nearest with_value, or nullptr. It lives as long as
    // any context that can see it.
    template <class T>
    const T* value(const context_key<T>& key) const noexcept {
        return n_ ? static_cast<const T*>(n_->find(&key)) : nullptr;
    }

    // A token whose stop is requested when this context is canceled (for std::jthread, a
    // std::condition_variable_any wait, or any stop_token-aware API). For a context that can
    // never be canceled, a token with stop_possible() == false.
    std::stop_token stop_token() const {
        auto* c = n_ ? n_->canceler() : nullptr;
        return c ? c->stop_token() : std::stop_token{};
    }

private:
    explicit context(std::shared_ptr<detail::ctx_node> n) noexcept : n_(std::move(n)) {}
    std::shared_ptr<detail::ctx_node> n_;

    friend struct detail::context_access;
};

namespace detail {
struct context_access {
    static const std::shared_ptr<ctx_node>& node(const context& c) noexcept { return c.n_; }
    static context make(std::shared_ptr<ctx_node> n) noexcept { return context(std::move(n)); }
    // Test hook: how many links the context's cancellation node holds (0 if it has none).
    static std::size_t links(const context& c) noexcept {
        auto* n = c.n_ ? c.n_->canceler() : nullptr;
        return n ? n->links() : 0;
    }
};

inline bool cancel_hook::add(const context& ctx) noexcept {
    const auto& n = context_access::node(ctx);
    cancel_node* c = n ? n->canceler() : nullptr;
    if (!c) return false;
    cancel_reason r{context_errc::canceled, nullptr};
    if (!c->link(*this, r)) return false;
    node_ = c;
    return true;
}
}  // namespace detail

// The root of every tree: never canceled. todo() is the same, spelled "not decided yet".
inline context background() noexcept { return {}; }
inline context todo() noexcept { return {}; }

// Go's CancelFunc: cancels its context, and every descendant, with context_errc::canceled,
// unless the context has already ended (then it does nothing: calling it again is harmless).
// Safe to call from any thread, concurrently with anything; never waits for the work that
// watches the context to stop (when it returns, err() is set and done() is closed); noexcept
// and allocation-free. Copyable: every copy cancels the same context. A default-constructed
// one does nothing, so it can be a member assigned later: `cancel_ = with_cancel(p).cancel;`.
// It keeps the context's node alive, not the work.
//
// Never calling it leaks nothing: the context leaves its parent when its last handle (contexts
// and cancel functions) is gone, and a deadline's timer entry goes with it. Go keeps such a
// child linked to its parent until the parent ends, which is why vet checks for lost cancels.
// The work that watches the context is still only stopped by a cancel, the deadline or the
// parent.
class cancel_func {
public:
    cancel_func() noexcept = default;
    void operator()() const noexcept {
        if (n_) (void)n_->cancel({context_errc::canceled, nullptr}, true);
    }

private:
    explicit cancel_func(std::shared_ptr<detail::cancel_node> n) noexcept : n_(std::move(n)) {}
    std::shared_ptr<detail::cancel_node> n_;
    friend struct detail::cancel_access;
};

// Go's CancelCauseFunc: as cancel_func, with a cause (any exception; none: the context_error
// for canceled). Only the first cancellation's cause is kept. The exception_ptr form is
// noexcept; the form taking an exception object may throw std::bad_alloc while making the
// exception_ptr, before anything is canceled.
class cancel_cause_func {
public:
    cancel_cause_func() noexcept = default;
    void operator()(std::exception_ptr cause = nullptr) const noexcept {
        if (n_) (void)n_->cancel({context_errc::canceled, std::move(cause)}, true);
    }
    template <class E>
        requires(!std::is_same_v<std::remove_cvref_t<E>, std::exception_ptr> &&
                 !std::is_same_v<std::remove_cvref_t<E>, std::nullptr_t>)
    void operator()(E&& exception_object) const {
        (*this)(std::make_exception_ptr(std::forward<E>(exception_object)));
    }

private:
    explicit cancel_cause_func(std::shared_ptr<detail::cancel_node> n) noexcept
        : n_(std::move(n)) {}
    std::shared_ptr<detail::cancel_node> n_;
    friend struct detail::cancel_access;
};

// What the with_cancel/with_timeout/with_deadline factories return: the child context and the
// function that cancels it (F is cancel_func, or cancel_cause_func for with_cancel_cause).
// An aggregate, for structured bindings: `auto [ctx, cancel] = weft::with_cancel(parent);`,
// or keep the parts: `cancel_ = c.cancel;`.
template <class F>
struct [[nodiscard]] cancelable {
    context ctx;
    F cancel;
};

namespace detail {
struct cancel_access {
    template <class F>
    static cancelable<F> make(std::shared_ptr<cancel_node> n) noexcept {
        return {context_access::make(n), F(n)};
    }
};
}  // namespace detail

// A child that is canceled when `cancel` is called or when `parent` is.
inline cancelable<cancel_func> with_cancel(const context& parent) {
    const auto& p = detail::context_access::node(parent);
    auto n = std::make_shared<detail::cancel_node>(p, p ? p->deadline() : std::nullopt);
    n->attach();
    return detail::cancel_access::make<cancel_func>(std::move(n));
}

// As with_cancel, with a cancel function that records a cause (see cause()).
inline cancelable<cancel_cause_func> with_cancel_cause(const context& parent) {
    const auto& p = detail::context_access::node(parent);
    auto n = std::make_shared<detail::cancel_node>(p, p ? p->deadline() : std::nullopt);
    n->attach();
    return detail::cancel_access::make<cancel_cause_func>(std::move(n));
}

// A child that is also canceled, with deadline_exceeded and `cause` (none: the context_error
// for deadline_exceeded), at `deadline` (any clock; measured on steady_clock). A deadline no
// earlier than the parent's adds nothing: the result is with_cancel(parent), as in Go.
template <class Clock, class Dur>
cancelable<cancel_func> with_deadline_cause(const context& parent,
                                            const std::chrono::time_point<Clock, Dur>& deadline,
                                            std::exception_ptr cause) {
    const auto d = detail::to_steady(deadline);
    if (auto pd = parent.deadline(); pd && *pd <= d) return with_cancel(parent);
    const auto& p = detail::context_access::node(parent);
    auto n = std::make_shared<detail::deadline_node>(p, d, std::move(cause));
    n->attach();
    if (detail::clock::now() >= d)
        n->expire();
    else
        n->arm(d);
    return detail::cancel_access::make<cancel_func>(std::move(n));
}

template <class Clock, class Dur>
cancelable<cancel_func> with_deadline(const context& parent,
                                      const std::chrono::time_point<Clock, Dur>& deadline) {
    return with_deadline_cause(parent, deadline, nullptr);
}

template <class Rep, class Per>
cancelable<cancel_func> with_timeout_cause(const context& parent,
                                           const std::chrono::duration<Rep, Per>& timeout,
                                           std::exception_ptr cause) {
    return with_deadline_cause(parent, detail::deadline_after(timeout), std::move(cause));
}

template <class Rep, class Per>
cancelable<cancel_func> with_timeout(const context& parent,
                                     const std::chrono::duration<Rep, Per>& timeout) {
    return with_deadline_cause(parent, detail::deadline_after(timeout), nullptr);
}

// A child that carries `value` under `key`; cancellation and deadline are the parent's.
template <class T, class V>
    requires std::is_constructible_v<T, V&&>
[[nodiscard]] context with_value(const context& parent, const context_key<T>& key, V&& value) {
    const auto& p = detail::context_access::node(parent);
    return detail::context_access::make(
        std::make_shared<detail::value_node<T>>(p, &key, T(std::forward<V>(value))));
}

// A child that sees the parent's values but is never canceled and has no deadline (for work
// that must finish even when the request that started it is abandoned).
[[nodiscard]] inline context without_cancel(const context& parent) {
    struct detached_node final : detail::ctx_node {
        explicit detached_node(std::shared_ptr<ctx_node> p) noexcept
            : ctx_node(std::move(p), nullptr, std::nullopt) {}
    };
    return detail::context_access::make(
        std::make_shared<detached_node>(detail::context_access::node(parent)));
}

// A child that is canceled (canceled) when `token`'s stop is requested, or when `parent` is.
// With std::jthread: `[](std::stop_token st) { auto ctx = weft::with_stop_token({}, st); ... }`.
[[nodiscard]] inline context with_stop_token(const context& parent, std::stop_token token) {
    auto n = std::make_shared<detail::stop_node>(detail::context_access::node(parent));
    n->attach();
    if (token.stop_possible()) n->arm(std::move(token));
    return detail::context_access::make(std::move(n));
}

// The cause of ctx's cancellation: the one given to a cause-taking cancel or deadline, else a
// context_error carrying err(). Null while ctx is active.
[[nodiscard]] inline std::exception_ptr cause(const context& ctx) {
    const auto& n = detail::context_access::node(ctx);
    auto* c = n ? n->canceler() : nullptr;
    if (!c || c->state() == 0) return nullptr;
    return c->cause();
}

// The registration made by after_func.
class after_func_handle {
public:
    after_func_handle() noexcept = default;
    // Unregisters f. True iff this call prevented f from running; false if f has been started
    // (or stop() was called before). Does not wait for a running f.
    bool stop() noexcept { return rec_ && rec_->stop(); }

private:
    after_func_handle(std::shared_ptr<detail::after_func_record> r,
                      std::shared_ptr<detail::ctx_node> keep) noexcept
        : rec_(std::move(r)), keep_(std::move(keep)) {}
    std::shared_ptr<detail::after_func_record> rec_;
    std::shared_ptr<detail::ctx_node> keep_;  // the context, so stop() can reach its list

    template <class F>
    friend after_func_handle after_func(const context&, F);
};

// Runs f() on its own thread once ctx is done (at once if it already is). f runs at most once.
// As with weft::go, an exception escaping f terminates the process.
template <class F>
after_func_handle after_func(const context& ctx, F f) {
    const auto& n = detail::context_access::node(ctx);
    auto rec =
        std::make_shared<detail::after_func_impl<F>>(n ? n->canceler() : nullptr, std::move(f));
    rec->start(rec);
    return after_func_handle(std::move(rec), n);
}

// Sleeps for d unless ctx ends first. Empty error_code after the full sleep, ctx.err()
// otherwise.
template <class Rep, class Per>
[[nodiscard]] std::error_code sleep(const context& ctx, const std::chrono::duration<Rep, Per>& d) {
    if (auto e = ctx.err()) return e;
    auto done = ctx.done();
    if (!done) {
        // Not std::this_thread::sleep_for, which overflows (and returns at once) for a d near
        // duration::max(): deadline_after saturates, as receive_for below does.
        const auto deadline = detail::deadline_after(d);
        detail::block_forever(&deadline);
        return {};
    }
    if (done.receive_for(d).status == op_status::timeout) return {};
    return ctx.err();
}

// --- Context-taking channel operations (declared in channel.hpp) ---

template <class T, class D>
send_result<T> detail::send_api<T, D>::send(const context& ctx, T v) const {
    // A canceled context wins over a ready channel; otherwise try first: no select machinery,
    // and no copy of the done() handle (a shared count every thread of a pattern would bump),
    // when the value goes through at once.
    if (ctx.err()) return {op_status::canceled, std::optional<T>(std::move(v))};
    auto r = try_send(std::move(v));
    if (r.status != op_status::full) return r;
    auto done = ctx.done();
    if (!done) return send(std::move(*r.value));
    // The value waits in r.value: T need not be assignable.
    op_status st = op_status::canceled;
    (void)::weft::select(on_send(static_cast<const D&>(*this), *r.value,
                                 [&](bool sent) { st = sent ? op_status::ok : op_status::closed; }),
                         on_receive(done, [] {}));
    if (st == op_status::ok) return {st, std::nullopt};
    return {st, std::move(r.value)};
}

template <class T, class D>
receive_result<T> detail::receive_api<T, D>::receive(const context& ctx) const {
    // As send(ctx, v): the context first, then one try, and done() only for a wait.
    if (ctx.err()) return {op_status::canceled, std::nullopt};
    auto r = try_receive();
    if (r.status != op_status::empty) return r;
    auto done = ctx.done();
    if (!done) {
        auto v = receive();
        const op_status st = v ? op_status::ok : op_status::closed;
        return {st, std::move(v)};
    }
    receive_result<T> out{op_status::canceled, std::nullopt};
    // emplace, not assignment: T need not be assignable.
    (void)::weft::select(on_receive(static_cast<const D&>(*this),
                                    [&](std::optional<T> x) {
                                        out.status = x ? op_status::ok : op_status::closed;
                                        if (x) out.value.emplace(std::move(*x));
                                    }),
                         on_receive(done, [] {}));
    return out;
}

// Calls f(ctx, args...) when f takes the context first, else f(args...): how weft's patterns
// call a user function that may want to stop its own waits when the work is canceled.
template <class F, class... A>
    requires std::is_invocable_v<F&&, const context&, A&&...> || std::is_invocable_v<F&&, A&&...>
decltype(auto) invoke_with_context(F&& f, const context& ctx, A&&... args) {
    if constexpr (std::is_invocable_v<F&&, const context&, A&&...>) {
        return detail::invoke(std::forward<F>(f), ctx, std::forward<A>(args)...);
    } else {
        return detail::invoke(std::forward<F>(f), std::forward<A>(args)...);
    }
}

// The type invoke_with_context(f, ctx, args...) returns; absent when it cannot be called.
template <class F, class... A>
using invoke_with_context_result_t = decltype(invoke_with_context(
    std::declval<F>(), std::declval<const context&>(), std::declval<A>()...));

WEFT_END_NAMESPACE
