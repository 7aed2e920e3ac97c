// weft/detail/thread_name.hpp - names for the threads weft starts, so that top -H, gdb, perf and
// /proc/<pid>/task/*/comm show whose they are: "weft-timer" (the timer service), "weft-after"
// (context's after_func), "weft-go" (weft::go and wait_group::go, until the function renames
// its own thread). docs/faq.md lists every thread weft starts and when it ends.
#pragma once

#include "config.hpp"

#if defined(__has_include)
#if __has_include(<pthread.h>)
#include <pthread.h>
#define WEFT_HAS_PTHREAD_NAME 1
#endif
#endif
#ifndef WEFT_HAS_PTHREAD_NAME
#define WEFT_HAS_PTHREAD_NAME 0
#endif

WEFT_BEGIN_NAMESPACE
namespace detail {

// Names the calling thread. `name` has at most 15 characters (Linux's limit). Best effort: a
// platform without thread names, or a failure, leaves the name as it was.
inline void name_this_thread(const char* name) noexcept {
#if WEFT_HAS_PTHREAD_NAME && defined(__APPLE__)
    (void)pthread_setname_np(name);
#elif WEFT_HAS_PTHREAD_NAME && (defined(__linux__) || defined(__FreeBSD__))
    (void)pthread_setname_np(pthread_self(), name);
#else
    (void)name;
#endif
}

}  // namespace detail
WEFT_END_NAMESPACE
