// weft::broadcast: the three policies for a full subscriber, subscriptions ending every way
// while publishers wait on them, copies that throw, and publishers and subscribers coming and
// going on many threads.
#include <weft/broadcast.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support.hpp"

using namespace std::chrono_literals;
using weft::op_status;
using weft::slow_policy;
using weft::subscription_state;

namespace {

template <class T>
std::vector<T> drain(const weft::subscription<T>& sub) {
    std::vector<T> got;
    for (auto& v : sub) got.push_back(v);
    return got;
}

// Waits (under the test's watchdog) until `sub` holds n values: the publisher filled it.
template <class T>
void wait_size(const weft::subscription<T>& sub, std::size_t n) {
    while (sub.rx().size() < n) std::this_thread::sleep_for(1ms);
}

}  // namespace

TEST_CASE("drop: a full subscriber misses values and counts them; the others get every one") {
    weft_test::watchdog w("broadcast drop");
    weft::broadcast<int> hub;
    auto slow = hub.subscribe({.capacity = 2, .policy = slow_policy::drop});
    auto roomy = hub.subscribe({.capacity = 8, .policy = slow_policy::drop});
    for (int i = 1; i <= 5; ++i) {
        auto r = hub.publish(i);
        CHECK(r.status == op_status::ok);
        CHECK(r.delivered == (i <= 2 ? 2u : 1u));
        CHECK(r.dropped == (i <= 2 ? 0u : 1u));
        CHECK(r.disconnected == 0);
    }
    CHECK(slow.dropped() == 3);
    CHECK(roomy.dropped() == 0);
    CHECK(slow.state() == subscription_state::active);
    CHECK(hub.close());
    CHECK_FALSE(hub.close());
    CHECK(drain(slow) == std::vector<int>{1, 2});  // the buffered values survive the close
    CHECK(drain(roomy) == std::vector<int>{1, 2, 3, 4, 5});
    CHECK(slow.state() == subscription_state::closed);
}

TEST_CASE("block: a slow subscriber gets every value, in order; the publisher waits for it") {
    weft_test::watchdog w("broadcast block");
    weft::broadcast<int> hub;
    auto slow = hub.subscribe({.capacity = 1, .policy = slow_policy::block});
    auto fast = hub.subscribe({.capacity = 64, .policy = slow_policy::drop});
    const int n = 50;
    std::vector<int> got;
    std::thread reader([&] {
        for (auto& v : slow) {
            got.push_back(v);
            std::this_thread::sleep_for(200us);  // slower than the publisher
        }
    });
    for (int i = 0; i < n; ++i) {
        auto r = hub.publish(i);
        CHECK(r.status == op_status::ok);
        CHECK(r.delivered == 2);
    }
    hub.close();
    reader.join();
    std::vector<int> want;
    for (int i = 0; i < n; ++i) want.push_back(i);
    CHECK(got == want);
    CHECK(slow.dropped() == 0);
    CHECK(drain(fast) == want);
}

TEST_CASE("block: the publisher serves the others before it waits for a full one") {
    weft_test::watchdog w("broadcast block order");
    weft::broadcast<int> hub;
    auto full = hub.subscribe({.capacity = 1, .policy = slow_policy::block});
    auto other = hub.subscribe({.capacity = 0, .policy = slow_policy::block});
    std::thread publisher([&] {
        CHECK(hub.publish(1).delivered == 2);  // `full` takes it, `other` (a rendezvous) waits
        CHECK(hub.publish(2).delivered == 2);  // both are full: it waits for both at once
    });
    CHECK(other.rx().receive() == 1);
    // Received while `full` still holds 1: a publisher waiting for `full` first would deadlock.
    CHECK(other.rx().receive() == 2);
    CHECK(full.rx().receive() == 1);
    CHECK(full.rx().receive() == 2);
    publisher.join();
}

