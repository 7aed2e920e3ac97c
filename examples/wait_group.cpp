// examples/wait_group.cpp - weft::wait_group, Go's sync.WaitGroup: fan out and wait, wg.go,
// closing a results channel once every worker is done, a wait with a timeout, reuse, and what
// happens on misuse.
//
// Deterministic: stdout is compared with examples/wait_group.expected. docs/patterns/wait_group.md
// quotes these functions verbatim; keep the two in step.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <weft/channel.hpp>
#include <weft/go.hpp>
#include <weft/wait_group.hpp>

using namespace std::chrono_literals;

// add before starting, done when finished, wait for all of them.
void fan_out() {
    std::vector<int> squares(5);
    weft::wait_group wg;
    for (int i = 0; i < 5; ++i) {
        wg.add(1);  // before the thread starts, never inside it
        weft::go([&wg, &squares, i] {
            squares[static_cast<std::size_t>(i)] = (i + 1) * (i + 1);
            wg.done();
        });
    }
    wg.wait();  // every done() happens before wait() returns: the writes are visible
    std::printf("squares:");
    for (int s : squares) std::printf(" %d", s);
    std::printf("\n");
}

// wg.go(f, args...) is add(1) + go + done() when f returns (Go 1.25's wg.Go).
void with_go() {
    std::vector<int> lengths(3);
    weft::wait_group wg;
    const char* words[] = {"go", "weft", "channel"};
    for (std::size_t i = 0; i < 3; ++i)
        wg.go([&lengths](std::size_t k,
                         const char* w) { lengths[k] = static_cast<int>(std::strlen(w)); },
              i, words[i]);
    wg.wait();
    std::printf("lengths: %d %d %d\n", lengths[0], lengths[1], lengths[2]);
}

// Close the results channel once every producer is done, so the consumer's loop ends.
void close_when_done() {
    weft::channel<int> results(0);
    weft::wait_group wg;
    for (int w = 1; w <= 4; ++w) wg.go([results, w]() { results.send(w * 100); });
    weft::go([&wg, results]() {
        wg.wait();
        results.close();
    });
    int sum = 0, n = 0;
    for (int r : results) {
        sum += r;
        ++n;
    }
    std::printf("results: %d values, sum %d\n", n, sum);
}

// wait_for gives up after a while; the counter is untouched.
void timed_wait() {
    weft::wait_group wg;
    wg.add(1);
    bool finished = wg.wait_for(20ms);
    std::printf("wait_for(20ms) with one task running: %s\n", finished ? "done" : "timed out");
    wg.done();
    finished = wg.wait_for(20ms);
    std::printf("  after done(): %s\n", finished ? "done" : "timed out");
}

// Once wait() has returned, the same wait_group can count a new round.
void reuse() {
    weft::wait_group wg;
    for (int round = 1; round <= 2; ++round) {
        int hits[3] = {};
        for (int& h : hits) wg.go([&h] { h = 1; });
        wg.wait();
        std::printf("round %d: %d tasks done\n", round, hits[0] + hits[1] + hits[2]);
    }
}

// A negative counter is a bug: Go panics, weft throws and leaves the counter unchanged.
void misuse() {
    weft::wait_group wg;
    try {
        wg.done();  // done() without a matching add()
    } catch (const std::logic_error& e) { std::printf("misuse: %s\n", e.what()); }
    wg.wait();  // still zero: returns at once
}

int main() {
    fan_out();
    with_go();
    close_when_done();
    timed_wait();
    reuse();
    misuse();
}
