// Tests of weft/error_group.hpp. golang.org/x/sync's errgroup/errgroup_test.go is the model:
// TestZeroGroup, TestWithContext, TestTryGo, TestGoLimit, TestCancelCause and the examples
// ExampleGroup_justErrors and ExampleGroup_parallel are ported below (each cites its source).
// Then what weft promises beyond Go: exceptions of every kind are captured, every error is kept
// in order, nothing is left running when wait() returns, the destructor cancels and waits.
#include <weft/error_group.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <weft/channel.hpp>
#include <weft/context.hpp>

#include "support.hpp"

using namespace std::chrono_literals;
using weft_test::scale;

namespace {

// Go's errors.New: an error value, compared by identity.
std::exception_ptr new_error(const char* what) {
    return std::make_exception_ptr(std::runtime_error(what));
}

std::string what_of(const std::exception_ptr& e) {
    if (!e) return "<none>";
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) { return x.what(); } catch (...) {
        return "<not a std::exception>";
    }
}

// Go: select { case <-ctx.Done(): return true; default: return false }
bool is_done(const weft::context& ctx) {
    return ctx.done().try_receive().status == weft::op_status::closed;
}

// The error of a context that was canceled without a cause of its own.
bool is_plain_cancel(const std::exception_ptr& e) {
    const auto* c = weft::error_as<weft::context_error>(e);
    return c && c->code() == weft::context_errc::canceled;
}

}  // namespace

// Port of TestZeroGroup (golang.org/x/sync, errgroup/errgroup_test.go): a zero group reports
// the first non-nil error, and keeps reporting it across later Go/Wait rounds.
TEST_CASE("error_group: zero group, the first error wins across rounds (TestZeroGroup)") {
    WEFT_WATCHDOG();
    const auto err1 = new_error("errgroup_test: 1");
    const auto err2 = new_error("errgroup_test: 2");
    const std::vector<std::vector<std::exception_ptr>> cases = {
        {}, {nullptr}, {err1}, {err1, nullptr}, {err1, nullptr, err2}};
    for (const auto& errs : cases) {
        weft::error_group g;
        std::exception_ptr first;
        for (const auto& err : errs) {
            g.go([err] { return err; });
            if (!first && err) first = err;
            CHECK(g.wait() == first);
        }
        CHECK_FALSE(is_done(g.context()));  // no context: background, never canceled
        CHECK(g.context().err() == std::error_code{});
    }
}

// Port of TestWithContext (golang.org/x/sync, errgroup/errgroup_test.go): Wait returns the
// first error, and the group's context is done once Wait has returned, error or not.
TEST_CASE(
    "error_group: with a context, wait returns the first error and cancels (TestWithContext)") {
    WEFT_WATCHDOG();
    const auto doom = new_error("group_test: doomed");
    struct tc {
        std::vector<std::exception_ptr> errs;
        std::exception_ptr want;
    };
    const std::vector<tc> cases = {
        {{}, nullptr}, {{nullptr}, nullptr}, {{doom}, doom}, {{doom, nullptr}, doom}};
    for (const auto& c : cases) {
        weft::error_group g(weft::background());
        const weft::context ctx = g.context();
        for (const auto& err : c.errs) g.go([err] { return err; });
        CHECK(g.wait() == c.want);
        CHECK(is_done(ctx));
        CHECK(ctx.err() == weft::context_errc::canceled);
    }
}

// Port of TestTryGo (golang.org/x/sync, errgroup/errgroup_test.go): TryGo under a limit, after
// Wait, after switching the limit, and with a limit of 0 (which blocks every call).
TEST_CASE("error_group: try_go under a limit (TestTryGo)") {
    WEFT_WATCHDOG();
    weft::error_group g;
    constexpr int n = 42;
    g.set_limit(n);
    weft::channel<int> ch(0);
    auto fn = [ch]() mutable { ch.send(0); };
    for (int i = 0; i < n; ++i) REQUIRE_MESSAGE(g.try_go(fn), "TryGo failed at call " << i);
    CHECK_FALSE(g.try_go(fn));  // the limit is reached
    weft_test::goroutines drain;
    drain.go([ch]() mutable {
        for (int i = 0; i < n; ++i) (void)ch.receive();
    });
    CHECK(g.wait() == nullptr);

    CHECK(g.try_go(fn));  // every slot is free again
    drain.go([ch]() mutable { (void)ch.receive(); });
    CHECK(g.wait() == nullptr);

    // Switch limit.
    g.set_limit(1);
    CHECK(g.try_go(fn));
    CHECK_FALSE(g.try_go(fn));
    drain.go([ch]() mutable { (void)ch.receive(); });
    CHECK(g.wait() == nullptr);

    // Block all calls.
    g.set_limit(0);
    for (int i = 0; i < (1 << 10); ++i) CHECK_FALSE(g.try_go(fn));
    CHECK(g.wait() == nullptr);
}

