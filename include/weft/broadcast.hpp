// weft/broadcast.hpp - a pub/sub hub: every subscriber gets every value published while it is
// subscribed, in a bounded channel of its own, and a policy says what a full one costs.
//
//     weft::broadcast<quote> hub;
//     auto ui = hub.subscribe({.capacity = 64, .policy = weft::slow_policy::block});
//     auto log = hub.subscribe({.capacity = 8, .policy = weft::slow_policy::drop});
//     hub.publish(q);                          // a copy for each subscriber
//     for (auto& q : ui) ...                   // a thread; a coroutine: co_await
//                                              // ui.rx().async_receive(use_awaitable)
//     log.dropped();                           // values `log` missed because it was full
//     hub.close();                             // each subscriber drains, then sees closed
//
// Go has no broadcast: Go programs hand-roll a map of subscriber channels under a mutex, with a
// `select { case ch <- v: default: }` to skip a slow one. tee (weft/fan.hpp) has a fixed set of
// consumers and runs at the slowest one's pace; a hub's subscribers come and go, and each has
// its own policy.
//
// @par Subscribing
// subscribe(options) returns a subscription: a weft::receiver<T> of a channel with
// options.capacity slots (0 is a rendezvous: under `drop` a value then reaches the subscriber
// only if it is waiting in a receive at that instant), and the handle that ends the
// subscription. A thread ranges over it (`for (auto& v : sub)`); a coroutine receives from
// sub.rx() with async_receive (weft/asio.hpp). Every publish that begins after subscribe()
// returned reaches the subscriber (subject to its policy); a publish running concurrently with
// subscribe() may or may not. Subscribing to a closed hub returns a subscription whose channel
// is already closed (state() == closed).
//
// @par Publishing, and the policies for a full subscriber
// publish(v) offers a copy of v to every subscriber (the last one gets v itself), without waiting
// for any whose channel has room. For one whose channel is full, its policy decides:
// - drop: the value is not delivered to it; its dropped() counter goes up by one.
// - block: the publisher waits until the subscriber takes a value (it waits for all such
//   subscribers at once, so each gets the value as soon as it has room). publish(ctx, v) gives
//   up when ctx ends: the subscribers still waited for miss the value (counted in their
//   dropped()). A subscriber that unsubscribes, is disconnected, or whose hub is closed while
//   the publisher waits for it is given up on at once: its channel is closed, which wakes the
//   publisher. Blocking blocks the calling thread: a coroutine that publishes should use
//   subscribers with the drop or disconnect policy, or publish from a thread.
// - disconnect: the subscriber is removed from the hub and its channel closed; it still
//   receives what was buffered, then sees the channel closed, and state() says `disconnected`
//   (not `closed`, the hub's normal end, nor `unsubscribed`).
// The result counts the subscribers that got the value (delivered), missed it (dropped) and
// were disconnected by this publish. Its status is ok; closed when the hub was closed before
// the value reached every subscriber (publish after close() delivers nothing); canceled when
// publish(ctx, v) gave up (a context already canceled delivers nothing).
// Order: the values of one publishing thread reach each subscriber in publish order. Values of
// concurrent publishers interleave, possibly differently for different subscribers.
//
// @par Ending a subscription
// unsubscribe(), the subscription's destructor, a disconnect, or close() of the hub: whichever
// comes first ends it, and state() says which (later ones change nothing). Ending closes the
// subscriber's channel, so values already buffered stay receivable and a receive then sees
// closed; nothing more is delivered. close() ends every subscription; the hub's destructor
// calls close(). A subscription may outlive its hub.
//
// @par Values, copies and exceptions
// T must be copy constructible (a static_assert says so): each subscriber gets its own copy.
// For a move-only T, publish std::shared_ptr<const T>. A copy that throws costs only the
// subscriber it was made for: that one misses the value (counted in its dropped()), every other
// subscriber is served as if nothing happened (a blocking publish still waits for its block
// subscribers), and then publish rethrows the first such exception.
//
// @par Thread safety
// publish, subscribe, close and the observers of broadcast may be called from any threads at
// once. A subscription's unsubscribe(), state() and dropped() may be called from any thread, also
// while others receive from it; moving or destroying a subscription object must not race with
// other uses of that object. A broadcast is neither copyable nor movable (subscriptions refer to
// its state, which they keep alive).
//
// Built only from weft's public primitives (channel, select, context) and the standard library.
// Invariants of the implementation:
// - The hub's subscriber list is copy-on-write: a publisher copies the shared_ptr under the
//   mutex and iterates its snapshot without a lock; subscribe and unsubscribe publish a new
//   list. So no lock is held while a publisher sends or waits, and nobody is woken (a channel
//   closed) while the mutex is held.
// - A subscription ends exactly once: the compare-exchange of its state from active to the
//   reason wins for one caller, which then closes its channel. A snapshot may still hold an
//   ended subscriber: a send to it finds the channel closed and skips it.
// - The reason is stored before the channel is closed, and a receiver learns of the close
//   through the channel, which orders the two: whoever has seen the channel closed reads the
//   final state(). Likewise a dropped() increment precedes the publisher's next send to that
//   channel.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "channel.hpp"
#include "context.hpp"
#include "detail/config.hpp"
#include "select.hpp"

