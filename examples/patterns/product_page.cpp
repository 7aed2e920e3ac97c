// examples/patterns/product_page.cpp - a product page assembled from four services at once (as
// Etsy does it): the listing, the reviews, shipping and recommendations. The calls are fanned
// out to workers, their answers fanned back in with weft::merge, and the page is assembled in a
// fixed order. The page has a 300 ms budget: a required part always comes in time here, the
// optional recommendations are left out when they do not, and the late call is canceled.
//
// The Go original is examples/go/patterns/product_page/main.go; both print the same lines.
// Deterministic: the simulated latencies are far from the budget (at most 120 ms, or 900 ms),
// and the page is printed in a fixed order; stdout is compared with product_page.expected.
// docs/patterns/fan_out_fan_in.md quotes this file verbatim; keep the two in step.
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <weft/channel.hpp>
#include <weft/context.hpp>
#include <weft/fan.hpp>

using namespace std::chrono_literals;

struct call {
    std::string service;
    std::chrono::milliseconds latency;  // simulated
    std::string answer;
};

struct part {
    std::string service;
    std::string body;
};

struct product {
    int id;
    std::string title;
    std::vector<call> calls;
};

// One service call: wait for the (simulated) service unless the page's deadline passes first.
// A part returned after the deadline is dropped by the fan, never sent.
part fetch(const weft::context& ctx, const call* c) {
    if (weft::sleep(ctx, c->latency)) return {c->service, ""};
    return {c->service, c->answer};
}

std::map<std::string, std::string> gather(const weft::context& parent, const product& p) {
    auto [ctx, cancel] = weft::with_timeout(parent, 300ms);
    weft::channel<const call*> calls(p.calls.size());
    for (const call& c : p.calls) calls.send(&c);
    calls.close();

    auto workers = weft::fan_out(ctx, calls, p.calls.size(), fetch);  // fan-out: a worker a call
    auto parts = weft::merge(ctx, workers.outputs());  // fan-in; closed at the deadline
    std::map<std::string, std::string> got;
    for (part& x : parts.output()) got[x.service] = std::move(x.body);
    cancel();    // the page is done: a call still running stops now
    return got;  // workers and parts join their threads here
}

void render(const product& p, const std::map<std::string, std::string>& got) {
    std::printf("product %d: %s\n", p.id, p.title.c_str());
    for (const char* service : {"listing", "reviews", "shipping", "recommendations"}) {
        auto it = got.find(service);
        if (it != got.end())
            std::printf("  %-16s %s\n", service, it->second.c_str());
        else if (std::string(service) == "recommendations")
            std::printf("  %-16s left out: not ready within 300 ms\n", service);
        else
            std::printf("  %-16s unavailable: page not served\n", service);
    }
}

int main() {
    const std::vector<product> products = {
        {1001,
         "Handmade oak cutting board",
         {{"listing", 30ms, "$45.00, 3 in stock"},
          {"reviews", 60ms, "4.8 stars from 212 reviews"},
          {"shipping", 20ms, "from Portland, OR in 1-2 days"},
          {"recommendations", 120ms, "walnut coasters, olive wood spoon"}}},
        {1002,
         "Hand-thrown ceramic mug",
         {{"listing", 25ms, "$28.00, 12 in stock"},
          {"reviews", 50ms, "4.9 stars from 1,034 reviews"},
          {"shipping", 40ms, "from Asheville, NC in 2-4 days"},
          {"recommendations", 900ms, "matching saucer, tea towel"}}},
    };
    auto start = std::chrono::steady_clock::now();
    for (const product& p : products) render(p, gather(weft::background(), p));
    auto took = std::chrono::steady_clock::now() - start;
    std::printf("both pages served within their budgets: %s\n", took < 1500ms ? "yes" : "no");
}