TEST_CASE("disconnect: a full subscriber is removed, drains, and can tell it was disconnected") {
    weft_test::watchdog w("broadcast disconnect");
    weft::broadcast<int> hub;
    auto slow = hub.subscribe({.capacity = 2, .policy = slow_policy::disconnect});
    auto other = hub.subscribe({.capacity = 8, .policy = slow_policy::disconnect});
    CHECK(hub.subscribers() == 2);
    CHECK(hub.publish(1).delivered == 2);
    CHECK(hub.publish(2).delivered == 2);
    auto r = hub.publish(3);
    CHECK(r.status == op_status::ok);
    CHECK(r.delivered == 1);
    CHECK(r.disconnected == 1);
    CHECK(hub.subscribers() == 1);
    CHECK(slow.disconnected());
    CHECK(slow.state() == subscription_state::disconnected);
    CHECK(hub.publish(4).delivered == 1);  // no longer offered to `slow`
    CHECK(drain(slow) == std::vector<int>{1, 2});
    CHECK_FALSE(slow.unsubscribe());  // it has ended already: the reason stays
    CHECK(slow.state() == subscription_state::disconnected);
    CHECK(other.state() == subscription_state::active);
    hub.close();
    CHECK(drain(other) == std::vector<int>{1, 2, 3, 4});
    CHECK(other.state() == subscription_state::closed);
    CHECK_FALSE(other.disconnected());
}

TEST_CASE("unsubscribe, explicitly or by dropping the handle: no more values, buffer kept") {
    weft_test::watchdog w("broadcast unsubscribe");
    weft::broadcast<std::string> hub;
    auto a = hub.subscribe();
    {
        auto b = hub.subscribe();
        CHECK(hub.subscribers() == 2);
        CHECK(hub.publish("one").delivered == 2);
    }  // b's destructor unsubscribes
    CHECK(hub.subscribers() == 1);
    CHECK(hub.publish("two").delivered == 1);
    CHECK(a.unsubscribe());
    CHECK_FALSE(a.unsubscribe());
    CHECK(a.state() == subscription_state::unsubscribed);
    CHECK(hub.subscribers() == 0);
    CHECK(hub.publish("three").delivered == 0);
    CHECK(drain(a) == std::vector<std::string>{"one", "two"});

    // A moved-to subscription ends the one it held.
    auto c = hub.subscribe();
    auto d = hub.subscribe();
    auto c_rx = c.rx();
    c = std::move(d);
    CHECK(c_rx.is_closed());
    CHECK(hub.subscribers() == 1);
}

TEST_CASE("publish after close returns closed; subscribe after close gets a closed channel") {
    weft_test::watchdog w("broadcast after close");
    weft::subscription<int> late;
    {
        weft::broadcast<int> hub;
        auto sub = hub.subscribe();
        hub.close();
        CHECK(hub.is_closed());
        CHECK(hub.subscribers() == 0);
        auto r = hub.publish(7);
        CHECK(r.status == op_status::closed);
        CHECK_FALSE(r);
        CHECK(r.delivered == 0);
        late = hub.subscribe();
        CHECK(late.state() == subscription_state::closed);
        CHECK(drain(late).empty());
        CHECK(drain(sub).empty());
    }
    CHECK_FALSE(late.unsubscribe());  // outlives its hub: harmless
}

TEST_CASE("the hub's destructor closes every subscription") {
    weft_test::watchdog w("broadcast destructor");
    weft::subscription<int> sub;
    {
        weft::broadcast<int> hub;
        sub = hub.subscribe();
        (void)hub.publish(1);
    }
    CHECK(drain(sub) == std::vector<int>{1});
    CHECK(sub.state() == subscription_state::closed);
}

TEST_CASE("close while a publisher is blocked: it wakes with closed, the subscriber drains") {
    weft_test::watchdog w("broadcast close while blocked");
    weft::broadcast<int> hub;
    auto full = hub.subscribe({.capacity = 1, .policy = slow_policy::block});
    auto roomy = hub.subscribe({.capacity = 8, .policy = slow_policy::drop});
    CHECK(hub.publish(1).delivered == 2);
    weft::publish_result r;
    std::atomic<bool> returned{false};
    std::thread publisher([&] {
        r = hub.publish(2);
        returned.store(true);
    });
    wait_size(roomy, 2);  // publish(2) has served `roomy`: now it waits for `full`
    std::this_thread::sleep_for(20ms);
    CHECK_FALSE(returned.load());
    hub.close();
    publisher.join();
    CHECK(r.status == op_status::closed);
    CHECK(r.delivered == 1);
    CHECK(drain(full) == std::vector<int>{1});
    CHECK(drain(roomy) == std::vector<int>{1, 2});
}

