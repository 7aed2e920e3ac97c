// examples/patterns/request_stats.cpp - the tutorial's mutex-protected request stats: handlers
// record every request, dashboards read the stats all the time. A std::shared_mutex (Go's
// sync.RWMutex) lets the many readers in together and the writers one at a time.
//
// A mutex is the right tool here: the state is a small shared structure, every operation is a
// short update or read of it, and several fields must change together (the total and the
// per-route counts). A channel would add an owner thread and a hand-off per request for no
// gain; channels are for handing work or ownership from one thread to another.
//
// The Go original is examples/go/patterns/request_stats/main.go; both print the same lines.
// Deterministic: the requests are fixed, and readers print only what every snapshot satisfies.
// docs/patterns/mutex.md quotes this file verbatim; keep the two in step.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include <weft/wait_group.hpp>

using namespace std::chrono_literals;

struct route_stats {
    int requests = 0;
    int errors = 0;
    long latency_us = 0;
};

class request_stats {
public:
    // A writer: exclusive, for as short as the update.
    void record(const std::string& route, int status, long latency_us) {
        std::lock_guard lock(mutex_);
        route_stats& r = routes_[route];
        ++r.requests;
        if (status >= 500) ++r.errors;
        r.latency_us += latency_us;
        ++total_;
    }

    // A reader: shared with other readers. It copies under the lock; the caller formats the
    // copy after the lock is released.
    struct snapshot_type {
        std::map<std::string, route_stats> routes;
        int total = 0;
    };
    snapshot_type snapshot() const {
        std::shared_lock lock(mutex_);
        return {routes_, total_};
    }

    int requests(const std::string& route) const {
        std::shared_lock lock(mutex_);
        auto it = routes_.find(route);
        return it == routes_.end() ? 0 : it->second.requests;
    }

private:
    mutable std::shared_mutex mutex_;
    std::map<std::string, route_stats> routes_;  // guarded by mutex_
    int total_ = 0;                              // guarded by mutex_; sum of the requests
};

int main() {
    const std::vector<std::string> routes = {"/cart", "/checkout", "/search", "/product"};
    request_stats stats;
    std::atomic<bool> serving{true};
    std::atomic<int> inconsistent{0};
    std::atomic<int> snapshots{0};

    weft::wait_group dashboards;  // readers, polling until the handlers are done
    for (int d = 0; d < 3; ++d) {
        dashboards.go([&] {
            do {
                auto snap = stats.snapshot();
                int sum = 0;
                for (const auto& [route, r] : snap.routes) sum += r.requests;
                if (sum != snap.total) inconsistent.fetch_add(1);  // never: one lock guards both
                snapshots.fetch_add(1);
                std::this_thread::sleep_for(1ms);  // a dashboard polls; it does not spin
            } while (serving.load());
        });
    }

    weft::wait_group handlers;  // writers
    for (int h = 0; h < 4; ++h) {
        handlers.go([&, h] {
            for (int i = 0; i < 500; ++i) {
                std::size_t k = static_cast<std::size_t>(i * 7 + h) % routes.size();
                int status = (i + h) % 50 == 0 ? 503 : 200;
                stats.record(routes[k], status, 100 + 10 * static_cast<long>(k) + i % 10);
            }
        });
    }
    handlers.wait();
    serving.store(false);
    dashboards.wait();

    auto final_stats = stats.snapshot();
    for (const auto& [route, r] : final_stats.routes)
        std::printf("%-10s requests %4d  errors %2d  avg %ld us\n", route.c_str(), r.requests,
                    r.errors, r.latency_us / r.requests);
    std::printf("total %d, /search alone %d\n", final_stats.total, stats.requests("/search"));
    std::printf("dashboards took snapshots: %s, every one consistent: %s\n",
                snapshots.load() >= 3 ? "yes" : "no", inconsistent.load() == 0 ? "yes" : "no");
}
