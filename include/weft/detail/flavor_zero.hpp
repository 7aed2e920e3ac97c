// weft/detail/flavor_zero.hpp - the rendezvous channel (capacity 0): a sender waits for a
// receiver and hands its value over directly, as Go's unbuffered channel does.
//
// Learned from Go's runtime/chan.go (sudog queues, direct hand-off, the lock-free "not ready"
// fast path of non-blocking operations) and crossbeam-channel's flavors/zero.rs (packets that
// live in the blocked party's frame).
//
// Invariants:
// - `lock_` guards both waiter lists and every write of `closed_`. Nobody is woken while it is
//   held.
// - A registration's operation id is the address of its packet. A blocked sender's packet
//   points at its value; a blocked receiver's packet points at its result slot. The party that
//   selects the owner (CAS under `lock_`) moves the value through the packet after unlocking,
//   then sets `ready` (release); the owner waits for `ready` (acquire) before it leaves, so the
//   packet outlives every access to it.
// - A select that waits on both sides of the same channel never pairs with itself
//   (waiter_list skips `self`).
// - Go's "at most one of sendq/recvq is non-empty, except for a select blocked on both sides"
//   holds for the waiters that can still be claimed: a party registers only after finding no
//   claimable peer under `lock_`. A list may also hold nodes of selects already claimed through
//   another case and not yet unregistered; select_one skips them (Go's selectDone does too).
// - Non-blocking operations first peek without the lock: "nobody waits on the other side" and
//   then "not closed" (in that order, as Go's selectnbrecv: closing is permanent, so seeing it
//   open after seeing nobody proves both held at the first peek).
#pragma once

#include <atomic>
#include <mutex>
#include <optional>
#include <utility>

#include "../errors.hpp"
#include "config.hpp"
#include "spin_lock.hpp"
#include "waiter.hpp"

WEFT_BEGIN_NAMESPACE
namespace detail {

template <class T>
class zero_flavor {
public:
    op_status send(T& v, const clock::time_point* deadline, bool block) {
        if (!block && !receivers_.maybe_nonempty() && !closed_.load(std::memory_order_acquire))
            return op_status::full;
        std::unique_lock g(lock_);
        claimed e;
        if (receivers_.select_one(nullptr, e)) {
            g.unlock();
            auto* p = reinterpret_cast<packet<T>*>(e.oper);
            p->dst->emplace(std::move(v));
            p->set_ready();
            e.wake();
            return op_status::ok;
        }
        if (closed_.load(std::memory_order_relaxed)) return op_status::closed;
        if (!block) return op_status::full;
        if (deadline && clock::now() >= *deadline) return op_status::timeout;
        waiter w;
        packet<T> p;
        p.src = &v;
        senders_.push(p.arm(w));
        g.unlock();
        return finish(w, p, senders_, deadline);
    }

    op_status recv(std::optional<T>& out, const clock::time_point* deadline, bool block) {
        if (!block && !senders_.maybe_nonempty() && !closed_.load(std::memory_order_acquire))
            return op_status::empty;
        std::unique_lock g(lock_);
        claimed e;
        if (senders_.select_one(nullptr, e)) {
            g.unlock();
            auto* p = reinterpret_cast<packet<T>*>(e.oper);
            out.emplace(std::move(*p->src));
            p->set_ready();
            e.wake();
            return op_status::ok;
        }
        if (closed_.load(std::memory_order_relaxed)) return op_status::closed;
        if (!block) return op_status::empty;
        if (deadline && clock::now() >= *deadline) return op_status::timeout;
        waiter w;
        packet<T> p;
        p.dst = &out;
        receivers_.push(p.arm(w));
        g.unlock();
        return finish(w, p, receivers_, deadline);
    }

    op_status try_send(T& v) { return send(v, nullptr, false); }
    op_status try_recv(std::optional<T>& out) { return recv(out, nullptr, false); }

    // Select support. The case's packet takes part in the hand-off exactly as a blocked
    // operation's does; "ready" means a peer (other than this select) waits, or closed.
    bool register_send(waiter& w, packet<T>* p) {
        std::lock_guard g(lock_);
        senders_.push(p->arm(w));
        return closed_.load(std::memory_order_relaxed) || receivers_.has_other(&w);
    }
    void unregister_send(waiter&, packet<T>* p) {
        std::lock_guard g(lock_);
        senders_.remove(p->node);
    }
    bool register_recv(waiter& w, packet<T>* p) {
        std::lock_guard g(lock_);
        receivers_.push(p->arm(w));
        return closed_.load(std::memory_order_relaxed) || senders_.has_other(&w);
    }
    void unregister_recv(waiter&, packet<T>* p) {
        std::lock_guard g(lock_);
        receivers_.remove(p->node);
    }
    // Selected by a peer: the hand-off is under way and always completes.
    op_status accept_send(T&, packet<T>* p) {
        p->wait_ready();
        return op_status::ok;
    }
    op_status accept_recv(std::optional<T>&, packet<T>* p) {
        p->wait_ready();
        return op_status::ok;
    }

    // noexcept and allocation-free: a context's cancel closes its done() channel.
    bool close() noexcept {
        wake_batch batch;
        bool done;
        {
            std::lock_guard g(lock_);
            if (closed_.load(std::memory_order_relaxed)) return false;
            // release: pairs with the acquire peeks; what the closer wrote before is visible.
            closed_.store(true, std::memory_order_release);
            done = senders_.close_some(batch) && receivers_.close_some(batch);
        }
        batch.wake_all();
        // Once closed_ is set nobody joins a list (they check it under lock_), so the lists only
        // shrink: drain the rest a batch at a time, waking each batch after unlocking.
        while (!done) {
            {
                std::lock_guard g(lock_);
                done = senders_.close_some(batch) && receivers_.close_some(batch);
            }
            batch.wake_all();
        }
        return true;
    }

    bool is_closed() const noexcept { return closed_.load(std::memory_order_acquire); }
    std::size_t size() const noexcept { return 0; }
    std::size_t capacity() const noexcept { return 0; }
    // Every change of readiness changes a list (close empties both).
    std::uint64_t version() const noexcept { return senders_.version() + receivers_.version(); }

private:
    op_status finish(waiter& w, packet<T>& p, waiter_list& list,
                     const clock::time_point* deadline) {
        std::uintptr_t sel = w.wait_until(deadline);
        if (sel == p.id()) {
            p.wait_ready();
            return op_status::ok;
        }
        {
            std::lock_guard g(lock_);
            list.remove(p.node);
        }
        return sel == sel_closed ? op_status::closed : op_status::timeout;
    }

    alignas(64) mutable spin_lock lock_;
    std::atomic<bool> closed_{false};  // written under lock_
    waiter_list receivers_;            // guarded by lock_
    waiter_list senders_;              // guarded by lock_
};

}  // namespace detail
WEFT_END_NAMESPACE
