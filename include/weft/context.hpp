// weft/context.hpp - Go's context: cancellation trees with deadlines, causes and values, and
// the bridge to C++20's std::stop_token.
//
//     auto [ctx, cancel] = weft::with_timeout(parent, 3s);
//     weft::select(weft::on_receive(results, [&](auto r) { ... }),
//                  weft::on_receive(ctx.done(), [&] { ... }));   // cancellation is a channel
//
// Semantics (Go's): canceling a context cancels its descendants, never its ancestors. The first
// cancellation wins, for err() and for cause(). A child of a canceled parent is born canceled
// with the parent's error and cause. cancel() requests and never waits; calling it again does
// nothing. done() is closed on cancellation and is nil (never ready) for a context that can never
// be canceled. There is no thread per context and none per deadline: deadlines are entries in
// the one timer service.
//
// Beyond Go: a context whose handles are all gone leaves its parent by itself (Go needs the
// cancel call, and vet's lostcancel check, for that); a canceled child leaves its parent at
// once, so a long-lived parent spawning millions of short children does not grow.
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
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>

#include "channel.hpp"
#include "detail/chan_state.hpp"
#include "detail/config.hpp"
#include "detail/park.hpp"
#include "detail/spin_lock.hpp"
#include "detail/timer_service.hpp"
#include "go.hpp"
#include "select.hpp"

WEFT_BEGIN_NAMESPACE

// Why a context ended. A std::error_code enum: `ctx.err() == weft::context_errc::canceled`,
// and also `ctx.err() == std::errc::operation_canceled` (deadline_exceeded: std::errc::timed_out).
enum class context_errc { canceled = 1, deadline_exceeded = 2 };

namespace detail {

class context_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "weft.context"; }
    std::string message(int c) const override {
        switch (static_cast<context_errc>(c)) {
            case context_errc::canceled: return "context canceled";
            case context_errc::deadline_exceeded: return "context deadline exceeded";
        }
        return "unknown context error";
    }
    std::error_condition default_error_condition(int c) const noexcept override {
        switch (static_cast<context_errc>(c)) {
            case context_errc::canceled: return std::errc::operation_canceled;
            case context_errc::deadline_exceeded: return std::errc::timed_out;
        }
        return {c, *this};
    }
};

}  // namespace detail

inline const std::error_category& context_category() noexcept {
    static const detail::context_category_impl category;
    return category;
}

inline std::error_code make_error_code(context_errc e) noexcept {
    return {static_cast<int>(e), context_category()};
}

WEFT_END_NAMESPACE

template <>
struct std::is_error_code_enum<weft::context_errc> : std::true_type {};

WEFT_BEGIN_NAMESPACE

// The cause of a context canceled without an explicit one: it carries err().
class context_error : public std::system_error {
public:
    explicit context_error(context_errc e) : std::system_error(make_error_code(e)) {}
};

// The exception in `e` as an E (or a class derived from E), or nullptr. Lets a cause or an
// error_group error be tested without a try block: `if (auto* t = error_as<timeout_error>(c))`.
template <class E>
const E* error_as(const std::exception_ptr& e) noexcept {
    if (!e) return nullptr;
    try {
        std::rethrow_exception(e);
    } catch (const E& x) {
        return &x;  // the exception object lives as long as `e` refers to it
    } catch (...) { return nullptr; }
}

// A key for context values. Its identity is its address (declare keys as static or global
// objects), and its type says what the value is, so lookups need no casts.
template <class T>
class context_key {
public:
    constexpr explicit context_key(const char* name = "") noexcept : name_(name) {}
    context_key(const context_key&) = delete;
    context_key& operator=(const context_key&) = delete;
    constexpr const char* name() const noexcept { return name_; }

private:
    const char* name_;
};

class context;

