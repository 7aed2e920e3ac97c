// examples/select.cpp - select: a send case and a quit case in one loop (the Go tour's
// fibonacci), timeouts, non-blocking operations with otherwise, a send on a closed channel,
// nil handles as disabled cases, fan-in over a vector of channels with weft::selector,
// losslessness and fairness.
//
// Deterministic: stdout is compared with examples/select.expected. docs/patterns/select.md
// quotes these functions verbatim; keep the two in step.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <weft/channel.hpp>
#include <weft/select.hpp>
#include <weft/time.hpp>
#include <weft/wait_group.hpp>

using namespace std::chrono_literals;

// The Go tour's fibonacci: send the next number, or stop when told to quit.
void fibonacci(weft::sender<long> c, weft::receiver<bool> quit) {
    long x = 0, y = 1;
    for (bool running = true; running;) {
        // x is sent only if its case fires; that case's handler then advances the sequence.
        weft::select(weft::on_send(c, x, [&] { x = std::exchange(y, x + y); }),
                     weft::on_receive(quit, [&] { running = false; }));
    }
    std::printf("quit\n");
}

void fibonacci_demo() {
    weft::channel<long> c(0);
    weft::channel<bool> quit(0);
    weft::wait_group wg;
    wg.go([c, quit]() {
        for (int i = 0; i < 10; ++i) std::printf("%ld ", *c.receive());
        quit.send(true);
    });
    fibonacci(c, quit);
    wg.wait();
}

// A timeout is just another channel. weft::after(d) delivers once, d from now; a weft::timer
// does the same and its destructor stops it, so nothing stays scheduled.
void timeouts() {
    auto print = [](std::optional<std::string> r) {
        if (r) std::printf("got %s\n", r->c_str());
    };
    auto give_up = [] { std::printf("timeout\n"); };

    weft::channel<std::string> results(1);  // nobody sends: the timeout must win
    std::size_t fired = weft::select(weft::on_receive(results, print),
                                     weft::on_receive(weft::after(50ms), give_up));
    std::printf("  select returned %zu, the index of the case that fired\n", fired);

    results.send("result 1");  // already there: it wins over a deadline far in the future
    weft::timer deadline(10s);
    weft::select(weft::on_receive(results, print), weft::on_receive(deadline.chan(), give_up));
}

// otherwise is Go's default: select never blocks (Go by Example, non-blocking operations).
void non_blocking() {
    weft::channel<std::string> messages(1);
    weft::select(weft::on_receive(messages, [] { std::printf("received a message\n"); }),
                 weft::otherwise([] { std::printf("no message received\n"); }));

    std::string msg = "hi";
    weft::select(weft::on_send(messages, msg, [] { std::printf("sent message\n"); }),
                 weft::otherwise([] { std::printf("no message sent\n"); }));

    std::string more = "hello";  // the buffer is full now
    weft::select(weft::on_send(messages, more, [] { std::printf("sent message\n"); }),
                 weft::otherwise([&] { std::printf("buffer full, kept \"%s\"\n", more.c_str()); }));
}

// A send case on a closed channel fires with sent == false and leaves the value alone.
void send_on_closed() {
    weft::channel<int> out(1);
    out.close();
    int v = 42;
    auto report = [](bool sent) {
        std::printf("send on a closed channel: sent = %s\n", sent ? "yes" : "no");
    };
    weft::select(weft::on_send(out, v, report));
    std::printf("  v is still %d\n", v);
}

// Go's idiom: set a channel to nil once it is closed, so its case never fires again.
void merge_two() {
    weft::channel<int> a(3), b(3);
    a.send(1);
    a.send(2);
    a.close();
    b.send(10);
    b.close();
    int sum = 0;
    // A handler that adds a value, or turns its closed channel into a nil one.
    auto add_or_nil = [&sum](weft::channel<int>& ch) {
        return [&sum, &ch](std::optional<int> v) {
            if (v) {
                sum += *v;
            } else {
                ch = {};  // nil: this case never fires again
            }
        };
    };
    while (a || b) {  // a handle is false when nil
        weft::select(weft::on_receive(a, add_or_nil(a)), weft::on_receive(b, add_or_nil(b)));
    }
    std::printf("merge: sum %d, both inputs nil now\n", sum);
}

// Fan-in over a vector of channels, with no thread per input: a selector takes its cases at
// run time. A closed input is disabled (Go: set it to nil).
void fan_in() {
    std::vector<weft::channel<int>> inputs;
    for (int i = 0; i < 4; ++i) inputs.emplace_back(2);
    weft::wait_group producers;
    for (int i = 0; i < 4; ++i) {
        weft::sender<int> out = inputs[static_cast<std::size_t>(i)];
        producers.go([out, i]() {
            for (int k = 1; k <= 3; ++k) out.send(100 * i + k);
            out.close();
        });
    }

    weft::selector sel;
    std::vector<int> got;
    std::size_t open = inputs.size();
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        sel.add_receive(inputs[i], [&, i](std::optional<int> v) {
            if (v) {
                got.push_back(*v);
            } else {  // closed and drained
                sel.set_enabled(i, false);
                --open;
            }
        });
    }
    while (open > 0) sel.select();
    producers.wait();

    std::sort(got.begin(), got.end());  // arrival order varies, the set of values does not
    std::printf("fan-in: %zu values:", got.size());
    for (int v : got) std::printf(" %d", v);
    std::printf("\n");
}

// Lossless: the case that does not fire consumes nothing. Channels of different types mix.
void lossless() {
    weft::channel<int> numbers(1);
    weft::channel<std::string> words(1);
    numbers.send(7);
    words.send("seven");
    int fired = 0;
    weft::select(weft::on_receive(numbers, [&] { ++fired; }),
                 weft::on_receive(words, [&] { ++fired; }));
    std::size_t left = numbers.size() + words.size();
    std::printf("lossless: %d case fired, %zu value still buffered\n", fired, left);
}

// Fair: among ready cases one is chosen uniformly at random, so no case starves.
void fairness() {
    weft::channel<int> a(1), b(1);
    int from_a = 0, from_b = 0;
    for (int i = 0; i < 1000; ++i) {
        (void)a.try_send(i);  // refill whichever was taken: both stay ready
        (void)b.try_send(i);
        weft::select(weft::on_receive(a, [&] { ++from_a; }),
                     weft::on_receive(b, [&] { ++from_b; }));
    }
    bool even = from_a > 350 && from_b > 350;  // each is 500 +- 16 (one standard deviation)
    std::printf("fairness: each of two ready cases chosen about half the time: %s\n",
                even ? "yes" : "no");
}

int main() {
    fibonacci_demo();
    timeouts();
    non_blocking();
    send_on_closed();
    merge_two();
    fan_in();
    lossless();
    fairness();
}
