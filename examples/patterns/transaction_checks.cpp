// examples/patterns/transaction_checks.cpp - the tutorial's fintech transaction validation (as
// Monzo does it): four independent checks run concurrently under one 3-second deadline. The
// first failing check declines the transaction and cancels the others; a check that does not
// answer in time declines it with "deadline exceeded". No check thread outlives validate().
//
// The Go original is examples/go/patterns/transaction_checks/main.go; both print the same
// lines. Deterministic: stdout is compared with transaction_checks.expected.
// docs/patterns/context.md quotes this file verbatim; keep the two in step.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <weft/channel.hpp>
#include <weft/context.hpp>
#include <weft/select.hpp>
#include <weft/wait_group.hpp>

using namespace std::chrono_literals;

struct transaction {
    std::string id;
    long amount_pence;
    int fraud_score;      // what the fraud model would say
    bool sanctions_hang;  // the sanctions provider does not answer
};

struct verdict {
    std::string check;
    bool ok;
    std::string reason;
};

struct check {
    std::string name;
    std::chrono::milliseconds latency;
    verdict (*decide)(const transaction&);
};

const std::vector<check> checks = {
    {"balance", 20ms,
     [](const transaction& t) {
         return verdict{"balance", t.amount_pence <= 50'000, "insufficient funds"};
     }},
    {"fraud", 30ms,
     [](const transaction& t) {
         return verdict{"fraud", t.fraud_score <= 80,
                        "fraud score " + std::to_string(t.fraud_score) + " > 80"};
     }},
    {"limits", 10ms,
     [](const transaction& t) {
         return verdict{"limits", t.amount_pence <= 100'000, "daily limit"};
     }},
    {"sanctions", 40ms, [](const transaction&) { return verdict{"sanctions", true, ""}; }},
};

// One check: wait for the (simulated) provider, unless the context ends first.
void run_check(const weft::context& ctx, const check& c, const transaction& t,
               weft::sender<verdict> out) {
    auto latency = c.name == "sanctions" && t.sanctions_hang ? 1h : c.latency;
    if (weft::sleep(ctx, latency)) return;  // canceled or past the deadline: give up quietly
    out.send(c.decide(t));                  // buffered for every check: never blocks
}

void validate(const weft::context& parent, const transaction& t) {
    auto [ctx, cancel] = weft::with_timeout(parent, 3s);
    weft::channel<verdict> results(checks.size());
    weft::wait_group wg;
    for (const check& c : checks) wg.go([&, ctx = ctx] { run_check(ctx, c, t, results); });

    std::vector<std::string> pending;
    for (const check& c : checks) pending.push_back(c.name);
    std::string outcome = "approved";
    while (!pending.empty() && outcome == "approved") {
        weft::select(weft::on_receive(results,
                                      [&](std::optional<verdict> v) {
                                          std::erase(pending, v->check);
                                          if (!v->ok)
                                              outcome = "declined: " + v->check + ": " + v->reason;
                                      }),
                     weft::on_receive(ctx.done(), [&, &ctx = ctx] {
                         outcome = "declined: " + ctx.err().message();
                         std::sort(pending.begin(), pending.end());
                         for (const auto& p : pending) outcome += ", no answer from " + p;
                     }));
    }
    cancel();   // the first failure (or the deadline) stops the checks still running
    wg.wait();  // and none of them outlives this call
    std::printf("%s: %s\n", t.id.c_str(), outcome.c_str());
}

int main() {
    auto start = std::chrono::steady_clock::now();
    validate(weft::background(), {"tx-1001", 12'000, 12, false});
    validate(weft::background(), {"tx-1002", 9'900, 93, false});
    validate(weft::background(), {"tx-1003", 75'000, 5, false});
    validate(weft::background(), {"tx-1004", 2'500, 20, true});
    auto took = std::chrono::steady_clock::now() - start;
    // The hanging provider costs the 3 s budget once; nothing waits for the 1 h "answer".
    std::printf("all four decided within the budget: %s\n", took < 10s ? "yes" : "no");
}
