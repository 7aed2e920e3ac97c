// weft/detail/invoke.hpp - std::invoke without <functional>.
//
// std::apply is specified as INVOKE over a tuple's elements, so applying f to a tuple of
// references is std::invoke(f, args...): member pointers and std::reference_wrapper included.
// <tuple> is a fraction of <functional>, which in libstdc++ 12 also brings <unordered_map>,
// <vector>, <array> and the searchers (docs/performance.md, "Compile cost").
#pragma once

#include <tuple>
#include <type_traits>
#include <utility>

#include "config.hpp"

WEFT_BEGIN_NAMESPACE
namespace detail {

template <class F, class... A>
constexpr decltype(auto) invoke(F&& f, A&&... args) noexcept(std::is_nothrow_invocable_v<F, A...>) {
    return std::apply(std::forward<F>(f), std::forward_as_tuple(std::forward<A>(args)...));
}

}  // namespace detail
WEFT_END_NAMESPACE
