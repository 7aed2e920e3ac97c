// benchmarks/context_bench.cpp - weft::context against Go's context package.
//
// Every row has a Go twin of the same name in benchmarks/go/context_test.go, so that
// scripts/bench-table.py can put them side by side (names are "<workload>/weft").
//
//   Context/CancelFanout/{100,1000}  N threads blocked in ctx.done().receive(); one cancel().
//                                    Time from the cancel() call to the last waiter's wake-up
//                                    (each waiter reads steady_clock after its receive returns;
//                                    an atomic max keeps the latest), divided by N: ns per
//                                    woken waiter. BENCH.md's Go number (222 ns per goroutine)
//                                    is this row at N = 1000. One iteration is one round; the
//                                    time is manual (SetIterationTime), so thread start-up and
//                                    the wait for all N to block are not counted. The N
//                                    threads are reused across rounds (Go starts fresh
//                                    goroutines: cheap there, and not timed on either side).
//   Context/WithCancel               with_cancel(parent) + cancel(), parent a long-lived
//                                    cancellable context (the child joins and leaves its list).
//   Context/CancelTree/depth={1,10,100}  Go's BenchmarkCancelTree, Root=OpenCanceler: a
//                                    cancellable root, a chain of `depth` with_cancel children
//                                    (cancel functions dropped), then the root's cancel().
//   Context/WithTimeout              with_timeout(parent, 1h) + cancel(): one timer-service
//                                    entry scheduled and canceled.
//   Context/Err                      ctx.err() on an active cancellable context.
//   Context/ErrCanceled             ctx.err() on a canceled one.
//   Context/SendRecv/cap100          plain send(v) / receive() on a cap-100 channel, one
//                                    thread: 100 sends then 100 receives; ns per send+receive.
//   Context/SendRecvCtx/cap100       the same with send(ctx, v) / receive(ctx) (Go: a select
//                                    with `case <-ctx.Done()` around each operation): the cost
//                                    of the context overload.
//
// Build by hand: g++ -O2 -std=c++20 -Iinclude benchmarks/context_bench.cpp -o context_bench
//                -lbenchmark -lpthread
// Run: ./context_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

#include <benchmark/benchmark.h>

#include <weft/channel.hpp>
#include <weft/context.hpp>
#include <weft/wait_group.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// ---------------------------------------------------------------------------------------
// Cancel fan-out

// N threads that, round after round, block on a fresh context's done() until it is canceled.
class fanout_pool {
public:
    explicit fanout_pool(int n) : n_(n) {
        threads_.reserve(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) threads_.emplace_back([this] { run(); });
    }
    fanout_pool(const fanout_pool&) = delete;
    fanout_pool& operator=(const fanout_pool&) = delete;
    ~fanout_pool() {
        stop_.store(true, std::memory_order_relaxed);
        // release: the workers that see the new generation see stop_.
        gen_.fetch_add(1, std::memory_order_release);
        gen_.notify_all();
        for (auto& t : threads_) t.join();
    }

    // One round: returns ns from the cancel() call to the last waiter's wake-up.
    std::int64_t round() {
        auto c = weft::with_cancel(weft::background());
        (void)c.ctx.done();  // make the channel now, not in N racing threads
        ctx_ = c.ctx;
        ready_.store(0, std::memory_order_relaxed);
        last_wake_.store(0, std::memory_order_relaxed);
        woken_.add(n_);
        // release: workers that see the new generation see ctx_ and the resets above.
        gen_.fetch_add(1, std::memory_order_release);
        gen_.notify_all();
        while (ready_.load(std::memory_order_acquire) < n_) std::this_thread::sleep_for(100us);
        // Every waiter has announced itself; give the last ones time to park in receive().
        std::this_thread::sleep_for(5ms);
        const std::int64_t t0 = now_ns();
        c.cancel();
        woken_.wait();
        return last_wake_.load(std::memory_order_relaxed) - t0;
    }

private:
    void run() {
        std::uint32_t seen = 0;
        for (;;) {
            gen_.wait(seen, std::memory_order_acquire);
            // acquire: pairs with the release increment in round() / the destructor.
            seen = gen_.load(std::memory_order_acquire);
            if (stop_.load(std::memory_order_relaxed)) return;
            auto done = ctx_.done();
            ready_.fetch_add(1, std::memory_order_release);
            (void)done.receive();  // closed by the cancel
            const std::int64_t t = now_ns();
            std::int64_t prev = last_wake_.load(std::memory_order_relaxed);
            while (prev < t &&
                   !last_wake_.compare_exchange_weak(prev, t, std::memory_order_relaxed)) {}
            woken_.done();  // orders the max above before round() reads it
        }
    }