namespace detail {

struct context_access;
struct cancel_access;

struct cancel_reason {
    context_errc err;
    std::exception_ptr cause;  // null: the context_error for err
};

inline const std::exception_ptr& default_cause(context_errc e) {
    static const std::exception_ptr canceled =
        std::make_exception_ptr(context_error(context_errc::canceled));
    static const std::exception_ptr deadline =
        std::make_exception_ptr(context_error(context_errc::deadline_exceeded));
    return e == context_errc::canceled ? canceled : deadline;
}

// An entry in a cancel_node's list of things to tell: a child context, an after_func record or
// a blocked operation's hook. Its fields are guarded by the lock of the node it is linked in.
struct ctx_link {
    using prepare_fn = bool (*)(ctx_link*) noexcept;
    using fire_fn = void (*)(ctx_link*, const cancel_reason&) noexcept;

    // Under the node's lock, as the link is detached for firing: false means "skip it" (a
    // child that is being destroyed). Must make the link safe to use after the unlock.
    prepare_fn prepare;
    // After the unlock. The link may be gone once fire returns.
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
    virtual ~ctx_node() = default;

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
    std::shared_ptr<ctx_node> parent_;
    cancel_node* canceler_;
    std::optional<clock::time_point> deadline_;
};

// Go's cancelCtx: what with_cancel makes, and the base of the deadline and stop_token nodes.
class cancel_node : public ctx_node, public ctx_link {
public:
    enum class kind : unsigned char { plain, deadline, stop };

    cancel_node(std::shared_ptr<ctx_node> parent, std::optional<clock::time_point> deadline,
                kind k = kind::plain) noexcept
        : ctx_node(parent, this, deadline),
          ctx_link{&prepare_child, &fire_child},
          up_(parent ? parent->canceler() : nullptr),
          kind_(k) {}

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
        if (!up_) return;
        cancel_reason r{context_errc::canceled, nullptr};
        if (!up_->link(*this, r)) (void)cancel(r, false);
    }