WEFT_BEGIN_NAMESPACE

// What a publish does with a subscriber whose channel is full. See the file comment.
enum class slow_policy {
    drop,        // skip it, count the value in its dropped()
    block,       // wait for it (publish(ctx, v): until ctx ends)
    disconnect,  // remove it and close its channel; its state() says disconnected
};

// Settings of one subscription: hub.subscribe({.capacity = 16, .policy = slow_policy::block}).
struct subscribe_options {
    std::size_t capacity = 64;  // slots of the subscriber's channel; 0 is a rendezvous
    slow_policy policy = slow_policy::drop;
};

// Whether a subscription is still active, or why it ended.
enum class subscription_state {
    active,
    unsubscribed,  // unsubscribe() or the subscription's destructor
    disconnected,  // full under slow_policy::disconnect
    closed,        // the hub was closed (or destroyed)
};

// What one publish did: how many subscribers got the value, missed it, or were disconnected.
struct publish_result {
    op_status status = op_status::ok;  // ok, closed or canceled (see the file comment)
    std::size_t delivered = 0;
    std::size_t dropped = 0;
    std::size_t disconnected = 0;

    explicit operator bool() const noexcept { return status == op_status::ok; }
};

template <class T>
class broadcast;

namespace detail {

template <class T>
struct broadcast_sub {
    broadcast_sub(std::size_t capacity, slow_policy p) : ch(capacity), policy(p) {}

    // Ends the subscription for `why` unless it has ended already; true if this call did.
    // acq_rel: the winner's store is what a receiver reads after seeing the channel closed (the
    // channel's close/receive orders it); the close comes after the store.
    bool end(subscription_state why) noexcept {
        auto expected = subscription_state::active;
        if (!state.compare_exchange_strong(expected, why, std::memory_order_acq_rel,
                                           std::memory_order_acquire)) {
            return false;
        }
        ch.close();
        return true;
    }
    bool active() const noexcept {
        // acquire: pairs with end(); only a hint for the publisher, the channel decides.
        return state.load(std::memory_order_acquire) == subscription_state::active;
    }
    // relaxed: a counter; a receiver sees an increment once it has received a later value (the
    // channel orders them) or seen the channel closed.
    void count_drop() noexcept { dropped.fetch_add(1, std::memory_order_relaxed); }

    channel<T> ch;
    const slow_policy policy;
    std::atomic<std::uint64_t> dropped{0};
    std::atomic<subscription_state> state{subscription_state::active};
};

template <class T>
class broadcast_hub {
public:
    using sub_ptr = std::shared_ptr<broadcast_sub<T>>;
    using list = std::vector<sub_ptr>;

    sub_ptr subscribe(const subscribe_options& o) {
        auto sub = std::make_shared<broadcast_sub<T>>(o.capacity, o.policy);
        std::unique_lock lock(mutex_);
        if (closed_) {
            lock.unlock();
            sub->end(subscription_state::closed);
            return sub;
        }
        auto next = std::make_shared<list>();
        next->reserve(subs_->size() + 1);
        for (const auto& s : *subs_) {
            if (s->active()) next->push_back(s);  // also prunes what remove() could not take out
        }
        next->push_back(sub);
        subs_ = std::move(next);
        return sub;
    }

