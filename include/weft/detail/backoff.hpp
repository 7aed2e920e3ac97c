// weft/detail/backoff.hpp - bounded exponential spinning before a thread gives up its core.
//
// Parking a thread costs 7-38 us on a typical VM while a spinning hand-off costs ~70 ns, so every
// wait in weft first spins (cheap, keeps the core) and then yields (lets an oversubscribed peer
// run) before it parks. The shape follows crossbeam-utils' Backoff: 2^step pause instructions
// for the first steps, sched_yield for the next ones, then the caller parks.
#pragma once

#include <thread>

#include "config.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
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
    // Inside a retry loop on a contended atomic: never yields, the peer is making progress.
    void spin() noexcept {
        for (unsigned i = 0, n = 1u << (step_ < spin_limit ? step_ : spin_limit); i < n; ++i) {
            WEFT_CPU_RELAX();
        }
        if (step_ <= spin_limit) ++step_;
    }

    // While waiting for another thread to act: spin, then yield the core to it.
    void snooze() noexcept {
        if (step_ <= spin_limit) {
            for (unsigned i = 0, n = 1u << step_; i < n; ++i) WEFT_CPU_RELAX();
        } else {
            std::this_thread::yield();
        }
        if (step_ <= yield_limit) ++step_;
    }

    // True once spinning and yielding are spent: time to park.
    bool completed() const noexcept { return step_ > yield_limit; }

private:
    static constexpr unsigned spin_limit = 6;
    static constexpr unsigned yield_limit = 10;
    unsigned step_ = 0;
};

}  // namespace detail
WEFT_END_NAMESPACE
