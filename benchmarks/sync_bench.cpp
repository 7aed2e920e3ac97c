// benchmarks/sync_bench.cpp - locks beside atomics and a channel owner: the numbers of the Cost
// sections of docs/patterns/mutex.md and docs/patterns/confinement.md.
//
//   Sync/Mutex/threads:T              std::mutex: lock, increment a shared counter, unlock
//   Sync/SharedMutexRead/threads:T    std::shared_mutex: shared lock, read a shared value, unlock
//   Sync/SharedMutexMixed/threads:T   the same mutex, ops 0, 10, 20... of each thread an
//                                     exclusive increment, the other 90% shared reads
//   Sync/Atomic/threads:T             std::atomic<std::int64_t>::fetch_add(1) (seq_cst)
//   Confinement/OwnerQuery/clients:C  C clients query an owner thread that alone holds a
//                                     std::map, as in examples/patterns/confinement.cpp: a query
//                                     goes on one weft::channel (capacity 8) and carries a fresh
//                                     rendezvous reply channel; one op = one round trip
//   Confinement/ByIndex/workers:W     rounds of 65,536 results: W workers (wait_group::go) fill
//                                     a vector sized before they start, each a contiguous share
//                                     of the indexes; the caller reads it after wait(); one op =
//                                     one result, the round's allocation, threads and read-out
//                                     included
//   Confinement/MutexPush/workers:W   the same rounds, the results appended with push_back under
//                                     one std::mutex (no reserve: the count is "unknown")
//
// Go-style, as in channel_bench.cpp: a run of N iterations starts its threads, does N ops in
// total (split evenly between the threads), and joins them (state.KeepRunningBatch(N);
// ByIndex and MutexPush start and join their W workers once per round), so real_time is wall
// time per op over all threads together, the way Go's RunParallel counts.
// The threads of a Sync row wait on a latch so that they start contending together. Every run
// checks its result (counter, sum of reads, replies, items) and marks a wrong one with an error.
// The Go twin is benchmarks/go/sync_test.go (sync.Mutex, sync.RWMutex, atomic.AddInt64,
// goroutines and channels), with the same names. T = 4 and W = 4 oversubscribe a 2-core machine.
//
// Build by hand and run (medians of 5):
//   g++ -O2 -std=c++20 -Iinclude benchmarks/sync_bench.cpp -o sync_bench
//       -lbenchmark -lbenchmark_main -lpthread
//   ./sync_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <weft/channel.hpp>
#include <weft/wait_group.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <latch>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

// How many of n ops thread i of k does (the first n % k do one more).
std::int64_t share(std::int64_t n, std::int64_t k, std::int64_t i) {
    return n / k + (i < n % k ? 1 : 0);
}

// Where thread i's share starts.
std::int64_t first(std::int64_t n, std::int64_t k, std::int64_t i) {
    return i * (n / k) + (i < n % k ? i : n % k);
}

// Runs body(i, share) on k threads released together by a latch, and joins them.
template <class Body>
void on_threads(std::int64_t n, std::int64_t k, Body body) {
    std::latch start(static_cast<std::ptrdiff_t>(k));
    std::vector<std::thread> threads;
    for (std::int64_t i = 0; i < k; ++i)
        threads.emplace_back([&start, &body, n, k, i] {
            start.arrive_and_wait();
            body(i, share(n, k, i));
        });
    for (auto& t : threads) t.join();
}

// The Go-style driver: one run does all max_iterations ops; run(n) says whether it was right.
template <class Run>
void drive(benchmark::State& st, Run run) {
    const auto n = st.max_iterations;
    bool ok = true;
    while (st.KeepRunningBatch(n)) ok = run(static_cast<std::int64_t>(n)) && ok;
    st.SetItemsProcessed(st.iterations());
    if (!ok) st.SkipWithError("wrong result");
}

std::int64_t arg(const benchmark::State& st) { return st.range(0); }

