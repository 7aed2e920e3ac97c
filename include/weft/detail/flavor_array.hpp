// weft/detail/flavor_array.hpp - the bounded channel: a lock-free ring of stamped slots.
//
// Algorithm: Dmitry Vyukov's bounded MPMC queue
// (https://www.1024cores.net/home/lock-free-algorithms/queues/bounded-mpmc-queue), in the
// variant crossbeam-channel uses (crossbeam-channel's src/flavors/array.rs, MIT/Apache-2.0,
// itself after Vyukov): each slot carries a stamp saying whose turn it is, and a party claims
// a slot with one CAS on `head` (receivers) or `tail` (senders).
//
// Packed fields (as in crossbeam's array.rs). With mark_bit = next_pow2(cap + 1) and
// one_lap = 2 * mark_bit, `head`, `tail` and every stamp are one size_t:
//
//     tail:   | lap ..................... | mark | index |
//     head:   | lap ..................... |  0   | index |
//     stamp:  | lap ..................... |  0   | index |
//              multiples of one_lap        mark_bit  [0, mark_bit)
//
// - index (the low bits, < mark_bit) is the slot position, in [0, cap); it may reach cap in a
//   stamp (head + 1 of the last slot), which is why mark_bit > cap.
// - mark (tail only) is set by close() and never cleared; head never carries it.
// - lap counts the passes over the ring (modulo 2^64; a wrap of laps is harmless because
//   stamps are compared only for equality with values one lap apart).
// - Slot i starts with stamp i (lap 0). stamp == tail: free for the sender of this lap.
//   stamp == head + 1: holds the value for the receiver of this lap. A receiver leaves
//   head + one_lap: free for the sender of the next lap.
// - Full: head + one_lap == tail (without mark). Empty: head == tail (without mark).
//
// Where weft deviates:
// - From Vyukov: a (lap, index) pair instead of a free-running position over a power-of-two
//   ring, so any capacity works without rounding up (crossbeam's change); the close mark in a
//   high bit of `tail` (crossbeam's), so a sender sees a close in the same load that finds its
//   slot; and blocking: Vyukov's queue only reports full/empty, weft parks on waiter lists.
// - From crossbeam: the waiter lists are intrusive (nodes in the waiting frames, no allocation)
//   under a spin lock, with a seq_cst "maybe non-empty" word for a one-load notify; version()
//   (head + tail) serves select's snapshot check; capacity is bounded by max_capacity (an
//   exception, not an allocation failure or an endless next_pow2).
//
// Invariants:
// - A slot's value is constructed only by the sender that won the CAS on `tail` for it and
//   destroyed (moved out) only by the receiver that won the CAS on `head` for it; the slot's
//   stamp store (release) hands the slot over and the other side's stamp load (acquire) takes it.
// - 0 <= size() <= cap; `head` never carries the mark bit; once `tail` carries it, it always
//   does (close is permanent), and a receiver that finds the ring empty and the mark set
//   reports closed.
// - Waiting parties are in `senders_` / `receivers_` (each with its own lock). A thread that
//   changes head or tail notifies the other side's list after the change; a thread that
//   registers re-checks fullness/emptiness after registering. Both the CAS on head/tail and the
//   list's flag are seq_cst, so one of the two always sees the other: no lost wake-up.
// - Being notified only means "retry": the value stays in the ring until someone takes it, so
//   a select that is woken and then picks another case has lost nothing.
// - Go's hchan invariants "qcount > 0 implies recvq is empty" and "qcount < dataqsiz implies
//   sendq is empty" do NOT hold here. Go changes the buffer and the queues under one lock and
//   hands a value straight to a queued receiver; weft's data path takes no lock, so a value
//   can be in the ring while receivers are still registered: between a send and the retry of
//   the receiver it notified, when another thread took the value first, and while a woken
//   select that chose another case has not yet unregistered. What holds instead is the pair
//   above: no registered party sleeps through a change that would let it proceed.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <utility>

#include "../errors.hpp"
#include "backoff.hpp"
#include "config.hpp"
#include "waiter.hpp"

WEFT_BEGIN_NAMESPACE
namespace detail {

template <class T>
class array_flavor {
    struct slot {
        std::atomic<std::size_t> stamp;
        alignas(T) unsigned char storage[sizeof(T)];
        T* value() noexcept { return std::launder(reinterpret_cast<T*>(storage)); }
    };

public:
    // The largest ring an allocation could hold: new slot[n] needs n * sizeof(slot) <=
    // PTRDIFF_MAX bytes. Bounding it also keeps next_pow2(cap + 1) from overflowing (it would
    // loop forever past 2^63) and leaves the stamps at least two lap bits.
    static constexpr std::size_t max_capacity =
        static_cast<std::size_t>(std::numeric_limits<std::ptrdiff_t>::max()) / sizeof(slot);

