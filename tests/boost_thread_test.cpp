// weft/boost_thread.hpp: a boost::thread and a context linked both ways.
#include <weft/boost_thread.hpp>
#include <weft/channel.hpp>
#include <weft/context.hpp>

#include <boost/thread/condition_variable.hpp>
#include <boost/thread/mutex.hpp>
#include <boost/thread/thread_only.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <stop_token>
#include <system_error>
#include <thread>
#include <vector>

#include "support.hpp"

using namespace std::chrono_literals;

namespace {

std::size_t polled() { return weft::detail::interruption_watch::instance().size(); }

bool is_interrupted(const std::exception_ptr& p) {
    try {
        std::rethrow_exception(p);
    } catch (const boost::thread_interrupted&) { return true; } catch (...) {
        return false;
    }
}

// Waits at a Boost interruption point (a boost::condition_variable wait that nothing notifies)
// until the thread is interrupted; true then. (Not boost::this_thread::sleep_for: its
// boost::chrono clock needs libboost_chrono, which weft::boost_thread does not link.)
bool boost_sleep_interrupted() {
    boost::mutex m;
    boost::condition_variable cv;
    boost::unique_lock<boost::mutex> lock(m);
    try {
        for (;;) cv.wait(lock);
    } catch (const boost::thread_interrupted&) { return true; }
}

}  // namespace

TEST_CASE("interrupting a thread blocked in receive(ctx) cancels its context") {
    WEFT_WATCHDOG();
    const std::size_t before = polled();
    weft::channel<int> ch(0);
    auto [ctx, cancel] = weft::with_cancel_cause(weft::background());
    std::atomic<weft::op_status> got{weft::op_status::ok};
    weft::channel<int> started(1);
    boost::thread t([&, ctx = ctx] {
        (void)started.send(1);
        got = ch.receive(ctx).status;
    });
    weft::interruption_link link(t, ctx, cancel);
    CHECK(polled() == before + 1);
    (void)started.receive();
    t.interrupt();
    // The receive returns because the context was canceled: nothing else ends it.
    CHECK(ctx.done().receive_for(10s).status == weft::op_status::closed);
    CHECK(ctx.err() == weft::context_errc::canceled);
    CHECK(is_interrupted(weft::cause(ctx)));
    CHECK(weft_test::eventually([&] { return polled() == before; }));
    link.unlink();
    t.join();
    CHECK(got == weft::op_status::canceled);
    // The channel is untouched: a value sent now is still there for the next receiver.
    CHECK(ch.try_send(1).status == weft::op_status::full);
}

TEST_CASE("a plain cancel_func: an interrupt cancels with context_errc::canceled") {
    WEFT_WATCHDOG();
    auto c = weft::with_cancel(weft::background());
    weft::channel<int> ch(0);
    boost::thread t([&, ctx = c.ctx] { (void)ch.receive(ctx); });
    weft::interruption_link link(t, c);
    t.interrupt();
    CHECK(c.ctx.done().receive_for(10s).status == weft::op_status::closed);
    CHECK(c.ctx.err() == weft::context_errc::canceled);
    link.unlink();
    t.join();
}

TEST_CASE("canceling the context interrupts the thread at its next interruption point") {
    WEFT_WATCHDOG();
    SUBCASE("cancel") {
        auto [ctx, cancel] = weft::with_cancel(weft::background());
        std::atomic<bool> interrupted{false};
        boost::thread t([&] { interrupted = boost_sleep_interrupted(); });
        weft::interruption_link link(t, ctx, cancel);
        cancel();
        link.unlink();
        t.join();
        CHECK(interrupted);
    }
    SUBCASE("a deadline") {
        auto [ctx, cancel] = weft::with_timeout(weft::background(), 20ms);
        std::atomic<bool> interrupted{false};
        boost::thread t([&] { interrupted = boost_sleep_interrupted(); });
        weft::interruption_link link(t, ctx, cancel);
        CHECK(ctx.done().receive_for(10s).status == weft::op_status::closed);
        link.unlink();
        t.join();
        CHECK(interrupted);
        CHECK(ctx.err() == weft::context_errc::deadline_exceeded);  // not overwritten
    }
    SUBCASE("a parent, with a link that only goes that way") {
        auto [parent, cancel_parent] = weft::with_cancel(weft::background());
        const std::size_t before = polled();
        std::atomic<bool> interrupted{false};
        boost::thread t([&] { interrupted = boost_sleep_interrupted(); });
        weft::interruption_link link(t, parent);
        CHECK(polled() == before);  // no cancel function: nothing to poll for
        cancel_parent();
        link.unlink();
        t.join();
        CHECK(interrupted);
    }
    SUBCASE("already canceled when linked") {
        auto [ctx, cancel] = weft::with_cancel(weft::background());
        cancel();
        std::atomic<bool> interrupted{false};
        weft::channel<int> go(1);
        boost::thread t([&] {
            (void)go.receive();
            interrupted = boost_sleep_interrupted();
        });
        weft::interruption_link link(t, ctx, cancel);
        (void)go.send(1);
        link.unlink();
        t.join();
        CHECK(interrupted);
    }
}

