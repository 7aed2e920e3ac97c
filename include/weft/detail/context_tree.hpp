// weft/detail/context_tree.hpp - the cancellation tree under weft::context: nodes, the links a
// canceller walks (child contexts, after_func records, cancel hooks), deadlines and stop tokens.
// context.hpp is the public face; wait_group uses cancel_hook from here.
//
// Invariants:
// - A node is immutable after construction except for a cancel_node's cancellation state.
//   Parents are owned by children (shared_ptr up the chain), so a value lookup and a cancel
//   can always walk up. Nothing owns a node downwards: a cancel_node's children list holds
//   links, and the canceller pins each child (weak -> shared, under the lock) before it
//   touches it after unlocking. A child whose last handle is being dropped cannot be pinned;
//   its destructor unlinks it under the parent's lock.
// - A cancel_node's state_ goes from 0 to one context_errc exactly once, under lock_, after
//   cause_ is written; cause_ never changes again. So err() and cause() are lock-free reads.
// - Lock order: a node's lock is never held while another node's lock is taken, nor while a
//   channel is closed, a stop_source fires, a hook runs or a child is canceled: the canceller
//   detaches what it must notify under its lock and notifies after unlocking.
// - A link (child context, after_func record, cancel hook) is dispatched through function
//   pointers written at construction, never through a virtual call: a child being destroyed
//   has its vtable pointer rewritten while another thread may still be looking at the link.
// - Nothing on the cancel path allocates or recurses: cancel() is noexcept (it runs in
//   destructors and on failure paths), so an allocation there could only terminate. The
//   default causes are made before any node can be canceled (attach()), links are intrusive,
//   done() is closed in fixed-size batches, and the walk over the descendants is a loop over
//   an intrusive work list (the detached links, chained through their own `next`), so a
//   50,000-deep chain is canceled in constant stack. Destruction, which releases parents up
//   the chain, is a loop too (~ctx_node).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <utility>
#include <variant>

#include "../channel.hpp"
#include "../errors.hpp"
#include "../go.hpp"
#include "config.hpp"
#include "park.hpp"
#include "spin_lock.hpp"
#include "thread_name.hpp"
#include "timer_service.hpp"

WEFT_BEGIN_NAMESPACE

class context;

namespace detail {

struct context_access;
struct cancel_access;

struct cancel_reason {
    context_errc err;
    std::exception_ptr cause;  // null: the context_error for err
};

// The causes of contexts canceled without one. Made on first use, which attach() makes sure
// happens before any node can be canceled: the noexcept cancel() only reads them.
struct default_causes {
    std::exception_ptr canceled = std::make_exception_ptr(context_error(context_errc::canceled));
    std::exception_ptr deadline =
        std::make_exception_ptr(context_error(context_errc::deadline_exceeded));

    static const default_causes& get() {
        static const default_causes causes;
        return causes;
    }
};

inline const std::exception_ptr& default_cause(context_errc e) noexcept {
    // get() cannot throw here: attach() has already made the causes (see default_causes).
    const default_causes& d = default_causes::get();
    return e == context_errc::canceled ? d.canceled : d.deadline;
}

// An entry in a cancel_node's list of things to tell: a child context, an after_func record or
// a blocked operation's hook. Its fields are guarded by the lock of the node it is linked in.
struct ctx_link {
    using prepare_fn = bool (*)(ctx_link*) noexcept;
    using fire_fn = void (*)(ctx_link*, const cancel_reason&) noexcept;

    // Under the node's lock, as the link is detached for firing: false means "skip it" (a
    // child that is being destroyed). Must make the link safe to use after the unlock.
    prepare_fn prepare;
    // After the unlock. The link may be gone once fire returns. Null for a child context: the
    // canceller does not call into it (that would recurse once per level) but continues its
    // own walk with the child's links (see cancel_node::cancel).
    fire_fn fire;
    ctx_link* prev = nullptr;
    ctx_link* next = nullptr;
    bool linked = false;
};

class cancel_node;

class ctx_node : public std::enable_shared_from_this<ctx_node> {
public:
    ctx_node(std::shared_ptr<ctx_node> parent, cancel_node* canceler,
             std::optional<clock::time_point> deadline) noexcept
        : parent_(std::move(parent)), canceler_(canceler), deadline_(deadline) {}
    ctx_node(const ctx_node&) = delete;
    ctx_node& operator=(const ctx_node&) = delete;

