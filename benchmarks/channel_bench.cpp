// benchmarks/channel_bench.cpp - weft::channel against Go's numbers and C++ peers.
//
// Every workload is written once, as a template over a small queue adapter (the
// `bench_queue` concept below), and instantiated for
//   weft          weft::channel<std::uint64_t>
//   mutexcv       a plain mutex + condition_variable bounded queue (written here; also does
//                 rendezvous, capacity 0)
//   tbb           tbb::concurrent_bounded_queue                  (WEFT_BENCH_HAVE_TBB)
//   moodycamel    MPMC rows: moodycamel::BlockingConcurrentQueue, bounded by a
//                 moodycamel::LightweightSemaphore counting free slots (the queue itself is
//                 unbounded)                                          (WEFT_BENCH_HAVE_MOODYCAMEL);
//                 rows with one producer and one consumer thread per queue:
//                 moodycamel::BlockingReaderWriterCircularBuffer
//                                                               (WEFT_BENCH_HAVE_READERWRITERQUEUE)
//   boost_fiber   boost::fibers::buffered_channel used across OS threads; its capacity must be a
//                 power of two P >= 2 and it holds P-1 items, so the capacity used is the nearest
//                 P-1 (or the smallest P-1 >= N where the workload would deadlock with fewer);
//                 the capacity actually used is reported as the counter `cap`
//                                                                    (WEFT_BENCH_HAVE_BOOST_FIBER)
//   boost_thread  boost::concurrent::sync_bounded_queue             (WEFT_BENCH_HAVE_BOOST_THREAD)
// Rendezvous (cap 0) rows exist only for weft and mutexcv: the peers cannot do a rendezvous.
// Select rows exist only for weft: the peers have no select.
//
// Benchmark names are "<workload>/<queue>"; the workloads have the same names and shapes as
// the Go benchmarks in benchmarks/go (see benchmarks/README.md for each one's definition).
// One benchmark iteration is the unit of the table (one item, one round trip, one
// send+receive, or one op of the Go runtime benchmark of the same name), so `real_time`
// is ns per unit; items_per_second is 1e9 / that. Go-style: a benchmark run with N
// iterations starts its threads, moves N units, joins them (state.KeepRunningBatch(N)), so
// thread start-up is amortised the way goroutine start-up is in `go test -bench`.
// Every producer and consumer is its own std::thread; all blocking rows use real time.
//
// Build by hand (the CMake build does the same, defining the macros for the peers it finds):
//   g++ -O2 -std=c++20 -Iinclude -isystem /usr/include/concurrentqueue
//       -isystem /usr/include/readerwriterqueue -DWEFT_BENCH_HAVE_TBB -DWEFT_BENCH_HAVE_MOODYCAMEL
//       -DWEFT_BENCH_HAVE_READERWRITERQUEUE -DWEFT_BENCH_HAVE_BOOST_FIBER
//       -DWEFT_BENCH_HAVE_BOOST_THREAD benchmarks/channel_bench.cpp -o channel_bench
//       -lbenchmark -ltbb -lboost_fiber -lboost_context -lboost_thread -lpthread
// (scripts/bench-table.py does exactly this when not given a build directory.)

#include <benchmark/benchmark.h>

#include <weft/channel.hpp>
#include <weft/select.hpp>
#include <weft/time.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#ifdef WEFT_BENCH_HAVE_TBB
#include <oneapi/tbb/concurrent_queue.h>
#endif
// The build puts the directories of these headers on the include path (Debian installs them
// in /usr/include/concurrentqueue and /usr/include/readerwriterqueue, vcpkg and upstream
// CMake in .../concurrentqueue/moodycamel), so the plain names work everywhere.
#ifdef WEFT_BENCH_HAVE_MOODYCAMEL
#include <blockingconcurrentqueue.h>
#include <lightweightsemaphore.h>
#endif
#ifdef WEFT_BENCH_HAVE_READERWRITERQUEUE
#include <readerwritercircularbuffer.h>
#endif
#ifdef WEFT_BENCH_HAVE_BOOST_FIBER
#include <boost/fiber/buffered_channel.hpp>
#include <boost/fiber/channel_op_status.hpp>
#endif
#ifdef WEFT_BENCH_HAVE_BOOST_THREAD
#include <boost/thread/concurrent_queues/queue_op_status.hpp>
#include <boost/thread/concurrent_queues/sync_bounded_queue.hpp>
#endif

