// weft/detail/waiter.hpp - the record of one blocked operation, and the lists channels keep of
// them. This is the analogue of Go's sudog and of crossbeam-channel's Context and Waker.
//
// Invariants:
// - A waiter belongs to one blocking operation (a send, a receive or a whole select) and lives
//   in that operation's frame. Its `selected` word goes from `waiting` to exactly one final
//   value, by one successful CAS: an operation id (a peer chose this waiter for that case),
//   `aborted` (the waiter gave up: deadline, or it saw a case become ready while registering)
//   or `closed` (a channel it waited on was closed). Whoever wins the CAS owns the outcome.
// - An entry in a waiter_list points to a live waiter: a waiter leaves its operation only
//   after it is removed from every list, either by the party that selected it or by its own
//   unregister(), both under the list's lock.
// - The party that selects a waiter copies the wake handle out of the waiter *before* its CAS
//   (afterwards the waiter may be gone) and wakes it only after releasing every lock.
// - A wake handle is "something that can be woken": a thread's parker today, a coroutine
//   resumption posted to its executor tomorrow. Channels never know which.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "backoff.hpp"
#include "config.hpp"
#include "park.hpp"
#include "spin_lock.hpp"

WEFT_BEGIN_NAMESPACE
namespace detail {

using clock = std::chrono::steady_clock;

// Final values of waiter::selected other than an operation id. Operation ids are addresses of
// select cases or of packets, so they are never this small.
inline constexpr std::uintptr_t sel_waiting = 0;
inline constexpr std::uintptr_t sel_aborted = 1;
inline constexpr std::uintptr_t sel_closed = 2;

struct wake_handle {
    void (*fn)(void*) noexcept = nullptr;
    void* arg = nullptr;
    void operator()() const noexcept {
        if (fn) fn(arg);
    }
};

class waiter {
public:
    waiter() noexcept : wake_{&unpark_thread, parker::current()} {}
    waiter(const waiter&) = delete;
    waiter& operator=(const waiter&) = delete;

    wake_handle wake() const noexcept { return wake_; }

    // Claims this waiter for `sel`; false if someone else already did.
    bool try_select(std::uintptr_t sel) noexcept {
        std::uintptr_t expected = sel_waiting;
        // seq_cst: the selector's later unpark() load must not move above this write (Dekker pair
        // with parker::park_while); acquire on failure shows us the winner's writes.
        return selected_.compare_exchange_strong(expected, sel, std::memory_order_seq_cst,
                                                 std::memory_order_acquire);
    }

    // acquire: the selector's writes before its CAS (e.g. a packet pointer) are visible.
    std::uintptr_t selected() const noexcept { return selected_.load(std::memory_order_acquire); }

    // Blocks until selected, or until `deadline` (then aborts itself, unless a selector won the
    // race). Spins and yields first: a hand-off usually arrives within a microsecond.
    std::uintptr_t wait_until(const clock::time_point* deadline) noexcept {
        backoff b;
        while (!b.completed()) {
            if (std::uintptr_t s = selected(); s != sel_waiting) return s;
            b.snooze();
        }
        parker* p = static_cast<parker*>(wake_.arg);
        for (;;) {
            if (std::uintptr_t s = selected(); s != sel_waiting) return s;
            if (deadline && clock::now() >= *deadline) {
                if (try_select(sel_aborted)) return sel_aborted;
                return selected();
            }
            p->park_while(selected_, sel_waiting, deadline);
        }
    }

private:
    static void unpark_thread(void* p) noexcept { static_cast<parker*>(p)->unpark(); }

    std::atomic<std::uintptr_t> selected_{sel_waiting};
    wake_handle wake_;
};

// A registration: which waiter, and the operation id it is selected with. For a rendezvous
// channel the id is the address of the operation's packet.
struct waiter_entry {
    waiter* w;
    std::uintptr_t oper;
};

// What a selector takes away from a list: the operation it claimed and how to wake its owner.
struct claimed {
    std::uintptr_t oper = 0;
    wake_handle wake;
};

// A FIFO of blocked operations, guarded by its owner's lock (not its own). The first two
// entries live inline, next to the owner's lock: the common one-waiter hand-off touches no
// other cache line.
class waiter_list {
public:
    waiter_list() noexcept = default;
    waiter_list(const waiter_list&) = delete;
    waiter_list& operator=(const waiter_list&) = delete;

