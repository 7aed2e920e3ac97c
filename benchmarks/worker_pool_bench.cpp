// benchmarks/worker_pool_bench.cpp - the per-task cost of weft::worker_pool beside oneTBB,
// Boost.Asio and a plain mutex+condvar pool.
//
// The workload is BENCH.md's pool row: one thread submits n trivial tasks (empty lambdas), then
// waits for all of them. A run with n iterations starts the pool, pushes n tasks, and waits
// (Go-style, state.KeepRunningBatch(n)); every benchmark is fixed at n = 1,000,000, so
// real_time is ns per task and the pool's start-up and join are amortised over 1M tasks.
//
//   Pool/post/weft/workers:W            worker_pool::post, then shutdown() (drain + join)
//   Pool/submit/weft/workers:W          worker_pool::submit (a weft::future per task, dropped)
//   Pool/post/weft_co/workers:W         co_worker_pool: W worker coroutines and one submitting
//                                       coroutine (async_post) on an io_context run by 2
//                                       threads, then async_shutdown (WEFT_BENCH_HAVE_BOOST_ASIO)
//   Pool/submit/weft_co/workers:W       the same with async_submit (a weft::future per task,
//                                       dropped)
//   Pool/{post,submit}/weft_co_1thread/workers:W   the same on an io_context run by 1 thread
//   Pool/post/mutexcv/workers:W         a std::function queue under one mutex + condvar
//   Pool/post/asio/workers:W            boost::asio::post on a thread_pool(W), then join()
//                                                                (WEFT_BENCH_HAVE_BOOST_ASIO)
//   Pool/run/tbb_task_group/workers:W   task_group::run in a task_arena of W + 1 slots (the
//                                       submitting thread's slot + W workers), then wait()
//   Pool/run/tbb_task_group/default     task_group::run with oneTBB's defaults, then wait():
//                                       BENCH.md's 150 ns row             (WEFT_BENCH_HAVE_TBB)
//
// W = 1, 2, 4 on a 2-core machine: 4 workers oversubscribe it. oneTBB's submitting thread also
// runs tasks while it waits, weft's and Asio's do not. The Go twin is
// benchmarks/go/pool_test.go (BenchmarkPool: goroutines ranging over a channel of funcs).
//
// Run (medians of 5):
//   build/benchmarks/worker_pool_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <weft/worker_pool.hpp>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if WEFT_BENCH_HAVE_TBB
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>
#endif
#if WEFT_BENCH_HAVE_BOOST_ASIO
#include <weft/co_worker_pool.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#endif

