// weft/errors.hpp - weft's error vocabulary: the outcome of a channel operation (op_status),
// why a context ended (context_errc, context_error), the one way weft's error enums become
// std::error_codes, and two helpers for the std::exception_ptr that error_group, pipeline and
// context causes carry (error_as, error_message).
//
// Which operation reports what, and why (Go's error vs panic), is docs/errors.md.
//
// A leaf: it includes only the standard library and detail/config.hpp, so the channel
// machinery in detail/ can use op_status without depending on anything above it.
#pragma once

#include <concepts>
#include <cstddef>
#include <exception>
#include <string>
#include <system_error>
#include <type_traits>

#include "detail/config.hpp"

WEFT_BEGIN_NAMESPACE

// The outcome of a channel operation. ok: done. closed: the channel is closed (and, for
// receives, drained). full / empty: a try_ operation would have had to wait. timeout: the
// deadline passed. canceled: a context ended the wait. None of them is a failure of the
// program: each is a state of the channel that the caller branches on, as Go's `v, ok := <-c`.
enum class op_status { ok, closed, full, empty, timeout, canceled };

constexpr const char* to_string(op_status s) noexcept {
    switch (s) {
        case op_status::ok: return "ok";
        case op_status::closed: return "closed";
        case op_status::full: return "full";
        case op_status::empty: return "empty";
        case op_status::timeout: return "timeout";
        case op_status::canceled: return "canceled";
    }
    return "unknown";
}

namespace detail {

// One code of a weft error enum: its message and the portable condition it compares equal to.
struct error_entry {
    int code;
    const char* message;
    std::errc condition;
};

// Specialized beside each error enum (context_errc below, rate_errc in rate.hpp) with
// `name`, `unknown` (the message of a code not in the table) and `entries`.
template <class Errc>
struct error_table;

template <class Errc>
concept has_error_table = requires {
    { error_table<Errc>::name } -> std::convertible_to<const char*>;
    error_table<Errc>::entries[0];
};

// The std::error_category of every weft error enum, driven by its error_table.
template <class Errc>
class table_category final : public std::error_category {
public:
    const char* name() const noexcept override { return error_table<Errc>::name; }
    std::string message(int c) const override {
        const error_entry* e = find(c);
        return e ? e->message : error_table<Errc>::unknown;
    }
    std::error_condition default_error_condition(int c) const noexcept override {
        const error_entry* e = find(c);
        return e ? std::make_error_condition(e->condition) : std::error_condition(c, *this);
    }

private:
    static const error_entry* find(int c) noexcept {
        for (const error_entry& e : error_table<Errc>::entries)
            if (e.code == c) return &e;
        return nullptr;
    }
};

}  // namespace detail

// The category of a weft error enum (one object per enum, as std::generic_category()).
template <class Errc>
    requires detail::has_error_table<Errc>
const std::error_category& error_category_of() noexcept {
    static const detail::table_category<Errc> category;
    return category;
}

// Found by argument-dependent lookup, so `std::error_code ec = weft::context_errc::canceled;`
// works for every weft error enum.
template <class Errc>
    requires detail::has_error_table<Errc>
std::error_code make_error_code(Errc e) noexcept {
    return {static_cast<int>(e), error_category_of<Errc>()};
}

// Why a context ended. A std::error_code enum: `ctx.err() == weft::context_errc::canceled`,
// and also `ctx.err() == std::errc::operation_canceled` (deadline_exceeded: std::errc::timed_out).
enum class context_errc { canceled = 1, deadline_exceeded = 2 };

template <>
struct detail::error_table<context_errc> {
    static constexpr const char* name = "weft.context";
    static constexpr const char* unknown = "unknown context error";
    static constexpr error_entry entries[] = {
        {static_cast<int>(context_errc::canceled), "context canceled",
         std::errc::operation_canceled},
        {static_cast<int>(context_errc::deadline_exceeded), "context deadline exceeded",
         std::errc::timed_out},
    };
};

inline const std::error_category& context_category() noexcept {
    return error_category_of<context_errc>();
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

// The message of the exception in `e`, for a log line: "" for a null `e`, what() for a
// std::exception, "unknown exception" for anything else thrown.
inline std::string error_message(const std::exception_ptr& e) {
    if (!e) return {};
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) { return x.what(); } catch (...) {
        return "unknown exception";
    }
}

WEFT_END_NAMESPACE
