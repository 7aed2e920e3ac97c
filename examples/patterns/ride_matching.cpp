// examples/patterns/ride_matching.cpp - ride matching (as Uber does it): a ride request goes to
// every nearby driver at once, their offers are fanned in with weft::merge, and the first
// acceptable offer wins - within a 400 ms budget. Then the request is withdrawn from the other
// drivers: canceling the context stops the merge and every driver still deciding.
//
// The Go original is examples/go/patterns/ride_matching/main.go; both print the same lines.
// Deterministic: a seeded simulation (splitmix64, written out in both programs) picks the
// drivers, their offers and their answer times, which are 70 ms apart (or 1.5 s: too late);
// stdout is compared with ride_matching.expected. docs/patterns/fan_out_fan_in.md quotes this
// file verbatim; keep the two in step.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <weft/channel.hpp>
#include <weft/context.hpp>
#include <weft/fan.hpp>
#include <weft/wait_group.hpp>

using namespace std::chrono_literals;

// splitmix64: the same numbers in C++ and Go.
class simulation {
public:
    explicit simulation(std::uint64_t seed) : s_(seed) {}
    int below(int n) {
        s_ += 0x9E3779B97F4A7C15ULL;
        std::uint64_t z = s_;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return static_cast<int>((z ^ (z >> 31)) % static_cast<std::uint64_t>(n));
    }
    template <class T>
    void shuffle(std::vector<T>& v) {
        for (int i = static_cast<int>(v.size()) - 1; i > 0; --i)
            std::swap(v[static_cast<std::size_t>(i)], v[static_cast<std::size_t>(below(i + 1))]);
    }

private:
    std::uint64_t s_;
};

struct offer {
    std::string driver;
    int eta_min;
    int fare_cents;
};

struct driver {
    offer terms;
    std::chrono::milliseconds answers_after;
};

struct ride {
    int id;
    int max_eta_min;
    int max_fare_cents;
    std::vector<driver> nearby;
};

std::string dollars(int cents) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "$%d.%02d", cents / 100, cents % 100);
    return buf;
}

// A driver decides (simulated), then offers; a withdrawn request ends both waits.
void answer(const weft::context& ctx, const driver& d, weft::sender<offer> out) {
    if (!weft::sleep(ctx, d.answers_after)) out.send(ctx, d.terms);
    out.close();
}

void match(const weft::context& parent, const ride& r) {
    auto [ctx, cancel] = weft::with_timeout(parent, 400ms);
    weft::wait_group wg;
    std::vector<weft::receiver<offer>> offers;
    for (const driver& d : r.nearby) {
        weft::channel<offer> ch(0);
        offers.push_back(ch);
        wg.go([&d, ch, ctx = ctx] { answer(ctx, d, ch); });
    }
    auto merged = weft::merge(ctx, offers);  // fan-in: one thread, a select over every driver

    std::printf("ride %d (pickup within %d min, fare up to %s):\n", r.id, r.max_eta_min,
                dollars(r.max_fare_cents).c_str());
    std::optional<offer> winner;
    std::size_t seen = 0;
    for (offer& o : merged.output()) {  // in the order the offers arrive
        ++seen;
        if (o.eta_min > r.max_eta_min) {
            std::printf("  rejected %-6s %d min away\n", o.driver.c_str(), o.eta_min);
        } else if (o.fare_cents > r.max_fare_cents) {
            std::printf("  rejected %-6s %s\n", o.driver.c_str(), dollars(o.fare_cents).c_str());
        } else {
            winner = std::move(o);
            break;
        }
    }
    cancel();   // decided (or out of time): withdraw the request from everyone else
    wg.wait();  // every driver has stopped
    if (winner)
        std::printf("  matched  %-6s %d min away, %s\n", winner->driver.c_str(), winner->eta_min,
                    dollars(winner->fare_cents).c_str());
    else
        std::printf("  no match within 400 ms\n");
    std::printf("  withdrawn from %zu driver(s)\n", r.nearby.size() - seen);
}

std::vector<ride> simulate(std::uint64_t seed) {
    const std::vector<std::string> names = {"Ana", "Ben",  "Chloe", "Dev", "Eli",  "Fatima",
                                            "Gus", "Hana", "Ivan",  "Jun", "Kofi", "Lena"};
    const std::vector<std::chrono::milliseconds> answer_times = {70ms, 140ms, 210ms, 280ms, 1500ms};
    std::vector<ride> rides = {
        {1, 6, 1400, {}}, {2, 5, 1200, {}}, {3, 8, 1600, {}}, {4, 4, 1000, {}}};
    simulation sim(seed);
    for (ride& r : rides) {
        auto who = names;
        sim.shuffle(who);
        auto when = answer_times;
        sim.shuffle(when);
        for (std::size_t k = 0; k < when.size(); ++k) {
            const int eta = 2 + sim.below(10);
            const int fare = 900 + sim.below(900);
            r.nearby.push_back({{who[k], eta, fare}, when[k]});
        }
    }
    return rides;
}

int main() {
    auto start = std::chrono::steady_clock::now();
    for (const ride& r : simulate(32)) match(weft::background(), r);
    auto took = std::chrono::steady_clock::now() - start;
    std::printf("every ride decided within its budget: %s\n", took < 2500ms ? "yes" : "no");
}
