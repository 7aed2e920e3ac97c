// examples/patterns/market_feed.cpp - broadcast: one price feed, three subscribers, and each one
// says what its full buffer costs. The chart must see every tick (block: the feed waits for
// it), the alert service may miss some (drop: counted), the archiver must keep up or be cut
// off (disconnect: it can tell).
//
// The Go original is examples/go/patterns/market_feed/main.go; both print the same lines.
// Deterministic: the chart reads on a thread of its own, but under `block` it gets every tick
// however fast it reads; the alerts and the archiver read only after the feed is closed, so
// which ticks they miss is fixed.
// docs/patterns/broadcast.md quotes this file verbatim; keep the two in step.
#include <cstdio>
#include <string>
#include <thread>

#include <weft/broadcast.hpp>

struct tick {
    std::string symbol;
    int cents;
};

int main() {
    weft::broadcast<tick> feed;
    auto chart = feed.subscribe({.capacity = 1, .policy = weft::slow_policy::block});
    auto alerts = feed.subscribe({.capacity = 2, .policy = weft::slow_policy::drop});
    auto archive = feed.subscribe({.capacity = 3, .policy = weft::slow_policy::disconnect});

    int chart_ticks = 0, chart_last = 0;
    std::thread chart_reader([&] {
        for (auto& t : chart) {  // ends when the feed is closed and this buffer drained
            ++chart_ticks;
            chart_last = t.cents;
        }
    });

    const int prices[] = {101, 103, 102, 105, 104, 107};
    for (int cents : prices) {
        weft::publish_result r = feed.publish({"ACME", cents});
        std::printf("tick %d: delivered %zu, dropped %zu, disconnected %zu\n", cents, r.delivered,
                    r.dropped, r.disconnected);
    }
    feed.close();  // every subscriber drains its buffer, then sees the end
    chart_reader.join();

    std::printf("chart: %d ticks, last %d\n", chart_ticks, chart_last);
    std::printf("alerts:");
    for (auto& t : alerts) std::printf(" %d", t.cents);
    std::printf(" (missed %llu)\n", static_cast<unsigned long long>(alerts.dropped()));
    std::printf("archive:");
    for (auto& t : archive) std::printf(" %d", t.cents);
    std::printf(archive.disconnected() ? " (disconnected)\n" : " (closed)\n");

    auto late = feed.publish({"ACME", 110});
    std::printf("publish after close: %s\n", late ? "ok" : "closed");
}
