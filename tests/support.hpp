// Shared helpers for the test suite: a watchdog that turns a deadlock into a red test, and
// iteration counts that shrink (never to zero) under sanitizers.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define WEFT_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define WEFT_TEST_SANITIZED 1
#endif
#endif
#ifndef WEFT_TEST_SANITIZED
#define WEFT_TEST_SANITIZED 0
#endif

namespace weft_test {

// Go's test sizes in the normal build, a tenth under sanitizers, never zero.
constexpr std::size_t scale(std::size_t n) {
    std::size_t s = WEFT_TEST_SANITIZED ? n / 10 : n;
    return s == 0 ? 1 : s;
}

// Aborts the process with the test's name if the scope is not left within `limit`: a deadlocked
// test cannot be unblocked from outside, so failing loudly is the only honest outcome.
class watchdog {
public:
    explicit watchdog(const char* what, std::chrono::seconds limit = std::chrono::seconds(20))
        : watchdog(what, nullptr, limit) {}
    // For a loop whose length is the test's size (Go's sizes: 100,000 threads started one after
    // another): aborts only when `progress`, which the loop advances, has not moved for
    // `limit`. A loaded machine slows such a loop down by as much as it likes without failing
    // it; a deadlock still stops it moving, and ends the run.
    watchdog(const char* what, const std::atomic<std::uint64_t>& progress,
             std::chrono::seconds limit = std::chrono::seconds(20))
        : watchdog(what, &progress, limit) {}
    watchdog(const watchdog&) = delete;
    watchdog& operator=(const watchdog&) = delete;
    ~watchdog() {
        {
            std::lock_guard lock(mutex_);
            done_ = true;
        }
        cv_.notify_one();
        thread_.join();
    }

private:
    watchdog(const char* what, const std::atomic<std::uint64_t>* progress,
             std::chrono::seconds limit)
        : what_(what), thread_([this, progress, limit] {
              // Relaxed: a count read to see whether it moves; it orders nothing.
              const auto now = [progress] {
                  return progress ? progress->load(std::memory_order_relaxed) : 0;
              };
              std::unique_lock lock(mutex_);
              for (auto seen = now();;) {
                  if (cv_.wait_for(lock, limit * (WEFT_TEST_SANITIZED ? 3 : 1),
                                   [this] { return done_; }))
                      return;
                  const auto moved = now();
                  if (progress && moved != seen) {
                      seen = moved;
                      continue;
                  }
                  std::fprintf(stderr, "watchdog: '%s' did not finish in time (deadlock?)\n",
                               what_);
                  std::fflush(stderr);
                  std::abort();
              }
          }) {}

    const char* what_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool done_ = false;
    std::thread thread_;
};

// Goroutines that are joined when the scope ends. go() may be called from any thread, also from
// a goroutine of the same group while join() runs (the sieves start goroutines as they go).
// Declare it after everything its threads use, so it is destroyed first.
class goroutines {
public:
    goroutines() = default;
    goroutines(const goroutines&) = delete;
    goroutines& operator=(const goroutines&) = delete;
    ~goroutines() { join(); }

    template <class F>
    void go(F&& f) {
        std::thread t(std::forward<F>(f));
        std::lock_guard lock(mutex_);
        threads_.push_back(std::move(t));
    }
    void join() {
        for (;;) {
            std::vector<std::thread> batch;
            {
                std::lock_guard lock(mutex_);
                batch.swap(threads_);
            }
            if (batch.empty()) return;
            for (auto& t : batch) t.join();
        }
    }

private:
    std::mutex mutex_;
    std::vector<std::thread> threads_;
};

// Polls pred until it holds or `limit` passes; returns its last value. For states reached
// asynchronously (a thread exiting, a link dropped); the test's watchdog still bounds the wait.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > end) return pred();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

// Number of threads of this process (0 where /proc is not available).
inline std::size_t thread_count() {
#ifdef __linux__
    std::error_code ec;
    std::size_t n = 0;
    for (std::filesystem::directory_iterator it("/proc/self/task", ec), end; !ec && it != end;
         it.increment(ec))
        ++n;
    return n;
#else
    return 0;
#endif
}

// The thread count once threads of earlier tests have finished exiting (it stops changing).
inline std::size_t settled_thread_count() {
    std::size_t base = thread_count();
    for (int i = 0; i < 200; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        const std::size_t now = thread_count();
        if (now == base) break;
        base = now;
    }
    return base;
}

}  // namespace weft_test

// Every test that can block opens with this line.
// (__VA_OPT__ is standard C++20: `, ##__VA_ARGS__` breaks under -std=c++20 and -Wpedantic; the
// guard's name carries the line so a nested watchdog, e.g. in a SUBCASE, does not trip -Wshadow.)
#define WEFT_WATCHDOG(...)                                                \
    ::weft_test::watchdog WEFT_TEST_CAT_(weft_watchdog_guard_, __LINE__)( \
        __FILE__ ":" WEFT_TEST_STR_(__LINE__) __VA_OPT__(, ) __VA_ARGS__)

// A loop that takes as long as the machine lets it: the watchdog fires when PROGRESS (a
// std::atomic<std::uint64_t> the loop advances) stands still for the limit (default 20 s).
#define WEFT_WATCHDOG_PROGRESS(progress, ...)                             \
    ::weft_test::watchdog WEFT_TEST_CAT_(weft_watchdog_guard_, __LINE__)( \
        __FILE__ ":" WEFT_TEST_STR_(__LINE__), progress __VA_OPT__(, ) __VA_ARGS__)
#define WEFT_TEST_STR_(x) WEFT_TEST_STR2_(x)
#define WEFT_TEST_STR2_(x) #x
#define WEFT_TEST_CAT_(a, b) WEFT_TEST_CAT2_(a, b)
#define WEFT_TEST_CAT2_(a, b) a##b
