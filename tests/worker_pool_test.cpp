// Tests of weft/worker_pool.hpp: results and exceptions (futures, post's handler), backpressure
// (blocking submit, try_submit, submit(ctx) canceled while blocked), shutdown drains, stop
// cancels and hands back, counters add up, many submitters, move-only tasks and results, tasks
// that submit tasks, the destructor, misuse.
//
// ThreadSanitizer and exceptions: libstdc++ reference-counts exception objects (and their
// message strings) inside its uninstrumented runtime, so TSan cannot see that a catch block on
// one thread is over before another thread drops the last reference and frees the object; it
// reports a race that is not there. A test that catches a task's exception therefore first
// makes sure the worker has dropped its references (a later task on the same single worker
// has completed), so the last reference is the test thread's own.
//
// A "gate" is a rendezvous channel that tasks receive from: closing it releases them all. Tasks
// that must be running before the test goes on report on `started` first.
#include <weft/worker_pool.hpp>

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <weft/channel.hpp>
#include <weft/context.hpp>
#include <weft/wait_group.hpp>

#include "support.hpp"

using namespace std::chrono_literals;
using weft_test::scale;

namespace {

// Waits until n tasks have reported on `started`.
void await_started(weft::channel<int>& started, int n) {
    for (int i = 0; i < n; ++i) REQUIRE(started.receive());
}

// Occupies every worker of `pool` with a task that waits for `gate` to close.
void occupy(weft::worker_pool& pool, weft::channel<int>& gate, weft::channel<int>& started) {
    for (std::size_t i = 0; i < pool.workers(); ++i)
        pool.post([gate, started]() mutable {
            started.send(1);
            (void)gate.receive();
        });
    await_started(started, static_cast<int>(pool.workers()));
}

std::size_t total(const weft::worker_pool_stats& s) {
    return s.queued + s.running + s.completed + s.failed + s.canceled;
}

// True if `f` is ready now (it never waits).
template <class T>
bool ready(const weft::future<T>& f) {
    return f.ready();
}

}  // namespace

TEST_CASE("worker_pool: submit returns results through futures") {
    WEFT_WATCHDOG();
    weft::worker_pool pool(3, 16);
    std::vector<weft::future<int>> squares;
    for (int i = 0; i < 100; ++i) squares.push_back(pool.submit([i] { return i * i; }));
    auto text = pool.submit([] { return std::string("forty-two"); });
    std::atomic<bool> ran{false};
    auto nothing = pool.submit([&] { ran = true; });
    for (int i = 0; i < 100; ++i) CHECK(squares[static_cast<std::size_t>(i)].get() == i * i);
    CHECK(text.get() == "forty-two");
    nothing.get();
    CHECK(ran.load());
    pool.shutdown();
    auto s = pool.stats();
    CHECK(s.completed == 102);
    CHECK(s.failed == 0);
    CHECK(total(s) == 102);
}

TEST_CASE("worker_pool: a task's exception reaches its future; the worker survives") {
    WEFT_WATCHDOG();
    weft::worker_pool pool(1, 4);
    auto bad = pool.submit([]() -> int { throw std::runtime_error("disk on fire"); });
    auto good = pool.submit([] { return 7; });
    CHECK(good.get() == 7);  // the same (only) worker ran it after the throw (see the top)
    try {
        (void)bad.get();
        FAIL("get() did not rethrow");
    } catch (const std::runtime_error& e) { CHECK(std::string(e.what()) == "disk on fire"); }
    pool.shutdown();
    CHECK(pool.stats().failed == 1);
    CHECK(pool.stats().completed == 1);
    CHECK(pool.first_error() == nullptr);  // a submit task's exception belongs to its future
}

