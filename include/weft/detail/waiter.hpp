// weft/detail/waiter.hpp - the record of one blocked operation, and the lists channels keep of
// them. This is the analogue of Go's sudog and of crossbeam-channel's Context and Waker.
//
// Invariants:
// - A waiter belongs to one blocking operation (a send, a receive or a whole select) and lives
//   in that operation's frame. Its `selected` word goes from `waiting` to exactly one final
//   value, by one successful CAS: an operation id (a peer chose this waiter for that case),
//   `aborted` (the waiter gave up: deadline, or it saw a case become ready while registering)
//   or `closed` (a channel it waited on was closed). Whoever wins the CAS owns the outcome.
// - A node in a waiter_list points to a live waiter: a waiter leaves its operation only after
//   its nodes are out of every list, taken out either by the party that selected it or by its
//   own remove(), both under the list's lock.
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
#include <mutex>
#include <optional>
#include <utility>

#include "../errors.hpp"
#include "backoff.hpp"
#include "config.hpp"
#include "deadline.hpp"
#include "park.hpp"
#include "spin_lock.hpp"

WEFT_BEGIN_NAMESPACE
namespace detail {

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

// Waiters claimed under a lock, to be woken after it is released; fixed-size, so that closing
// a channel never allocates.
struct wake_batch {
    static constexpr std::size_t capacity = 32;
    wake_handle handles[capacity];
    std::size_t size = 0;
    // Wakes and forgets the batch; the caller holds no lock.
    void wake_all() noexcept {
        for (std::size_t i = 0; i < size; ++i) handles[i]();
        size = 0;
    }
};

class waiter {
public:
    // Throws std::bad_alloc only where parker::current() does: on a thread's first wait.
    waiter() : wake_{&unpark_thread, parker::current()} {}
    // A waiter whose owner is not a parked thread (a suspended coroutine: weft/asio.hpp). It is
    // never waited on with wait_until(); `h` is called once, by whoever selects it.
    explicit waiter(wake_handle h) noexcept : wake_(h) {}
    waiter(const waiter&) = delete;
    waiter& operator=(const waiter&) = delete;
    // An operation leaves only once its outcome is decided (a waiter nobody can select any more
    // is one whose `selected` is final).
    ~waiter() { WEFT_ASSERT(selected_.load(std::memory_order_relaxed) != sel_waiting); }

    wake_handle wake() const noexcept { return wake_; }

    // Makes a decided waiter claimable again for the next round of an operation that does not
    // live in one frame (weft/asio.hpp). Only when no list holds it: nobody can select it now.
    // release: whoever claims it next sees what the owner wrote before re-arming.
    void rearm() noexcept {
        WEFT_ASSERT(selected_.load(std::memory_order_relaxed) != sel_waiting);
        selected_.store(sel_waiting, std::memory_order_release);
    }

    // Claims this waiter for `sel`; false if someone else already did.
    bool try_select(std::uintptr_t sel) noexcept {
        WEFT_ASSERT(sel != sel_waiting);  // a final value, so `selected` changes exactly once
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
        WEFT_ASSERT(wake_.fn == &unpark_thread);  // only a thread's waiter is waited on
        parker* p = static_cast<parker*>(wake_.arg);
        for (;;) {
            if (std::uintptr_t s = selected(); s != sel_waiting) return s;
            if (deadline && clock::now() >= *deadline) {
                if (try_select(sel_aborted)) return sel_aborted;
                const std::uintptr_t s = selected();
                WEFT_ASSERT(s != sel_waiting);  // our CAS failed: someone else's succeeded
                return s;
            }
            p->park_while(selected_, sel_waiting, deadline);
        }
    }

private:
    static void unpark_thread(void* p) noexcept { static_cast<parker*>(p)->unpark(); }

