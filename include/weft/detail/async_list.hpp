// weft/detail/async_list.hpp - asynchronous waiters (weft/asio.hpp's operations) parked in a
// synchronization object (wait_group, error_group) that knows nothing of Asio.
//
// Invariants:
// - A node is in at most one list, and `linked` says whether it is; both are guarded by the
//   mutex of the object that owns the list. Whoever takes a node out under that mutex owns its
//   wake: the waker (take_all, pop_front) calls wake() once, after unlocking; a canceler that
//   removed it (remove() returned true) completes the operation itself, and nobody wakes it.
// - wake() may free the node (its operation runs on another thread): the waker reads `next`
//   before calling it and touches nothing of the node afterwards. A taken list is walked only by
//   the waker that took it, so its links need no lock.
#pragma once

#include <cstddef>
#include <utility>

#include "config.hpp"

WEFT_BEGIN_NAMESPACE

namespace detail {

struct async_node {
    explicit async_node(void (*w)(async_node*) noexcept) noexcept : wake(w) {}
    async_node(const async_node&) = delete;
    async_node& operator=(const async_node&) = delete;

    void (*wake)(async_node*) noexcept;  // posts the operation's completion; never runs it inline
    async_node* prev = nullptr;          // guarded by the owner's mutex while linked
    async_node* next = nullptr;          // likewise; then the taker's
    bool linked = false;                 // guarded by the owner's mutex
};

// An intrusive FIFO of nodes. Not thread-safe: its owner's mutex guards it.
class async_list {
public:
    async_list() noexcept = default;
    async_list(const async_list&) = delete;
    async_list& operator=(const async_list&) = delete;
    async_list(async_list&& o) noexcept : head_(o.head_), tail_(o.tail_), size_(o.size_) {
        o.head_ = o.tail_ = nullptr;
        o.size_ = 0;
    }
    // Into an empty list only (a local that receives a taken list).
    async_list& operator=(async_list&& o) noexcept {
        WEFT_ASSERT(head_ == nullptr);
        head_ = std::exchange(o.head_, nullptr);
        tail_ = std::exchange(o.tail_, nullptr);
        size_ = std::exchange(o.size_, 0);
        return *this;
    }
    ~async_list() { WEFT_ASSERT(head_ == nullptr); }  // every node woken or removed

    bool empty() const noexcept { return head_ == nullptr; }
    std::size_t size() const noexcept { return size_; }

    void push_back(async_node* n) noexcept {
        WEFT_ASSERT(!n->linked);
        n->prev = tail_;
        n->next = nullptr;
        (tail_ ? tail_->next : head_) = n;
        tail_ = n;
        n->linked = true;
        ++size_;
    }

    // False if n is not in the list any more (a waker took it). Pre: n was pushed into this
    // list (not another one: `linked` does not say which).
    bool remove(async_node* n) noexcept {
        if (!n->linked) return false;
        (n->prev ? n->prev->next : head_) = n->next;
        (n->next ? n->next->prev : tail_) = n->prev;
        n->prev = n->next = nullptr;
        n->linked = false;
        --size_;
        return true;
    }

    // Moves the first node to `out` (a list of taken nodes). Pre: not empty.
    void move_front_to(async_list& out) noexcept {
        async_node* n = head_;
        (void)remove(n);
        out.push_taken(n);
    }

    // Takes every node: they are unlinked (a canceler will find them gone) and belong to the
    // returned list, to be woken after unlocking.
    async_list take_all() noexcept {
        for (async_node* n = head_; n; n = n->next) n->linked = false;
        async_list out(std::move(*this));
        return out;
    }

    // Appends the nodes of `other`, a list of taken nodes.
    void splice_taken(async_list&& other) noexcept {
        if (!other.head_) return;
        (tail_ ? tail_->next : head_) = other.head_;
        other.head_->prev = tail_;
        tail_ = other.tail_;
        size_ += other.size_;
        other.head_ = other.tail_ = nullptr;
        other.size_ = 0;
    }

    // Wakes every node of a taken list. Call it with no lock held.
    void wake_all() noexcept {
        async_node* n = head_;
        head_ = tail_ = nullptr;
        size_ = 0;
        while (n) {
            async_node* next = n->next;  // before the wake, which may free n
            n->wake(n);
            n = next;
        }
    }

private:
    void push_taken(async_node* n) noexcept {
        n->prev = tail_;
        n->next = nullptr;
        (tail_ ? tail_->next : head_) = n;
        tail_ = n;
        ++size_;
    }

    async_node* head_ = nullptr;
    async_node* tail_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace detail

WEFT_END_NAMESPACE
