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
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

#include "config.hpp"
#include "random.hpp"
#include "status.hpp"
#include "waiter.hpp"

WEFT_BEGIN_NAMESPACE
namespace detail {

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

// Runs a select over `cases` (nullptr = disabled). Returns the index of the case that fired, or
// select_none when `nonblocking` and nothing was ready, or when `deadline` passed.
// `order` is scratch space of n entries.
inline std::size_t run_select(select_case* const* cases, std::size_t* order, std::size_t n,
                              bool nonblocking, const clock::time_point* deadline) {
    for (;;) {
        // Fisher-Yates: the poll order is a uniformly random permutation.
        for (std::size_t i = 0; i < n; ++i) {
            std::size_t j = random_below(i + 1);
            if (j != i) order[i] = order[j];
            order[j] = i;
        }
        for (std::size_t k = 0; k < n; ++k) {
            std::size_t i = order[k];
            if (cases[i] && fired(cases[i]->poll())) return i;
        }
        if (nonblocking) return select_none;
        if (deadline && clock::now() >= *deadline) return select_none;

        waiter w;
        std::size_t enlisted = 0;
        while (enlisted < n) {
            select_case* c = cases[enlisted++];
            if (c && c->enlist(w)) {
                w.try_select(sel_aborted);
                break;
            }
        }
        std::uintptr_t sel = w.wait_until(deadline);
        for (std::size_t i = 0; i < enlisted; ++i) {
            if (cases[i]) cases[i]->delist(w);
        }
        if (sel == sel_aborted || sel == sel_closed) continue;
        for (std::size_t i = 0; i < enlisted; ++i) {
            if (cases[i] && cases[i]->id() == sel) {
                if (fired(cases[i]->accept())) return i;
                break;
            }
        }
    }
}

}  // namespace detail
WEFT_END_NAMESPACE
