// weft/rate.hpp - Go's golang.org/x/time/rate: a token-bucket rate limiter, its reservations,
// a wait that a context can cancel, and a permit that is a case in select.
//
//     weft::rate_limiter lim(10, 3);                 // 10 events per second, bursts of 3
//     if (lim.allow()) handle(request);              // drop what exceeds the rate
//     if (auto ec = lim.wait(ctx)) return ec;        // or wait for a token (ctx can cancel)
//     auto p = lim.permit();                         // or make "a token is ready" a case
//     weft::select(weft::on_receive(p.chan(), [&] { send(request); }),
//                  weft::on_receive(ctx.done(), [&] { /* p gives its token back */ }));
//
// @par Thread Safety
// Every member function of rate_limiter may be called concurrently; each takes the limiter's
// mutex, as Go's do. A limiter is neither copyable nor movable (reservations and permits refer
// to it by address) and must outlive its reservations and permits. One rate_reservation or
// rate_permit object is used by one thread at a time.
//
// @par Semantics (x/time/rate's)
// A bucket holds at most burst() tokens; it is full at construction and refills at limit()
// tokens per second. An event of n tokens takes them from the bucket: allow_n() only if they
// are there now; reserve_n() always (if n <= burst), leaving the bucket in debt and telling the
// caller how long to wait; wait_n() reserves and sleeps, unless the sleep would outlast the
// context's deadline, in which case it fails at once instead of waiting for nothing. A limit of
// `rate_limiter::inf` allows everything and ignores the burst; a limit of 0 allows the burst
// and then nothing. Time points passed to the *_at / now-taking calls may go backwards: an
// earlier time refills nothing, and the bucket's clock moves back to it (as in Go; the ports of
// Go's tests in tests/rate_test.cpp pin this down).
//
// @par Select
// A select case fires by receiving a value, so "a token is ready" has to be a channel. A
// rate_permit reserves its tokens when it is made and arms a weft::timer for the reservation's
// time to act; permit.chan() is that timer's channel. Receiving from it (the case firing) is
// using the tokens. A permit destroyed or cancel()led before its value was received gives the
// tokens back, even when their time to act has passed (Go's CancelAt would keep them then: it
// assumes a due reservation was used, and here we know it was not). So a select that picks
// another case consumes nothing - as far as later reservations allow, the rule of Go's
// CancelAt: tokens that a later reservation already counts on waiting for are not handed out
// twice. weft::timer::stop() tells exactly whether the value was received, which is what makes
// this sound. The alternative - take the token only when the case fires - cannot be built on a
// receive: the receive is the firing, and a token checked before it may be gone after it.
//
// A pattern, not a primitive: built only from public parts (timer, select, context) and a
// std::mutex, after x/time/rate's rate.go. Where weft deviates:
// - A negative burst or a NaN limit throws std::invalid_argument; a negative n is never allowed
//   (Go lets it add tokens). Any limit >= DBL_MAX counts as inf (Go's Inf is DBL_MAX).
// - Errors are std::error_codes: rate_errc::exceeds_burst (== std::errc::invalid_argument) and
//   rate_errc::would_exceed_deadline (== std::errc::timed_out, as a context's deadline_exceeded
//   is); Go returns formatted errors.
// - A reservation under the inf limit takes no tokens, so canceling it gives none back (Go's
//   gives back n tokens if the limit was lowered meanwhile). cancel() acts once.
// - rate_permit (above), reserve_n(now, n, max_wait) (Go's internal reserveN, public here) and
//   rate_reservation::time_to_act().
//
// Invariants:
// - mu_ guards limit_, burst_, tokens_, last_ and last_event_; nothing is read or written
//   without it, and there are no atomics.
// - tokens_ is the bucket at time last_. It is at most burst_ after every operation (refills
//   are capped), and negative while reservations owe tokens: the debt is paid off at limit_
//   tokens per second after last_.
// - last_event_ is the time to act of the latest granted reservation (past or future). Cancel
//   uses it to tell how many of a reservation's tokens later reservations have already counted
//   on.
// - Nobody is woken while mu_ is held: the limiter only does arithmetic under it. Timers are
//   armed, stopped and selected on after it is released.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include "channel.hpp"
#include "context.hpp"
#include "detail/config.hpp"
#include "errors.hpp"
#include "select.hpp"
#include "time.hpp"

