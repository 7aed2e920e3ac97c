// weft/detail/asio_groups.hpp - part of weft/asio.hpp (included by it, never alone): a coroutine
// awaits a wait_group or an error_group, error_group runs coroutine tasks, and weft::spawn
// starts a detached one.
//
// Invariants:
// - An operation parked in a wait_group or error_group is an async_node in one of its lists
//   (detail/async_list.hpp). It is taken out exactly once, under the object's mutex: by a waker
//   (who then calls on_wake, which posts the step), by its cancellation, or by the registry's
//   shutdown. Only the one that took it completes or frees it.
// - A step runs (or is destroyed) only after the poster stored `posted_` (the step waits for
//   it): the waker's last access to the operation happens before the operation can be freed.
//   The waker never touches the wait_group or error_group after its unlock.
// - What the wake gave the operation (an error_group slot) is handed back if the step is
//   destroyed unrun (its execution context shut down): abandon().
// - A coroutine task holds its error_group slot from its start to its end_coroutine_task(),
//   called once: when it returns or throws, after its awaitable and function are destroyed, or
//   by the destructor of its frame if its execution context destroys it first.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <atomic>
#include <exception>
#include <functional>
#include <optional>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>

#include "../error_group.hpp"
#include "../wait_group.hpp"
#include "async_list.hpp"
#include "config.hpp"

WEFT_BEGIN_NAMESPACE

namespace detail {

// One asynchronous wait on a wait_group or an error_group. Body:
//   bool enlist(async_node*)      parks the node; false if the wait is over now (nothing parked)
//   bool delist(async_node*)      takes it back; false if a waker took it first. noexcept
//   std::tuple<...> result()      on the handler's executor, once woken or ready
//   std::tuple<...> canceled()    likewise, once canceled
//   void abandon() noexcept       the step of a woken or ready operation is destroyed unrun
template <class Body, class Handler>
class async_sync_op final : public async_op_base, async_node {
    using allocator_type = typename std::allocator_traits<net::associated_allocator_t<
        Handler, net::recycling_allocator<void>>>::template rebind_alloc<async_sync_op>;
    using work_type = std::decay_t<decltype(net::prefer(std::declval<async_executor_t<Handler>>(),
                                                        net::execution::outstanding_work.tracked))>;

public:
    template <class... A>
    static void start(Handler&& handler, A&&... args) {
        allocator_type alloc(
            net::get_associated_allocator(handler, net::recycling_allocator<void>()));
        async_sync_op* op = std::allocator_traits<allocator_type>::allocate(alloc, 1);
        try {
            ::new (static_cast<void*>(op))
                async_sync_op(std::move(handler), std::forward<A>(args)...);
        } catch (...) {
            std::allocator_traits<allocator_type>::deallocate(alloc, op, 1);
            throw;
        }
        op->begin();
    }

private:
    template <class... A>
    explicit async_sync_op(Handler&& handler, A&&... args)
        : async_node(&on_wake),
          body_(std::forward<A>(args)...),
          handler_(std::move(handler)),
          work_(net::prefer(net::get_associated_executor(handler_, net::system_executor()),
                            net::execution::outstanding_work.tracked)) {}
    ~async_sync_op() {
        if (registry_) registry_->remove(this);
    }

    class step {
    public:
        explicit step(async_sync_op* op) noexcept : op_(op) {}
        step(step&& o) noexcept : op_(std::exchange(o.op_, nullptr)) {}
        step& operator=(step&&) = delete;
        ~step() {
            if (!op_) return;
            op_->wait_posted();
            op_->clear_slot();  // the handler never ran: its slot still holds our canceller
            if (!op_->canceled_) op_->body_.abandon();
            destroy(op_);
        }
        void operator()() { std::exchange(op_, nullptr)->on_step(); }

        using allocator_type = typename async_sync_op::allocator_type;
        allocator_type get_allocator() const noexcept {
            return allocator_type(
                net::get_associated_allocator(op_->handler_, net::recycling_allocator<void>()));
        }

    private:
        async_sync_op* op_;
    };

    static void destroy(async_sync_op* op) noexcept {
        allocator_type alloc(
            net::get_associated_allocator(op->handler_, net::recycling_allocator<void>()));
        op->~async_sync_op();
        std::allocator_traits<allocator_type>::deallocate(alloc, op, 1);
    }