TEST_CASE("worker_pool: post exceptions go to on_error, and the first is kept") {
    WEFT_WATCHDOG();
    std::mutex m;
    std::vector<std::string> seen;
    weft::worker_pool pool(
        {.workers = 2, .queue_capacity = 8, .on_error = [&](std::exception_ptr e) {
             try {
                 std::rethrow_exception(e);
             } catch (const std::exception& x) {
                 std::lock_guard lock(m);
                 seen.emplace_back(x.what());
             }
         }});
    std::atomic<int> ok{0};
    for (int i = 0; i < 20; ++i) {
        if (i % 4 == 0)
            pool.post([i] { throw std::runtime_error("task " + std::to_string(i)); });
        else
            pool.post([&] { ok.fetch_add(1); });
    }
    pool.shutdown();
    CHECK(ok.load() == 15);
    CHECK(seen.size() == 5);
    auto s = pool.stats();
    CHECK(s.failed == 5);
    CHECK(s.completed == 15);
    REQUIRE(pool.first_error() != nullptr);
    CHECK(weft::error_as<std::runtime_error>(pool.first_error()) != nullptr);
}

TEST_CASE("worker_pool: the default error handling records the first exception") {
    WEFT_WATCHDOG();
    weft::worker_pool pool(1, 4);
    pool.post([] { throw std::logic_error("first"); });
    pool.post([] { throw 42; });  // not even a std::exception
    auto after = pool.submit([] { return 1; });
    CHECK(after.get() == 1);
    pool.shutdown();
    auto* e = weft::error_as<std::logic_error>(pool.first_error());
    REQUIRE(e != nullptr);
    CHECK(std::string(e->what()) == "first");
    CHECK(pool.stats().failed == 2);
}

TEST_CASE("worker_pool: an on_error that throws is swallowed, and recorded if first") {
    WEFT_WATCHDOG();
    weft::worker_pool pool({.workers = 1, .queue_capacity = 4, .on_error = [](std::exception_ptr) {
                                throw std::runtime_error("handler broke");
                            }});
    pool.post([] { throw std::logic_error("task broke"); });
    pool.post([] { throw std::logic_error("again"); });
    auto alive = pool.submit([] { return 3; });
    CHECK(alive.get() == 3);
    pool.shutdown();
    auto* e = weft::error_as<std::logic_error>(pool.first_error());
    REQUIRE(e != nullptr);  // the task's exception came first
    CHECK(std::string(e->what()) == "task broke");
    CHECK(pool.stats().failed == 2);
}

TEST_CASE("worker_pool: try_submit and try_post fail on a full queue and hand the task back") {
    WEFT_WATCHDOG();
    weft::worker_pool pool(1, 2);
    weft::channel<int> gate(0), started(0);
    occupy(pool, gate, started);
    auto a = pool.submit([] { return 1; });
    auto b = pool.try_submit([] { return 2; });  // the queue's second slot
    REQUIRE(b);
    CHECK(pool.stats().queued == 2);

    auto c = pool.try_submit([p = std::make_unique<int>(3)]() mutable { return *p; });
    CHECK(c.status == weft::op_status::full);
    CHECK_FALSE(c.future.valid());
    REQUIRE(c.task);
    CHECK((*c.task)() == 3);  // handed back intact, and never run by the pool

    bool ran = false;
    auto d = pool.try_post([&ran] { ran = true; });
    CHECK(d.status == weft::op_status::full);
    REQUIRE(d.task);
    CHECK_FALSE(ran);
    (*d.task)();
    CHECK(ran);

    // A worker_pool::task comes back as the caller's task, not as the pool's wrapper around it
    // (whose exception would go to a future nobody holds).
    auto e = pool.try_submit(weft::worker_pool::task([] { throw std::runtime_error("mine"); }));
    CHECK(e.status == weft::op_status::full);
    REQUIRE(e.task);
    CHECK_THROWS_AS((*e.task)(), std::runtime_error);

    CHECK(total(pool.stats()) == 3);  // the occupying task + 2 queued; the rejects are not counted
    gate.close();
    CHECK(a.get() == 1);
    CHECK(b.future.get() == 2);
    pool.shutdown();
    CHECK(pool.stats().completed == 3);
}