    // Cancels this node and its descendants, unless it already is canceled. True iff this call
    // did it. Never waits for anyone (beyond a lock held for a few instructions). When any call
    // returns, the winner's or not, err() reads canceled and done() is closed.
    bool cancel(const cancel_reason& r, bool leave_parent) noexcept {
        ctx_link* detached = nullptr;
        ctx_link** tail = &detached;
        chan_state<std::monostate>* done = nullptr;
        std::stop_source* stop = nullptr;
        cancel_reason told;
        bool won = false;
        {
            std::lock_guard lock(lock_);
            done = done_.get();
            // relaxed: state_ is only written under lock_, which we hold.
            if (state_.load(std::memory_order_relaxed) == 0) {
                won = true;
                cause_ = r.cause ? r.cause : default_cause(r.err);
                // release: err()/cause() readers that see the state see cause_ written above.
                state_.store(static_cast<int>(r.err), std::memory_order_release);
                told = {r.err, cause_};
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
        // A losing call closes done() too: the winner may not have done it yet (see state()),
        // and close() is idempotent. Every closer has seen state_ stored, so a waiter it wakes
        // reads the context as canceled.
        if (done) done->visit([](auto& f) { (void)f.close(); });
        if (!won) return false;
        if (stop) stop->request_stop();
        for (ctx_link* l = detached; l;) {
            ctx_link* following = l->next;  // read first: `l` may be gone once fired
            l->fire(l, told);
            l = following;
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
        done_->visit([](auto& f) {
            if (!f.is_closed()) (void)f.close();
        });
        return s;
    }
    // Pre: state() != 0 (cause_ is then immutable).
    const std::exception_ptr& cause() const noexcept { return cause_; }

    // The done channel, made on first use (most contexts are never waited on).
    std::shared_ptr<chan_state<std::monostate>> done() {
        // acquire: pairs with the release store below; done_ is written once, before it.
        if (done_ready_.load(std::memory_order_acquire)) return done_;
        std::lock_guard lock(lock_);
        if (!done_) {
            done_ = std::make_shared<chan_state<std::monostate>>(0);
            // Already canceled: nobody can be waiting on a channel that did not exist.
            if (state_.load(std::memory_order_relaxed) != 0)
                (void)done_->visit([](auto& f) { return f.close(); });
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
        // Pin: from here until fire_child, the child cannot be destroyed.
        c->pin_ = c->weak_from_this().lock();
        return c->pin_ != nullptr;
    }
    static void fire_child(ctx_link* l, const cancel_reason& r) noexcept {
        auto* c = static_cast<cancel_node*>(l);
        const std::shared_ptr<ctx_node> keep = std::move(c->pin_);
        (void)c->cancel(r, false);  // the parent has already dropped it from its list
    }

    // What the derived nodes release once canceled (a timer entry, a stop_callback).
    void after_cancel() noexcept;
    // Drops an after_func record linked here when this node dies (see ~cancel_node).
    static void orphan(ctx_link* l) noexcept;

    spin_lock lock_;
    std::atomic<int> state_{0};                         // written under lock_, see invariants
    std::exception_ptr cause_;                          // written once, before state_
    std::atomic<bool> done_ready_{false};               // done_ is set and will not change
    std::shared_ptr<chan_state<std::monostate>> done_;  // guarded by lock_ until done_ready_
    std::unique_ptr<std::stop_source> stop_;            // guarded by lock_; never reset
    ctx_link* head_ = nullptr;                          // guarded by lock_
    ctx_link* last_ = nullptr;                          // guarded by lock_
    std::shared_ptr<ctx_node> pin_;  // guarded by the parent's lock, then by its canceller
    cancel_node* const up_;          // the nearest cancelable ancestor, whose list has us
    const kind kind_;
};

// with_deadline / with_timeout: a cancel_node with one timer-service entry.
class deadline_node final : public cancel_node {
public:
    deadline_node(std::shared_ptr<ctx_node> parent, clock::time_point d,
                  std::exception_ptr cause) noexcept
        : cancel_node(std::move(parent), d, kind::deadline), cause_(std::move(cause)) {}
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
        : cancel_node(parent, parent ? parent->deadline() : std::nullopt, kind::stop) {}
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

inline void cancel_node::after_cancel() noexcept {
    switch (kind_) {
        case kind::plain: break;
        case kind::deadline: static_cast<deadline_node*>(this)->release(); break;
        case kind::stop: static_cast<stop_node*>(this)->release(); break;
    }
}

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
            ::weft::go([a] { a->run(); });
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
    cancel_hook(callback fn, void* arg) noexcept
        : ctx_link{&prepare_hook, &fire_hook}, fn_(fn), arg_(arg) {}
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

// A context: a cheap copyable handle to a node of a cancellation tree. A default-constructed
// context is background(): never canceled, no deadline, no values.
//
// @par Thread safety
// Every member may be called concurrently on copies of the same context.
class context {
public:
    context() noexcept = default;

    // Closed when the context is canceled. A nil receiver (never ready) for a context that
    // can never be canceled, as in Go.
    receiver<std::monostate> done() const {
        auto* c = n_ ? n_->canceler() : nullptr;
        if (!c) return {};
        return detail::access::make<receiver<std::monostate>>(c->done());
    }

    // Empty while active; context_errc::canceled or deadline_exceeded once canceled.
    std::error_code err() const noexcept {
        auto* c = n_ ? n_->canceler() : nullptr;
        const int s = c ? c->state() : 0;
        return s ? make_error_code(static_cast<context_errc>(s)) : std::error_code{};
    }

    // When the context will be canceled by itself, if ever.
    std::optional<std::chrono::steady_clock::time_point> deadline() const noexcept {
        return n_ ? n_->deadline() : std::nullopt;
    }

    // The value stored under `key` by the nearest with_value, or nullptr. It lives as long as
    // any context that can see it.
    template <class T>
    const T* value(const context_key<T>& key) const noexcept {
        return n_ ? static_cast<const T*>(n_->find(&key)) : nullptr;
    }

    // A token whose stop is requested when this context is canceled (for std::jthread, a
    // std::condition_variable_any wait, or any stop_token-aware API). For a context that can
    // never be canceled, a token with stop_possible() == false.
    std::stop_token stop_token() const {
        auto* c = n_ ? n_->canceler() : nullptr;
        return c ? c->stop_token() : std::stop_token{};
    }

private:
    explicit context(std::shared_ptr<detail::ctx_node> n) noexcept : n_(std::move(n)) {}
    std::shared_ptr<detail::ctx_node> n_;

    friend struct detail::context_access;
};

namespace detail {
struct context_access {
    static const std::shared_ptr<ctx_node>& node(const context& c) noexcept { return c.n_; }
    static context make(std::shared_ptr<ctx_node> n) noexcept { return context(std::move(n)); }
    // Test hook: how many links the context's cancellation node holds (0 if it has none).
    static std::size_t links(const context& c) noexcept {
        auto* n = c.n_ ? c.n_->canceler() : nullptr;
        return n ? n->links() : 0;
    }
};

inline bool cancel_hook::add(const context& ctx) noexcept {
    const auto& n = context_access::node(ctx);
    cancel_node* c = n ? n->canceler() : nullptr;
    if (!c) return false;
    cancel_reason r{context_errc::canceled, nullptr};
    if (!c->link(*this, r)) return false;
    node_ = c;
    return true;
}
}  // namespace detail

// The root of every tree: never canceled. todo() is the same, spelled "not decided yet".
inline context background() noexcept { return {}; }
inline context todo() noexcept { return {}; }

// Cancels its context with context_errc::canceled. Copyable; calling it again, or after the
// context ended another way, does nothing. A default-constructed one does nothing.
class cancel_func {
public:
    cancel_func() noexcept = default;
    void operator()() const noexcept {
        if (n_) (void)n_->cancel({context_errc::canceled, nullptr}, true);
    }

private:
    explicit cancel_func(std::shared_ptr<detail::cancel_node> n) noexcept : n_(std::move(n)) {}
    std::shared_ptr<detail::cancel_node> n_;
    friend struct detail::cancel_access;
};

// Cancels its context with context_errc::canceled and a cause (any exception; none: the
// context_error for canceled). Only the first cancellation's cause is kept.
class cancel_cause_func {
public:
    cancel_cause_func() noexcept = default;
    void operator()(std::exception_ptr cause = nullptr) const noexcept {
        if (n_) (void)n_->cancel({context_errc::canceled, std::move(cause)}, true);
    }
    template <class E>
        requires(!std::is_same_v<std::remove_cvref_t<E>, std::exception_ptr> &&
                 !std::is_same_v<std::remove_cvref_t<E>, std::nullptr_t>)
    void operator()(E&& exception_object) const {
        (*this)(std::make_exception_ptr(std::forward<E>(exception_object)));
    }

private:
    explicit cancel_cause_func(std::shared_ptr<detail::cancel_node> n) noexcept
        : n_(std::move(n)) {}
    std::shared_ptr<detail::cancel_node> n_;
    friend struct detail::cancel_access;
};

// What the with_* factories return: `auto [ctx, cancel] = weft::with_cancel(parent);`
template <class F>
struct [[nodiscard]] cancelable {
    context ctx;
    F cancel;
};

namespace detail {
struct cancel_access {
    template <class F>
    static cancelable<F> make(std::shared_ptr<cancel_node> n) noexcept {
        return {context_access::make(n), F(n)};
    }
};
}  // namespace detail

// A child that is canceled when `cancel` is called or when `parent` is.
inline cancelable<cancel_func> with_cancel(const context& parent) {
    const auto& p = detail::context_access::node(parent);
    auto n = std::make_shared<detail::cancel_node>(p, p ? p->deadline() : std::nullopt);
    n->attach();
    return detail::cancel_access::make<cancel_func>(std::move(n));
}

// As with_cancel, with a cancel function that records a cause (see cause()).
inline cancelable<cancel_cause_func> with_cancel_cause(const context& parent) {
    const auto& p = detail::context_access::node(parent);
    auto n = std::make_shared<detail::cancel_node>(p, p ? p->deadline() : std::nullopt);
    n->attach();
    return detail::cancel_access::make<cancel_cause_func>(std::move(n));
}

// A child that is also canceled, with deadline_exceeded and `cause` (none: the context_error
// for deadline_exceeded), at `deadline` (any clock; measured on steady_clock). A deadline no
// earlier than the parent's adds nothing: the result is with_cancel(parent), as in Go.
template <class Clock, class Dur>
cancelable<cancel_func> with_deadline_cause(const context& parent,
                                            const std::chrono::time_point<Clock, Dur>& deadline,
                                            std::exception_ptr cause) {
    const auto d = detail::to_steady(deadline);
    if (auto pd = parent.deadline(); pd && *pd <= d) return with_cancel(parent);
    const auto& p = detail::context_access::node(parent);
    auto n = std::make_shared<detail::deadline_node>(p, d, std::move(cause));
    n->attach();
    if (detail::clock::now() >= d)
        n->expire();
    else
        n->arm(d);
    return detail::cancel_access::make<cancel_func>(std::move(n));
}

template <class Clock, class Dur>
cancelable<cancel_func> with_deadline(const context& parent,
                                      const std::chrono::time_point<Clock, Dur>& deadline) {
    return with_deadline_cause(parent, deadline, nullptr);
}

template <class Rep, class Per>
cancelable<cancel_func> with_timeout_cause(const context& parent,
                                           const std::chrono::duration<Rep, Per>& timeout,
                                           std::exception_ptr cause) {
    return with_deadline_cause(parent, detail::deadline_after(timeout), std::move(cause));
}

template <class Rep, class Per>
cancelable<cancel_func> with_timeout(const context& parent,
                                     const std::chrono::duration<Rep, Per>& timeout) {
    return with_deadline_cause(parent, detail::deadline_after(timeout), nullptr);
}

// A child that carries `value` under `key`; cancellation and deadline are the parent's.
template <class T, class V>
    requires std::is_constructible_v<T, V&&>
[[nodiscard]] context with_value(const context& parent, const context_key<T>& key, V&& value) {
    const auto& p = detail::context_access::node(parent);
    return detail::context_access::make(
        std::make_shared<detail::value_node<T>>(p, &key, T(std::forward<V>(value))));
}

// A child that sees the parent's values but is never canceled and has no deadline (for work
// that must finish even when the request that started it is abandoned).
[[nodiscard]] inline context without_cancel(const context& parent) {
    struct detached_node final : detail::ctx_node {
        explicit detached_node(std::shared_ptr<ctx_node> p) noexcept
            : ctx_node(std::move(p), nullptr, std::nullopt) {}
    };
    return detail::context_access::make(
        std::make_shared<detached_node>(detail::context_access::node(parent)));
}

// A child that is canceled (canceled) when `token`'s stop is requested, or when `parent` is.
// With std::jthread: `[](std::stop_token st) { auto ctx = weft::with_stop_token({}, st); ... }`.
[[nodiscard]] inline context with_stop_token(const context& parent, std::stop_token token) {
    auto n = std::make_shared<detail::stop_node>(detail::context_access::node(parent));
    n->attach();
    if (token.stop_possible()) n->arm(std::move(token));
    return detail::context_access::make(std::move(n));
}

// The cause of ctx's cancellation: the one given to a cause-taking cancel or deadline, else a
// context_error carrying err(). Null while ctx is active.
[[nodiscard]] inline std::exception_ptr cause(const context& ctx) {
    const auto& n = detail::context_access::node(ctx);
    auto* c = n ? n->canceler() : nullptr;
    if (!c || c->state() == 0) return nullptr;
    return c->cause();
}

// The registration made by after_func.
class after_func_handle {
public:
    after_func_handle() noexcept = default;
    // Unregisters f. True iff this call prevented f from running; false if f has been started
    // (or stop() was called before). Does not wait for a running f.
    bool stop() noexcept { return rec_ && rec_->stop(); }

private:
    after_func_handle(std::shared_ptr<detail::after_func_record> r,
                      std::shared_ptr<detail::ctx_node> keep) noexcept
        : rec_(std::move(r)), keep_(std::move(keep)) {}
    std::shared_ptr<detail::after_func_record> rec_;
    std::shared_ptr<detail::ctx_node> keep_;  // the context, so stop() can reach its list

    template <class F>
    friend after_func_handle after_func(const context&, F);
};

// Runs f() on its own thread once ctx is done (at once if it already is). f runs at most once.
// As with weft::go, an exception escaping f terminates the process.
template <class F>
after_func_handle after_func(const context& ctx, F f) {
    const auto& n = detail::context_access::node(ctx);
    auto rec =
        std::make_shared<detail::after_func_impl<F>>(n ? n->canceler() : nullptr, std::move(f));
    rec->start(rec);
    return after_func_handle(std::move(rec), n);
}

// Sleeps for d unless ctx ends first. Empty error_code after the full sleep, ctx.err()
// otherwise.
template <class Rep, class Per>
[[nodiscard]] std::error_code sleep(const context& ctx, const std::chrono::duration<Rep, Per>& d) {
    if (auto e = ctx.err()) return e;
    auto done = ctx.done();
    if (!done) {
        // Not std::this_thread::sleep_for, which overflows (and returns at once) for a d near
        // duration::max(): deadline_after saturates, as receive_for below does.
        const auto deadline = detail::deadline_after(d);
        detail::block_forever(&deadline);
        return {};
    }
    if (done.receive_for(d).status == op_status::timeout) return {};
    return ctx.err();
}

// --- Context-taking channel operations (declared in channel.hpp) ---

template <class T, class D>
send_result<T> detail::send_api<T, D>::send(const context& ctx, T v) {
    // A canceled context wins over a ready channel; otherwise try first: no select machinery,
    // and no copy of the done() handle (a shared count every thread of a pattern would bump),
    // when the value goes through at once.
    if (ctx.err()) return {op_status::canceled, std::optional<T>(std::move(v))};
    auto r = try_send(std::move(v));
    if (r.status != op_status::full) return r;
    auto done = ctx.done();
    if (!done) return send(std::move(*r.value));
    // The value waits in r.value: T need not be assignable.
    op_status st = op_status::canceled;
    (void)::weft::select(on_send(static_cast<const D&>(*this), *r.value,
                                 [&](bool sent) { st = sent ? op_status::ok : op_status::closed; }),
                         on_receive(done, [] {}));
    if (st == op_status::ok) return {st, std::nullopt};
    return {st, std::move(r.value)};
}

template <class T, class D>
receive_result<T> detail::receive_api<T, D>::receive(const context& ctx) {
    // As send(ctx, v): the context first, then one try, and done() only for a wait.
    if (ctx.err()) return {op_status::canceled, std::nullopt};
    auto r = try_receive();
    if (r.status != op_status::empty) return r;
    auto done = ctx.done();
    if (!done) {
        auto v = receive();
        const op_status st = v ? op_status::ok : op_status::closed;
        return {st, std::move(v)};
    }
    receive_result<T> out{op_status::canceled, std::nullopt};
    // emplace, not assignment: T need not be assignable.
    (void)::weft::select(on_receive(static_cast<const D&>(*this),
                                    [&](std::optional<T> x) {
                                        out.status = x ? op_status::ok : op_status::closed;
                                        if (x) out.value.emplace(std::move(*x));
                                    }),
                         on_receive(done, [] {}));
    return out;
}

// Calls f(ctx, args...) when f takes the context first, else f(args...): how weft's patterns
// call a user function that may want to stop its own waits when the work is canceled.
template <class F, class... A>
    requires std::is_invocable_v<F&&, const context&, A&&...> || std::is_invocable_v<F&&, A&&...>
decltype(auto) invoke_with_context(F&& f, const context& ctx, A&&... args) {
    if constexpr (std::is_invocable_v<F&&, const context&, A&&...>) {
        return std::invoke(std::forward<F>(f), ctx, std::forward<A>(args)...);
    } else {
        return std::invoke(std::forward<F>(f), std::forward<A>(args)...);
    }
}

// The type invoke_with_context(f, ctx, args...) returns; absent when it cannot be called.
template <class F, class... A>
using invoke_with_context_result_t = decltype(invoke_with_context(
    std::declval<F>(), std::declval<const context&>(), std::declval<A>()...));

WEFT_END_NAMESPACE