    // In the registry before it parks (the context's shutdown must find it), with its canceller
    // installed before it parks (once parked, a waker may post the step, which clears the slot).
    void begin() {
        try {
            registry_ =
                &net::use_service<async_registry>(net::query(work_, net::execution::context));
            registry_->add(this);
            install_cancellation();
            if (body_.enlist(this)) return;  // parked: from now on the waker's or canceller's
        } catch (...) {
            clear_slot();
            destroy(this);
            throw;
        }
        // Ready: nobody else knows this operation; the step may run as soon as it is posted.
        // If defer throws, the unqueued step's destructor gives back what enlist gave us.
        posted_.store(true, std::memory_order_relaxed);
        net::defer(work_, step(this));
    }

    void clear_slot() noexcept {
        auto slot = net::get_associated_cancellation_slot(handler_);
        if (slot.is_connected()) slot.clear();
    }
    void install_cancellation() {
        auto slot = net::get_associated_cancellation_slot(handler_);
        if (slot.is_connected()) slot.template emplace<canceller>(this);
    }
    struct canceller {
        explicit canceller(async_sync_op* o) noexcept : op(o) {}
        async_sync_op* op;
        void operator()(net::cancellation_type_t type) noexcept {
            if (type != net::cancellation_type::none) op->request_cancel();
        }
    };
    // On the operation's executor (Asio's rule for slots); a waker may be taking the node at the
    // same moment on another thread: the object's mutex decides.
    void request_cancel() noexcept {
        if (!body_.delist(this)) return;  // woken, or ready: completes normally
        canceled_ = true;                 // read by the step, which the post orders after this
        post_step();
    }

    static void on_wake(async_node* node) noexcept {
        static_cast<async_sync_op*>(node)->post_step();
    }

    // Asio may allocate here (from its recycling cache as a rule): a failure terminates, as in
    // any other noexcept wake path.
    void post_step() noexcept {
        net::defer(work_, step(this));
        // release: the step waits for this (acquire) before it touches, and maybe frees, us.
        posted_.store(true, std::memory_order_release);
    }
    void wait_posted() const noexcept {
        while (!posted_.load(std::memory_order_acquire)) std::this_thread::yield();
    }

    // On the handler's executor: make the arguments, free the operation, call the handler.
    void on_step() {
        wait_posted();
        clear_slot();
        auto args = canceled_ ? body_.canceled() : body_.result();
        Handler h(std::move(handler_));
        destroy(this);
        std::apply(std::move(h), std::move(args));
    }

    void shutdown() noexcept override {
        if (body_.delist(this)) {
            registry_ = nullptr;  // the registry took us out already
            clear_slot();         // nobody runs the context now: no emitter races this
            destroy(this);
            return;
        }
        // Taken: the taker is posting our step (a moment: it holds no lock); Asio's scheduler
        // destroys the step when it shuts down after us.
        wait_posted();
        registry_ = nullptr;
    }

