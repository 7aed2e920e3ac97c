// Tests of weft/rate.hpp: the token bucket, reservations and their cancellation, wait with a
// context, the select permit, and the limiter under many threads.
//
// The "rate_test.go:" cases port the tests of golang.org/x/time, file rate/rate_test.go (the
// version with TokensAt checks and TestTinyLimit). They are translated, not copied. Like Go's,
// the bucket tests run on explicit time points (t0 + k*d), so they are exact and do not depend
// on the machine's speed. Go's newest wait tests run on a fake clock that weft's wait does not
// have; their ports here run on the real clock, with bounds that only a time *shorter* than the
// limiter allows can break (being slow never fails them), or with rates chosen so that the
// event under test is seconds away from any race.
#include <weft/rate.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include "support.hpp"

using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;
using weft::rate_limiter;
using weft_test::scale;

namespace {

// Go's test clock: t0 and steps of d.
constexpr clk::duration d = 100ms;
const clk::time_point t0 = clk::now();
clk::time_point t(int k) { return t0 + k * d; }

// Go's dFromDuration / dSince: a duration in multiples of d, rounded to the nearest.
long d_from(clk::duration dur) { return static_cast<long>((dur + d / 2) / d); }
long d_since(clk::time_point tp) { return d_from(tp - t0); }

struct allow_step {
    clk::time_point at;
    double tokens;  // expected tokens_at(at) before the call
    int n;
    bool ok;
};

// Go's run(): checks tokens_at and allow_n step by step.
void run(rate_limiter& lim, std::initializer_list<allow_step> steps) {
    int step = 0;
    for (const auto& s : steps) {
        CAPTURE(step);
        CHECK(lim.tokens_at(s.at) == s.tokens);
        CHECK(lim.allow_n(s.at, s.n) == s.ok);
        ++step;
    }
}

struct request {
    clk::time_point at;
    int n;
    clk::time_point act;  // expected time to act, if ok
    bool ok;
};

// Go's runReserveMax: reserve_n and compare the time to act in multiples of d.
weft::rate_reservation run_reserve(rate_limiter& lim, request req,
                                   clk::duration max_wait = rate_limiter::inf_duration) {
    auto r = lim.reserve_n(req.at, req.n, max_wait);
    CAPTURE(d_since(req.at));
    CAPTURE(req.n);
    CHECK(r.ok() == req.ok);
    if (r.ok() && req.ok) CHECK(d_since(r.time_to_act()) == d_since(req.act));
    return r;
}

double seconds_since(clk::time_point start) {
    return std::chrono::duration<double>(clk::now() - start).count();
}

}  // namespace

// --- construction, limits, errors ------------------------------------------------------------

TEST_CASE("rate_test.go: TestLimit, TestEvery") {
    CHECK(10.0 != rate_limiter::inf);
    CHECK(rate_limiter::every(0ns) == rate_limiter::inf);
    CHECK(rate_limiter::every(-1ns) == rate_limiter::inf);
    struct {
        clk::duration interval;
        double limit;
    } cases[] = {
        {1ns, 1e9},
        {1us, 1e6},
        {1ms, 1e3},
        {10ms, 100},
        {100ms, 10},
        {1s, 1},
        {2s, 0.5},
        {2500ms, 0.4},
        {4s, 0.25},
        {10s, 0.1},
        {clk::duration::max(), 1e9 / static_cast<double>(clk::duration::max().count())},
    };
    for (const auto& c : cases) {
        CAPTURE(c.interval.count());
        CHECK(std::abs(rate_limiter::every(c.interval) / c.limit - 1.0) < 1e-9);
    }
    CHECK(rate_limiter::every(std::chrono::duration<double>(0.25)) == 4.0);
}

