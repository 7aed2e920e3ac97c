// weft/detail/config.hpp - namespace and version macros shared by every weft header, and
// WEFT_ASSERT.
#pragma once

#include <cstdio>
#include <cstdlib>

#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 1
#define WEFT_VERSION_PATCH 0

// Every public name lives in weft::v0 (an inline namespace, as {fmt} does), so a future
// ABI break can bump the inline namespace without changing user code.
#define WEFT_BEGIN_NAMESPACE \
    namespace weft {         \
    inline namespace v0 {
#define WEFT_END_NAMESPACE \
    }                      \
    }

// WEFT_ASSERT(cond): checks an invariant the core files state in their opening comments. On in
// debug builds (NDEBUG not defined) and wherever WEFT_ENABLE_ASSERTS is defined; off (the
// condition is not evaluated) otherwise, so Release pays nothing. A failure prints
// "file:line: weft assertion failed: cond" to stderr and aborts: a broken invariant of a
// concurrent structure cannot be recovered from.
#if !defined(NDEBUG) || defined(WEFT_ENABLE_ASSERTS)
#define WEFT_ASSERTS_ENABLED 1
#define WEFT_ASSERT(cond) \
    ((cond) ? static_cast<void>(0) : ::weft::v0::detail::assert_fail(#cond, __FILE__, __LINE__))
#else
#define WEFT_ASSERTS_ENABLED 0
#define WEFT_ASSERT(cond) static_cast<void>(sizeof((cond) ? 1 : 0))
#endif

WEFT_BEGIN_NAMESPACE
namespace detail {

[[noreturn]] inline void assert_fail(const char* what, const char* file, int line) noexcept {
    std::fprintf(stderr, "%s:%d: weft assertion failed: %s\n", file, line, what);
    std::fflush(stderr);
    std::abort();
}

}  // namespace detail
WEFT_END_NAMESPACE
