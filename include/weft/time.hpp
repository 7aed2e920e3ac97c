// weft/time.hpp - Go's time.After, time.Timer and time.Ticker as channels.
//
// Every timer is an entry in the one shared timer service (detail/timer_service.hpp): creating
// a thousand timers creates no thread. Each timer delivers on a capacity-1 channel, so a timer is
// just another case in select:  select(on_receive(after(1s), [] { ... }), ...).
//
// The value delivered is the time the timer was due (its deadline), as Go's runtime does; a
// zero or negative duration is due "now" and is delivered before the call returns.
//
// How timer and ticker keep Go 1.23's promise "after stop() or reset() returns, no value from
// the old schedule is ever received":
// - Each timer/ticker has a mutex and a generation counter, both in a state block shared with
//   the service callback. Arming the timer stamps the callback with the current generation;
//   stop() and reset() increment it.
// - The callback checks the generation and sends with the timer's mutex held, so "still
//   current? then deliver" is one step as seen by stop/reset. A callback that the service has
//   already taken out of its heap (so cancel() can no longer stop it) but that has not yet got
//   the mutex will find a newer generation and send nothing.
// - stop() and reset() (under the same mutex) bump the generation, cancel the service entry,
//   and then drain the channel with try_receive(). A value the old schedule had already
//   delivered but nobody had received is removed; no old-generation callback can send after
//   that (it would see the new generation). So when stop()/reset() returns, the channel is
//   empty and nothing old can enter it.
// - Holding the timer's mutex across try_send is deliberate and bounded: try_send never
//   blocks, and a receiver woken by it never takes the timer's mutex.
// Return value of stop()/reset() (also Go 1.23's): true iff the program had not received the
// value of the current schedule, i.e. the call prevented a delivery, either by stopping the
// pending schedule or by draining an unreceived value.
//
// At process exit the timer service shuts down; a timer armed after that never fires and its
// channel is closed instead, so a receiver sees "closed" rather than hanging forever.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "channel.hpp"
#include "detail/config.hpp"
#include "detail/deadline.hpp"
#include "detail/timer_service.hpp"

WEFT_BEGIN_NAMESPACE

namespace detail {

// What timer and ticker share with their service callbacks: the channel, and the generation
// check that keeps Go 1.23's promise (see the top of this file).
struct schedule_state {
    channel<std::chrono::steady_clock::time_point> ch{1};
    std::mutex mutex;
    std::uint64_t generation = 0;      // guarded by mutex; bumped by stop/reset
    timer_service::id_type entry = 0;  // guarded by mutex; 0 = nothing pending

    // Pre: mutex held. Post: no callback of an earlier arming can deliver, and the channel is
    // empty. True iff a value of the current arming had not been received (still pending, or
    // delivered but not received).
    bool disarm_locked() {
        ++generation;  // any callback already out of the service's heap is now stale
        bool pending = entry != 0;
        if (entry != 0) {
            timer_service::instance().cancel(entry);  // frees the entry early
            entry = 0;
        }
        if (ch.try_receive()) pending = true;  // delivered but never received
        return pending;
    }
};

// after(d) once d is in steady_clock's unit (saturated, see deadline.hpp).
inline receiver<clock::time_point> after_steady(clock::duration d) {
    channel<clock::time_point> ch(1);
    const auto now = clock::now();
    if (d <= clock::duration::zero()) {
        (void)ch.try_send(now);  // fresh capacity-1 channel: cannot be full
        return ch;
    }
    const auto deadline = detail::saturating_add(now, d);
    const auto id = detail::timer_service::instance().schedule(
        deadline, [ch, deadline] { (void)ch.try_send(deadline); });
    if (id == 0) ch.close();  // process is exiting: never fires, so say "closed"
    return ch;
}

}  // namespace detail

// Go's time.After: a receiver that delivers the deadline once, at or after now + d, and then
// never again (the channel is not closed, exactly like Go's). d <= 0 delivers immediately.
// Any duration type: one beyond steady_clock's range (hours::max()) saturates, so it never
// fires, instead of overflowing into the past.
// The entry cannot be canceled; it lives in the service until it fires. For a deadline that
// may be abandoned early, prefer `timer` (its destructor stops it) so a loop of selects with a
// long timeout does not pile up entries.
template <class Rep, class Per>
[[nodiscard]] receiver<std::chrono::steady_clock::time_point> after(
    const std::chrono::duration<Rep, Per>& d) {
    return detail::after_steady(detail::saturating_duration(d));
}

