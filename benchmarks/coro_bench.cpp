// benchmarks/coro_bench.cpp - channels between user-space tasks (C++20 coroutines on Boost.Asio,
// Boost.Fiber) on 1 and 2 OS threads, beside Go with GOMAXPROCS=1 and 2 (issue 12, "How fast").
//
// Names are "<workload>/<peer>/<threads>t"; <workload> is the name of the Go twin in
// benchmarks/go (and of the thread rows of channel_bench.cpp), <threads> the OS threads
// that run the tasks (Go: go test -cpu 1,2). Peers:
//   asio_cc   boost::asio::experimental::concurrent_channel<void(error_code, item)>, every task
//             a C++20 coroutine (co_spawn, use_awaitable via as_tuple: closed/cancelled
//             complete with an error code, nothing throws) on one io_context (concurrency
//             hint = threads) run by 1 or 2 threads. Select = awaitable_operators `||` (two
//             sub-coroutines in a parallel_group; the loser is cancelled).
//   fiber     Boost.Fiber unbuffered_channel (cap 0) / buffered_channel (cap 100 -> 128 slots,
//             holds 127: its capacity must be a power of two P and it holds P-1; counter
//             `cap`). 1t: the fibers run on one fresh thread (round_robin). 2t: two fresh
//             threads with the shared_work scheduler (one ready queue shared by both), built
//             with suspend = true: an idle thread sleeps until a fiber it ran is woken. (Boost's
//             default, suspend = false, has idle threads poll the queue's mutex; on this
//             loaded 2-core machine that took 1.7 ms per item in ProdCons/1p1c/cap0.) Fiber
//             stacks are Boost's default (fixedsize_stack): part of Park's RSS, and freeing
//             them is part of its wake time. No select: no ChanPopular row.
//   weft_coro weft::channel<item> with <weft/asio.hpp>: async_send / async_receive with
//             use_awaitable (closed: a status, nothing throws), select = weft::async_select,
//             every task a C++20 coroutine on the same io_context set-up as asio_cc.
//
// Rows (one iteration = the unit in brackets; Go-style: a run with N iterations starts its
// tasks, moves N units, joins - state.KeepRunningBatch(N) - unless it says "manual"):
//   PingPong/cap0                    [round trip] ping on one channel, pong back on another
//   ProdCons/1p1c/cap0               [item] 1 producer, 1 consumer task
//   ProdCons/{1p1c,2p2c,8p8c}/cap100 [item] P producers send N items in total, P consumers
//                                    receive exactly N (sums checked)
//   ChanPopular                      [op = 1000 sends] Go's runtime BenchmarkChanPopular: 1000
//                                    tasks each select on a shared channel that never fires
//                                    and their own; a driver task sends once to each per op
//   Context/CancelFanout/1000        [woken waiter, manual time] 1000 tasks parked in a receive
//                                    on one "done" channel; a task on the same executor
//                                    closes it (Go's context closes its done channel). Time
//                                    from close() to the last wake-up (each waiter reads the
//                                    clock after its receive; an atomic max keeps the latest)
//                                    / 1000 - as context_bench.cpp and Go's
//                                    Context/CancelFanout/1000
//   Park/<N>                         [woken task, manual time, 1 iteration] N tasks parked in
//                                    a receive on one channel; counter `rss_B_per_task` =
//                                    (RSS with all N parked - RSS before they were created) / N,
//                                    then one close() wakes them all: time to the last
//                                    wake-up / N (counter `wake_all_ms`: the whole). N =
//                                    $WEFT_BENCH_PARK_N (default 100000; the run:
//                                    1000000). RSS is /proc/self/statm after malloc_trim(0),
//                                    so memory freed by earlier rows is not resident; for the
//                                    cleanest number run one Park row per process, as
//                                    scripts/bench-table.py --coro does.
//
// Build by hand:
//   g++ -O2 -std=c++20 -Iinclude -DWEFT_BENCH_HAVE_BOOST_ASIO -DWEFT_BENCH_HAVE_BOOST_FIBER
//       benchmarks/coro_bench.cpp -o coro_bench -lbenchmark -lboost_fiber -lboost_context
//       -lpthread
// (Both builds compile it only when Boost.Asio is found; the fiber rows need Boost.Fiber.)

#include <benchmark/benchmark.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <weft/asio.hpp>

