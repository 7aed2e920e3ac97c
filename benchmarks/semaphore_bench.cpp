// benchmarks/semaphore_bench.cpp - weft::semaphore against Go's golang.org/x/sync/semaphore (the
// twins in benchmarks/go/semaphore, same row names) and C++20's std::counting_semaphore.
//
// Rows, "Semaphore/<workload>/<impl>", ns per acquire+release pair (real time):
//   uncontended              one thread: acquire(background(), 1), release(1)
//   uncontended_cancellable  the same with a context that can be canceled (never is): the
//                            acquire then reads ctx.err() on the way in
//   uncontended_try          one thread: try_acquire(1), release(1)
//   contended_size1/threads:T   T threads share a semaphore of 1 token: every other acquire
//                               waits, so this is the blocked path (a channel per waiter, a
//                               wake-up, and the spinning or sleeping of the thread handed to)
//   contended_size1_cancellable/threads:T   the same with a cancellable context (never
//                               canceled): background()'s done() is nil, so the rows above wait
//                               on the ready channel alone; these select on it and on done()
//   contended_sizeN/threads:T   T threads, a semaphore of T tokens: nobody ever waits for a
//                               token, so this is the cost of contention on the mutex alone
// The size-1 rows run a fixed 100,000 pairs per repetition: their cost per pair swings between
// tens of nanoseconds (the threads rarely meet) and microseconds (every acquire waits for a
// hand-off), and an iteration count estimated in one regime can take minutes in the other.
// Go-style driver: a run of N iterations starts T threads, splits the N pairs among them, and
// joins them (KeepRunningBatch(N)); the time per pair is wall time / N, as Go's b.N loops over
// goroutines measure it. Impl "std" is C++20's std::counting_semaphore: weight 1 only, no
// context, no FIFO; a lock-free counter with a futex behind it. libstdc++ 12's release() makes a
// futex wake system call whenever the count was 0, waiter or not (it keeps no waiter count;
// strace shows one per release on a semaphore of 1), which is most of its cost on the size-1
// rows.
//
// Run (medians of 5):
//   build/benchmarks/semaphore_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
//   cd benchmarks/go/semaphore && GOPROXY=off GOFLAGS=-mod=mod GOMAXPROCS=2 go test -run '^$'
//       -bench . -count=5
// Build by hand: g++ -O2 -std=c++20 -Iinclude benchmarks/semaphore_bench.cpp -o semaphore_bench
//   -lbenchmark -lpthread

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

#include <weft/context.hpp>
#include <weft/semaphore.hpp>