// Go's time.Timer with Go 1.23 semantics: one delivery per arming on a capacity-1 channel;
// after stop() or reset() returns, no value from the previous arming is ever received.
// Durations of any type saturate as after()'s do.
//
// @par Not a handle
// Unlike a channel, a timer is the one owner of its schedule (Go's *Timer), so stop() and
// reset() are not const: they change what this object owns, as std::unique_ptr::reset does.
// The handle to share is chan(), a receiver whose operations are const.
//
// @par Copy and move
// Not copyable (two owners of one schedule would race to stop it). Movable: the target takes
// over the schedule and the channel; the moved-from timer owns nothing: chan() is a nil
// receiver (never fires), stop() returns false, reset() throws std::logic_error. Move-assigning
// stops the target's old schedule first.
//
// @par Lifetime
// The destructor stops the timer: a receiver still holding chan() will then never get a value.
// Keep the timer alive while you wait on it, or use after() for fire-and-forget.
//
// @par Thread safety
// chan(), stop() and reset() may be called concurrently from any threads. Construction,
// assignment and destruction must not race with other calls on the same object.
class timer {
public:
    using clock = std::chrono::steady_clock;
    using duration = clock::duration;
    using time_point = clock::time_point;

    // Armed: delivers once, at or after now + d (d <= 0: before the constructor returns).
    template <class Rep, class Per>
    explicit timer(const std::chrono::duration<Rep, Per>& d) : state_(std::make_shared<state>()) {
        std::lock_guard lock(state_->mutex);
        arm_locked(state_, detail::saturating_duration(d));
    }

    timer(const timer&) = delete;
    timer& operator=(const timer&) = delete;
    timer(timer&&) noexcept = default;
    timer& operator=(timer&& other) noexcept {
        if (this != &other) {
            stop();
            state_ = std::move(other.state_);
        }
        return *this;
    }
    ~timer() { stop(); }

    // The channel the timer delivers on. Every call returns a handle to the same channel.
    receiver<time_point> chan() const {
        if (!state_) return channel<time_point>();
        return state_->ch;
    }

    // Prevents the pending delivery. True iff a value had not yet been received (pending or
    // delivered-but-unreceived); false if it was already received or the timer was stopped.
    bool stop() {
        if (!state_) return false;
        std::lock_guard lock(state_->mutex);
        return state_->disarm_locked();
    }

    // Stops the timer (as stop()) and arms it again for now + d; returns what stop() would.
    // No value of the previous arming is received after reset() returns.
    template <class Rep, class Per>
    bool reset(const std::chrono::duration<Rep, Per>& d) {
        if (!state_) throw std::logic_error("weft::timer: reset on a moved-from timer");
        std::lock_guard lock(state_->mutex);
        const bool pending = state_->disarm_locked();
        arm_locked(state_, detail::saturating_duration(d));
        return pending;
    }

private:
    using state = detail::schedule_state;

    // Pre: st->mutex held, channel empty.
    static void arm_locked(const std::shared_ptr<state>& st, duration d) {
        const auto now = clock::now();
        if (d <= duration::zero()) {
            (void)st->ch.try_send(now);  // empty capacity-1 channel: cannot be full
            return;
        }
        const auto deadline = detail::saturating_add(now, d);
        const std::uint64_t gen = st->generation;
        st->entry = detail::timer_service::instance().schedule(
            deadline, [st, gen, deadline] { fire(*st, gen, deadline); });
        if (st->entry == 0) st->ch.close();  // process is exiting: never fires
    }

    // Runs on the service thread.
    static void fire(state& st, std::uint64_t gen, time_point deadline) {
        std::lock_guard lock(st.mutex);
        if (st.generation != gen) return;  // stopped or reset after this arming: stale
        st.entry = 0;
        (void)st.ch.try_send(deadline);  // channel drained at arming: cannot be full
    }

    std::shared_ptr<state> state_;
};