    std::atomic<std::uintptr_t> selected_{sel_waiting};
    wake_handle wake_;
};

// A registration of one operation in one channel's list. It lives in the operation's frame
// (inside its packet), so registering never allocates and leaving the list is O(1) - a channel
// with a thousand waiting selects (Go's ChanPopular) stays cheap. For a rendezvous channel
// `oper` is the address of the packet that holds the node.
struct waiter_node {
    waiter* w = nullptr;
    std::uintptr_t oper = 0;
    waiter_node* prev = nullptr;
    waiter_node* next = nullptr;
    bool linked = false;
};

// What a selector takes away from a list: the operation it claimed and how to wake its owner.
struct claimed {
    std::uintptr_t oper = 0;
    wake_handle wake;
};

// A FIFO of blocked operations (an intrusive doubly linked list, like Go's sudog queue),
// guarded by its owner's lock. Its `state_` mirrors "version, non-empty" for lock-free peeks:
// written (seq_cst) under the lock after every change, read without it.
class waiter_list {
public:
    waiter_list() noexcept = default;
    waiter_list(const waiter_list&) = delete;
    waiter_list& operator=(const waiter_list&) = delete;

    ~waiter_list() {
        // A blocked operation keeps its channel alive (through its handle), so nobody is still
        // registered when the channel dies.
        WEFT_ASSERT(head_ == nullptr && tail_ == nullptr);
    }

    void push(waiter_node& n) noexcept {
        WEFT_ASSERT(!n.linked && n.w != nullptr);  // one registration is in one list at a time
        n.prev = tail_;
        n.next = nullptr;
        n.linked = true;
        (tail_ ? tail_->next : head_) = &n;
        tail_ = &n;
        publish();
    }

    // Takes `n` out if it is still in (a selector may have taken it already).
    void remove(waiter_node& n) noexcept {
        if (!n.linked) return;
        unlink(n);
        publish();
    }

    // Selects the first waiter other than `self` that can still be claimed and takes it out;
    // the caller wakes it after unlocking. First come, first served.
    bool select_one(const waiter* self, claimed& out) noexcept {
        bool changed = false;
        for (waiter_node* n = head_; n;) {
            waiter_node* next = n->next;
            if (n->w == self) {
                n = next;
                continue;
            }
            // Everything is read and the node unlinked *before* the CAS: once it succeeds, the
            // owner may leave and its frame, node included, be gone. A node whose CAS fails
            // belongs to an operation that is over (selected elsewhere, or given up); its owner's
            // remove() will find it already out.
            waiter* w = n->w;
            const std::uintptr_t oper = n->oper;
            const wake_handle h = w->wake();
            unlink(*n);
            changed = true;
            if (w->try_select(oper)) {
                out = claimed{oper, h};
                publish();
                return true;
            }
            n = next;
        }
        if (changed) publish();
        return false;
    }

    // Whether some waiter other than `self` is waiting and not yet claimed (a snapshot).
    bool has_other(const waiter* self) const noexcept {
        for (const waiter_node* n = head_; n; n = n->next) {
            if (n->w != self && n->w->selected() == sel_waiting) return true;
        }
        return false;
    }

    // Claims up to batch.capacity waiters for `closed` and takes them off the list; the caller
    // wakes them after unlocking and calls again until it returns true (the list is empty).
    // In batches, not into a vector: close() runs on noexcept paths (a context's cancel) and
    // must not allocate. As in select_one, a node is done with before its owner is claimed.
    bool close_some(wake_batch& batch) noexcept {
        while (head_ && batch.size < wake_batch::capacity) {
            waiter_node* n = head_;
            waiter* w = n->w;
            const wake_handle h = w->wake();
            unlink(*n);
            if (w->try_select(sel_closed)) batch.handles[batch.size++] = h;
        }
        publish();
        return head_ == nullptr;
    }

    bool empty() const noexcept { return head_ == nullptr; }

    // Lock-free peeks. seq_cst: see the Dekker pairs of the flavors that use them.
    bool maybe_nonempty() const noexcept { return state_.load(std::memory_order_seq_cst) & 1; }
    std::uint64_t version() const noexcept { return state_.load(std::memory_order_seq_cst) >> 1; }

private:
    void unlink(waiter_node& n) noexcept {
        WEFT_ASSERT(n.linked);
        (n.prev ? n.prev->next : head_) = n.next;
        (n.next ? n.next->prev : tail_) = n.prev;
        n.prev = n.next = nullptr;
        n.linked = false;
    }
    void publish() noexcept {
        std::uint64_t version = (state_.load(std::memory_order_relaxed) >> 1) + 1;
        state_.store(version << 1 | (head_ != nullptr), std::memory_order_seq_cst);
    }

