// benchmarks/floors_bench.cpp - the floors of BENCH.md: one cross-thread round trip with no
// queue at all, by three hand-off mechanisms. ns per round trip (real time).
//
//   Floor/spin         two threads spinning on one atomic (with a CPU pause hint)
//   Floor/atomic_wait  std::atomic<int>::wait / notify_one (libstdc++ spins briefly, then futex)
//   Floor/futex        raw futex(2) FUTEX_WAIT_PRIVATE / FUTEX_WAKE_PRIVATE, no spinning
//   Floor/cas          one thread, one uncontended compare-and-swap (a locked instruction):
//                      the price every multi-producer/multi-consumer send or receive pays once
//
// Each is a ping-pong between two std::threads on one 32-bit word: thread A publishes an odd
// value and waits for the next even one, thread B waits for odd and publishes even. A run of N
// iterations is N round trips (Go-style driver, as in channel_bench.cpp).
//
// Build by hand: g++ -O2 -std=c++20 benchmarks/floors_bench.cpp -o floors_bench -lbenchmark
// -lpthread

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <thread>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#define WEFT_BENCH_HAVE_FUTEX 1
#endif

namespace {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

// Runs a(n) and b(n) on two threads, n = all iterations of this run.
template <class A, class B>
void ping_pong(benchmark::State& st, A a, B b) {
    const auto n = st.max_iterations;
    while (st.KeepRunningBatch(n)) {
        const auto rounds = static_cast<std::uint32_t>(n);
        std::thread ta([&] { a(rounds); });
        std::thread tb([&] { b(rounds); });
        ta.join();
        tb.join();
    }
    st.SetItemsProcessed(st.iterations());
}

// Values wrap at 2^32; only equality is tested, so wrapping is harmless.
void BM_spin(benchmark::State& st) {
    std::atomic<std::uint32_t> word{0};
    ping_pong(
        st,
        [&](std::uint32_t n) {
            for (std::uint32_t i = 0; i < n; ++i) {
                word.store(2 * i + 1, std::memory_order_release);
                while (word.load(std::memory_order_acquire) != 2 * i + 2) cpu_relax();
            }
        },
        [&](std::uint32_t n) {
            for (std::uint32_t i = 0; i < n; ++i) {
                while (word.load(std::memory_order_acquire) != 2 * i + 1) cpu_relax();
                word.store(2 * i + 2, std::memory_order_release);
            }
        });
}

void BM_atomic_wait(benchmark::State& st) {
    std::atomic<std::uint32_t> word{0};  // 32-bit: libstdc++ waits on the word itself (futex)
    ping_pong(
        st,
        [&](std::uint32_t n) {
            for (std::uint32_t i = 0; i < n; ++i) {
                word.store(2 * i + 1, std::memory_order_release);
                word.notify_one();
                word.wait(2 * i + 1, std::memory_order_acquire);  // returns once it changed
            }
        },
        [&](std::uint32_t n) {
            for (std::uint32_t i = 0; i < n; ++i) {
                for (std::uint32_t v; (v = word.load(std::memory_order_acquire)) != 2 * i + 1;)
                    word.wait(v, std::memory_order_acquire);
                word.store(2 * i + 2, std::memory_order_release);
                word.notify_one();
            }
        });
}

#ifdef WEFT_BENCH_HAVE_FUTEX
long futex(std::atomic<std::uint32_t>& w, int op, std::uint32_t val) {
    return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&w), op, val, nullptr, nullptr, 0);
}

void BM_futex(benchmark::State& st) {
    std::atomic<std::uint32_t> word{0};
    static_assert(sizeof(word) == sizeof(std::uint32_t));
    ping_pong(
        st,
        [&](std::uint32_t n) {
            for (std::uint32_t i = 0; i < n; ++i) {
                word.store(2 * i + 1, std::memory_order_release);
                futex(word, FUTEX_WAKE_PRIVATE, 1);
                while (word.load(std::memory_order_acquire) == 2 * i + 1)
                    futex(word, FUTEX_WAIT_PRIVATE, 2 * i + 1);
            }
        },
        [&](std::uint32_t n) {
            for (std::uint32_t i = 0; i < n; ++i) {
                for (std::uint32_t v; (v = word.load(std::memory_order_acquire)) != 2 * i + 1;)
                    futex(word, FUTEX_WAIT_PRIVATE, v);
                word.store(2 * i + 2, std::memory_order_release);
                futex(word, FUTEX_WAKE_PRIVATE, 1);
            }
        });
}
#endif

// A dependent chain of uncontended CASes on one word: the cost of one locked instruction.
void BM_cas(benchmark::State& st) {
    std::atomic<std::uint64_t> word{0};
    std::uint64_t x = 0;
    for (auto _ : st) {
        std::uint64_t expected = x;
        word.compare_exchange_strong(expected, x + 1);
        ++x;
    }
    benchmark::DoNotOptimize(word.load());
}

}  // namespace

BENCHMARK(BM_cas)->Name("Floor/cas")->Unit(benchmark::kNanosecond);
BENCHMARK(BM_spin)->Name("Floor/spin")->UseRealTime()->Unit(benchmark::kNanosecond);
BENCHMARK(BM_atomic_wait)->Name("Floor/atomic_wait")->UseRealTime()->Unit(benchmark::kNanosecond);
#ifdef WEFT_BENCH_HAVE_FUTEX
BENCHMARK(BM_futex)->Name("Floor/futex")->UseRealTime()->Unit(benchmark::kNanosecond);
#endif

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