// Go's time.Ticker: delivers the due time every `period` on a capacity-1 channel. A slow
// receiver loses ticks instead of queueing them (at most one tick waits in the channel), and
// the schedule stays on the original grid: after a stall the next tick is the first grid point
// after "now", not a burst of catch-up ticks.
//
// @par Copy and move
// Not copyable; movable like `timer` (moved-from: nil chan(), stop() does nothing, reset()
// throws std::logic_error). Move-assigning stops the target's old schedule first.
//
// @par Lifetime
// The destructor stops the ticker. After stop() or reset() returns no tick of the old schedule
// is received (Go 1.23). stop() does not close the channel (as in Go).
//
// @par Not a handle
// As `timer`: the one owner of its schedule; chan() is the handle to share.
//
// @par Thread safety
// As for `timer`.
class ticker {
public:
    using clock = std::chrono::steady_clock;
    using duration = clock::duration;
    using time_point = clock::time_point;

    // First tick at now + period. Throws std::invalid_argument if period <= 0 (Go panics).
    // Any duration type; one beyond steady_clock's range saturates (the ticker never ticks).
    template <class Rep, class Per>
    explicit ticker(const std::chrono::duration<Rep, Per>& period)
        : state_(std::make_shared<state>()) {
        const duration p = checked(period);
        std::lock_guard lock(state_->mutex);
        arm_locked(state_, p);
    }

    ticker(const ticker&) = delete;
    ticker& operator=(const ticker&) = delete;
    ticker(ticker&&) noexcept = default;
    ticker& operator=(ticker&& other) noexcept {
        if (this != &other) {
            stop();
            state_ = std::move(other.state_);
        }
        return *this;
    }
    ~ticker() { stop(); }

    receiver<time_point> chan() const {
        if (!state_) return channel<time_point>();
        return state_->ch;
    }

    // Turns the ticker off; an unreceived tick is discarded. Idempotent.
    void stop() {
        if (!state_) return;
        std::lock_guard lock(state_->mutex);
        state_->disarm_locked();
    }

    // Stops the ticker and restarts it with a new period: next tick at now + period. Works on
    // a stopped ticker too. Throws std::invalid_argument if period <= 0.
    template <class Rep, class Per>
    void reset(const std::chrono::duration<Rep, Per>& period) {
        const duration p = checked(period);
        if (!state_) throw std::logic_error("weft::ticker: reset on a moved-from ticker");
        std::lock_guard lock(state_->mutex);
        state_->disarm_locked();
        arm_locked(state_, p);
    }

private:
    struct state : detail::schedule_state {
        duration period{};  // guarded by mutex
        time_point next{};  // guarded by mutex; due time of next tick
    };

    // Rounded up, so a positive period below one tick of steady_clock is one tick, not 0.
    template <class Rep, class Per>
    static duration checked(const std::chrono::duration<Rep, Per>& period) {
        const duration p = detail::saturating_duration(period);
        if (p <= duration::zero()) throw std::invalid_argument("weft::ticker: non-positive period");
        return p;
    }

    // Pre: st->mutex held.
    static void arm_locked(const std::shared_ptr<state>& st, duration period) {
        st->period = period;
        st->next = detail::saturating_add(clock::now(), period);
        schedule_locked(st);
    }

    // Pre: st->mutex held. Registers the next tick, stamped with the current generation.
    static void schedule_locked(const std::shared_ptr<state>& st) {
        const std::uint64_t gen = st->generation;
        st->entry =
            detail::timer_service::instance().schedule(st->next, [st, gen] { tick(st, gen); });
        if (st->entry == 0) st->ch.close();  // process is exiting: no more ticks
    }

    // Runs on the service thread.
    static void tick(const std::shared_ptr<state>& st, std::uint64_t gen) {
        std::lock_guard lock(st->mutex);
        if (st->generation != gen) return;  // stopped or reset: stale
        const auto now = clock::now();
        (void)st->ch.try_send(st->next);  // full: the receiver is slow, drop this tick
        // Next grid point strictly after now (skips the ticks a stall made us miss).
        if (st->next == time_point::max()) {
            st->entry = 0;
            return;
        }
        auto next = detail::saturating_add(st->next, st->period);
        if (next <= now)
            next = detail::saturating_add(next, st->period * ((now - next) / st->period + 1));
        st->next = next;
        schedule_locked(st);
    }

    std::shared_ptr<state> state_;
};

WEFT_END_NAMESPACE