    waiter_node* head_ = nullptr;  // guarded by the owner's lock
    waiter_node* tail_ = nullptr;  // guarded by the owner's lock
    std::atomic<std::uint64_t> state_{0};
};

// A waiter_list with its own lock, for channels whose data path is lock-free (the bounded
// ring): notify() costs one load when nobody waits.
class sync_waiter_list {
public:
    void add(waiter_node& n) noexcept {
        std::lock_guard g(lock_);
        // The seq_cst publish in push() pairs with the seq_cst peek in notify(): the registering
        // thread re-checks the channel after this, the notifier peeks after changing it.
        list_.push(n);
    }

    void remove(waiter_node& n) noexcept {
        std::lock_guard g(lock_);
        list_.remove(n);
    }

    // Wakes one waiter, if any, to retry its operation.
    void notify() noexcept {
        if (!list_.maybe_nonempty()) return;
        claimed e;
        bool found;
        {
            std::lock_guard g(lock_);
            found = list_.select_one(nullptr, e);
        }
        if (found) e.wake();
    }

    // Wakes everybody with `closed`. Allocation-free (see waiter_list::close_some).
    void close_all() noexcept {
        wake_batch batch;
        for (bool done = false; !done;) {
            {
                std::lock_guard g(lock_);
                done = list_.close_some(batch);
            }
            batch.wake_all();
        }
    }

private:
    spin_lock lock_;
    waiter_list list_;  // guarded by lock_
};

// The blocking loop of the flavors whose waiters are only told to retry (bounded ring,
// unbounded list): try; spin and yield while it would block; then register `n` through
// `enlist` (which says whether the operation may have become possible meanwhile), sleep until
// notified, closed or the deadline, and start over. `would_block` is full or empty.
template <class Try, class Enlist, class Delist>
op_status retry_until(Try try_op, op_status would_block, Enlist enlist, Delist delist,
                      const clock::time_point* deadline, bool block) {
    for (;;) {
        backoff b;
        for (;;) {
            if (op_status s = try_op(); s != would_block) return s;
            if (!block || b.completed()) break;
            b.snooze();
        }
        if (!block) return would_block;
        if (deadline && clock::now() >= *deadline) return op_status::timeout;
        waiter w;
        waiter_node n{&w, reinterpret_cast<std::uintptr_t>(&w)};
        if (enlist(n)) w.try_select(sel_aborted);
        if (w.wait_until(deadline) != n.oper) delist(n);
    }
}

// The rendezvous hand-off record: it lives in the blocked party's frame. The peer that selected
// the owner moves the value through it and then sets `ready`; the owner does not leave before it
// sees `ready`. Its node is the owner's registration, for every flavor.
template <class T>
struct packet {
    waiter_node node;
    T* src = nullptr;                 // a blocked sender's value (moved from by the receiver)
    std::optional<T>* dst = nullptr;  // a blocked receiver's slot (filled by the sender)
    std::atomic<bool> ready{false};

    packet() noexcept = default;
    packet(const packet&) = delete;
    packet& operator=(const packet&) = delete;

    std::uintptr_t id() const noexcept { return reinterpret_cast<std::uintptr_t>(this); }
    // Prepares a registration of `w` (again: a select re-arms its packets every round).
    waiter_node& arm(waiter& w) noexcept {
        WEFT_ASSERT(!node.linked);  // the previous round's registration was taken out
        node.w = &w;
        node.oper = id();
        // relaxed: no peer can see the packet before the list push publishes it under a lock.
        ready.store(false, std::memory_order_relaxed);
        return node;
    }

    // The owner's side: the peer that selected us is running, so this wait is short.
    void wait_ready() const noexcept {
        backoff b;
        // acquire: pairs with the peer's release store; the moved value is visible.
        while (!ready.load(std::memory_order_acquire)) b.snooze();
    }
    void set_ready() noexcept { ready.store(true, std::memory_order_release); }
};

}  // namespace detail
WEFT_END_NAMESPACE
