// weft/detail/deadline.hpp - every timeout and deadline weft accepts, turned into a
// steady_clock time point without overflow. The one building block for channels (send_for,
// receive_until), select, timers, sleep, wait_group and context (with_deadline, with_timeout).
//
// Invariants:
// - Waits are measured on steady_clock, the clock that does not jump. A time point of another
//   clock is turned into "now + (tp - Clock::now())", computed once.
// - Nothing here overflows, for any duration or time point of any clock (integer or floating
//   rep, any period): values beyond what steady_clock::duration holds saturate. A deadline
//   that saturates upwards is time_point::max(), which every waiter treats as "forever"; a
//   timeout <= 0 (or NaN), or another clock's time point already past, is "now" (the wait
//   gives up after one try). A steady_clock time point keeps its value, min() included: the
//   waiters only compare it with now().
// - Rounding is upwards (ceil): a wait is never shorter than asked for.
#pragma once

#include <chrono>
#include <limits>
#include <ratio>
#include <type_traits>
#include <utility>

#include "config.hpp"

WEFT_BEGIN_NAMESPACE
namespace detail {

using clock = std::chrono::steady_clock;

// d as a steady_clock::duration, rounded up, clamped to [duration::min(), duration::max()].
// A NaN is zero.
template <class Rep, class Per>
constexpr clock::duration saturating_duration(const std::chrono::duration<Rep, Per>& d) noexcept {
    using out = clock::duration;
    using rep = out::rep;
    using ratio = std::ratio_divide<Per, out::period>;  // d.count() * ratio = the result's count
    if constexpr (std::is_integral_v<Rep> && ratio::den == 1) {
        // Exact integer path (hours, seconds, ... nanoseconds): count * num, unless that
        // overflows. std::cmp_* compare across signedness (an unsigned Rep is allowed).
        constexpr rep hi = std::numeric_limits<rep>::max() / ratio::num;
        constexpr rep lo = std::numeric_limits<rep>::min() / ratio::num;
        if (std::cmp_greater(d.count(), hi)) return out::max();
        if (std::cmp_less(d.count(), lo)) return out::min();
        return out(static_cast<rep>(d.count()) * static_cast<rep>(ratio::num));
    } else {
        // Floating rep or a period finer than a nanosecond (or not a whole multiple of one):
        // long double has room for any count; clamp before converting back.
        const long double x = static_cast<long double>(d.count()) *
                              static_cast<long double>(ratio::num) /
                              static_cast<long double>(ratio::den);
        // x != x and the ceil below stand in for std::isnan and std::ceil: <cmath> would be
        // the costliest header a channel includes after <chrono> (docs/performance.md).
        if (x != x) return out::zero();  // NaN
        // max() as a long double is 2^63 - 1 or, rounded, 2^63: the ceil of anything below fits.
        constexpr long double limit = static_cast<long double>(std::numeric_limits<rep>::max());
        if (x >= limit) return out::max();
        if (x <= -limit) return out::min();
        // The conversion truncates towards zero, which is the ceil for x <= 0; above zero, a
        // fraction cut off rounds up.
        const rep t = static_cast<rep>(x);
        return out(static_cast<long double>(t) < x ? t + 1 : t);
    }
}

// t + d, clamped to [time_point::min(), time_point::max()].
constexpr clock::time_point saturating_add(clock::time_point t, clock::duration d) noexcept {
    using tp = clock::time_point;
    if (d > clock::duration::zero() && t > tp::max() - d) return tp::max();
    if (d < clock::duration::zero() && t < tp::min() - d) return tp::min();
    return t + d;
}

// The deadline of a wait of `d` starting now: now + d saturating at time_point::max(); d <= 0
// (or NaN) is now. So receive_for(hours::max()) waits forever instead of overflowing.
template <class Rep, class Per>
clock::time_point deadline_after(const std::chrono::duration<Rep, Per>& d) {
    const auto now = clock::now();
    const clock::duration left = saturating_duration(d);
    if (left <= clock::duration::zero()) return now;
    return saturating_add(now, left);
}

// Any clock's time point as a steady_clock deadline (see the invariants): a steady_clock one
// keeps its value (converted with saturation); another clock's is measured from its now().
template <class Clock, class Dur>
clock::time_point to_steady(const std::chrono::time_point<Clock, Dur>& tp) {
    if constexpr (std::is_same_v<Clock, clock>) {
        return clock::time_point(saturating_duration(tp.time_since_epoch()));
    } else {
        // Both ends in steady_clock's unit first: tp itself may be far outside its range
        // (time_point<system_clock, seconds>::max()), so tp - Clock::now() could overflow.
        const clock::duration at = saturating_duration(tp.time_since_epoch());
        if (at == clock::duration::max()) return clock::time_point::max();
        const clock::duration now = saturating_duration(Clock::now().time_since_epoch());
        if (at <= now) return clock::now();  // already past (time_point::min() included)
        // at > now, and now is a real clock reading (far from min()): at - now may still
        // exceed duration::max() when now < 0, so subtract in two saturating steps.
        clock::duration left;
        if (now >= clock::duration::zero() || at < clock::duration::max() + now)
            left = at - now;
        else
            left = clock::duration::max();
        return saturating_add(clock::now(), left);
    }
}

}  // namespace detail
WEFT_END_NAMESPACE