namespace wb {

using item = std::uint64_t;  // crossbeam's Message: one machine word

// ---------------------------------------------------------------------------------------
// Small helpers

// How many of n units worker i of k handles (the first n % k get one more).
inline std::int64_t share(std::int64_t n, std::int64_t k, std::int64_t i) {
    return n / k + (i < n % k ? 1 : 0);
}

class thread_group {
public:
    template <class F>
    void spawn(F&& f) {
        threads_.emplace_back(std::forward<F>(f));
    }
    void join() {
        for (auto& t : threads_) t.join();
        threads_.clear();
    }
    ~thread_group() { join(); }

private:
    std::vector<std::thread> threads_;
};

// The Go runtime benchmarks' "local work": foo *= 2; foo /= 2, kept from being folded.
inline int local_work(int foo, int n) {
    for (int i = 0; i < n; ++i) {
        foo *= 2;
        asm volatile("" : "+r"(foo));
        foo /= 2;
        asm volatile("" : "+r"(foo));
    }
    return foo;
}
inline std::atomic<long> g_sink{0};
inline void sink(long v) { g_sink.fetch_add(v, std::memory_order_relaxed); }

// Go's testing.B.RunParallel: `procs` threads take ops from a shared counter in grains;
// init() runs on each thread and returns body(k), which performs k ops.
template <class Init>
void run_parallel(std::int64_t n, int procs, Init init) {
    std::atomic<std::int64_t> next{0};
    const std::int64_t grain = std::clamp<std::int64_t>(n / (procs * 100), 1, 10000);
    thread_group g;
    for (int p = 0; p < procs; ++p) {
        g.spawn([&] {
            auto body = init();
            for (;;) {
                const std::int64_t start = next.fetch_add(grain, std::memory_order_relaxed);
                if (start >= n) break;
                body(std::min(grain, n - start));
            }
        });
    }
    g.join();
}

constexpr int kProcs = 2;             // GOMAXPROCS of the reference numbers
constexpr int kCallsPerSched = 1000;  // runtime/chan_test.go's CallsPerSched

// ---------------------------------------------------------------------------------------
// The queue adapters

// Capacity requests: `nearest` may round to what the queue can do; `at_least` must not give
// fewer slots (used where a smaller queue would deadlock the workload, e.g. one thread
// filling it before draining it).
enum class cap_mode { nearest, at_least };

template <class Q>
concept bench_queue = std::constructible_from<Q, std::size_t> &&
                      requires(Q& q, item v, item& out, std::size_t c, cap_mode m) {
                          { Q::name } -> std::convertible_to<std::string_view>;
                          // The capacity this queue will use for a request, or nullopt if it cannot
                          // (cap 0).
                          {
                              Q::effective_capacity(c, m)
                          } -> std::same_as<std::optional<std::size_t>>;
                          q.send(v);                                     // blocks while full
                          { q.receive() } -> std::same_as<item>;         // blocks while empty
                          { q.try_send(v) } -> std::same_as<bool>;       // false if full
                          { q.try_receive(out) } -> std::same_as<bool>;  // false if empty
                      };
// Workloads end with item counts or with sentinels (a 0 item), never with close(): not every
// peer has a close that wakes blocked threads.

struct weft_queue {
    static constexpr std::string_view name = "weft";
    static std::optional<std::size_t> effective_capacity(std::size_t c, cap_mode) { return c; }
    explicit weft_queue(std::size_t c) : ch(c) {}
    void send(item v) { (void)ch.send(v); }
    item receive() { return *ch.receive(); }
    bool try_send(item v) { return static_cast<bool>(ch.try_send(v)); }
    bool try_receive(item& out) {
        auto r = ch.try_receive();
        if (!r) return false;
        out = *r;
        return true;
    }
    weft::channel<item> ch;
};

// The baseline: one mutex, two condition variables, a ring buffer. Capacity 0 is a
// rendezvous: the value waits in a one-slot buffer and the sender waits until a receiver
// has taken it; try_send succeeds only if a receiver is already waiting.
class mutexcv_queue {
public:
    static constexpr std::string_view name = "mutexcv";
    static std::optional<std::size_t> effective_capacity(std::size_t c, cap_mode) { return c; }
    explicit mutexcv_queue(std::size_t c) : cap_(c), slots_(c == 0 ? 1 : c), buf_(slots_) {}

    void send(item v) {
        std::unique_lock lk(m_);
        not_full_.wait(lk, [&] { return count_ < slots_; });
        const std::uint64_t ticket = push(v);
        if (cap_ == 0) taken_.wait(lk, [&] { return popped_ >= ticket; });
    }
    item receive() {
        std::unique_lock lk(m_);
        ++waiting_receivers_;
        not_empty_.wait(lk, [&] { return count_ > 0; });
        --waiting_receivers_;
        return pop();
    }
    bool try_send(item v) {
        std::lock_guard lk(m_);
        if (count_ == slots_) return false;
        if (cap_ == 0 && waiting_receivers_ <= count_) return false;  // nobody to hand it to
        push(v);
        return true;
    }
    bool try_receive(item& out) {
        std::lock_guard lk(m_);
        if (count_ == 0) return false;
        out = pop();
        return true;
    }

private:
    std::uint64_t push(item v) {  // m_ held
        buf_[(head_ + count_) % slots_] = v;
        ++count_;
        not_empty_.notify_one();
        return ++pushed_;
    }
    item pop() {  // m_ held
        const item v = buf_[head_];
        head_ = (head_ + 1) % slots_;
        --count_;
        ++popped_;
        not_full_.notify_one();
        if (cap_ == 0) taken_.notify_all();
        return v;
    }