void mutex_row(benchmark::State& st) {
    drive(st, [k = arg(st)](std::int64_t n) {
        std::mutex m;
        std::int64_t counter = 0;  // guarded by m
        on_threads(n, k, [&](std::int64_t, std::int64_t ops) {
            for (std::int64_t j = 0; j < ops; ++j) {
                std::lock_guard lock(m);
                ++counter;
            }
        });
        return counter == n;
    });
}

void shared_read_row(benchmark::State& st) {
    drive(st, [k = arg(st)](std::int64_t n) {
        std::shared_mutex m;
        const std::int64_t value = 1;  // guarded by m (never written: reads only)
        std::atomic<std::int64_t> total{0};
        on_threads(n, k, [&](std::int64_t, std::int64_t ops) {
            std::int64_t sum = 0;
            for (std::int64_t j = 0; j < ops; ++j) {
                std::shared_lock lock(m);
                sum += value;
                benchmark::DoNotOptimize(sum);
            }
            total.fetch_add(sum);
        });
        return total.load() == n;
    });
}

void shared_mixed_row(benchmark::State& st) {
    drive(st, [k = arg(st)](std::int64_t n) {
        std::shared_mutex m;
        std::int64_t counter = 0;  // guarded by m
        std::atomic<std::int64_t> writes{0};
        on_threads(n, k, [&](std::int64_t, std::int64_t ops) {
            std::int64_t mine = 0, seen = 0;
            for (std::int64_t j = 0; j < ops; ++j) {
                if (j % 10 == 0) {
                    std::lock_guard lock(m);
                    ++counter;
                    ++mine;
                } else {
                    std::shared_lock lock(m);
                    seen = counter;
                    benchmark::DoNotOptimize(seen);
                }
            }
            writes.fetch_add(mine);
        });
        return counter == writes.load();
    });
}

void atomic_row(benchmark::State& st) {
    drive(st, [k = arg(st)](std::int64_t n) {
        std::atomic<std::int64_t> counter{0};
        on_threads(n, k, [&](std::int64_t, std::int64_t ops) {
            for (std::int64_t j = 0; j < ops; ++j) counter.fetch_add(1);
        });
        return counter.load() == n;
    });
}

// The owner of examples/patterns/confinement.cpp reduced to its queries.
struct query {
    int item;
    weft::sender<int> reply;
};

void inventory_owner(weft::receiver<query> requests) {
    std::map<int, int> stock = {{0, 0}, {1, 10}, {2, 20}, {3, 30}};  // confined to this thread
    for (query& q : requests) q.reply.send(stock[q.item]);
}

void owner_query_row(benchmark::State& st) {
    drive(st, [k = arg(st)](std::int64_t n) {
        weft::channel<query> requests(8);
        weft::wait_group owner;
        owner.go([requests] { inventory_owner(requests); });
        std::atomic<std::int64_t> right{0};
        weft::wait_group clients;
        for (std::int64_t i = 0; i < k; ++i) {
            clients.go([&right, requests, ops = share(n, k, i)]() mutable {
                std::int64_t mine = 0;
                for (std::int64_t j = 0; j < ops; ++j) {
                    const int item = static_cast<int>(j % 4);
                    weft::channel<int> reply(0);  // one per query, as in the example
                    requests.send(query{item, reply});
                    if (auto v = reply.receive(); v && *v == item * 10) ++mine;
                }
                right.fetch_add(mine);
            });
        }
        clients.wait();
        requests.close();
        owner.wait();
        return right.load() == n;
    });
}

std::uint32_t result_of(std::int64_t i) { return static_cast<std::uint32_t>(i) * 2654435761u; }

// What the caller of a round reads: how many results, and a checksum of them (weighted by
// position for by_index, so that a result in the wrong slot shows).
struct readout {
    std::size_t count;
    std::uint64_t checksum;
    bool operator==(const readout&) const = default;
};