    Body body_;
    Handler handler_;
    work_type work_;
    std::atomic<bool> posted_{false};
    bool canceled_ = false;  // written by the canceller, read by the step it posts
    async_registry* registry_ = nullptr;
};

template <class Body, class Handler, class... A>
void start_async_sync(Handler&& handler, A&&... args) {
    async_sync_op<Body, std::decay_t<Handler>>::start(std::move(handler), std::forward<A>(args)...);
}

inline boost::system::error_code aborted() noexcept {
    return boost::system::error_code(net::error::operation_aborted);
}

struct wait_group_access {
    static bool enlist(wait_group& wg, async_node* n) { return wg.enlist_async(n); }
    static bool delist(wait_group& wg, async_node* n) noexcept { return wg.delist_async(n); }
};

class wait_group_body {
public:
    explicit wait_group_body(wait_group* wg) noexcept : wg_(wg) {}
    bool enlist(async_node* n) { return wait_group_access::enlist(*wg_, n); }
    bool delist(async_node* n) noexcept { return wait_group_access::delist(*wg_, n); }
    static std::tuple<boost::system::error_code> result() noexcept { return {{}}; }
    static std::tuple<boost::system::error_code> canceled() noexcept { return {aborted()}; }
    static void abandon() noexcept {}

private:
    wait_group* wg_;
};

struct error_group_access {
    static bool try_take_slot(error_group& g) { return g.try_take_slot(); }
    static void end(error_group& g, const std::exception_ptr& e) noexcept {
        g.end_coroutine_task(e);
    }
    static bool enlist_slot(error_group& g, async_node* n) { return g.enlist_slot(n); }
    static bool enlist_idle(error_group& g, async_node* n) { return g.enlist_idle(n); }
    static bool delist_slot(error_group& g, async_node* n) noexcept { return g.delist_slot(n); }
    static bool delist_idle(error_group& g, async_node* n) noexcept { return g.delist_idle(n); }
    // wait()'s work, without its own-task check (a coroutine is not a thread).
    static std::exception_ptr finish_wait(error_group& g) {
        g.join_all();
        std::exception_ptr first = g.first_error();
        g.cancel_(first);
        return first;
    }
    template <class R>
    static std::exception_ptr to_error(R&& r) {
        return error_group::to_error(std::forward<R>(r));
    }
};

// A coroutine task: an awaitable, or a function returning one.
template <class T>
struct awaitable_traits : std::false_type {};
template <class R, class E>
struct awaitable_traits<net::awaitable<R, E>> : std::true_type {
    using result_type = R;
    using executor_type = E;
};
template <class Task, class = void>
struct task_awaitable {
    using type = void;
};
template <class Task>
struct task_awaitable<Task, std::enable_if_t<awaitable_traits<Task>::value>> {
    using type = Task;
};
template <class Task>
struct task_awaitable<
    Task, std::enable_if_t<!awaitable_traits<Task>::value && std::is_invocable_v<Task&&>>> {
    using type = std::remove_cvref_t<std::invoke_result_t<Task&&>>;
};
template <class Task>
using task_awaitable_t = typename task_awaitable<std::decay_t<Task>>::type;

template <class Task>
concept coroutine_task =
    std::constructible_from<std::decay_t<Task>, Task> &&
    awaitable_traits<task_awaitable_t<Task>>::value &&
    error_group_result<typename awaitable_traits<task_awaitable_t<Task>>::result_type>;

template <class Task>
auto take_awaitable(Task& t) {
    if constexpr (awaitable_traits<Task>::value) {
        return std::move(t);
    } else {
        return std::invoke(std::move(t));
    }
}

// Ends a coroutine task once: with its outcome, or, if its frame is destroyed first (its
// execution context shut down), with operation_aborted.
class group_task_end {
public:
    explicit group_task_end(error_group* g) noexcept : g_(g) {}
    group_task_end(const group_task_end&) = delete;
    group_task_end& operator=(const group_task_end&) = delete;
    ~group_task_end() {
        if (!g_) return;
        std::exception_ptr e;
        try {
            throw boost::system::system_error(
                aborted(), "weft::error_group: coroutine task destroyed before it finished");
        } catch (...) { e = std::current_exception(); }
        error_group_access::end(*g_, e);
    }
    void operator()(const std::exception_ptr& e) noexcept {
        error_group_access::end(*std::exchange(g_, nullptr), e);
    }

private:
    error_group* g_;
};

template <class Task>
net::awaitable<void, typename awaitable_traits<task_awaitable_t<Task>>::executor_type>
run_group_task(error_group* g, std::optional<Task> task) {
    using R = typename awaitable_traits<task_awaitable_t<Task>>::result_type;
    group_task_end end(g);
    std::exception_ptr error;
    try {
        // A named awaitable, not a temporary in the co_await: GCC 12 destroys such a temporary
        // twice when the frame is destroyed at that suspension point (ASan sees it).
        auto awaited = take_awaitable(*task);
        if constexpr (std::is_void_v<R>) {
            co_await std::move(awaited);
        } else {
            error = error_group_access::to_error(co_await std::move(awaited));
        }
    } catch (...) { error = std::current_exception(); }
    task.reset();  // the function and what it holds go before the task counts as finished
    end(error);
}

// Starts a coroutine task that holds a slot; gives the slot back if it cannot start.
template <class Executor, class Task>
void start_group_task(error_group& g, const Executor& ex, Task&& task) {
    try {
        net::co_spawn(ex,
                      run_group_task<std::decay_t<Task>>(
                          &g, std::optional<std::decay_t<Task>>(std::forward<Task>(task))),
                      net::detached);
    } catch (...) {
        error_group_access::end(g, nullptr);
        throw;
    }
}

class error_group_wait_body {
public:
    explicit error_group_wait_body(error_group* g) noexcept : g_(g) {}
    bool enlist(async_node* n) { return error_group_access::enlist_idle(*g_, n); }
    bool delist(async_node* n) noexcept { return error_group_access::delist_idle(*g_, n); }
    std::tuple<boost::system::error_code, std::exception_ptr> result() {
        return {boost::system::error_code{}, error_group_access::finish_wait(*g_)};
    }
    static std::tuple<boost::system::error_code, std::exception_ptr> canceled() noexcept {
        return {aborted(), nullptr};
    }
    static void abandon() noexcept {}

private:
    error_group* g_;
};

template <class Executor, class Task>
class error_group_spawn_body {
public:
    template <class T>
    error_group_spawn_body(error_group* g, Executor ex, T&& task)
        : g_(g), ex_(std::move(ex)), task_(std::forward<T>(task)) {}
    bool enlist(async_node* n) { return error_group_access::enlist_slot(*g_, n); }
    bool delist(async_node* n) noexcept { return error_group_access::delist_slot(*g_, n); }
    // Holds the slot: starts the task, or gives the slot back and reports no_memory (what
    // co_spawn can fail with).
    std::tuple<boost::system::error_code> result() {
        try {
            start_group_task(*g_, ex_, std::move(task_));
        } catch (...) { return {boost::system::error_code(net::error::no_memory)}; }
        return {boost::system::error_code{}};
    }
    static std::tuple<boost::system::error_code> canceled() noexcept { return {aborted()}; }
    void abandon() noexcept { error_group_access::end(*g_, nullptr); }

private:
    error_group* g_;
    Executor ex_;
    Task task_;
};

// weft::spawn's completion: an exception that escaped the task, rethrown on the task's executor.
struct rethrow_escaped {
    template <class... T>
    void operator()(std::exception_ptr e, T&&...) const {
        if (e) std::rethrow_exception(e);
    }
};

}  // namespace detail