// Port of TestGoLimit (golang.org/x/sync, errgroup/errgroup_test.go): 1025 tasks under a limit
// of 10; a task that sees more than 10 active ones fails the group.
TEST_CASE("error_group: go blocks at the limit (TestGoLimit)") {
    WEFT_WATCHDOG();
    const int limit = 10;
    weft::error_group g;
    g.set_limit(limit);
    std::atomic<int> active{0};
    const int tasks = static_cast<int>(scale(1 << 10)) + 1;
    for (int i = 0; i < tasks; ++i) {
        g.go([&active]() -> std::exception_ptr {
            const int now = active.fetch_add(1) + 1;
            if (now > limit) {
                return std::make_exception_ptr(
                    std::runtime_error("saw " + std::to_string(now) + " active tasks; want <= 10"));
            }
            std::this_thread::sleep_for(1us);  // give other tasks a chance to increment active
            active.fetch_sub(1);
            return nullptr;
        });
    }
    CHECK(what_of(g.wait()) == "<none>");
}

// Port of TestCancelCause (golang.org/x/sync, errgroup/errgroup_test.go): the context's cause
// is the first error, or plain cancellation when there was none.
TEST_CASE("error_group: the context's cause is the first error (TestCancelCause)") {
    WEFT_WATCHDOG();
    const auto doom = new_error("group_test: doomed");
    struct tc {
        std::vector<std::exception_ptr> errs;
        std::exception_ptr want;
    };
    const std::vector<tc> cases = {
        {{}, nullptr}, {{nullptr}, nullptr}, {{doom}, doom}, {{doom, nullptr}, doom}};
    for (const auto& c : cases) {
        weft::error_group g(weft::background());
        for (const auto& err : c.errs) CHECK(g.try_go([err] { return err; }));
        CHECK(g.wait() == c.want);
        const auto cause = weft::cause(g.context());
        if (c.want)
            CHECK(cause == c.want);
        else
            CHECK(is_plain_cancel(cause));  // Go: context.Canceled
    }
}

// Port of ExampleGroup_justErrors (golang.org/x/sync, errgroup/errgroup_test.go): a group in
// place of a WaitGroup, with one failing fetch (a fake, instead of a real HTTP GET).
TEST_CASE("error_group: fetch URLs, report whether all succeeded (ExampleGroup_justErrors)") {
    WEFT_WATCHDOG();
    weft::error_group g;
    const std::vector<std::string> urls = {"http://www.golang.org/", "http://www.google.com/",
                                           "http://www.somestupidname.com/"};
    std::atomic<int> fetched{0};
    for (const auto& url : urls) {
        g.go([&url, &fetched] {
            if (url.find("somestupidname") != std::string::npos)
                throw std::runtime_error("Get \"" + url + "\": no such host");
            fetched.fetch_add(1);
        });
    }
    const auto err = g.wait();
    CHECK(fetched.load() == 2);
    CHECK(what_of(err) == "Get \"http://www.somestupidname.com/\": no such host");
}

// Port of ExampleGroup_parallel (golang.org/x/sync, errgroup/errgroup_test.go): "Google Search
// 2.0" with a context; results land in their own slots, in order.
TEST_CASE("error_group: parallel search with a context (ExampleGroup_parallel)") {
    WEFT_WATCHDOG();
    using search = std::string (*)(const weft::context&, const std::string&);
    auto google = [](const weft::context& parent, const std::string& query) {
        weft::error_group g(parent);
        const weft::context ctx = g.context();
        const std::vector<search> searches = {[](const weft::context&, const std::string& q) {
                                                  return "web result for \"" + q + "\"";
                                              },
                                              [](const weft::context&, const std::string& q) {
                                                  return "image result for \"" + q + "\"";
                                              },
                                              [](const weft::context&, const std::string& q) {
                                                  return "video result for \"" + q + "\"";
                                              }};
        std::vector<std::string> results(searches.size());
        for (std::size_t i = 0; i < searches.size(); ++i)
            g.go([&, i] { results[i] = searches[i](ctx, query); });
        if (auto err = g.wait()) std::rethrow_exception(err);
        return results;
    };
    const auto results = google(weft::background(), "golang");
    CHECK(results == std::vector<std::string>{"web result for \"golang\"",
                                              "image result for \"golang\"",
                                              "video result for \"golang\""});
}

