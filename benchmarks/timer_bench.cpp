// benchmarks/timer_bench.cpp - the timer service at scale: what one more pending timer costs
// when many are already pending.
//
//   Timer/Pending/{1000,10000,100000}  create N weft::timer(1h + i ms) (each one timer-service
//                                      entry, none fires), then stop them all. The time is
//                                      that of the N creations only (manual timing), reported
//                                      per timer: with an O(log n) heap it barely grows with
//                                      N. (When schedule() copied the whole heap per timer,
//                                      20,000 pending timers took 3.6 s and this row at
//                                      100,000 did not finish.)
//   Timer/StopPending/{1000,100000}    the N stops of the same round, per timer.
//   Timer/AfterFire                    after(0ns)-like churn: timer(1us) created and its value
//                                      received, one at a time (schedule, fire, deliver).
//
// Build by hand: g++ -O2 -std=c++20 -Iinclude benchmarks/timer_bench.cpp -o timer_bench
//                -lbenchmark -lbenchmark_main -lpthread
// Run: ./timer_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

#include <benchmark/benchmark.h>

#include <weft/time.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace {

using std::chrono::steady_clock;

void create_and_stop(benchmark::State& st, bool time_creation) {
    const auto n = static_cast<std::size_t>(st.range(0));
    std::vector<weft::timer> timers;
    timers.reserve(n);
    for (auto _ : st) {
        const auto t0 = steady_clock::now();
        for (std::size_t i = 0; i < n; ++i)
            timers.emplace_back(std::chrono::hours(1) +
                                std::chrono::milliseconds(static_cast<long>(i)));
        const auto t1 = steady_clock::now();
        for (auto& t : timers) benchmark::DoNotOptimize(t.stop());
        const auto t2 = steady_clock::now();
        timers.clear();  // stopped already: destruction cancels nothing
        st.SetIterationTime(
            std::chrono::duration<double>(time_creation ? t1 - t0 : t2 - t1).count());
    }
    st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()) * static_cast<std::int64_t>(n));
    if (weft::detail::timer_service::instance().pending() != 0) st.SkipWithError("timers left");
}

void Pending(benchmark::State& st) { create_and_stop(st, true); }
void StopPending(benchmark::State& st) { create_and_stop(st, false); }

void AfterFire(benchmark::State& st) {
    for (auto _ : st) {
        weft::timer t(std::chrono::microseconds(1));
        benchmark::DoNotOptimize(t.chan().receive());
    }
}

}  // namespace

BENCHMARK(Pending)
    ->Name("Timer/Pending")
    ->Arg(1000)
    ->Arg(10000)
    ->Arg(100000)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(StopPending)
    ->Name("Timer/StopPending")
    ->Arg(1000)
    ->Arg(100000)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(AfterFire)->Name("Timer/AfterFire")->Unit(benchmark::kMicrosecond);