WEFT_BEGIN_NAMESPACE

// Why a wait failed without waiting. A std::error_code enum: `ec == rate_errc::exceeds_burst`,
// and also `ec == std::errc::invalid_argument` (would_exceed_deadline: std::errc::timed_out).
enum class rate_errc { exceeds_burst = 1, would_exceed_deadline = 2 };

template <>
struct detail::error_table<rate_errc> {
    static constexpr const char* name = "weft.rate";
    static constexpr const char* unknown = "unknown rate error";
    static constexpr error_entry entries[] = {
        {static_cast<int>(rate_errc::exceeds_burst), "rate: wait(n) exceeds the limiter's burst",
         std::errc::invalid_argument},
        {static_cast<int>(rate_errc::would_exceed_deadline),
         "rate: wait(n) would exceed the context's deadline", std::errc::timed_out},
    };
};

inline const std::error_category& rate_category() noexcept {
    return error_category_of<rate_errc>();
}

WEFT_END_NAMESPACE

template <>
struct std::is_error_code_enum<weft::rate_errc> : std::true_type {};

WEFT_BEGIN_NAMESPACE

class rate_limiter;

// Go's rate.Reservation: n tokens granted by a limiter, to be used at time_to_act(). Move-only;
// a moved-from or default-constructed reservation is not ok().
class rate_reservation {
public:
    using clock = std::chrono::steady_clock;
    using duration = clock::duration;
    using time_point = clock::time_point;

    rate_reservation() noexcept = default;
    rate_reservation(rate_reservation&& o) noexcept { *this = std::move(o); }
    rate_reservation& operator=(rate_reservation&& o) noexcept {
        if (this != &o) {
            lim_ = std::exchange(o.lim_, nullptr);
            tokens_ = std::exchange(o.tokens_, 0);
            time_to_act_ = o.time_to_act_;
            limit_ = o.limit_;
            ok_ = std::exchange(o.ok_, false);
        }
        return *this;
    }
    rate_reservation(const rate_reservation&) = delete;
    rate_reservation& operator=(const rate_reservation&) = delete;

    // Whether the limiter granted the tokens (n <= burst, and the wait within the maximum asked
    // for). If not, delay() is inf_duration and cancel() does nothing.
    bool ok() const noexcept { return ok_; }

    // How long the holder must wait before acting; zero means now. duration::max() when not ok()
    // or when the tokens will never come (limit 0).
    duration delay() const { return delay_from(clock::now()); }
    duration delay_from(time_point now) const noexcept;

    // When the holder may act (meaningful only if ok()).
    time_point time_to_act() const noexcept { return time_to_act_; }

    // The holder will not act: give the tokens back, as far as later reservations allow, and
    // only if the time to act has not passed (Go's Cancel / CancelAt). Acts once.
    void cancel() { cancel_at(clock::now()); }
    void cancel_at(time_point now);

private:
    friend class rate_limiter;
    friend class rate_permit;

    rate_limiter* lim_ = nullptr;
    int tokens_ = 0;  // taken from the bucket; 0 once canceled (and under the inf limit)
    time_point time_to_act_{};
    double limit_ = 0;  // the limit when the tokens were taken: they were priced at it
    bool ok_ = false;
};