TEST_CASE("unsubscribe while a publisher is blocked on that subscriber: it gives up on it") {
    weft_test::watchdog w("broadcast unsubscribe while blocked");
    for (bool by_destructor : {false, true}) {
        CAPTURE(by_destructor);
        weft::broadcast<int> hub;
        std::optional<weft::subscription<int>> full =
            hub.subscribe({.capacity = 1, .policy = slow_policy::block});
        auto other = hub.subscribe({.capacity = 8, .policy = slow_policy::block});
        auto full_rx = full->rx();
        CHECK(hub.publish(1).delivered == 2);
        weft::publish_result r;
        std::thread publisher([&] { r = hub.publish(2); });
        wait_size(other, 2);
        std::this_thread::sleep_for(10ms);
        if (by_destructor) {
            full.reset();
        } else {
            CHECK(full->unsubscribe());
        }
        publisher.join();  // the watchdog fails the test if it deadlocks
        CHECK(r.status == op_status::ok);
        CHECK(r.delivered == 1);
        CHECK(full_rx.receive() == 1);  // what was buffered stays receivable
        CHECK_FALSE(full_rx.receive());
        if (!by_destructor) CHECK(full->state() == subscription_state::unsubscribed);
        CHECK(hub.publish(3).delivered == 1);  // and the hub goes on without it
    }
}

TEST_CASE("publish(ctx, v) gives up waiting when ctx ends; the waited-for subscriber counts it") {
    weft_test::watchdog w("broadcast publish ctx");
    weft::broadcast<int> hub;
    auto full = hub.subscribe({.capacity = 1, .policy = slow_policy::block});
    auto other = hub.subscribe({.capacity = 8, .policy = slow_policy::drop});
    CHECK(hub.publish(1).delivered == 2);

    auto [ctx, cancel] = weft::with_timeout(weft::background(), 30ms);
    auto r = hub.publish(ctx, 2);
    CHECK(r.status == op_status::canceled);
    CHECK(r.delivered == 1);
    CHECK(r.dropped == 1);
    CHECK(full.dropped() == 1);
    CHECK(full.state() == subscription_state::active);

    // A context canceled already: nothing is delivered, nothing counted.
    auto r2 = hub.publish(ctx, 3);
    CHECK(r2.status == op_status::canceled);
    CHECK(r2.delivered == 0);
    CHECK(full.dropped() == 1);

    // A block subscriber with room does not need the context.
    CHECK(full.rx().receive() == 1);
    CHECK(hub.publish(weft::background(), 4).delivered == 2);
    hub.close();
    CHECK(drain(full) == std::vector<int>{4});
    CHECK(drain(other) == std::vector<int>{1, 2, 4});
}

namespace {

// A value whose copy throws while `copies_left` reaches zero (then again never).
std::atomic<int> copies_left{-1};

struct fragile {
    int v = 0;
    explicit fragile(int x) : v(x) {}
    fragile(const fragile& o) : v(o.v) {
        if (copies_left.fetch_sub(1) == 0) throw std::runtime_error("copy failed");
    }
    fragile(fragile&& o) noexcept : v(o.v) {}
    fragile& operator=(const fragile&) = default;
    fragile& operator=(fragile&&) noexcept = default;
};

}  // namespace

TEST_CASE("a copy that throws costs only its subscriber; publish rethrows after serving all") {
    weft_test::watchdog w("broadcast throwing copy");
    for (auto policy : {slow_policy::drop, slow_policy::block, slow_policy::disconnect}) {
        CAPTURE(static_cast<int>(policy));
        weft::broadcast<fragile> hub;
        auto a = hub.subscribe({.capacity = 4, .policy = policy});
        auto b = hub.subscribe({.capacity = 4, .policy = policy});
        auto c = hub.subscribe({.capacity = 4, .policy = policy});
        copies_left.store(1);  // a's copy succeeds, b's throws; c gets the original
        CHECK_THROWS_WITH_AS(hub.publish(fragile(1)), "copy failed", std::runtime_error);
        copies_left.store(-1000000);
        CHECK(a.dropped() == 0);
        CHECK(b.dropped() == 1);
        CHECK(c.dropped() == 0);
        CHECK(b.state() == subscription_state::active);  // not disconnected, whatever the policy
        CHECK(hub.publish(fragile(2)).delivered == 3);
        hub.close();
        auto values = [](const weft::subscription<fragile>& s) {
            std::vector<int> got;
            for (auto& f : s) got.push_back(f.v);
            return got;
        };
        CHECK(values(a) == std::vector<int>{1, 2});
        CHECK(values(b) == std::vector<int>{2});
        CHECK(values(c) == std::vector<int>{1, 2});
    }

    // Under block, the publisher still waits for a full subscriber after a copy threw.
    weft::broadcast<fragile> hub;
    auto thrower = hub.subscribe({.capacity = 4, .policy = slow_policy::block});
    auto full = hub.subscribe({.capacity = 1, .policy = slow_policy::block});
    copies_left.store(-1000000);
    CHECK(hub.publish(fragile(1)).delivered == 2);
    std::thread reader([&] {
        std::this_thread::sleep_for(20ms);
        CHECK(full.rx().receive()->v == 1);
    });
    copies_left.store(0);  // the first copy (thrower's) throws
    CHECK_THROWS_AS(hub.publish(fragile(2)), std::runtime_error);
    copies_left.store(-1000000);
    reader.join();
    CHECK(full.rx().try_receive()->v == 2);  // delivered before publish threw
    CHECK(thrower.dropped() == 1);
}