    // Releasing parent_ may destroy the parent, whose destructor releases its parent, and so
    // on: a plain member destructor would recurse once per level of a chain nobody else holds
    // (a 1,000,000-deep with_value chain overflows an 8 MB stack). The outermost ~ctx_node on
    // a thread releases the chain in a loop instead; the nested ones hand their parent to it.
    // Its stack of parents is fixed-size: a node whose destruction releases more than one
    // chain at a time (a value holding contexts) may nest once more, each nesting draining
    // its own chains.
    virtual ~ctx_node() {
        releaser* outer = releaser::current;
        if (outer && outer->size < releaser::capacity) {
            outer->pending[outer->size++] = std::move(parent_);
            return;
        }
        releaser r;
        r.pending[r.size++] = std::move(parent_);
        releaser::current = &r;
        while (r.size) {
            // Destroying the node may push its own parent onto r (into the slot just freed).
            std::shared_ptr<ctx_node> p = std::move(r.pending[--r.size]);
            p.reset();
        }
        releaser::current = outer;
    }

    // The value stored under `key` here or in the nearest ancestor that has one.
    const void* find(const void* key) const noexcept {
        for (const ctx_node* n = this; n; n = n->parent_.get())
            if (const void* v = n->own_value(key)) return v;
        return nullptr;
    }
    // The nearest node (this or an ancestor) that can be canceled; null: never canceled.
    cancel_node* canceler() const noexcept { return canceler_; }
    const std::optional<clock::time_point>& deadline() const noexcept { return deadline_; }
    const std::shared_ptr<ctx_node>& parent() const noexcept { return parent_; }

protected:
    virtual const void* own_value(const void*) const noexcept { return nullptr; }

private:
    struct releaser {
        static constexpr std::size_t capacity = 8;
        std::shared_ptr<ctx_node> pending[capacity];
        std::size_t size = 0;
        static inline thread_local releaser* current = nullptr;  // the outermost on this thread
    };

    std::shared_ptr<ctx_node> parent_;
    cancel_node* canceler_;
    std::optional<clock::time_point> deadline_;
};

// Go's cancelCtx: what with_cancel makes, and the base of the deadline and stop_token nodes.
class cancel_node : public ctx_node, public ctx_link {
public:
    cancel_node(std::shared_ptr<ctx_node> parent,
                std::optional<clock::time_point> deadline) noexcept
        : ctx_node(parent, this, deadline),
          ctx_link{&prepare_child, nullptr},
          up_(parent ? parent->canceler() : nullptr) {}

    ~cancel_node() override {
        if (up_) (void)up_->unlink(*this);
        // Only after_func records can still be linked here: a child context or a blocked
        // operation would hold a handle to this node. They are dropped without running.
        for (ctx_link* l = head_; l;) {
            ctx_link* following = l->next;
            l->linked = false;
            orphan(l);
            l = following;
        }
    }

    // Joins the parent's tree, or is born canceled if the parent already is. Called once,
    // right after construction, by the factory that owns the first shared_ptr.
    void attach() {
        (void)default_causes::get();  // may throw: here, not inside the noexcept cancel()
        if (!up_) return;
        cancel_reason r{context_errc::canceled, nullptr};
        if (!up_->link(*this, r)) (void)cancel(r, false);
    }

