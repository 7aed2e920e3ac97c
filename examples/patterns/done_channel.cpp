// examples/patterns/done_channel.cpp - the tutorial's done channel: workers select on their jobs
// and on a done channel, and closing done stops every one of them at once. Then the same
// shutdown with weft::worker_pool: stop() closes the pool's done signal (stop_context()), takes
// the queued jobs out so none of them starts, and reports each one through its future.
//
// The Go original is examples/go/patterns/done_channel/main.go (its second part writes stop()
// by hand); both print the same lines. Deterministic: stdout is compared with
// done_channel.expected. docs/patterns/worker_pool.md quotes this file verbatim.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <weft/channel.hpp>
#include <weft/select.hpp>
#include <weft/wait_group.hpp>
#include <weft/worker_pool.hpp>

std::string join_ints(const std::vector<int>& xs) {
    std::string s;
    for (int x : xs) {
        if (!s.empty()) s += ' ';
        s += std::to_string(x);
    }
    return s;
}

// Raw channels: three workers, each selecting on jobs and done.
void done_channel() {
    weft::channel<int> jobs(0);
    weft::channel<int> results(6);
    weft::channel<std::monostate> done(0);  // never sent on: closing it is the signal
    std::atomic<int> returned{0};
    weft::wait_group wg;
    for (int w = 0; w < 3; ++w) {
        wg.go([=, &returned]() {
            for (bool running = true; running;) {
                weft::select(
                    weft::on_receive(jobs, [&](std::optional<int> j) { results.send(*j * *j); }),
                    weft::on_receive(done, [&] {
                        returned.fetch_add(1);
                        running = false;
                    }));
            }
        });
    }
    for (int i = 1; i <= 6; ++i) jobs.send(i);
    std::vector<int> squares;
    for (int i = 0; i < 6; ++i) squares.push_back(*results.receive());
    std::sort(squares.begin(), squares.end());
    std::printf("done channel: squares %s\n", join_ints(squares).c_str());
    done.close();
    wg.wait();
    std::printf("done channel: closed done, %d workers returned\n", returned.load());
}

// worker_pool: stop() instead of the done channel, the priority select and the drain.
void stop_with_queued_jobs() {
    weft::worker_pool pool(2, 10);
    weft::channel<int> started(0);
    std::atomic<int> saw_done{0};
    for (int id = 1; id <= 2; ++id) {
        pool.post([&pool, &saw_done, started, id]() {
            started.send(id);
            (void)pool.stop_context().done().receive();  // a long job that watches done
            saw_done.fetch_add(1);
        });
    }
    (void)started.receive();
    (void)started.receive();
    std::vector<std::pair<int, weft::future<void>>> queued;
    for (int id = 3; id <= 7; ++id)
        queued.emplace_back(id, pool.submit([] { std::printf("never printed\n"); }));

    // Cancels stop_context(), takes the five queued jobs out, waits for the two running ones.
    // The jobs it returns are dropped here, so each future holds weft::task_canceled.
    (void)pool.stop();
    std::vector<int> canceled;
    for (auto& [id, f] : queued) {
        try {
            f.get();
        } catch (const weft::task_canceled&) { canceled.push_back(id); }
    }
    std::printf("stop: %d running jobs saw the done signal\n", saw_done.load());
    std::printf("stop: %zu queued jobs canceled: %s\n", canceled.size(),
                join_ints(canceled).c_str());
}

int main() {
    done_channel();
    stop_with_queued_jobs();
}
