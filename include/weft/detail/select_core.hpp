// weft/detail/select_core.hpp - the one select algorithm behind select(...) and selector.
//
// Learned from Go's runtime/select.go (random poll order, lock-free of per-channel ordering
// problems because no channel lock is held across cases) and crossbeam-channel's select.rs
// (register one waiter in every case; whoever selects it first wins the whole select).
//
// Invariants:
// - Phase 1 polls the enabled cases in a uniformly random order and fires the first that can
//   complete without waiting: uniform among ready cases, and no case starves.
// - Phase 2 registers one waiter in every enabled case. A peer that selects the waiter (one CAS)
//   owns it; every other case then sees the CAS fail and cannot fire. No lock is held across
//   cases, so two selects over the same channels in opposite orders cannot deadlock.
// - Lossless: a case consumes a value only when it fires. A rendezvous peer that selected us
//   has already handed its value over (accept completes the hand-off); a buffered channel only
//   tells us to retry, and its value stays in the buffer if we take another case.
// - A case never pairs with another case of the same select (waiter_list skips `self`).
// - Registration follows the same random order as the poll, so a peer scanning a channel's
//   waiters does not always meet the first of several cases on that channel.
// - The last look before `otherwise` or a timeout is a snapshot: channel versions read before
//   and after the poll agree, or the poll is repeated (Go locks every channel for this).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

#include "../errors.hpp"
#include "config.hpp"
#include "random.hpp"
#include "waiter.hpp"

WEFT_BEGIN_NAMESPACE
namespace detail {

// The state of a case that has finished: it fires whether it moved a value or met a close.
constexpr bool fired(op_status s) noexcept { return s == op_status::ok || s == op_status::closed; }

// One case of a select, type-erased.
class select_case {
public:
    // Completes the operation if it can without waiting; fired(result) says whether it did.
    virtual op_status poll() = 0;
    // Registers `w`; true if the case may already be ready (the select then retries).
    virtual bool enlist(waiter& w) = 0;
    virtual void delist(waiter& w) = 0;
    // `w` was selected for this case: complete the operation (or report that it must retry).
    virtual op_status accept() = 0;
    // A number that changes whenever the channel's readiness may have changed.
    virtual std::uint64_t version() const = 0;

    // The operation id a peer selects this case with: the address of the case's packet.
    std::uintptr_t id() const noexcept { return id_; }

protected:
    explicit select_case(const void* packet) noexcept
        : id_(reinterpret_cast<std::uintptr_t>(packet)) {}
    select_case(const select_case&) = delete;
    select_case& operator=(const select_case&) = delete;
    ~select_case() = default;

private:
    std::uintptr_t id_;
};

inline constexpr std::size_t select_none = std::numeric_limits<std::size_t>::max();

// The sum of monotonic counters: equal sums mean no counter moved.
inline std::uint64_t versions(select_case* const* cases, std::size_t n) {
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (cases[i]) sum += cases[i]->version();
    }
    return sum;
}

// The steps of a select, shared by the blocking run_select below and by the asynchronous
// select of weft/asio.hpp (which runs the same steps, but suspends a coroutine where a thread
// would park).

// Step 1's order: a uniformly random permutation of 0..n-1 (Fisher-Yates).
inline void shuffle_order(std::size_t* order, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        std::size_t j = random_below(i + 1);
        if (j != i) order[i] = order[j];
        order[j] = i;
    }
}

// Step 1: polls the enabled cases in `order`; the index of the first that fired, or select_none.
inline std::size_t poll_cases(select_case* const* cases, const std::size_t* order, std::size_t n) {
    for (std::size_t k = 0; k < n; ++k) {
        std::size_t i = order[k];
        if (cases[i] && fired(cases[i]->poll())) return i;
    }
    return select_none;
}

// Step 3: registers `w` in the enabled cases in `order` (the random poll order too: a peer scans
// a channel's waiters first to last, so registering in argument order would always pair the
// first of several cases on one channel). A case that may already be ready ends the round: `w`
// aborts itself, unless a peer selected it first. Returns how many entries of `order` were
// visited: the ones delist_cases must undo. `self_aborted` says whether `w` aborted itself
// (then nobody else claimed it, and nobody will wake it).
inline std::size_t enlist_cases(select_case* const* cases, const std::size_t* order, std::size_t n,
                                waiter& w, bool& self_aborted) {
    std::size_t enlisted = 0;
    self_aborted = false;
    while (enlisted < n) {
        select_case* c = cases[order[enlisted++]];
        if (c && c->enlist(w)) {
            self_aborted = w.try_select(sel_aborted);
            break;
        }
    }
    return enlisted;
}

// Step 5: unregisters `w` from the visited cases. Returns the index of the case `sel` (the final
// value of w.selected()) names, or select_none when `w` was aborted or met a close.
inline std::size_t delist_cases(select_case* const* cases, const std::size_t* order,
                                std::size_t enlisted, waiter& w, std::uintptr_t sel) {
    WEFT_ASSERT(sel != sel_waiting);
    std::size_t chosen = select_none;
    for (std::size_t k = 0; k < enlisted; ++k) {
        select_case* c = cases[order[k]];
        if (!c) continue;
        c->delist(w);
        if (c->id() == sel) chosen = order[k];
    }
    // An id is the address of one of our cases' packets: a peer only selects what we enlisted.
    WEFT_ASSERT(sel == sel_aborted || sel == sel_closed || chosen != select_none);
    return chosen;
}

// Runs a select over `cases` (nullptr = disabled). Returns the index of the case that fired, or
// select_none when `nonblocking` and nothing was ready, or when `deadline` passed.
// `order` is scratch space of n entries.
inline std::size_t run_select(select_case* const* cases, std::size_t* order, std::size_t n,
                              bool nonblocking, const clock::time_point* deadline) {
    std::size_t enabled = 0, last = select_none;
    for (std::size_t i = 0; i < n; ++i) {
        if (cases[i]) ++enabled, last = i;
    }
    // Go's `select { case <-c: ... default: }`: one poll, no shuffle, no snapshot needed.
    if (nonblocking && enabled == 1) return fired(cases[last]->poll()) ? last : select_none;
    for (;;) {
        // 1. Poll in a uniformly random order.
        shuffle_order(order, n);
        // 2. Nothing ready: give up if nonblocking or past the deadline. On that last look
        // the poll must see all channels at one instant, as
        // Go's (which locks them all) does: otherwise c2 can be seen empty, then c2 filled and
        // c1 drained, then c1 seen empty. Versions read before and after an unsuccessful poll
        // that agree prove nothing changed in between (double collect).
        const bool last_look = nonblocking || (deadline && clock::now() >= *deadline);
        const bool validate = last_look && enabled > 1;
        std::uint64_t before = validate ? versions(cases, n) : 0;
        if (std::size_t i = poll_cases(cases, order, n); i != select_none) return i;
        if (last_look) {
            if (validate && versions(cases, n) != before) continue;
            return select_none;
        }

        // 3. Register.
        waiter w;
        bool self_aborted;
        const std::size_t enlisted = enlist_cases(cases, order, n, w, self_aborted);
        // 4. Wait: spin, yield, then park.
        std::uintptr_t sel = w.wait_until(deadline);
        // 5. Unregister from every case enlisted; the id says which one was selected.
        std::size_t chosen = delist_cases(cases, order, enlisted, w, sel);
        // 6. Aborted or closed: back to 1. Selected: accept(); a failed retry also goes back.
        if (chosen != select_none && fired(cases[chosen]->accept())) return chosen;
    }
}

}  // namespace detail
WEFT_END_NAMESPACE