    void add(waiter& w, std::uintptr_t oper) {
        if (size_ == cap_) grow();
        data_[size_++] = waiter_entry{&w, oper};
    }

    // Removes the entry of (w, oper) if it is still there.
    bool remove(const waiter& w, std::uintptr_t oper) noexcept {
        for (std::size_t i = 0; i < size_; ++i) {
            if (data_[i].w == &w && data_[i].oper == oper) {
                erase(i);
                return true;
            }
        }
        return false;
    }

    // Selects the first waiter other than `self` that can still be claimed and removes it; the
    // caller wakes it after unlocking. FIFO among waiters, like Go's sudog queue.
    bool select_one(const waiter* self, claimed& out) noexcept {
        for (std::size_t i = 0; i < size_; ++i) {
            const waiter_entry e = data_[i];
            if (e.w == self) continue;
            // Read the wake handle first: once our CAS succeeds the waiter may be gone.
            wake_handle h = e.w->wake();
            if (e.w->try_select(e.oper)) {
                out = claimed{e.oper, h};
                erase(i);
                return true;
            }
        }
        return false;
    }

    // Whether some waiter other than `self` is waiting and not yet claimed (a snapshot).
    bool has_other(const waiter* self) const noexcept {
        for (std::size_t i = 0; i < size_; ++i) {
            if (data_[i].w != self && data_[i].w->selected() == sel_waiting) return true;
        }
        return false;
    }

    // Claims every waiter for `closed`; returns the wake handles to call after unlocking.
    void close_all(std::vector<wake_handle>& to_wake) {
        for (std::size_t i = 0; i < size_; ++i) {
            wake_handle h = data_[i].w->wake();
            if (data_[i].w->try_select(sel_closed)) to_wake.push_back(h);
        }
        size_ = 0;
    }

    bool empty() const noexcept { return size_ == 0; }

private:
    void erase(std::size_t i) noexcept {
        for (std::size_t k = i + 1; k < size_; ++k) data_[k - 1] = data_[k];
        --size_;
    }
    void grow() {
        auto bigger = std::make_unique<waiter_entry[]>(cap_ * 2);
        for (std::size_t k = 0; k < size_; ++k) bigger[k] = data_[k];
        heap_ = std::move(bigger);
        data_ = heap_.get();
        cap_ *= 2;
    }

    std::uint32_t size_ = 0;
    std::uint32_t cap_ = 2;
    waiter_entry* data_ = inline_;
    waiter_entry inline_[2];
    std::unique_ptr<waiter_entry[]> heap_;
};

// A waiter_list with its own lock and a lock-free "anyone there?" flag, for channels whose data
// path is lock-free (bounded ring, unbounded list): notify() costs one load when nobody waits.
class sync_waiter_list {
public:
    void add(waiter& w, std::uintptr_t oper) {
        std::lock_guard g(lock_);
        list_.add(w, oper);
        // seq_cst: pairs with the seq_cst load in notify(); the registering thread re-checks the
        // channel after this store, the notifier loads this after changing the channel.
        empty_.store(false, std::memory_order_seq_cst);
    }

    void remove(const waiter& w, std::uintptr_t oper) noexcept {
        std::lock_guard g(lock_);
        list_.remove(w, oper);
        empty_.store(list_.empty(), std::memory_order_seq_cst);
    }

    // Wakes one waiter, if any, to retry its operation.
    void notify() noexcept {
        // seq_cst: see add().
        if (empty_.load(std::memory_order_seq_cst)) return;
        claimed e;
        bool found;
        {
            std::lock_guard g(lock_);
            found = list_.select_one(nullptr, e);
            empty_.store(list_.empty(), std::memory_order_seq_cst);
        }
        if (found) e.wake();
    }

    // Wakes everybody with `closed`.
    void close_all() {
        std::vector<wake_handle> to_wake;
        {
            std::lock_guard g(lock_);
            list_.close_all(to_wake);
            empty_.store(true, std::memory_order_seq_cst);
        }
        for (const wake_handle& h : to_wake) h();
    }

private:
    spin_lock lock_;
    std::atomic<bool> empty_{true};
    waiter_list list_;  // guarded by lock_
};

}  // namespace detail
WEFT_END_NAMESPACE