// A reservation that is a case in select: chan() delivers once the reserved tokens are due, and
// receiving that value is using them. Destroyed or cancel()led before that, it gives them back
// (see @par Select at the top of this file). Made by rate_limiter::permit() / permit_n().
//
// @par Copy and move
// Not copyable. Movable; move-assigning cancels the target's old permit first. A moved-from or
// default-constructed permit holds nothing: chan() is a nil receiver (never ready).
class rate_permit {
public:
    using clock = std::chrono::steady_clock;
    using duration = clock::duration;
    using time_point = clock::time_point;

    rate_permit() noexcept = default;
    rate_permit(rate_permit&& o) noexcept : r_(std::move(o.r_)), timer_(std::move(o.timer_)) {
        o.timer_.reset();
    }
    rate_permit& operator=(rate_permit&& o) noexcept {
        if (this != &o) {
            cancel();
            r_ = std::move(o.r_);
            timer_ = std::move(o.timer_);
            o.timer_.reset();
        }
        return *this;
    }
    rate_permit(const rate_permit&) = delete;
    rate_permit& operator=(const rate_permit&) = delete;
    ~rate_permit() { cancel(); }

    // Delivers the time the tokens became due, once. A nil receiver if the limiter could not
    // grant them (n > burst): a select on it alone blocks forever, so check ok() first. The
    // same channel on every call.
    receiver<time_point> chan() const {
        if (!timer_) return receiver<time_point>();
        return timer_->chan();
    }

    // Whether the limiter granted the tokens (n <= burst).
    bool ok() const noexcept { return r_.ok(); }

    // Time left until chan() delivers (zero: ready now).
    duration delay() const { return r_.delay(); }

    // Gives the tokens back unless chan()'s value has been received. True iff it gave them back
    // (false: used, already canceled, or never granted). After it, chan() is nil.
    bool cancel();

private:
    friend class rate_limiter;
    // Takes r only once the timer exists: if arming it throws, r is still the caller's to
    // give back.
    rate_permit(rate_reservation& r, duration delay) : timer_(std::in_place, delay) {
        r_ = std::move(r);
    }

    rate_reservation r_;
    std::optional<timer> timer_;  // engaged iff r_.ok() and not yet canceled
};

// Go's rate.Limiter: a token bucket of burst() tokens, refilled at limit() tokens per second.
class rate_limiter {
public:
    using clock = std::chrono::steady_clock;
    using duration = clock::duration;
    using time_point = clock::time_point;

    // The limit that allows every event, whatever the burst (Go's rate.Inf).
    static constexpr double inf = std::numeric_limits<double>::infinity();
    // The delay of a reservation that is not ok or will never be due (Go's rate.InfDuration).
    static constexpr duration inf_duration = duration::max();

    // The limit of one event per `interval` (Go's rate.Every); inf for interval <= 0.
    template <class Rep, class Period>
    static constexpr double every(std::chrono::duration<Rep, Period> interval) noexcept {
        if (interval <= interval.zero()) return inf;
        return 1.0 / std::chrono::duration<double>(interval).count();
    }

    // A full bucket of `burst` tokens, refilled at `limit` tokens per second. Throws
    // std::invalid_argument if burst < 0 or limit is NaN.
    rate_limiter(double limit, int burst)
        : limit_(checked_limit(limit)), burst_(checked_burst(burst)), tokens_(burst) {}
    rate_limiter(const rate_limiter&) = delete;
    rate_limiter& operator=(const rate_limiter&) = delete;

    double limit() const {
        std::lock_guard lock(mu_);
        return limit_;
    }
    int burst() const {
        std::lock_guard lock(mu_);
        return burst_;
    }
    // The tokens in the bucket at `now` (negative: owed to reservations). Changes nothing.
    double tokens() const { return tokens_at(clock::now()); }
    double tokens_at(time_point now) const {
        std::lock_guard lock(mu_);
        return advance(now);
    }

    // Takes n tokens if the bucket has them at `now`; never waits. For events that are dropped
    // when they exceed the rate.
    [[nodiscard]] bool allow() { return allow_n(clock::now(), 1); }
    [[nodiscard]] bool allow_n(time_point now, int n) {
        std::lock_guard lock(mu_);
        return reserve_locked(now, n, duration::zero()).ok();
    }

