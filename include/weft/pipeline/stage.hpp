// weft/pipeline/stage.hpp - the stages of a pipeline: weft::stage::source, map, filter, tap,
// sink and batch, and the specs they return (a stage's settings, attached to a pipeline with
// `|`). Part of <weft/pipeline.hpp>, which documents them.
#pragma once

#include <chrono>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../channel.hpp"
#include "../detail/config.hpp"
#include "emitter.hpp"
#include "result.hpp"
#include "runtime.hpp"
#include "stage_threads.hpp"

WEFT_BEGIN_NAMESPACE

namespace detail::pipe {

struct access;

// The options every stage spec has: its name (in stats and error messages) and, for stages
// with an output, the capacity of that channel.
template <class D>
class spec_base {
public:
    D name(std::string n) && {
        name_ = std::move(n);
        return std::move(static_cast<D&>(*this));
    }
    D capacity(std::size_t n) && {
        static_assert(!D::is_sink, "weft::stage::sink has no output channel, so no capacity");
        capacity_ = n;
        return std::move(static_cast<D&>(*this));
    }

protected:
    explicit spec_base(std::string default_name) : name_(std::move(default_name)) {}
    std::string name_;
    std::optional<std::size_t> capacity_;
    friend struct access;
};

inline std::size_t check_workers(std::size_t n, const char* what) {
    if (n == 0) throw std::invalid_argument(std::string(what) + ": workers must be at least 1");
    return n;
}

template <class T, class Gen>
class source_spec : public spec_base<source_spec<T, Gen>> {
public:
    static constexpr bool is_sink = false;
    explicit source_spec(Gen g) : spec_base<source_spec>("source"), gen_(std::move(g)) {}

private:
    Gen gen_;
    friend struct access;
};

// map and filter take the same settings; Kind tells them apart (and names the stage).
struct map_kind {
    static constexpr const char* name = "map";
    static constexpr const char* qualified = "weft::stage::map";
};
struct filter_kind {
    static constexpr const char* name = "filter";
    static constexpr const char* qualified = "weft::stage::filter";
};

template <class F, class Kind>
class worker_spec : public spec_base<worker_spec<F, Kind>> {
public:
    static constexpr bool is_sink = false;
    worker_spec(F f, std::size_t workers, ordering o)
        : spec_base<worker_spec>(Kind::name),
          f_(std::move(f)),
          workers_(check_workers(workers, Kind::qualified)),
          order_(o) {}
    // ordered only: how many values may be inside the stage at once (default: the stage's
    // capacity, at least 2 x workers). Fewer than `workers` leaves workers idle.
    worker_spec window(std::size_t n) && {
        if (n == 0)
            throw std::invalid_argument(std::string(Kind::qualified) +
                                        ": window must be at least 1");
        window_ = n;
        return std::move(*this);
    }

private:
    F f_;
    std::size_t workers_;
    ordering order_;
    std::optional<std::size_t> window_;
    friend struct access;
};

template <class F>
using map_spec = worker_spec<F, map_kind>;
template <class F>
using filter_spec = worker_spec<F, filter_kind>;

template <class F>
class tap_spec : public spec_base<tap_spec<F>> {
public:
    static constexpr bool is_sink = false;
    explicit tap_spec(F f) : spec_base<tap_spec>("tap"), f_(std::move(f)) {}

private:
    F f_;
    friend struct access;
};

template <class F>
class sink_spec : public spec_base<sink_spec<F>> {
public:
    static constexpr bool is_sink = true;
    sink_spec(F f, std::size_t workers)
        : spec_base<sink_spec>("sink"),
          f_(std::move(f)),
          workers_(check_workers(workers, "weft::stage::sink")) {}

private:
    F f_;
    std::size_t workers_;
    friend struct access;
};

class batch_spec : public spec_base<batch_spec> {
public:
    static constexpr bool is_sink = false;
    batch_spec(std::size_t size, std::optional<std::chrono::steady_clock::duration> max_wait)
        : spec_base<batch_spec>("batch"), size_(size), max_wait_(max_wait) {
        if (size == 0) throw std::invalid_argument("weft::stage::batch: size must be at least 1");
        if (max_wait && *max_wait <= std::chrono::steady_clock::duration::zero())
            throw std::invalid_argument("weft::stage::batch: max_wait must be positive");
    }

private:
    std::size_t size_;
    std::optional<std::chrono::steady_clock::duration> max_wait_;
    friend struct access;
};

template <class S>
struct is_spec : std::false_type {};
template <class T, class G>
struct is_spec<source_spec<T, G>> : std::true_type {};
template <class F>
struct is_spec<map_spec<F>> : std::true_type {};
template <class F>
struct is_spec<filter_spec<F>> : std::true_type {};
template <class F>
struct is_spec<tap_spec<F>> : std::true_type {};
template <class F>
struct is_spec<sink_spec<F>> : std::true_type {};
template <>
struct is_spec<batch_spec> : std::true_type {};

template <class S>
struct is_source : std::false_type {};
template <class T, class G>
struct is_source<source_spec<T, G>> : std::true_type {};

}  // namespace detail::pipe