// --- Beyond Go ----------------------------------------------------------------------------

namespace {
struct checkout_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};
}  // namespace

TEST_CASE("error_group: exceptions of every kind and error returns are captured") {
    WEFT_WATCHDOG();
    weft::error_group g;
    // Each task fails in turn (it waits until the previous error is recorded), so errors()
    // has a known order.
    auto turn = [&g](std::size_t k) {
        while (g.errors().size() != k) std::this_thread::sleep_for(100us);
    };
    g.go([&] {
        turn(0);
        throw std::runtime_error("runtime_error");
    });
    g.go([&] {
        turn(1);
        throw checkout_error("a std::exception subclass");
    });
    g.go([&] {
        turn(2);
        throw 42;  // not a std::exception at all
    });
    g.go([&]() -> std::error_code {
        turn(3);
        return std::make_error_code(std::errc::connection_refused);
    });
    g.go([&]() -> std::exception_ptr {
        turn(4);
        return std::make_exception_ptr(std::out_of_range("returned exception_ptr"));
    });
    g.go([&] {
        turn(5);
        throw weft::context_error(weft::context_errc::deadline_exceeded);
    });
    // Successes of every shape record nothing.
    g.go([] {});
    g.go([] { return std::error_code{}; });
    g.go([] { return std::exception_ptr{}; });

    const auto first = g.wait();
    const auto errs = g.errors();
    REQUIRE(errs.size() == 6);
    CHECK(first == errs[0]);
    CHECK(what_of(errs[0]) == "runtime_error");
    CHECK(weft::error_as<checkout_error>(errs[1]) != nullptr);
    CHECK(what_of(errs[1]) == "a std::exception subclass");
    try {
        std::rethrow_exception(errs[2]);
    } catch (int x) { CHECK(x == 42); } catch (...) {
        FAIL("errs[2] is not the int that was thrown");
    }
    const auto* sys = weft::error_as<std::system_error>(errs[3]);
    REQUIRE(sys != nullptr);
    CHECK(sys->code() == std::errc::connection_refused);
    CHECK(weft::error_as<std::out_of_range>(errs[4]) != nullptr);
    CHECK(weft::error_as<weft::context_error>(errs[5])->code() ==
          weft::context_errc::deadline_exceeded);
}

TEST_CASE("error_group: every error is kept, in the order they happened") {
    WEFT_WATCHDOG();
    weft::error_group g(weft::background());
    const std::size_t n = scale(64);
    for (std::size_t i = 0; i < n; ++i) {
        g.go([&g, i] {
            while (g.errors().size() != i) std::this_thread::sleep_for(50us);
            throw std::runtime_error("error " + std::to_string(i));
        });
    }
    const auto first = g.wait();
    const auto errs = g.errors();
    REQUIRE(errs.size() == n);
    for (std::size_t i = 0; i < n; ++i) CHECK(what_of(errs[i]) == "error " + std::to_string(i));
    CHECK(first == errs[0]);
    CHECK(weft::cause(g.context()) == errs[0]);  // later errors do not replace the cause
}

TEST_CASE("error_group: the first error cancels the context with itself as the cause") {
    WEFT_WATCHDOG();
    auto [parent, cancel_parent] = weft::with_cancel(weft::background());
    weft::error_group g(parent);
    const weft::context ctx = g.context();
    std::exception_ptr seen_cause;  // written by the task, read after wait()
    g.go([ctx, &seen_cause] {
        (void)ctx.done().receive();  // blocks until the other task fails
        seen_cause = weft::cause(ctx);
        return ctx.err();  // Go's `return ctx.Err()`: an error too, recorded second
    });
    g.go([] { throw checkout_error("payment declined"); });
    const auto first = g.wait();
    CHECK(what_of(first) == "payment declined");
    CHECK(seen_cause == first);
    CHECK(weft::cause(ctx) == first);
    CHECK(ctx.err() == weft::context_errc::canceled);
    CHECK(parent.err() == std::error_code{});  // never the parent
    const auto errs = g.errors();
    REQUIRE(errs.size() == 2);
    CHECK(errs[0] == first);
    CHECK(weft::error_as<std::system_error>(errs[1])->code() == weft::context_errc::canceled);
    cancel_parent();
}