    // Cancels this node and its descendants, unless it already is canceled. True iff this call
    // did it. Never waits for anyone (beyond a lock held for a few instructions). When any call
    // returns, the winner's or not, err() reads canceled and done() is closed.
    //
    // The descendants are walked breadth-first in a loop, not by recursion: the links each
    // canceled node detaches are appended to one work list, chained through their own `next`
    // (a detached link is nobody else's until it is fired). A child on the list is pinned
    // (prepare_child), so it and its `next` stay valid until the walk has passed it.
    bool cancel(const cancel_reason& r, bool leave_parent) noexcept {
        ctx_link* work = nullptr;
        ctx_link** tail = &work;
        if (!cancel_one(r, tail)) return false;
        const cancel_reason told{r.err, cause_};
        for (ctx_link* l = work; l;) {
            if (l->fire) {
                ctx_link* following = l->next;  // read first: `l` may be gone once fired
                l->fire(l, told);
                l = following;
                continue;
            }
            auto* c = static_cast<cancel_node*>(l);
            const std::shared_ptr<ctx_node> keep = std::move(c->pin_);
            // The parent has already dropped it from its list: no leave_parent.
            if (c->cancel_one(told, tail)) c->after_cancel();
            l = c->next;  // after cancel_one, which may have appended behind c
        }
        if (leave_parent && up_) (void)up_->unlink(*this);
        after_cancel();
        return true;
    }

    // 0 while active, else a context_errc. Never non-zero while done() is open (Go's "if Done
    // is not yet closed, Err returns nil"; Go issue 75533): cancel() publishes state_ under
    // lock_ and closes done_ after unlocking; a reader that comes in between closes it itself
    // (close() is idempotent), rather than report "active" for a context that cannot be
    // linked to any more.
    int state() const noexcept {
        // acquire: pairs with the release store in cancel(), so cause_ is visible, and so is
        // done_ready_ if done() made the channel before the cancellation. A waiter woken by our
        // close() below is ordered after this load, so it sees the state too.
        const int s = state_.load(std::memory_order_acquire);
        // acquire: pairs with the release store in done(); done_ is then set for good. Not
        // ready: done() has not made the channel yet and will make it closed.
        if (s == 0 || !done_ready_.load(std::memory_order_acquire)) return s;
        if (!done_.is_closed()) (void)done_.close();
        return s;
    }
    // Pre: state() != 0 (cause_ is then immutable).
    const std::exception_ptr& cause() const noexcept { return cause_; }

    // The done channel, made on first use (most contexts are never waited on). A public
    // rendezvous channel that is only ever closed.
    channel<std::monostate> done() {
        // acquire: pairs with the release store below; done_ is written once, before it.
        if (done_ready_.load(std::memory_order_acquire)) return done_;
        std::lock_guard lock(lock_);
        if (!done_) {
            done_ = channel<std::monostate>(0);
            // Already canceled: nobody can be waiting on a channel that did not exist.
            if (state_.load(std::memory_order_relaxed) != 0) (void)done_.close();
            // release: publishes done_ to the lock-free path above.
            done_ready_.store(true, std::memory_order_release);
        }
        return done_;
    }

    std::stop_token stop_token() {
        std::stop_source* s;
        bool canceled;
        {
            std::lock_guard lock(lock_);
            if (!stop_) stop_ = std::make_unique<std::stop_source>();
            s = stop_.get();
            canceled = state_.load(std::memory_order_relaxed) != 0;
        }
        // A cancel() that ran before stop_ existed could not request the stop; do it here.
        if (canceled) s->request_stop();
        return s->get_token();
    }

    // Adds `l` to this node's list. False (and `r` set) if this node is already canceled.
    bool link(ctx_link& l, cancel_reason& r) noexcept {
        std::lock_guard lock(lock_);
        if (int s = state_.load(std::memory_order_relaxed); s != 0) {
            r = {static_cast<context_errc>(s), cause_};
            return false;
        }
        l.prev = last_;
        l.next = nullptr;
        (last_ ? last_->next : head_) = &l;
        last_ = &l;
        l.linked = true;
        return true;
    }

    // Snapshot of the number of linked children, after_func records and hooks (for tests:
    // a canceled or destroyed child must not stay here).
    std::size_t links() noexcept {
        std::lock_guard lock(lock_);
        std::size_t n = 0;
        for (const ctx_link* l = head_; l; l = l->next) ++n;
        return n;
    }

