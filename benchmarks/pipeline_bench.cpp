// benchmarks/pipeline_bench.cpp - a 3-stage pipeline, weft::pipeline against oneTBB's
// parallel_pipeline (and a plain loop) on the same work:
//
//   parse      serial: the next decimal string (from a pool of 4096) -> std::int64_t
//   transform  parallel, output in input order: `work` rounds of a 64-bit mixer (~1 ns each
//              on the reference machine: work=300 is a few hundred ns per item)
//   aggregate  serial: h = h * 31 + x, which depends on the order, so it checks it
//
//   weft   source(generator that parses) | map(transform, workers, ordered).window(tokens)
//          | sink(aggregate), channels of `tokens` values; every stage its own thread(s)
//          (workers + 2 threads in all)
//   tbb    parallel_pipeline(tokens, serial_in_order & parallel & serial_in_order) on oneTBB's
//          default arena (one worker per core)                     (WEFT_BENCH_HAVE_TBB)
//   loop   the three steps in one loop on one thread: the floor without any parallelism
//
// Also "Batch/weft/size:<n>": source -> batch(n, 1ms) -> sink, ns per value (size:0 is the
// same pipeline without the batch stage); its Go twin is BenchmarkBatch.
//
// Names: "Pipeline3/<impl>/work:<rounds>[/workers:<n>/ordered:<0|1>/capacity:<c>]" (unordered:
// the aggregate is a plain sum, as order no longer matters; capacity 0: `tokens`). Counter
// cpu_ns_per_item: CPU time of all the process's threads per item (getrusage), i.e. how many cores'
// worth the run used. Go-style, as in channel_bench.cpp: a run of N iterations pushes N items
// through one pipeline (state.KeepRunningBatch(N)), so real_time is ns per item and
// items_per_second is the throughput; pipeline start-up is amortised as in the Go twin
// (benchmarks/go/pipeline_test.go, BenchmarkPipeline3). A result different from the loop's marks
// the run with an error.
//
// Build by hand:
//   g++ -O2 -std=c++20 -Iinclude -DWEFT_BENCH_HAVE_TBB benchmarks/pipeline_bench.cpp
//       -o pipeline_bench -lbenchmark -lbenchmark_main -ltbb -lpthread
//   ./pipeline_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <weft/pipeline.hpp>

#include <sys/resource.h>

#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#ifdef WEFT_BENCH_HAVE_TBB
#include <tbb/parallel_pipeline.h>
#endif

namespace {

constexpr std::size_t pool_size = 4096;
constexpr std::size_t tokens = 256;  // weft's window and channel capacity, TBB's live tokens

const std::vector<std::string>& pool() {
    static const std::vector<std::string> p = [] {
        std::vector<std::string> v;
        std::uint64_t x = 88172645463325252ULL;  // xorshift64: varied lengths and digits
        for (std::size_t i = 0; i < pool_size; ++i) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v.push_back(std::to_string(static_cast<std::int64_t>(x >> (i % 40))));
        }
        return v;
    }();
    return p;
}

std::int64_t parse(std::string_view s) {
    std::int64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
}

std::uint64_t transform(std::int64_t x, int rounds) {
    auto h = static_cast<std::uint64_t>(x);
    for (int i = 0; i < rounds; ++i) {
        h ^= h >> 31;
        h *= 0x9e3779b97f4a7c15ULL;
    }
    return h;
}

std::uint64_t aggregate(std::uint64_t acc, std::uint64_t x) { return acc * 31 + x; }

std::uint64_t run_loop(std::size_t n, int rounds) {
    const auto& p = pool();
    std::uint64_t acc = 0;
    for (std::size_t i = 0; i < n; ++i)
        acc = aggregate(acc, transform(parse(p[i % pool_size]), rounds));
    return acc;
}

std::uint64_t run_weft(std::size_t n, int rounds, std::size_t workers, weft::ordering order,
                       std::size_t capacity) {
    const auto& p = pool();
    std::uint64_t acc = 0;
    auto pl =
        weft::pipeline(weft::background(), {.capacity = capacity}) |
        weft::stage::source([&, i = std::size_t{0}]() mutable {
            std::optional<std::int64_t> v;
            if (i < n) v = parse(p[i++ % pool_size]);
            return v;
        }) |
        weft::stage::map([rounds](std::int64_t x) { return transform(x, rounds); }, workers, order)
            .window(tokens) |
        weft::stage::sink([&](std::uint64_t x) {
            // Unordered: the sum (order-free) stands in for the order-sensitive aggregate.
            acc = order == weft::stage::ordered ? aggregate(acc, x) : acc + x;
        });
    auto r = pl.run();
    return r.ok() ? acc : ~acc;
}

#ifdef WEFT_BENCH_HAVE_TBB
std::uint64_t run_tbb(std::size_t n, int rounds) {
    const auto& p = pool();
    std::uint64_t acc = 0;
    std::size_t i = 0;
    tbb::parallel_pipeline(
        tokens, tbb::make_filter<void, std::int64_t>(tbb::filter_mode::serial_in_order,
                                                     [&](tbb::flow_control& fc) -> std::int64_t {
                                                         if (i == n) {
                                                             fc.stop();
                                                             return 0;
                                                         }
                                                         return parse(p[i++ % pool_size]);
                                                     }) &
                    tbb::make_filter<std::int64_t, std::uint64_t>(
                        tbb::filter_mode::parallel,
                        [rounds](std::int64_t x) { return transform(x, rounds); }) &
                    tbb::make_filter<std::uint64_t, void>(
                        tbb::filter_mode::serial_in_order,
                        [&](std::uint64_t x) { acc = aggregate(acc, x); }));
    return acc;
}
#endif