TEST_CASE("error_group: tasks blocked on ctx.done() are released by another task's failure") {
    WEFT_WATCHDOG();
    weft::error_group g(weft::background());
    const weft::context ctx = g.context();
    const int blocked = static_cast<int>(scale(50));
    std::atomic<int> released{0};
    for (int i = 0; i < blocked; ++i) {
        g.go([ctx, &released] {
            // A slow remote call that honours the context: 60 s unless canceled.
            if (weft::sleep(ctx, 60s)) released.fetch_add(1);
        });
    }
    g.go([] {
        std::this_thread::sleep_for(10ms);
        throw std::runtime_error("boom");
    });
    CHECK(what_of(g.wait()) == "boom");
    CHECK(released.load() == blocked);
    CHECK(g.errors().size() == 1);  // the released tasks returned normally
}

TEST_CASE("error_group: a parent's cancellation reaches the tasks with the parent's cause") {
    WEFT_WATCHDOG();
    auto [parent, cancel_parent] = weft::with_cancel_cause(weft::background());
    weft::error_group g(parent);
    const weft::context ctx = g.context();
    g.go([ctx] { return weft::sleep(ctx, 60s); });
    const auto shutdown = new_error("shutting down");
    cancel_parent(shutdown);
    const auto err = g.wait();
    CHECK(weft::error_as<std::system_error>(err)->code() == weft::context_errc::canceled);
    CHECK(weft::cause(ctx) == shutdown);  // the parent's cancellation came first
}

TEST_CASE("error_group: set_limit holds back many producers; never more than n run") {
    WEFT_WATCHDOG();
    const int limit = 4;
    weft::error_group g;
    g.set_limit(limit);
    std::atomic<int> active{0}, most{0}, ran{0};
    const int producers = 4;
    const int per_producer = static_cast<int>(scale(100));
    {
        weft_test::goroutines ps;
        for (int p = 0; p < producers; ++p) {
            ps.go([&] {
                for (int i = 0; i < per_producer; ++i) {
                    g.go([&] {
                        const int now = active.fetch_add(1) + 1;
                        int m = most.load();
                        while (now > m && !most.compare_exchange_weak(m, now)) {}
                        std::this_thread::sleep_for(100us);
                        active.fetch_sub(1);
                        ran.fetch_add(1);
                    });
                }
            });
        }
    }  // every go() has returned
    CHECK(g.wait() == nullptr);
    CHECK(ran.load() == producers * per_producer);
    CHECK(most.load() <= limit);
    CHECK(most.load() >= 1);
}

TEST_CASE("error_group: try_go under a limit fails without consuming the callable") {
    WEFT_WATCHDOG();
    weft::error_group g;
    g.set_limit(2);
    weft::channel<int> gate(0);
    for (int i = 0; i < 2; ++i) CHECK(g.try_go([gate]() mutable { (void)gate.receive(); }));
    auto p = std::make_unique<int>(7);
    std::atomic<int> got{0};
    auto task = [q = std::move(p), &got] { got.store(*q); };
    CHECK_FALSE(g.try_go(std::move(task)));  // full: `task` is left as it was
    gate.send(1);  // one task ends; its slot comes back once it has finished
    while (!g.try_go(std::move(task))) std::this_thread::sleep_for(100us);
    gate.send(2);
    CHECK(g.wait() == nullptr);
    CHECK(got.load() == 7);
}

TEST_CASE("error_group: set_limit while tasks are active throws and changes nothing") {
    WEFT_WATCHDOG();
    weft::error_group g;
    g.set_limit(1);
    weft::channel<int> gate(0);
    g.go([gate]() mutable { (void)gate.receive(); });
    try {
        g.set_limit(5);
        FAIL("set_limit with an active task did not throw");
    } catch (const std::logic_error& e) {
        CHECK(std::string(e.what()) == "weft::error_group: set_limit while 1 tasks are active");
    }
    CHECK_FALSE(g.try_go([] {}));  // still 1
    gate.send(0);
    CHECK(g.wait() == nullptr);
    g.set_limit(-1);  // fine once idle
    for (int i = 0; i < 8; ++i) CHECK(g.try_go([] {}));
    CHECK(g.wait() == nullptr);
}