TEST_CASE("worker_pool: submit blocks while the queue is full") {
    WEFT_WATCHDOG();
    weft::worker_pool pool(1, 1);
    weft::channel<int> gate(0), started(0);
    occupy(pool, gate, started);
    pool.post([] {});  // fills the queue
    std::atomic<bool> returned{false};
    weft::future<int> blocked;
    std::thread submitter([&] {
        blocked = pool.submit([] { return 5; });
        returned = true;
    });
    std::this_thread::sleep_for(50ms);
    CHECK_FALSE(returned.load());  // still waiting for room (can only pass if it really blocks)
    CHECK(pool.stats().queued == 1);
    gate.close();
    submitter.join();
    CHECK(returned.load());
    CHECK(blocked.get() == 5);
}

TEST_CASE("worker_pool: submit(ctx) canceled while blocked hands the task back, not run") {
    WEFT_WATCHDOG();
    weft::worker_pool pool(1, 1);
    weft::channel<int> gate(0), started(0);
    occupy(pool, gate, started);
    pool.post([] {});
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    std::atomic<bool> ran{false};
    weft::submit_result<int, std::function<int()>> r{weft::op_status::ok, {}, std::nullopt};
    std::thread submitter([&, ctx = ctx] {
        r = pool.submit(ctx, std::function<int()>([&ran] {
                            ran = true;
                            return 9;
                        }));
    });
    std::this_thread::sleep_for(20ms);  // let it block (the outcome is the same if it has not)
    cancel();
    submitter.join();
    CHECK(r.status == weft::op_status::canceled);
    CHECK_FALSE(r.future.valid());
    REQUIRE(r.task);
    CHECK(pool.stats().queued == 1);  // only the filler: the canceled task never entered
    gate.close();
    pool.shutdown();
    CHECK_FALSE(ran.load());
    CHECK((*r.task)() == 9);  // the caller still has it
    CHECK(pool.stats().completed == 2);
}

TEST_CASE("worker_pool: post(ctx) gives up at a deadline; a canceled context always wins") {
    WEFT_WATCHDOG();
    weft::worker_pool pool(1, 1);
    weft::channel<int> gate(0), started(0);
    occupy(pool, gate, started);
    pool.post([] {});
    auto [ctx, cancel] = weft::with_timeout(weft::background(), 20ms);
    auto r = pool.post(ctx, [v = std::make_unique<int>(4)] { (void)v; });
    CHECK(r.status == weft::op_status::canceled);
    CHECK(r.task);
    CHECK(ctx.err() == weft::context_errc::deadline_exceeded);
    gate.close();
    pool.shutdown();

    weft::worker_pool roomy(1, 8);
    auto [done, cancel2] = weft::with_cancel(weft::background());
    cancel2();
    CHECK(roomy.post(done, [] {}).status == weft::op_status::canceled);
    CHECK(roomy.submit(done, [] { return 1; }).status == weft::op_status::canceled);
    auto fine = roomy.submit(weft::background(), [] { return 2; });
    REQUIRE(fine);
    CHECK(fine.future.get() == 2);
}

TEST_CASE("worker_pool: shutdown runs everything that was queued") {
    WEFT_WATCHDOG();
    const int n = static_cast<int>(scale(2000));
    std::atomic<int> ran{0};
    weft::worker_pool pool(2, 16);
    weft::channel<int> gate(0), started(0);
    occupy(pool, gate, started);
    std::thread feeder([&] {
        for (int i = 0; i < n; ++i) pool.post([&] { ran.fetch_add(1); });
    });
    while (pool.stats().queued < 16) std::this_thread::yield();  // the queue is full
    gate.close();
    feeder.join();
    pool.shutdown();
    CHECK(ran.load() == n);
    auto s = pool.stats();
    CHECK(s.completed == static_cast<std::size_t>(n) + 2);
    CHECK(s.queued == 0);
    CHECK(s.running == 0);
    CHECK(pool.is_closed());
}