    // Removes `l` if it is still linked; true iff this call removed it (false: a canceller
    // detached it first, or it was never linked).
    bool unlink(ctx_link& l) noexcept {
        std::lock_guard lock(lock_);
        if (!l.linked) return false;
        (l.prev ? l.prev->next : head_) = l.next;
        (l.next ? l.next->prev : last_) = l.prev;
        l.prev = l.next = nullptr;
        l.linked = false;
        return true;
    }

private:
    static bool prepare_child(ctx_link* l) noexcept {
        auto* c = static_cast<cancel_node*>(l);
        // Pin: from here until the canceller's walk has passed it, the child cannot be
        // destroyed.
        c->pin_ = c->weak_from_this().lock();
        return c->pin_ != nullptr;
    }

    // This node alone: publishes the cancellation and detaches the links to tell, appending
    // them at *tail (which it leaves pointing at the new end); then, unlocked, closes done()
    // and requests the stop. True iff this call canceled the node. A losing call closes done()
    // too: the winner may not have done it yet (see state()), and close() is idempotent. Every
    // closer has seen state_ stored, so a waiter it wakes reads the context as canceled.
    bool cancel_one(const cancel_reason& r, ctx_link**& tail) noexcept {
        bool has_done;
        std::stop_source* stop = nullptr;
        bool won = false;
        {
            std::lock_guard lock(lock_);
            has_done = static_cast<bool>(done_);
            // relaxed: state_ is only written under lock_, which we hold.
            if (state_.load(std::memory_order_relaxed) == 0) {
                won = true;
                cause_ = r.cause ? r.cause : default_cause(r.err);
                // release: err()/cause() readers that see the state see cause_ written above.
                state_.store(static_cast<int>(r.err), std::memory_order_release);
                stop = stop_.get();
                for (ctx_link* l = head_; l;) {
                    ctx_link* following = l->next;
                    l->linked = false;
                    if (l->prepare(l)) {
                        *tail = l;
                        tail = &l->next;
                    }
                    l = following;
                }
                *tail = nullptr;
                head_ = last_ = nullptr;
            }
        }
        // done_ is never reset once set, so reading it unlocked is safe.
        if (has_done) (void)done_.close();
        if (stop) stop->request_stop();
        return won;
    }

    // What the derived nodes release once canceled (a timer entry, a stop_callback). Virtual,
    // not a switch on a kind tag: GCC 12 at -O3 flags the casts of a switch's dead branches.
    virtual void after_cancel() noexcept {}
    // Drops an after_func record linked here when this node dies (see ~cancel_node).
    static void orphan(ctx_link* l) noexcept;

    spin_lock lock_;
    std::atomic<int> state_{0};               // written under lock_, see invariants
    std::exception_ptr cause_;                // written once, before state_
    std::atomic<bool> done_ready_{false};     // done_ is set and will not change
    mutable channel<std::monostate> done_;    // guarded by lock_ until done_ready_; state() closes
    std::unique_ptr<std::stop_source> stop_;  // guarded by lock_; never reset
    ctx_link* head_ = nullptr;                // guarded by lock_
    ctx_link* last_ = nullptr;                // guarded by lock_
    std::shared_ptr<ctx_node> pin_;           // guarded by the parent's lock, then by its canceller
    cancel_node* const up_;                   // the nearest cancelable ancestor, whose list has us
};

// with_deadline / with_timeout: a cancel_node with one timer-service entry.
class deadline_node final : public cancel_node {
public:
    deadline_node(std::shared_ptr<ctx_node> parent, clock::time_point d,
                  std::exception_ptr cause) noexcept
        : cancel_node(std::move(parent), d), cause_(std::move(cause)) {}
    ~deadline_node() override { release(); }

    // Schedules the expiry; called once, after attach().
    void arm(clock::time_point d) {
        if (state() != 0) return;
        std::weak_ptr<ctx_node> weak = weak_from_this();
        const auto id = timer_service::instance().schedule(d, [weak] {
            // The entry does not keep the context alive: a context nobody holds expires
            // silently (its destructor has already canceled this entry, or is about to).
            if (auto self = weak.lock()) static_cast<deadline_node&>(*self).expire();
        });
        if (id == 0) {  // the process is exiting: end the wait now rather than never
            expire();
            return;
        }
        // acq_rel: hands the id to release(); whichever of the two comes second cancels it.
        if (entry_.exchange(id, std::memory_order_acq_rel) == released)
            (void)timer_service::instance().cancel(id);
    }