    // Takes n tokens now or in the future and says when they are due (delay()). Not ok if
    // n > burst (unless the limit is inf), or, with max_wait, if they are due later than
    // now + max_wait; then nothing is taken. For events that must slow down, not be dropped.
    [[nodiscard]] rate_reservation reserve() { return reserve_n(clock::now(), 1); }
    [[nodiscard]] rate_reservation reserve_n(time_point now, int n) {
        return reserve_n(now, n, inf_duration);
    }
    [[nodiscard]] rate_reservation reserve_n(time_point now, int n, duration max_wait) {
        std::lock_guard lock(mu_);
        return reserve_locked(now, n, max_wait);
    }

    // Blocks until n tokens are due, or ctx is done. Returns {} with the tokens taken, or
    //   ctx.err()                         ctx was done first (or already): the tokens go back,
    //   rate_errc::exceeds_burst          n > burst() and the limit is not inf,
    //   rate_errc::would_exceed_deadline  the tokens are due after ctx's deadline: fails at
    //                                     once, taking nothing, instead of waiting for nothing,
    //   std::errc::invalid_argument       n < 0.
    [[nodiscard]] std::error_code wait(const context& ctx) { return wait_n(ctx, 1); }
    [[nodiscard]] std::error_code wait_n(const context& ctx, int n);

    // Waits asynchronously until n tokens are due, in Boost.Asio's universal model (defined in
    // weft/asio.hpp, which must be included to use them). Completes with a std::error_code: {}
    // with the tokens taken, rate_errc::exceeds_burst (n > burst() and the limit is not inf),
    // std::errc::invalid_argument (n < 0), or context_errc::canceled when the operation was
    // canceled through its handler's cancellation slot before the tokens were received: then
    // they go back, as a rate_permit's do. An execution context's shutdown withdraws a pending
    // wait the same way. async_wait(token) is async_wait_n(1, token).
    template <class Token>
    auto async_wait(Token&& token) {
        return async_wait_n(1, std::forward<Token>(token));
    }
    template <class Token>
    auto async_wait_n(int n, Token&& token);

    // A select case for n tokens: see rate_permit. permit() is permit_n(1).
    [[nodiscard]] rate_permit permit() { return permit_n(1); }
    [[nodiscard]] rate_permit permit_n(int n) {
        rate_reservation r = reserve_n(clock::now(), n);
        if (!r.ok()) return rate_permit();
        // Relative to the clock now, not to the reservation's `now`: that is what the timer
        // measures from, and a few nanoseconds late is still in time.
        const duration d = r.delay();
        try {
            return rate_permit(r, d);
        } catch (...) {  // the timer could not be armed (std::bad_alloc)
            give_back(r);
            throw;
        }
    }

    // New limit / burst from `now` on; the bucket is first brought up to `now` at the old rate.
    // Reservations already made keep the times they were given (so the new values may be
    // exceeded or under-used for a while, as in Go). Throw std::invalid_argument as the
    // constructor does.
    void set_limit(double limit) { set_limit_at(clock::now(), limit); }
    void set_limit_at(time_point now, double limit) {
        const double l = checked_limit(limit);
        std::lock_guard lock(mu_);
        tokens_ = advance(now);
        last_ = now;
        limit_ = l;
    }
    void set_burst(int burst) { set_burst_at(clock::now(), burst); }
    void set_burst_at(time_point now, int burst) {
        const int b = checked_burst(burst);
        std::lock_guard lock(mu_);
        tokens_ = advance(now);
        last_ = now;
        burst_ = b;
    }

private:
    friend class rate_reservation;
    friend class rate_permit;