    // Takes `sub` out of the list and ends it for `why`; true if this call ended it.
    bool remove(broadcast_sub<T>& sub, subscription_state why) noexcept {
        try {
            std::lock_guard lock(mutex_);
            if (!closed_) {  // else close() has taken the list (subs_ is null)
                auto next = std::make_shared<list>();
                next->reserve(subs_->size());
                for (const auto& s : *subs_) {
                    if (s.get() != &sub) next->push_back(s);
                }
                subs_ = std::move(next);
            }
        } catch (...) {
            // Out of memory: it stays listed, ended; publishers skip it (its channel is closed)
            // and the next subscribe() prunes it.
        }
        return sub.end(why);
    }

    // closed, or the subscribers to publish to.
    std::shared_ptr<const list> snapshot() const {
        std::lock_guard lock(mutex_);
        if (closed_) return nullptr;
        return subs_;
    }

    bool close() noexcept {
        std::shared_ptr<const list> subs;
        {
            std::lock_guard lock(mutex_);
            if (closed_) return false;
            closed_ = true;
            subs = std::move(subs_);
        }
        for (const auto& s : *subs) s->end(subscription_state::closed);
        return true;
    }

    bool is_closed() const {
        std::lock_guard lock(mutex_);
        return closed_;
    }
    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return closed_ ? 0 : subs_->size();
    }

private:
    mutable std::mutex mutex_;
    std::shared_ptr<const list> subs_ = std::make_shared<list>();  // guarded; null once closed
    bool closed_ = false;                                          // guarded by mutex_
};

}  // namespace detail

// One subscriber's end of a broadcast: its receiver, its counters, and the right to end it.
// Ends the subscription when destroyed (RAII). Movable, not copyable; rx() may be copied freely.
template <class T>
class [[nodiscard]] subscription {
public:
    using value_type = T;

    // An empty subscription: no channel (rx() is nil).
    subscription() noexcept = default;
    subscription(subscription&&) noexcept = default;
    subscription& operator=(subscription&& other) noexcept {
        if (this != &other) {
            unsubscribe();
            hub_ = std::move(other.hub_);
            sub_ = std::move(other.sub_);
            rx_ = std::move(other.rx_);
        }
        return *this;
    }
    subscription(const subscription&) = delete;
    subscription& operator=(const subscription&) = delete;
    ~subscription() { unsubscribe(); }

    // The channel the values arrive on; closed when the subscription ends, after what it holds.
    const receiver<T>& rx() const noexcept { return rx_; }
    auto begin() const { return rx_.begin(); }
    std::default_sentinel_t end() const noexcept { return {}; }

    // Values published while subscribed that it did not get: full under slow_policy::drop, a
    // copy that threw, or a publish(ctx, v) that gave up waiting for it.
    std::uint64_t dropped() const noexcept {
        return sub_ ? sub_->dropped.load(std::memory_order_relaxed) : 0;
    }
    subscription_state state() const noexcept {
        // acquire: pairs with the release in broadcast_sub::end().
        return sub_ ? sub_->state.load(std::memory_order_acquire) : subscription_state::active;
    }
    bool disconnected() const noexcept { return state() == subscription_state::disconnected; }

    // Ends the subscription (if nothing ended it before): no more values, its channel closed
    // after what it holds. True if this call ended it. Wakes a publisher waiting for it.
    bool unsubscribe() noexcept {
        return sub_ && hub_ && hub_->remove(*sub_, subscription_state::unsubscribed);
    }

    explicit operator bool() const noexcept { return sub_ != nullptr; }

private:
    friend class broadcast<T>;
    subscription(std::shared_ptr<detail::broadcast_hub<T>> hub,
                 std::shared_ptr<detail::broadcast_sub<T>> sub)
        : hub_(std::move(hub)), sub_(std::move(sub)), rx_(sub_->ch) {}

    std::shared_ptr<detail::broadcast_hub<T>> hub_;
    std::shared_ptr<detail::broadcast_sub<T>> sub_;
    receiver<T> rx_;
};

// A pub/sub hub. See the file comment.
template <class T>
class broadcast {
    static_assert(std::is_copy_constructible_v<T>,
                  "weft::broadcast: every subscriber gets its own copy of each value, so T must "
                  "be copy constructible; for a move-only T, publish std::shared_ptr<const T>");

public:
    using value_type = T;

