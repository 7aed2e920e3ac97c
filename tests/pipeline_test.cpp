// Tests of weft/pipeline.hpp: every stage, ordering (with many workers and random delays, and
// the reorder window's memory bound), batching by size, by time and at the end, empty input,
// exceptions in every kind of stage and cancellation from outside while stages are blocked on
// full channels, move-only values through every stage, conservation of values (counted by the
// stats and by live objects), many workers, and the pipeline whose output is a receiver.
#include <weft/pipeline.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <weft/channel.hpp>
#include <weft/context.hpp>
#include <weft/rate.hpp>
#include <weft/select.hpp>

#include "support.hpp"

using namespace std::chrono_literals;
using weft_test::scale;

namespace {

std::vector<int> iota(int n) {
    std::vector<int> v(static_cast<std::size_t>(n));
    std::iota(v.begin(), v.end(), 0);
    return v;
}

// [0, n) as a range whose iterator yields prvalues, like std::views::iota (which clang 14 cannot
// use with libstdc++ 12).
struct counting {
    struct iterator {
        using value_type = int;
        using difference_type = std::ptrdiff_t;
        int i = 0;
        int operator*() const { return i; }
        iterator& operator++() {
            ++i;
            return *this;
        }
        void operator++(int) { ++i; }
        bool operator==(const iterator&) const = default;
    };
    int n;
    iterator begin() const { return {0}; }
    iterator end() const { return {n}; }
};

// Collects what a sink receives (several sink workers may call it at once).
template <class T>
struct collected {
    std::mutex m;
    std::vector<T> values;
    auto sink() {
        return [this](T v) {
            std::lock_guard lock(m);
            values.push_back(std::move(v));
        };
    }
};

// A value that counts the live instances of its kind, so a test can see that nothing is kept
// (or leaked) once run() has returned.
struct tracked {
    static inline std::atomic<long> live{0};
    int v = 0;
    explicit tracked(int x) : v(x) { ++live; }
    tracked(const tracked& o) : v(o.v) { ++live; }
    tracked(tracked&& o) noexcept : v(o.v) { ++live; }
    tracked& operator=(const tracked&) = default;
    tracked& operator=(tracked&&) noexcept = default;
    ~tracked() { --live; }
};

// Waits (polling) until pred() holds; the watchdog of the calling test catches a hang.
template <class P>
void eventually(P pred) {
    while (!pred()) std::this_thread::sleep_for(1ms);
}

void check_clean(const weft::pipeline_result& r) {
    CHECK(r.ok());
    CHECK(r.message().empty());
    CHECK(r.conserved());
    CHECK(r.lost() == 0);
    for (const auto& s : r.stages) {
        CHECK(s.dropped == 0);
        CHECK(s.stranded == 0);
    }
}

}  // namespace