TEST_CASE("construction, accessors, invalid arguments") {
    rate_limiter lim(10, 3);
    CHECK(lim.limit() == 10);
    CHECK(lim.burst() == 3);
    CHECK(lim.tokens_at(t(0)) == 3);  // full at construction
    CHECK_THROWS_AS(rate_limiter(1, -1), std::invalid_argument);
    CHECK_THROWS_AS(rate_limiter(std::nan(""), 1), std::invalid_argument);
    CHECK_THROWS_AS(lim.set_burst(-2), std::invalid_argument);
    CHECK_THROWS_AS(lim.set_limit(std::nan("")), std::invalid_argument);
    CHECK(lim.burst() == 3);  // unchanged by the throwing calls
    // Go's Inf is DBL_MAX; anything that large is inf here.
    rate_limiter big(std::numeric_limits<double>::max(), 0);
    CHECK(big.limit() == rate_limiter::inf);
    // A negative n is never allowed (Go would add tokens).
    CHECK_FALSE(lim.allow_n(t(0), -1));
    CHECK_FALSE(lim.reserve_n(t(0), -1).ok());
    CHECK(lim.tokens_at(t(0)) == 3);
}

TEST_CASE("rate_errc is a std::error_code enum with portable conditions") {
    std::error_code burst = weft::rate_errc::exceeds_burst;
    std::error_code late = weft::rate_errc::would_exceed_deadline;
    CHECK(burst == std::errc::invalid_argument);
    CHECK(late == std::errc::timed_out);
    CHECK(late != std::errc::invalid_argument);
    CHECK(std::string(burst.category().name()) == "weft.rate");
    CHECK(burst.message().find("burst") != std::string::npos);
    CHECK(late.message().find("deadline") != std::string::npos);
    // A context's deadline error and the limiter's "would exceed it" share a condition.
    std::error_code ctx_deadline = weft::context_errc::deadline_exceeded;
    CHECK(ctx_deadline == std::errc::timed_out);
}

// --- allow: Go's table tests -----------------------------------------------------------------

TEST_CASE("rate_test.go: TestLimiterBurst1") {
    rate_limiter lim(10, 1);
    run(lim, {
                 {t(0), 1, 1, true},
                 {t(0), 0, 1, false},
                 {t(0), 0, 1, false},
                 {t(1), 1, 1, true},
                 {t(1), 0, 1, false},
                 {t(1), 0, 1, false},
                 {t(2), 1, 2, false},  // burst is 1, so n = 2 always fails
                 {t(2), 1, 1, true},
                 {t(2), 0, 1, false},
             });
}

TEST_CASE("rate_test.go: TestLimiterBurst3") {
    rate_limiter lim(10, 3);
    run(lim, {
                 {t(0), 3, 2, true},
                 {t(0), 1, 2, false},
                 {t(0), 1, 1, true},
                 {t(0), 0, 1, false},
                 {t(1), 1, 4, false},
                 {t(2), 2, 1, true},
                 {t(3), 2, 1, true},
                 {t(4), 2, 1, true},
                 {t(4), 1, 1, true},
                 {t(4), 0, 1, false},
                 {t(4), 0, 1, false},
                 {t(9), 3, 3, true},
                 {t(9), 0, 0, true},
             });
}

TEST_CASE("rate_test.go: TestLimiterJumpBackwards") {
    rate_limiter lim(10, 3);
    run(lim, {
                 {t(1), 3, 1, true},  // start at t1
                 {t(0), 2, 1, true},  // jump back to t0: two tokens remain
                 {t(0), 1, 1, true},
                 {t(0), 0, 1, false},
                 {t(0), 0, 1, false},
                 {t(1), 1, 1, true},  // got a token
                 {t(1), 0, 1, false},
                 {t(1), 0, 1, false},
                 {t(2), 1, 1, true},  // got another token
                 {t(2), 0, 1, false},
                 {t(2), 0, 1, false},
             });
}

TEST_CASE("rate_test.go: TestLimiter_noTruncationErrors") {
    // golang.org/issues/34861: truncating nanoseconds must not lose the first token.
    rate_limiter lim(0.7692307692307693, 1);
    CHECK(lim.allow());
}