namespace {

constexpr std::int64_t tasks = 1'000'000;
constexpr std::size_t queue_capacity = 1024;  // weft's default

// The Go-style driver: one run pushes all max_iterations tasks through a fresh pool.
template <class Run>
void drive(benchmark::State& st, Run run) {
    const auto n = st.max_iterations;
    bool ok = true;
    while (st.KeepRunningBatch(n)) ok = run(static_cast<std::int64_t>(n)) && ok;
    st.SetItemsProcessed(st.iterations());
    if (!ok) st.SkipWithError("tasks lost");
}

std::size_t workers_of(const benchmark::State& st) { return static_cast<std::size_t>(st.range(0)); }

void weft_post(benchmark::State& st) {
    drive(st, [w = workers_of(st)](std::int64_t n) {
        weft::worker_pool pool(w, queue_capacity);
        for (std::int64_t i = 0; i < n; ++i) pool.post([] {});
        pool.shutdown();
        return pool.stats().completed == static_cast<std::size_t>(n);
    });
}

void weft_submit(benchmark::State& st) {
    drive(st, [w = workers_of(st)](std::int64_t n) {
        weft::worker_pool pool(w, queue_capacity);
        for (std::int64_t i = 0; i < n; ++i) (void)pool.submit([] {});
        pool.shutdown();
        return pool.stats().completed == static_cast<std::size_t>(n);
    });
}

#if WEFT_BENCH_HAVE_BOOST_ASIO
// One submitting coroutine and W worker coroutines on an io_context run by Threads threads (2:
// the Go twin's GOMAXPROCS=2 with one submitting goroutine).
template <bool Submit, int Threads>
void weft_co(benchmark::State& st) {
    drive(st, [w = workers_of(st)](std::int64_t n) {
        namespace net = boost::asio;
        net::io_context ioc(Threads);
        weft::co_worker_pool pool(ioc.get_executor(), w, queue_capacity);
        net::co_spawn(
            ioc,
            [&]() -> net::awaitable<void> {
                for (std::int64_t i = 0; i < n; ++i) {
                    if constexpr (Submit) {
                        (void)co_await pool.async_submit([] {}, net::use_awaitable);
                    } else {
                        co_await pool.async_post([] {}, net::use_awaitable);
                    }
                }
                co_await pool.async_shutdown(net::use_awaitable);
            },
            net::detached);
        std::vector<std::thread> others;
        for (int i = 1; i < Threads; ++i) others.emplace_back([&] { ioc.run(); });
        ioc.run();
        for (auto& t : others) t.join();
        return pool.stats().completed == static_cast<std::size_t>(n);
    });
}
#endif

// The textbook pool: an unbounded deque of std::function under one mutex, one condvar.
class mutexcv_pool {
public:
    explicit mutexcv_pool(std::size_t workers) {
        for (std::size_t i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
    }
    void post(std::function<void()> f) {
        {
            std::lock_guard lock(m_);
            q_.push_back(std::move(f));
        }
        cv_.notify_one();
    }
    void join() {
        {
            std::lock_guard lock(m_);
            closed_ = true;
        }
        cv_.notify_all();
        for (auto& t : threads_) t.join();
    }

private:
    void work() {
        for (;;) {
            std::function<void()> f;
            {
                std::unique_lock lock(m_);
                cv_.wait(lock, [this] { return closed_ || !q_.empty(); });
                if (q_.empty()) return;
                f = std::move(q_.front());
                q_.pop_front();
            }
            f();
        }
    }
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> q_;
    bool closed_ = false;
    std::vector<std::thread> threads_;
};

void mutexcv_post(benchmark::State& st) {
    drive(st, [w = workers_of(st)](std::int64_t n) {
        mutexcv_pool pool(w);
        for (std::int64_t i = 0; i < n; ++i) pool.post([] {});
        pool.join();
        return true;
    });
}

#if WEFT_BENCH_HAVE_BOOST_ASIO
void asio_post(benchmark::State& st) {
    drive(st, [w = workers_of(st)](std::int64_t n) {
        boost::asio::thread_pool pool(w);
        for (std::int64_t i = 0; i < n; ++i) boost::asio::post(pool, [] {});
        pool.join();
        return true;
    });
}
#endif

#if WEFT_BENCH_HAVE_TBB
void tbb_run(benchmark::State& st) {
    const auto w = static_cast<int>(workers_of(st));
    // oneTBB caps its worker threads at the core count unless told otherwise.
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                              static_cast<std::size_t>(w) + 1);
    tbb::task_arena arena(w + 1);
    drive(st, [&](std::int64_t n) {
        arena.execute([n] {
            tbb::task_group g;
            for (std::int64_t i = 0; i < n; ++i) g.run([] {});
            g.wait();
        });
        return true;
    });
}

void tbb_run_default(benchmark::State& st) {
    drive(st, [](std::int64_t n) {
        tbb::task_group g;
        for (std::int64_t i = 0; i < n; ++i) g.run([] {});
        g.wait();
        return true;
    });
}
#endif

void add(const std::string& name, void (*fn)(benchmark::State&), bool per_worker = true) {
    auto* b = benchmark::RegisterBenchmark(name.c_str(), fn);
    if (per_worker) b->ArgName("workers")->Arg(1)->Arg(2)->Arg(4);
    b->Iterations(tasks)->UseRealTime()->Unit(benchmark::kNanosecond);
}

[[maybe_unused]] const bool registered = [] {
    add("Pool/post/weft", weft_post);
    add("Pool/submit/weft", weft_submit);
#if WEFT_BENCH_HAVE_BOOST_ASIO
    add("Pool/post/weft_co", weft_co<false, 2>);
    add("Pool/submit/weft_co", weft_co<true, 2>);
    add("Pool/post/weft_co_1thread", weft_co<false, 1>);
    add("Pool/submit/weft_co_1thread", weft_co<true, 1>);
#endif
    add("Pool/post/mutexcv", mutexcv_post);
#if WEFT_BENCH_HAVE_BOOST_ASIO
    add("Pool/post/asio", asio_post);
#endif
#if WEFT_BENCH_HAVE_TBB
    add("Pool/run/tbb_task_group", tbb_run);
    add("Pool/run/tbb_task_group/default", tbb_run_default, false);
#endif
    return true;
}();

}  // namespace
