// examples/semaphore.cpp - weft::semaphore, Go's golang.org/x/sync/semaphore: a worker pool
// bounded by tokens, weighted jobs under a budget, a timeout, FIFO fairness (a writer among
// readers), a request larger than the semaphore, a context that is already done, and misuse.
//
// Deterministic: stdout is compared with examples/semaphore.expected. docs/patterns/semaphore.md
// quotes these functions verbatim; keep the two in step. The Go original is
// examples/go/semaphore/main.go.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <weft/channel.hpp>
#include <weft/context.hpp>
#include <weft/go.hpp>
#include <weft/semaphore.hpp>
#include <weft/wait_group.hpp>

using namespace std::chrono_literals;

// The number of steps from n to 1 under the Collatz conjecture.
int collatz_steps(long n) {
    int steps = 0;
    for (; n > 1; ++steps) n = n % 2 == 0 ? n / 2 : 3 * n + 1;
    return steps;
}

// x/sync's Example_workerPool: at most max_workers threads at a time, and no pool to shut down
// afterwards.
void worker_pool() {
    auto ctx = weft::todo();
    const std::int64_t max_workers = 4;
    weft::semaphore sem(max_workers);
    std::vector<int> out(32);

    for (std::size_t i = 0; i < out.size(); ++i) {
        // With max_workers threads in flight, acquire waits until one of them finishes.
        if (auto ec = sem.acquire(ctx, 1)) {
            std::printf("failed to acquire semaphore: %s\n", ec.message().c_str());
            break;
        }
        weft::go([&sem, &out, i] {
            out[i] = collatz_steps(static_cast<long>(i) + 1);
            sem.release(1);
        });
    }
    // Acquiring every token waits for the workers still running.
    if (auto ec = sem.acquire(ctx, max_workers)) {
        std::printf("failed to acquire semaphore: %s\n", ec.message().c_str());
    }
    std::printf("[");
    for (std::size_t i = 0; i < out.size(); ++i) std::printf(i == 0 ? "%d" : " %d", out[i]);
    std::printf("]\n");
}

// Weights: jobs of different sizes share a budget; a job starts when its size fits.
void memory_budget() {
    const std::int64_t budget_mb = 10;
    weft::semaphore sem(budget_mb);
    std::atomic<std::int64_t> in_use{0}, peak{0};
    weft::wait_group wg;
    for (std::int64_t mb : {6, 3, 8, 2, 5, 4, 7, 1}) {
        sem.acquire(mb);  // waits until mb more fit in the budget
        wg.go([&, mb] {
            const std::int64_t now = in_use.fetch_add(mb) + mb;
            std::int64_t seen = peak.load();
            while (now > seen && !peak.compare_exchange_weak(seen, now)) {}
            std::this_thread::sleep_for(2ms);  // the job's work
            in_use.fetch_sub(mb);
            sem.release(mb);
        });
    }
    wg.wait();
    std::printf("8 jobs of 1..8 MB in a %lld MB budget: peak within budget: %s\n",
                static_cast<long long>(budget_mb), peak.load() <= budget_mb ? "yes" : "no");
}

// A deadline bounds the wait; a failed acquire takes nothing.
void timeout() {
    weft::semaphore sem(1);
    sem.acquire(1);  // the one token is busy
    auto [ctx, cancel] = weft::with_timeout(weft::background(), 20ms);
    const std::error_code ec = sem.acquire(ctx, 1);
    std::printf("acquire: %s (timed out: %s)\n", ec.message().c_str(),
                ec == std::errc::timed_out ? "yes" : "no");
    sem.release(1);
    std::printf("  after release: try_acquire(1) = %s\n", sem.try_acquire(1) ? "true" : "false");
}

// FIFO: a big request is not starved by a stream of small ones. Four tokens as a read-write
// lock: a reader takes 1, the writer takes all 4. Once the writer waits, no reader overtakes it.
void writer_among_readers() {
    const std::int64_t n = 4;
    weft::semaphore sem(n);
    std::atomic<bool> stop{false};
    weft::wait_group readers;
    for (int r = 0; r < 4; ++r) {
        readers.go([&] {
            while (!stop.load()) {
                sem.acquire(1);
                std::this_thread::sleep_for(1ms);  // read
                sem.release(1);
            }
        });
    }
    std::this_thread::sleep_for(10ms);  // readers come and go all the time now
    sem.acquire(n);
    std::printf("writer: got all %lld tokens while readers kept coming\n",
                static_cast<long long>(n));
    stop.store(true);
    sem.release(n);
    readers.wait();
}

// A request larger than the semaphore can never succeed: it waits for its context, and it does
// not hold up the requests behind it.
void too_big() {
    weft::semaphore sem(4);
    auto big = weft::with_cancel(weft::background());
    weft::channel<std::string> result(1);
    weft::go([&sem, ctx = big.ctx, result]() { result.send(sem.acquire(ctx, 5).message()); });
    sem.acquire(1);  // not held up by the acquire(5)
    sem.release(1);
    std::printf("acquire(1) while acquire(5) waits: ok\n");
    big.cancel();
    std::printf("acquire(5) on a semaphore of 4: %s\n", result.receive()->c_str());
}

// A context that is already done fails the acquire, even with every token free.
void already_done() {
    weft::semaphore sem(4);
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    cancel();
    std::printf("acquire on a canceled context, 4 tokens free: %s\n",
                sem.acquire(ctx, 1).message().c_str());
}

// Releasing more than is held is a bug in the caller: Go panics, weft throws and changes nothing.
void misuse() {
    weft::semaphore sem(2);
    try {
        sem.release(1);
    } catch (const std::logic_error& e) {
        std::printf("release(1) with nothing held: %s\n", e.what());
    }
    std::printf("  still free: try_acquire(2) = %s\n", sem.try_acquire(2) ? "true" : "false");
}

int main() {
    worker_pool();
    memory_budget();
    timeout();
    writer_among_readers();
    too_big();
    already_done();
    misuse();
}
