// examples/patterns/metrics_monitor.cpp - the tutorial's for-select monitor: one thread owns the
// metrics, and loops on a select over a ticker (flush a snapshot every period), the metrics
// channel (aggregate a sample) and the context (shut down). Services report samples; nobody
// else touches the aggregates, so they need no lock.
//
// The Go original is examples/go/patterns/metrics_monitor/main.go; both print the same lines.
// Deterministic: the samples are fixed, and the number of ticks is printed only as "at least".
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <weft/channel.hpp>
#include <weft/context.hpp>
#include <weft/select.hpp>
#include <weft/time.hpp>
#include <weft/wait_group.hpp>

using namespace std::chrono_literals;

struct sample {
    std::string service;
    int latency_ms;
    bool ok;
};

struct totals {
    int requests = 0;
    int errors = 0;
    int latency_sum = 0;
    int latency_max = 0;
};

struct summary {
    std::map<std::string, totals> by_service;
    int flushes = 0;     // snapshots taken on a tick
    std::string reason;  // why the loop ended
};

// The for-select loop. It ends when the metrics channel is closed and drained (every service
// has finished) or when ctx is canceled (shutdown), whichever comes first.
summary monitor(const weft::context& ctx, weft::receiver<sample> metrics,
                std::chrono::milliseconds period) {
    summary s;
    weft::ticker tick(period);  // stopped by its destructor: no tick outlives the monitor
    for (bool running = true; running;) {
        weft::select(
            weft::on_receive(tick.chan(),
                             [&] {
                                 ++s.flushes;  // a real monitor would export s.by_service here
                             }),
            weft::on_receive(metrics,
                             [&](std::optional<sample> m) {
                                 if (!m) {
                                     s.reason = "metrics channel closed";
                                     running = false;
                                     return;
                                 }
                                 totals& t = s.by_service[m->service];
                                 ++t.requests;
                                 if (!m->ok) ++t.errors;
                                 t.latency_sum += m->latency_ms;
                                 if (m->latency_ms > t.latency_max) t.latency_max = m->latency_ms;
                             }),
            weft::on_receive(ctx.done(), [&] {
                s.reason = ctx.err().message();
                running = false;
            }));
    }
    return s;
}

// A service that handles `n` requests, one every 5 ms, and reports a sample for each.
void service(const std::string& name, int n, int base_ms, weft::sender<sample> metrics) {
    for (int i = 0; i < n; ++i) {
        std::this_thread::sleep_for(5ms);
        metrics.send({name, base_ms + (i * 7) % 20, i % 9 != 8});
    }
}

void print(const char* title, const summary& s) {
    std::printf("%s: stopped by %s\n", title, s.reason.c_str());
    for (const auto& [name, t] : s.by_service)
        std::printf("  %-6s requests %2d  errors %d  avg %2d ms  max %2d ms\n", name.c_str(),
                    t.requests, t.errors, t.latency_sum / t.requests, t.latency_max);
}

// Services report until they are done, then close the channel: the monitor drains it and ends.
void until_closed() {
    weft::channel<sample> metrics(16);
    weft::wait_group services;
    services.go([metrics] { service("api", 30, 20, metrics); });
    services.go([metrics] { service("db", 24, 5, metrics); });
    services.go([metrics] { service("cache", 36, 1, metrics); });
    weft::wait_group closer;  // closes once every service is done, as Go's closer goroutine does
    closer.go([&services, metrics]() {
        services.wait();
        metrics.close();
    });
    auto s = monitor(weft::background(), metrics, 10ms);
    closer.wait();
    print("run", s);
    // The services ran for at least 36 x 5 ms = 180 ms: at least a few 10 ms ticks came in.
    std::printf("  periodic flushes: %s\n", s.flushes >= 1 ? "at least 1" : "none");
}

// Shutdown: the monitor stops when its context is canceled. The metrics channel is a
// rendezvous: every send that returned was received, and is aggregated before the monitor's
// next select, which then finds only ctx.done() ready.
void until_canceled() {
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    weft::channel<sample> metrics(0);
    weft::channel<summary> result(1);
    weft::wait_group wg;
    wg.go([ctx = ctx, metrics, result]() { result.send(monitor(ctx, metrics, 1s)); });
    for (int i = 0; i < 10; ++i) metrics.send({"api", 10 + i, i != 3});
    cancel();
    auto s = *result.receive();
    wg.wait();
    print("shutdown", s);
}

int main() {
    until_closed();
    until_canceled();
}
