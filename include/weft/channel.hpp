// weft/channel.hpp - Go's chan for threads: channel<T>, and its directional views sender<T>
// (chan<- T) and receiver<T> (<-chan T).
//
// @par Thread Safety
// A channel handle is a cheap copyable reference to shared state, like Go's chan or a
// std::shared_ptr. Every operation (send, receive, close, the try_/_for/_until forms, range-for,
// select cases) is const: it changes the channel, not the handle, so a const handle - e.g. one
// captured by copy in a lambda that is not `mutable` - can do everything. Any number of threads
// may use the same handle or its copies concurrently; only assigning to a handle object must not
// race with other uses of that object, as for any C++ object.
//
// @par Semantics
// Capacity 0 is a rendezvous: a send completes only when a receiver takes the value. Capacity
// N > 0 is a bounded FIFO; channel<T>::unbounded() never blocks a sender. close() wakes every
// blocked party and keeps buffered values receivable; receive() returns an empty optional once
// the channel is closed *and* drained. A send that cannot complete hands the value back in its
// result. A default-constructed handle is Go's nil channel: blocking operations on it wait
// forever (or until their deadline), try_ operations fail, and select never picks it.
#pragma once

#include <chrono>
#include <cstddef>
#include <iterator>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "detail/chan_state.hpp"
#include "detail/config.hpp"
#include "detail/waiter.hpp"
#include "errors.hpp"

WEFT_BEGIN_NAMESPACE

template <class T>
class channel;
template <class T>
class sender;
template <class T>
class receiver;
class context;

// The outcome of a send. On failure the value comes back, so nothing is ever lost.
template <class T>
struct send_result {
    op_status status;
    std::optional<T> value;  // engaged iff status != ok

    explicit operator bool() const noexcept { return status == op_status::ok; }
};

// The outcome of a try_/timed receive: ok with a value, or empty / timeout / closed.
template <class T>
struct receive_result {
    op_status status;
    std::optional<T> value;  // engaged iff status == ok

    explicit operator bool() const noexcept { return status == op_status::ok; }
    T& operator*() & { return *value; }
    T&& operator*() && { return std::move(*value); }
    T* operator->() { return &*value; }
};

namespace detail {

struct access {
    template <class H>
    static auto* state(const H& h) noexcept {
        return h.s_.get();
    }
    template <class H>
    static auto shared(const H& h) noexcept {
        return h.s_;
    }
    template <class H, class S>
    static H make(S s) noexcept {
        return H(std::move(s));
    }
};

// Waits on nothing: what a blocking operation on a nil channel does.
inline void block_forever(const clock::time_point* deadline) {
    waiter w;
    (void)w.wait_until(deadline);
}

// What every handle has: identity, nil-ness and the racy observers.
template <class T>
class handle {
public:
    using value_type = T;

    // Snapshot: exact only when no operation runs concurrently.
    std::size_t size() const noexcept {
        return s_ ? s_->visit([](const auto& f) { return f.size(); }) : 0;
    }
    // 0 for a rendezvous channel, SIZE_MAX for an unbounded one.
    std::size_t capacity() const noexcept {
        return s_ ? s_->visit([](const auto& f) { return f.capacity(); }) : 0;
    }
    // Snapshot: once true it stays true.
    bool is_closed() const noexcept {
        return s_ && s_->visit([](const auto& f) { return f.is_closed(); });
    }
    // False for the nil channel.
    explicit operator bool() const noexcept { return s_ != nullptr; }

    // Two handles are equal when they refer to the same channel (or are both nil).
    friend bool operator==(const handle& a, const handle& b) noexcept { return a.s_ == b.s_; }

protected:
    handle() noexcept = default;
    explicit handle(std::shared_ptr<chan_state<T>> s) noexcept : s_(std::move(s)) {}

    std::shared_ptr<chan_state<T>> s_;
    friend struct detail::access;
};

// The sending verbs; D is the handle type that has them.
template <class T, class D>
class send_api {
public:
    // Blocks until a receiver (or the buffer) takes the value. Fails only when the channel is
    // closed; the value comes back in the result.
    send_result<T> send(T v) const { return run(v, nullptr, true); }

    // As send(v), giving up when ctx is canceled (status canceled, the value handed back).
    // A context that is already canceled wins over a ready channel. Defined in context.hpp.
    send_result<T> send(const context& ctx, T v) const;

    // ok, or full (would block), or closed; never waits.
    [[nodiscard]] send_result<T> try_send(T v) const { return run(v, nullptr, false); }

