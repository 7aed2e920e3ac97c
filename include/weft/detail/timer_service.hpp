// weft/detail/timer_service.hpp - one shared thread that runs callbacks at deadlines.
//
// Every weft timer (after, timer, ticker, a context's deadline) is an entry here; there is never
// a thread per timer. The one thread is named "weft-timer" (docs/faq.md lists weft's threads).
// schedule() is O(log n) amortized in the number of entries, cancel() O(1) amortized (the heap
// is compacted once its tombstones outnumber the live entries).
//
// Invariants:
// - All mutable state (heap_, live_, next_id_, thread_, stopping_) is guarded by mutex_. There
//   are no atomics in this file: every access is under the lock, so the mutex's acquire/release
//   is the only ordering needed.
// - live_ holds exactly the scheduled entries that have neither fired nor been canceled. An
//   id is in live_ until the service thread removes it to run it, or cancel() removes it. That
//   removal happens under mutex_ and at most once, so cancel() returning true means "the
//   callback has not run and never will", and false means "it already ran, is running, or was
//   never scheduled".
// - heap_ is a min-heap on (deadline, id) and may hold tombstones: nodes whose id is no longer
//   in live_ (canceled). They are skipped when they reach the top, and the heap is rebuilt
//   without them when they outnumber the live entries (so a timer that is reset a million
//   times before it ever fires costs O(live) memory, not O(resets)). Equal deadlines fire in
//   scheduling order (ids grow).
// - Callbacks run on the service thread with mutex_ NOT held (no one is woken while our lock is
//   held, and a callback may schedule or cancel). Callbacks must not throw: one that does
//   reaches a noexcept boundary and calls std::terminate. Callbacks are short (a try_send).
// - Lock order: a caller's own lock (e.g. a timer's mutex) may be held while calling
//   schedule()/cancel(); mutex_ is never held while calling out. So the order is always
//   "caller lock -> mutex_", and the service thread holds neither while running a callback.
// - Lifetime: the service object is created on first use and never destroyed (immortal), so a
//   timer touched during static destruction never meets a dead object. A function-local static
//   guard, constructed right after it, stops and joins the thread at process exit and drops the
//   pending entries. After that, schedule() refuses new entries (returns 0) and the caller
//   closes its channel, so a receiver created during exit sees "closed" instead of hanging.
//   If exit() is called from the service thread itself (from a callback), the guard detaches
//   instead of joining itself.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config.hpp"
#include "thread_name.hpp"

WEFT_BEGIN_NAMESPACE
namespace detail {

class timer_service {
public:
    using clock = std::chrono::steady_clock;
    using id_type = std::uint64_t;  // 0 is never a valid id

    // The process-wide service. The thread starts on the first schedule(), not here.
    static timer_service& instance() {
        // Deliberately leaked: see "Lifetime" above.
        static timer_service* const service = new timer_service;
        static const shutdown_guard guard{*service};
        return *service;
    }

    timer_service(const timer_service&) = delete;
    timer_service& operator=(const timer_service&) = delete;

    // Runs `fn` on the service thread at or after `deadline` (a past deadline fires at once).
    // Returns the entry's id, or 0 if the service has shut down (process exit): then `fn` is
    // destroyed without being run. Throws std::system_error if the thread cannot be started.
    template <class F>
    id_type schedule(clock::time_point deadline, F&& fn) {
        std::function<void()> cb(std::forward<F>(fn));  // allocate outside the lock
        id_type id = 0;
        bool wake = false;
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return 0;  // `cb` is destroyed outside the lock
            if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
            // push_back grows the vector geometrically (amortized O(1); reserve(size() + 1)
            // here once copied the whole heap per timer). Its strong guarantee leaves the heap
            // unchanged if it throws; if the map insert then throws, the node is taken back.
            id = next_id_ + 1;
            heap_.push_back(node{deadline, id});
            try {
                live_.emplace(id, std::move(cb));
            } catch (...) {
                heap_.pop_back();
                throw;
            }
            next_id_ = id;
            std::push_heap(heap_.begin(), heap_.end(), later);  // O(log n), cannot throw
            WEFT_ASSERT(live_.size() <= heap_.size());          // every live entry has its node
            // Only a new earliest deadline changes when the thread must wake up.
            wake = heap_.front().id == id;
        }
        if (wake) cv_.notify_one();  // after unlocking: the thread never wakes into a held lock
        return id;
    }