    void expire() noexcept { (void)cancel({context_errc::deadline_exceeded, cause_}, true); }

    // Drops the timer entry, so that no timer remains once the context is canceled or gone.
    void after_cancel() noexcept override { release(); }

    void release() noexcept {
        // acq_rel: see arm().
        const auto id = entry_.exchange(released, std::memory_order_acq_rel);
        if (id != 0 && id != released) (void)timer_service::instance().cancel(id);
    }

private:
    static constexpr timer_service::id_type released = ~timer_service::id_type{0};
    const std::exception_ptr cause_;  // what expiry reports; null: deadline exceeded
    std::atomic<timer_service::id_type> entry_{0};
};

// with_stop_token: a cancel_node that a std::stop_source can cancel.
class stop_node final : public cancel_node {
public:
    explicit stop_node(std::shared_ptr<ctx_node> parent) noexcept
        : cancel_node(parent, parent ? parent->deadline() : std::nullopt) {}
    // Destroys the stop_callback (if release() has not) while every member is still alive:
    // if on_stop is running on another thread, std::stop_callback's destructor waits for it.
    ~stop_node() override { callback_.reset(); }

    void arm(std::stop_token t) {
        if (state() != 0) return;
        // May run on_stop right here if a stop was already requested.
        callback_.emplace(std::move(t), on_stop{this});
        // acq_rel: hands callback_ to release(); whichever comes second destroys it.
        if (armed_.exchange(armed, std::memory_order_acq_rel) == released) callback_.reset();
    }

    // Deregisters from the stop_source: once canceled, nothing points here. Waits if the
    // callback is running on another thread (its cancel() is then a no-op).
    void after_cancel() noexcept override { release(); }

    void release() noexcept {
        if (armed_.exchange(released, std::memory_order_acq_rel) == armed) callback_.reset();
    }

private:
    struct on_stop {
        stop_node* self;
        void operator()() const noexcept {
            // Claim the release first, so that the cancel() below does not destroy the
            // stop_callback that is running us: the owner may drop the node meanwhile, and
            // ~stop_node waits for us only while that stop_callback still exists. It stays
            // registered (already fired) until ~stop_node.
            (void)self->armed_.exchange(released, std::memory_order_acq_rel);
            (void)self->cancel({context_errc::canceled, nullptr}, true);
        }
    };
    static constexpr int arming = 0, armed = 1, released = 2;
    std::optional<std::stop_callback<on_stop>> callback_;
    std::atomic<int> armed_{arming};
};

template <class T>
class value_node final : public ctx_node {
public:
    value_node(std::shared_ptr<ctx_node> parent, const void* key, T v)
        : ctx_node(parent, parent ? parent->canceler() : nullptr,
                   parent ? parent->deadline() : std::nullopt),
          key_(key),
          value_(std::move(v)) {}

protected:
    const void* own_value(const void* key) const noexcept override {
        return key == key_ ? &value_ : nullptr;
    }

private:
    const void* key_;
    const T value_;
};

// after_func's registration: linked in the context's list, and owning itself while it is.
class after_func_record : public ctx_link {
public:
    explicit after_func_record(cancel_node* up) noexcept
        : ctx_link{&prepare_record, &fire_record}, up_(up) {}
    virtual ~after_func_record() = default;

    // Registers with the context; runs f at once (on its own thread) if it is already done.
    void start(std::shared_ptr<after_func_record> self) {
        if (!up_) return;  // never canceled: f never runs, stop() always succeeds
        self_ = self;
        cancel_reason r{context_errc::canceled, nullptr};
        if (up_->link(*this, r)) return;
        self_.reset();
        if (!claimed_.exchange(true, std::memory_order_acq_rel)) launch(std::move(self));
    }

    bool stop() noexcept {
        // acq_rel: the claim decides, once, between stop() and the cancellation.
        if (claimed_.exchange(true, std::memory_order_acq_rel)) return false;
        if (up_) (void)up_->unlink(*this);
        // Once unlinked (by us or by a canceller that has finished preparing it), nobody but
        // the winner of the claim touches self_.
        self_.reset();
        return true;
    }

