// weft/future.hpp - a one-shot result on a channel: Go's `result := make(chan T, 1)`, with the
// value or the exception of the task that makes it. What worker_pool::submit and
// co_worker_pool::submit return.
//
//     weft::promise<int> p;
//     weft::future<int> f = p.get_future();
//     std::thread([p = std::move(p)]() mutable { p.set_value(42); }).detach();
//     int v = f.get();                                        // a thread: blocks, or rethrows
//     weft::select(weft::on_receive(f.chan(), [](auto r) {...}),   // a case in select
//                  weft::on_receive(ctx.done(), [] {...}));
//     int w = co_await f.async_get(asio::use_awaitable);       // a coroutine (weft/asio.hpp)
//
// @par Semantics
// - One value or one exception, once: the promise sends an outcome<R> on a channel of capacity
//   1 and closes it, so sending never blocks and the result waits for its reader. A promise
//   destroyed without a result closes the channel empty: get() then throws broken_promise.
// - get(), async_get() and a receive from chan() each take the result: one of them gets it.
//   chan() is an ordinary receiver: select, receive(ctx), try_receive all apply.
// - promise and future are move-only handles on the channel; either may be destroyed first.
//
// A pattern, not a primitive: a channel<outcome<R>>(1) and close, nothing else.
//
// Invariants:
// - The channel receives at most one value, and is closed after it (or without one) exactly
//   once, by the promise: `set_` is the promise's record of that, used by one thread at a time.
#pragma once

#include <exception>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

#include "channel.hpp"
#include "detail/config.hpp"

WEFT_BEGIN_NAMESPACE

// What future::get() throws when the promise was destroyed without a result.
class broken_promise : public std::runtime_error {
public:
    broken_promise() : std::runtime_error("weft::future: the promise ended without a result") {}
};

// A task's result: its value (nothing for void) or the exception it threw.
template <class R>
class outcome {
    using stored = std::conditional_t<std::is_void_v<R>, std::monostate, R>;

public:
    template <class... A>
    static outcome value(A&&... a) {
        outcome o;
        o.value_.emplace(std::forward<A>(a)...);
        return o;
    }
    static outcome error(std::exception_ptr e) {
        outcome o;
        o.error_ = std::move(e);
        return o;
    }

    bool has_value() const noexcept { return value_.has_value(); }
    // The exception, or null when there is a value.
    const std::exception_ptr& exception() const noexcept { return error_; }

    // The value, or the exception rethrown.
    R get() && {
        if (error_) std::rethrow_exception(error_);
        if constexpr (!std::is_void_v<R>) return std::move(*value_);
    }

private:
    outcome() = default;
    std::optional<stored> value_;
    std::exception_ptr error_;
};

template <class R>
class promise;

// The reading end of a one-shot result. Move-only; a default-constructed or moved-from future
// is not valid() and its chan() is a nil receiver.
template <class R>
class future {
public:
    future() noexcept = default;
    future(future&&) noexcept = default;
    future& operator=(future&&) noexcept = default;
    future(const future&) = delete;
    future& operator=(const future&) = delete;

    bool valid() const noexcept { return static_cast<bool>(ch_); }

    // Whether get() would return at once: the result is there, or there will be none (the
    // promise ended without one, or another reader took it). Takes nothing.
    bool ready() const noexcept { return ch_ && (ch_.size() > 0 || ch_.is_closed()); }

    // Blocks until the result is there: the value, or the task's exception rethrown, or
    // broken_promise if there will be none (also when another reader took it).
    R get() {
        auto o = ch_.receive();
        if (!o) throw broken_promise();
        return std::move(*o).get();
    }

    // The channel the result arrives on, then closed: receive it, or select on it.
    receiver<outcome<R>> chan() const noexcept { return ch_; }

    // The result from a coroutine or any asynchronous code (Boost.Asio's model; defined in
    // weft/asio.hpp): completes with (std::exception_ptr, R) - (std::exception_ptr) for void -
    // the task's exception, or broken_promise, in the first argument (use_awaitable throws
    // it). Canceling the operation takes nothing: the result stays in chan().
    template <class Token>
    auto async_get(Token&& token) const;

private:
    friend class promise<R>;
    explicit future(receiver<outcome<R>> ch) noexcept : ch_(std::move(ch)) {}
    receiver<outcome<R>> ch_;
};

// The writing end: sets the value or the exception once. Move-only; destroyed without either,
// it breaks the promise (the future's readers see broken_promise).
template <class R>
class promise {
public:
    // Makes the channel (one allocation). Throws std::bad_alloc.
    promise() : ch_(1) {}
    promise(promise&& o) noexcept : ch_(std::move(o.ch_)), set_(std::exchange(o.set_, true)) {}
    promise& operator=(promise&& o) noexcept {
        if (this != &o) {
            finish();
            ch_ = std::move(o.ch_);
            set_ = std::exchange(o.set_, true);
        }
        return *this;
    }
    promise(const promise&) = delete;
    promise& operator=(const promise&) = delete;
    ~promise() { finish(); }

    // The future of this promise; call it once per reader you mean to hand the result to (they
    // share one channel: one of them gets it).
    future<R> get_future() const { return future<R>(ch_); }

    // Sets the result and wakes its reader. Throws std::logic_error if one is set already.
    template <class... A>
    void set_value(A&&... a) {
        send(outcome<R>::value(std::forward<A>(a)...));
    }
    void set_exception(std::exception_ptr e) { send(outcome<R>::error(std::move(e))); }

    // Whether a result was set (or the promise was moved from).
    bool is_set() const noexcept { return set_; }

private:
    void send(outcome<R>&& o) {
        if (set_) throw std::logic_error("weft::promise: result already set");
        set_ = true;
        (void)ch_.try_send(std::move(o));  // the empty buffer of 1 always takes it
        ch_.close();
    }
    void finish() noexcept {
        if (!std::exchange(set_, true)) ch_.close();
    }

    channel<outcome<R>> ch_;
    bool set_ = false;
};

WEFT_END_NAMESPACE