#ifdef WEFT_BENCH_HAVE_BOOST_FIBER
#include <boost/fiber/algo/shared_work.hpp>
#include <boost/fiber/all.hpp>
#endif

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <functional>
#include <latch>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <unistd.h>

namespace cb {

namespace asio = boost::asio;
using item = std::uint64_t;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------
// Small helpers

inline std::int64_t share(std::int64_t n, std::int64_t k, std::int64_t i) {
    return n / k + (i < n % k ? 1 : 0);
}
inline std::uint64_t sum_1_to(std::int64_t k) {
    return static_cast<std::uint64_t>(k) * static_cast<std::uint64_t>(k + 1) / 2;
}

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// The latest of the wake-up times noted by the woken tasks.
struct last_wake {
    std::atomic<std::int64_t> t{0};
    void note() {
        const std::int64_t now = now_ns();
        std::int64_t prev = t.load(std::memory_order_relaxed);
        while (prev < now && !t.compare_exchange_weak(prev, now, std::memory_order_relaxed)) {}
    }
};

// Resident set size of this process in bytes, after handing free heap memory back to the
// kernel (so that what earlier rows freed does not hide what this one allocates).
std::int64_t rss_bytes() {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
    std::ifstream statm("/proc/self/statm");
    std::int64_t size = 0, resident = 0;
    statm >> size >> resident;
    return resident * static_cast<std::int64_t>(sysconf(_SC_PAGESIZE));
}

std::int64_t park_n() {
    const char* e = std::getenv("WEFT_BENCH_PARK_N");
    const std::int64_t n = e ? std::atoll(e) : 0;
    return n > 0 ? n : 100'000;
}

constexpr int kPopular = 1000;  // ChanPopular's waiters (Go: const n = 1000)
constexpr int kFanout = 1000;   // Context/CancelFanout/1000

// The Go-style driver: one run of the workload moves all max_iterations units.
template <class Run>
void drive(benchmark::State& st, std::size_t cap, Run run) {
    const auto n = static_cast<std::int64_t>(st.max_iterations);
    bool ok = true;
    while (st.KeepRunningBatch(st.max_iterations)) ok = run(n) && ok;
    st.SetItemsProcessed(st.iterations());
    st.counters["cap"] = static_cast<double>(cap);
    if (!ok) st.SkipWithError("items lost or duplicated");
}

// A parked-wake round's result: ns from close() to the last wake-up, RSS growth while parked.
struct wake_round {
    std::int64_t wake_ns = 0;
    std::int64_t rss_growth = 0;
    bool ok = true;
};

// ---------------------------------------------------------------------------------------
// The Asio runner: coroutines on one io_context run by K threads.
//
//   coro_runner r(threads);
//   chan c(r.executor(), cap);          // declared after r: destroyed before the io_context
//   r.spawn(task(c, ...));              // awaitable<void>; an exception ends the process
//   r.run();                            // returns when every task has finished

class coro_runner {
public:
    using executor_type = asio::io_context::executor_type;

    explicit coro_runner(int threads) : threads_(threads), ioc_(threads) {}
    executor_type executor() { return ioc_.get_executor(); }

