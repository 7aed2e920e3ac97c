// Tests of weft/fan.hpp: merge of 1, 2 and 100 inputs (every item once, each input's order
// kept), the output closing only after every input, fairness among busy inputs, tee (every item
// to every consumer in order, outputs read in any order, the slowest consumer setting the pace),
// fan_out with many workers, close and cancel while blocked, deadlines, exceptions in f and in
// tee's copies, move-only values, accounting, and no thread left behind.
#include <weft/fan.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

#include <weft/channel.hpp>
#include <weft/context.hpp>

#include "support.hpp"

using namespace std::chrono_literals;
using weft_test::eventually;
using weft_test::scale;
using weft_test::settled_thread_count;
using weft_test::thread_count;

namespace {

// An item of input `input`, number `seq` within it.
constexpr int encode(int input, int seq) { return input * 1'000'000 + seq; }
constexpr int input_of(int v) { return v / 1'000'000; }
constexpr int seq_of(int v) { return v % 1'000'000; }

// A channel holding `n` items of input `input`, closed if `close`.
weft::channel<int> filled(int input, int n, bool close = true) {
    weft::channel<int> ch(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) REQUIRE(ch.try_send(encode(input, i)));
    if (close) ch.close();
    return ch;
}

bool is_context_error(const std::exception_ptr& e, weft::context_errc code) {
    const auto* c = weft::error_as<weft::context_error>(e);
    return c && c->code() == code;
}

template <class T>
void check_merge_stats(const weft::fan<T>& f) {
    const auto s = f.stats();
    CHECK(s.received == s.sent + s.dropped);
    CHECK(s.failed == 0);
}

}  // namespace

TEST_CASE("merge: every item of 1, 2 and 100 inputs arrives exactly once, in its input's order") {
    WEFT_WATCHDOG(60s);
    for (int n : {1, 2, 100}) {
        CAPTURE(n);
        const int per = n == 100 ? static_cast<int>(scale(300)) : static_cast<int>(scale(5000));
        std::vector<weft::channel<int>> inputs;
        std::vector<weft::receiver<int>> rxs;
        for (int i = 0; i < n; ++i) {
            inputs.emplace_back(static_cast<std::size_t>(i % 3));  // rendezvous and buffered
            rxs.push_back(inputs.back());
        }
        auto merged = weft::merge(rxs);
        REQUIRE(merged.size() == 1);
        {
            weft_test::goroutines producers;
            for (int i = 0; i < n; ++i) {
                producers.go([ch = inputs[static_cast<std::size_t>(i)], i, per]() mutable {
                    for (int k = 0; k < per; ++k) REQUIRE(ch.send(encode(i, k)));
                    ch.close();
                });
            }
            std::vector<int> got;
            std::vector<int> next(static_cast<std::size_t>(n), 0);
            bool ordered = true;
            for (int v : merged.output()) {
                got.push_back(v);
                int& expect = next[static_cast<std::size_t>(input_of(v))];
                if (seq_of(v) != expect) ordered = false;
                ++expect;
            }
            CHECK(ordered);
            std::vector<int> want;
            for (int i = 0; i < n; ++i)
                for (int k = 0; k < per; ++k) want.push_back(encode(i, k));
            std::sort(got.begin(), got.end());
            CHECK(got == want);
        }
        CHECK(merged.wait() == nullptr);
        const auto s = merged.stats();
        CHECK(s.received == static_cast<std::uint64_t>(n * per));
        CHECK(s.sent == s.received);
        CHECK(s.dropped == 0);
    }
}

TEST_CASE("merge: the output closes only after every input is closed and drained") {
    WEFT_WATCHDOG();
    weft::channel<int> a(1), b(1), c(1);
    auto merged = weft::merge(a, weft::receiver<int>(b), c);
    auto out = merged.output();
    REQUIRE(a.send(1));
    a.close();
    b.close();
    CHECK(out.receive() == 1);
    REQUIRE(c.send(2));
    CHECK(out.receive() == 2);
    // Two inputs are closed, one is open: the output stays open however long we look.
    std::this_thread::sleep_for(20ms);
    auto r = out.receive_for(30ms);
    CHECK(r.status == weft::op_status::timeout);
    CHECK_FALSE(out.is_closed());
    c.close();
    CHECK(out.receive() == std::nullopt);
    CHECK(merged.wait() == nullptr);
    CHECK(merged.stats().received == 2);
}