    explicit array_flavor(std::size_t cap)
        : cap_(checked(cap)),
          mark_bit_(next_pow2(cap_ + 1)),
          one_lap_(mark_bit_ * 2),
          slots_(new slot[cap_]) {
        for (std::size_t i = 0; i < cap; ++i) slots_[i].stamp.store(i, std::memory_order_relaxed);
    }
    array_flavor(const array_flavor&) = delete;
    array_flavor& operator=(const array_flavor&) = delete;

    ~array_flavor() {
        std::size_t head = head_.load(std::memory_order_relaxed);
        std::size_t n = size();
        WEFT_ASSERT((head & mark_bit_) == 0 && n <= cap_);
        std::size_t index = head & (mark_bit_ - 1);
        for (std::size_t i = 0; i < n; ++i) {
            slots_[index].value()->~T();
            if (++index == cap_) index = 0;
        }
    }

    // Moves from `v` only when it returns ok.
    op_status send(T& v, const clock::time_point* deadline, bool block) {
        return retry_until([&] { return try_send(v); }, op_status::full,
                           [&](waiter_node& n) {
                               senders_.add(n);
                               return !is_full() || is_closed();
                           },
                           [&](waiter_node& n) { senders_.remove(n); }, deadline, block);
    }

    op_status recv(std::optional<T>& out, const clock::time_point* deadline, bool block) {
        return retry_until([&] { return try_recv(out); }, op_status::empty,
                           [&](waiter_node& n) {
                               receivers_.add(n);
                               return !is_empty() || is_closed();
                           },
                           [&](waiter_node& n) { receivers_.remove(n); }, deadline, block);
    }

    op_status try_send(T& v) {
        slot* s;
        std::size_t stamp;
        if (!start_send(s, stamp)) return op_status::full;
        if (!s) return op_status::closed;
        WEFT_ASSERT(s->stamp.load(std::memory_order_relaxed) + 1 == stamp);  // ours to write
        ::new (s->storage) T(std::move(v));
        // release: hands the constructed value to the receiver that acquires this stamp.
        s->stamp.store(stamp, std::memory_order_release);
        receivers_.notify();
        return op_status::ok;
    }

    op_status try_recv(std::optional<T>& out) {
        slot* s;
        std::size_t stamp;
        if (!start_recv(s, stamp)) return op_status::empty;
        if (!s) return op_status::closed;
        WEFT_ASSERT(s->stamp.load(std::memory_order_relaxed) + one_lap_ == stamp + 1);  // ours
        T* p = s->value();
        out.emplace(std::move(*p));
        p->~T();
        // release: the slot is free for the sender that acquires this stamp in the next lap.
        s->stamp.store(stamp, std::memory_order_release);
        senders_.notify();
        return op_status::ok;
    }

    // Select support: register the case's packet node (the ring itself moves no value through
    // packets), then report whether the case may already fire.
    bool register_send(waiter& w, packet<T>* p) {
        senders_.add(p->arm(w));
        return !is_full() || is_closed();
    }
    void unregister_send(waiter&, packet<T>* p) { senders_.remove(p->node); }
    bool register_recv(waiter& w, packet<T>* p) {
        receivers_.add(p->arm(w));
        return !is_empty() || is_closed();
    }
    void unregister_recv(waiter&, packet<T>* p) { receivers_.remove(p->node); }
    // A notification is only a hint: retry, and let the select loop on failure.
    op_status accept_send(T& v, packet<T>*) { return try_send(v); }
    op_status accept_recv(std::optional<T>& out, packet<T>*) { return try_recv(out); }

    bool close() noexcept {
        // seq_cst: ordered with the registrations' re-checks, like every head/tail change.
        std::size_t tail = tail_.fetch_or(mark_bit_, std::memory_order_seq_cst);
        if (tail & mark_bit_) return false;
        senders_.close_all();
        receivers_.close_all();
        return true;
    }

    bool is_closed() const noexcept { return tail_.load(std::memory_order_seq_cst) & mark_bit_; }

    // A snapshot: exact when no operation runs concurrently.
    std::size_t size() const noexcept {
        for (;;) {
            std::size_t tail = tail_.load(std::memory_order_seq_cst);
            std::size_t head = head_.load(std::memory_order_seq_cst);
            if (tail_.load(std::memory_order_seq_cst) != tail) continue;
            std::size_t hix = head & (mark_bit_ - 1);
            std::size_t tix = tail & (mark_bit_ - 1);
            if (hix < tix) return tix - hix;
            if (hix > tix) return cap_ - hix + tix;
            return (tail & ~mark_bit_) == head ? 0 : cap_;
        }
    }
    std::size_t capacity() const noexcept { return cap_; }

    // head and tail only grow (laps included, and the close mark is a high bit of tail): their
    // sum changes with every send, receive and close. seq_cst: in the order of those changes.
    std::uint64_t version() const noexcept {
        return head_.load(std::memory_order_seq_cst) + tail_.load(std::memory_order_seq_cst);
    }

private:
    // Throws before anything is allocated; see max_capacity.
    static std::size_t checked(std::size_t cap) {
        if (cap > max_capacity) throw std::length_error("weft::channel: capacity out of range");
        return cap;
    }

