// weft/go.hpp - `go f(args...)`: run a function on a new detached thread.
//
// go(f, args...)                          std::thread, detached
// go(go_options{.stack_size = N}, f, ...) POSIX thread with an N-byte stack (N is rounded up to
//                                         the page size and to PTHREAD_STACK_MIN), detached
//
// Like std::thread, f and args are decay-copied (moved when they are rvalues) into the new
// thread and invoked there with std::invoke; pass std::ref to share an object.
//
// Differences from a goroutine:
// - It is an OS thread: creating one costs ~10-20 us and its stack is real memory (default
//   8 MiB of address space on Linux, reserved lazily). Use a worker pool for many small tasks.
// - Nothing waits for it: like Go, returning from main() ends the process while it may still be
//   running. Use a wait_group (wait_group::go) to wait for it.
// - An exception escaping f is a panic: its what() is printed to stderr as
//   "weft::go: uncaught exception: <what>" and std::terminate() is called, which kills the
//   whole process (Go: a panic in a goroutine crashes the program). Catch inside f what you can
//   handle, or send it back on a channel.
// If the thread cannot be created, go() throws std::system_error and f is not run.
// The thread is named "weft-go" (see docs/faq.md); f may rename it.
#pragma once

#include <cstddef>
#include <cstdio>
#include <exception>
#include <memory>
#include <system_error>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>

#include "detail/config.hpp"
#include "detail/invoke.hpp"
#include "detail/thread_name.hpp"

#if defined(__has_include)
#if __has_include(<pthread.h>) && __has_include(<unistd.h>)
#include <limits.h>
#include <pthread.h>
#include <unistd.h>
#define WEFT_HAS_PTHREAD 1
#endif
#endif
#ifndef WEFT_HAS_PTHREAD
#define WEFT_HAS_PTHREAD 0
#endif

WEFT_BEGIN_NAMESPACE

struct go_options {
    // Stack size in bytes; 0 = the system default. Ignored where POSIX threads are unavailable.
    std::size_t stack_size = 0;
};

namespace detail {

template <class F, class... A>
struct go_task {
    std::tuple<std::decay_t<F>, std::decay_t<A>...> call;

    // The goroutine body: run, and turn an escaping exception into a loud crash.
    void run() noexcept {
        name_this_thread("weft-go");  // f may rename its own thread
        try {
            std::apply([](auto&... xs) { detail::invoke(std::move(xs)...); }, call);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "weft::go: uncaught exception: %s\n", e.what());
            std::fflush(stderr);
            std::terminate();
        } catch (...) {
            std::fprintf(stderr,
                         "weft::go: uncaught exception (not derived from std::exception)\n");
            std::fflush(stderr);
            std::terminate();
        }
    }
};

#if WEFT_HAS_PTHREAD
template <class Task>
void* go_pthread_entry(void* p) noexcept {
    std::unique_ptr<Task> task(static_cast<Task*>(p));
    task->run();
    return nullptr;
}

template <class Task>
void go_with_stack(std::unique_ptr<Task> task, std::size_t stack_size) {
    pthread_attr_t attr;
    if (int rc = pthread_attr_init(&attr); rc != 0)
        throw std::system_error(rc, std::generic_category(), "weft::go: pthread_attr_init");
    struct attr_guard {
        pthread_attr_t* a;
        ~attr_guard() { pthread_attr_destroy(a); }
    } guard{&attr};

    std::size_t size = stack_size;
    if (size < static_cast<std::size_t>(PTHREAD_STACK_MIN))
        size = static_cast<std::size_t>(PTHREAD_STACK_MIN);
    const long page = ::sysconf(_SC_PAGESIZE);
    if (page > 0) {
        const auto p = static_cast<std::size_t>(page);
        size = (size + p - 1) / p * p;
    }
    if (int rc = pthread_attr_setstacksize(&attr, size); rc != 0)
        throw std::system_error(rc, std::generic_category(), "weft::go: pthread_attr_setstacksize");
    if (int rc = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED); rc != 0)
        throw std::system_error(rc, std::generic_category(),
                                "weft::go: pthread_attr_setdetachstate");

    pthread_t thread;
    if (int rc = pthread_create(&thread, &attr, &go_pthread_entry<Task>, task.get()); rc != 0)
        throw std::system_error(rc, std::generic_category(), "weft::go: pthread_create");
    (void)task.release();  // owned by the new thread now
}
#endif

}  // namespace detail

// Runs f(args...) on a new detached thread with the given options. See the file comment.
template <class F, class... A>
void go(go_options options, F&& f, A&&... args) {
    using task_t = detail::go_task<F, A...>;
    auto task = std::make_unique<task_t>(task_t{{std::forward<F>(f), std::forward<A>(args)...}});
#if WEFT_HAS_PTHREAD
    if (options.stack_size != 0) {
        detail::go_with_stack(std::move(task), options.stack_size);
        return;
    }
#else
    (void)options;
#endif
    std::thread([t = std::move(task)] { t->run(); }).detach();
}

// Runs f(args...) on a new detached thread (Go's `go f(args...)`). See the file comment.
template <class F, class... A>
void go(F&& f, A&&... args) {
    go(go_options{}, std::forward<F>(f), std::forward<A>(args)...);
}

WEFT_END_NAMESPACE