TEST_CASE("merge: no input is starved while all of them are busy") {
    WEFT_WATCHDOG();
    // Every input holds more than the whole sample, so all of them are ready at every select:
    // a merge that polled in a fixed order would take everything from one input.
    const int per = static_cast<int>(scale(1000));
    const int sample = 2 * per;
    std::vector<weft::receiver<int>> rxs;
    for (int i = 0; i < 4; ++i) rxs.push_back(filled(i, per, false));
    auto merged = weft::merge(rxs);
    auto out = merged.output();
    int count[4] = {};
    for (int k = 0; k < sample; ++k) ++count[input_of(*out.receive())];
    for (int i = 0; i < 4; ++i) {
        CAPTURE(i);
        CHECK(count[i] > sample / 8);  // expected sample / 4; a fixed order would give 0
    }
    merged.cancel();  // the inputs never close: stop the merge
    CHECK(is_context_error(merged.wait(), weft::context_errc::canceled));
    check_merge_stats(merged);
    CHECK(merged.stats().sent == static_cast<std::uint64_t>(sample));
}

TEST_CASE("merge: options, an empty input list, and nil inputs") {
    WEFT_WATCHDOG();
    SUBCASE("a buffered output") {
        auto merged =
            weft::merge(std::vector<weft::receiver<int>>{filled(0, 10)}, {.capacity = 16});
        CHECK(merged.output().capacity() == 16);
        CHECK(merged.wait() == nullptr);  // nobody reads: the buffer holds all ten
        int n = 0;
        for (int v : merged.output()) CHECK(v == encode(0, n++));
        CHECK(n == 10);
    }
    SUBCASE("no inputs: closed at once") {
        auto merged = weft::merge(std::vector<weft::receiver<int>>{});
        CHECK(merged.output().receive() == std::nullopt);
        CHECK(merged.wait() == nullptr);
    }
    SUBCASE("a nil input is rejected") {
        weft::channel<int> ok(1), nil;
        CHECK_THROWS_AS((void)weft::merge(ok, nil), std::invalid_argument);
        CHECK_THROWS_AS((void)weft::fan_out(nil, 2, [](int x) { return x; }),
                        std::invalid_argument);
        CHECK_THROWS_AS((void)weft::tee(nil, 2), std::invalid_argument);
        CHECK_THROWS_AS((void)weft::fan_out(ok, 0, [](int x) { return x; }), std::invalid_argument);
        CHECK_THROWS_AS((void)weft::tee(ok, 0), std::invalid_argument);
    }
}

TEST_CASE("tee: every consumer gets every item, in order") {
    WEFT_WATCHDOG();
    for (std::size_t cap : {std::size_t{0}, std::size_t{4}}) {
        CAPTURE(cap);
        const int items = static_cast<int>(scale(3000));
        weft::channel<int> in(0);
        auto copies = weft::tee(in, 3, {.capacity = cap});
        REQUIRE(copies.size() == 3);
        std::vector<std::vector<int>> got(3);
        {
            weft_test::goroutines g;
            for (std::size_t i = 0; i < 3; ++i)
                g.go([&, i] {
                    for (int v : copies[i]) got[i].push_back(v);
                });
            for (int k = 0; k < items; ++k) REQUIRE(in.send(k));
            in.close();
        }
        std::vector<int> want(static_cast<std::size_t>(items));
        for (int k = 0; k < items; ++k) want[static_cast<std::size_t>(k)] = k;
        for (const auto& g : got) CHECK(g == want);
        CHECK(copies.wait() == nullptr);
        const auto s = copies.stats();
        CHECK(s.received == static_cast<std::uint64_t>(items));
        CHECK(s.sent == 3 * s.received);
        CHECK(s.dropped == 0);
    }
}

TEST_CASE("tee: one thread may read the outputs in any order") {
    WEFT_WATCHDOG();
    // Rendezvous outputs read last-first: a tee that sent to its outputs in a fixed order would
    // wait on output 0 while its only reader waits on output 2.
    auto copies = weft::tee(filled(0, 50), 3);
    for (int k = 0; k < 50; ++k) {
        for (std::size_t i = 3; i-- > 0;) CHECK(copies[i].receive() == encode(0, k));
    }
    for (auto rx : copies) CHECK(rx.receive() == std::nullopt);
    CHECK(copies.wait() == nullptr);
}