std::uint64_t run_loop_sum(std::size_t n, int rounds) {
    const auto& p = pool();
    std::uint64_t acc = 0;
    for (std::size_t i = 0; i < n; ++i) acc += transform(parse(p[i % pool_size]), rounds);
    return acc;
}

// CPU time of the whole process (every thread), in ns: what a pipeline costs in cores, which a
// loaded machine distorts less than wall time.
double process_cpu_ns() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    auto ns = [](const timeval& t) { return double(t.tv_sec) * 1e9 + double(t.tv_usec) * 1e3; };
    return ns(u.ru_utime) + ns(u.ru_stime);
}

template <class Run>
void bench(benchmark::State& st, Run run, bool ordered = true) {
    const int rounds = static_cast<int>(st.range(0));
    const auto n = static_cast<std::size_t>(st.max_iterations);
    const std::uint64_t want = ordered ? run_loop(n, rounds) : run_loop_sum(n, rounds);
    bool ok = true;
    const double cpu0 = process_cpu_ns();
    while (st.KeepRunningBatch(st.max_iterations)) ok = run(n, rounds) == want && ok;
    st.counters["cpu_ns_per_item"] = (process_cpu_ns() - cpu0) / double(st.iterations());
    if (!ok) st.SkipWithError("wrong result (lost, duplicated or reordered items)");
    st.SetItemsProcessed(st.iterations());
}

void BM_loop(benchmark::State& st) {
    const int rounds = static_cast<int>(st.range(0));
    std::uint64_t sink = 0;
    const double cpu0 = process_cpu_ns();
    while (st.KeepRunningBatch(st.max_iterations))
        sink += run_loop(static_cast<std::size_t>(st.max_iterations), rounds);
    st.counters["cpu_ns_per_item"] = (process_cpu_ns() - cpu0) / double(st.iterations());
    benchmark::DoNotOptimize(sink);
    st.SetItemsProcessed(st.iterations());
}

void BM_weft(benchmark::State& st) {
    const auto workers = static_cast<std::size_t>(st.range(1));
    const auto order = st.range(2) ? weft::stage::ordered : weft::stage::unordered;
    const auto capacity = st.range(3) ? static_cast<std::size_t>(st.range(3)) : tokens;
    bench(
        st,
        [=](std::size_t n, int rounds) { return run_weft(n, rounds, workers, order, capacity); },
        order == weft::stage::ordered);
}

#ifdef WEFT_BENCH_HAVE_TBB
void BM_tbb(benchmark::State& st) { bench(st, run_tbb); }
#endif

// Batch/weft/size:<n>: source -> batch(n, 1ms) -> sink of the batches, i.e. what the batch
// stage costs per value (size 0: source -> sink directly, the same pipeline without it).
void BM_batch(benchmark::State& st) {
    const auto size = static_cast<std::size_t>(st.range(0));
    const auto n = static_cast<std::size_t>(st.max_iterations);
    bool ok = true;
    const double cpu0 = process_cpu_ns();
    while (st.KeepRunningBatch(st.max_iterations)) {
        std::size_t got = 0;
        auto src = weft::pipeline() | weft::stage::source([i = std::size_t{0}, n]() mutable {
                       std::optional<std::uint64_t> v;
                       if (i < n) v = i++;
                       return v;
                   });
        weft::pipeline_result r;
        if (size == 0) {
            auto pl = std::move(src) | weft::stage::sink([&](std::uint64_t) { ++got; });
            r = pl.run();
        } else {
            auto pl = std::move(src) | weft::stage::batch(size, std::chrono::milliseconds(1)) |
                      weft::stage::sink([&](std::vector<std::uint64_t> b) { got += b.size(); });
            r = pl.run();
        }
        ok = ok && r.ok() && got == n;
    }
    st.counters["cpu_ns_per_item"] = (process_cpu_ns() - cpu0) / double(st.iterations());
    if (!ok) st.SkipWithError("lost or duplicated items");
    st.SetItemsProcessed(st.iterations());
}

}  // namespace

BENCHMARK(BM_loop)->Name("Pipeline3/loop")->ArgName("work")->Arg(0)->Arg(300)->UseRealTime();
BENCHMARK(BM_weft)
    ->Name("Pipeline3/weft")
    ->ArgNames({"work", "workers", "ordered", "capacity"})
    ->Args({0, 1, 1, 0})
    ->Args({0, 2, 1, 0})
    ->Args({0, 2, 0, 0})
    ->Args({300, 1, 1, 0})
    ->Args({300, 2, 1, 0})
    ->Args({300, 2, 0, 0})
    ->Args({0, 1, 1, 16})  // what the channels' capacity does (0 above: `tokens`)
    ->Args({0, 1, 1, 64})
    ->Args({0, 1, 1, 1024})
    ->UseRealTime();
BENCHMARK(BM_batch)->Name("Batch/weft")->ArgName("size")->Arg(0)->Arg(100)->UseRealTime();
#ifdef WEFT_BENCH_HAVE_TBB
BENCHMARK(BM_tbb)->Name("Pipeline3/tbb")->ArgName("work")->Arg(0)->Arg(300)->UseRealTime();
#endif