TEST_CASE("rate_test.go: TestSimultaneousRequests") {
    WEFT_WATCHDOG();
    // Go's version calls Allow() (time.Now()); at one explicit time point the answer cannot
    // depend on how long starting 15 threads takes.
    constexpr int burst = 5, requests = 15;
    rate_limiter lim(1, burst);
    const auto now = clk::now();
    std::atomic<int> ok{0};
    {
        weft_test::goroutines g;
        for (int i = 0; i < requests; ++i) {
            g.go([&] {
                if (lim.allow_n(now, 1)) ok.fetch_add(1);
            });
        }
    }
    CHECK(ok.load() == burst);
}

TEST_CASE("rate_test.go: TestLongRunningQPS (explicit time points)") {
    // Go's newest version runs this on a fake clock: ~500 offers per second for 5 s.
    constexpr double limit = 100;
    constexpr int burst = 100;
    rate_limiter lim(limit, burst);
    const auto start = clk::now();
    const auto end = start + 5s;
    int ok = 0;
    auto now = start;
    for (; now < end; now += 2ms) {
        if (lim.allow_n(now, 1)) ++ok;
    }
    const double ideal = burst + limit * std::chrono::duration<double>(now - start).count();
    CHECK(ok <= static_cast<int>(ideal + 1));      // never more than allowed
    CHECK(ok >= static_cast<int>(0.999 * ideal));  // and very close to it
}

// --- reserve and cancel: Go's table tests ----------------------------------------------------

TEST_CASE("rate_test.go: TestSimpleReserve") {
    rate_limiter lim(10, 2);
    run_reserve(lim, {t(0), 2, t(0), true});
    run_reserve(lim, {t(0), 2, t(2), true});
    run_reserve(lim, {t(3), 2, t(4), true});
}

TEST_CASE("rate_test.go: TestMix") {
    rate_limiter lim(10, 2);
    run_reserve(lim, {t(0), 3, t(1), false});  // n > burst
    run_reserve(lim, {t(0), 2, t(0), true});
    run(lim, {{t(1), 1, 2, false}});  // not enough tokens: not allowed
    run_reserve(lim, {t(1), 2, t(2), true});
    run(lim, {{t(1), -1, 1, false}});  // negative tokens: not allowed
    run(lim, {{t(3), 1, 1, true}});
}

TEST_CASE("rate_test.go: TestCancelInvalid") {
    rate_limiter lim(10, 2);
    run_reserve(lim, {t(0), 2, t(0), true});
    auto r = run_reserve(lim, {t(0), 3, t(3), false});
    r.cancel_at(t(0));                        // no effect
    run_reserve(lim, {t(0), 2, t(2), true});  // no extra tokens
}

TEST_CASE("rate_test.go: TestCancelLast") {
    rate_limiter lim(10, 2);
    run_reserve(lim, {t(0), 2, t(0), true});
    auto r = run_reserve(lim, {t(0), 2, t(2), true});
    r.cancel_at(t(1));  // 2 tokens back
    run_reserve(lim, {t(1), 2, t(2), true});
}

TEST_CASE("rate_test.go: TestCancelTooLate") {
    rate_limiter lim(10, 2);
    run_reserve(lim, {t(0), 2, t(0), true});
    auto r = run_reserve(lim, {t(0), 2, t(2), true});
    r.cancel_at(t(3));  // its time to act has passed: no effect
    run_reserve(lim, {t(3), 2, t(4), true});
}

TEST_CASE("rate_test.go: TestCancel0Tokens") {
    rate_limiter lim(10, 2);
    run_reserve(lim, {t(0), 2, t(0), true});
    auto r = run_reserve(lim, {t(0), 1, t(1), true});
    run_reserve(lim, {t(0), 1, t(2), true});
    r.cancel_at(t(0));  // 0 tokens back: the later reservation counts on them
    run_reserve(lim, {t(0), 1, t(3), true});
}

TEST_CASE("rate_test.go: TestCancel1Token") {
    rate_limiter lim(10, 2);
    run_reserve(lim, {t(0), 2, t(0), true});
    auto r = run_reserve(lim, {t(0), 2, t(2), true});
    run_reserve(lim, {t(0), 1, t(3), true});
    r.cancel_at(t(2));  // 1 token back
    run_reserve(lim, {t(2), 2, t(4), true});
}

