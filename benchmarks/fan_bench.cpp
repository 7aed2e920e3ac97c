// benchmarks/fan_bench.cpp - fan-in: weft::merge (one thread running a dynamic select over the
// inputs) against the classic merge with a forwarding thread per input.
//
//   weft              weft::merge(inputs, {.capacity = cap}): one forwarding thread
//   thread_per_input  one std::thread per input, each ranging over its input and sending on one
//                     shared output channel; the last to finish closes it (Go's merge with a
//                     WaitGroup, with OS threads)
//
// Workloads (the consumer is the benchmark's thread; every channel is a
// weft::channel<std::uint64_t>):
//   Merge4/<impl>/cap:<n>         4 inputs, each fed by its own producer thread; inputs and
//                                 output have capacity n (0: rendezvous)
//   MergeFilled/<impl>/inputs:<k> k inputs already filled and closed (filling is not timed):
//                                 the forwarding alone; output capacity 64
// Go-style, as in channel_bench.cpp: a run of N iterations moves N items through one merge
// (state.KeepRunningBatch(N)), so real_time is ns per item and items_per_second the throughput;
// thread start-up is amortised. The Go twin is benchmarks/go/fan_test.go (a goroutine per
// input). A wrong item count or sum marks the run with an error.
//
// Build by hand:
//   g++ -O2 -std=c++20 -Iinclude benchmarks/fan_bench.cpp -o fan_bench
//       -lbenchmark -lbenchmark_main -lpthread
//   ./fan_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <weft/channel.hpp>
#include <weft/fan.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

namespace {

using item = std::uint64_t;
using inputs_t = std::vector<weft::receiver<item>>;

// How many of n items input i of k carries (the first n % k carry one more).
item share(item n, std::size_t k, std::size_t i) { return n / k + (i < n % k ? 1 : 0); }

// Input i carries 1..share(n, k, i): the sum the consumer must see.
item expected_sum(item n, std::size_t k) {
    item s = 0;
    for (std::size_t i = 0; i < k; ++i) {
        const item m = share(n, k, i);
        s += m * (m + 1) / 2;
    }
    return s;
}

bool consume(weft::receiver<item> out, item n, std::size_t k) {
    item count = 0, sum = 0;
    for (item v : out) {
        ++count;
        sum += v;
    }
    return count == n && sum == expected_sum(n, k);
}

// k inputs of capacity cap, each fed by its own producer thread.
struct producers {
    std::vector<weft::channel<item>> channels;
    std::vector<std::thread> threads;

    producers(item n, std::size_t k, std::size_t cap) {
        for (std::size_t i = 0; i < k; ++i) channels.emplace_back(cap);
        for (std::size_t i = 0; i < k; ++i) {
            threads.emplace_back([ch = channels[i], m = share(n, k, i)]() mutable {
                for (item j = 1; j <= m; ++j) (void)ch.send(j);
                ch.close();
            });
        }
    }
    producers(const producers&) = delete;
    producers& operator=(const producers&) = delete;
    ~producers() {
        for (auto& t : threads) t.join();
    }
    inputs_t receivers() const { return {channels.begin(), channels.end()}; }
};

// k inputs holding all their items, closed.
inputs_t filled(item n, std::size_t k) {
    inputs_t v;
    for (std::size_t i = 0; i < k; ++i) {
        const item m = share(n, k, i);
        weft::channel<item> ch(static_cast<std::size_t>(m));
        for (item j = 1; j <= m; ++j) (void)ch.try_send(j);
        ch.close();
        v.push_back(ch);
    }
    return v;
}

bool merge_weft(const inputs_t& in, item n, std::size_t cap) {
    auto merged = weft::merge(in, {.capacity = cap});
    return consume(merged.output(), n, in.size()) && merged.wait() == nullptr;
}

bool merge_thread_per_input(const inputs_t& in, item n, std::size_t cap) {
    weft::channel<item> out(cap);
    std::atomic<std::size_t> open{in.size()};
    std::vector<std::thread> forwarders;
    for (const auto& rx : in) {
        forwarders.emplace_back([rx = rx, out, &open]() mutable {
            for (item v : rx) (void)out.send(v);
            // acq_rel: the last forwarder closes after every other one has sent its last item.
            if (open.fetch_sub(1, std::memory_order_acq_rel) == 1) out.close();
        });
    }
    const bool ok = consume(out, n, in.size());
    for (auto& t : forwarders) t.join();
    return ok;
}

using merge_fn = bool (*)(const inputs_t&, item, std::size_t);

void finish(benchmark::State& st, bool ok) {
    if (!ok) st.SkipWithError("wrong items at the output");
    st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

template <merge_fn Merge>
void bm_merge4(benchmark::State& st) {
    const auto cap = static_cast<std::size_t>(st.range(0));
    const auto n = static_cast<item>(st.max_iterations);
    bool ok = true;
    while (st.KeepRunningBatch(st.max_iterations)) {
        producers p(n, 4, cap);
        ok = Merge(p.receivers(), n, cap) && ok;
    }
    finish(st, ok);
}

template <merge_fn Merge>
void bm_merge_filled(benchmark::State& st) {
    const auto k = static_cast<std::size_t>(st.range(0));
    const auto n = static_cast<item>(st.max_iterations);
    bool ok = true;
    while (st.KeepRunningBatch(st.max_iterations)) {
        st.PauseTiming();
        const inputs_t in = filled(n, k);
        st.ResumeTiming();
        ok = Merge(in, n, 64) && ok;
    }
    finish(st, ok);
}

}  // namespace

BENCHMARK(bm_merge4<merge_weft>)
    ->Name("Merge4/weft")
    ->ArgName("cap")
    ->Arg(0)
    ->Arg(64)
    ->UseRealTime();
BENCHMARK(bm_merge4<merge_thread_per_input>)
    ->Name("Merge4/thread_per_input")
    ->ArgName("cap")
    ->Arg(0)
    ->Arg(64)
    ->UseRealTime();
BENCHMARK(bm_merge_filled<merge_weft>)
    ->Name("MergeFilled/weft")
    ->ArgName("inputs")
    ->Arg(4)
    ->Arg(64)
    ->UseRealTime();
BENCHMARK(bm_merge_filled<merge_thread_per_input>)
    ->Name("MergeFilled/thread_per_input")
    ->ArgName("inputs")
    ->Arg(4)
    ->Arg(64)
    ->UseRealTime();