TEST_CASE("tee: the slowest consumer sets the pace; a stop counts the item in flight") {
    WEFT_WATCHDOG();
    weft::channel<int> in = filled(0, 10, false);
    auto copies = weft::tee(in, 2, {.capacity = 2});
    auto fast = copies[0];
    auto slow = copies[1];
    // The slow consumer reads nothing: its buffer takes items 0 and 1, item 2 reaches the fast
    // one and then waits for the slow one, and nothing more is taken from the input.
    for (int k = 0; k < 3; ++k) CHECK(fast.receive() == encode(0, k));
    CHECK(fast.receive_for(50ms).status == weft::op_status::timeout);
    CHECK(in.size() == 7);
    copies.cancel();
    CHECK(is_context_error(copies.wait(), weft::context_errc::canceled));
    const auto s = copies.stats();
    CHECK(s.received == 3);
    CHECK(s.sent == 5);     // 3 to the fast consumer, 2 buffered for the slow one
    CHECK(s.dropped == 1);  // item 2, which the slow consumer never got
    CHECK(s.received * 2 == s.sent + s.dropped);
    // A close never discards: the slow consumer still gets what was buffered for it.
    CHECK(slow.receive() == encode(0, 0));
    CHECK(slow.receive() == encode(0, 1));
    CHECK(slow.receive() == std::nullopt);
    CHECK(fast.receive() == std::nullopt);
}

TEST_CASE("fan_out: many workers, every item processed exactly once") {
    WEFT_WATCHDOG(60s);
    const int items = static_cast<int>(scale(20000));
    const std::size_t workers = 16;
    weft::channel<int> in(8);
    std::atomic<int> calls{0};
    auto doubled = weft::fan_out(in, workers, [&](int x) {
        calls.fetch_add(1, std::memory_order_relaxed);
        return std::int64_t{x} * 2;
    });
    REQUIRE(doubled.size() == workers);
    auto merged = weft::merge(doubled.outputs());
    std::vector<std::int64_t> got;
    {
        weft_test::goroutines g;
        g.go([&] {
            for (int k = 0; k < items; ++k) REQUIRE(in.send(k));
            in.close();
        });
        for (std::int64_t v : merged.output()) got.push_back(v);
    }
    CHECK(doubled.wait() == nullptr);
    CHECK(merged.wait() == nullptr);
    std::sort(got.begin(), got.end());
    REQUIRE(got.size() == static_cast<std::size_t>(items));
    for (int k = 0; k < items; ++k) CHECK_EQ(got[static_cast<std::size_t>(k)], 2 * k);
    CHECK(calls.load() == items);
    const auto s = doubled.stats();
    CHECK(s.received == static_cast<std::uint64_t>(items));
    CHECK(s.sent == s.received);
}

TEST_CASE("fan_out: f may take the fan's context; a worker's order is its input's") {
    WEFT_WATCHDOG();
    auto [parent, cancel] = weft::with_cancel(weft::background());
    auto out = weft::fan_out(parent, filled(0, 100), 1, [](const weft::context& ctx, int x) {
        CHECK_FALSE(ctx.err());
        return std::to_string(seq_of(x));
    });
    int k = 0;
    for (const std::string& s : out[0]) CHECK(s == std::to_string(k++));
    CHECK(k == 100);
    CHECK(out.wait() == nullptr);
    cancel();
}

TEST_CASE("close while blocked: a closed input ends every thread and closes every output") {
    WEFT_WATCHDOG();
    weft::channel<int> in(0);
    auto workers = weft::fan_out(in, 4, [](int x) { return x; });
    auto merged = weft::merge(workers.outputs());
    weft::channel<int> tin(0);
    auto copies = weft::tee(tin, 2);
    std::atomic<int> ended{0};
    {
        weft_test::goroutines g;
        g.go([&] {
            CHECK(merged.output().receive() == std::nullopt);
            ended.fetch_add(1);
        });
        for (std::size_t i = 0; i < 2; ++i)
            g.go([&, i] {
                CHECK(copies[i].receive() == std::nullopt);
                ended.fetch_add(1);
            });
        std::this_thread::sleep_for(20ms);  // let them block (not needed for correctness)
        CHECK(ended.load() == 0);
        in.close();
        tin.close();
    }
    CHECK(ended.load() == 3);
    CHECK(workers.wait() == nullptr);
    CHECK(merged.wait() == nullptr);
    CHECK(copies.wait() == nullptr);
}