readout expected(std::int64_t m, bool weighted) {
    std::uint64_t sum = 0;
    for (std::int64_t j = 0; j < m; ++j)
        sum += (weighted ? static_cast<std::uint64_t>(j) + 1 : 1) * result_of(j);
    return {static_cast<std::size_t>(m), sum};
}

// One round of the pattern: m results made by k workers, read by the caller after wait().
readout by_index_round(std::int64_t m, std::int64_t k) {
    std::vector<std::uint32_t> results(static_cast<std::size_t>(m));  // sized before any worker
    weft::wait_group wg;
    for (std::int64_t i = 0; i < k; ++i) {
        wg.go([&results, from = first(m, k, i), to = first(m, k, i) + share(m, k, i)] {
            for (std::int64_t j = from; j < to; ++j)
                results[static_cast<std::size_t>(j)] = result_of(j);
        });
    }
    wg.wait();
    std::uint64_t sum = 0;
    for (std::size_t j = 0; j < results.size(); ++j) sum += (j + 1) * results[j];
    return {results.size(), sum};
}

readout mutex_push_round(std::int64_t m, std::int64_t k) {
    std::vector<std::uint32_t> results;  // guarded by mutex
    std::mutex mutex;
    weft::wait_group wg;
    for (std::int64_t i = 0; i < k; ++i) {
        wg.go([&results, &mutex, from = first(m, k, i), to = first(m, k, i) + share(m, k, i)] {
            for (std::int64_t j = from; j < to; ++j) {
                std::lock_guard lock(mutex);
                results.push_back(result_of(j));
            }
        });
    }
    wg.wait();
    std::uint64_t sum = 0;
    for (std::uint32_t r : results) sum += r;
    return {results.size(), sum};
}

// A run of n items is cut into rounds of round_items (the last one shorter), each with its
// own vector and workers: memory stays bounded, and a round's allocation, thread start, join
// and read-out are spread over its items.
constexpr std::int64_t round_items = 1 << 16;

void in_rounds(benchmark::State& st, readout (*round)(std::int64_t, std::int64_t), bool weighted) {
    const std::int64_t k = arg(st);
    const auto n = static_cast<std::int64_t>(st.max_iterations);
    const readout want_full = expected(round_items, weighted);
    const readout want_last = expected(n % round_items, weighted);
    drive(st, [&](std::int64_t items) {
        bool ok = true;
        for (std::int64_t done = 0; done < items; done += round_items) {
            const std::int64_t m = std::min(round_items, items - done);
            ok = round(m, k) == (m == round_items ? want_full : want_last) && ok;
        }
        return ok;
    });
}

void by_index_row(benchmark::State& st) { in_rounds(st, by_index_round, true); }
void mutex_push_row(benchmark::State& st) { in_rounds(st, mutex_push_round, false); }

void add(const std::string& name, void (*fn)(benchmark::State&), const char* arg_name,
         std::vector<std::int64_t> args) {
    auto* b = benchmark::RegisterBenchmark(name.c_str(), fn);
    b->ArgName(arg_name);
    for (std::int64_t a : args) b->Arg(a);
    b->UseRealTime()->Unit(benchmark::kNanosecond);
}

[[maybe_unused]] const bool registered = [] {
    add("Sync/Mutex", mutex_row, "threads", {1, 2, 4});
    add("Sync/SharedMutexRead", shared_read_row, "threads", {1, 2, 4});
    add("Sync/SharedMutexMixed", shared_mixed_row, "threads", {2, 4});
    add("Sync/Atomic", atomic_row, "threads", {1, 2, 4});
    add("Confinement/OwnerQuery", owner_query_row, "clients", {1, 2});
    add("Confinement/ByIndex", by_index_row, "workers", {1, 2, 4});
    add("Confinement/MutexPush", mutex_push_row, "workers", {1, 2, 4});
    return true;
}();

}  // namespace