    broadcast() : hub_(std::make_shared<detail::broadcast_hub<T>>()) {}
    broadcast(const broadcast&) = delete;
    broadcast& operator=(const broadcast&) = delete;
    // Closes the hub: every subscriber drains its channel, then sees it closed.
    ~broadcast() { hub_->close(); }

    subscription<T> subscribe(subscribe_options options = {}) {
        return subscription<T>(hub_, hub_->subscribe(options));
    }

    // Offers a copy of v to every subscriber; waits only for full ones with slow_policy::block.
    publish_result publish(T v) { return run(nullptr, std::move(v)); }
    // As publish(v), giving up waiting when ctx ends (status canceled).
    publish_result publish(const context& ctx, T v) { return run(&ctx, std::move(v)); }

    // Ends every subscription; true if this call closed the hub. Publishing then returns closed.
    bool close() noexcept { return hub_->close(); }
    bool is_closed() const { return hub_->is_closed(); }
    // Active subscriptions: a snapshot.
    std::size_t subscribers() const { return hub_->size(); }

private:
    publish_result run(const context* ctx, T v) {
        publish_result r;
        auto subs = hub_->snapshot();
        if (!subs) {
            r.status = op_status::closed;
            return r;
        }
        if (ctx && ctx->err()) {
            r.status = op_status::canceled;
            return r;
        }
        std::exception_ptr first_error;
        bool met_closed = false;  // a subscriber's channel was closed: perhaps by close()
        bool sent = false;        // what the send case that fired did
        // The block subscribers that were full: one send case each, waited for together.
        std::optional<selector> slow;
        std::vector<detail::broadcast_sub<T>*> waited;  // the subscriber of each send case
        const std::size_t n = subs->size();
        for (std::size_t i = 0; i < n; ++i) {
            auto& s = *(*subs)[i];
            try {
                auto out = s.ch.try_send(i + 1 < n ? T(v) : std::move(v));
                if (out.status == op_status::ok) {
                    ++r.delivered;
                } else if (out.status == op_status::closed) {
                    met_closed = true;
                } else if (s.policy == slow_policy::drop) {
                    if (s.active()) s.count_drop();  // not once it has ended
                    ++r.dropped;
                } else if (s.policy == slow_policy::disconnect) {
                    if (hub_->remove(s, subscription_state::disconnected)) ++r.disconnected;
                } else {
                    if (!slow) slow.emplace();
                    (void)slow->add_send(sender<T>(s.ch), std::move(*out.value),
                                         [&sent](bool ok) { sent = ok; });
                    waited.push_back(&s);
                }
            } catch (...) {  // T's copy threw (or the select's allocation): s misses the value
                if (!first_error) first_error = std::current_exception();
                if (s.active()) s.count_drop();
                ++r.dropped;
            }
        }
        if (slow) wait(*slow, waited, sent, ctx, r, met_closed);
        if (met_closed && r.status == op_status::ok && hub_->is_closed()) {
            r.status = op_status::closed;
        }
        if (first_error) std::rethrow_exception(first_error);
        return r;
    }

    // Waits until every block subscriber in `slow` took the value or ended, or ctx ended.
    static void wait(selector& slow, const std::vector<detail::broadcast_sub<T>*>& waited,
                     const bool& sent, const context* ctx, publish_result& r, bool& met_closed) {
        const std::size_t cases = waited.size();
        std::size_t stop = cases;  // no case has this index when there is no context
        if (ctx) stop = slow.add_receive(ctx->done(), [] {});
        for (std::size_t left = cases; left > 0; --left) {
            const std::size_t i = slow.select();
            if (i == stop) {
                r.status = op_status::canceled;
                for (std::size_t k = 0; k < cases; ++k) {
                    if (!slow.enabled(k)) continue;
                    if (waited[k]->active()) waited[k]->count_drop();
                    ++r.dropped;
                }
                return;
            }
            if (sent) {
                ++r.delivered;
            } else {
                met_closed = true;
                slow.set_enabled(i, false);  // a send case that met a closed channel stays armed
            }
        }
    }

    std::shared_ptr<detail::broadcast_hub<T>> hub_;
};

WEFT_END_NAMESPACE
