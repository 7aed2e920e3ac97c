// examples/patterns/pipeline_squares.cpp - the tutorial's first pipeline: generate numbers,
// square them, keep the even squares. First as Go writes it (each stage a function that starts
// a goroutine and returns the channel it writes), then as one weft::pipeline, then endless and
// stopped by canceling its context once three results have been read.
//
// The Go original is examples/go/patterns/pipeline_squares/main.go; both print the same lines.
// Deterministic: stdout is compared with pipeline_squares.expected.
// docs/patterns/pipeline.md quotes this file verbatim; keep the two in step.
#include <cstdio>
#include <optional>
#include <vector>

#include <weft/channel.hpp>
#include <weft/context.hpp>
#include <weft/go.hpp>
#include <weft/pipeline.hpp>

// Hand-made stages: a goroutine per stage, an unbuffered channel between two stages. Each stage
// closes its output when its input is closed and drained, so the range-for of the next ends.
weft::receiver<int> generate(std::vector<int> nums) {
    weft::channel<int> out(0);
    weft::go([out, nums]() {
        for (int n : nums) out.send(n);
        out.close();
    });
    return out;
}

weft::receiver<int> square(weft::receiver<int> in) {
    weft::channel<int> out(0);
    weft::go([in, out]() {
        for (int n : in) out.send(n * n);
        out.close();
    });
    return out;
}

weft::receiver<int> filter_even(weft::receiver<int> in) {
    weft::channel<int> out(0);
    weft::go([in, out]() {
        for (int n : in)
            if (n % 2 == 0) out.send(n);
        out.close();
    });
    return out;
}

void hand_made() {
    std::printf("hand-made stages:");
    for (int n : filter_even(square(generate({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}))))
        std::printf(" %d", n);
    std::printf("\n");
}

// The same stages as one weft::pipeline: run() returns when every stage has ended, and no
// thread of the pipeline is left.
void one_pipeline() {
    std::printf("one pipeline:");
    auto p = weft::pipeline() | weft::stage::source({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}) |
             weft::stage::map([](int n) { return n * n; }) |
             weft::stage::filter([](int n) { return n % 2 == 0; }) |
             weft::stage::sink([](int n) { std::printf(" %d", n); });
    auto result = p.run();
    std::printf(" (%s)\n", result.ok() ? "ok" : "failed");
}

// An endless generator: the reader takes three results, then cancels the pipeline's context.
// Every stage is blocked on a channel at that moment; each one sees the cancellation and ends.
void stopped_after_three() {
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    auto p = weft::pipeline(ctx) | weft::stage::source([n = 0]() mutable -> std::optional<int> {
                 return ++n;  // never ends by itself
             }) |
             weft::stage::map([](int n) { return n * n; }) |
             weft::stage::filter([](int n) { return n % 2 == 0; });
    auto run = p.start();
    weft::receiver<int> results = run.output();
    std::printf("endless, stopped after three:");
    for (int i = 0; i < 3; ++i) std::printf(" %d", *results.receive());
    cancel();
    auto result = run.wait();
    std::printf(" (%s)\n", result.canceled() ? ctx.err().message().c_str() : "not canceled");
}

int main() {
    hand_made();
    one_pipeline();
    stopped_after_three();
}
