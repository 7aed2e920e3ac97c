// benchmarks/rate_bench.cpp - the cost of weft::rate_limiter, beside x/time/rate's benchmarks.
//
//   Rate/AllowN/threads:T         Go's BenchmarkAllowN: allow_n(fixed now, 1) on a limiter of
//                                 one event per second and burst 1, so every call after the
//                                 first is denied; T threads share it (Go: GOMAXPROCS = 2
//                                 goroutines, the row threads:2)
//   Rate/Allow/threads:T          allow() (reads the clock each call), same limiter: denied
//   Rate/AllowGranted/threads:T   allow() on a limiter that grants every call (1e12/s, burst 1e6),
//                                 so each call also writes the bucket
//   Rate/WaitNoDelay              Go's BenchmarkWaitNNoDelay: wait(background) with a token
//                                 always there, one thread
//   Rate/PermitReady              permit() + a one-case select that fires at once: the price of
//                                 the select form when a token is there (a timer and its channel
//                                 per permit), one thread
//
// One iteration is one call (one permit+select); all rows use real (wall) time. Threaded rows
// are Go's RunParallel: the threads take calls from a shared counter, and the time is the wall
// time of the whole run divided by the calls of all threads together - ns per call of the
// limiter as a whole, not of one thread. Go's twins: benchmarks/go/rate (needs Debian's
// golang-golang-x-time-dev; see the go.mod there).
//
// Build by hand: g++ -O2 -std=c++20 -Iinclude benchmarks/rate_bench.cpp -o rate_bench
// -lbenchmark -lbenchmark_main -lpthread

#include <benchmark/benchmark.h>

#include <weft/context.hpp>
#include <weft/rate.hpp>
#include <weft/select.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <thread>
#include <vector>

namespace {

using clk = std::chrono::steady_clock;

// Go's testing.B.RunParallel: `procs` threads take calls from a shared counter in grains.
template <class Body>
void run_parallel(std::int64_t n, int procs, Body body) {
    std::atomic<std::int64_t> next{0};
    const std::int64_t grain = std::clamp<std::int64_t>(n / (procs * 100), 1, 10000);
    std::vector<std::thread> threads;
    for (int p = 0; p < procs; ++p) {
        threads.emplace_back([&] {
            for (;;) {
                const std::int64_t start = next.fetch_add(grain, std::memory_order_relaxed);
                if (start >= n) break;
                body(std::min(grain, n - start));
            }
        });
    }
    for (auto& t : threads) t.join();
}

// The Go-style driver: one run performs all max_iterations calls.
template <class Run>
void drive(benchmark::State& st, Run run) {
    const auto n = static_cast<std::int64_t>(st.max_iterations);
    while (st.KeepRunningBatch(st.max_iterations)) run(n);
    st.SetItemsProcessed(st.iterations());
}

void rate_allow_n(benchmark::State& st) {
    const int procs = static_cast<int>(st.range(0));
    weft::rate_limiter lim(weft::rate_limiter::every(std::chrono::seconds(1)), 1);
    const auto now = clk::now();
    std::atomic<std::int64_t> granted{0};
    drive(st, [&](std::int64_t n) {
        run_parallel(n, procs, [&](std::int64_t k) {
            std::int64_t g = 0;
            for (std::int64_t i = 0; i < k; ++i) g += lim.allow_n(now, 1) ? 1 : 0;
            granted.fetch_add(g, std::memory_order_relaxed);
        });
    });
    st.counters["granted"] = static_cast<double>(granted.load());
}

void rate_allow(benchmark::State& st, double limit, int burst) {
    const int procs = static_cast<int>(st.range(0));
    weft::rate_limiter lim(limit, burst);
    std::atomic<std::int64_t> granted{0};
    drive(st, [&](std::int64_t n) {
        run_parallel(n, procs, [&](std::int64_t k) {
            std::int64_t g = 0;
            for (std::int64_t i = 0; i < k; ++i) g += lim.allow() ? 1 : 0;
            granted.fetch_add(g, std::memory_order_relaxed);
        });
    });
    st.counters["granted_pct"] =
        100.0 * static_cast<double>(granted.load()) / static_cast<double>(st.iterations());
}

void rate_wait_no_delay(benchmark::State& st) {
    const auto n = static_cast<std::int64_t>(st.max_iterations);
    // Go: NewLimiter(Limit(b.N), b.N): as many tokens as calls, so none waits.
    weft::rate_limiter lim(static_cast<double>(n), static_cast<int>(std::min<std::int64_t>(
                                                       n, std::numeric_limits<int>::max())));
    const weft::context ctx = weft::background();
    std::int64_t failed = 0;
    while (st.KeepRunningBatch(st.max_iterations)) {
        for (std::int64_t i = 0; i < n; ++i) failed += lim.wait(ctx) ? 1 : 0;
    }
    st.SetItemsProcessed(st.iterations());
    if (failed != 0) st.SkipWithError("a wait failed");
}

void rate_permit_ready(benchmark::State& st) {
    weft::rate_limiter lim(1e12, 1000000);
    std::int64_t fired = 0;
    for (auto _ : st) {
        auto p = lim.permit();
        weft::select(weft::on_receive(p.chan(), [&] { ++fired; }));
    }
    st.SetItemsProcessed(st.iterations());
    if (fired != static_cast<std::int64_t>(st.iterations())) st.SkipWithError("a permit lost");
}

void threads_arg(benchmark::internal::Benchmark* b) {
    for (int t : {1, 2, 4, 8}) b->Arg(t);
    b->ArgName("threads")->UseRealTime();
}

}  // namespace

BENCHMARK(rate_allow_n)->Name("Rate/AllowN")->Apply(threads_arg);
BENCHMARK_CAPTURE(rate_allow, denied, weft::rate_limiter::every(std::chrono::seconds(1)), 1)
    ->Name("Rate/Allow")
    ->Apply(threads_arg);
BENCHMARK_CAPTURE(rate_allow, granted, 1e12, 1000000)
    ->Name("Rate/AllowGranted")
    ->Apply(threads_arg);
BENCHMARK(rate_wait_no_delay)->Name("Rate/WaitNoDelay")->UseRealTime();
BENCHMARK(rate_permit_ready)->Name("Rate/PermitReady")->UseRealTime();