TEST_CASE("source: an lvalue range is copied, an rvalue range is moved, a list is copied") {
    WEFT_WATCHDOG();
    std::vector<std::string> words{"a", "b", "c"};
    collected<std::string> got;
    auto p = weft::pipeline() | weft::stage::source(words) | weft::stage::sink(got.sink());
    auto r = p.run();
    check_clean(r);
    CHECK(got.values == words);
    CHECK(words == std::vector<std::string>{"a", "b", "c"});  // referenced, not moved from

    collected<std::string> got2;
    auto p2 =
        weft::pipeline() | weft::stage::source(std::move(words)) | weft::stage::sink(got2.sink());
    check_clean(p2.run());
    CHECK(got2.values == std::vector<std::string>{"a", "b", "c"});

    collected<int> got3;
    auto p3 = weft::pipeline() | weft::stage::source({3, 1, 2}) | weft::stage::sink(got3.sink());
    auto r3 = p3.run();
    check_clean(r3);
    CHECK(got3.values == std::vector<int>{3, 1, 2});
    REQUIRE(r3.stages.size() == 2);
    CHECK(r3.stages[0].name == "source");
    CHECK(r3.stages[0].in == 3);
    CHECK(r3.stages[0].sent == 3);
    CHECK(r3.stages[1].name == "sink");
    CHECK(r3.stages[1].in == 3);
    CHECK(r3.stages[1].out == 3);
    CHECK(r3.stages[1].sent == 0);

    collected<int> got4;  // a range whose values are prvalues
    auto p4 = weft::pipeline() | weft::stage::source(counting{5}) | weft::stage::sink(got4.sink());
    check_clean(p4.run());
    CHECK(got4.values == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE("source: a generator returning std::optional, a pushing function, a receiver") {
    WEFT_WATCHDOG();
    int n = 0;
    collected<int> pulled;
    auto p1 = weft::pipeline() | weft::stage::source([&]() -> std::optional<int> {
                  if (n == 5) return std::nullopt;
                  return n++;
              }) |
              weft::stage::sink(pulled.sink());
    check_clean(p1.run());
    CHECK(pulled.values == std::vector<int>{0, 1, 2, 3, 4});

    collected<int> pushed;
    auto p2 = weft::pipeline() | weft::stage::source<int>([](weft::emitter<int>& emit) {
                  for (int i = 0; i < 5; ++i)
                      if (!emit(i * 10)) return;
              }) |
              weft::stage::sink(pushed.sink());
    check_clean(p2.run());
    CHECK(pushed.values == std::vector<int>{0, 10, 20, 30, 40});

    weft::channel<int> ch(0);
    std::thread feeder([ch]() mutable {
        for (int i = 0; i < 100; ++i) ch.send(i);
        ch.close();
    });
    collected<int> received;
    auto p3 = weft::pipeline() | weft::stage::source(ch) | weft::stage::sink(received.sink());
    auto r3 = p3.run();
    feeder.join();
    check_clean(r3);
    CHECK(received.values == iota(100));

    weft::channel<int> ch2(4);  // a receiver<T> works the same
    weft::receiver<int> rx = ch2;
    for (int i = 0; i < 4; ++i) REQUIRE(ch2.try_send(i));
    ch2.close();
    collected<int> received2;
    auto p4 = weft::pipeline() | weft::stage::source(rx) | weft::stage::sink(received2.sink());
    check_clean(p4.run());
    CHECK(received2.values == iota(4));
}

TEST_CASE("map, filter, tap and sink; a single worker keeps the order") {
    WEFT_WATCHDOG();
    std::vector<int> seen_by_tap;
    collected<std::string> got;
    auto p = weft::pipeline() | weft::stage::source(iota(20)) |
             weft::stage::map([](int x) { return x * x; }) |
             weft::stage::filter([](int x) { return x % 2 == 0; }) |
             weft::stage::tap([&](const int& x) { seen_by_tap.push_back(x); }) |
             weft::stage::map([](int x) { return std::to_string(x); }).name("format") |
             weft::stage::sink(got.sink());
    auto r = p.run();
    check_clean(r);
    std::vector<std::string> want;
    std::vector<int> want_tap;
    for (int i = 0; i < 20; i += 2) {
        want.push_back(std::to_string(i * i));
        want_tap.push_back(i * i);
    }
    CHECK(got.values == want);
    CHECK(seen_by_tap == want_tap);
    REQUIRE(r.stages.size() == 6);
    CHECK(r.stages[2].name == "filter");
    CHECK(r.stages[2].in == 20);
    CHECK(r.stages[2].filtered == 10);
    CHECK(r.stages[2].out == 10);
    CHECK(r.stages[3].name == "tap");
    CHECK(r.stages[4].name == "format");
    CHECK(r.stages[5].out == 10);
}

TEST_CASE("stage functions may take the pipeline's context") {
    WEFT_WATCHDOG();
    std::atomic<int> with_ctx{0};
    collected<int> got;
    auto p = weft::pipeline() | weft::stage::source(iota(10)) |
             weft::stage::map([&](const weft::context& ctx, int x) {
                 if (!ctx.err()) ++with_ctx;
                 return x + 1;
             }) |
             weft::stage::filter([](const weft::context&, const int& x) { return x > 5; }) |
             weft::stage::sink([&](const weft::context&, int x) { got.sink()(x); });
    check_clean(p.run());
    CHECK(with_ctx == 10);
    CHECK(got.values == std::vector<int>{6, 7, 8, 9, 10});
}

TEST_CASE("unordered map with many workers: every value once, in any order") {
    WEFT_WATCHDOG();
    const int n = static_cast<int>(scale(20000));
    collected<long> got;
    auto p = weft::pipeline() | weft::stage::source(iota(n)) |
             weft::stage::map([](int x) { return 3L * x; }, 8) | weft::stage::sink(got.sink());
    auto r = p.run();
    check_clean(r);
    CHECK(r.stages[1].workers == 8);
    std::sort(got.values.begin(), got.values.end());
    std::vector<long> want;
    for (int i = 0; i < n; ++i) want.push_back(3L * i);
    CHECK(got.values == want);
}

TEST_CASE("ordered map with many workers and random delays: input order, bounded window") {
    WEFT_WATCHDOG();
    const int n = static_cast<int>(scale(3000));
    const std::size_t window = 12;
    std::atomic<long> entered{0}, left{0}, max_in_flight{0};
    std::vector<int> got;
    auto p = weft::pipeline(weft::background(), {.capacity = 0}) | weft::stage::source(iota(n)) |
             weft::stage::tap([&](const int&) { ++entered; }) |
             weft::stage::map(
                 [](int x) {
                     thread_local std::mt19937 rng(std::random_device{}());
                     std::this_thread::sleep_for(std::chrono::microseconds(
                         std::uniform_int_distribution<int>(0, 300)(rng)));
                     return x;
                 },
                 8, weft::stage::ordered)
                 .window(window) |
             weft::stage::tap([&](const int&) {
                 long now = entered - left;
                 long m = max_in_flight;
                 while (now > m && !max_in_flight.compare_exchange_weak(m, now)) {}
                 ++left;
             }) |
             weft::stage::sink([&](int x) { got.push_back(x); });
    auto r = p.run();
    check_clean(r);
    CHECK(got == iota(n));
    const auto& m = r.stages[2];
    CHECK(m.workers == 8);
    CHECK(m.max_reordered <= window);
    // Entered the first tap and not yet left the second: at most `window` values in the stage
    // (the collector gives a token back only once the second tap has taken the value), plus the
    // first tap's next value and the second tap's current one (rendezvous channels hold none).
    CHECK(max_in_flight.load() <= static_cast<long>(window) + 2);
    MESSAGE("max reordered " << m.max_reordered << ", max in flight " << max_in_flight.load());
}

TEST_CASE("ordered map: a slow value makes the input wait instead of growing memory") {
    WEFT_WATCHDOG();
    const std::size_t window = 6;
    std::atomic<int> fast_done{0};
    std::atomic<int> dispatched_max{0};
    std::atomic<int> entered_while_head_slow{-1};
    std::vector<int> got;
    auto p =
        weft::pipeline(weft::background(), {.capacity = 0}) | weft::stage::source(iota(200)) |
        weft::stage::tap(
            [&](const int& x) { dispatched_max = std::max(dispatched_max.load(), x); }) |
        weft::stage::map(
            [&](int x) {
                if (x == 0) {
                    // Hold the head until the rest of the window has been processed.
                    eventually([&] { return fast_done.load() == static_cast<int>(window) - 1; });
                    std::this_thread::sleep_for(20ms);
                    entered_while_head_slow = dispatched_max.load();
                } else {
                    ++fast_done;
                }
                return x;
            },
            8, weft::stage::ordered)
            .window(window) |
        weft::stage::sink([&](int x) { got.push_back(x); });
    auto r = p.run();
    check_clean(r);
    CHECK(got == iota(200));
    // The input was blocked: only the window, and the value the tap took next, had entered.
    CHECK(entered_while_head_slow.load() >= 0);
    CHECK(entered_while_head_slow.load() <= static_cast<int>(window));
    CHECK(r.stages[2].max_reordered >= 1);
    CHECK(r.stages[2].max_reordered <= window);
}

TEST_CASE("ordered filter with workers keeps the order; unordered filter keeps the set") {
    WEFT_WATCHDOG();
    const int n = static_cast<int>(scale(5000));
    std::vector<int> got;
    auto p = weft::pipeline() | weft::stage::source(iota(n)) |
             weft::stage::filter([](const int& x) { return x % 3 == 0; }, 4, weft::stage::ordered) |
             weft::stage::sink([&](int x) { got.push_back(x); });
    auto r = p.run();
    check_clean(r);
    std::vector<int> want;
    for (int i = 0; i < n; i += 3) want.push_back(i);
    CHECK(got == want);
    CHECK(r.stages[1].filtered == static_cast<std::uint64_t>(n) - want.size());

    collected<int> got2;
    auto p2 = weft::pipeline() | weft::stage::source(iota(n)) |
              weft::stage::filter([](const int& x) { return x % 3 == 0; }, 4) |
              weft::stage::sink(got2.sink());
    check_clean(p2.run());
    std::sort(got2.values.begin(), got2.values.end());
    CHECK(got2.values == want);
}

TEST_CASE("batch by size, with the final partial batch") {
    WEFT_WATCHDOG();
    std::vector<std::vector<int>> got;
    auto p = weft::pipeline() | weft::stage::source(iota(10)) | weft::stage::batch(3) |
             weft::stage::sink([&](std::vector<int> b) { got.push_back(std::move(b)); });
    auto r = p.run();
    check_clean(r);
    REQUIRE(got.size() == 4);
    CHECK(got[0] == std::vector<int>{0, 1, 2});
    CHECK(got[1] == std::vector<int>{3, 4, 5});
    CHECK(got[2] == std::vector<int>{6, 7, 8});
    CHECK(got[3] == std::vector<int>{9});
    CHECK(r.stages[1].in == 10);
    CHECK(r.stages[1].out == 10);
    CHECK(r.stages[1].sent == 4);
    CHECK(r.stages[2].in == 4);

    // With a max_wait that never expires here, the same batches.
    std::vector<std::size_t> sizes;
    auto p2 = weft::pipeline() | weft::stage::source(iota(10)) | weft::stage::batch(4, 1h) |
              weft::stage::sink([&](std::vector<int> b) { sizes.push_back(b.size()); });
    check_clean(p2.run());
    CHECK(sizes == std::vector<std::size_t>{4, 4, 2});
}

TEST_CASE("batch by time: an idle batch is emitted when its oldest value has waited max_wait") {
    WEFT_WATCHDOG();
    using clock = std::chrono::steady_clock;
    const auto max_wait = 30ms;
    weft::channel<int> flushed(1);
    std::vector<clock::time_point> sent_at;
    std::vector<std::vector<int>> got;
    std::vector<clock::time_point> got_at;
    auto p = weft::pipeline() | weft::stage::source<int>([&](weft::emitter<int>& emit) {
                 int v = 0;
                 for (int round = 0; round < 3; ++round) {
                     for (int i = 0; i < 3; ++i) {
                         sent_at.push_back(clock::now());
                         if (!emit(v++)) return;
                     }
                     // Far fewer than the batch size, and the input stays open: only the
                     // timer can emit this batch.
                     if (!flushed.receive()) return;
                 }
             }) |
             weft::stage::batch(100, max_wait) | weft::stage::sink([&](std::vector<int> b) {
                 got_at.push_back(clock::now());
                 got.push_back(std::move(b));
                 (void)flushed.try_send(1);
             });
    auto r = p.run();
    check_clean(r);
    std::vector<int> all;
    for (const auto& b : got) {
        CHECK(b.size() < 100);
        all.insert(all.end(), b.begin(), b.end());
    }
    CHECK(all == iota(9));
    // The source waited three times for a batch to go out with the input still open: only the
    // timer could release it. Every batch but the last (which the end of input may emit) went
    // out no earlier than max_wait after its oldest value was sent (a lower bound only: a
    // loaded machine can make any wait longer).
    REQUIRE(got.size() >= 3);
    for (std::size_t i = 0; i + 1 < got.size(); ++i)
        CHECK(got_at[i] - sent_at[static_cast<std::size_t>(got[i].front())] >= max_wait);
}

TEST_CASE("batch by time while values keep coming faster than the timer can be selected") {
    WEFT_WATCHDOG();
    // A source that is never idle: the batch stage sees a value ready at every step, yet a batch
    // whose oldest value is older than max_wait must still go out before it is full.
    std::atomic<bool> stop{false};
    std::vector<std::size_t> sizes;
    auto p = weft::pipeline() | weft::stage::source<int>([&](weft::emitter<int>& emit) {
                 for (int i = 0; !stop; ++i) {
                     if (!emit(i)) return;
                     std::this_thread::sleep_for(50us);
                 }
             }) |
             weft::stage::batch(1'000'000, 5ms) | weft::stage::sink([&](std::vector<int> b) {
                 sizes.push_back(b.size());
                 if (sizes.size() == 3) stop = true;
             });
    check_clean(p.run());
    REQUIRE(sizes.size() >= 3);
    for (auto s : sizes) CHECK(s < 1'000'000);
}

TEST_CASE("empty input: every stage ends, nothing is emitted, no partial batch") {
    WEFT_WATCHDOG();
    int calls = 0;
    auto p = weft::pipeline() | weft::stage::source(std::vector<int>{}) |
             weft::stage::map([](int x) { return x; }, 4, weft::stage::ordered) |
             weft::stage::filter([](int) { return true; }) | weft::stage::batch(10, 10ms) |
             weft::stage::tap([](const std::vector<int>&) {}) |
             weft::stage::sink([&](std::vector<int>) { ++calls; });
    auto r = p.run();
    check_clean(r);
    CHECK(calls == 0);
    for (const auto& s : r.stages) CHECK(s.in == 0);
}

namespace {

// source -> map -> sink with rendezvous-free small channels, where every stage ends up blocked
// on a full channel while the sink holds its first value. `fail` is called by the sink once
// everything upstream is blocked; returns the result and what the user functions saw.
struct blocked_run {
    weft::pipeline_result result;
    long produced = 0;
    long consumed = 0;
};

template <class Fail>
blocked_run run_blocked(const weft::context& parent, Fail fail) {
    blocked_run out;
    std::atomic<long> produced{0};
    std::atomic<long> consumed{0};
    // Capacity 2 everywhere: source holds 1 + 2 queued, map holds 1 + 2 queued, sink holds 1.
    const long when_full = 1 + 2 + 1 + 2 + 1;
    auto p = weft::pipeline(parent, {.capacity = 2}) |
             weft::stage::source([&]() -> std::optional<int> {
                 ++produced;  // never ends by itself
                 return 1;
             }) |
             weft::stage::map([](int x) { return x; }).name("work") |
             weft::stage::sink([&](const weft::context& ctx, int) {
                 ++consumed;
                 eventually([&] { return produced.load() == when_full; });
                 fail(ctx);
             }).name("store");
    out.result = p.run();
    out.produced = produced;
    out.consumed = consumed;
    return out;
}

// produced == consumed (by the sink's function, without throwing) + lost: nothing unaccounted.
void check_conservation(const blocked_run& b) {
    const auto& r = b.result;
    CHECK(r.conserved());
    CHECK(r.stages.front().in == static_cast<std::uint64_t>(b.produced));
    CHECK(static_cast<std::uint64_t>(b.produced) == r.stages.back().out + r.lost());
}

}  // namespace

TEST_CASE("an exception in the sink stops every stage while all are blocked on full channels") {
    WEFT_WATCHDOG();
    auto b = run_blocked(weft::background(),
                         [](const weft::context&) { throw std::runtime_error("disk full"); });
    const auto& r = b.result;
    CHECK_FALSE(r.ok());
    CHECK_FALSE(r.canceled());
    REQUIRE(r.failed_stage.has_value());
    CHECK(*r.failed_stage == 2);
    CHECK(r.message() == "stage 2 (store) failed: disk full");
    REQUIRE(weft::error_as<std::runtime_error>(r.error) != nullptr);
    CHECK_THROWS_AS(r.rethrow_if_error(), std::runtime_error);
    CHECK(b.consumed == 1);
    CHECK(r.stages[2].out == 0);  // the sink's function threw on its only value
    CHECK(r.lost() == static_cast<std::uint64_t>(b.produced));
    check_conservation(b);
}

TEST_CASE("canceling the parent context stops a pipeline blocked on full channels") {
    WEFT_WATCHDOG();
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    auto b = run_blocked(ctx, [&, &cancel = cancel](const weft::context& pctx) {
        cancel();
        (void)pctx.done().receive();  // the pipeline's context follows its parent
    });
    const auto& r = b.result;
    CHECK(r.canceled());
    CHECK_FALSE(r.failed_stage.has_value());
    CHECK(r.message() == "canceled: context canceled");
    auto* e = weft::error_as<weft::context_error>(r.error);
    REQUIRE(e != nullptr);
    CHECK(e->code() == weft::context_errc::canceled);
    CHECK(b.consumed == 1);
    check_conservation(b);
}

TEST_CASE("a deadline stops a pipeline blocked on full channels; its cause is reported") {
    WEFT_WATCHDOG();
    auto [ctx, cancel] = weft::with_timeout_cause(
        weft::background(), 20ms, std::make_exception_ptr(std::runtime_error("too slow")));
    auto b = run_blocked(ctx, [](const weft::context& pctx) { (void)pctx.done().receive(); });
    CHECK(b.result.canceled());
    CHECK(b.result.message() == "canceled: too slow");
    check_conservation(b);
}

TEST_CASE("an exception in map, filter, tap or the source is reported with its stage") {
    WEFT_WATCHDOG();
    for (int where = 0; where < 5; ++where) {
        CAPTURE(where);
        std::atomic<long> produced{0}, consumed{0};
        std::atomic<bool> saw_bad{false};
        auto thrower = [where](int stage, int x) {
            if (stage == where && x == 500) throw std::invalid_argument("bad " + std::to_string(x));
        };
        auto p = weft::pipeline(weft::background(), {.capacity = 4}) |
                 weft::stage::source([&, n = 0]() mutable -> std::optional<int> {
                     thrower(0, n);
                     ++produced;
                     return n++;
                 }) |
                 weft::stage::map(
                     [&](int x) {
                         thrower(1, x);
                         return x;
                     },
                     3) |
                 weft::stage::map(
                     [&](int x) {
                         thrower(2, x);
                         return x;
                     },
                     3, weft::stage::ordered) |
                 weft::stage::filter([&](const int& x) {
                     thrower(3, x);
                     return true;
                 }) |
                 weft::stage::tap([&](const int& x) { thrower(4, x); }) |
                 weft::stage::sink([&](int x) {
                     ++consumed;
                     if (x == 500) saw_bad = true;
                 });
        auto r = p.run();
        REQUIRE(r.failed_stage.has_value());
        CHECK(*r.failed_stage == static_cast<std::size_t>(where));
        auto* e = weft::error_as<std::invalid_argument>(r.error);
        REQUIRE(e != nullptr);
        CHECK(std::string(e->what()) == "bad 500");
        CHECK(r.conserved());
        CHECK(static_cast<std::uint64_t>(produced.load()) ==
              static_cast<std::uint64_t>(consumed.load()) + r.lost());
        CHECK_FALSE(saw_bad);  // the value that failed never reaches the sink
    }
}

TEST_CASE("an exception from the source's range is reported") {
    WEFT_WATCHDOG();
    struct throwing_range {
        struct iterator {
            using value_type = int;
            using difference_type = std::ptrdiff_t;
            int i = 0;
            int operator*() const {
                if (i == 3) throw std::runtime_error("read error");
                return i;
            }
            iterator& operator++() {
                ++i;
                return *this;
            }
            void operator++(int) { ++i; }
            bool operator==(std::default_sentinel_t) const { return i == 10; }
        };
        iterator begin() const { return {}; }
        std::default_sentinel_t end() const { return {}; }
    };
    std::vector<int> got;
    auto p = weft::pipeline() | weft::stage::source(throwing_range{}) |
             weft::stage::sink([&](int x) { got.push_back(x); });
    auto r = p.run();
    CHECK(r.failed_stage == std::optional<std::size_t>(0));
    CHECK(r.message() == "stage 0 (source) failed: read error");
    CHECK(r.conserved());
    CHECK(got.size() <= 3);
}

TEST_CASE("a failure upstream is not an end of input: the partial batch is dropped, not sent") {
    WEFT_WATCHDOG();
    for (int trial = 0; trial < 50; ++trial) {
        CAPTURE(trial);
        // The source fails, or a map between it and the batch stage does; either way the batch
        // stage then finds its input closed, and must see that the pipeline is stopping.
        const bool in_map = trial % 2 == 1;
        std::vector<std::vector<int>> got;
        auto p = weft::pipeline() | weft::stage::source<int>([&](weft::emitter<int>& emit) {
                     for (int i = 0; i < 5; ++i) emit(i);
                     if (trial % 4 == 0) std::this_thread::sleep_for(1ms);
                     if (!in_map) throw std::runtime_error("lost connection");
                     emit(-1);
                 }) |
                 weft::stage::map([](int x) {
                     if (x < 0) throw std::runtime_error("bad row");
                     return x;
                 }) |
                 weft::stage::batch(100, 1h) |
                 weft::stage::sink([&](std::vector<int> b) { got.push_back(b); });
        auto r = p.run();
        CHECK(r.failed_stage == std::optional<std::size_t>(in_map ? 1 : 0));
        CHECK(got.empty());
        CHECK(r.stages[2].in == r.stages[2].dropped);
        CHECK(r.stages[2].sent == 0);
        CHECK(r.conserved());
    }
}

TEST_CASE("move-only values through every stage") {
    WEFT_WATCHDOG();
    using up = std::unique_ptr<int>;
    for (auto order : {weft::stage::unordered, weft::stage::ordered}) {
        std::vector<up> in;
        for (int i = 0; i < 1000; ++i) in.push_back(std::make_unique<int>(i));
        std::vector<int> got;
        long tapped = 0;
        auto p = weft::pipeline() | weft::stage::source(std::move(in)) |
                 weft::stage::map([](up v) { return std::make_unique<long>(*v * 2); }, 4, order) |
                 weft::stage::filter([](const std::unique_ptr<long>& v) { return *v % 4 == 0; }, 2,
                                     order) |
                 weft::stage::tap([&](const std::unique_ptr<long>& v) { tapped += *v; }) |
                 weft::stage::map(
                     [](std::unique_ptr<long> v) { return std::make_unique<int>(*v / 2); }) |
                 weft::stage::batch(7, 1h) | weft::stage::sink([&](std::vector<up> b) {
                     for (auto& v : b) got.push_back(*v);
                 });
        auto r = p.run();
        check_clean(r);
        std::vector<int> want;
        for (int i = 0; i < 1000; i += 2) want.push_back(i);
        if (order == weft::stage::unordered) std::sort(got.begin(), got.end());
        CHECK(got == want);
        CHECK(tapped == 2L * std::accumulate(want.begin(), want.end(), 0L));
    }

    // A pushing source with move-only values.
    std::vector<int> got;
    auto p2 = weft::pipeline() | weft::stage::source<up>([](weft::emitter<up>& emit) {
                  for (int i = 0; i < 3; ++i) emit(std::make_unique<int>(i));
              }) |
              weft::stage::sink([&](up v) { got.push_back(*v); });
    check_clean(p2.run());
    CHECK(got == std::vector<int>{0, 1, 2});
}

TEST_CASE("conservation: canceled mid-stream, every value is counted and destroyed") {
    WEFT_WATCHDOG();
    for (int trial = 0; trial < 20; ++trial) {
        CAPTURE(trial);
        REQUIRE(tracked::live == 0);
        auto [ctx, cancel] = weft::with_cancel(weft::background());
        std::atomic<long> produced{0}, consumed{0}, sink_calls{0};
        const long cancel_at = 200 + trial * 37;
        auto p = weft::pipeline(ctx, {.capacity = 8}) |
                 weft::stage::source([&]() -> std::optional<tracked> {
                     ++produced;
                     return tracked(static_cast<int>(produced.load()));
                 }) |
                 weft::stage::map([](tracked t) { return t; }, 4,
                                  trial % 2 ? weft::stage::ordered : weft::stage::unordered) |
                 weft::stage::filter([](const tracked& t) { return t.v % 5 != 0; }, 2) |
                 weft::stage::batch(16, 1ms) |
                 weft::stage::sink(
                     [&, &cancel = cancel](std::vector<tracked> b) {
                         ++sink_calls;
                         if ((consumed += static_cast<long>(b.size())) >= cancel_at) cancel();
                     },
                     2);
        auto r = p.run();
        CHECK(tracked::live == 0);  // nothing kept in a channel, a ring or a partial batch
        CHECK(r.canceled());
        CHECK(r.conserved());
        // Up to the batch stage the unit is a value, after it a batch.
        REQUIRE(r.stages.size() == 5);
        std::uint64_t filtered = 0, lost = 0;
        for (std::size_t i = 0; i < 4; ++i) {
            filtered += r.stages[i].filtered;
            lost += r.stages[i].dropped + r.stages[i].stranded;
        }
        CHECK(static_cast<std::uint64_t>(produced.load()) == r.stages[3].out + filtered + lost);
        CHECK(r.stages[4].out == static_cast<std::uint64_t>(sink_calls.load()));
        CHECK(static_cast<std::uint64_t>(consumed.load()) <= r.stages[3].out);
    }
}

TEST_CASE("many workers in map and sink") {
    WEFT_WATCHDOG();
    const int n = static_cast<int>(scale(100000));
    std::atomic<long> sum{0};
    auto p =
        weft::pipeline() | weft::stage::source(counting{n}) |
        weft::stage::map([](int x) { return static_cast<long>(x); }, 16, weft::stage::ordered) |
        weft::stage::map([](long x) { return x + 1; }, 16) | weft::stage::batch(64, 1ms) |
        weft::stage::sink(
            [&](std::vector<long> b) {
                long s = 0;
                for (long x : b) s += x;
                sum += s;
            },
            4);
    auto r = p.run();
    check_clean(r);
    CHECK(sum == static_cast<long>(n) * (n + 1) / 2);
}

TEST_CASE("start(): the output is a receiver read elsewhere; wait() joins") {
    WEFT_WATCHDOG();
    auto p = weft::pipeline() | weft::stage::source(iota(100)) |
             weft::stage::map([](int x) { return x * 2; });
    static_assert(std::is_same_v<decltype(p), weft::pipeline_of<int>>);
    CHECK(p.size() == 2);
    auto run = p.start();
    weft::receiver<int> out = run.output();
    std::vector<int> got;
    std::thread reader([&] {
        for (int x : out) got.push_back(x);
    });
    reader.join();
    auto r = run.wait();
    check_clean(r);
    CHECK(got.size() == 100);
    CHECK(got.back() == 198);
    CHECK_THROWS_AS((void)run.wait(), std::logic_error);
}

TEST_CASE("start(): cancel() stops a pipeline whose output nobody reads") {
    WEFT_WATCHDOG();
    auto p = weft::pipeline(weft::background(), {.capacity = 1}) |
             weft::stage::source([]() -> std::optional<int> { return 7; }) |
             weft::stage::map([](int x) { return x; }, 2, weft::stage::ordered);
    auto run = p.start();
    CHECK(run.output().receive() == 7);
    run.cancel();
    auto r = run.wait();
    CHECK(r.canceled());
    CHECK(r.conserved());
}

TEST_CASE("destroying a started pipeline cancels it and joins its threads") {
    WEFT_WATCHDOG();
    std::atomic<int> alive{0};
    const std::size_t base = weft_test::settled_thread_count();
    {
        auto p =
            weft::pipeline(weft::background(), {.capacity = 1}) |
            weft::stage::source([]() -> std::optional<int> { return 1; }) |
            weft::stage::map([&](int x) {
                ++alive;
                --alive;
                return x;
            }) |
            weft::stage::sink([](const weft::context& ctx, int) { (void)ctx.done().receive(); });
        auto run = p.start();
        std::this_thread::sleep_for(5ms);
        if (base != 0) CHECK(weft_test::thread_count() >= base + 3);  // source, map, sink
    }  // ~pipeline_run: cancel + join
    CHECK(alive == 0);
    // Joined: the threads are gone (the kernel may take a moment to drop a dead thread's entry).
    if (base != 0) CHECK(weft_test::eventually([&] { return weft_test::thread_count() == base; }));

    // Never started: nothing to join.
    auto p = weft::pipeline() | weft::stage::source(iota(3)) | weft::stage::sink([](int) {});
    CHECK(p.size() == 2);
}

TEST_CASE("rendezvous channels and per-stage capacities") {
    WEFT_WATCHDOG();
    std::vector<int> got;
    auto p =
        weft::pipeline(weft::background(), {.capacity = 0}) | weft::stage::source(iota(500)) |
        weft::stage::map([](int x) { return x; }, 3, weft::stage::ordered).window(3) |
        weft::stage::filter([](int) { return true; }).capacity(100) |
        weft::stage::batch(10).capacity(1) |
        weft::stage::sink([&](std::vector<int> b) { got.insert(got.end(), b.begin(), b.end()); });
    check_clean(p.run());
    CHECK(got == iota(500));
}

TEST_CASE("misuse is reported: runs once, bad arguments") {
    WEFT_WATCHDOG();
    auto p = weft::pipeline() | weft::stage::source(iota(3)) | weft::stage::sink([](int) {});
    check_clean(p.run());
    CHECK_THROWS_AS((void)p.run(), std::logic_error);
    CHECK_THROWS_AS(weft::stage::map([](int x) { return x; }, 0), std::invalid_argument);
    CHECK_THROWS_AS(weft::stage::sink([](int) {}, 0), std::invalid_argument);
    CHECK_THROWS_AS(weft::stage::batch(0), std::invalid_argument);
    CHECK_THROWS_AS(weft::stage::batch(10, 0ms), std::invalid_argument);
    CHECK_THROWS_AS(weft::stage::map([](int x) { return x; }, 2, weft::stage::ordered).window(0),
                    std::invalid_argument);
}

TEST_CASE("a pipeline started under a canceled context stops at once") {
    WEFT_WATCHDOG();
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    cancel();
    int calls = 0;
    auto p = weft::pipeline(ctx) | weft::stage::source(iota(1000)) |
             weft::stage::sink([&](int) { ++calls; });
    auto r = p.run();
    CHECK(r.canceled());
    CHECK(calls == 0);
    CHECK(r.conserved());
}

TEST_CASE("a source blocked on a receiver nobody feeds stops when the context is canceled") {
    WEFT_WATCHDOG();
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    weft::channel<int> idle(0);  // never sent to, never closed
    std::atomic<bool> started{false};
    int calls = 0;
    auto p = weft::pipeline(ctx) | weft::stage::source(idle) |
             weft::stage::map([](int x) { return x; }, 3, weft::stage::ordered) |
             weft::stage::sink([&](int) { ++calls; });
    std::thread canceller([&, &cancel = cancel] {
        eventually([&] { return started.load(); });
        std::this_thread::sleep_for(10ms);  // let the stages block (not required for success)
        cancel();
    });
    started = true;
    auto r = p.run();
    canceller.join();
    CHECK(r.canceled());
    CHECK(r.message() == "canceled: context canceled");
    CHECK(calls == 0);
    CHECK(r.conserved());
    CHECK(r.lost() == 0);
}

// docs/patterns/pipeline.md, "A rate limiter's deadline is a stage failure": Go's rule.
TEST_CASE("rate_limiter::wait in a stage: a token due after the deadline fails the stage at once") {
    WEFT_WATCHDOG();
    weft::rate_limiter lim(weft::rate_limiter::every(1h), 1);  // one token now, the next in 1h
    auto [ctx, cancel] = weft::with_timeout(weft::background(), 10min);
    auto r = (weft::pipeline(ctx) | weft::stage::source(iota(10)) |
              weft::stage::map([&](const weft::context& c, int v) {
                  if (auto ec = lim.wait(c)) throw std::system_error(ec);
                  return v;
              }).name("throttle") |
              weft::stage::sink([](int) {
              })).run();
    CHECK_FALSE(r.canceled());
    REQUIRE(r.failed_stage.has_value());
    CHECK(*r.failed_stage == 1);
    CHECK(r.message() ==
          "stage 1 (throttle) failed: rate: wait(n) would exceed the context's deadline");
    auto* e = weft::error_as<std::system_error>(r.error);
    REQUIRE(e != nullptr);
    CHECK(e->code() == weft::rate_errc::would_exceed_deadline);
    CHECK_FALSE(ctx.err());  // the deadline is still 10 minutes away
    CHECK(r.stages[1].out == 1);
    CHECK(r.conserved());
}

TEST_CASE("a permit in a select with the context's done(): the deadline cancels the pipeline") {
    WEFT_WATCHDOG();
    weft::rate_limiter lim(weft::rate_limiter::every(1h), 1);
    auto [ctx, cancel] = weft::with_timeout(weft::background(), 20ms);
    std::atomic<int> passed{0};
    auto r = (weft::pipeline(ctx) | weft::stage::source(iota(10)) |
              weft::stage::map([&](const weft::context& c, int v) {
                  (void)weft::select(weft::on_receive(lim.permit().chan(), [&] { ++passed; }),
                                     weft::on_receive(c.done(), [] {}));
                  return v;
              }) |
              weft::stage::sink([](int) {
              })).run();
    CHECK(r.canceled());
    CHECK(r.message() == "canceled: context deadline exceeded");
    CHECK(passed == 1);
    CHECK(r.conserved());
}