namespace {

// How many of n units worker i of k handles (the first n % k get one more).
std::int64_t share(std::int64_t n, std::int64_t k, std::int64_t i) {
    return n / k + (i < n % k ? 1 : 0);
}

// Runs op(pairs) on `threads` threads (on this one if threads == 1), the run's N pairs split
// among them.
template <class Op>
void drive(benchmark::State& st, int threads, Op op) {
    const auto n = static_cast<std::int64_t>(st.max_iterations);
    while (st.KeepRunningBatch(st.max_iterations)) {
        if (threads == 1) {
            op(n);
            continue;
        }
        std::vector<std::thread> ts;
        for (int t = 0; t < threads; ++t)
            ts.emplace_back([&op, k = share(n, threads, t)] { op(k); });
        for (auto& t : ts) t.join();
    }
    st.SetItemsProcessed(st.iterations());
}

// The semaphore must end as it began: every token free.
void check_all_free(benchmark::State& st, weft::semaphore& sem) {
    if (!sem.try_acquire(sem.capacity())) st.SkipWithError("tokens leaked");
}

void weft_pairs(benchmark::State& st, std::int64_t size, int threads, const weft::context& ctx) {
    weft::semaphore sem(size);
    std::atomic<bool> ok{true};
    drive(st, threads, [&](std::int64_t pairs) {
        for (std::int64_t i = 0; i < pairs; ++i) {
            if (sem.acquire(ctx, 1)) {
                ok.store(false);  // cannot happen: ctx is never canceled
                return;
            }
            sem.release(1);
        }
    });
    if (!ok.load()) st.SkipWithError("acquire failed");
    check_all_free(st, sem);
}

void BM_weft_uncontended(benchmark::State& st) { weft_pairs(st, 1, 1, weft::background()); }

void BM_weft_uncontended_cancellable(benchmark::State& st) {
    auto c = weft::with_cancel(weft::background());
    weft_pairs(st, 1, 1, c.ctx);
}

void BM_weft_uncontended_try(benchmark::State& st) {
    weft::semaphore sem(1);
    bool ok = true;
    drive(st, 1, [&](std::int64_t pairs) {
        for (std::int64_t i = 0; i < pairs; ++i) {
            ok = sem.try_acquire(1) && ok;
            sem.release(1);
        }
    });
    if (!ok) st.SkipWithError("try_acquire failed");
    check_all_free(st, sem);
}

void BM_weft_contended(benchmark::State& st, bool size_one, int threads) {
    weft_pairs(st, size_one ? 1 : threads, threads, weft::background());
}

void BM_weft_contended_cancellable(benchmark::State& st, int threads) {
    auto c = weft::with_cancel(weft::background());
    weft_pairs(st, 1, threads, c.ctx);
}

void BM_std_pairs(benchmark::State& st, std::ptrdiff_t size, int threads) {
    std::counting_semaphore<> sem(size);
    drive(st, threads, [&](std::int64_t pairs) {
        for (std::int64_t i = 0; i < pairs; ++i) {
            sem.acquire();
            sem.release();
        }
    });
}

void BM_std_uncontended(benchmark::State& st) { BM_std_pairs(st, 1, 1); }

void BM_std_uncontended_try(benchmark::State& st) {
    std::counting_semaphore<> sem(1);
    bool ok = true;
    drive(st, 1, [&](std::int64_t pairs) {
        for (std::int64_t i = 0; i < pairs; ++i) {
            ok = sem.try_acquire() && ok;
            sem.release();
        }
    });
    if (!ok) st.SkipWithError("try_acquire failed");
}

void BM_std_contended(benchmark::State& st, bool size_one, int threads) {
    BM_std_pairs(st, size_one ? 1 : threads, threads);
}

// "Semaphore/contended_size1/threads:2/weft": the thread count belongs to the workload, the
// implementation comes last, as in channel_bench.cpp.
void register_all() {
    constexpr benchmark::IterationCount size1_pairs = 100'000;
    benchmark::RegisterBenchmark("Semaphore/uncontended/weft", BM_weft_uncontended)->UseRealTime();
    benchmark::RegisterBenchmark("Semaphore/uncontended/std", BM_std_uncontended)->UseRealTime();
    benchmark::RegisterBenchmark("Semaphore/uncontended_cancellable/weft",
                                 BM_weft_uncontended_cancellable)
        ->UseRealTime();
    benchmark::RegisterBenchmark("Semaphore/uncontended_try/weft", BM_weft_uncontended_try)
        ->UseRealTime();
    benchmark::RegisterBenchmark("Semaphore/uncontended_try/std", BM_std_uncontended_try)
        ->UseRealTime();
    for (const bool size_one : {true, false}) {
        for (const int threads : {2, 4, 8}) {
            const std::string n = std::to_string(threads);
            const std::string row = std::string("Semaphore/contended_") +
                                    (size_one ? "size1" : "sizeN") + "/threads:" + n;
            auto weft_row = [size_one, threads](benchmark::State& st) {
                BM_weft_contended(st, size_one, threads);
            };
            auto std_row = [size_one, threads](benchmark::State& st) {
                BM_std_contended(st, size_one, threads);
            };
            std::vector<benchmark::internal::Benchmark*> rows = {
                benchmark::RegisterBenchmark((row + "/weft").c_str(), weft_row),
                benchmark::RegisterBenchmark((row + "/std").c_str(), std_row)};
            if (size_one) {
                auto cancellable = [threads](benchmark::State& st) {
                    BM_weft_contended_cancellable(st, threads);
                };
                rows.push_back(benchmark::RegisterBenchmark(
                    ("Semaphore/contended_size1_cancellable/threads:" + n + "/weft").c_str(),
                    cancellable));
            }
            for (auto* b : rows) {
                b->UseRealTime();
                if (size_one) b->Iterations(size1_pairs);
            }
        }
    }
}

[[maybe_unused]] const int registered = (register_all(), 0);

}  // namespace