TEST_CASE("rate_test.go: TestCancelMulti") {
    rate_limiter lim(10, 4);
    run_reserve(lim, {t(0), 4, t(0), true});
    auto ra = run_reserve(lim, {t(0), 3, t(3), true});
    run_reserve(lim, {t(0), 1, t(4), true});
    auto rc = run_reserve(lim, {t(0), 1, t(5), true});
    rc.cancel_at(t(1));  // 1 token back
    ra.cancel_at(t(1));  // 2 tokens back, as if C had never been reserved
    run_reserve(lim, {t(1), 3, t(5), true});
}

TEST_CASE("rate_test.go: TestReserveJumpBack") {
    rate_limiter lim(10, 2);
    run_reserve(lim, {t(1), 2, t(1), true});  // start at t1
    run_reserve(lim, {t(0), 1, t(1), true});  // violates the limit and the burst (as in Go)
    run_reserve(lim, {t(2), 2, t(3), true});
    // n = 3 > burst always fails and leaves the limiter as it was
    run_reserve(lim, {t(0), 3, clk::time_point{}, false});
    run_reserve(lim, {t(2), 1, t(4), true});
    // max_wait too short: fails and leaves the limiter as it was
    run_reserve(lim, {t(0), 2, clk::time_point{}, false}, d);
    run_reserve(lim, {t(2), 1, t(5), true});
}

TEST_CASE("rate_test.go: TestReserveJumpBackCancel") {
    rate_limiter lim(10, 2);
    run_reserve(lim, {t(1), 2, t(1), true});  // start at t1
    auto r = run_reserve(lim, {t(1), 2, t(3), true});
    run_reserve(lim, {t(1), 1, t(4), true});
    r.cancel_at(t(0));                        // cancel at t0: 1 token back
    run_reserve(lim, {t(1), 2, t(4), true});  // violates the limit and the burst (as in Go)
}

TEST_CASE("rate_test.go: TestReserveSetLimit") {
    rate_limiter lim(5, 2);
    run_reserve(lim, {t(0), 2, t(0), true});
    run_reserve(lim, {t(0), 2, t(4), true});
    lim.set_limit_at(t(2), 10);
    run_reserve(lim, {t(2), 1, t(4), true});  // violates the limit and the burst
}

TEST_CASE("rate_test.go: TestReserveSetBurst") {
    rate_limiter lim(5, 2);
    run_reserve(lim, {t(0), 2, t(0), true});
    run_reserve(lim, {t(0), 2, t(4), true});
    lim.set_burst_at(t(3), 4);
    CHECK(lim.burst() == 4);
    run_reserve(lim, {t(0), 4, t(9), true});  // violates the limit and the burst
}

TEST_CASE("rate_test.go: TestReserveSetLimitCancel") {
    rate_limiter lim(5, 2);
    run_reserve(lim, {t(0), 2, t(0), true});
    auto r = run_reserve(lim, {t(0), 2, t(4), true});
    lim.set_limit_at(t(2), 10);
    r.cancel_at(t(2));  // 2 tokens back
    run_reserve(lim, {t(2), 2, t(3), true});
}

TEST_CASE("rate_test.go: TestReserveMax") {
    rate_limiter lim(10, 2);
    run_reserve(lim, {t(0), 2, t(0), true}, d);
    run_reserve(lim, {t(0), 1, t(1), true}, d);   // due within max_wait
    run_reserve(lim, {t(0), 1, t(2), false}, d);  // due too far in the future
}