    // Sends from a coroutine or any asynchronous code, in Boost.Asio's completion-token model
    // (use_awaitable, deferred, use_future, a callback...): completes with send_result<T>, the
    // value handed back when the channel is closed or the operation canceled. Defined in
    // weft/asio.hpp, which a caller includes.
    template <class Token>
    auto async_send(T v, Token&& token) const;

    template <class Rep, class Per>
    [[nodiscard]] send_result<T> send_for(T v, const std::chrono::duration<Rep, Per>& d) const {
        auto deadline = deadline_after(d);
        return run(v, &deadline, true);
    }
    template <class Clock, class Dur>
    [[nodiscard]] send_result<T> send_until(T v,
                                            const std::chrono::time_point<Clock, Dur>& tp) const {
        auto deadline = to_steady(tp);
        return run(v, &deadline, true);
    }

    // Closes the channel; true if this call closed it. Idempotent (Go panics on a second close;
    // weft reports it). Blocked senders fail with closed, blocked receivers drain what is
    // buffered and then see the end. A nil channel cannot be closed: returns false.
    bool close() const noexcept {
        auto* s = access::state(static_cast<const D&>(*this));
        return s && s->visit([](auto& f) { return f.close(); });
    }

private:
    send_result<T> run(T& v, const clock::time_point* deadline, bool block) const {
        auto* s = access::state(static_cast<const D&>(*this));
        op_status st;
        if (s) {
            st = s->visit([&](auto& f) { return f.send(v, deadline, block); });
        } else if (block) {
            block_forever(deadline);
            st = op_status::timeout;
        } else {
            st = op_status::full;
        }
        if (st == op_status::ok) return {st, std::nullopt};
        return {st, std::optional<T>(std::move(v))};
    }
};

template <class T>
class receive_iterator;

// The receiving verbs; D is the handle type that has them.
template <class T, class D>
class receive_api {
public:
    // Blocks until a value arrives; an empty optional once the channel is closed and drained.
    std::optional<T> receive() const {
        std::optional<T> out;
        (void)run(out, nullptr, true);
        return out;
    }

    // As receive(), giving up when ctx is canceled: ok with the value, or closed (and
    // drained), or canceled. A context that is already canceled wins over a ready channel.
    // Defined in context.hpp.
    [[nodiscard]] receive_result<T> receive(const context& ctx) const;

    // ok with the value, or empty (would block), or closed (and drained); never waits.
    [[nodiscard]] receive_result<T> try_receive() const { return result(nullptr, false); }

    // Receives asynchronously (see async_send): completes with receive_result<T>: ok and the
    // value, closed (and drained), or canceled (nothing consumed). Defined in weft/asio.hpp.
    template <class Token>
    auto async_receive(Token&& token) const;

    template <class Rep, class Per>
    [[nodiscard]] receive_result<T> receive_for(const std::chrono::duration<Rep, Per>& d) const {
        auto deadline = deadline_after(d);
        return result(&deadline, true);
    }
    template <class Clock, class Dur>
    [[nodiscard]] receive_result<T> receive_until(
        const std::chrono::time_point<Clock, Dur>& tp) const {
        auto deadline = to_steady(tp);
        return result(&deadline, true);
    }

    // `for (auto& v : rx)` receives until the channel is closed and drained.
    receive_iterator<T> begin() const {
        return receive_iterator<T>(access::shared(static_cast<const D&>(*this)));
    }
    std::default_sentinel_t end() const noexcept { return {}; }

private:
    receive_result<T> result(const clock::time_point* deadline, bool block) const {
        receive_result<T> r{op_status::ok, std::nullopt};
        r.status = run(r.value, deadline, block);
        return r;
    }
    op_status run(std::optional<T>& out, const clock::time_point* deadline, bool block) const {
        return receive_into(access::state(static_cast<const D&>(*this)), out, deadline, block);
    }
    friend class receive_iterator<T>;

    // Shared with the iterator.
    static op_status receive_into(chan_state<T>* s, std::optional<T>& out,
                                  const clock::time_point* deadline, bool block) {
        if (s) return s->visit([&](auto& f) { return f.recv(out, deadline, block); });
        if (!block) return op_status::empty;
        block_forever(deadline);
        return op_status::timeout;
    }
};

template <class T>
class receive_iterator {
public:
    using iterator_category = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;

    receive_iterator() = default;
    explicit receive_iterator(std::shared_ptr<chan_state<T>> s) : s_(std::move(s)) { next(); }

