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
#include "deadline.hpp"
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

}  // namespace detail
WEFT_END_NAMESPACE
