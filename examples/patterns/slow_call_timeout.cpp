// examples/patterns/slow_call_timeout.cpp - the tutorial's context timeout around a slow call:
// give the call a context with a deadline; the call watches the context, so when the deadline
// passes it stops and returns "deadline exceeded" instead of running on. Then the same call run
// on its own thread with a select on its result and ctx.done(), and what goes wrong when the
// slow call does not take a context.
//
// The Go original is examples/go/patterns/slow_call_timeout/main.go; both print the same lines.
// Deterministic: the delays are far from the deadlines (10 ms against 1 s, 5 s against 200 ms).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <system_error>
#include <thread>

#include <weft/channel.hpp>
#include <weft/context.hpp>
#include <weft/select.hpp>
#include <weft/wait_group.hpp>

using namespace std::chrono_literals;
using std::chrono::milliseconds;

std::atomic<int> calls_running{0};  // how many slow calls are running right now

struct quote {
    std::string text;
    std::error_code err;  // empty: text is the answer
};

// The slow call (a remote service, simulated): takes `work`, unless ctx ends first.
quote fetch_quote(const weft::context& ctx, milliseconds work) {
    calls_running.fetch_add(1);
    auto err = weft::sleep(ctx, work);  // returns early, with ctx.err(), if ctx ends
    calls_running.fetch_sub(1);
    if (err) return {"", err};
    return {"EUR/USD 1.0842", {}};
}

void report(const char* what, const quote& q) {
    if (q.err)
        std::printf("%s: error: %s\n", what, q.err.message().c_str());
    else
        std::printf("%s: %s\n", what, q.text.c_str());
}

// The call takes the context: a deadline around it is all it needs.
void direct() {
    {
        auto [ctx, cancel] = weft::with_timeout(weft::background(), 1s);
        report("fast call, 1 s budget", fetch_quote(ctx, 10ms));
    }
    auto start = std::chrono::steady_clock::now();
    auto [ctx, cancel] = weft::with_timeout(weft::background(), 200ms);
    auto q = fetch_quote(ctx, 5000ms);
    bool early = std::chrono::steady_clock::now() - start < 2s;
    report("slow call, 200 ms budget", q);
    std::printf("  returned at the deadline, not after 5 s: %s; still running: %d\n",
                early ? "yes" : "no", calls_running.load());
    std::printf("  deadline exceeded: %s\n", q.err == std::errc::timed_out ? "yes" : "no");
    auto [parent, cancel_parent] = weft::with_cancel(weft::background());
    auto [child, cancel_child] = weft::with_timeout(parent, 200ms);
    cancel_parent();  // the caller gave up: the call's context is canceled too
    report("caller canceled first", fetch_quote(child, 5000ms));
}

// The Go idiom: run the call on its own thread and select on its result or the deadline. The
// result channel has room for one value, so a late result never blocks its sender, and the
// call gets ctx, so it stops too: wait() then returns at once and nothing is left running.
quote with_select(const weft::context& parent, milliseconds budget, milliseconds work) {
    auto [ctx, cancel] = weft::with_timeout(parent, budget);
    weft::channel<quote> result(1);
    weft::wait_group wg;
    wg.go([ctx = ctx, result, work]() { result.send(fetch_quote(ctx, work)); });
    quote q;
    weft::select(weft::on_receive(result, [&](std::optional<quote> r) { q = std::move(*r); }),
                 weft::on_receive(ctx.done(), [&, &ctx = ctx] { q.err = ctx.err(); }));
    cancel();
    wg.wait();
    return q;
}

// A call that ignores the context: the select still returns at the deadline, but the call runs
// on to the end. In Go that goroutine leaks until it finishes; in C++ it must be waited for (a
// detached thread still running when main returns is killed mid-call).
void ignores_context() {
    auto [ctx, cancel] = weft::with_timeout(weft::background(), 200ms);
    weft::channel<quote> result(1);
    weft::wait_group wg;
    calls_running.fetch_add(1);  // counted from its start, before its thread runs
    wg.go([result]() {
        std::this_thread::sleep_for(1s);  // cannot be interrupted
        calls_running.fetch_sub(1);
        result.send({"EUR/USD 1.0842", {}});
    });
    weft::select(weft::on_receive(result, [] {}), weft::on_receive(ctx.done(), [&, &ctx = ctx] {
                     std::printf("no context: gave up with %s; still running: %d\n",
                                 ctx.err().message().c_str(), calls_running.load());
                 }));
    wg.wait();
    std::printf("  it ran to the end anyway; its late result went unused: %s\n",
                result.receive()->text.c_str());
}

int main() {
    direct();
    report("select, fast call, 1 s budget", with_select(weft::background(), 1s, 10ms));
    report("select, slow call, 200 ms budget", with_select(weft::background(), 200ms, 5000ms));
    std::printf("  still running: %d\n", calls_running.load());
    ignores_context();
}