TEST_CASE("error_group: a go() held back by a limit of 0 starts once the limit is raised") {
    WEFT_WATCHDOG();
    weft::error_group g;
    g.set_limit(0);
    std::atomic<bool> ran{false};
    weft_test::goroutines caller;
    caller.go([&] { g.go([&] { ran.store(true); }); });
    std::this_thread::sleep_for(20ms);
    CHECK_FALSE(ran.load());
    g.set_limit(1);  // no task is active: allowed, and it wakes the blocked go()
    caller.join();
    CHECK(g.wait() == nullptr);
    CHECK(ran.load());
}

namespace {
// Counts destructions, to see when a task's callable and thread_local objects die.
struct tracer {
    std::atomic<int>* dead;
    explicit tracer(std::atomic<int>* d) : dead(d) {}
    tracer(tracer&& o) noexcept : dead(std::exchange(o.dead, nullptr)) {}
    tracer& operator=(tracer&&) = delete;
    ~tracer() {
        if (dead) {
            std::this_thread::sleep_for(2ms);  // a slow destructor: wait() must not overtake it
            dead->fetch_add(1);
        }
    }
};
std::atomic<int> tls_dead{0};
thread_local std::unique_ptr<tracer> tls_tracer;
}  // namespace

TEST_CASE("error_group: nothing is left running when wait() returns") {
    WEFT_WATCHDOG();
    const int n = static_cast<int>(scale(40));
    std::vector<int> out(static_cast<std::size_t>(n), 0);
    std::atomic<int> callables_dead{0};
    tls_dead.store(0);
    {
        weft::error_group g;
        for (int i = 0; i < n; ++i) {
            g.go([&out, i, t = tracer(&callables_dead)] {
                std::this_thread::sleep_for(20ms);
                tls_tracer = std::make_unique<tracer>(&tls_dead);  // dies at thread exit
                out[static_cast<std::size_t>(i)] = i + 1;          // written after the sleep
                if (i % 3 == 0) throw std::runtime_error("captured, and still waited for");
            });
        }
        CHECK(g.wait() != nullptr);
        // Plain reads: wait() joined every thread, so all of this happened before.
        for (int i = 0; i < n; ++i) CHECK(out[static_cast<std::size_t>(i)] == i + 1);
        CHECK(callables_dead.load() == n);  // the callables (and their captures) are gone
        CHECK(tls_dead.load() == n);        // even the threads' thread_local objects are gone
    }
}

TEST_CASE("error_group: move-only callables and arguments") {
    WEFT_WATCHDOG();
    weft::error_group g;
    std::atomic<int> sum{0};
    for (int i = 1; i <= 4; ++i) {
        auto p = std::make_unique<int>(i);
        g.go([p = std::move(p), &sum] { sum.fetch_add(*p); });
    }
    g.go([&sum](std::unique_ptr<int> a, int b) { sum.fetch_add(*a + b); },
         std::make_unique<int>(100), 1000);
    CHECK(g.try_go([&sum](std::unique_ptr<int> a) { sum.fetch_add(*a); },
                   std::make_unique<int>(10000)));
    CHECK(g.wait() == nullptr);
    CHECK(sum.load() == 1 + 2 + 3 + 4 + 1100 + 10000);
}

TEST_CASE("error_group: hundreds of tasks, some failing") {
    WEFT_WATCHDOG(60s);
    weft::error_group g(weft::background());
    const int n = static_cast<int>(scale(500));
    std::atomic<int> ran{0};
    for (int i = 0; i < n; ++i) {
        g.go([&ran, i]() -> std::error_code {
            ran.fetch_add(1);
            if (i % 50 == 49) return std::make_error_code(std::errc::io_error);
            return {};
        });
    }
    const auto first = g.wait();
    CHECK(ran.load() == n);
    CHECK(g.errors().size() == static_cast<std::size_t>(n / 50));
    if (n >= 50) {
        CHECK(weft::error_as<std::system_error>(first)->code() == std::errc::io_error);
        CHECK(weft::cause(g.context()) == first);
    }
}

TEST_CASE("error_group: tasks start tasks; wait() waits for the whole tree") {
    WEFT_WATCHDOG();
    weft::error_group g;
    std::atomic<int> nodes{0};
    // A tree of depth 3 and fan-out 4: 1 + 4 + 16 + 64 tasks, most started from inside tasks.
    struct spawn {
        weft::error_group* g;
        std::atomic<int>* nodes;
        int depth;
        void operator()() const {
            std::this_thread::sleep_for(1ms);
            nodes->fetch_add(1);
            if (depth == 0) return;
            for (int i = 0; i < 4; ++i) g->go(spawn{g, nodes, depth - 1});
        }
    };
    g.go(spawn{&g, &nodes, 3});
    CHECK(g.wait() == nullptr);
    CHECK(nodes.load() == 1 + 4 + 16 + 64);
}