TEST_CASE("reservation: delay_from, cancel acts once, move") {
    rate_limiter lim(10, 2);
    run_reserve(lim, {t(0), 2, t(0), true});
    auto r = run_reserve(lim, {t(0), 2, t(2), true});
    CHECK(r.delay_from(t(0)) == 2 * d);
    CHECK(r.delay_from(t(1)) == d);
    CHECK(r.delay_from(t(5)) == clk::duration::zero());
    auto moved = std::move(r);
    CHECK_FALSE(r.ok());  // NOLINT(bugprone-use-after-move): moved-from is documented
    CHECK(r.delay_from(t(0)) == rate_limiter::inf_duration);
    r.cancel_at(t(0));  // nothing
    CHECK(lim.tokens_at(t(0)) == -2);
    moved.cancel_at(t(0));
    CHECK(lim.tokens_at(t(0)) == 0);
    moved.cancel_at(t(0));  // once only
    CHECK(lim.tokens_at(t(0)) == 0);
    weft::rate_reservation none;
    CHECK_FALSE(none.ok());
    CHECK(none.delay() == rate_limiter::inf_duration);
}

// --- zero, tiny and infinite limits ----------------------------------------------------------

TEST_CASE("rate_test.go: TestZeroLimit") {
    rate_limiter lim(0, 1);
    CHECK(lim.allow());        // full at the start
    CHECK_FALSE(lim.allow());  // and never refilled
    CHECK_FALSE(lim.allow_n(clk::time_point::max(), 1));
    // A reservation is granted but never due.
    auto r = lim.reserve_n(t(0), 1);
    CHECK(r.ok());
    CHECK(r.delay_from(t(0)) == rate_limiter::inf_duration);
    r.cancel_at(t(0));
    CHECK(lim.tokens_at(t(0)) == 0);
}

TEST_CASE("rate_test.go: TestSetAfterZeroLimit") {
    WEFT_WATCHDOG();
    rate_limiter lim(0, 1);
    CHECK(lim.allow());
    CHECK_FALSE(lim.allow());
    lim.set_limit(10);
    // The next token is 1/10 s away (Go: "wait-after-set-nonzero-after-zero", one d).
    const auto start = clk::now();
    CHECK_FALSE(lim.wait(weft::background()));
    CHECK(seconds_since(start) >= 0.09);
}

TEST_CASE("rate_test.go: TestTinyLimit") {
    // go.dev/issue/71154: the wait for the second token overflows a Duration.
    rate_limiter lim(1e-10, 1);
    CHECK(lim.allow());
    CHECK_FALSE(lim.allow());
    auto r = lim.reserve();
    CHECK(r.ok());
    CHECK(r.delay() == rate_limiter::inf_duration);
}

TEST_CASE("rate_test.go: TestWaitInf, and the inf limit") {
    WEFT_WATCHDOG();
    rate_limiter lim(rate_limiter::inf, 0);
    CHECK_FALSE(lim.wait_n(weft::background(), 3));  // exceeds the burst: no error
    CHECK(lim.allow_n(t(0), 1000));
    auto r = lim.reserve_n(t(0), 1000);
    CHECK(r.ok());
    CHECK(r.delay_from(t(0)) == clk::duration::zero());
    r.cancel_at(t(0));
    CHECK(lim.tokens_at(t(0)) == 0);  // inf took nothing and gives nothing back
    // Back to a finite limit: the bucket is as it was (burst 0).
    lim.set_limit_at(t(1), 10);
    CHECK_FALSE(lim.allow_n(t(1), 1));
}

// --- wait(ctx) -------------------------------------------------------------------------------

TEST_CASE("rate_test.go: TestWaitSimple") {
    WEFT_WATCHDOG();
    rate_limiter lim(10, 3);
    {
        auto [ctx, cancel] = weft::with_cancel(weft::background());
        cancel();
        CHECK(lim.wait_n(ctx, 1) == weft::context_errc::canceled);  // "already-canceled"
    }
    CHECK(lim.wait_n(weft::background(), 4) == weft::rate_errc::exceeds_burst);
    CHECK(lim.wait_n(weft::background(), -1) == std::errc::invalid_argument);
    CHECK(lim.tokens() > 2.99);  // the failed calls took nothing

    auto start = clk::now();
    CHECK_FALSE(lim.wait_n(weft::background(), 2));  // "act-now"
    start = clk::now();
    CHECK_FALSE(lim.wait_n(weft::background(), 3));  // "act-later": 2 more tokens, 2 d
    // Go's bound: at least wantD multiples of d, after rounding (the tokens that accrued
    // between the two calls shorten the wait by less than d/2).
    CHECK(d_from(clk::now() - start) >= 2);
}