TEST_CASE("worker_pool: stop cancels the queued tasks and reports each one") {
    WEFT_WATCHDOG();
    weft::worker_pool pool(1, 16);
    weft::channel<int> started(0);
    std::atomic<bool> saw_stop{false};
    // The running task ends when stop() is called, through the pool's stop context.
    pool.post([&, started]() mutable {
        started.send(1);
        (void)pool.stop_context().done().receive();
        saw_stop = true;
    });
    await_started(started, 1);
    std::vector<weft::future<int>> futures;
    std::atomic<int> posts_ran{0};
    for (int i = 0; i < 5; ++i) {
        futures.push_back(pool.submit([i] { return i; }));
        pool.post([&] { posts_ran.fetch_add(1); });
    }
    CHECK(pool.stats().queued == 10);

    auto canceled = pool.stop();
    CHECK(saw_stop.load());
    CHECK(canceled.size() == 10);
    auto s = pool.stats();
    CHECK(s.canceled == 10);
    CHECK(s.completed == 1);
    CHECK(s.queued == 0);
    CHECK(s.running == 0);
    CHECK(total(s) == 11);
    CHECK(pool.stop_context().err() == weft::context_errc::canceled);
    for (auto& f : futures) CHECK_FALSE(ready(f));  // still pending: the tasks are ours now
    CHECK(posts_ran.load() == 0);

    // Running a handed-back task completes its future; dropping one cancels it.
    for (auto& t : canceled) t();
    CHECK(posts_ran.load() == 5);
    for (int i = 0; i < 5; ++i) CHECK(futures[static_cast<std::size_t>(i)].get() == i);
}

TEST_CASE("worker_pool: dropping stop()'s tasks sets task_canceled in their futures") {
    WEFT_WATCHDOG();
    weft::worker_pool pool(1, 8);
    weft::channel<int> started(0);
    pool.post([&, started]() mutable {
        started.send(1);
        (void)pool.stop_context().done().receive();
    });
    await_started(started, 1);
    auto f = pool.submit([] { return std::make_unique<int>(1); });
    CHECK(pool.stop().size() == 1);  // dropped at once
    CHECK_THROWS_AS(f.get(), weft::task_canceled);
    CHECK(pool.stats().canceled == 1);
    CHECK(pool.stop().empty());  // again: nothing left
}

TEST_CASE("worker_pool: after shutdown or stop, submitting fails clearly") {
    WEFT_WATCHDOG();
    weft::worker_pool pool(2, 4);
    pool.shutdown();
    CHECK_THROWS_AS((void)pool.submit([] { return 1; }), weft::pool_closed);
    CHECK_THROWS_AS(pool.post([] {}), weft::pool_closed);
    auto r = pool.try_submit([] { return 1; });
    CHECK(r.status == weft::op_status::closed);
    CHECK(r.task);
    auto p = pool.post(weft::background(), [] {});
    CHECK(p.status == weft::op_status::closed);
    CHECK(p.task);
    pool.shutdown();  // idempotent
    CHECK(pool.stop().empty());

    weft::worker_pool stopped(1, 4);
    (void)stopped.stop();
    CHECK_THROWS_AS(stopped.post([] {}), weft::pool_closed);
    CHECK(stopped.try_post([] {}).status == weft::op_status::closed);
}

TEST_CASE("worker_pool: stop wakes blocked submitters with closed") {
    WEFT_WATCHDOG();
    weft::worker_pool pool(1, 1);
    weft::channel<int> gate(0), started(0);
    occupy(pool, gate, started);
    pool.post([] {});
    std::atomic<int> closed{0};
    std::vector<std::thread> submitters;
    for (int i = 0; i < 3; ++i)
        submitters.emplace_back([&] {
            try {
                pool.post([] {});
            } catch (const weft::pool_closed&) { closed.fetch_add(1); }
        });
    std::this_thread::sleep_for(20ms);
    std::thread stopper([&] { (void)pool.stop(); });
    while (!pool.is_closed()) std::this_thread::yield();
    for (auto& t : submitters) t.join();  // woken by the close while the worker is still busy
    gate.close();
    stopper.join();
    // A submitter that had not blocked yet may also have failed: either way none got in.
    CHECK(closed.load() == 3);
    auto s = pool.stats();
    CHECK(s.canceled == 1);
    CHECK(total(s) == 2);
}