    std::mutex m_;
    std::condition_variable not_empty_, not_full_, taken_;
    const std::size_t cap_, slots_;
    std::vector<item> buf_;
    std::size_t head_ = 0, count_ = 0, waiting_receivers_ = 0;
    std::uint64_t pushed_ = 0, popped_ = 0;
};

#ifdef WEFT_BENCH_HAVE_TBB
struct tbb_queue {
    static constexpr std::string_view name = "tbb";
    static std::optional<std::size_t> effective_capacity(std::size_t c, cap_mode) {
        if (c == 0) return std::nullopt;  // capacity 0 blocks every push: no rendezvous
        return c;
    }
    explicit tbb_queue(std::size_t c) { q.set_capacity(static_cast<std::ptrdiff_t>(c)); }
    void send(item v) { q.push(v); }
    item receive() {
        item v;
        q.pop(v);
        return v;
    }
    bool try_send(item v) { return q.try_push(v); }
    bool try_receive(item& out) { return q.try_pop(out); }
    tbb::concurrent_bounded_queue<item> q;
};
#endif

#ifdef WEFT_BENCH_HAVE_MOODYCAMEL
// MPMC: BlockingConcurrentQueue is unbounded; a semaphore of free slots makes send block
// at the capacity, so the workload is the same as for the bounded queues.
struct moodycamel_queue {
    static constexpr std::string_view name = "moodycamel";
    static std::optional<std::size_t> effective_capacity(std::size_t c, cap_mode) {
        if (c == 0) return std::nullopt;
        return c;
    }
    explicit moodycamel_queue(std::size_t c)
        : q(c), free_slots(static_cast<moodycamel::LightweightSemaphore::ssize_t>(c)) {}
    void send(item v) {
        while (!free_slots.wait()) {}
        q.enqueue(v);
    }
    item receive() {
        item v;
        q.wait_dequeue(v);
        free_slots.signal();
        return v;
    }
    bool try_send(item v) {
        if (!free_slots.tryWait()) return false;
        q.enqueue(v);
        return true;
    }
    bool try_receive(item& out) {
        if (!q.try_dequeue(out)) return false;
        free_slots.signal();
        return true;
    }
    moodycamel::BlockingConcurrentQueue<item> q;
    moodycamel::LightweightSemaphore free_slots;
};

#endif

#ifdef WEFT_BENCH_HAVE_READERWRITERQUEUE
// SPSC rows (one producer thread and one consumer thread per queue).
struct moodycamel_spsc_queue {
    static constexpr std::string_view name = "moodycamel";
    static std::optional<std::size_t> effective_capacity(std::size_t c, cap_mode) {
        if (c == 0) return std::nullopt;
        return c;
    }
    explicit moodycamel_spsc_queue(std::size_t c) : q(c) {}
    void send(item v) { q.wait_enqueue(v); }
    item receive() {
        item v;
        q.wait_dequeue(v);
        return v;
    }
    bool try_send(item v) { return q.try_enqueue(v); }
    bool try_receive(item& out) { return q.try_dequeue(out); }
    moodycamel::BlockingReaderWriterCircularBuffer<item> q;
};
#endif

#ifdef WEFT_BENCH_HAVE_BOOST_FIBER
// Used from plain OS threads: each thread gets Boost.Fiber's implicit main fiber, and a
// blocked push/pop parks the thread in the fiber scheduler.
struct boost_fiber_queue {
    static constexpr std::string_view name = "boost_fiber";
    // buffered_channel(P) needs P a power of two >= 2 and holds P-1 items.
    static std::optional<std::size_t> effective_capacity(std::size_t c, cap_mode m) {
        if (c == 0) return std::nullopt;
        std::size_t p = 2;
        while (p - 1 < c) p *= 2;  // smallest P-1 >= c
        if (m == cap_mode::nearest && p > 2) {
            const std::size_t lo = p / 2 - 1, hi = p - 1;
            if (lo >= 1 && c - lo < hi - c) p /= 2;
        }
        return p - 1;
    }
    explicit boost_fiber_queue(std::size_t c) : ch(c + 1) {}
    void send(item v) { ch.push(v); }
    item receive() {
        item v{};
        ch.pop(v);
        return v;
    }
    bool try_send(item v) { return ch.try_push(v) == boost::fibers::channel_op_status::success; }
    bool try_receive(item& out) {
        return ch.try_pop(out) == boost::fibers::channel_op_status::success;
    }
    boost::fibers::buffered_channel<item> ch;
};
#endif

#ifdef WEFT_BENCH_HAVE_BOOST_THREAD
struct boost_thread_queue {
    static constexpr std::string_view name = "boost_thread";
    static std::optional<std::size_t> effective_capacity(std::size_t c, cap_mode) {
        if (c == 0) return std::nullopt;
        return c;
    }
    explicit boost_thread_queue(std::size_t c) : q(c) {}
    void send(item v) { q.push_back(v); }
    item receive() {
        item v{};
        q.pull_front(v);
        return v;
    }
    bool try_send(item v) {
        return q.try_push_back(v) == boost::concurrent::queue_op_status::success;
    }
    bool try_receive(item& out) {
        return q.try_pull_front(out) == boost::concurrent::queue_op_status::success;
    }
    boost::concurrent::sync_bounded_queue<item> q;
};
#endif

// Stands in for a flavour a column lacks (e.g. only ReaderWriterQueue installed): never registered.
template <class Named>
struct no_queue {
    static constexpr std::string_view name = Named::name;
    static std::optional<std::size_t> effective_capacity(std::size_t, cap_mode) {
        return std::nullopt;
    }
    explicit no_queue(std::size_t) {}
    void send(item) {}
    item receive() { return 0; }
    bool try_send(item) { return false; }
    bool try_receive(item&) { return false; }
};

// A column of the table: the adapter for multi-producer/multi-consumer use, and the one for
// rows where each queue has exactly one producer thread and one consumer thread.
template <bench_queue Mpmc, bench_queue Spsc = Mpmc>
struct family {
    using mpmc = Mpmc;
    using spsc = Spsc;
    static constexpr std::string_view name = Mpmc::name;
};

// The #if lines inside this expression defeat clang-format.
// clang-format off
using all_families = decltype(std::tuple_cat(
    std::tuple<family<weft_queue>, family<mutexcv_queue>>{}
#ifdef WEFT_BENCH_HAVE_TBB
    , std::tuple<family<tbb_queue>>{}
#endif
#if defined(WEFT_BENCH_HAVE_MOODYCAMEL) && defined(WEFT_BENCH_HAVE_READERWRITERQUEUE)
    , std::tuple<family<moodycamel_queue, moodycamel_spsc_queue>>{}
#elif defined(WEFT_BENCH_HAVE_MOODYCAMEL)
    , std::tuple<family<moodycamel_queue>>{}
#elif defined(WEFT_BENCH_HAVE_READERWRITERQUEUE)
    , std::tuple<family<no_queue<moodycamel_spsc_queue>, moodycamel_spsc_queue>>{}
#endif
#ifdef WEFT_BENCH_HAVE_BOOST_FIBER
    , std::tuple<family<boost_fiber_queue>>{}
#endif
#ifdef WEFT_BENCH_HAVE_BOOST_THREAD
    , std::tuple<family<boost_thread_queue>>{}
#endif
    ));
// clang-format on

// ---------------------------------------------------------------------------------------
// Reporting

void finish(benchmark::State& st, std::size_t cap, bool ok) {
    st.SetItemsProcessed(st.iterations());
    st.counters["cap"] = static_cast<double>(cap);
    if (!ok) st.SkipWithError("items lost or duplicated");
}

// The Go-style driver: one run of the workload moves all max_iterations units.
template <class Run>
void drive(benchmark::State& st, std::size_t cap, Run run) {
    const auto n = st.max_iterations;
    bool ok = true;
    while (st.KeepRunningBatch(n)) ok = run(static_cast<std::int64_t>(n)) && ok;
    finish(st, cap, ok);
}

// ---------------------------------------------------------------------------------------
// Workloads over any bench_queue

// p producers send n items in total (values 1..k each), c consumers receive exactly n.
template <bench_queue Q>
bool prodcons(std::int64_t n, std::size_t cap, int p, int c) {
    Q q(cap);
    std::atomic<std::uint64_t> sum{0};
    std::uint64_t expect = 0;
    thread_group g;
    for (int i = 0; i < p; ++i) {
        const std::int64_t k = share(n, p, i);
        expect += static_cast<std::uint64_t>(k) * static_cast<std::uint64_t>(k + 1) / 2;
        g.spawn([&q, k] {
            for (std::int64_t j = 1; j <= k; ++j) q.send(static_cast<item>(j));
        });
    }
    for (int i = 0; i < c; ++i) {
        g.spawn([&q, &sum, k = share(n, c, i)] {
            std::uint64_t s = 0;
            for (std::int64_t j = 0; j < k; ++j) s += q.receive();
            sum.fetch_add(s, std::memory_order_relaxed);
        });
    }
    g.join();
    return sum.load() == expect;
}

// Ping on one queue, pong back on another: n round trips.
template <bench_queue Q>
bool pingpong(std::int64_t n, std::size_t cap) {
    Q ping(cap), pong(cap);
    bool ok = true;
    thread_group g;
    g.spawn([&] {
        for (std::int64_t i = 0; i < n; ++i) {
            ping.send(static_cast<item>(i));
            if (pong.receive() != static_cast<item>(i)) ok = false;
        }
    });
    g.spawn([&] {
        for (std::int64_t i = 0; i < n; ++i) pong.send(ping.receive());
    });
    g.join();
    return ok;
}

// One thread: fill with up to `cap` items, drain, repeat; n send+receive pairs.
template <bench_queue Q>
bool fill_drain(std::int64_t n, std::size_t cap, std::int64_t chunk) {
    Q q(cap);
    bool ok = true;
    for (std::int64_t done = 0; done < n; done += chunk) {
        const std::int64_t k = std::min(chunk, n - done);
        for (std::int64_t i = 0; i < k; ++i) q.send(static_cast<item>(i));
        for (std::int64_t i = 0; i < k; ++i) ok = (q.receive() == static_cast<item>(i)) && ok;
    }
    return ok;
}

// runtime/chan_test.go BenchmarkChanNonblocking: a failing non-blocking receive per op.
template <bench_queue Q>
bool chan_nonblocking(std::int64_t n, std::size_t cap) {
    Q q(cap);
    std::atomic<bool> got{false};
    run_parallel(n, kProcs, [&] {
        return [&](std::int64_t k) {
            item v;
            for (std::int64_t i = 0; i < k; ++i)
                if (q.try_receive(v)) got = true;
        };
    });
    return !got.load();
}

// BenchmarkChanUncontended: each thread fills and drains its own cap-100 queue per op.
template <bench_queue Q>
bool chan_uncontended(std::int64_t n, std::size_t cap) {
    run_parallel(n, kProcs, [cap] {
        return [q = std::make_unique<Q>(cap)](std::int64_t k) {
            for (std::int64_t op = 0; op < k; ++op) {
                for (int i = 0; i < 100; ++i) q->send(0);
                for (int i = 0; i < 100; ++i) benchmark::DoNotOptimize(q->receive());
            }
        };
    });
    return true;
}

// BenchmarkChanContended: the threads share one queue of cap 100*procs.
template <bench_queue Q>
bool chan_contended(std::int64_t n, std::size_t cap) {
    Q q(cap);
    run_parallel(n, kProcs, [&] {
        return [&](std::int64_t k) {
            for (std::int64_t op = 0; op < k; ++op) {
                for (int i = 0; i < 100; ++i) q.send(0);
                for (int i = 0; i < 100; ++i) benchmark::DoNotOptimize(q.receive());
            }
        };
    });
    return true;
}

// BenchmarkChanSync: two threads both send and receive on one rendezvous queue.
template <bench_queue Q>
bool chan_sync(std::int64_t n, std::size_t cap) {
    Q q(cap);
    std::atomic<std::int64_t> chunks{n / kCallsPerSched / kProcs * kProcs};
    thread_group g;
    for (int p = 0; p < kProcs; ++p) {
        g.spawn([&] {
            for (;;) {
                const std::int64_t k = chunks.fetch_sub(1) - 1;
                if (k < 0) return;
                for (int i = 0; i < kCallsPerSched; ++i) {
                    if (k % 2 == 0) {
                        (void)q.receive();
                        q.send(0);
                    } else {
                        q.send(0);
                        (void)q.receive();
                    }
                }
            }
        });
    }
    g.join();
    return true;
}

// BenchmarkChanProdCons{0,10,100}: procs producers take chunks of 1000 sends and end with a
// 0 sentinel; procs consumers each stop at the first 0.
template <bench_queue Q>
bool chan_prodcons(std::int64_t n, std::size_t cap) {
    Q q(cap);
    std::atomic<std::int64_t> chunks{n / kCallsPerSched};
    std::atomic<std::int64_t> sent{0}, received{0};
    thread_group g;
    for (int p = 0; p < kProcs; ++p) {
        g.spawn([&] {
            std::int64_t s = 0;
            while (chunks.fetch_sub(1) - 1 >= 0) {
                for (int i = 0; i < kCallsPerSched; ++i) q.send(1);
                s += kCallsPerSched;
            }
            q.send(0);
            sent += s;
        });
        g.spawn([&] {
            std::int64_t r = 0;
            while (q.receive() != 0) ++r;
            received += r;
        });
    }
    g.join();
    return sent.load() == received.load();
}

// crossbeam-channel/benchmarks/go.go shapes, THREADS = 4. crossbeam's "bounded" rows use a
// channel as big as the whole run (cap = MESSAGES); here the run is cut into rounds of at most
// kRound messages, each on a fresh queue with room for all of that round's messages (see
// benchmarks/go/crossbeam_test.go). Other rows: one round of n messages at capacity `cap`.
constexpr int kCbThreads = 4;
constexpr std::int64_t kRound = std::int64_t{1} << 20;

template <bench_queue Q, class Shape>
bool crossbeam_rounds(std::int64_t n, std::size_t cap, bool bounded, Shape shape) {
    if (!bounded) return shape(n, cap);
    bool ok = true;
    for (std::int64_t done = 0; done < n; done += kRound) {
        const std::int64_t k = std::min(kRound, n - done);
        ok =
            shape(k, *Q::effective_capacity(static_cast<std::size_t>(k), cap_mode::at_least)) && ok;
    }
    return ok;
}

// ---------------------------------------------------------------------------------------
// weft-only workloads: select

using weft_int_chan = weft::channel<int>;

// BenchmarkChanNonblocking written as Go writes it, select with default.
bool weft_chan_nonblocking_select(std::int64_t n) {
    weft_int_chan ch(0);
    std::atomic<bool> got{false};
    run_parallel(n, kProcs, [&] {
        return [&](std::int64_t k) {
            for (std::int64_t i = 0; i < k; ++i)
                weft::select(weft::on_receive(ch, [&] { got = true; }), weft::otherwise([] {}));
        };
    });
    return !got.load();
}

// BenchmarkSelectUncontended
bool weft_select_uncontended(std::int64_t n) {
    run_parallel(n, kProcs, [] {
        auto c1 = std::make_unique<weft_int_chan>(1);
        auto c2 = std::make_unique<weft_int_chan>(1);
        (void)c1->send(0);
        return [c1 = std::move(c1), c2 = std::move(c2)](std::int64_t k) {
            weft_int_chan& a = *c1;
            weft_int_chan& b = *c2;
            for (std::int64_t i = 0; i < k; ++i)
                weft::select(weft::on_receive(a, [&] { (void)b.send(0); }),
                             weft::on_receive(b, [&] { (void)a.send(0); }));
        };
    });
    return true;
}

// BenchmarkSelectSyncContended: per parallel thread a helper thread selects over three sends
// (and a done channel); the parallel thread selects over the three receives.
bool weft_select_sync_contended(std::int64_t n) {
    weft_int_chan c1(0), c2(0), c3(0), done(0);
    thread_group helpers;
    std::mutex hm;
    run_parallel(n, kProcs, [&] {
        {
            std::lock_guard lk(hm);
            helpers.spawn([&] {
                bool stop = false;
                while (!stop)
                    weft::select(weft::on_send(c1, 0, [] {}), weft::on_send(c2, 0, [] {}),
                                 weft::on_send(c3, 0, [] {}),
                                 weft::on_receive(done, [&] { stop = true; }));
            });
        }
        return [&](std::int64_t k) {
            for (std::int64_t i = 0; i < k; ++i)
                weft::select(weft::on_receive(c1, [] {}), weft::on_receive(c2, [] {}),
                             weft::on_receive(c3, [] {}));
        };
    });
    done.close();
    helpers.join();
    return true;
}

// BenchmarkSelectProdCons: like ChanProdCons at cap 128 with 100 units of local work per
// item, every send/receive a select that also watches a 1-hour timer and a channel that is
// never closed.
bool weft_select_prodcons(std::int64_t n) {
    weft_int_chan ch(128);
    weft::channel<bool> never(0);
    std::atomic<std::int64_t> chunks{n / kCallsPerSched};
    std::atomic<std::int64_t> sent{0}, received{0};
    thread_group g;
    for (int p = 0; p < kProcs; ++p) {
        g.spawn([&] {
            int foo = 0;
            std::int64_t s = 0;
            auto timer = weft::after(std::chrono::hours(1));
            while (chunks.fetch_sub(1) - 1 >= 0) {
                for (int i = 0; i < kCallsPerSched; ++i) {
                    foo = local_work(foo, 100);
                    weft::select(weft::on_send(ch, 1, [&] { ++s; }), weft::on_receive(timer, [] {}),
                                 weft::on_receive(never, [] {}));
                }
            }
            (void)ch.send(0);
            sent += s;
            sink(foo);
        });
        g.spawn([&] {
            int foo = 0;
            std::int64_t r = 0;
            auto timer = weft::after(std::chrono::hours(1));
            bool stop = false;
            while (!stop) {
                weft::select(weft::on_receive(ch,
                                              [&](std::optional<int> v) {
                                                  if (!v || *v == 0)
                                                      stop = true;
                                                  else
                                                      ++r;
                                              }),
                             weft::on_receive(timer, [] {}), weft::on_receive(never, [] {}));
                if (!stop) foo = local_work(foo, 100);
            }
            received += r;
            sink(foo);
        });
    }
    g.join();
    return sent.load() == received.load();
}

// BenchmarkSelectNonblock as Go executes it: a one-case select with default compiles to a
// non-blocking channel operation.
bool weft_select_nonblock(std::int64_t n) {
    weft_int_chan c1(0), c2(0), c3(1), c4(1);
    run_parallel(n, kProcs, [&] {
        return [&](std::int64_t k) {
            for (std::int64_t i = 0; i < k; ++i) {
                (void)c1.try_receive();
                (void)c2.try_send(0);
                (void)c3.try_receive();
                (void)c4.try_send(0);
            }
        };
    });
    return true;
}

// BenchmarkSelectNonblock with weft::select(case, otherwise) for each of the four.
bool weft_select_nonblock_select(std::int64_t n) {
    weft_int_chan c1(0), c2(0), c3(1), c4(1);
    run_parallel(n, kProcs, [&] {
        return [&](std::int64_t k) {
            for (std::int64_t i = 0; i < k; ++i) {
                weft::select(weft::on_receive(c1, [] {}), weft::otherwise([] {}));
                weft::select(weft::on_send(c2, 0, [] {}), weft::otherwise([] {}));
                weft::select(weft::on_receive(c3, [] {}), weft::otherwise([] {}));
                weft::select(weft::on_send(c4, 0, [] {}), weft::otherwise([] {}));
            }
        };
    });
    return true;
}

// BenchmarkChanPopular: 1000 threads each select on a shared channel that never fires and
// their own; one op = one send to each of them.
bool weft_chan_popular(std::int64_t n) {
    constexpr int kWaiters = 1000;
    weft::channel<bool> popular(0);
    std::vector<weft::channel<bool>> own;
    own.reserve(kWaiters);
    for (int j = 0; j < kWaiters; ++j) own.emplace_back(0);
    std::atomic<std::int64_t> fired{0};
    thread_group g;
    for (int j = 0; j < kWaiters; ++j) {
        g.spawn([&, d = own[j]] {
            std::int64_t f = 0;
            for (std::int64_t i = 0; i < n; ++i)
                weft::select(weft::on_receive(popular, [] {}), weft::on_receive(d, [&] { ++f; }));
            fired += f;
        });
    }
    g.spawn([&] {
        for (std::int64_t i = 0; i < n; ++i)
            for (auto& d : own) (void)d.send(true);
    });
    g.join();
    return fired.load() == n * kWaiters;
}

// crossbeam select_rx / select_both: one producer per channel on 4 channels, `consumers`
// threads each select over all 4 until together they have received n messages.
bool weft_crossbeam_select(std::int64_t n, std::size_t cap, int consumers) {
    std::vector<weft::channel<item>> chans;
    for (int i = 0; i < kCbThreads; ++i) chans.emplace_back(cap);
    std::atomic<std::uint64_t> sum{0};
    std::uint64_t expect = 0;
    thread_group g;
    for (int i = 0; i < kCbThreads; ++i) {
        const std::int64_t k = share(n, kCbThreads, i);
        expect += static_cast<std::uint64_t>(k) * static_cast<std::uint64_t>(k + 1) / 2;
        g.spawn([ch = chans[i], k]() mutable {
            for (std::int64_t j = 1; j <= k; ++j) (void)ch.send(static_cast<item>(j));
        });
    }
    for (int i = 0; i < consumers; ++i) {
        g.spawn([&, k = share(n, consumers, i)] {
            std::uint64_t s = 0;
            auto add = [&](std::optional<item> v) { s += v.value_or(0); };
            for (std::int64_t j = 0; j < k; ++j)
                weft::select(weft::on_receive(chans[0], add), weft::on_receive(chans[1], add),
                             weft::on_receive(chans[2], add), weft::on_receive(chans[3], add));
            sum.fetch_add(s);
        });
    }
    g.join();
    return sum.load() == expect;
}

// ---------------------------------------------------------------------------------------
// Registration: workload-major, so that a workload's queues run one after another.

template <class Tuple, class F>
void for_each_type(F&& f) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (f.template operator()<std::tuple_element_t<I, Tuple>>(), ...);
    }(std::make_index_sequence<std::tuple_size_v<Tuple>>{});
}