    void spawn(asio::awaitable<void> task) {
        asio::co_spawn(ioc_, std::move(task), [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    }

    void run() {
        std::vector<std::thread> more;
        for (int i = 1; i < threads_; ++i) more.emplace_back([this] { ioc_.run(); });
        ioc_.run();
        for (auto& t : more) t.join();
    }

private:
    int threads_;
    asio::io_context ioc_;
};

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

// A coroutine channel adapter (one per peer; weft_coro's goes beside this one):
//   Chan(executor, capacity)
//   c.send(v)     awaitable; its result is ignored (the workloads never send on a closed one)
//   c.receive()   awaitable of R; Chan::get(r) -> std::optional<item> (nullopt = closed)
//   c.close()     wakes every parked receiver
//   Chan::select_receive(a, b)  awaitable<int>: index of the channel received from
//                 (optional: ChanPopular is registered only for adapters that have it)
//   Chan::name, Chan::effective_capacity(c)
// send/receive return the peer's own awaitable, not a wrapping coroutine: no extra frame.
struct asio_cc_chan {
    static constexpr const char* name = "asio_cc";
    using channel = asio::experimental::concurrent_channel<void(boost::system::error_code, item)>;

    static std::size_t effective_capacity(std::size_t c) { return c; }
    asio_cc_chan(coro_runner::executor_type ex, std::size_t cap) : ch(ex, cap) {}

    auto send(item v) { return ch.async_send(boost::system::error_code{}, v, kTok); }
    auto receive() { return ch.async_receive(kTok); }
    static std::optional<item> get(const std::tuple<boost::system::error_code, item>& r) {
        if (std::get<0>(r)) return std::nullopt;
        return std::get<1>(r);
    }
    void close() { ch.close(); }

    static asio::awaitable<int> select_receive(asio_cc_chan& a, asio_cc_chan& b) {
        using namespace asio::experimental::awaitable_operators;
        auto r = co_await (a.ch.async_receive(asio::use_awaitable) ||
                           b.ch.async_receive(asio::use_awaitable));
        co_return static_cast<int>(r.index());
    }

    channel ch;
};

struct weft_coro_chan {
    static constexpr const char* name = "weft_coro";

    static std::size_t effective_capacity(std::size_t c) { return c; }
    weft_coro_chan(coro_runner::executor_type, std::size_t cap) : ch(cap) {}

    auto send(item v) { return ch.async_send(v, asio::use_awaitable); }
    auto receive() { return ch.async_receive(asio::use_awaitable); }
    static std::optional<item> get(const weft::receive_result<item>& r) { return r.value; }
    void close() { ch.close(); }

    static asio::awaitable<int> select_receive(weft_coro_chan& a, weft_coro_chan& b) {
        const std::size_t i = co_await weft::async_select(
            asio::use_awaitable, weft::on_receive(a.ch, [] {}), weft::on_receive(b.ch, [] {}));
        co_return static_cast<int>(i);
    }

    weft::channel<item> ch;
};

// ---------------------------------------------------------------------------------------
// Workloads over a coroutine channel adapter

template <class Chan>
asio::awaitable<void> produce(Chan& c, std::int64_t k) {
    for (std::int64_t j = 1; j <= k; ++j) co_await c.send(static_cast<item>(j));
}

template <class Chan>
asio::awaitable<void> consume(Chan& c, std::int64_t k, std::atomic<std::uint64_t>& sum) {
    std::uint64_t s = 0;
    for (std::int64_t j = 0; j < k; ++j) s += Chan::get(co_await c.receive()).value_or(0);
    sum.fetch_add(s, std::memory_order_relaxed);
}

template <class Chan>
bool coro_prodcons(int threads, std::int64_t n, std::size_t cap, int p, int c) {
    std::atomic<std::uint64_t> sum{0};
    std::uint64_t expect = 0;
    coro_runner r(threads);
    Chan ch(r.executor(), cap);
    for (int i = 0; i < p; ++i) {
        expect += sum_1_to(share(n, p, i));
        r.spawn(produce(ch, share(n, p, i)));
    }
    for (int i = 0; i < c; ++i) r.spawn(consume(ch, share(n, c, i), sum));
    r.run();
    return sum.load() == expect;
}

template <class Chan>
asio::awaitable<void> ping(Chan& out, Chan& in, std::int64_t n, bool& ok) {
    for (std::int64_t i = 0; i < n; ++i) {
        co_await out.send(static_cast<item>(i));
        if (Chan::get(co_await in.receive()) != static_cast<item>(i)) ok = false;
    }
}

template <class Chan>
asio::awaitable<void> pong(Chan& in, Chan& out, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i)
        co_await out.send(Chan::get(co_await in.receive()).value_or(~item{0}));
}

template <class Chan>
bool coro_pingpong(int threads, std::int64_t n, std::size_t cap) {
    bool ok = true;
    coro_runner r(threads);
    Chan a(r.executor(), cap), b(r.executor(), cap);
    r.spawn(ping(a, b, n, ok));
    r.spawn(pong(a, b, n));
    r.run();
    return ok;
}

template <class Chan>
asio::awaitable<void> popular_waiter(Chan& popular, Chan& own, std::int64_t n,
                                     std::atomic<std::int64_t>& fired) {
    std::int64_t f = 0;
    for (std::int64_t i = 0; i < n; ++i)
        if (co_await Chan::select_receive(popular, own) == 1) ++f;
    fired.fetch_add(f, std::memory_order_relaxed);
}

template <class Chan>
asio::awaitable<void> popular_driver(std::vector<std::unique_ptr<Chan>>& own, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i)
        for (auto& d : own) co_await d->send(1);
}

template <class Chan>
bool coro_chan_popular(int threads, std::int64_t n) {
    std::atomic<std::int64_t> fired{0};
    coro_runner r(threads);
    Chan popular(r.executor(), 0);
    std::vector<std::unique_ptr<Chan>> own;
    for (int j = 0; j < kPopular; ++j) own.push_back(std::make_unique<Chan>(r.executor(), 0));
    for (auto& d : own) r.spawn(popular_waiter(popular, *d, n, fired));
    r.spawn(popular_driver(own, n));
    r.run();
    return fired.load() == n * kPopular;
}

template <class Chan>
asio::awaitable<void> parked_waiter(Chan& done, std::atomic<std::int64_t>& ready, last_wake& last,
                                    std::atomic<std::int64_t>& woken) {
    ready.fetch_add(1, std::memory_order_relaxed);
    // Kept out of the `if`: with the co_await in the condition, GCC 12.2 ran into an illegal
    // instruction when this coroutine resumed (seen at -O0 and -O2; not reduced to a test case).
    const auto r = co_await done.receive();
    if (!Chan::get(r)) woken.fetch_add(1, std::memory_order_relaxed);
    last.note();
}

// Waits (on the tasks' own executor) until all n waiters announced themselves, lets them
// park, then closes `done` as Go's cancel() closes a context's done channel.
template <class Chan>
asio::awaitable<void> closer(Chan& done, std::atomic<std::int64_t>& ready, std::int64_t n,
                             std::chrono::milliseconds settle, std::int64_t rss_before,
                             wake_round& out) {
    asio::steady_timer t(co_await asio::this_coro::executor);
    while (ready.load(std::memory_order_relaxed) < n) {
        t.expires_after(100us);
        co_await t.async_wait(kTok);
    }
    t.expires_after(settle);
    co_await t.async_wait(kTok);
    if (rss_before >= 0) out.rss_growth = rss_bytes() - rss_before;
    out.wake_ns = now_ns();
    done.close();
}

template <class Chan>
wake_round coro_wake_round(int threads, std::int64_t n, bool measure_rss) {
    wake_round out;
    std::atomic<std::int64_t> ready{0}, woken{0};
    last_wake last;
    coro_runner r(threads);
    Chan done(r.executor(), 0);
    const std::int64_t before = measure_rss ? rss_bytes() : -1;
    for (std::int64_t i = 0; i < n; ++i) r.spawn(parked_waiter(done, ready, last, woken));
    r.spawn(closer(done, ready, n, measure_rss ? 50ms : 5ms, before, out));
    r.run();
    out.wake_ns = last.t.load() - out.wake_ns;
    out.ok = woken.load() == n;
    return out;
}

// ---------------------------------------------------------------------------------------
// Boost.Fiber

#ifdef WEFT_BENCH_HAVE_BOOST_FIBER
namespace bf = boost::fibers;

// Runs body() inside a fiber-capable thread; body launches fibers and joins them. threads
// 1: one fresh thread, round_robin. 2+: fresh threads with shared_work(suspend = true); the
// others serve the shared queue from their scheduler until body() has returned.
template <class Body>
void run_fibers(int threads, Body body) {
    if (threads == 1) {
        std::thread([&] { body(); }).join();
        return;
    }
    std::latch ready(threads);
    bf::mutex m;
    bf::condition_variable cv;
    bool done = false;
    std::vector<std::thread> helpers;
    for (int i = 1; i < threads; ++i) {
        helpers.emplace_back([&] {
            bf::use_scheduling_algorithm<bf::algo::shared_work>(true);
            ready.count_down();
            std::unique_lock lk(m);
            cv.wait(lk, [&] { return done; });
        });
    }
    std::thread([&] {
        bf::use_scheduling_algorithm<bf::algo::shared_work>(true);
        ready.arrive_and_wait();  // every thread serves the shared queue before work arrives
        body();
        {
            std::unique_lock lk(m);
            done = true;
        }
        cv.notify_all();
    }).join();
    for (auto& t : helpers) t.join();
}

struct fiber_group {
    template <class F>
    void spawn(F&& f) {
        fibers.emplace_back(std::forward<F>(f));
    }
    void join() {
        for (auto& f : fibers) f.join();
    }
    std::vector<bf::fiber> fibers;
};

// Capacity 0 = unbuffered_channel; otherwise buffered_channel holding the nearest 2^k - 1
// (100 -> 127, as channel_bench.cpp).
std::size_t fiber_capacity(std::size_t cap) {
    if (cap == 0) return 0;
    std::size_t p = 2;
    while (p - 1 < cap) p *= 2;
    if (p > 2 && cap - (p / 2 - 1) < (p - 1) - cap) p /= 2;
    return p - 1;
}

template <class F>
bool with_fiber_channel(std::size_t cap, F f) {
    if (cap == 0) {
        bf::unbuffered_channel<item> ch;
        return f(ch);
    }
    bf::buffered_channel<item> ch(cap + 1);
    return f(ch);
}

bool fiber_prodcons(int threads, std::int64_t n, std::size_t cap, int p, int c) {
    return with_fiber_channel(cap, [&](auto& ch) {
        std::atomic<std::uint64_t> sum{0};
        std::uint64_t expect = 0;
        for (int i = 0; i < p; ++i) expect += sum_1_to(share(n, p, i));
        run_fibers(threads, [&] {
            fiber_group g;
            for (int i = 0; i < p; ++i) {
                g.spawn([&ch, k = share(n, p, i)] {
                    for (std::int64_t j = 1; j <= k; ++j) ch.push(static_cast<item>(j));
                });
            }
            for (int i = 0; i < c; ++i) {
                g.spawn([&ch, &sum, k = share(n, c, i)] {
                    std::uint64_t s = 0;
                    for (std::int64_t j = 0; j < k; ++j) s += ch.value_pop();
                    sum.fetch_add(s, std::memory_order_relaxed);
                });
            }
            g.join();
        });
        return sum.load() == expect;
    });
}

bool fiber_pingpong(int threads, std::int64_t n) {
    bf::unbuffered_channel<item> a, b;
    bool ok = true;
    run_fibers(threads, [&] {
        fiber_group g;
        g.spawn([&] {
            for (std::int64_t i = 0; i < n; ++i) {
                a.push(static_cast<item>(i));
                if (b.value_pop() != static_cast<item>(i)) ok = false;
            }
        });
        g.spawn([&] {
            for (std::int64_t i = 0; i < n; ++i) b.push(a.value_pop());
        });
        g.join();
    });
    return ok;
}

wake_round fiber_wake_round(int threads, std::int64_t n, bool measure_rss) {
    wake_round out;
    bf::unbuffered_channel<item> done;
    std::atomic<std::int64_t> ready{0}, woken{0};
    last_wake last;
    run_fibers(threads, [&] {
        fiber_group g;
        g.fibers.reserve(static_cast<std::size_t>(n) + 1);
        const std::int64_t before = measure_rss ? rss_bytes() : -1;
        for (std::int64_t i = 0; i < n; ++i) {
            g.spawn([&] {
                ready.fetch_add(1, std::memory_order_relaxed);
                item v;
                if (done.pop(v) == bf::channel_op_status::closed)
                    woken.fetch_add(1, std::memory_order_relaxed);
                last.note();
            });
        }
        g.spawn([&] {
            while (ready.load(std::memory_order_relaxed) < n) boost::this_fiber::sleep_for(100us);
            boost::this_fiber::sleep_for(measure_rss ? 50ms : 5ms);
            if (before >= 0) out.rss_growth = rss_bytes() - before;
            out.wake_ns = now_ns();
            done.close();
        });
        g.join();
    });
    out.wake_ns = last.t.load() - out.wake_ns;
    out.ok = woken.load() == n;
    return out;
}
#endif  // WEFT_BENCH_HAVE_BOOST_FIBER

// ---------------------------------------------------------------------------------------
// Registration

// Real time, or manual time (rows that time only the wake-ups).
benchmark::internal::Benchmark* add(const std::string& name,
                                    std::function<void(benchmark::State&)> fn,
                                    bool manual = false) {
    auto* b = benchmark::RegisterBenchmark(name.c_str(), std::move(fn));
    if (manual)
        b->UseManualTime();
    else
        b->UseRealTime();
    return b->Unit(benchmark::kNanosecond);
}

std::string row(const std::string& workload, const char* peer, int threads) {
    return workload + "/" + peer + "/" + std::to_string(threads) + "t";
}

// Context/CancelFanout/1000: one round per iteration (100 of them), ns per woken waiter.
template <class Round>
void add_fanout(const char* peer, int threads, Round round) {
    add(
        row("Context/CancelFanout/" + std::to_string(kFanout), peer, threads),
        [round](benchmark::State& st) {
            bool ok = true;
            for (auto _ : st) {
                const wake_round w = round(kFanout, false);
                ok = ok && w.ok;
                st.SetIterationTime(static_cast<double>(w.wake_ns) / 1e9 / kFanout);
            }
            st.counters["waiters"] = kFanout;
            if (!ok) st.SkipWithError("a waiter was not woken by close");
        },
        true)
        ->Iterations(100);  // rounds, as context_bench.cpp: each has ~6 ms of set-up
}

// Park/<N>: one round, ns per woken task; RSS per parked task as a counter.
template <class Round>
void add_park(const char* peer, int threads, Round round) {
    const std::int64_t n = park_n();
    add(
        row("Park/" + std::to_string(n), peer, threads),
        [round, n](benchmark::State& st) {
            wake_round w;
            for (auto _ : st) {
                w = round(n, true);
                st.SetIterationTime(static_cast<double>(w.wake_ns) / 1e9 / static_cast<double>(n));
            }
            st.counters["tasks"] = static_cast<double>(n);
            st.counters["rss_B_per_task"] =
                static_cast<double>(w.rss_growth) / static_cast<double>(n);
            st.counters["wake_all_ms"] = static_cast<double>(w.wake_ns) / 1e6;
            if (!w.ok) st.SkipWithError("a task was not woken by close");
        },
        true)
        ->Iterations(1);
}

// Every row for one coroutine channel adapter, on io_contexts run by 1 and by 2 threads.
template <class Chan>
void add_coro_rows(const char* peer) {
    for (int t : {1, 2}) {
        add(row("PingPong/cap0", peer, t), [t](benchmark::State& st) {
            const std::size_t c = Chan::effective_capacity(0);
            drive(st, c, [&](std::int64_t n) { return coro_pingpong<Chan>(t, n, c); });
        });
        for (auto [p, cap] : {std::pair{1, 0}, {1, 100}, {2, 100}, {8, 100}}) {
            const std::string w = "ProdCons/" + std::to_string(p) + "p" + std::to_string(p) +
                                  "c/cap" + std::to_string(cap);
            add(row(w, peer, t), [t, p, cap](benchmark::State& st) {
                const std::size_t c = Chan::effective_capacity(static_cast<std::size_t>(cap));
                drive(st, c, [&](std::int64_t n) { return coro_prodcons<Chan>(t, n, c, p, p); });
            });
        }
        if constexpr (requires(Chan& a) { Chan::select_receive(a, a); }) {
            add(row("ChanPopular", peer, t), [t](benchmark::State& st) {
                drive(st, 0, [&](std::int64_t n) { return coro_chan_popular<Chan>(t, n); });
            });
        }
        add_fanout(peer, t,
                   [t](std::int64_t n, bool rss) { return coro_wake_round<Chan>(t, n, rss); });
        add_park(peer, t,
                 [t](std::int64_t n, bool rss) { return coro_wake_round<Chan>(t, n, rss); });
    }
}

#ifdef WEFT_BENCH_HAVE_BOOST_FIBER
void add_fiber_rows() {
    constexpr const char* peer = "fiber";
    for (int t : {1, 2}) {
        add(row("PingPong/cap0", peer, t), [t](benchmark::State& st) {
            drive(st, 0, [&](std::int64_t n) { return fiber_pingpong(t, n); });
        });
        for (auto [p, cap] : {std::pair{1, 0}, {1, 100}, {2, 100}, {8, 100}}) {
            const std::string w = "ProdCons/" + std::to_string(p) + "p" + std::to_string(p) +
                                  "c/cap" + std::to_string(cap);
            add(row(w, peer, t), [t, p, cap](benchmark::State& st) {
                const std::size_t c = fiber_capacity(static_cast<std::size_t>(cap));
                drive(st, c, [&](std::int64_t n) { return fiber_prodcons(t, n, c, p, p); });
            });
        }
        // ChanPopular: Boost.Fiber channels have no select.
        add_fanout(peer, t, [t](std::int64_t n, bool rss) { return fiber_wake_round(t, n, rss); });
        add_park(peer, t, [t](std::int64_t n, bool rss) { return fiber_wake_round(t, n, rss); });
    }
}
#endif

void register_all() {
    // Workload-major would interleave peers; peer-major keeps each peer's rows together in
    // the console. The table script orders rows by workload itself.
    add_coro_rows<weft_coro_chan>("weft_coro");
    add_coro_rows<asio_cc_chan>("asio_cc");
#ifdef WEFT_BENCH_HAVE_BOOST_FIBER
    add_fiber_rows();
#endif
}

}  // namespace cb

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    cb::register_all();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