TEST_CASE("cancel while blocked: threads end, outputs close, the item in flight is counted") {
    WEFT_WATCHDOG();
    SUBCASE("merge blocked on its output, stopped by cancel()") {
        auto merged = weft::merge(filled(0, 3));
        std::this_thread::sleep_for(10ms);  // let it take an item and block (either way is fine)
        merged.cancel();
        // The item in flight is dropped, or taken by a receiver that comes at the same instant
        // (the stopping select picks at random among its ready cases): never lost.
        std::uint64_t got = 0;
        for (int v : merged.output()) got += v == encode(0, 0) ? 1 : 100;
        CHECK(is_context_error(merged.wait(), weft::context_errc::canceled));
        const auto s = merged.stats();
        CHECK(s.sent == got);
        CHECK(s.received == s.sent + s.dropped);
        CHECK(s.received <= 1);
    }
    SUBCASE("merge blocked on its inputs, stopped by the parent context") {
        auto [ctx, cancel] = weft::with_cancel(weft::background());
        weft::channel<int> a(0), b(0);
        auto merged = weft::merge(ctx, a, b);
        weft_test::goroutines g;
        g.go([out = merged.output()]() mutable { CHECK(out.receive() == std::nullopt); });
        std::this_thread::sleep_for(10ms);
        cancel();
        g.join();
        CHECK(is_context_error(merged.wait(), weft::context_errc::canceled));
        CHECK(merged.stats().received == 0);
        CHECK_FALSE(a.is_closed());  // the inputs belong to their producers
    }
    SUBCASE("a deadline stops fan_out workers blocked on their outputs") {
        auto [ctx, cancel] = weft::with_timeout(weft::background(), 50ms);
        auto workers = weft::fan_out(ctx, filled(0, 100), 3, [](int x) { return x; });
        (void)ctx.done().receive();  // nobody reads before the deadline
        std::uint64_t got = 0;
        for (auto rx : workers)
            for (int v : rx) got += v >= 0 ? 1 : 0;
        CHECK(is_context_error(workers.wait(), weft::context_errc::deadline_exceeded));
        const auto s = workers.stats();
        CHECK(s.sent == got);  // an item in flight is dropped or, at the same instant, received
        CHECK(s.received == s.sent + s.dropped);
        cancel();
    }
    SUBCASE("fan_out: f waiting on the context returns, its result is dropped") {
        std::atomic<int> started{0};
        auto workers = weft::fan_out(filled(0, 10), 2, [&](const weft::context& ctx, int x) {
            started.fetch_add(1);
            (void)weft::sleep(ctx, 1h);
            return x;
        });
        REQUIRE(eventually([&] { return started.load() == 2; }));
        workers.cancel();
        CHECK(is_context_error(workers.wait(), weft::context_errc::canceled));
        const auto s = workers.stats();
        CHECK(s.received == 2);
        CHECK(s.dropped == 2);
        CHECK(s.sent == 0);
    }
    SUBCASE("tee blocked on its input") {
        weft::channel<int> in(0);
        auto copies = weft::tee(in, 2);
        copies.cancel();
        for (auto rx : copies) CHECK(rx.receive() == std::nullopt);
        CHECK(is_context_error(copies.wait(), weft::context_errc::canceled));
        CHECK(copies.stats().received == 0);
    }
    SUBCASE("the destructor stops and joins") {
        weft::channel<int> in(0);
        std::optional<weft::receiver<int>> out;
        {
            auto merged = weft::merge(in, filled(1, 5, false));
            out = merged.output();
        }
        CHECK(out->is_closed());
        CHECK(out->receive() == std::nullopt);
    }
}

TEST_CASE("fan_out: an exception in f stops the fan and is reported") {
    WEFT_WATCHDOG();
    const int items = 1000;
    auto workers = weft::fan_out(filled(0, items), 4, [](int x) {
        if (seq_of(x) == 13) throw std::runtime_error("bad item 13");
        return x;
    });
    auto merged = weft::merge(workers.outputs());
    int got = 0;
    for (int v : merged.output()) {
        CHECK(seq_of(v) != 13);
        ++got;
    }
    auto e = workers.wait();
    REQUIRE(e != nullptr);
    const auto* re = weft::error_as<std::runtime_error>(e);
    REQUIRE(re != nullptr);
    CHECK(std::string(re->what()) == "bad item 13");
    CHECK(merged.wait() == nullptr);  // the merge saw its inputs close: it ended normally
    const auto s = workers.stats();
    CHECK(s.failed == 1);
    CHECK(s.received == s.sent + s.dropped + s.failed);
    CHECK(s.sent == static_cast<std::uint64_t>(got));
    CHECK(s.received < static_cast<std::uint64_t>(items));
}