TEST_CASE("rate_test.go: TestWaitCancel") {
    WEFT_WATCHDOG();
    // Go: 10/s and a cancel after d, while the wait needs 2 d. Here the wait needs 2 s, so the
    // cancel (after 50 ms) comes first however loaded the machine is.
    rate_limiter lim(1, 3);
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    CHECK_FALSE(lim.wait_n(ctx, 2));  // 1 token left
    std::thread canceller([cancel = cancel] {
        std::this_thread::sleep_for(50ms);
        cancel();
    });
    const auto start = clk::now();
    CHECK(lim.wait_n(ctx, 3) == weft::context_errc::canceled);
    canceller.join();
    // The 3 tokens came back: 1, plus what accrued meanwhile.
    const double left = lim.tokens();
    CHECK(left >= 1.0);
    CHECK(left <= 1.0 + seconds_since(start) + 0.01);
    CHECK_FALSE(lim.wait_n(weft::background(), 1));  // "act-now-after-cancel"
}

TEST_CASE("rate_test.go: TestWaitTimeout") {
    WEFT_WATCHDOG();
    // Go: a 1 d timeout and a wait that needs 2 d. Here 10 s and 20 s: the point is that the
    // wait fails at once, without sleeping until the deadline.
    rate_limiter lim(0.1, 3);
    auto [ctx, cancel] = weft::with_timeout(weft::background(), 10s);
    CHECK_FALSE(lim.wait_n(ctx, 2));  // "act-now"
    const auto start = clk::now();
    const std::error_code ec = lim.wait_n(ctx, 3);  // "w-timeout-err"
    CHECK(ec == weft::rate_errc::would_exceed_deadline);
    CHECK(ec == std::errc::timed_out);
    CHECK(seconds_since(start) < 5.0);  // failed at once: it did not sleep
    CHECK(lim.tokens() >= 1.0);         // and took nothing
    cancel();
}

TEST_CASE("wait: cancel while blocked gives the tokens back") {
    WEFT_WATCHDOG();
    rate_limiter lim(0, 1);  // one token, never refilled: a second wait blocks until canceled
    CHECK_FALSE(lim.wait(weft::background()));
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    std::atomic<bool> returned{false};
    std::error_code ec;
    std::thread waiter([&, c = ctx] {
        ec = lim.wait(c);
        returned = true;
    });
    std::this_thread::sleep_for(30ms);
    CHECK_FALSE(returned.load());  // still blocked: the token will never come
    CHECK(lim.tokens() == -1);     // it owes the reserved token
    cancel();
    waiter.join();
    CHECK(ec == weft::context_errc::canceled);
    CHECK(lim.tokens() == 0);  // given back exactly
}

TEST_CASE("wait: a deadline reached while waiting") {
    WEFT_WATCHDOG();
    rate_limiter lim(0, 1);
    CHECK(lim.allow());
    // Limit 0: the token is never due, so "would exceed the deadline" is known at once.
    auto [ctx, cancel] = weft::with_timeout(weft::background(), 1h);
    CHECK(lim.wait(ctx) == weft::rate_errc::would_exceed_deadline);
    // A finite wait with a deadline inside it: fails at once too.
    lim.set_limit(1);  // next token in ~1 s
    auto [short_ctx, short_cancel] = weft::with_timeout(weft::background(), 200ms);
    CHECK(lim.wait(short_ctx) == std::errc::timed_out);
    short_cancel();
    cancel();
}

// --- many threads ----------------------------------------------------------------------------

