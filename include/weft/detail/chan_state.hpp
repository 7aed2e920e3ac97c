// weft/detail/chan_state.hpp - the shared state behind a channel handle: one of three flavors,
// chosen at construction (capacity 0: rendezvous; N: bounded ring; unbounded: list), as
// crossbeam-channel does. Dispatch is a switch the compiler inlines, not a virtual call: the
// uncontended send+receive budget is a few nanoseconds.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <utility>
#include <variant>

#include "../errors.hpp"
#include "config.hpp"
#include "flavor_array.hpp"
#include "flavor_list.hpp"
#include "flavor_zero.hpp"

WEFT_BEGIN_NAMESPACE
namespace detail {

struct unbounded_tag {};

template <class T>
class chan_state {
public:
    explicit chan_state(std::size_t cap) : f_(make(cap)) {}
    explicit chan_state(unbounded_tag) : f_(std::in_place_index<2>) {}

    template <class F>
    decltype(auto) visit(F&& f) {
        switch (f_.index()) {
            case 0: return f(*std::get_if<0>(&f_));
            case 1: return f(*std::get_if<1>(&f_));
            default: return f(*std::get_if<2>(&f_));
        }
    }
    template <class F>
    decltype(auto) visit(F&& f) const {
        switch (f_.index()) {
            case 0: return f(*std::get_if<0>(&f_));
            case 1: return f(*std::get_if<1>(&f_));
            default: return f(*std::get_if<2>(&f_));
        }
    }

private:
    using variant = std::variant<array_flavor<T>, zero_flavor<T>, list_flavor<T>>;
    static variant make(std::size_t cap) {
        if (cap == 0) return variant(std::in_place_index<1>);
        return variant(std::in_place_index<0>, cap);
    }
    variant f_;
};

// Turns any clock's time point into a steady_clock one: waits are measured on the clock that
// does not jump.
template <class Clock, class Dur>
clock::time_point to_steady(const std::chrono::time_point<Clock, Dur>& tp) {
    if constexpr (std::is_same_v<Clock, clock>) {
        return std::chrono::time_point_cast<clock::duration>(tp);
    } else {
        auto left = tp - Clock::now();
        return clock::now() + std::chrono::duration_cast<clock::duration>(left);
    }
}

// Saturating now + d, so that send_for(v, hours::max()) waits "forever" instead of overflowing.
template <class Rep, class Per>
clock::time_point deadline_after(const std::chrono::duration<Rep, Per>& d) {
    auto now = clock::now();
    using namespace std::chrono;
    if (d <= duration<Rep, Per>::zero()) return now;
    auto limit = duration_cast<duration<double, Per>>(clock::time_point::max() - now);
    if (duration<double, Per>(d) >= limit) return clock::time_point::max();
    return now + ceil<clock::duration>(d);
}

}  // namespace detail
WEFT_END_NAMESPACE
