// weft/detail/spin_lock.hpp - a test-and-test-and-set lock for critical sections of a few
// dozen instructions (waiter lists). A std::mutex would park a contender for microseconds
// where the holder needs nanoseconds; under oversubscription the backoff yields the core so a
// preempted holder gets to run.
#pragma once

#include <atomic>

#include "backoff.hpp"
#include "config.hpp"

WEFT_BEGIN_NAMESPACE
namespace detail {

class spin_lock {
public:
    void lock() noexcept {
        // acquire: everything the previous holder wrote before unlock() is visible to us.
        if (!locked_.exchange(true, std::memory_order_acquire)) return;
        backoff b;
        for (;;) {
            // relaxed: a read-only wait keeps the line shared until the holder releases it.
            while (locked_.load(std::memory_order_relaxed)) b.snooze();
            if (!locked_.exchange(true, std::memory_order_acquire)) return;
        }
    }
    bool try_lock() noexcept {
        return !locked_.load(std::memory_order_relaxed) &&
               !locked_.exchange(true, std::memory_order_acquire);
    }
    // release: pairs with the acquire in lock(). Only a held lock is unlocked (relaxed: the
    // holder wrote `true` itself).
    void unlock() noexcept {
        WEFT_ASSERT(locked_.load(std::memory_order_relaxed));
        locked_.store(false, std::memory_order_release);
    }

private:
    std::atomic<bool> locked_{false};
};

}  // namespace detail
WEFT_END_NAMESPACE
