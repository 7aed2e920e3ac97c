// examples/demo.cpp - weft's runnable pattern demo (scripts/demo.sh builds and runs it).
//
//   generate 1..n  ->  square (3 workers)  ->  sum
//
// Each stage is a goroutine (weft::wait_group::go) connected to the next by a buffered
// channel; closing a channel ends the next stage's range-for, and closing `done` tells every
// stage to stop early (Go's pipeline pattern, go.dev/blog/pipelines). Then a select with a
// timeout abandons a slow call without losing its result.
//
// stdout is deterministic (compared with examples/demo.expected); timings go to stderr.
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <vector>

#include <weft/channel.hpp>
#include <weft/select.hpp>
#include <weft/time.hpp>
#include <weft/wait_group.hpp>

using namespace std::chrono_literals;

// Sends 1..n, stopping early if `done` is closed; closes its output either way.
weft::receiver<int> generate(int n, weft::receiver<bool> done, weft::wait_group& stages) {
    weft::channel<int> out(16);
    stages.go([out, n, done]() {
        for (int i = 1; i <= n; ++i) {
            bool stop = false;
            weft::select(weft::on_send(out, i, [] {}),
                         weft::on_receive(done, [&] { stop = true; }));
            if (stop) break;
        }
        out.close();
    });
    return out;
}

// `workers` goroutines square what they receive; the output closes when the last one ends.
weft::receiver<long> square(weft::receiver<int> in, weft::receiver<bool> done,
                            std::vector<int>& per_worker, weft::wait_group& stages) {
    weft::channel<long> out(16);
    auto workers = std::make_shared<weft::wait_group>();
    for (int& count : per_worker) {
        workers->go([in, out, done, &count]() {
            for (int v : in) {
                long sq = long{v} * v;
                bool stop = false;
                weft::select(weft::on_send(out, sq, [&] { ++count; }),
                             weft::on_receive(done, [&] { stop = true; }));
                if (stop) return;
            }
        });
    }
    stages.go([workers, out]() {  // Go: go func() { wg.Wait(); close(out) }()
        workers->wait();
        out.close();
    });
    return out;
}

struct report {
    long sum = 0;
    int received = 0;
    std::vector<int> per_worker;
};

// Runs the pipeline over 1..n; the consumer stops after `limit` squares (0: take them all).
report run_pipeline(int n, int limit) {
    weft::channel<bool> done(0);  // never sent on: closing it is the broadcast "stop"
    weft::wait_group stages;
    report r;
    r.per_worker.assign(3, 0);
    auto squares = square(generate(n, done, stages), done, r.per_worker, stages);
    for (long sq : squares) {
        r.sum += sq;
        if (++r.received == limit) break;
    }
    done.close();   // stops whatever still runs; harmless if everything has finished
    stages.wait();  // no goroutine is left behind
    return r;
}

// A call that may be slow: its answer is abandoned after `patience`, never lost.
void timeouts() {
    weft::channel<int> fast(1), slow(1);
    weft::channel<bool> release(0);
    weft::wait_group calls;
    calls.go([fast]() { fast.send(42); });
    calls.go([slow, release]() {
        (void)release.receive();  // answers only once released, i.e. after the timeout
        slow.send(7);
    });

    weft::timer patience(10s);  // generous: the fast call answers long before
    weft::select(
        weft::on_receive(fast, [](std::optional<int> v) { std::printf("  fast call: %d\n", *v); }),
        weft::on_receive(patience.chan(), [] { std::printf("  fast call: timed out\n"); }));

    weft::select(weft::on_receive(slow, [](std::optional<int> v) { std::printf("  %d\n", *v); }),
                 weft::on_receive(weft::after(50ms),
                                  [] { std::printf("  slow call: no answer within 50ms\n"); }));
    release.close();
    std::printf("  slow call, later: %d (kept in its channel, not lost)\n", *slow.receive());
    calls.wait();
}

int main() {
    using clock = std::chrono::steady_clock;
    const int n = 1000;
    std::printf("pipeline: generate 1..%d -> square (3 workers) -> sum\n", n);
    auto t0 = clock::now();
    report all = run_pipeline(n, 0);
    auto t1 = clock::now();
    long expected = long{n} * (n + 1) * (2 * n + 1) / 6;
    int shared = 0;
    for (int c : all.per_worker) shared += c;
    std::printf("  %d squares, sum %ld (n(n+1)(2n+1)/6 = %ld): %s\n", all.received, all.sum,
                expected, all.sum == expected ? "ok" : "WRONG");
    std::printf("  the 3 workers squared %d numbers between them\n", shared);

    report early = run_pipeline(1'000'000, 10);
    std::printf("stopped early: took %d squares of 1..1000000, closed `done`, every stage exited\n",
                early.received);

    std::printf("select with a timeout:\n");
    timeouts();

    std::fflush(stdout);  // timings last, and apart: they differ from run to run
    std::fprintf(stderr, "[demo] pipeline of %d: %.2f ms; squares per worker: %d / %d / %d\n", n,
                 std::chrono::duration<double, std::milli>(t1 - t0).count(), all.per_worker[0],
                 all.per_worker[1], all.per_worker[2]);
}