    static void orphan(ctx_link* l) noexcept { static_cast<after_func_record*>(l)->self_.reset(); }

protected:
    virtual void run() noexcept = 0;

private:
    static bool prepare_record(ctx_link* l) noexcept {
        auto* a = static_cast<after_func_record*>(l);
        a->pin_ = a->self_;
        return true;
    }
    static void fire_record(ctx_link* l, const cancel_reason&) noexcept {
        auto* a = static_cast<after_func_record*>(l);
        std::shared_ptr<after_func_record> keep = std::move(a->pin_);
        if (a->claimed_.exchange(true, std::memory_order_acq_rel)) return;  // stop() won
        a->self_.reset();
        launch(std::move(keep));
    }
    // Go runs f in its own goroutine; if no thread can be started, f runs here rather than
    // never.
    static void launch(std::shared_ptr<after_func_record> a) noexcept {
        try {
            ::weft::go([a] {
                name_this_thread("weft-after");  // not "weft-go": its owner is after_func
                a->run();
            });
        } catch (...) { a->run(); }
    }

    cancel_node* const up_;
    std::shared_ptr<after_func_record> self_;  // see stop() and orphan()
    std::shared_ptr<after_func_record> pin_;   // guarded like cancel_node::pin_
    std::atomic<bool> claimed_{false};
};

inline void cancel_node::orphan(ctx_link* l) noexcept { after_func_record::orphan(l); }

template <class F>
class after_func_impl final : public after_func_record {
public:
    after_func_impl(cancel_node* up, F f) : after_func_record(up), f_(std::move(f)) {}

private:
    // Like weft::go: an exception escaping f is a panic.
    void run() noexcept override { f_(); }
    F f_;
};

// A one-shot callback that a blocked operation (e.g. wait_group::wait(ctx)) links into a
// context: fired by the canceller after it has unlocked the context. Constructed, added and
// removed by one thread (the blocked one); remove() must be called before the hook leaves
// scope, and waits for a fire already under way.
class cancel_hook : private ctx_link {
public:
    using callback = void (*)(void*) noexcept;
    // Throws std::bad_alloc only if the calling thread has no parker yet and none can be made
    // (parker::current()): before anything is linked.
    cancel_hook(callback fn, void* arg) : ctx_link{&prepare_hook, &fire_hook}, fn_(fn), arg_(arg) {}
    cancel_hook(const cancel_hook&) = delete;
    cancel_hook& operator=(const cancel_hook&) = delete;

    // False: the context is already canceled (the callback is not called) or cannot be.
    bool add(const context& ctx) noexcept;
    void remove() noexcept {
        if (!node_ || node_->unlink(*this)) return;
        // The canceller detached us: wait until it has finished with us.
        // acquire: pairs with the store in fire_hook, so the callback's effects are visible.
        while (phase_.load(std::memory_order_acquire) != fired)
            owner_->park_while(phase_, firing, nullptr);
    }

private:
    static bool prepare_hook(ctx_link* l) noexcept {
        // relaxed: remove() reads this only after taking the same lock, or waits for `fired`.
        static_cast<cancel_hook*>(l)->phase_.store(firing, std::memory_order_relaxed);
        return true;
    }
    static void fire_hook(ctx_link* l, const cancel_reason&) noexcept {
        auto* h = static_cast<cancel_hook*>(l);
        h->fn_(h->arg_);
        // Once `fired` is stored, remove() may return and the hook's frame be reused: the wake
        // goes to the owner's parker, which is immortal, never to the hook itself.
        parker* owner = h->owner_;
        // seq_cst: the Dekker pair with parker::park_while (store word, then check `parked`);
        // also release, so the callback's effects happen before remove() returns.
        h->phase_.store(fired, std::memory_order_seq_cst);
        owner->unpark();
    }

    static constexpr std::uintptr_t idle = 0, firing = 1, fired = 2;
    callback fn_;
    void* arg_;
    cancel_node* node_ = nullptr;
    parker* const owner_ = parker::current();  // the thread that will call remove()
    std::atomic<std::uintptr_t> phase_{idle};
};

}  // namespace detail

WEFT_END_NAMESPACE