TEST_CASE("many threads: allowed events in a window are bounded by burst + rate * window") {
    WEFT_WATCHDOG();
    constexpr double limit = 200;
    constexpr int burst = 10;
    rate_limiter lim(limit, burst);
    const auto window = 300ms;
    std::atomic<long> ok{0}, tries{0};
    const auto start = clk::now();
    {
        weft_test::goroutines g;
        for (int i = 0; i < 4; ++i) {
            g.go([&] {
                while (clk::now() - start < window) {
                    tries.fetch_add(1, std::memory_order_relaxed);
                    if (lim.allow()) ok.fetch_add(1, std::memory_order_relaxed);
                }
            });
        }
    }
    // Every allow() happened before now, so now - start bounds the refill from above.
    const double upper = burst + limit * seconds_since(start) + 1;
    CHECK(ok.load() <= static_cast<long>(upper));
    CHECK(ok.load() >= burst);  // the burst is there at once
    CHECK(tries.load() > ok.load());
}

TEST_CASE("many threads: waits are never early") {
    WEFT_WATCHDOG();
    // n events at 100/s after a burst of 5 take at least (n - 5) / 100 s, whoever waits.
    constexpr double limit = 100;
    constexpr int burst = 5, threads = 4;
    const int per_thread = static_cast<int>(scale(10));
    rate_limiter lim(limit, burst);
    std::atomic<int> done{0};
    const auto start = clk::now();
    {
        weft_test::goroutines g;
        for (int i = 0; i < threads; ++i) {
            g.go([&] {
                for (int k = 0; k < per_thread; ++k) {
                    if (!lim.wait(weft::background())) done.fetch_add(1);
                }
            });
        }
    }
    const int total = threads * per_thread;
    CHECK(done.load() == total);
    CHECK(seconds_since(start) >= (total - burst) / limit - 0.001);
}

// --- the select permit -----------------------------------------------------------------------

TEST_CASE("permit: fires when a token is there, and then the token is used") {
    WEFT_WATCHDOG();
    rate_limiter lim(0, 2);
    bool fired = false;
    {
        auto p = lim.permit();
        CHECK(p.ok());
        CHECK(p.delay() == clk::duration::zero());
        CHECK(weft::select(weft::on_receive(p.chan(), [&] { fired = true; })) == 0);
        CHECK_FALSE(p.cancel());  // used: nothing to give back
    }
    CHECK(fired);
    CHECK(lim.tokens() == 1);
}

TEST_CASE("permit: a select that fires another case consumes no token") {
    WEFT_WATCHDOG();
    // Both cases ready every round; select picks one at random. Limit 0 makes the bookkeeping
    // exact: the bucket must lose exactly one token per round the permit won.
    const int rounds = static_cast<int>(scale(400));
    rate_limiter lim(0, rounds);
    weft::channel<int> other(1);
    int permit_won = 0, other_won = 0;
    for (int i = 0; i < rounds; ++i) {
        REQUIRE(other.try_send(i));
        auto p = lim.permit();
        weft::select(weft::on_receive(p.chan(), [&] { ++permit_won; }),
                     weft::on_receive(other, [&] { ++other_won; }));
        (void)other.try_receive();  // empty it for the next round if the permit won
    }  // each round's permit is destroyed here: unused ones give their token back
    CHECK(permit_won + other_won == rounds);
    CHECK(permit_won > 0);
    CHECK(other_won > 0);
    CHECK(lim.tokens() == rounds - permit_won);
}

TEST_CASE("permit: otherwise fires when no token is due, and the token comes back") {
    WEFT_WATCHDOG();
    rate_limiter lim(0, 1);
    CHECK(lim.allow());
    {
        auto p = lim.permit();
        CHECK(p.ok());
        CHECK(p.delay() == rate_limiter::inf_duration);  // limit 0: never due
        CHECK(lim.tokens() == -1);                       // reserved, owed
        CHECK(weft::select(weft::on_receive(p.chan(), [] { FAIL("no token is due"); }),
                           weft::otherwise([] {})) == 1);
    }
    CHECK(lim.tokens() == 0);
}

TEST_CASE("permit: a due but unreceived value is given back too") {
    WEFT_WATCHDOG();
    rate_limiter lim(10, 1);
    const double before = lim.tokens();
    auto p = lim.permit();
    REQUIRE(p.chan().size() == 1);      // due at once: the value waits in the channel
    std::this_thread::sleep_for(20ms);  // well past its time to act (Go's Cancel would keep it)
    CHECK(p.cancel());
    CHECK_FALSE(p.cancel());  // once
    CHECK_FALSE(p.chan());    // nil after cancel
    CHECK(lim.tokens() >= before - 1e-9);
}

