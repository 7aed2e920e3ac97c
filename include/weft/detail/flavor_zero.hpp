// weft/detail/flavor_zero.hpp - the rendezvous channel (capacity 0): a sender waits for a
// receiver and hands its value over directly, as Go's unbuffered channel does.
//
// Learned from Go's runtime/chan.go (sudog queues, direct hand-off) and crossbeam-channel's
// flavors/zero.rs (packets that live in the blocked party's frame).
//
// Invariants:
// - `lock_` guards `senders_`, `receivers_` and `closed_`. Nobody is woken while it is held.
// - At most one side has waiters that are not yet selected, except for a select that waits on
//   both sides of the same channel: it never pairs with itself (waiter_list skips `self`).
// - The operation id of a registration is the address of its packet. A blocked sender's packet
//   points at its value; a blocked receiver's packet points at its result slot. The party that selects the owner (CAS under `lock_`) moves the value through
//   the packet after unlocking, then sets `ready` (release); the owner waits for `ready`
//   (acquire) before it leaves, so the packet outlives every access to it.
#pragma once

#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "backoff.hpp"
#include "config.hpp"
#include "spin_lock.hpp"
#include "status.hpp"
#include "waiter.hpp"

WEFT_BEGIN_NAMESPACE
namespace detail {

template <class T>
struct packet {
    T* src = nullptr;                 // a blocked sender's value (moved from by the receiver)
    std::optional<T>* dst = nullptr;  // a blocked receiver's slot (filled by the sender)
    std::atomic<bool> ready{false};

    // The owner's side: the peer that selected us is running, so this wait is short.
    void wait_ready() const noexcept {
        backoff b;
        // acquire: pairs with the peer's release store; the moved value is visible.
        while (!ready.load(std::memory_order_acquire)) b.snooze();
    }
    void set_ready() noexcept { ready.store(true, std::memory_order_release); }
};

template <class T>
class zero_flavor {
public:
    op_status send(T& v, const clock::time_point* deadline, bool block) {
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
        if (closed_) return op_status::closed;
        if (!block) return op_status::full;
        if (deadline && clock::now() >= *deadline) return op_status::timeout;
        waiter w;
        packet<T> p;
        p.src = &v;
        const auto oper = reinterpret_cast<std::uintptr_t>(&p);
        senders_.add(w, oper);
        g.unlock();
        return finish(w, oper, p, senders_, deadline);
    }

    op_status recv(std::optional<T>& out, const clock::time_point* deadline, bool block) {
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
        if (closed_) return op_status::closed;
        if (!block) return op_status::empty;
        if (deadline && clock::now() >= *deadline) return op_status::timeout;
        waiter w;
        packet<T> p;
        p.dst = &out;
        const auto oper = reinterpret_cast<std::uintptr_t>(&p);
        receivers_.add(w, oper);
        g.unlock();
        return finish(w, oper, p, receivers_, deadline);
    }

    op_status try_send(T& v) { return send(v, nullptr, false); }
    op_status try_recv(std::optional<T>& out) { return recv(out, nullptr, false); }

    // Select support. The case's packet takes part in the hand-off exactly as a blocked
    // operation's does; "ready" means a peer (other than this select) waits, or closed.
    bool register_send(waiter& w, packet<T>* p) {
        std::lock_guard g(lock_);
        senders_.add(w, reinterpret_cast<std::uintptr_t>(p));
        return closed_ || receivers_.has_other(&w);
    }
    void unregister_send(waiter& w, packet<T>* p) {
        std::lock_guard g(lock_);
        senders_.remove(w, reinterpret_cast<std::uintptr_t>(p));
    }
    bool register_recv(waiter& w, packet<T>* p) {
        std::lock_guard g(lock_);
        receivers_.add(w, reinterpret_cast<std::uintptr_t>(p));
        return closed_ || senders_.has_other(&w);
    }
    void unregister_recv(waiter& w, packet<T>* p) {
        std::lock_guard g(lock_);
        receivers_.remove(w, reinterpret_cast<std::uintptr_t>(p));
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

    bool close() {
        std::vector<wake_handle> to_wake;
        {
            std::lock_guard g(lock_);
            if (closed_) return false;
            closed_ = true;
            senders_.close_all(to_wake);
            receivers_.close_all(to_wake);
        }
        for (const wake_handle& h : to_wake) h();
        return true;
    }

    bool is_closed() const noexcept {
        std::lock_guard g(lock_);
        return closed_;
    }
    std::size_t size() const noexcept { return 0; }
    std::size_t capacity() const noexcept { return 0; }

private:
    op_status finish(waiter& w, std::uintptr_t oper, packet<T>& p, waiter_list& list,
                     const clock::time_point* deadline) {
        std::uintptr_t sel = w.wait_until(deadline);
        if (sel == oper) {
            p.wait_ready();
            return op_status::ok;
        }
        {
            std::lock_guard g(lock_);
            list.remove(w, oper);
        }
        return sel == sel_closed ? op_status::closed : op_status::timeout;
    }

    // The lock and the first inline entries of receivers_ share a cache line: a sender that
    // finds a waiting receiver touches this line, the receiver's waiter and its packet.
    alignas(64) mutable spin_lock lock_;
    bool closed_ = false;    // guarded by lock_
    waiter_list receivers_;  // guarded by lock_
    waiter_list senders_;    // guarded by lock_
};

}  // namespace detail
WEFT_END_NAMESPACE