TEST_CASE("worker_pool: stop racing busy submitters and workers loses no task") {
    WEFT_WATCHDOG();
    for (int round = 0; round < static_cast<int>(scale(20)); ++round) {
        weft::worker_pool pool(2, 8);
        std::atomic<long> ran{0}, accepted{0};
        std::vector<std::thread> submitters;
        for (int k = 0; k < 4; ++k)
            submitters.emplace_back([&] {
                try {
                    for (;;) {
                        pool.post([&ran] { ran.fetch_add(1); });
                        accepted.fetch_add(1);
                    }
                } catch (const weft::pool_closed&) {}
            });
        while (accepted.load() < 200) std::this_thread::yield();
        auto canceled = pool.stop();
        for (auto& t : submitters) t.join();
        // Every accepted task either ran or came back from stop(), never both, never neither.
        CHECK(ran.load() + static_cast<long>(canceled.size()) == accepted.load());
        auto s = pool.stats();
        CHECK(s.canceled == canceled.size());
        CHECK(s.completed == static_cast<std::size_t>(ran.load()));
        CHECK(total(s) == static_cast<std::size_t>(accepted.load()));
    }
}

TEST_CASE("worker_pool: counters add up under a mixed load from 8 submitters") {
    WEFT_WATCHDOG();
    const int per = static_cast<int>(scale(3000));
    const int submitters = 8;
    weft::worker_pool pool(3, 32);
    std::atomic<long> sum{0};
    std::atomic<int> accepted{0};
    std::vector<std::thread> threads;
    for (int k = 0; k < submitters; ++k)
        threads.emplace_back([&, k] {
            std::vector<weft::future<int>> mine;
            for (int i = 0; i < per; ++i) {
                const int v = k * per + i;
                if (i % 3 == 0) {
                    mine.push_back(pool.submit([v] {
                        if (v % 7 == 0) throw std::runtime_error("seven");
                        return v;
                    }));
                } else if (i % 3 == 1) {
                    pool.post([&sum, v] { sum.fetch_add(v); });
                } else {
                    auto r = pool.try_post([&sum, v] { sum.fetch_add(v); });
                    if (!r) {
                        (*r.task)();  // full: run it here instead, as a caller-runs policy
                        continue;
                    }
                }
                accepted.fetch_add(1);
            }
            for (auto& f : mine) {
                try {
                    sum.fetch_add(f.get());
                } catch (const std::runtime_error&) {}
            }
        });
    for (auto& t : threads) t.join();
    pool.shutdown();
    long expect = 0;
    int throws = 0;
    for (int k = 0; k < submitters; ++k)
        for (int i = 0; i < per; ++i) {
            const int v = k * per + i;
            if (i % 3 == 0 && v % 7 == 0)
                ++throws;
            else
                expect += v;
        }
    CHECK(sum.load() == expect);
    auto s = pool.stats();
    CHECK(total(s) == static_cast<std::size_t>(accepted.load()));
    CHECK(s.failed == static_cast<std::size_t>(throws));
    CHECK(s.queued == 0);
    CHECK(s.running == 0);
}

TEST_CASE("worker_pool: stats while workers are busy: queued, running, conservation") {
    WEFT_WATCHDOG();
    weft::worker_pool pool(2, 4);
    weft::channel<int> gate(0), started(0);
    occupy(pool, gate, started);
    for (int i = 0; i < 4; ++i) pool.post([] {});
    auto s = pool.stats();
    CHECK(s.running == 2);
    CHECK(s.queued == 4);
    CHECK(s.completed == 0);
    CHECK(total(s) == 6);
    CHECK(pool.workers() == 2);
    CHECK(pool.queue_capacity() == 4);
    gate.close();
    pool.shutdown();
    s = pool.stats();
    CHECK(s.completed == 6);
    CHECK(total(s) == 6);
}