TEST_CASE("many threads publish, subscribe and unsubscribe at once: per-publisher order, no loss") {
    weft_test::watchdog w("broadcast concurrent", std::chrono::seconds(60));
    struct msg {
        int publisher;
        int seq;
    };
    weft::broadcast<msg> hub;
    const int publishers = 3;
    const int per_publisher = static_cast<int>(weft_test::scale(2000));
    // Subscribed before anyone publishes, and never full for long: gets everything.
    auto witness = hub.subscribe({.capacity = 4, .policy = slow_policy::block});
    std::map<int, std::vector<int>> witnessed;
    std::thread witness_reader([&] {
        for (auto& m : witness) witnessed[m.publisher].push_back(m.seq);
    });

    std::atomic<int> bad_order{0};
    std::atomic<long> churn_received{0};
    std::vector<std::thread> churners;
    const slow_policy policies[] = {slow_policy::drop, slow_policy::block, slow_policy::disconnect};
    for (int t = 0; t < 3; ++t) {
        churners.emplace_back([&, t] {
            int round = 0;
            while (!hub.is_closed()) {
                auto sub = hub.subscribe({.capacity = static_cast<std::size_t>(1 + round % 3),
                                          .policy = policies[(t + round) % 3]});
                std::map<int, int> last;  // publisher -> last seq seen
                const int want = 1 + (round * 7) % 20;
                for (int k = 0; k < want; ++k) {
                    auto m = sub.rx().receive();
                    if (!m) break;  // disconnected or the hub closed
                    auto it = last.find(m->publisher);
                    if (it != last.end() && it->second >= m->seq) bad_order.fetch_add(1);
                    last[m->publisher] = m->seq;
                    churn_received.fetch_add(1);
                }
                ++round;
            }  // each round's subscription ends by its destructor, often while blocking a publisher
        });
    }

    std::vector<std::thread> pubs;
    for (int p = 0; p < publishers; ++p) {
        pubs.emplace_back([&, p] {
            for (int i = 0; i < per_publisher; ++i) {
                auto r = hub.publish(msg{p, i});
                CHECK(r.status == op_status::ok);
                CHECK(r.delivered >= 1);  // the witness at least
            }
        });
    }
    for (auto& t : pubs) t.join();
    hub.close();
    for (auto& t : churners) t.join();
    witness_reader.join();

    CHECK(bad_order.load() == 0);
    CHECK(churn_received.load() > 0);
    CHECK(witness.dropped() == 0);
    REQUIRE(witnessed.size() == static_cast<std::size_t>(publishers));
    for (const auto& entry : witnessed) {
        const int p = entry.first;
        const std::vector<int>& seqs = entry.second;
        CAPTURE(p);
        REQUIRE(seqs.size() == static_cast<std::size_t>(per_publisher));
        for (int i = 0; i < per_publisher; ++i) CHECK(seqs[static_cast<std::size_t>(i)] == i);
    }
}

TEST_CASE("a value published after subscribe() returned reaches the subscriber") {
    weft_test::watchdog w("broadcast subscribe then publish");
    weft::broadcast<int> hub;
    const int rounds = static_cast<int>(weft_test::scale(500));
    weft::channel<weft::receiver<int>> subscribed(0);
    std::thread subscriber([&] {
        for (int i = 0; i < rounds; ++i) {
            auto sub = hub.subscribe({.capacity = 1, .policy = slow_policy::drop});
            (void)subscribed.send(sub.rx());
            CHECK(sub.rx().receive() == i);  // the first publish after the hand-over
            CHECK(sub.dropped() == 0);
        }
    });
    for (int i = 0; i < rounds; ++i) {
        auto rx = subscribed.receive();
        REQUIRE(rx);
        CHECK(hub.publish(i).delivered >= 1);
    }
    subscriber.join();
}
