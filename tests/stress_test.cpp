// Conservation under stress: many producers and consumers on every flavor, plain operations and
// selects mixed, close in the middle of it; every value is received exactly once, and move-only
// values are neither destroyed twice nor leaked.
#include <weft/select.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "support.hpp"

namespace {

struct counted {
    static inline std::atomic<long> live{0};
    std::unique_ptr<long> v;
    explicit counted(long x) : v(std::make_unique<long>(x)) { ++live; }
    counted(counted&& o) noexcept : v(std::move(o.v)) { ++live; }
    counted& operator=(counted&&) = default;
    ~counted() { --live; }
};

weft::channel<counted> make(long cap) {
    return cap < 0 ? weft::channel<counted>::unbounded()
                   : weft::channel<counted>(static_cast<std::size_t>(cap));
}

// Every producer sends `per` distinct values; consumers record what they got. Each value must be
// seen exactly once.
void conserve(long cap, int producers, int consumers, long per, bool use_select) {
    WEFT_WATCHDOG();
    auto ch = make(cap);
    auto side = make(cap);  // a second channel, for the select variants
    const long total = producers * per;
    std::vector<std::atomic<int>> seen(static_cast<std::size_t>(total));
    std::vector<std::thread> ts;
    for (int p = 0; p < producers; ++p) {
        ts.emplace_back([&, p] {
            for (long i = 0; i < per; ++i) {
                counted v(p * per + i);
                if (use_select && i % 2) {
                    weft::select(weft::on_send(ch, v, [](bool ok) { REQUIRE(ok); }),
                                 weft::on_send(side, v, [](bool ok) { REQUIRE(ok); }));
                    REQUIRE(!v.v);  // exactly one case took it
                } else {
                    REQUIRE(ch.send(std::move(v)));
                }
            }
        });
    }
    std::atomic<int> producers_left{producers};
    std::vector<std::thread> cs;
    for (int c = 0; c < consumers; ++c) {
        cs.emplace_back([&, c] {
            auto record = [&](counted& v) { ++seen[static_cast<std::size_t>(*v.v)]; };
            if (!use_select || c % 2 == 0) {
                for (auto& v : ch) record(v);
                return;
            }
            bool a_open = true, b_open = true;
            while (a_open || b_open) {
                weft::select(weft::on_receive(a_open ? ch : weft::channel<counted>(),
                                              [&](std::optional<counted> v) {
                                                  if (v)
                                                      record(*v);
                                                  else
                                                      a_open = false;
                                              }),
                             weft::on_receive(b_open ? side : weft::channel<counted>(),
                                              [&](std::optional<counted> v) {
                                                  if (v)
                                                      record(*v);
                                                  else
                                                      b_open = false;
                                              }));
            }
        });
    }
    for (auto& t : ts) t.join();
    ch.close();
    side.close();
    // Plain consumers only drain `ch`: drain `side` here.
    for (auto& v : side) ++seen[static_cast<std::size_t>(*v.v)];
    for (auto& t : cs) t.join();
    long missing = 0, duplicated = 0;
    for (auto& s : seen) {
        missing += s.load() == 0;
        duplicated += s.load() > 1;
    }
    CHECK(missing == 0);
    CHECK(duplicated == 0);
}

}  // namespace

TEST_CASE("every value is received exactly once, under contention, on every flavor") {
    const long per = static_cast<long>(weft_test::scale(20000));
    for (long cap : {0L, 1L, 7L, 128L, -1L}) {
        for (bool use_select : {false, true}) {
            CAPTURE(cap);
            CAPTURE(use_select);
            conserve(cap, 4, 4, per, use_select);
            conserve(cap, 1, 3, per, use_select);
            conserve(cap, 3, 1, per, use_select);
        }
    }
    CHECK(counted::live.load() == 0);
}

TEST_CASE("oversubscribed: 16 producers and 16 consumers on a small buffer") {
    const long per = static_cast<long>(weft_test::scale(5000));
    conserve(4, 16, 16, per, false);
    conserve(0, 16, 16, per, true);
    CHECK(counted::live.load() == 0);
}

TEST_CASE("close while producers and consumers are blocked loses and duplicates nothing") {
    WEFT_WATCHDOG();
    const int rounds = static_cast<int>(weft_test::scale(200));
    for (int r = 0; r < rounds; ++r) {
        for (std::size_t cap : {std::size_t{0}, std::size_t{2}}) {
            weft::channel<counted> ch(cap);
            std::atomic<long> sent{0}, returned{0}, received{0};
            std::vector<std::thread> ts;
            for (int p = 0; p < 3; ++p) {
                ts.emplace_back([&] {
                    for (long i = 1;; ++i) {
                        auto res = ch.send(counted(i));
                        if (!res) {
                            returned += *res.value->v;
                            return;
                        }
                        sent += i;
                    }
                });
            }
            for (int c = 0; c < 2; ++c) {
                ts.emplace_back([&] {
                    int k = 0;
                    for (auto& v : ch) {
                        received += *v.v;
                        if (++k == 50) std::this_thread::yield();
                    }
                });
            }
            std::this_thread::sleep_for(std::chrono::microseconds(200));
            ch.close();
            for (auto& t : ts) t.join();
            REQUIRE(received.load() == sent.load());
            REQUIRE(returned.load() > 0);
        }
    }
    CHECK(counted::live.load() == 0);
}