TEST_CASE("worker_pool: move-only callables and results, large and small") {
    WEFT_WATCHDOG();
    weft::worker_pool pool(2, 8);
    auto p = std::make_unique<int>(41);
    auto f = pool.submit([p = std::move(p)]() mutable {
        ++*p;
        return std::move(p);
    });
    std::array<char, 200> big{};  // too large for the inline buffer: the heap path
    big[199] = 'z';
    auto g = pool.submit([big, q = std::make_unique<int>(1)] { return big[199]; });
    std::atomic<int> hit{0};
    pool.post([u = std::make_unique<int>(5), &hit] { hit.fetch_add(*u); });
    pool.post([big, &hit] { hit.fetch_add(big[199] == 'z' ? 1 : 0); });
    CHECK(*f.get() == 42);
    CHECK(g.get() == 'z');
    pool.shutdown();
    CHECK(hit.load() == 6);
}

TEST_CASE("worker_pool: a callable with a throwing move is stored on the heap and works") {
    WEFT_WATCHDOG();
    struct fussy {
        int v;
        explicit fussy(int x) : v(x) {}
        fussy(fussy&& o) noexcept(false) : v(o.v) {}
        int operator()() const { return v; }
    };
    static_assert(!std::is_nothrow_move_constructible_v<fussy>);
    weft::worker_pool pool(1, 2);
    CHECK(pool.submit(fussy(8)).get() == 8);
}

TEST_CASE("worker_pool: the task type") {
    WEFT_WATCHDOG();
    static_assert(sizeof(weft::worker_pool::task) == 64);
    weft::worker_pool::task empty;
    CHECK_FALSE(empty);
    CHECK_THROWS_AS(empty(), std::bad_function_call);
    int n = 0;
    weft::worker_pool::task t([&n] { ++n; });
    weft::worker_pool::task u(std::move(t));
    CHECK_FALSE(t);  // NOLINT(bugprone-use-after-move): moved from is empty, by contract
    REQUIRE(u);
    u();
    CHECK(n == 1);
    CHECK_FALSE(u);  // run once, then empty
    weft::worker_pool::task thrower([] { throw std::runtime_error("x"); });
    CHECK_THROWS_AS(thrower(), std::runtime_error);

    // A task can be posted as it is: stop()'s leftovers move to another pool.
    weft::worker_pool a(1, 8), b(1, 8);
    weft::channel<int> started(0);
    a.post([&, started]() mutable {
        started.send(1);
        (void)a.stop_context().done().receive();
    });
    await_started(started, 1);
    auto f = a.submit([] { return 11; });
    for (auto& left : a.stop()) b.post(std::move(left));
    CHECK(f.get() == 11);
}

TEST_CASE("worker_pool: tasks that submit tasks, while the queue has room") {
    WEFT_WATCHDOG();
    weft::worker_pool pool(2, 64);
    // A binary tree of depth 5 posted from inside the pool: 63 tasks, each posting two more.
    std::atomic<int> nodes{0};
    weft::wait_group wg;
    std::function<void(int)> grow = [&](int depth) {
        nodes.fetch_add(1);
        if (depth < 5) {
            wg.add(2);
            for (int i = 0; i < 2; ++i)
                pool.post([&, depth] {
                    grow(depth + 1);
                    wg.done();
                });
        }
    };
    wg.add(1);
    pool.post([&] {
        grow(0);
        wg.done();
    });
    wg.wait();
    CHECK(nodes.load() == 63);

    // submit from a task, waiting on the inner future: fine while a worker is free to run it.
    auto outer = pool.submit([&] { return pool.submit([] { return 20; }).get() + 1; });
    CHECK(outer.get() == 21);
}

TEST_CASE("worker_pool: a task meeting its own full queue should try, not block") {
    WEFT_WATCHDOG();
    weft::worker_pool pool(1, 1);
    weft::channel<int> gate(0), started(0);
    // The only worker runs this task; the queue is full, so a blocking post() here would wait
    // for a worker that is itself: the documented deadlock. try_post reports it instead.
    std::promise<weft::op_status> status;
    pool.post([&, gate, started]() mutable {
        started.send(1);
        (void)gate.receive();
        status.set_value(pool.try_post([] {}).status);
    });
    await_started(started, 1);
    pool.post([] {});
    gate.close();
    CHECK(status.get_future().get() == weft::op_status::full);
    pool.shutdown();
}

