// weft/detail/flavor_list.hpp - the unbounded channel: a deque under a spin lock. Sends never
// block; receivers wait like everywhere else.
//
// Invariants:
// - `lock_` guards `items_`, `receivers_` and every write of `closed_` and `version_`. Nobody
//   is woken while it is held.
// - A send that finds waiting receivers selects one to retry (the value stays in the deque, so
//   a woken select that picks another case loses nothing).
// - Senders never wait (there is no sender list). Go's "qcount > 0 implies recvq is empty" does
//   not hold, for the ring's reason (flavor_array.hpp): each send removes one registered
//   receiver and wakes it to retry, but a value and other registered receivers coexist until
//   the retries run.
#pragma once

#include <atomic>
#include <deque>
#include <limits>
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
class list_flavor {
public:
    op_status send(T& v, const clock::time_point*, bool) { return try_send(v); }

    op_status try_send(T& v) {
        claimed e;
        bool wake;
        {
            std::lock_guard g(lock_);
            if (closed_) return op_status::closed;
            items_.push_back(std::move(v));
            bump();
            wake = receivers_.select_one(nullptr, e);
        }
        if (wake) e.wake();
        return op_status::ok;
    }

    op_status recv(std::optional<T>& out, const clock::time_point* deadline, bool block) {
        return retry_until([&] { return try_recv(out); }, op_status::empty,
                           [&](waiter_node& n) { return add_receiver(n); },
                           [&](waiter_node& n) { remove_receiver(n); }, deadline, block);
    }

    op_status try_recv(std::optional<T>& out) {
        std::lock_guard g(lock_);
        if (items_.empty()) return closed_ ? op_status::closed : op_status::empty;
        out.emplace(std::move(items_.front()));
        items_.pop_front();
        bump();
        return op_status::ok;
    }

    bool register_send(waiter&, packet<T>*) { return true; }
    void unregister_send(waiter&, packet<T>*) {}
    bool register_recv(waiter& w, packet<T>* p) { return add_receiver(p->arm(w)); }
    void unregister_recv(waiter&, packet<T>* p) { remove_receiver(p->node); }
    op_status accept_send(T& v, packet<T>*) { return try_send(v); }
    op_status accept_recv(std::optional<T>& out, packet<T>*) { return try_recv(out); }

    // noexcept and allocation-free, as flavor_zero's.
    bool close() noexcept {
        wake_batch batch;
        bool done;
        {
            std::lock_guard g(lock_);
            if (closed_) return false;
            closed_ = true;
            bump();
            done = receivers_.close_some(batch);
        }
        batch.wake_all();
        while (!done) {
            {
                std::lock_guard g(lock_);
                done = receivers_.close_some(batch);
            }
            batch.wake_all();
        }
        return true;
    }

    bool is_closed() const noexcept {
        std::lock_guard g(lock_);
        return closed_;
    }
    std::size_t size() const noexcept {
        std::lock_guard g(lock_);
        return items_.size();
    }
    std::size_t capacity() const noexcept { return std::numeric_limits<std::size_t>::max(); }
    // Changes with every send, receive and close. seq_cst: in the order of those changes.
    std::uint64_t version() const noexcept { return version_.load(std::memory_order_seq_cst); }

private:
    bool add_receiver(waiter_node& n) {
        std::lock_guard g(lock_);
        receivers_.push(n);
        return !items_.empty() || closed_;
    }
    void remove_receiver(waiter_node& n) {
        std::lock_guard g(lock_);
        receivers_.remove(n);
    }
    void bump() noexcept {
        version_.store(version_.load(std::memory_order_relaxed) + 1, std::memory_order_seq_cst);
    }

    mutable spin_lock lock_;
    std::deque<T> items_;                    // guarded by lock_
    waiter_list receivers_;                  // guarded by lock_
    bool closed_ = false;                    // guarded by lock_
    std::atomic<std::uint64_t> version_{0};  // written under lock_
};

}  // namespace detail
WEFT_END_NAMESPACE