TEST_CASE("permit: fires later, when the token is due") {
    WEFT_WATCHDOG();
    rate_limiter lim(20, 1);  // one token per 50 ms
    CHECK(lim.allow());
    auto p = lim.permit();
    CHECK(p.delay() > 0ms);
    const auto start = clk::now();
    std::optional<clk::time_point> due;
    weft::select(weft::on_receive(p.chan(), [&](std::optional<clk::time_point> v) { due = v; }));
    REQUIRE(due.has_value());
    CHECK(clk::now() >= *due);
    CHECK(d_from(clk::now() - start) >= 0);  // not before its time (rounded: ~50 ms)
    CHECK(clk::now() - start >= 40ms);
}

TEST_CASE("permit: canceled by a context in the same select") {
    WEFT_WATCHDOG();
    rate_limiter lim(0, 1);
    CHECK(lim.allow());
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    std::thread canceller([cancel = cancel] {
        std::this_thread::sleep_for(20ms);
        cancel();
    });
    {
        auto p = lim.permit();
        CHECK(weft::select(weft::on_receive(p.chan(), [] { FAIL("never due"); }),
                           weft::on_receive(ctx.done(), [] {})) == 1);
    }
    canceller.join();
    CHECK(lim.tokens() == 0);
}

TEST_CASE("permit: n > burst is not ok and its case is nil; move and default") {
    WEFT_WATCHDOG();
    rate_limiter lim(10, 2);
    auto p = lim.permit_n(3);
    CHECK_FALSE(p.ok());
    CHECK_FALSE(p.chan());
    CHECK(weft::select(weft::on_receive(p.chan(), [] { FAIL("nil case"); }),
                       weft::otherwise([] {})) == 1);
    CHECK_FALSE(p.cancel());
    CHECK(lim.tokens() > 1.99);

    weft::rate_permit empty;
    CHECK_FALSE(empty.ok());
    CHECK_FALSE(empty.chan());

    auto a = lim.permit_n(2);
    CHECK(lim.tokens() < 0.01);
    weft::rate_permit b = std::move(a);
    CHECK_FALSE(a.chan());  // NOLINT(bugprone-use-after-move): moved-from is documented
    CHECK_FALSE(a.cancel());
    CHECK(b.chan());
    b = lim.permit_n(0);  // move-assigning gives the old permit's tokens back first
    CHECK(lim.tokens() > 1.99);
}

TEST_CASE("permit: the inf limit is always ready and owes nothing") {
    WEFT_WATCHDOG();
    rate_limiter lim(rate_limiter::inf, 0);
    auto p = lim.permit_n(5);
    CHECK(p.ok());
    CHECK(weft::select(weft::on_receive(p.chan(), [] {})) == 0);
    auto q = lim.permit_n(5);
    CHECK(q.cancel());  // nothing was taken, so nothing changes
    CHECK(lim.tokens() == 0);
}

TEST_CASE("permit: a loop that rate-limits one case of a select") {
    WEFT_WATCHDOG();
    // The pattern of docs/patterns/rate_limit.md: a permit stays armed across rounds in which
    // other cases fire, and a new one is taken each time it fires.
    rate_limiter lim(200, 1);
    weft::channel<int> control(8);
    int sent = 0, controls = 0;
    const auto start = clk::now();
    auto p = lim.permit();
    while (sent < 10) {
        if (sent == 3 && controls == 0) {
            for (int i = 0; i < 3; ++i) REQUIRE(control.try_send(i));
        }
        weft::select(weft::on_receive(p.chan(),
                                      [&] {
                                          ++sent;
                                          p = lim.permit();
                                      }),
                     weft::on_receive(control, [&] { ++controls; }));
    }
    CHECK(controls == 3);
    // 10 events at 200/s with a burst of 1: at least 9 intervals of 5 ms.
    CHECK(clk::now() - start >= 44ms);
}