    const int n_;
    weft::context ctx_;  // written by round() while every worker waits for the next generation
    std::atomic<std::uint32_t> gen_{0};
    std::atomic<bool> stop_{false};
    std::atomic<int> ready_{0};
    std::atomic<std::int64_t> last_wake_{0};
    weft::wait_group woken_;
    std::vector<std::thread> threads_;
};

void BM_cancel_fanout(benchmark::State& st, std::int64_t waiters) {
    const int n = static_cast<int>(waiters);
    fanout_pool pool(n);
    for (auto _ : st) {
        const std::int64_t ns = pool.round();
        st.SetIterationTime(static_cast<double>(ns) / 1e9 / n);  // per woken waiter
    }
    st.counters["waiters"] = n;
}

// ---------------------------------------------------------------------------------------
// Creating and canceling

void BM_with_cancel(benchmark::State& st, std::int64_t) {
    auto [parent, cancel_parent] = weft::with_cancel(weft::background());
    for (auto _ : st) {
        auto c = weft::with_cancel(parent);
        c.cancel();
    }
    if (weft::detail::context_access::links(parent) != 0) st.SkipWithError("children left");
    cancel_parent();
}

void BM_cancel_tree(benchmark::State& st, std::int64_t depth) {
    for (auto _ : st) {
        auto [root, cancel] = weft::with_cancel(weft::background());
        weft::context c = root;
        for (std::int64_t d = 0; d < depth; ++d) c = weft::with_cancel(c).ctx;
        cancel();
    }
}

void BM_with_timeout(benchmark::State& st, std::int64_t) {
    auto [parent, cancel_parent] = weft::with_cancel(weft::background());
    for (auto _ : st) {
        auto c = weft::with_timeout(parent, 1h);
        c.cancel();
    }
    if (weft::detail::timer_service::instance().pending() != 0) st.SkipWithError("timers left");
    cancel_parent();
}

void BM_err(benchmark::State& st, std::int64_t canceled) {
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    if (canceled != 0) {
        (void)ctx.done();  // a context someone waited on: err() also checks the channel
        cancel();
    }
    for (auto _ : st) benchmark::DoNotOptimize(ctx.err());
    cancel();
}

// ---------------------------------------------------------------------------------------
// The context overloads of send and receive

constexpr std::int64_t kCap = 100;

void BM_send_recv(benchmark::State& st, std::int64_t) {
    weft::channel<std::uint64_t> ch(kCap);
    std::uint64_t sum = 0;
    while (st.KeepRunningBatch(kCap)) {
        for (std::int64_t i = 0; i < kCap; ++i) (void)ch.send(static_cast<std::uint64_t>(i));
        for (std::int64_t i = 0; i < kCap; ++i) sum += *ch.receive();
    }
    benchmark::DoNotOptimize(sum);
}

void BM_send_recv_ctx(benchmark::State& st, std::int64_t) {
    weft::channel<std::uint64_t> ch(kCap);
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    std::uint64_t sum = 0;
    bool ok = true;
    while (st.KeepRunningBatch(kCap)) {
        for (std::int64_t i = 0; i < kCap; ++i)
            ok &= static_cast<bool>(ch.send(ctx, static_cast<std::uint64_t>(i)));
        for (std::int64_t i = 0; i < kCap; ++i) {
            auto r = ch.receive(ctx);
            ok &= static_cast<bool>(r);
            sum += r.value.value_or(0);
        }
    }
    benchmark::DoNotOptimize(sum);
    if (!ok) st.SkipWithError("an operation failed");
    cancel();
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    // Registered by hand: Arg() would append "/<arg>" to the names, which must match Go's.
    const auto add = [](const std::string& name, void (*fn)(benchmark::State&, std::int64_t),
                        std::int64_t arg) {
        return benchmark::RegisterBenchmark(name.c_str(),
                                            [fn, arg](benchmark::State& st) { fn(st, arg); })
            ->Unit(benchmark::kNanosecond);
    };
    for (const int n : {100, 1000})
        add("Context/CancelFanout/" + std::to_string(n) + "/weft", BM_cancel_fanout, n)
            ->UseManualTime()
            ->Iterations(n == 100 ? 400 : 100);  // rounds: each costs ~10 ms of set-up
    add("Context/WithCancel/weft", BM_with_cancel, 0);
    for (const int depth : {1, 10, 100})
        add("Context/CancelTree/depth=" + std::to_string(depth) + "/weft", BM_cancel_tree, depth);
    add("Context/WithTimeout/weft", BM_with_timeout, 0);
    add("Context/Err/weft", BM_err, 0);
    add("Context/ErrCanceled/weft", BM_err, 1);
    add("Context/SendRecv/cap100/weft", BM_send_recv, 0);
    add("Context/SendRecvCtx/cap100/weft", BM_send_recv_ctx, 0);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