template <class Fn>
void add(const std::string& name, Fn fn) {
    benchmark::RegisterBenchmark(name.c_str(), std::move(fn))
        ->UseRealTime()
        ->Unit(benchmark::kNanosecond);
}

// Registers `workload/<queue>` for every family whose adapter Q (picked by pick) can do the
// capacity; run(Q-tag, n, cap) -> bool runs the workload once with n units.
template <bool Spsc, class Run>
void add_all(const std::string& workload, std::size_t cap, cap_mode mode, Run run) {
    for_each_type<all_families>([&]<class Fam>() {
        using Q = std::conditional_t<Spsc, typename Fam::spsc, typename Fam::mpmc>;
        const auto eff = Q::effective_capacity(cap, mode);
        if (!eff) return;  // e.g. no rendezvous
        add(workload + "/" + std::string(Fam::name), [run, c = *eff](benchmark::State& st) {
            drive(st, c, [&](std::int64_t n) { return run.template operator()<Q>(n, c); });
        });
    });
}

template <class Fn>
void add_weft(const std::string& workload, std::size_t cap, Fn fn) {
    add(workload + "/weft", [fn, cap](benchmark::State& st) { drive(st, cap, fn); });
}

void register_all() {
    constexpr bool spsc = true, mpmc = false;
    const auto nearest = cap_mode::nearest, at_least = cap_mode::at_least;

    // BENCH.md's table. The 1p1c rows have one producer and one consumer thread.
    for (int pc : {1, 2}) {
        for (std::size_t cap : {0, 10, 100, 1024}) {
            const std::string w = "ProdCons/" + std::to_string(pc) + "p" + std::to_string(pc) +
                                  "c/cap" + std::to_string(cap);
            auto run = [pc]<class Q>(std::int64_t n, std::size_t c) {
                return prodcons<Q>(n, c, pc, pc);
            };
            if (pc == 1)
                add_all<spsc>(w, cap, nearest, run);
            else
                add_all<mpmc>(w, cap, nearest, run);
        }
    }
    // Oversubscribed: 16 busy threads on 2 cores.
    add_all<mpmc>("ProdCons/8p8c/cap100", 100, nearest,
                  []<class Q>(std::int64_t n, std::size_t c) { return prodcons<Q>(n, c, 8, 8); });
    for (std::size_t cap : {0, 1})
        add_all<spsc>("PingPong/cap" + std::to_string(cap), cap, nearest,
                      []<class Q>(std::int64_t n, std::size_t c) { return pingpong<Q>(n, c); });
    add_all<spsc>("Uncontended/cap100", 100, at_least,
                  []<class Q>(std::int64_t n, std::size_t c) { return fill_drain<Q>(n, c, 100); });

    // Go's runtime/chan_test.go.
    {
        // Peers without a rendezvous poll an empty queue of the smallest capacity they have.
        auto run = []<class Q>(std::int64_t n, std::size_t c) { return chan_nonblocking<Q>(n, c); };
        for_each_type<all_families>([&]<class Fam>() {
            using Q = typename Fam::mpmc;
            auto eff = Q::effective_capacity(0, at_least);
            if (!eff) eff = Q::effective_capacity(1, at_least);
            add("ChanNonblocking/" + std::string(Fam::name), [run, c = *eff](benchmark::State& st) {
                drive(st, c, [&](std::int64_t n) { return run.template operator()<Q>(n, c); });
            });
        });
    }
    add_weft("ChanNonblocking_select", 0, weft_chan_nonblocking_select);
    add_all<spsc>("ChanUncontended", 100, at_least,
                  []<class Q>(std::int64_t n, std::size_t c) { return chan_uncontended<Q>(n, c); });
    add_all<mpmc>("ChanContended", 100 * kProcs, at_least,
                  []<class Q>(std::int64_t n, std::size_t c) { return chan_contended<Q>(n, c); });
    add_all<mpmc>("ChanSync", 0, nearest,
                  []<class Q>(std::int64_t n, std::size_t c) { return chan_sync<Q>(n, c); });
    for (std::size_t cap : {0, 10, 100})
        add_all<mpmc>(
            "ChanProdCons" + std::to_string(cap), cap, nearest,
            []<class Q>(std::int64_t n, std::size_t c) { return chan_prodcons<Q>(n, c); });
    add_weft("ChanPopular", 0, weft_chan_popular);
    add_weft("SelectUncontended", 1, weft_select_uncontended);
    add_weft("SelectSyncContended", 0, weft_select_sync_contended);
    add_weft("SelectProdCons", 128, weft_select_prodcons);
    add_weft("SelectNonblock", 1, weft_select_nonblock);
    add_weft("SelectNonblock_select", 1, weft_select_nonblock_select);

    // crossbeam-channel/benchmarks/go.go shapes.
    struct cb_cap {
        const char* prefix;
        std::size_t cap;
        bool bounded;
    };
    for (const cb_cap cc : {cb_cap{"bounded0", 0, false}, cb_cap{"bounded1", 1, false},
                            cb_cap{"bounded", static_cast<std::size_t>(kRound), true}}) {
        const std::string p = std::string("Crossbeam/") + cc.prefix + "_";
        const bool b = cc.bounded;
        add_all<mpmc>(p + "mpmc", cc.cap, at_least, [b]<class Q>(std::int64_t n, std::size_t c) {
            return crossbeam_rounds<Q>(n, c, b, [](std::int64_t k, std::size_t kc) {
                return prodcons<Q>(k, kc, kCbThreads, kCbThreads);
            });
        });
        add_all<mpmc>(p + "mpsc", cc.cap, at_least, [b]<class Q>(std::int64_t n, std::size_t c) {
            return crossbeam_rounds<Q>(n, c, b, [](std::int64_t k, std::size_t kc) {
                return prodcons<Q>(k, kc, kCbThreads, 1);
            });
        });
        add_weft(p + "select_both", cc.cap, [cc](std::int64_t n) {
            return crossbeam_rounds<weft_queue>(n, cc.cap, cc.bounded,
                                                [](std::int64_t k, std::size_t kc) {
                                                    return weft_crossbeam_select(k, kc, kCbThreads);
                                                });
        });
        add_weft(p + "select_rx", cc.cap, [cc](std::int64_t n) {
            return crossbeam_rounds<weft_queue>(
                n, cc.cap, cc.bounded,
                [](std::int64_t k, std::size_t kc) { return weft_crossbeam_select(k, kc, 1); });
        });
        if (cc.bounded)  // seq needs a queue that holds the whole round (crossbeam has it only
                         // there)
            add_all<spsc>(p + "seq", cc.cap, at_least, []<class Q>(std::int64_t n, std::size_t c) {
                return crossbeam_rounds<Q>(n, c, true, [](std::int64_t k, std::size_t kc) {
                    return fill_drain<Q>(k, kc, k);
                });
            });
        add_all<spsc>(p + "spsc", cc.cap, at_least, [b]<class Q>(std::int64_t n, std::size_t c) {
            return crossbeam_rounds<Q>(
                n, c, b, [](std::int64_t k, std::size_t kc) { return prodcons<Q>(k, kc, 1, 1); });
        });
    }
}

}  // namespace wb

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    wb::register_all();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
