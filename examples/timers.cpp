// examples/timers.cpp - weft's time primitives: after() as a select timeout, a timer's stop and
// reset (Go 1.23: no stale value ever), a ticker on a fixed grid that drops ticks for a slow
// receiver, and an idle timeout that every message resets.
//
// Deterministic: stdout is compared with examples/timers.expected. docs/patterns/timers.md
// quotes these functions verbatim; keep the two in step.
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>

#include <weft/channel.hpp>
#include <weft/select.hpp>
#include <weft/time.hpp>

using namespace std::chrono_literals;
using std::chrono::steady_clock;

// A timeout is just a channel: select on the work and on weft::after(d).
void timeout() {
    weft::channel<std::string> results(1);  // the slow call never answers
    const auto start = steady_clock::now();
    weft::select(weft::on_receive(results,
                                  [](std::optional<std::string> r) {
                                      if (r) std::printf("result: %s\n", r->c_str());
                                  }),
                 weft::on_receive(weft::after(50ms), [] { std::printf("timeout\n"); }));
    std::printf("  waited at least 50ms: %s\n", steady_clock::now() - start >= 50ms ? "yes" : "no");

    // A zero (or negative) duration is due now: the channel is ready when after() returns.
    auto now = weft::after(0ms);
    std::printf("  after(0ms) ready at once: %s\n", now.try_receive() ? "yes" : "no");
}

// stop() prevents the delivery and says whether it did.
void stop_timer() {
    weft::timer t(1h);
    bool stopped = t.stop();  // true: the value was still pending
    bool again = t.stop();    // false: nothing left to prevent
    std::printf("timer: stop() -> %s, again -> %s\n", stopped ? "true" : "false",
                again ? "true" : "false");
}

// Go 1.23: once reset() (or stop()) returns, no value of the old schedule is ever received -
// not even one that had already fired and was waiting in the channel.
void reset_timer() {
    weft::timer t(1ms);
    while (t.chan().size() == 0) std::this_thread::sleep_for(1ms);  // it fired; nobody received
    const auto before = steady_clock::now();
    bool pending = t.reset(30ms);  // true: its value had not been received; it is discarded
    auto stale = t.chan().try_receive();
    std::printf("timer: reset() -> %s, old value received: %s\n", pending ? "true" : "false",
                stale ? "yes" : "no");
    auto fresh = t.chan().receive();  // the new schedule's value: its due time
    std::printf("  new value is due 30ms after the reset: %s\n",
                *fresh >= before + 30ms ? "yes" : "no");
}

// A ticker delivers the due time of each tick; ticks stay on the period's grid.
void ticking() {
    weft::ticker tk(10ms);
    auto rx = tk.chan();
    const auto first = *rx.receive();
    for (int i = 1; i <= 3; ++i) {
        const auto tick = *rx.receive();
        std::printf("tick %d: on the 10ms grid: %s\n", i,
                    (tick - first) % 10ms == 0ms ? "yes" : "no");
    }
    tk.stop();  // the destructor would stop it too
}

// A slow receiver does not get a backlog: the channel holds one tick, the others are dropped.
void slow_receiver() {
    weft::ticker tk(1ms);
    auto rx = tk.chan();
    std::this_thread::sleep_for(30ms);                        // about 30 ticks were due...
    while (rx.size() == 0) std::this_thread::sleep_for(1ms);  // ...or fewer, on a busy machine
    std::printf("slow receiver: %zu tick waiting, the rest dropped\n", rx.size());
    tk.stop();  // and no stale tick survives stop()
    std::printf("  after stop: %zu waiting\n", rx.size());
}

// An idle timeout: every message resets the timer; silence for 200ms ends the loop.
void idle_timeout() {
    weft::channel<std::string> messages(3);
    for (const char* m : {"a", "b", "c"}) messages.send(m);
    weft::timer idle(200ms);
    for (bool open = true; open;) {
        auto on_message = [&](std::optional<std::string> m) {
            if (m) std::printf("message %s\n", m->c_str());
            idle.reset(200ms);  // another 200ms of patience
        };
        auto on_idle = [&] {
            std::printf("idle for 200ms, stopping\n");
            open = false;
        };
        weft::select(weft::on_receive(messages, on_message),
                     weft::on_receive(idle.chan(), on_idle));
    }
}

int main() {
    timeout();
    stop_timer();
    reset_timer();
    ticking();
    slow_receiver();
    idle_timeout();
}