    static double checked_limit(double limit) {
        // limit != limit: NaN, without <cmath> (compile cost, docs/performance.md).
        if (limit != limit) throw std::invalid_argument("weft::rate_limiter: NaN limit");
        return limit >= std::numeric_limits<double>::max() ? inf : limit;
    }
    static int checked_burst(int burst) {
        if (burst < 0) throw std::invalid_argument("weft::rate_limiter: negative burst");
        return burst;
    }

    // Time arithmetic that saturates instead of overflowing: a limit of 0 puts reservations
    // at time_point::max(), and callers may pass any time points.
    static duration sub(time_point a, time_point b) noexcept {
        const auto x = a.time_since_epoch().count(), y = b.time_since_epoch().count();
        using rep = duration::rep;
        if (y < 0 && x > std::numeric_limits<rep>::max() + y) return duration::max();
        if (y > 0 && x < std::numeric_limits<rep>::min() + y) return duration::min();
        return a - b;
    }
    static time_point add(time_point t, duration d) noexcept {
        if (d > duration::zero() && t > time_point::max() - d) return time_point::max();
        if (d < duration::zero() && t < time_point::min() - d) return time_point::min();
        return t + d;
    }

    // The tokens that accumulate in d at `limit` per second. Whole seconds and the rest apart,
    // as Go's Duration.Seconds() does, so that 100ms at 10/s is exactly 1 token.
    static double tokens_from(double limit, duration d) noexcept {
        if (limit <= 0 || d <= duration::zero()) return 0;
        const auto secs = std::chrono::duration_cast<std::chrono::seconds>(d);
        const std::chrono::duration<double> rest = d - secs;
        return (static_cast<double>(secs.count()) + rest.count()) * limit;
    }
    // The time it takes to accumulate `tokens` at `limit` per second; inf_duration if never or
    // too long to represent.
    static duration duration_from(double limit, double tokens) noexcept {
        if (limit <= 0) return inf_duration;
        const double ns = tokens / limit * 1e9;
        constexpr double top = 9223372036854775807.0;  // 2^63 as a double
        if (ns >= top) return inf_duration;
        if (ns <= -top) return duration::min();
        return std::chrono::duration_cast<duration>(
            std::chrono::nanoseconds(static_cast<std::int64_t>(ns)));
    }

    // Pre: mu_ held. The bucket at `now`, without changing it. A `now` before last_ refills
    // nothing.
    double advance(time_point now) const noexcept {
        const duration elapsed = now < last_ ? duration::zero() : sub(now, last_);
        const double t = tokens_ + tokens_from(limit_, elapsed);
        return t > burst_ ? static_cast<double>(burst_) : t;
    }

    // Pre: mu_ held. Go's reserveN: takes n tokens if n <= burst and they are due within
    // max_wait; otherwise changes nothing.
    rate_reservation reserve_locked(time_point now, int n, duration max_wait) noexcept {
        rate_reservation r;
        if (n < 0) return r;
        r.lim_ = this;
        r.limit_ = limit_;
        if (limit_ == inf) {
            r.ok_ = true;  // takes nothing, so tokens_ stays 0: there is nothing to give back
            r.time_to_act_ = now;
            return r;
        }
        const double left = advance(now) - n;
        const duration wait = left < 0 ? duration_from(limit_, -left) : duration::zero();
        if (n > burst_ || wait > max_wait) return r;
        r.ok_ = true;
        r.tokens_ = n;
        r.time_to_act_ = add(now, wait);
        last_ = now;
        tokens_ = left;
        last_event_ = r.time_to_act_;
        return r;
    }

    // Takes mu_: gives r's tokens back even if they are due; used when arming r's timer failed.
    void give_back(rate_reservation& r) noexcept {
        std::lock_guard lock(mu_);
        give_back_locked(r, clock::now(), true);
    }