// --- The stages ---
// In their own namespace, so that `using namespace std; using namespace weft;` leaves
// std::map and these names unambiguous: weft::stage::map, weft::stage::batch.
namespace stage {

inline constexpr ordering unordered = ordering::unordered;
inline constexpr ordering ordered = ordering::ordered;

// A source from a range, a channel / receiver, or a generator function f() -> std::optional<T>
// (an empty optional ends the input). An lvalue range is referenced (its values copied), an
// rvalue range is moved in (its values moved out).
template <class S>
auto source(S&& s) {
    using D = std::remove_cvref_t<S>;
    using namespace detail::pipe;
    if constexpr (receivable<D>) {
        using T = channel_value_t<D>;
        return source_spec<T, receiver_gen<T>>(receiver_gen<T>{receiver<T>(s)});
    } else if constexpr (std::ranges::input_range<S&>) {
        using T = std::ranges::range_value_t<S&>;
        constexpr bool owned = !std::is_lvalue_reference_v<S>;
        constexpr bool from_value =
            owned ? std::is_constructible_v<T, std::ranges::range_rvalue_reference_t<D&>>
                  : std::is_constructible_v<T, std::ranges::range_reference_t<S&>>;
        static_assert(
            from_value || owned,
            "weft::stage::source: the values of an lvalue range are copied, and these cannot "
            "be; pass the range as an rvalue (std::move(v)) to move them out");
        static_assert(
            from_value || !owned,
            "weft::stage::source: the range's values cannot be converted to its value type");
        static_assert(
            item_ok<T>,
            "weft::stage::source: pipeline values must be nothrow move constructible (wrap "
            "the type in std::unique_ptr)");
        using R = std::conditional_t<owned, D, S&>;
        return source_spec<T, range_gen<R, owned>>(range_gen<R, owned>{std::forward<S>(s)});
    } else if constexpr (std::is_invocable_v<D&>) {
        using R = std::remove_cvref_t<std::invoke_result_t<D&>>;
        static_assert(is_optional<R>::value,
                      "weft::stage::source: a generator function must return std::optional<T> (an "
                      "empty optional ends the input); for a function that pushes values, use "
                      "weft::stage::source<T>(f) with f(weft::emitter<T>&)");
        if constexpr (is_optional<R>::value) {
            using T = typename R::value_type;
            static_assert(
                item_ok<T>,
                "weft::stage::source: pipeline values must be nothrow move constructible");
            return source_spec<T, pull_gen<D>>(pull_gen<D>{std::forward<S>(s)});
        }
    } else {
        static_assert(
            always_false<S>,
            "weft::stage::source takes a range, a weft::channel<T> / receiver<T>, a function "
            "returning std::optional<T>, or (as source<T>(f)) a function taking "
            "weft::emitter<T>&");
    }
}

// A source of the listed values: weft::stage::source({1, 2, 3}).
template <class T>
auto source(std::initializer_list<T> values) {
    return source(std::vector<T>(values));
}

// A source whose function pushes the values: source<T>([](weft::emitter<T>& emit) { ... }).
// The input ends when f returns; f should return when emit() returns false.
template <class T, class F>
auto source(F&& f) {
    using D = std::remove_cvref_t<F>;
    static_assert(
        std::is_invocable_v<D&, emitter<T>&>,
        "weft::stage::source<T>(f): f must take a weft::emitter<T>& and call it with each value");
    static_assert(detail::pipe::item_ok<T>,
                  "weft::stage::source: pipeline values must be nothrow move constructible");
    return detail::pipe::source_spec<T, detail::pipe::push_gen<D>>(
        detail::pipe::push_gen<D>{std::forward<F>(f)});
}

// f(T&&) -> U on `workers` threads; weft::stage::ordered keeps the input order (see the file
// comment).
template <class F>
auto map(F&& f, std::size_t workers = 1, ordering order = ordering::unordered) {
    return detail::pipe::map_spec<std::decay_t<F>>(std::forward<F>(f), workers, order);
}

// Passes on the values for which pred(const T&) is true.
template <class F>
auto filter(F&& pred, std::size_t workers = 1, ordering order = ordering::unordered) {
    return detail::pipe::filter_spec<std::decay_t<F>>(std::forward<F>(pred), workers, order);
}

// Calls f(const T&) for each value and passes the value on (logging, metrics, progress).
template <class F>
auto tap(F&& f) {
    return detail::pipe::tap_spec<std::decay_t<F>>(std::forward<F>(f));
}

// The end of a pipeline: f(T&&) for each value, on `workers` threads.
template <class F>
auto sink(F&& f, std::size_t workers = 1) {
    return detail::pipe::sink_spec<std::decay_t<F>>(std::forward<F>(f), workers);
}

// Groups values into std::vector<T>s of `size`; the last one may be smaller.
inline detail::pipe::batch_spec batch(std::size_t size) { return {size, std::nullopt}; }

// As batch(size), and a batch is also emitted when its oldest value has waited `max_wait`
// (since this stage received it). max_wait must be positive.
template <class Rep, class Per>
detail::pipe::batch_spec batch(std::size_t size, std::chrono::duration<Rep, Per> max_wait) {
    return {size, std::chrono::ceil<std::chrono::steady_clock::duration>(max_wait)};
}

}  // namespace stage

WEFT_END_NAMESPACE
