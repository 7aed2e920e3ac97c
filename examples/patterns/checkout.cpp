// examples/patterns/checkout.cpp - weft::error_group, Go's golang.org/x/sync/errgroup: a
// checkout runs its four checks at once (inventory, payment, shipping, fraud). The group
// replaces the hand-made error channel: the first failure cancels the group's context, the
// checks still waiting see the cancellation, and wait() returns that first failure. Then a
// batch of orders is screened at most two at a time (set_limit), and a task that throws is
// just one more error.
//
// Deterministic: stdout is compared with checkout.expected. The slow remote checks
// wait 500 ms on the context, so a card declined after 20 ms always cancels them, and every
// line that lists results follows a fixed order. docs/patterns/error_group.md quotes these
// functions verbatim; the Go original is examples/go/patterns/checkout/main.go.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <weft/context.hpp>
#include <weft/error_group.hpp>
#include <weft/errors.hpp>

using namespace std::chrono_literals;

struct order {
    int id;
    int quantity;
    std::string item;
    long total_cents;
    std::string card;
    std::string city;
};

std::string money(long cents) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "ARS %ld.%02ld", cents / 100, cents % 100);
    return buf;
}

// What the payment service answers for a card it refuses.
class payment_declined : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The services. The local one never waits; the remote ones take the checkout's context and give
// up, with its error, when it is canceled (Go: select on ctx.Done() and time.After).
std::string validate_inventory(const order& o) {
    return std::to_string(o.quantity) + " x " + o.item + " reserved";
}

std::string process_payment(const weft::context& ctx, const order& o) {
    if (auto ec = weft::sleep(ctx, 20ms)) throw std::system_error(ec, "payment");
    if (o.card.ends_with("0002"))
        throw payment_declined("card " + o.card + " declined: insufficient funds");
    return "charged " + money(o.total_cents);
}

std::string compute_shipping(const weft::context& ctx, const order& o) {
    if (auto ec = weft::sleep(ctx, 500ms)) throw std::system_error(ec, "shipping");
    return money(250000) + " to " + o.city + ", 2 days";
}

std::string check_fraud(const weft::context& ctx, const order& o) {
    if (auto ec = weft::sleep(ctx, 500ms)) throw std::system_error(ec, "fraud");
    return "score " + std::to_string(o.id * 37 % 100) + "/100, approved";
}

// What the four checks found. Each task writes only its own field.
struct checks {
    std::string inventory, payment, shipping, fraud;
};

void print_check(const char* name, const std::string& result) {
    std::printf("  %-10s %s\n", name, result.empty() ? "(no result)" : result.c_str());
}

// The four checks of one order at once, under the checkout's 5 s deadline. The first error
// cancels ctx; wait() returns once all four have finished.
void checkout(const order& o) {
    std::printf("order %d: %d x %s to %s, card %s\n", o.id, o.quantity, o.item.c_str(),
                o.city.c_str(), o.card.c_str());
    auto [deadline, cancel] = weft::with_timeout(weft::background(), 5s);
    weft::error_group g(deadline);  // Go: g, ctx := errgroup.WithContext(ctx)
    const weft::context ctx = g.context();
    checks r;
    g.go([&] { r.inventory = validate_inventory(o); });
    g.go([&] { r.payment = process_payment(ctx, o); });
    g.go([&] { r.shipping = compute_shipping(ctx, o); });
    g.go([&] { r.fraud = check_fraud(ctx, o); });
    const std::exception_ptr err = g.wait();
    cancel();

    print_check("inventory:", r.inventory);
    print_check("payment:", r.payment);
    print_check("shipping:", r.shipping);
    print_check("fraud:", r.fraud);
    if (!err) {
        std::printf("  => confirmed\n");
        return;
    }
    std::printf("  => rejected: %s\n", weft::error_message(err).c_str());
    // Beyond Go: the cause of the cancellation, and every error, not only the first.
    std::printf("  => %s, cause: %s\n", ctx.err().message().c_str(),
                weft::error_message(weft::cause(ctx)).c_str());
    std::vector<std::string> others;
    for (const auto& e : g.errors())
        if (e != err) others.push_back(weft::error_message(e));
    std::sort(others.begin(), others.end());  // the canceled checks end in any order
    for (const auto& m : others) std::printf("  => then: %s\n", m.c_str());
}

std::string fraud_score(const order& o) {
    if (o.card.empty()) throw std::invalid_argument("order " + std::to_string(o.id) + ": no card");
    return std::to_string(o.id * 37 % 100);
}

// A batch screened at most two orders at a time. No context: a failure stops nothing else.
void screen(const std::vector<order>& batch) {
    weft::error_group g;
    g.set_limit(2);  // go() waits for a free slot
    std::vector<std::string> scores(batch.size(), "-");
    std::atomic<int> running{0}, most{0};
    for (std::size_t i = 0; i < batch.size(); ++i) {
        g.go([&, i] {
            const int now = ++running;
            for (int m = most; now > m && !most.compare_exchange_weak(m, now);) {}
            std::this_thread::sleep_for(10ms);  // the scoring model at work
            --running;
            scores[i] = fraud_score(batch[i]);  // may throw: captured, never a crash
        });
    }
    const std::exception_ptr err = g.wait();
    std::printf("screened %zu orders:", batch.size());
    for (const auto& s : scores) std::printf(" %s", s.c_str());
    std::printf("\n  never more than 2 at once: %s\n", most <= 2 ? "yes" : "no");
    if (err)
        std::printf("  errors: %zu, first: %s\n", g.errors().size(),
                    weft::error_message(err).c_str());
}

int main() {
    checkout({1001, 2, "mate gourd", 3500000, "4111-1111-1111-1111", "Buenos Aires"});
    checkout({1002, 1, "yerba 1kg", 620000, "4000-0000-0000-0002", "Cordoba"});
    screen({{2001, 1, "bombilla", 450000, "4111-1111-1111-1111", "Rosario"},
            {2002, 3, "thermos", 2100000, "5500-0000-0000-0004", "Mendoza"},
            {2003, 1, "yerba 500g", 310000, "", "Salta"},
            {2004, 2, "mate gourd", 3500000, "4111-1111-1111-1111", "La Plata"},
            {2005, 1, "bombilla", 450000, "3400-0000-0000-0009", "Tucuman"}});
}