    // Removes the entry if it has not started to run. True iff this call prevented it from
    // ever running. The callback is destroyed outside the lock.
    bool cancel(id_type id) {
        if (id == 0) return false;
        std::function<void()> victim;
        {
            std::lock_guard lock(mutex_);
            auto it = live_.find(id);
            if (it == live_.end()) return false;
            victim = std::move(it->second);
            live_.erase(it);
            compact_if_needed();
            WEFT_ASSERT(live_.size() <= heap_.size());
        }
        return true;  // `victim` is destroyed here, outside mutex_
    }

    // Snapshot of the number of entries that have neither fired nor been canceled.
    std::size_t pending() const {
        std::lock_guard lock(mutex_);
        return live_.size();
    }

    // Snapshot of the heap's size, tombstones included (for tests of the compaction bound).
    std::size_t heap_entries() const {
        std::lock_guard lock(mutex_);
        return heap_.size();
    }

private:
    struct node {
        clock::time_point deadline;
        id_type id;
    };
    // std::push_heap builds a max-heap, so "less" is "fires later".
    static bool later(const node& a, const node& b) noexcept {
        return a.deadline != b.deadline ? a.deadline > b.deadline : a.id > b.id;
    }

    // Stops and joins the thread at process exit (destroyed in reverse order of construction,
    // like any function-local static).
    struct shutdown_guard {
        timer_service& service;
        ~shutdown_guard() { service.shutdown(); }
    };

    timer_service() = default;
    ~timer_service() = delete;  // immortal, see "Lifetime"

    void shutdown() noexcept {
        std::thread worker;
        std::unordered_map<id_type, std::function<void()>> dropped;
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
            dropped.swap(live_);
            heap_.clear();
            worker = std::move(thread_);
        }
        cv_.notify_all();
        if (worker.joinable()) {
            if (worker.get_id() == std::this_thread::get_id())
                worker.detach();  // exit() called from a callback: cannot join ourselves
            else
                worker.join();
        }
        // `dropped` (the never-run callbacks) is destroyed here, with no lock held.
    }

    // Pre: mutex_ held. Rebuilds the heap without tombstones once they outnumber live entries.
    void compact_if_needed() {
        if (heap_.size() < 64 || heap_.size() < 2 * live_.size()) return;
        std::erase_if(heap_, [this](const node& n) { return !live_.contains(n.id); });
        std::make_heap(heap_.begin(), heap_.end(), later);
    }

    // Pre: mutex_ held. Removes tombstones from the top of the heap.
    void drop_dead_top() {
        while (!heap_.empty() && !live_.contains(heap_.front().id)) {
            std::pop_heap(heap_.begin(), heap_.end(), later);
            heap_.pop_back();
        }
    }

    static void invoke(std::function<void()>& cb) noexcept { cb(); }  // throw -> terminate

    void run() noexcept {
        name_this_thread("weft-timer");
        std::vector<std::function<void()>> due;
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            drop_dead_top();
            if (heap_.empty()) {
                cv_.wait(lock);
                continue;
            }
            const auto now = clock::now();
            // A copy: wait_until takes a reference, and heap_ may reallocate while we sleep.
            const clock::time_point next = heap_.front().deadline;
            if (now < next) {
                cv_.wait_until(lock, next);
                continue;
            }
            // Take every due entry in one go (many timers with one deadline cost one wake-up).
            while (!heap_.empty() && heap_.front().deadline <= now) {
                const id_type id = heap_.front().id;
                std::pop_heap(heap_.begin(), heap_.end(), later);
                heap_.pop_back();
                auto it = live_.find(id);
                if (it == live_.end()) continue;  // tombstone
                due.push_back(std::move(it->second));
                live_.erase(it);  // from here on cancel(id) returns false
            }
            lock.unlock();
            for (auto& cb : due) invoke(cb);
            due.clear();  // callbacks (and what they captured) die outside the lock
            lock.lock();
        }
    }

    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<node> heap_;                                   // guarded by mutex_
    std::unordered_map<id_type, std::function<void()>> live_;  // guarded by mutex_
    id_type next_id_ = 0;                                      // guarded by mutex_
    std::thread thread_;                                       // guarded by mutex_
    bool stopping_ = false;                                    // guarded by mutex_
};

}  // namespace detail
WEFT_END_NAMESPACE