TEST_CASE("fan_out: an exception thrown because the fan stopped is not the one reported") {
    WEFT_WATCHDOG();
    std::atomic<int> started{0};
    auto workers = weft::fan_out(filled(0, 10), 2, [&](const weft::context& ctx, int x) {
        started.fetch_add(1);
        (void)weft::sleep(ctx, 1h);
        throw std::runtime_error("interrupted");
        return x;
    });
    REQUIRE(eventually([&] { return started.load() == 2; }));
    workers.cancel();
    CHECK(is_context_error(workers.wait(), weft::context_errc::canceled));
    CHECK(workers.stats().failed == 2);
}

namespace {
// Copies throw once `budget` copies have been made (shared by all copies).
struct fragile {
    int v;
    std::shared_ptr<std::atomic<int>> budget;
    fragile(int x, std::shared_ptr<std::atomic<int>> b) : v(x), budget(std::move(b)) {}
    fragile(const fragile& o) : v(o.v), budget(o.budget) {
        if (budget->fetch_sub(1) <= 0) throw std::runtime_error("copy failed");
    }
    fragile(fragile&&) noexcept = default;
    fragile& operator=(const fragile&) = delete;
    fragile& operator=(fragile&&) = delete;
};
}  // namespace

TEST_CASE("tee: a copy that throws stops the tee and is reported") {
    WEFT_WATCHDOG();
    auto budget = std::make_shared<std::atomic<int>>(5);
    weft::channel<fragile> in(10);
    for (int k = 0; k < 10; ++k) REQUIRE(in.try_send(fragile(k, budget)));
    in.close();
    // 3 outputs: two copies per item, so items 0 and 1 take 4 copies, item 2's second fails.
    auto copies = weft::tee(in, 3, {.capacity = 10});
    auto e = copies.wait();
    REQUIRE(weft::error_as<std::runtime_error>(e) != nullptr);
    const auto s = copies.stats();
    CHECK(s.received == 3);
    CHECK(s.sent == 7);  // items 0 and 1 everywhere, item 2 on output 0
    CHECK(s.dropped == 2);
    std::size_t total = 0;
    for (auto rx : copies)
        for (auto& f : rx) {
            (void)f;
            ++total;
        }
    CHECK(total == 7);
}

TEST_CASE("move-only values through fan_out and merge") {
    WEFT_WATCHDOG();
    const int items = static_cast<int>(scale(2000));
    weft::channel<std::unique_ptr<int>> in(4);
    auto workers = weft::fan_out(in, 3, [](std::unique_ptr<int> p) {
        *p *= 3;
        return p;
    });
    auto merged = weft::merge(workers.outputs());
    long long sum = 0;
    int n = 0;
    {
        weft_test::goroutines g;
        g.go([&] {
            for (int k = 0; k < items; ++k) REQUIRE(in.send(std::make_unique<int>(k)));
            in.close();
        });
        for (auto& p : merged.output()) {
            sum += *p;
            ++n;
        }
    }
    CHECK(n == items);
    CHECK(sum == 3LL * items * (items - 1) / 2);
    CHECK(workers.wait() == nullptr);
    CHECK(merged.wait() == nullptr);
}

TEST_CASE(
    "no thread is left: the threads end with their inputs, with a stop, and with the handle") {
    WEFT_WATCHDOG();
    if (thread_count() == 0) return;  // no /proc
    const std::size_t base = settled_thread_count();
    SUBCASE("inputs closed and drained: the threads end by themselves") {
        weft::channel<int> in(0);
        auto workers = weft::fan_out(in, 8, [](int x) { return x; });
        auto merged = weft::merge(workers.outputs());
        auto copies = weft::tee(merged.output(), 2, {.capacity = 100});
        CHECK(thread_count() == base + 10);  // 8 workers, 1 for the merge, 1 for the tee
        for (int k = 0; k < 100; ++k) REQUIRE(in.send(k));
        in.close();
        for (auto rx : copies)
            for (int v : rx) (void)v;
        // Not joined yet: they have ended because their inputs did.
        CHECK(eventually([&] { return thread_count() == base; }));
        CHECK(workers.wait() == nullptr);
        CHECK(merged.wait() == nullptr);
        CHECK(copies.wait() == nullptr);
    }
    SUBCASE("a canceled context ends them, blocked or not") {
        auto [ctx, cancel] = weft::with_cancel(weft::background());
        weft::channel<int> never(0);
        auto workers = weft::fan_out(ctx, never, 8, [](int x) { return x; });
        auto merged = weft::merge(ctx, workers.outputs());
        auto copies = weft::tee(ctx, filled(0, 10, false), 2);
        CHECK(thread_count() == base + 10);
        cancel();
        CHECK(eventually([&] { return thread_count() == base; }));
        CHECK(workers.wait() != nullptr);
        CHECK(merged.wait() != nullptr);
        CHECK(copies.wait() != nullptr);
    }
    SUBCASE("the destructor joins") {
        {
            weft::channel<int> never(0);
            auto workers = weft::fan_out(never, 8, [](int x) { return x; });
            auto merged = weft::merge(workers.outputs());
            CHECK(thread_count() == base + 9);
        }
        CHECK(eventually([&] { return thread_count() == base; }));
    }
    CHECK(thread_count() == base);
}

