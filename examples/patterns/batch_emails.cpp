// examples/patterns/batch_emails.cpp - the tutorial's wait_group batch: send a batch of
// (simulated) emails concurrently, wait for all of them, report how many were sent and which
// failed. A buffered channel of tokens keeps at most 4 sends in flight, as a mail server's
// connection limit demands.
//
// The Go original is examples/go/patterns/batch_emails/main.go; both print the same lines.
// Deterministic: whether a send fails depends only on the address, and failures are sorted.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <weft/channel.hpp>
#include <weft/wait_group.hpp>

using namespace std::chrono_literals;

// The simulated SMTP call: takes a little time, and fails for some addresses.
void send_email(const std::string& to, std::size_t n) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + 3 * (n % 4)));
    if (to.find('@') == std::string::npos) throw std::invalid_argument("invalid address");
    if (to.ends_with("@bounce.example")) throw std::runtime_error("mailbox full");
}

int main() {
    const std::vector<std::string> batch = {
        "ana@shop.example", "ben@shop.example",   "carla@bounce.example", "dev@shop.example",
        "eve.shop.example", "farid@shop.example", "gus@shop.example",     "hana@bounce.example",
        "ivo@shop.example", "jon@shop.example",   "kim@shop.example",     "lea@shop.example",
    };
    constexpr int max_in_flight = 4;

    std::atomic<int> sent{0};
    std::atomic<int> in_flight{0};
    std::atomic<int> peak{0};
    std::mutex failures_mutex;
    std::vector<std::string> failures;                   // guarded by failures_mutex
    weft::channel<std::monostate> slots(max_in_flight);  // a token per send in flight
    weft::wait_group wg;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        slots.send({});  // waits while 4 sends are in flight
        // wg.go counts the task before its thread starts: Go's wg.Add(1) before `go`.
        wg.go([&, i] {
            int now = in_flight.fetch_add(1) + 1;
            for (int p = peak.load(); now > p && !peak.compare_exchange_weak(p, now);) {}
            try {
                send_email(batch[i], i);
                sent.fetch_add(1);
            } catch (const std::exception& e) {
                std::lock_guard lock(failures_mutex);
                failures.push_back(batch[i] + ": " + e.what());
            }
            in_flight.fetch_sub(1);
            (void)slots.receive();  // give the token back
        });
    }
    wg.wait();  // every send has finished: sent and failures are complete

    std::sort(failures.begin(), failures.end());
    std::printf("batch of %zu emails, at most %d in flight\n", batch.size(), max_in_flight);
    std::printf("sent: %d, failed: %zu\n", sent.load(), failures.size());
    for (const auto& f : failures) std::printf("  failed %s\n", f.c_str());
    std::printf("in flight never above %d: %s\n", max_in_flight,
                peak.load() <= max_in_flight ? "yes" : "no");
}
