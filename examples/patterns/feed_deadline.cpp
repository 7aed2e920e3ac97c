// examples/patterns/feed_deadline.cpp - the tutorial's feed generation (as ByteDance does it):
// ask every source for items at once, and after 500 ms serve what has arrived. A late source is
// not waited for; it sees the cancellation and stops.
//
// The Go original is examples/go/patterns/feed_deadline/main.go; both print the same lines.
// Deterministic: stdout is compared with feed_deadline.expected.
// docs/patterns/context.md quotes this file verbatim; keep the two in step.
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <weft/channel.hpp>
#include <weft/context.hpp>
#include <weft/select.hpp>
#include <weft/wait_group.hpp>

using namespace std::chrono_literals;

struct source {
    std::string name;
    std::chrono::milliseconds latency;
    int items;
};

struct batch {
    std::string source;
    std::vector<std::string> items;
};

// Fetches from one source (simulated); gives up when the feed's deadline passes.
void fetch(const weft::context& ctx, const source& s, weft::sender<batch> out) {
    if (weft::sleep(ctx, s.latency)) return;
    batch b{s.name, {}};
    for (int i = 1; i <= s.items; ++i) b.items.push_back(s.name + "#" + std::to_string(i));
    out.send(ctx, std::move(b));  // a send that gives up when the deadline has passed
}

std::map<std::string, batch> generate_feed(const weft::context& parent,
                                           const std::vector<source>& sources) {
    auto [ctx, cancel] = weft::with_timeout(parent, 500ms);
    weft::channel<batch> arrivals(0);
    weft::wait_group wg;
    for (const source& s : sources) wg.go([&, ctx = ctx] { fetch(ctx, s, arrivals); });

    std::map<std::string, batch> feed;
    for (bool open = true; open && feed.size() < sources.size();) {
        weft::select(
            weft::on_receive(arrivals,
                             [&](std::optional<batch> b) { feed[b->source] = std::move(*b); }),
            weft::on_receive(ctx.done(), [&] { open = false; }));
    }
    cancel();
    wg.wait();  // late sources have seen the deadline and returned
    return feed;
}

int main() {
    const std::vector<source> sources = {
        {"following", 40ms, 3}, {"trending", 80ms, 2}, {"recommended", 120ms, 4},
        {"ads", 900ms, 1},      {"live", 2s, 2},
    };
    auto start = std::chrono::steady_clock::now();
    auto feed = generate_feed(weft::background(), sources);
    auto took = std::chrono::steady_clock::now() - start;

    std::printf("feed (500 ms budget):\n");
    for (const source& s : sources) {
        auto it = feed.find(s.name);
        if (it == feed.end()) {
            std::printf("  %-12s missed the deadline\n", s.name.c_str());
            continue;
        }
        std::printf("  %-12s", s.name.c_str());
        for (const auto& item : it->second.items) std::printf(" %s", item.c_str());
        std::printf("\n");
    }
    std::printf("served without waiting for the slow sources: %s\n", took < 1500ms ? "yes" : "no");
}