TEST_CASE("error_group: wait() from one of its own tasks is an error, not a deadlock") {
    WEFT_WATCHDOG();
    weft::error_group g;
    g.go([&g] { (void)g.wait(); });
    const auto err = g.wait();
    REQUIRE(weft::error_as<std::logic_error>(err) != nullptr);
    CHECK(what_of(err) ==
          "weft::error_group: wait() called from one of its own tasks (it would wait for itself)");
}

TEST_CASE("error_group: two threads waiting at once both see every task finished") {
    WEFT_WATCHDOG();
    weft::error_group g;
    std::atomic<int> done{0};
    const int n = 16;
    for (int i = 0; i < n; ++i) {
        g.go([&done] {
            std::this_thread::sleep_for(10ms);
            done.fetch_add(1);
        });
    }
    std::atomic<int> seen_by_other{-1};
    weft_test::goroutines other;
    other.go([&] {
        (void)g.wait();
        seen_by_other.store(done.load());
    });
    CHECK(g.wait() == nullptr);
    CHECK(done.load() == n);
    other.join();
    CHECK(seen_by_other.load() == n);
}

TEST_CASE("error_group: the destructor cancels the context, then waits") {
    WEFT_WATCHDOG();
    std::atomic<bool> finished{false};
    weft::context ctx;
    {
        weft::error_group g(weft::background());
        ctx = g.context();
        g.go([c = g.context(), &finished] {
            (void)weft::sleep(c, 60s);  // would hang an unwinding scope without the cancel
            std::this_thread::sleep_for(5ms);
            finished.store(true);
        });
    }  // no wait(): the destructor cancels and joins
    CHECK(finished.load());
    CHECK(is_plain_cancel(weft::cause(ctx)));

    // A zero group has nothing to cancel: its destructor just waits.
    std::atomic<bool> slept{false};
    {
        weft::error_group g;
        g.go([&slept] {
            std::this_thread::sleep_for(20ms);
            slept.store(true);
        });
    }
    CHECK(slept.load());
}

TEST_CASE("error_group: an exception unwinding past the group does not hang or leak threads") {
    WEFT_WATCHDOG();
    std::atomic<int> stopped{0};
    try {
        weft::error_group g(weft::background());
        const weft::context ctx = g.context();
        for (int i = 0; i < 3; ++i) {
            g.go([ctx, &stopped] {
                (void)ctx.done().receive();
                stopped.fetch_add(1);
            });
        }
        throw std::runtime_error("the caller failed before wait()");
    } catch (const std::runtime_error&) {}
    CHECK(stopped.load() == 3);
}

namespace {
// Copyable, but every copy throws: the task cannot be made, so go() must give its slot back.
struct bad_copy {
    bad_copy() = default;
    bad_copy(const bad_copy&) { throw std::runtime_error("copy failed"); }
    void operator()() const {}
};
}  // namespace

TEST_CASE("error_group: a task that cannot be started gives its slot back") {
    WEFT_WATCHDOG();
    weft::error_group g;
    g.set_limit(1);
    const bad_copy f;
    CHECK_THROWS_AS(g.go(f), std::runtime_error);
    CHECK_THROWS_AS((void)g.try_go(f), std::runtime_error);
    g.set_limit(2);  // allowed: nothing is active
    CHECK(g.try_go([] {}));
    CHECK(g.wait() == nullptr);
    CHECK(g.errors().empty());
}

TEST_CASE("error_group: reuse after wait keeps the first error and the canceled context") {
    WEFT_WATCHDOG();
    weft::error_group g(weft::background());
    const auto first = new_error("first round");
    g.go([first] { return first; });
    CHECK(g.wait() == first);
    std::atomic<bool> saw_canceled{false};
    g.go([ctx = g.context(), &saw_canceled] { saw_canceled.store(ctx.err() ? true : false); });
    g.go([] { throw std::runtime_error("second round"); });
    CHECK(g.wait() == first);
    CHECK(saw_canceled.load());
    REQUIRE(g.errors().size() == 2);
    CHECK(what_of(g.errors()[1]) == "second round");
}