TEST_CASE("worker_pool: shutdown and stop from inside a task throw logic_error") {
    WEFT_WATCHDOG();
    weft::worker_pool pool(1, 4);
    auto a = pool.submit([&] { pool.shutdown(); });
    auto b = pool.submit([&] { (void)pool.stop(); });
    pool.submit([] {}).get();  // the worker is done with a and b (see the top)
    CHECK_THROWS_AS(a.get(), std::logic_error);
    CHECK_THROWS_AS(b.get(), std::logic_error);
    CHECK_FALSE(pool.is_closed());
}

TEST_CASE("worker_pool: shutdown(ctx) gives up waiting; a later shutdown finishes") {
    WEFT_WATCHDOG();
    weft::worker_pool pool(1, 4);
    weft::channel<int> gate(0), started(0);
    occupy(pool, gate, started);
    std::atomic<int> ran{0};
    pool.post([&] { ran.fetch_add(1); });
    auto [ctx, cancel] = weft::with_timeout(weft::background(), 20ms);
    CHECK(pool.shutdown(ctx) == weft::context_errc::deadline_exceeded);
    CHECK(pool.is_closed());
    CHECK_THROWS_AS(pool.post([] {}), weft::pool_closed);
    gate.close();
    CHECK_FALSE(pool.shutdown(weft::background()));
    CHECK(ran.load() == 1);
}

TEST_CASE("worker_pool: concurrent shutdown and stop calls all return after the join") {
    WEFT_WATCHDOG();
    weft::worker_pool pool(2, 64);
    std::atomic<int> ran{0};
    for (int i = 0; i < 50; ++i) pool.post([&] { ran.fetch_add(1); });
    std::vector<std::thread> enders;
    std::atomic<std::size_t> canceled{0};
    for (int i = 0; i < 4; ++i)
        enders.emplace_back([&, i] {
            if (i == 3)
                canceled.fetch_add(pool.stop().size());
            else
                pool.shutdown();
            CHECK(pool.stats().running == 0);
        });
    for (auto& t : enders) t.join();
    auto s = pool.stats();
    CHECK(s.canceled == canceled.load());
    CHECK(static_cast<std::size_t>(ran.load()) + s.canceled == 50);
    CHECK(total(s) == 50);
}

TEST_CASE("worker_pool: the destructor drains and joins") {
    WEFT_WATCHDOG();
    std::atomic<int> ran{0};
    {
        weft::worker_pool pool(2, 128);
        for (int i = 0; i < 100; ++i)
            pool.post([&] {
                std::this_thread::sleep_for(100us);
                ran.fetch_add(1);
            });
    }
    CHECK(ran.load() == 100);
}

TEST_CASE("worker_pool: zero workers or a zero-size queue are rejected") {
    WEFT_WATCHDOG();
    CHECK_THROWS_AS(weft::worker_pool(0), std::invalid_argument);
    CHECK_THROWS_AS(weft::worker_pool(1, 0), std::invalid_argument);
    weft::worker_pool_options no_workers, no_queue;
    no_workers.workers = 0;
    no_queue.queue_capacity = 0;
    CHECK_THROWS_AS(weft::worker_pool{no_workers}, std::invalid_argument);
    CHECK_THROWS_AS(weft::worker_pool{no_queue}, std::invalid_argument);
    weft::worker_pool defaults;
    CHECK(defaults.workers() >= 1);
    CHECK(defaults.queue_capacity() == 1024);
}

TEST_CASE("worker_pool: no thread outlives the pool") {
    WEFT_WATCHDOG();
    const std::size_t base = weft_test::settled_thread_count();
    if (base == 0) return;  // no /proc
    {
        weft::worker_pool pool(4, 16);
        CHECK(pool.submit([] { return 1; }).get() == 1);
        CHECK(weft_test::thread_count() == base + 4);  // the workers, started by the constructor
    }  // ~worker_pool: drain and join
    CHECK(weft_test::eventually([&] { return weft_test::thread_count() == base; }));
    {
        weft::worker_pool pool(2, 16);
        pool.post([] {});
        (void)pool.stop();
    }
    CHECK(weft_test::eventually([&] { return weft_test::thread_count() == base; }));
}