TEST_CASE("a fan is movable; a moved-from or empty fan is inert") {
    WEFT_WATCHDOG();
    weft::fan<int> empty;
    CHECK(empty.size() == 0);
    CHECK(empty.wait() == nullptr);
    empty.cancel();
    auto a = weft::merge(filled(0, 3));
    weft::fan<int> b = std::move(a);
    CHECK(a.wait() == nullptr);  // NOLINT(bugprone-use-after-move): documented as inert
    int n = 0;
    for (int v : b.output()) CHECK(v == encode(0, n++));
    CHECK(n == 3);
    b = weft::merge(filled(1, 2));  // the old fan (ended) is joined first
    n = 0;
    for (int v : b.output()) CHECK(v == encode(1, n++));
    CHECK(n == 2);
    CHECK(b.wait() == nullptr);
}

// The building blocks fan.hpp (and pipeline.hpp) wait and call with: public, in channel.hpp and
// context.hpp, so a pattern of the user's own can use them too.
namespace {
struct pinned {  // move-constructible, not assignable: what a channel may carry
    int v;
    explicit pinned(int x) : v(x) {}
    pinned(pinned&&) noexcept = default;
    pinned& operator=(pinned&&) = delete;
};
}  // namespace

static_assert(std::is_same_v<weft::channel_value_t<const weft::receiver<long>&>, long>);
static_assert(weft::receivable<weft::channel<int>&> && weft::receivable<weft::receiver<int>>);
static_assert(!weft::receivable<weft::sender<int>> && !weft::receivable<weft::fan<int>>);
static_assert(weft::sendable<weft::sender<int>&&> && !weft::sendable<weft::receiver<int>>);
static_assert(!weft::receivable<int> && !weft::sendable<std::vector<int>>);

TEST_CASE("invoke_with_context passes the context to a function that takes it, only to it") {
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    cancel();
    CHECK(weft::invoke_with_context([](int x) { return x + 1; }, ctx, 1) == 2);
    CHECK(weft::invoke_with_context([](const weft::context& c, int x) { return c.err() ? -x : x; },
                                    ctx, 3) == -3);
    auto move_only = std::make_unique<int>(7);
    CHECK(*weft::invoke_with_context([](std::unique_ptr<int> p) { return p; }, ctx,
                                     std::move(move_only)) == 7);
    static_assert(std::is_same_v<weft::invoke_with_context_result_t<int (*)(long), short>, int>);
}

TEST_CASE("receive(ctx) and send(ctx, v) wait, and hand back, a value that cannot be assigned") {
    WEFT_WATCHDOG();
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    weft::channel<pinned> ch(0);
    std::thread peer([ch]() mutable {
        auto r = ch.receive(weft::background());
        CHECK(r.status == weft::op_status::ok);
        CHECK(r->v == 1);
        (void)ch.send(pinned(2));
    });
    CHECK(ch.send(ctx, pinned(1)).status == weft::op_status::ok);  // waits for peer's receive
    auto r = ch.receive(ctx);                                      // waits for peer's send
    REQUIRE(r.status == weft::op_status::ok);
    CHECK(r->v == 2);
    peer.join();
    std::thread canceller([&, &cancel = cancel] {
        std::this_thread::sleep_for(10ms);  // let the send block (not required for success)
        cancel();
    });
    auto s = ch.send(ctx, pinned(3));  // nobody receives: canceled, the value comes back
    canceller.join();
    CHECK(s.status == weft::op_status::canceled);
    REQUIRE(s.value.has_value());
    CHECK(s.value->v == 3);
    CHECK(ch.receive(ctx).status == weft::op_status::canceled);
}
