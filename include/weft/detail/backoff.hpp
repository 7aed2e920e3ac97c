// weft/detail/backoff.hpp - bounded exponential spinning before a thread gives up its core.
//
// Parking a thread costs 7-38 us on a typical VM while a spinning hand-off costs ~70 ns, so every
// wait in weft first spins (cheap, keeps the core) and then yields (lets an oversubscribed peer
// run) before it parks. Learned from crossbeam-utils' Backoff; unlike it, a waiting thread
// re-checks after every pause instead of after 2^step of them (see snooze()).
#pragma once

#include <thread>

#include "config.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <emmintrin.h>  // _mm_pause; <immintrin.h> would add ~40k lines of AVX headers
#define WEFT_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define WEFT_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define WEFT_CPU_RELAX() ((void)0)
#endif

WEFT_BEGIN_NAMESPACE
namespace detail {

class backoff {
public:
    // Inside a retry loop on a contended atomic: back off exponentially so that contenders
    // stop invalidating each other's line; never yields, the winner is making progress.
    void spin() noexcept {
        for (unsigned i = 0, n = 1u << (step_ < cas_limit ? step_ : cas_limit); i < n; ++i) {
            WEFT_CPU_RELAX();
        }
        if (step_ <= cas_limit) ++step_;
    }

    // While waiting for another thread to act: re-check after every pause (a pause costs tens
    // of nanoseconds on a VM, so exponential gaps would add microseconds of latency to a
    // hand-off that takes a hundred nanoseconds), then yield the core, in case the thread we
    // wait for shares it.
    void snooze() noexcept {
        if (step_ < spin_steps) {
            WEFT_CPU_RELAX();
        } else {
            std::this_thread::yield();
        }
        ++step_;
    }

    // True once spinning and yielding are spent (a few microseconds): time to park.
    bool completed() const noexcept { return step_ >= spin_steps + yield_steps; }

private:
    static constexpr unsigned cas_limit = 6;
    static constexpr unsigned spin_steps = 128;
    static constexpr unsigned yield_steps = 8;
    unsigned step_ = 0;
};

}  // namespace detail
WEFT_END_NAMESPACE