    T& operator*() const { return *cur_; }
    T* operator->() const { return &*cur_; }
    receive_iterator& operator++() {
        next();
        return *this;
    }
    void operator++(int) { next(); }
    friend bool operator==(const receive_iterator& it, std::default_sentinel_t) noexcept {
        return !it.cur_;
    }

private:
    void next() {
        cur_.reset();
        (void)receive_api<T, receiver<T>>::receive_into(s_.get(), cur_, nullptr, true);
    }
    std::shared_ptr<chan_state<T>> s_;  // keeps the channel alive, as a Go range does
    mutable std::optional<T> cur_;
};

}  // namespace detail

// The receive-only view of a channel (Go's <-chan T).
template <class T>
class receiver : public detail::handle<T>, public detail::receive_api<T, receiver<T>> {
public:
    receiver() noexcept = default;

private:
    explicit receiver(std::shared_ptr<detail::chan_state<T>> s) noexcept
        : detail::handle<T>(std::move(s)) {}
    friend class channel<T>;
    friend struct detail::access;
};

// The send-only view of a channel (Go's chan<- T). Closing is a sender's act, as in Go.
template <class T>
class sender : public detail::handle<T>, public detail::send_api<T, sender<T>> {
public:
    sender() noexcept = default;

private:
    explicit sender(std::shared_ptr<detail::chan_state<T>> s) noexcept
        : detail::handle<T>(std::move(s)) {}
    friend class channel<T>;
    friend struct detail::access;
};

// A channel of T. `channel<T> ch;` is nil; `channel<T> ch(0)` is a rendezvous;
// `channel<T> ch(n)` buffers n values; `channel<T>::unbounded()` buffers without limit.
// The ring of a buffered channel is allocated up front: a capacity above max_capacity() (which
// no allocation could hold, e.g. a negative int converted to size_t) throws std::length_error
// ("weft::channel: capacity out of range", Go's "makechan: size out of range"); one within it
// that memory cannot hold throws std::bad_alloc, as any allocation does.
template <class T>
class channel : public detail::handle<T>,
                public detail::send_api<T, channel<T>>,
                public detail::receive_api<T, channel<T>> {
    // A value is moved into a slot or a waiting receiver after the slot or receiver has been
    // claimed; a move that threw there would strand the other side. Wrap such a T in a
    // std::unique_ptr.
    static_assert(std::is_nothrow_move_constructible_v<T>,
                  "weft::channel<T> needs a T whose move constructor is noexcept");
    static_assert(!std::is_reference_v<T>, "weft::channel<T> holds values, not references");

public:
    channel() noexcept = default;
    explicit channel(std::size_t capacity)
        : detail::handle<T>(std::make_shared<detail::chan_state<T>>(capacity)) {}
    // The largest capacity channel<T>(n) accepts (about PTRDIFF_MAX / slot size).
    static constexpr std::size_t max_capacity() noexcept {
        return detail::array_flavor<T>::max_capacity;
    }
    [[nodiscard]] static channel unbounded() {
        return channel(std::make_shared<detail::chan_state<T>>(detail::unbounded_tag{}));
    }

    operator sender<T>() const noexcept { return sender<T>(this->s_); }
    operator receiver<T>() const noexcept { return receiver<T>(this->s_); }

private:
    explicit channel(std::shared_ptr<detail::chan_state<T>> s) noexcept
        : detail::handle<T>(std::move(s)) {}
    friend struct detail::access;
};

// The element type of a channel handle: channel_value_t<receiver<int>&> is int. Defined for
// channel<T>, sender<T> and receiver<T> (any cv-ref), and for nothing else, so it also tells
// a handle from other types (select's cases, fan's and pipeline's inputs use it).
template <class H>
struct channel_value {};
template <class T>
struct channel_value<channel<T>> {
    using type = T;
};
template <class T>
struct channel_value<sender<T>> {
    using type = T;
};
template <class T>
struct channel_value<receiver<T>> {
    using type = T;
};
template <class H>
using channel_value_t = typename channel_value<std::remove_cvref_t<H>>::type;

// A handle values can be received from (channel<T> or receiver<T>) / sent on (channel<T> or
// sender<T>). Not satisfied, rather than ill-formed, for anything else.
template <class H>
concept receivable =
    std::is_convertible_v<const std::remove_cvref_t<H>&, receiver<channel_value_t<H>>>;
template <class H>
concept sendable = std::is_convertible_v<const std::remove_cvref_t<H>&, sender<channel_value_t<H>>>;

WEFT_END_NAMESPACE
