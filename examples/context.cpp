// examples/context.cpp - weft's context, Go's context package: cancellation that flows down a
// tree, deadlines, causes, values, after_func, and the bridge to std::stop_token / std::jthread.
//
// Deterministic: stdout is compared with examples/context.expected. docs/patterns/context.md
// quotes these functions verbatim; keep the two in step.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include <weft/channel.hpp>
#include <weft/context.hpp>
#include <weft/select.hpp>
#include <weft/wait_group.hpp>

using namespace std::chrono_literals;

// Canceling a parent cancels its children; canceling a child leaves the parent alone.
void tree() {
    auto [parent, cancel_parent] = weft::with_cancel(weft::background());
    auto [child, cancel_child] = weft::with_cancel(parent);
    auto [grandchild, cancel_grandchild] = weft::with_cancel(child);

    cancel_grandchild();
    std::printf("grandchild canceled: parent=%s child=%s grandchild=%s\n",
                parent.err() ? "done" : "active", child.err() ? "done" : "active",
                grandchild.err().message().c_str());
    cancel_parent();
    std::printf("parent canceled: child=%s\n", child.err().message().c_str());
    cancel_child();  // a second cancellation changes nothing
    std::printf("  still: %s\n", child.err().message().c_str());
}

// A worker that stops when its context is done: done() is a channel, so it is a select case.
void worker_stops() {
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    weft::channel<int> jobs(0);
    weft::channel<std::string> report(1);
    weft::go([ctx = ctx, jobs, report]() {
        int handled = 0;
        for (bool running = true; running;) {
            weft::select(weft::on_receive(jobs, [&] { ++handled; }),
                         weft::on_receive(ctx.done(), [&] { running = false; }));
        }
        report.send("worker handled " + std::to_string(handled) +
                    " jobs, then: " + ctx.err().message());
    });
    for (int i = 0; i < 3; ++i) jobs.send(i);
    cancel();
    std::printf("%s\n", report.receive()->c_str());
}

// A deadline ends the wait with deadline_exceeded, which compares equal to std::errc::timed_out.
void timeout() {
    auto [ctx, cancel] = weft::with_timeout(weft::background(), 20ms);
    weft::channel<int> never(0);
    auto r = never.receive(ctx);  // a receive that gives up when the context ends
    std::printf("receive: %s, err: %s, timed out: %s, canceled: %s\n", weft::to_string(r.status),
                ctx.err().message().c_str(), ctx.err() == std::errc::timed_out ? "yes" : "no",
                ctx.err() == weft::context_errc::canceled ? "yes" : "no");
    cancel();  // after the deadline: does nothing, err() stays deadline_exceeded
    std::printf("  after cancel(): %s\n", ctx.err().message().c_str());
}

// A cause says why; the first cancellation's cause is the one that stays.
void causes() {
    auto [ctx, cancel] = weft::with_cancel_cause(weft::background());
    auto [child, cancel_child] = weft::with_cancel(ctx);
    cancel(std::runtime_error("payment provider unreachable"));
    cancel(std::runtime_error("ignored: too late"));
    auto c = weft::cause(child);  // children inherit the cause
    std::printf("err: %s; cause: %s\n", child.err().message().c_str(),
                weft::error_as<std::runtime_error>(c)->what());

    auto [slow, stop_slow] = weft::with_timeout_cause(
        weft::background(), 10ms, std::make_exception_ptr(std::runtime_error("quote too slow")));
    (void)weft::sleep(slow, 1s);  // cut short by the deadline, whose cause is printed below
    std::printf("err: %s; cause: %s\n", slow.err().message().c_str(),
                weft::error_as<std::runtime_error>(weft::cause(slow))->what());
    auto [plain, cancel_plain] = weft::with_cancel(weft::background());
    cancel_plain();  // no cause given: the cause is a context_error carrying err()
    std::printf("no cause given: %s\n",
                weft::error_as<weft::context_error>(weft::cause(plain))->what());
}

// Values travel down the tree under typed keys; a nearer value shadows a farther one.
const weft::context_key<std::string> request_id("request_id");
const weft::context_key<int> user_id("user_id");

void values() {
    auto ctx = weft::with_value(weft::background(), request_id, "req-42");
    ctx = weft::with_value(ctx, user_id, 7);
    auto [child, cancel] = weft::with_cancel(ctx);
    std::printf("request %s, user %d\n", child.value(request_id)->c_str(), *child.value(user_id));
    auto retry = weft::with_value(child, request_id, "req-42-retry");
    std::printf("retry sees %s; the parent still sees %s\n", retry.value(request_id)->c_str(),
                child.value(request_id)->c_str());
    const weft::context_key<int> other("other");
    std::printf("missing key: %s\n", child.value(other) ? "found" : "nullptr");
}

// without_cancel: work that must finish even when the request that started it is abandoned.
void detached_work() {
    auto [request, cancel] = weft::with_cancel(weft::with_value({}, request_id, "req-7"));
    auto audit = weft::without_cancel(request);
    cancel();
    std::printf("request: %s; audit log for %s: %s\n", request.err().message().c_str(),
                audit.value(request_id)->c_str(), audit.err() ? "stopped" : "still running");
}

// after_func runs a function on its own thread once the context is done; stop() unregisters it.
void cleanup_on_cancel() {
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    weft::channel<std::string> log(2);
    auto close_conn = weft::after_func(ctx, [log]() { log.send("connection closed"); });
    auto never = weft::after_func(ctx, [log]() { log.send("not printed"); });
    std::printf("stop() before cancel prevented it: %s\n", never.stop() ? "yes" : "no");
    cancel();
    std::printf("%s\n", log.receive()->c_str());
    std::printf("stop() after it ran: %s\n", close_conn.stop() ? "prevented" : "too late");
}

// Both ways with C++20: a jthread's stop_token becomes a context, and a context gives a
// stop_token to any API that takes one.
void stop_tokens() {
    weft::channel<std::string> out(1);
    {
        std::jthread worker([out](std::stop_token st) {
            auto ctx = weft::with_stop_token(weft::background(), st);
            ctx.done().receive();  // until the jthread is asked to stop
            out.send("jthread's stop reached the context: " + ctx.err().message());
        });
    }  // ~jthread requests the stop, then joins
    std::printf("%s\n", out.receive()->c_str());

    auto [ctx, cancel] = weft::with_cancel(weft::background());
    std::mutex m;
    std::condition_variable_any cv;
    std::unique_lock lock(m);
    weft::go([cancel = cancel] { cancel(); });
    bool ready = cv.wait(lock, ctx.stop_token(), [] { return false; });  // ends on cancel
    std::printf("condition_variable_any wait ended by the context: %s\n", ready ? "no" : "yes");
}

// The blocking operations take a context: a send hands the value back, a wait gives up.
void cancellable_operations() {
    auto [ctx, cancel] = weft::with_timeout(weft::background(), 20ms);
    weft::channel<std::unique_ptr<int>> full(1);
    full.send(std::make_unique<int>(1));
    auto r = full.send(ctx, std::make_unique<int>(2));
    std::printf("send: %s, value handed back: %d\n", weft::to_string(r.status), **r.value);

    weft::wait_group wg;
    wg.add(1);
    std::printf("wait_group::wait(ctx): %s\n", wg.wait(ctx).message().c_str());
    wg.done();
    std::printf("sleep(ctx, 1h) returns at once: %s\n", weft::sleep(ctx, 1h).message().c_str());
}

int main() {
    tree();
    worker_stops();
    timeout();
    causes();
    values();
    detached_work();
    cleanup_on_cancel();
    stop_tokens();
    cancellable_operations();
}