    static std::size_t next_pow2(std::size_t n) noexcept {
        std::size_t p = 1;
        while (p < n) p <<= 1;
        return p;
    }

    bool is_full() const noexcept {
        std::size_t tail = tail_.load(std::memory_order_seq_cst);
        std::size_t head = head_.load(std::memory_order_seq_cst);
        return head + one_lap_ == (tail & ~mark_bit_);
    }
    bool is_empty() const noexcept {
        std::size_t head = head_.load(std::memory_order_seq_cst);
        std::size_t tail = tail_.load(std::memory_order_seq_cst);
        return (tail & ~mark_bit_) == head;
    }

    // Reserves a slot to write. false: full. true with s == nullptr: closed.
    bool start_send(slot*& s, std::size_t& stamp_out) noexcept {
        backoff b;
        // acquire: a sender that sees the close mark sees what the closer wrote before it;
        // otherwise only a hint that the CAS below validates.
        std::size_t tail = tail_.load(std::memory_order_acquire);
        for (;;) {
            if (tail & mark_bit_) {
                s = nullptr;
                return true;
            }
            std::size_t index = tail & (mark_bit_ - 1);
            std::size_t lap = tail & ~(one_lap_ - 1);
            std::size_t new_tail = index + 1 < cap_ ? tail + 1 : lap + one_lap_;
            slot* sl = &slots_[index];
            // acquire: pairs with the release in try_recv; the previous value is gone.
            std::size_t stamp = sl->stamp.load(std::memory_order_acquire);
            if (tail == stamp) {
                // seq_cst: the notifier side of the Dekker pair with a registering receiver.
                if (tail_.compare_exchange_weak(tail, new_tail, std::memory_order_seq_cst,
                                                std::memory_order_acquire)) {
                    s = sl;
                    stamp_out = tail + 1;
                    return true;
                }
                b.spin();
            } else if (stamp + one_lap_ == tail + 1) {
                // The slot still holds last lap's value: full, unless head moved meanwhile.
                // seq_cst (acquire at least): ordered after the stamp load above.
                std::size_t head = head_.load(std::memory_order_seq_cst);
                if (head + one_lap_ == tail) return false;
                b.spin();
                tail = tail_.load(std::memory_order_acquire);
            } else {
                // Another sender is between its CAS and its stamp store: wait for it.
                b.snooze();
                tail = tail_.load(std::memory_order_acquire);
            }
        }
    }

    // Reserves a slot to read. false: empty. true with s == nullptr: closed and drained.
    bool start_recv(slot*& s, std::size_t& stamp_out) noexcept {
        backoff b;
        std::size_t head = head_.load(std::memory_order_relaxed);
        for (;;) {
            WEFT_ASSERT((head & mark_bit_) == 0);  // the close mark lives in tail only
            std::size_t index = head & (mark_bit_ - 1);
            std::size_t lap = head & ~(one_lap_ - 1);
            slot* sl = &slots_[index];
            // acquire: pairs with the release in try_send; the value is constructed.
            std::size_t stamp = sl->stamp.load(std::memory_order_acquire);
            if (head + 1 == stamp) {
                std::size_t new_head = index + 1 < cap_ ? head + 1 : lap + one_lap_;
                // seq_cst: the notifier side of the Dekker pair with a registering sender.
                if (head_.compare_exchange_weak(head, new_head, std::memory_order_seq_cst,
                                                std::memory_order_relaxed)) {
                    s = sl;
                    stamp_out = head + one_lap_;
                    return true;
                }
                b.spin();
            } else if (stamp == head) {
                // seq_cst (acquire at least): a receiver that sees the close mark also sees
                // everything the closer wrote before close(), as Go's memory model promises.
                std::size_t tail = tail_.load(std::memory_order_seq_cst);
                if ((tail & ~mark_bit_) == head) {
                    if (tail & mark_bit_) {
                        s = nullptr;
                        return true;
                    }
                    return false;
                }
                b.spin();
                head = head_.load(std::memory_order_relaxed);
            } else {
                b.snooze();
                head = head_.load(std::memory_order_relaxed);
            }
        }
    }

    // Producers write tail_, consumers head_: separate lines (two, for the adjacent-line
    // prefetcher) so neither side's CAS invalidates the other's.
    alignas(128) std::atomic<std::size_t> head_{0};
    alignas(128) std::atomic<std::size_t> tail_{0};
    alignas(128) const std::size_t cap_;
    const std::size_t mark_bit_;
    const std::size_t one_lap_;
    std::unique_ptr<slot[]> slots_;
    sync_waiter_list senders_;
    sync_waiter_list receivers_;
};

}  // namespace detail
WEFT_END_NAMESPACE