    // Pre: mu_ held. Go's CancelAt; even_if_due also gives back the tokens of a reservation
    // whose time to act has passed (a permit whose value nobody received).
    void give_back_locked(rate_reservation& r, time_point now, bool even_if_due) noexcept {
        const int n = std::exchange(r.tokens_, 0);
        if (n == 0 || limit_ == inf) return;
        if (!even_if_due && r.time_to_act_ < now) return;
        // Tokens of r that reservations made after it have counted on are theirs now.
        const double restore = n - tokens_from(r.limit_, sub(last_event_, r.time_to_act_));
        if (restore <= 0) return;
        const double t = advance(now) + restore;
        tokens_ = t > burst_ ? static_cast<double>(burst_) : t;
        last_ = now;
        if (r.limit_ > 0 && r.time_to_act_ == last_event_) {
            // r was the latest: the latest is now the one before it, if that is still ahead.
            const time_point prev = add(r.time_to_act_, duration_from(r.limit_, -n));
            if (!(prev < now)) last_event_ = prev;
        }
    }

    mutable std::mutex mu_;
    double limit_;             // guarded by mu_; tokens per second, inf, or <= 0 (no refill)
    int burst_;                // guarded by mu_
    double tokens_;            // guarded by mu_; the bucket at last_, <= burst_
    time_point last_{};        // guarded by mu_; when tokens_ was last brought up to date
    time_point last_event_{};  // guarded by mu_; latest time to act of a granted reservation
};

inline rate_reservation::duration rate_reservation::delay_from(time_point now) const noexcept {
    if (!ok_) return rate_limiter::inf_duration;
    if (time_to_act_ == time_point::max()) return rate_limiter::inf_duration;
    const duration d = rate_limiter::sub(time_to_act_, now);
    return d < duration::zero() ? duration::zero() : d;
}

inline void rate_reservation::cancel_at(time_point now) {
    if (!ok_ || lim_ == nullptr) return;
    std::lock_guard lock(lim_->mu_);
    lim_->give_back_locked(*this, now, false);
}

inline bool rate_permit::cancel() {
    if (!timer_) return false;
    // stop() is true iff the value was never received: it stopped the pending delivery or
    // drained the undelivered value, so from here on nobody can receive it.
    const bool unused = timer_->stop();
    timer_.reset();
    if (!unused || r_.lim_ == nullptr) return false;
    rate_limiter& lim = *r_.lim_;
    std::lock_guard lock(lim.mu_);  // taken after the timer's lock was released, never inside it
    lim.give_back_locked(r_, clock::now(), true);
    return true;
}

inline std::error_code rate_limiter::wait_n(const context& ctx, int n) {
    if (n < 0) return std::make_error_code(std::errc::invalid_argument);
    // Before anything is reserved: done() may allocate its channel on first use.
    const receiver<std::monostate> done = ctx.done();
    rate_reservation r;
    time_point now;
    {
        std::lock_guard lock(mu_);
        if (n > burst_ && limit_ != inf) return rate_errc::exceeds_burst;
        // err() is lock-free and wakes nobody, so asking it under mu_ is fine.
        if (auto ec = ctx.err()) return ec;
        now = clock::now();
        duration max_wait = inf_duration;
        if (auto deadline = ctx.deadline()) max_wait = sub(*deadline, now);
        r = reserve_locked(now, n, max_wait);
    }
    if (!r.ok()) return rate_errc::would_exceed_deadline;
    const duration delay = r.delay_from(now);
    if (delay == duration::zero()) return {};
    std::optional<timer> due;
    try {
        due.emplace(delay);
    } catch (...) {  // std::bad_alloc: the caller gets the exception, the limiter its tokens
        give_back(r);
        throw;
    }
    std::error_code result;
    weft::select(weft::on_receive(due->chan(), [] {}), weft::on_receive(done, [&] {
                     // Canceled before the tokens were due: give them back so that others
                     // may go sooner (Go's Cancel; tokens already due stay taken).
                     r.cancel();
                     result = ctx.err();
                 }));
    return result;
}

WEFT_END_NAMESPACE
