// weft/detail/status.hpp - the outcome of a channel operation, shared by every flavor.
#pragma once

#include "config.hpp"

WEFT_BEGIN_NAMESPACE

// ok: done. closed: the channel is closed (and, for receives, drained). full / empty: a try_
// operation would have had to wait. timeout: the deadline passed. canceled: a context ended
// the wait.
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

// The state of a case that has finished: it fires whether it moved a value or met a close.
constexpr bool fired(op_status s) noexcept { return s == op_status::ok || s == op_status::closed; }

}  // namespace detail
WEFT_END_NAMESPACE