template <class Token>
auto wait_group::async_wait(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [](auto handler, wait_group* wg) {
            detail::start_async_sync<detail::wait_group_body>(std::move(handler), wg);
        },
        token, this);
}

template <class Token>
auto error_group::async_wait(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::exception_ptr)>(
        [](auto handler, error_group* g) {
            detail::start_async_sync<detail::error_group_wait_body>(std::move(handler), g);
        },
        token, this);
}

template <class Executor, class Task>
bool error_group::try_spawn(const Executor& ex, Task&& fn) {
    static_assert(detail::coroutine_task<Task>,
                  "error_group::try_spawn: task must be an asio::awaitable<R> or a function "
                  "returning one, R void, std::error_code or std::exception_ptr");
    if (!detail::error_group_access::try_take_slot(*this)) return false;
    detail::start_group_task(*this, ex, std::forward<Task>(fn));
    return true;
}

template <class Executor, class Task, class Token>
auto error_group::async_spawn(const Executor& ex, Task&& fn, Token&& token) {
    static_assert(detail::coroutine_task<Task>,
                  "error_group::async_spawn: task must be an asio::awaitable<R> or a function "
                  "returning one, R void, std::error_code or std::exception_ptr");
    using body = detail::error_group_spawn_body<Executor, std::decay_t<Task>>;
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [](auto handler, error_group* g, Executor e, std::decay_t<Task> t) {
            detail::start_async_sync<body>(std::move(handler), g, std::move(e), std::move(t));
        },
        token, this, ex, std::decay_t<Task>(std::forward<Task>(fn)));
}

// Go's `go f()` for a coroutine: starts `task` (an asio::awaitable, or a function returning one)
// on `ex` (an executor or an execution context), detached. Go's rule that an escaped panic ends
// the program becomes Asio's: an exception escaping the task is rethrown on the executor, out of
// the io_context::run() (or poll()) that ran it, where the program sees it; the context stays
// usable (call run() again). Use error_group::async_spawn to collect errors instead.
template <class Executor, class Task>
void spawn(Executor&& ex, Task&& task) {
    boost::asio::co_spawn(std::forward<Executor>(ex), std::forward<Task>(task),
                          detail::rethrow_escaped{});
}

WEFT_END_NAMESPACE
