// Code on Boost.Thread and weft's context, linked both ways (weft/boost_thread.hpp):
// interrupting a boost::thread cancels its context, so a worker blocked in a weft receive
// stops; canceling the context interrupts the thread, so a loop that only knows Boost's
// interruption points stops too.
//
// Go has no counterpart to bridge: a goroutine cannot be interrupted, its only stop signal is
// its context.
#include <weft/boost_thread.hpp>
#include <weft/channel.hpp>
#include <weft/context.hpp>
#include <weft/errors.hpp>

#include <boost/thread/thread_only.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

using namespace std::chrono_literals;

// boost::thread::interrupt() stops a worker that waits in weft: the link sees the interrupt and
// cancels the context, and receive(ctx) returns canceled.
void interrupt_a_weft_worker() {
    weft::channel<std::string> jobs(0);
    weft::channel<std::string> out(1);
    auto [ctx, cancel] = weft::with_cancel_cause(weft::background());
    boost::thread worker([jobs, out, ctx = ctx] {
        for (;;) {
            auto job = jobs.receive(ctx);  // not a Boost interruption point: ctx ends it
            if (!job) break;
            out.send("done: " + *job.value);
        }
        out.send("worker stopped: " + ctx.err().message());
    });
    weft::interruption_link link(worker, ctx, cancel);

    jobs.send("resize photo.jpg");
    std::printf("%s\n", out.receive()->c_str());
    worker.interrupt();  // Boost's way to stop a thread
    std::printf("%s\n", out.receive()->c_str());
    const bool by_interrupt = weft::error_as<boost::thread_interrupted>(weft::cause(ctx));
    std::printf("cause is boost::thread_interrupted: %s\n", by_interrupt ? "yes" : "no");
    link.unlink();  // the link borrows the thread: unlink before join
    worker.join();
}

// A deadline on the context interrupts a thread that knows nothing of weft, at its next
// interruption point.
void cancel_a_boost_loop() {
    weft::channel<std::string> out(1);
    auto [ctx, cancel] = weft::with_timeout(weft::background(), 50ms);
    boost::thread legacy([out] {
        try {
            for (;;) {
                std::this_thread::sleep_for(1ms);  // some work
                boost::this_thread::interruption_point();
            }
        } catch (const boost::thread_interrupted&) { out.send("legacy loop interrupted"); }
    });
    weft::interruption_link link(legacy, ctx, cancel);
    std::printf("%s\n", out.receive()->c_str());
    std::printf("context: %s\n", ctx.err().message().c_str());
    link.unlink();
    legacy.join();
}

int main() {
    interrupt_a_weft_worker();
    cancel_a_boost_loop();
}
