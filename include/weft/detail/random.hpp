// weft/detail/random.hpp - a per-thread xorshift generator for select's poll order. Fairness
// needs uniformity, not unpredictability, and the generator must cost a few cycles.
#pragma once

#include <cstddef>
#include <cstdint>
#include <thread>

#include "config.hpp"

WEFT_BEGIN_NAMESPACE
namespace detail {

inline std::uint64_t next_random() noexcept {
    thread_local std::uint64_t state = [] {
        // Distinct threads start at distinct points: mix the thread id with a stack address.
        int anchor = 0;
        std::uint64_t s = std::hash<std::thread::id>{}(std::this_thread::get_id()) ^
                          reinterpret_cast<std::uintptr_t>(&anchor) ^ 0x9E3779B97F4A7C15ull;
        return s == 0 ? 1 : s;
    }();
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

// Uniform in [0, n) for n < 2^32 by Lemire's multiply-shift (bias below 2^-32, no division).
inline std::size_t random_below(std::size_t n) noexcept {
    return static_cast<std::size_t>(((next_random() >> 32) * static_cast<std::uint64_t>(n)) >> 32);
}

}  // namespace detail
WEFT_END_NAMESPACE