TEST_CASE("a one-way link: an interrupt does not cancel the context") {
    WEFT_WATCHDOG();
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    weft::channel<int> go(1);
    std::atomic<bool> interrupted{false};
    boost::thread t([&] {
        (void)go.receive();
        interrupted = boost_sleep_interrupted();
    });
    {
        weft::interruption_link link(t, ctx);
        t.interrupt();
        (void)go.send(1);
        // Several poll periods: a two-way link would have canceled by now.
        CHECK(ctx.done().receive_for(50ms).status == weft::op_status::timeout);
    }
    t.join();
    CHECK(interrupted);
    CHECK(!ctx.err());
}

TEST_CASE("after unlink, a cancel does not interrupt the thread") {
    WEFT_WATCHDOG();
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    weft::channel<int> go(1);
    std::atomic<bool> requested{true};
    boost::thread t([&] {
        (void)go.receive();
        requested = boost::this_thread::interruption_requested();
    });
    weft::interruption_link link(t, ctx, cancel);
    link.unlink();
    link.unlink();  // again: nothing
    cancel();
    (void)go.send(1);
    t.join();
    CHECK(!requested);
}

// done() closes before the canceller runs the stop callbacks: a thread that saw done() close
// and then unlinked used to remove the link's callback before it ran, and joined a thread that
// was never interrupted (a deadlock seen under TSan). Another stop callback, registered after
// the link's and so run before it (libstdc++ runs the newest first), holds the canceller there
// while this thread unlinks.
TEST_CASE("unlinking while the cancellation has not reached the link still interrupts") {
    WEFT_WATCHDOG();
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    std::atomic<bool> interrupted{false};
    boost::thread t([&] { interrupted = boost_sleep_interrupted(); });
    weft::interruption_link link(t, ctx, cancel);
    weft::channel<int> entered(1);
    weft::channel<int> unlinked(1);
    std::stop_callback hold(ctx.stop_token(), [&] {
        (void)entered.send(1);
        (void)unlinked.receive_for(10s);
    });
    std::thread canceller([&, cancel = cancel] { cancel(); });
    CHECK(entered.receive_for(10s).status == weft::op_status::ok);
    CHECK(ctx.done().receive_for(10s).status == weft::op_status::closed);
    link.unlink();
    (void)unlinked.send(1);
    canceller.join();
    t.join();
    CHECK(interrupted);
}

TEST_CASE("unlink does not interrupt again a thread the cancellation interrupted") {
    WEFT_WATCHDOG();
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    weft::channel<int> caught(1);
    weft::channel<int> go(1);
    std::atomic<bool> again{true};
    boost::thread t([&] {
        (void)boost_sleep_interrupted();
        (void)caught.send(1);
        (void)go.receive();
        again = boost::this_thread::interruption_requested();
    });
    weft::interruption_link link(t, ctx, cancel);
    cancel();  // runs the link's callback here, which interrupts t
    CHECK(caught.receive_for(10s).status == weft::op_status::ok);
    link.unlink();
    (void)go.send(1);
    t.join();
    CHECK(!again);
}

TEST_CASE("the thread ends before the context is canceled") {
    WEFT_WATCHDOG();
    const std::size_t before = polled();
    SUBCASE("then the context is canceled") {
        auto [ctx, cancel] = weft::with_cancel(weft::background());
        weft::channel<int> ended(0);
        boost::thread t([&] { ended.close(); });
        weft::interruption_link link(t, ctx, cancel);
        CHECK(!ended.receive());  // the body has returned
        cancel();                 // interrupts a thread that has ended: nothing happens
        CHECK(weft_test::eventually([&] { return polled() == before; }));
        link.unlink();
        t.join();
        CHECK(ctx.err() == weft::context_errc::canceled);
    }
    SUBCASE("then the thread is interrupted") {
        auto [ctx, cancel] = weft::with_cancel(weft::background());
        weft::channel<int> ended(0);
        boost::thread t([&] { ended.close(); });
        weft::interruption_link link(t, ctx, cancel);
        CHECK(!ended.receive());
        t.interrupt();
        CHECK(ctx.done().receive_for(10s).status == weft::op_status::closed);
        link.unlink();
        t.join();
    }
    SUBCASE("never canceled: the link is dropped, the context lives on") {
        auto [ctx, cancel] = weft::with_cancel(weft::background());
        {
            boost::thread t([] {});
            weft::interruption_link link(t, ctx, cancel);
            link.unlink();
            t.join();
        }
        CHECK(polled() == before);
        CHECK(!ctx.err());
        cancel();
        CHECK(ctx.err() == weft::context_errc::canceled);
    }
}

