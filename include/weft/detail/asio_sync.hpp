// weft/detail/asio_sync.hpp - the asynchronous waits of weft's synchronization patterns, in
// Boost.Asio's universal model: semaphore::async_acquire, rate_limiter::async_wait_n and
// future::async_get. Included
// by weft/asio.hpp (after its definitions of async_receive), never alone.
//
// Each is built on a channel receive (async_receive), as the blocking forms are built on
// receive and select: a semaphore waiter's ready channel, a rate permit's timer channel, a
// future's channel. So
// completion, cancellation and shutdown are async_receive's (weft/asio.hpp), and the pattern's
// own state is held by an RAII object inside the receive's handler.
//
// Invariants:
// - adapted_handler owns the pattern's state (a queued semaphore waiter, a rate permit) and the
//   caller's handler. It is called at most once, on the caller's handler's executor; destroyed
//   uncalled (the execution context shut down, or starting the receive threw), its state's
//   destructor withdraws the wait: nothing is taken.
// - It reports the caller's handler's associations (executor, allocator, cancellation slot) as
//   its own, so the receive runs, allocates and is canceled exactly as the caller's operation.
#pragma once

#include <boost/asio/associator.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <mutex>
#include <system_error>
#include <utility>
#include <variant>

#include "../channel.hpp"
#include "../errors.hpp"
#include "../future.hpp"
#include "../rate.hpp"
#include "../semaphore.hpp"
#include "config.hpp"

WEFT_BEGIN_NAMESPACE

namespace detail {

// A completion handler that turns what the receive completes with into what the outer
// operation promises: calls adapt(handler, args...).
template <class Handler, class Adapt>
class adapted_handler {
public:
    adapted_handler(Handler h, Adapt a) : handler_(std::move(h)), adapt_(std::move(a)) {}

    template <class... A>
    void operator()(A&&... args) {
        std::move(adapt_)(std::move(handler_), std::forward<A>(args)...);
    }

    Handler handler_;

private:
    Adapt adapt_;
};

// What future<R>::async_get completes with.
template <class R>
struct future_signature {
    using type = void(std::exception_ptr, R);
};
template <>
struct future_signature<void> {
    using type = void(std::exception_ptr);
};

}  // namespace detail

template <class Token>
auto semaphore::async_acquire(std::int64_t n, Token&& token) {
    checked(n, "async_acquire");
    return boost::asio::async_initiate<Token, void(std::error_code)>(
        [this](auto handler, std::int64_t want) {
            using handler_type = decltype(handler);
            std::unique_lock lock(mu_);
            if (fits(want)) {
                cur_ += want;
                lock.unlock();
                return detail::complete_later(std::move(handler), std::error_code());
            }
            if (want > size_) {
                // Never satisfiable, and queueing it would hold up everyone behind it: a receive
                // from a nil channel waits for the cancellation alone.
                lock.unlock();
                auto adapt = [](handler_type h, receive_result<std::monostate>) {
                    std::move(h)(std::error_code(context_errc::canceled));
                };
                return receiver<std::monostate>().async_receive(
                    detail::adapted_handler<handler_type, decltype(adapt)>(std::move(handler),
                                                                           adapt));
            }
            queued_acquire q(*this, want);  // may throw std::bad_alloc: nothing has changed
            enqueue(q.get());
            lock.unlock();
            const receiver<std::monostate> ready = q.get().ready;
            auto adapt = [q = std::move(q)](handler_type h,
                                            receive_result<std::monostate> r) mutable {
                std::error_code ec;
                if (r.status == op_status::closed) {
                    q.claim();  // granted: the tokens are ours
                } else {
                    ec = context_errc::canceled;
                    auto withdrawn = std::move(q);  // leaves the queue, or hands a grant back
                }
                std::move(h)(ec);
            };
            ready.async_receive(detail::adapted_handler<handler_type, decltype(adapt)>(
                std::move(handler), std::move(adapt)));
        },
        token, n);
}

template <class Token>
auto rate_limiter::async_wait_n(int n, Token&& token) {
    return boost::asio::async_initiate<Token, void(std::error_code)>(
        [this](auto handler, int want) {
            using handler_type = decltype(handler);
            if (want < 0) {
                return detail::complete_later(std::move(handler),
                                              std::make_error_code(std::errc::invalid_argument));
            }
            // A permit is exactly this wait's state: the tokens reserved, a timer for their
            // time to act, and the rule that they go back unless the timer's value is received.
            rate_permit p = permit_n(want);
            if (!p.ok()) {
                return detail::complete_later(std::move(handler),
                                              std::error_code(rate_errc::exceeds_burst));
            }
            const receiver<time_point> due = p.chan();
            auto adapt = [p = std::move(p)](handler_type h, receive_result<time_point> r) mutable {
                std::error_code ec;
                if (r.status != op_status::ok) {
                    ec = context_errc::canceled;
                    (void)p.cancel();  // the value was not received: the tokens go back
                }
                std::move(h)(ec);
            };
            due.async_receive(detail::adapted_handler<handler_type, decltype(adapt)>(
                std::move(handler), std::move(adapt)));
        },
        token, n);
}

template <class R>
template <class Token>
auto future<R>::async_get(Token&& token) const {
    using signature = typename detail::future_signature<R>::type;
    return boost::asio::async_initiate<Token, signature>(
        [](auto handler, receiver<outcome<R>> ch) {
            using handler_type = decltype(handler);
            auto adapt = [](handler_type h, receive_result<outcome<R>> r) {
                std::exception_ptr e;
                if (r.status == op_status::canceled) {
                    e = std::make_exception_ptr(
                        boost::system::system_error(boost::asio::error::operation_aborted));
                } else if (!r) {
                    e = std::make_exception_ptr(broken_promise());
                } else if (!r->has_value()) {
                    e = r->exception();
                } else if constexpr (!std::is_void_v<R>) {
                    return std::move(h)(nullptr, std::move(*r).get());
                }
                if constexpr (std::is_void_v<R>) {
                    std::move(h)(std::move(e));
                } else {
                    std::move(h)(std::move(e), R());  // Asio's rule: a value beside an error
                }
            };
            ch.async_receive(detail::adapted_handler<handler_type, decltype(adapt)>(
                std::move(handler), std::move(adapt)));
        },
        token, ch_);
}

WEFT_END_NAMESPACE

// The adapted handler is the caller's handler to Asio: same executor, allocator and
// cancellation slot.
template <template <class, class> class Associator, class Handler, class Adapt,
          class DefaultCandidate>
struct boost::asio::associator<Associator, weft::detail::adapted_handler<Handler, Adapt>,
                               DefaultCandidate> : Associator<Handler, DefaultCandidate> {
    static typename Associator<Handler, DefaultCandidate>::type get(
        const weft::detail::adapted_handler<Handler, Adapt>& h) noexcept {
        return Associator<Handler, DefaultCandidate>::get(h.handler_);
    }
    static auto get(const weft::detail::adapted_handler<Handler, Adapt>& h,
                    const DefaultCandidate& c) noexcept
        -> decltype(Associator<Handler, DefaultCandidate>::get(h.handler_, c)) {
        return Associator<Handler, DefaultCandidate>::get(h.handler_, c);
    }
};
