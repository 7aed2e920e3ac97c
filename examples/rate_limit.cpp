// examples/rate_limit.cpp - weft::rate_limiter, Go's golang.org/x/time/rate: drop what exceeds
// the rate (allow), learn how long to wait (reserve), wait with a context (wait), and make "a
// token is ready" one case of a select (permit).
//
// Deterministic: stdout is compared with examples/rate_limit.expected. The bucket is shown on
// explicit time points, so its answers do not depend on the machine's speed; the real-time
// parts print only what the limiter guarantees. docs/patterns/rate_limit.md quotes these
// functions verbatim; keep the two in step.
#include <chrono>
#include <cstdio>

#include <weft/context.hpp>
#include <weft/rate.hpp>
#include <weft/select.hpp>

using namespace std::chrono_literals;
using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

// allow: an event that finds no token is dropped. 10 tokens per second, bursts of 3.
void drop_excess() {
    weft::rate_limiter lim(10, 3);
    const auto t0 = steady_clock::now();
    for (int ms : {0, 0, 0, 0, 100, 150, 200, 600}) {
        const auto at = t0 + milliseconds(ms);
        const double before = lim.tokens_at(at);
        const bool ok = lim.allow_n(at, 1);
        std::printf("t=%3dms  %.1f tokens  %s\n", ms, before, ok ? "allowed" : "dropped");
    }
}

// reserve: every event is granted, and told how long to wait first. A canceled reservation
// gives its tokens back, as far as later reservations have not counted on them.
void pace() {
    weft::rate_limiter lim(10, 1);
    const auto t0 = steady_clock::now();
    auto a = lim.reserve_n(t0, 1);
    auto b = lim.reserve_n(t0, 1);
    auto c = lim.reserve_n(t0, 1);
    for (auto* r : {&a, &b, &c}) {
        const auto wait = duration_cast<milliseconds>(r->delay_from(t0));
        std::printf("reservation: act in %lldms\n", static_cast<long long>(wait.count()));
    }
    c.cancel_at(t0);  // the latest one: its token comes back
    std::printf("after canceling the last: %.1f tokens\n", lim.tokens_at(t0));
    std::printf("5 tokens at once: %s\n", lim.reserve_n(t0, 5).ok() ? "ok" : "never (burst 1)");
}

// wait: block until the tokens are due. It fails at once, taking nothing, if they would come
// after the context's deadline: there is no point in sleeping until then.
void wait_for_tokens() {
    weft::rate_limiter lim(20, 1);  // one token per 50ms
    const auto start = steady_clock::now();
    for (int i = 1; i <= 5; ++i) {
        if (lim.wait(weft::background())) return;
        std::printf("request %d\n", i);
    }
    // 1 at once, then 4 at 50ms intervals (the timer may wake late, never early).
    const bool paced = steady_clock::now() - start >= 4 * 50ms - 1ms;
    std::printf("5 requests took at least 199ms: %s\n", paced ? "yes" : "no");

    weft::rate_limiter hourly(weft::rate_limiter::every(1h), 1);
    (void)hourly.allow();  // the next token is an hour away
    auto [ctx, cancel] = weft::with_timeout(weft::background(), 1s);
    auto ec = hourly.wait(ctx);
    std::printf("wait with a 1s deadline: %s\n", ec.message().c_str());
    ec = hourly.wait_n(ctx, 2);
    std::printf("wait for 2 tokens, burst 1: %s\n", ec.message().c_str());
    cancel();
}

// permit: a token is a select case. Jobs go out at the limiter's pace, and the loop stops at
// once when its context is done. A permit whose case did not fire gives its token back.
void send_paced(const weft::context& ctx, weft::rate_limiter& lim, int jobs) {
    for (int job = 1; job <= jobs; ++job) {
        auto permit = lim.permit();
        bool done = false;
        weft::select(weft::on_receive(permit.chan(), [&] { std::printf("job %d sent\n", job); }),
                     weft::on_receive(ctx.done(), [&] { done = true; }));
        if (done) {
            std::printf("job %d not sent: %s\n", job, ctx.err().message().c_str());
            return;
        }
    }
}

void select_on_tokens() {
    weft::rate_limiter fast(100, 2);
    send_paced(weft::background(), fast, 3);

    // One token, then one an hour: the second job waits until the context gives up.
    weft::rate_limiter slow(weft::rate_limiter::every(1h), 1);
    auto [ctx, cancel] = weft::with_timeout(weft::background(), 200ms);
    send_paced(ctx, slow, 3);
    std::printf("tokens left: %.2f (the unused permit gave its token back)\n", slow.tokens());
    cancel();
}

int main() {
    drop_excess();
    pace();
    wait_for_tokens();
    select_on_tokens();
}