TEST_CASE("the caller's handles to the context are dropped first") {
    WEFT_WATCHDOG();
    const std::size_t before = polled();
    auto [parent, cancel_parent] = weft::with_cancel(weft::background());
    SUBCASE("interrupt") {
        weft::channel<int> go(1);
        std::atomic<bool> interrupted{false};
        boost::thread t([&] {
            (void)go.receive();
            interrupted = boost_sleep_interrupted();
        });
        // The link holds the only handles to its context (a temporary).
        weft::interruption_link link(t, weft::with_cancel(parent));
        CHECK(polled() == before + 1);
        t.interrupt();
        // Seen by the poll: it cancels the context nobody else holds, and stops polling.
        CHECK(weft_test::eventually([&] { return polled() == before; }));
        (void)go.send(1);
        link.unlink();
        t.join();
        CHECK(interrupted);
        CHECK(!parent.err());  // a child's cancellation never reaches its parent
    }
    SUBCASE("cancel through the parent") {
        std::atomic<bool> interrupted{false};
        boost::thread t([&] { interrupted = boost_sleep_interrupted(); });
        weft::interruption_link link(t, weft::with_cancel(parent));
        cancel_parent();
        link.unlink();
        t.join();
        CHECK(interrupted);
        CHECK(weft_test::eventually([&] { return polled() == before; }));
    }
}

TEST_CASE("cancel and interrupt at once, on many threads") {
    WEFT_WATCHDOG(60s);
    constexpr int threads = 16;
    constexpr int rounds = 20;
    const std::size_t before = polled();
    for (int round = 0; round < rounds; ++round) {
        weft::channel<int> ch(0);
        std::vector<weft::cancelable<weft::cancel_func>> cs;
        std::vector<std::unique_ptr<boost::thread>> ts;
        std::vector<std::unique_ptr<weft::interruption_link>> links;
        std::atomic<int> canceled{0}, interrupted{0};
        weft::channel<int> ready(threads);
        for (int i = 0; i < threads; ++i) {
            cs.push_back(weft::with_cancel(weft::background()));
            ts.push_back(std::make_unique<boost::thread>([&, ctx = cs.back().ctx] {
                (void)ready.send(1);
                if (ch.receive(ctx).status == weft::op_status::canceled) ++canceled;
                // Whichever came first, the other side follows: an interrupt request is set
                // (by the interrupter, or by the link on cancel) and this sleep sees it.
                if (boost_sleep_interrupted()) ++interrupted;
            }));
            links.push_back(std::make_unique<weft::interruption_link>(*ts.back(), cs.back()));
        }
        for (int i = 0; i < threads; ++i) (void)ready.receive();
        // Half by cancel racing interrupt, a quarter by interrupt alone, a quarter by cancel.
        std::thread cancels([&] {
            for (int i = 0; i < threads; ++i)
                if (i % 4 != 1) cs[static_cast<std::size_t>(i)].cancel();
        });
        std::thread interrupts([&] {
            for (int i = 0; i < threads; ++i)
                if (i % 4 != 3) ts[static_cast<std::size_t>(i)]->interrupt();
        });
        cancels.join();
        interrupts.join();
        for (auto& c : cs) CHECK(c.ctx.done().receive_for(10s).status == weft::op_status::closed);
        for (auto& l : links) l->unlink();
        for (auto& t : ts) t->join();
        CHECK(canceled == threads);
        CHECK(interrupted == threads);
        CHECK(ch.try_send(1).status == weft::op_status::full);  // nobody took a value
    }
    CHECK(weft_test::eventually([&] { return polled() == before; }));
}

TEST_CASE("links made and dropped while others are polled and interrupted") {
    WEFT_WATCHDOG(60s);
    const std::size_t before = polled();
    std::atomic<bool> stop{false};
    std::vector<std::thread> churn;
    for (int w = 0; w < 2; ++w) {
        churn.emplace_back([&] {
            while (!stop) {
                auto c = weft::with_cancel(weft::background());
                boost::thread t([] { (void)boost_sleep_interrupted(); });
                {
                    weft::interruption_link link(t, c);
                    t.interrupt();  // the poll may or may not see it before the unlink
                }
                t.join();
            }
        });
    }
    for (int i = 0; i < 50; ++i) {
        auto c = weft::with_cancel(weft::background());
        weft::channel<int> ch(0);
        boost::thread t([&, ctx = c.ctx] { (void)ch.receive(ctx); });
        weft::interruption_link link(t, c);
        t.interrupt();
        CHECK(c.ctx.done().receive_for(10s).status == weft::op_status::closed);
        link.unlink();
        t.join();
    }
    stop = true;
    for (auto& t : churn) t.join();
    CHECK(weft_test::eventually([&] { return polled() == before; }));
}
