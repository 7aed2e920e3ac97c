// Go's own channel programs from test/chan/ (Go 1.22), ported to weft as doctest cases.
//
// Each TEST_CASE cites the Go file it ports. The programs are translated, not copied: a goroutine
// is a std::thread that the test joins (Go lets goroutines run on when main returns; a C++ test
// must not leave a thread behind), `<-c` is receive(), `c <- v` is send(v), `select` is
// weft::select and `default:` is weft::otherwise. A Go panic("...") in a goroutine becomes a
// failure counted in an atomic and checked on the test's thread. Sizes are Go's; under
// sanitizers they shrink to a tenth via weft_test::scale(). Where Go sleeps or yields to let a
// goroutine block, this port does the same and says so.
//
// Where Go's programs leak goroutines that loop forever (the sieves), the port adds a `quit`
// channel that every such goroutine also selects on (Go's own cancellation idiom), so they end
// and can be joined. What they compute is unchanged.
//
// Not ported: select2.go's use of runtime.MemStats (the port counts live heap bytes through a
// replacement operator new instead, see below); select5.go's checks of Go's order of evaluation
// inside a select statement (C++ evaluates function arguments in an unspecified order, and
// weft::select evaluates nothing itself); perm.go's compile errors (see the perm.go section).
#include <weft/channel.hpp>
#include <weft/select.hpp>

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "support.hpp"

namespace {

using weft::channel;
using weft::on_receive;
using weft::on_send;
using weft::op_status;
using weft::otherwise;
using weft::receiver;
using weft::sender;
using namespace std::chrono_literals;

using weft_test::goroutines;

// Sends v unless `quit` is closed first; false when quit (or ch) was closed.
template <class T>
bool send_or_quit(const sender<T>& ch, T v, const receiver<bool>& quit) {
    bool sent = false;
    weft::select(on_send(ch, std::move(v), [&](bool ok) { sent = ok; }), on_receive(quit, [] {}));
    return sent;
}

// Receives from ch unless `quit` is closed first; empty when quit (or ch) was closed.
template <class T>
std::optional<T> receive_or_quit(const receiver<T>& ch, const receiver<bool>& quit) {
    std::optional<T> got;
    weft::select(on_receive(ch, [&](std::optional<T> v) { got = std::move(v); }),
                 on_receive(quit, [] {}));
    return got;
}

constexpr int primes_below_100[] = {2,  3,  5,  7,  11, 13, 17, 19, 23, 29, 31, 37, 41,
                                    43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Go 1.22 test/chan/fifo.go, AsynchFifo: a buffered channel is a FIFO.
TEST_CASE("fifo.go: AsynchFifo") {
    constexpr int N = 10;
    channel<int> ch(N);
    for (int i = 0; i < N; ++i) CHECK(ch.try_send(i).status == op_status::ok);
    for (int i = 0; i < N; ++i) CHECK(ch.try_receive().value == std::optional<int>(i));
}

// Go 1.22 test/chan/fifo.go, SynchFifo: a daisy chain of goroutines, each waiting for the
// previous one before it receives, reads the values of an unbuffered channel in send order.
TEST_CASE("fifo.go: SynchFifo") {
    WEFT_WATCHDOG();
    constexpr int N = 10;
    channel<int> ch(0);
    std::vector<channel<int>> links;  // links[i] starts goroutine i; links[N] is the last out
    for (int i = 0; i <= N; ++i) links.emplace_back(0);
    std::atomic<int> out_of_order{0};
    goroutines g;
    for (int i = 0; i < N; ++i) {
        // Go's Chain(ch, val, in, out)
        g.go([&, i, in = receiver<int>(links[static_cast<std::size_t>(i)]),
              out = sender<int>(links[static_cast<std::size_t>(i) + 1])]() mutable {
            (void)in.receive();
            if (ch.receive() != std::optional<int>(i)) ++out_of_order;
            out.send(1);
        });
    }
    links.front().send(0);
    for (int i = 0; i < N; ++i) ch.send(i);
    CHECK(links.back().receive() == std::optional<int>(1));
    g.join();
    CHECK(out_of_order.load() == 0);
}

// ---------------------------------------------------------------------------------------------
// Go 1.22 test/chan/nonblock.go: non-blocking sends and receives (select with default) on
// unbuffered and 1-buffered channels of several element types. A non-blocking operation with
// no partner must take the default case; retried (with Go's short sleep) while a partner
// goroutine arrives, it must eventually complete, with the right value.
namespace {

// Go's sleep(): two 10 us ticks and three Gosched calls.
void nonblock_sleep() {
    std::this_thread::sleep_for(20us);
    for (int i = 0; i < 3; ++i) std::this_thread::yield();
}
// Go gives up after 10000 tries ("up to 100ms per test"). A loaded machine (a parallel ctest)
// may not run the partner thread for longer than that, so the port gives up after 10 s instead:
// a non-blocking operation that can never complete still fails the test.
constexpr auto nonblock_give_up = 10s;

template <class T>
void nonblock_check(std::size_t buffer, const T& to_receiver, const T& from_sender) {
    CAPTURE(buffer);
    channel<T> c(buffer);
    channel<bool> sync(0);
    std::atomic<int> bad_value{0};

    // A receive with no sender takes the default case.
    CHECK(weft::select(on_receive(c, [](std::optional<T>) {}), otherwise([] {})) == 1);

    goroutines g;
    // Go's i32receiver & co.
    g.go([&] {
        if (c.receive() != std::optional<T>(to_receiver)) ++bad_value;
        sync.send(true);
    });
    auto give_up = std::chrono::steady_clock::now() + nonblock_give_up;
    bool gave_up = false;
    for (bool sent = false; !sent;) {
        T v = to_receiver;
        weft::select(on_send(c, v, [&] { sent = true; }), otherwise([&] {
                         gave_up = std::chrono::steady_clock::now() > give_up;
                         if (!gave_up) nonblock_sleep();
                     }));
        if (gave_up) {
            FAIL_CHECK("non-blocking send never found the receiver (buffer " << buffer << ")");
            c.close();  // let the receiver go
            break;
        }
    }
    (void)sync.receive();

    // Go's i32sender & co.
    g.go([&] {
        (void)c.send(from_sender);
        sync.send(true);
    });
    if (buffer > 0) (void)sync.receive();
    std::optional<T> got;
    give_up = std::chrono::steady_clock::now() + nonblock_give_up;
    gave_up = false;
    for (bool received = false; !received;) {
        weft::select(on_receive(c,
                                [&](std::optional<T> v) {
                                    got = std::move(v);
                                    received = true;
                                }),
                     otherwise([&] {
                         gave_up = std::chrono::steady_clock::now() > give_up;
                         if (!gave_up) nonblock_sleep();
                     }));
        if (gave_up) {
            FAIL_CHECK("non-blocking receive never found the sender (buffer " << buffer << ")");
            (void)c.receive();  // let the sender go
            break;
        }
    }
    CHECK(got == std::optional<T>(from_sender));
    if (buffer == 0) (void)sync.receive();
    g.join();
    CHECK(bad_value.load() == 0);
}

}  // namespace

TEST_CASE("nonblock.go") {
    WEFT_WATCHDOG();
    for (std::size_t buffer = 0; buffer < 2; ++buffer) {
        nonblock_check<std::int32_t>(buffer, 123, 234);
        nonblock_check<std::int64_t>(buffer, 123456, 234567);
        nonblock_check<bool>(buffer, true, true);
        nonblock_check<std::string>(buffer, "hello", "hello again");
    }
}

// ---------------------------------------------------------------------------------------------
// Go 1.22 test/chan/select.go: a loop of non-blocking selects over two send cases, each case
// disabled (nil) once it fired; every case's value expression is evaluated on every select,
// also for a nil channel (Go's counter, which must reach 10).
namespace {

struct select_go {
    unsigned counter = 0;
    unsigned shift = 0;

    unsigned get_value() {
        ++counter;
        return 1u << shift;
    }

    int send(channel<unsigned> a, channel<unsigned> b) {
        int i = 0;
        for (;;) {
            bool stop = false;
            weft::select(on_send(a, get_value(),
                                 [&] {
                                     ++i;
                                     a = channel<unsigned>();
                                 }),
                         on_send(b, get_value(),
                                 [&] {
                                     ++i;
                                     b = channel<unsigned>();
                                 }),
                         otherwise([&] { stop = true; }));
            if (stop) break;
            ++shift;
        }
        return i;
    }
};

}  // namespace

TEST_CASE("select.go") {
    select_go s;
    channel<unsigned> a(1);
    channel<unsigned> b(1);
    CHECK(s.send(a, b) == 2);
    auto av = a.try_receive();
    auto bv = b.try_receive();
    REQUIRE(av.status == op_status::ok);
    REQUIRE(bv.status == op_status::ok);
    CHECK((*av | *bv) == 3u);
    CHECK(s.send(a, channel<unsigned>()) == 1);
    CHECK(s.counter == 10u);
}

// ---------------------------------------------------------------------------------------------
// Go 1.22 test/chan/select2.go: selects do not consume undue memory. Go compares the live heap
// (runtime.MemStats.Alloc after a GC) before and after a second round of 100,000 selects and
// allows 1.1e5 bytes of growth. C++ has no GC: this test binary replaces the global operator
// new/delete to keep a count of live heap bytes, and the bound is Go's. Not under sanitizers:
// their runtimes own operator new (clang links it statically, so a replacement does not even
// link), and their allocators change the footprint anyway; there (and without glibc) the selects
// still run, unmeasured.
#if !WEFT_TEST_SANITIZED && defined(__GLIBC__)  // malloc_usable_size is glibc's
#define WEFT_TEST_COUNTS_HEAP 1
#include <malloc.h>

namespace {

std::atomic<long long> g_live_bytes{0};

void* counted_alloc(std::size_t size, std::size_t align) {
    if (size == 0) size = 1;
    void* p = nullptr;
    if (align <= alignof(std::max_align_t)) {
        p = std::malloc(size);
    } else if (::posix_memalign(&p, align, size) != 0) {
        p = nullptr;
    }
    if (!p) throw std::bad_alloc();
    g_live_bytes.fetch_add(static_cast<long long>(::malloc_usable_size(p)),
                           std::memory_order_relaxed);
    return p;
}

void counted_free(void* p) noexcept {
    if (!p) return;
    g_live_bytes.fetch_sub(static_cast<long long>(::malloc_usable_size(p)),
                           std::memory_order_relaxed);
    std::free(p);
}

}  // namespace

// Replaceable global allocation functions ([new.delete]); the array and nothrow forms forward to
// these in libstdc++ and libc++.
void* operator new(std::size_t size) { return counted_alloc(size, 0); }
void* operator new(std::size_t size, std::align_val_t al) {
    return counted_alloc(size, static_cast<std::size_t>(al));
}
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }
#else
#define WEFT_TEST_COUNTS_HEAP 0
#endif

namespace {

void select2_round(channel<int>& c, channel<int>& dummy, std::size_t n, std::atomic<int>& bad,
                   std::atomic<std::uint64_t>& step) {
    std::thread sender([&] {
        for (std::size_t i = 0; i < n; ++i) c.send(1);
    });
    for (std::size_t i = 0; i < n; ++i) {
        weft::select(on_receive(c, [] {}), on_receive(dummy, [&] { ++bad; }));
        step.fetch_add(1, std::memory_order_relaxed);
    }
    sender.join();
}

}  // namespace

TEST_CASE("select2.go") {
    // Go's size: 200,000 rendezvous hand-offs between two threads (the footprint check needs
    // that many), ~14 s on a loaded 2-core machine: the watchdog waits for them to stop coming.
    std::atomic<std::uint64_t> step{0};
    WEFT_WATCHDOG_PROGRESS(step);
    const std::size_t n = weft_test::scale(100000);
    channel<int> c(0);
    channel<int> dummy(0);
    std::atomic<int> bad{0};
    select2_round(c, dummy, n, bad, step);  // warm up
#if WEFT_TEST_COUNTS_HEAP
    const long long before = g_live_bytes.load();
#endif
    select2_round(c, dummy, n, bad, step);  // the second time shouldn't grow the footprint by much
#if WEFT_TEST_COUNTS_HEAP
    const long long growth = g_live_bytes.load() - before;
    CAPTURE(growth);
    CHECK(before > 0);  // the counting operator new is the one in use
    CHECK(growth <= 110000);
#endif
    CHECK(bad.load() == 0);
}

// ---------------------------------------------------------------------------------------------
// Go 1.22 test/chan/select3.go: what blocks and what does not, for plain operations and select,
// on nil, closed, ready and non-ready channels. Go's panics (send on a closed channel) are
// weft's failure results: the send reports `closed` and hands the value back.
namespace {

// Go's testBlock waits 0.1 s: "seems plenty long".
constexpr auto patience = 100ms;

// Runs f on its own thread; true if it returned within `limit`. Go abandons a goroutine that
// blocks; C++ cannot, so when f has not returned `release()` is called to let it finish, and
// the thread is joined. The verdict comes from a std::future, so it does not depend on the
// channel code under test.
template <class F, class R>
bool finishes_within(std::chrono::milliseconds limit, F f, R release) {
    std::promise<void> finished;
    auto done = finished.get_future();
    std::thread t([&] {
        f();
        finished.set_value();
    });
    const bool in_time = done.wait_for(limit) == std::future_status::ready;
    if (!in_time) release();
    t.join();
    return in_time;
}

// Go's testBlock(always, f): f is still running after `patience`.
template <class F, class R>
bool blocks(F f, R release) {
    return !finishes_within(patience, std::move(f), std::move(release));
}
template <class F>
bool blocks(F f) {
    return blocks(std::move(f), [] {});
}

// Go's testBlock(never, f). Go waits 0.1 s here too, but on a loaded machine (a parallel ctest)
// a thread can take longer than that just to start, so this waits up to 10 s. An operation that
// wrongly blocks for good still never returns: there is nothing to release it with, so the
// test's watchdog ends the run and names the test.
template <class F>
bool never_blocks(F f) {
    return finishes_within(10s, std::move(f), [] {});
}

}  // namespace

TEST_CASE("select3.go") {
    WEFT_WATCHDOG();
    std::atomic<int> unreachable{0};
    auto never_fires = [&] { ++unreachable; };
    channel<int> nilch;
    channel<int> closedch(0);
    closedch.close();

    SUBCASE("sending to / receiving from a nil channel blocks") {
        // A nil channel's blocking operations can never be released, so the timed forms stand
        // in for them: blocked for three times the patience, they must time out.
        std::optional<op_status> st;
        CHECK(blocks([&] { st = nilch.send_for(7, 3 * patience).status; }));
        CHECK(st == op_status::timeout);
        st.reset();
        CHECK(blocks([&] { st = nilch.receive_for(3 * patience).status; }));
        CHECK(st == op_status::timeout);
    }
    SUBCASE("a nil channel in a select is never selected") {
        CHECK(weft::select(on_send(nilch, 7, never_fires), otherwise([] {})) == 1);
        CHECK(weft::select(on_receive(nilch, never_fires), otherwise([] {})) == 1);
    }
    SUBCASE("sending to a buffered channel with free space never blocks") {
        CHECK(never_blocks([] {
            channel<int> ch(1);
            ch.send(7);
        }));
    }
    SUBCASE("receiving from a closed channel never blocks") {
        int values = 0;
        CHECK(never_blocks([&] {
            for (int i = 0; i < 10; ++i) {
                if (closedch.receive().has_value()) ++values;  // Go: <-closedch is 0
                if (closedch.receive().has_value()) ++values;  // Go: x, ok is 0, false
            }
        }));
        CHECK(values == 0);
    }
    SUBCASE("sending to a closed channel fails (Go: panics), handing the value back") {
        auto r = closedch.send(7);
        CHECK(r.status == op_status::closed);
        CHECK(r.value == std::optional<int>(7));
    }
    SUBCASE("receiving from a non-ready channel always blocks") {
        channel<int> ch(0);
        CHECK(blocks([&] { (void)ch.receive(); }, [&] { ch.close(); }));
    }
    SUBCASE("empty selects always block") {
        // weft::select() with no case does not compile; the empty dynamic selector is Go's
        // `select {}`. It blocks forever, so its timed form stands in for it.
        std::optional<std::size_t> fired = 42;
        CHECK(blocks([&] {
            weft::selector s;
            fired = s.select_for(3 * patience);
        }));
        CHECK_FALSE(fired.has_value());
    }
    SUBCASE("selects with only nil channels always block") {
        // A select whose cases are all nil blocks forever; `release` adds one more case (a
        // channel nobody sends on until released) so the thread can be let go. The nil cases
        // must still never fire, before or after the release.
        channel<int> release(0);
        std::size_t fired = 42;
        CHECK(blocks(
            [&] {
                fired = weft::select(on_receive(nilch, never_fires), on_receive(release, [] {}));
            },
            [&] { release.close(); }));
        CHECK(fired == 1);
        // release is closed now, so this one is ready at once; the nil send must not fire.
        CHECK(never_blocks([&] {
            fired = weft::select(on_send(nilch, 7, never_fires), on_receive(release, [] {}));
        }));
        CHECK(fired == 1);
        channel<int> release2(0);
        CHECK(blocks(
            [&] {
                fired = weft::select(on_receive(nilch, never_fires), on_send(nilch, 7, never_fires),
                                     on_receive(release2, [] {}));
            },
            [&] { release2.close(); }));
        CHECK(fired == 2);
        // The same with no release at all: the dynamic selector's timed form.
        std::optional<std::size_t> sel = 42;
        CHECK(blocks([&] {
            weft::selector s;
            s.add_receive(nilch, never_fires);
            s.add_send(nilch, 7, never_fires);
            sel = s.select_for(3 * patience);
        }));
        CHECK_FALSE(sel.has_value());
    }
    SUBCASE("selects with non-ready non-nil channels always block") {
        channel<int> ch(0);
        CHECK(blocks(
            [&] {
                weft::select(on_receive(ch, [&](std::optional<int> v) {
                    if (v) never_fires();  // only the release (close) may end it
                }));
            },
            [&] { ch.close(); }));
    }
    SUBCASE("selects with default cases don't block") {
        CHECK(never_blocks([] { weft::select(otherwise([] {})); }));
        CHECK(
            never_blocks([&] { weft::select(on_receive(nilch, never_fires), otherwise([] {})); }));
        CHECK(
            never_blocks([&] { weft::select(on_send(nilch, 7, never_fires), otherwise([] {})); }));
    }
    SUBCASE("selects with ready channels don't block") {
        CHECK(never_blocks([&] {
            channel<int> ch(1);
            weft::select(on_send(ch, 7, [] {}), otherwise(never_fires));
        }));
        CHECK(never_blocks([&] {
            channel<int> ch(1);
            ch.send(7);
            weft::select(on_receive(ch, [] {}), otherwise(never_fires));
        }));
    }
    SUBCASE("selects with closed channels behave like ordinary operations") {
        CHECK(never_blocks([&] { weft::select(on_receive(closedch, [] {})); }));
        std::optional<int> x = 42;
        CHECK(never_blocks(
            [&] { weft::select(on_receive(closedch, [&](std::optional<int> v) { x = v; })); }));
        CHECK_FALSE(x.has_value());
        // Go panics on a send case to a closed channel; weft fires it with sent == false.
        std::optional<bool> sent;
        CHECK(
            never_blocks([&] { weft::select(on_send(closedch, 7, [&](bool ok) { sent = ok; })); }));
        CHECK(sent == std::optional<bool>(false));
    }
    SUBCASE("select does not get confused if it sees itself") {
        channel<int> c(0);
        CHECK(blocks([&] { weft::select(on_send(c, 1, [] {}), on_receive(c, [] {})); },
                     [&] { c.close(); }));
    }
    CHECK(unreachable.load() == 0);
}

// ---------------------------------------------------------------------------------------------
// Go 1.22 test/chan/select4.go: the destination of a receive case that does not fire is not
// touched (Go: its address expression `*f()` is not even evaluated). In weft the destination
// is the case's function: it must not run.
TEST_CASE("select4.go") {
    WEFT_WATCHDOG();
    struct {
        int a = 0;
    } x;
    bool f_called = false;
    channel<int> c(1);
    channel<int> c1(0);
    c.send(42);
    std::size_t fired =
        weft::select(on_receive(c1, [&](std::optional<int>) { f_called = true; }),
                     on_receive(c, [&](std::optional<int> v) { x.a = v.value_or(-1); }));
    CHECK(fired == 1);
    CHECK_FALSE(f_called);
    CHECK(x.a == 42);
}

// ---------------------------------------------------------------------------------------------
// Go 1.22 test/chan/select5.go generates a program that runs every combination of a real send or
// receive with dummy (never ready) and nil cases, with and without default, and checks that the
// right case runs with the right value. Its idea as a table: every sequence of 1 to 3 cases,
// each of one of eight kinds (receive/send x ready/not ready/closed/nil), with no default, a
// default first, or a default last. For each, the fired case must be a ready one (or the
// default, or none: blocking, when no case is ready) and only the fired case may have an effect:
// a receive that loses leaves its value in the channel, a send that loses keeps its value (an
// lvalue of a move-only type, moved from only when the case fires).
namespace {

enum class kind {
    recv_ready,
    recv_not_ready,
    recv_closed,
    recv_nil,
    send_ready,
    send_not_ready,
    send_closed,
    send_nil
};
constexpr kind all_kinds[] = {kind::recv_ready,  kind::recv_not_ready, kind::recv_closed,
                              kind::recv_nil,    kind::send_ready,     kind::send_not_ready,
                              kind::send_closed, kind::send_nil};

const char* name(kind k) {
    switch (k) {
        case kind::recv_ready: return "recv_ready";
        case kind::recv_not_ready: return "recv_not_ready";
        case kind::recv_closed: return "recv_closed";
        case kind::recv_nil: return "recv_nil";
        case kind::send_ready: return "send_ready";
        case kind::send_not_ready: return "send_not_ready";
        case kind::send_closed: return "send_closed";
        case kind::send_nil: return "send_nil";
    }
    return "?";
}
constexpr bool is_send(kind k) { return k >= kind::send_ready; }
constexpr bool is_ready(kind k) {
    return k == kind::recv_ready || k == kind::recv_closed || k == kind::send_ready ||
           k == kind::send_closed;
}

using item = std::unique_ptr<int>;

// One case of the table: its channel, prepared for its kind, and what its function saw.
struct slot {
    kind k;
    int id;
    channel<item> ch;
    item out;  // the value a send case offers
    int calls = 0;
    std::optional<int> received;  // a receive case's value (empty: closed)
    bool sent = false;            // a send case's result

    slot(kind k_, int id_) : k(k_), id(id_) {
        switch (k) {
            case kind::recv_ready:
                ch = channel<item>(1);
                (void)ch.try_send(std::make_unique<int>(100 + id));
                break;
            case kind::recv_not_ready: ch = channel<item>(0); break;  // Go's `dummy`
            case kind::recv_closed:
            case kind::send_closed:
                ch = channel<item>(1);
                ch.close();
                break;
            case kind::send_ready: ch = channel<item>(1); break;
            case kind::send_not_ready: ch = channel<item>(0); break;
            case kind::recv_nil:
            case kind::send_nil: break;  // Go's `nilch`
        }
        if (is_send(k)) out = std::make_unique<int>(200 + id);
    }

    auto on_recv() {
        return [this](std::optional<item> v) {
            ++calls;
            received = v ? std::optional<int>(**v) : std::nullopt;
        };
    }
    auto on_sent() {
        return [this](bool ok) {
            ++calls;
            sent = ok;
        };
    }
};

enum class def { none, first, last };

// Checks the outcome of one select over `slots`: `fired` is the index of the slot that fired, or
// -1 (the default ran, or the select timed out). `owns_values` is false for the selector, which
// sends a copy it owns, so `out` says nothing there.
void check_outcome(std::vector<slot>& slots, int fired, bool owns_values) {
    for (auto& s : slots) {
        CAPTURE(s.id);
        CAPTURE(name(s.k));
        const bool me = s.id == fired;
        CHECK(s.calls == (me ? 1 : 0));
        switch (s.k) {
            case kind::recv_ready:
                if (me) {
                    CHECK(s.received == std::optional<int>(100 + s.id));
                    CHECK(s.ch.size() == 0);
                } else {
                    auto left = s.ch.try_receive();  // the loser's value is still there
                    REQUIRE(left.status == op_status::ok);
                    CHECK(**left == 100 + s.id);
                }
                break;
            case kind::recv_closed:
                if (me) CHECK_FALSE(s.received.has_value());
                break;
            case kind::send_ready:
                if (me) {
                    CHECK(s.sent);
                    auto got = s.ch.try_receive();
                    REQUIRE(got.status == op_status::ok);
                    CHECK(**got == 200 + s.id);
                    if (owns_values) CHECK(s.out == nullptr);  // moved into the channel
                } else {
                    CHECK(s.ch.size() == 0);
                    if (owns_values) CHECK(s.out != nullptr);  // not moved from
                }
                break;
            case kind::send_closed:
                if (me) CHECK_FALSE(s.sent);
                if (owns_values) CHECK(s.out != nullptr);  // never consumed by a closed channel
                break;
            case kind::send_not_ready:
            case kind::send_nil:
                if (owns_values) CHECK(s.out != nullptr);
                break;
            case kind::recv_not_ready:
            case kind::recv_nil: break;
        }
    }
}

// The slot index of a select's result, given where the default case was.
int slot_of(std::size_t fired, def d, std::size_t ncases) {
    if (d == def::first) return fired == 0 ? -1 : static_cast<int>(fired) - 1;
    if (d == def::last) return fired == ncases ? -1 : static_cast<int>(fired);
    return static_cast<int>(fired);
}

template <bool Send>
auto make_case(slot& s) {
    if constexpr (Send) {
        return on_send(s.ch, s.out, s.on_sent());
    } else {
        return on_receive(s.ch, s.on_recv());
    }
}

// The variadic select for one sequence of kinds, whose send/receive pattern is S...
template <bool... S>
void run_variadic(const std::vector<kind>& kinds, def d) {
    constexpr std::size_t n = sizeof...(S);
    std::vector<slot> slots;
    slots.reserve(n);
    for (std::size_t i = 0; i < n; ++i) slots.emplace_back(kinds[i], static_cast<int>(i));
    bool any_ready = false;
    for (kind k : kinds) any_ready = any_ready || is_ready(k);
    if (!any_ready && d == def::none) return;  // it would block forever: see the selector test

    int default_calls = 0;
    auto dflt = [&] { ++default_calls; };
    std::size_t fired = [&]<std::size_t... I>(std::index_sequence<I...>) {
        switch (d) {
            case def::first: return weft::select(otherwise(dflt), make_case<S>(slots[I])...);
            case def::last: return weft::select(make_case<S>(slots[I])..., otherwise(dflt));
            case def::none: break;
        }
        return weft::select(make_case<S>(slots[I])...);
    }(std::make_index_sequence<n>{});

    const int at = slot_of(fired, d, n);
    if (any_ready) {
        REQUIRE(at >= 0);
        CHECK(is_ready(kinds[static_cast<std::size_t>(at)]));
        CHECK(default_calls == 0);
    } else {
        CHECK(at == -1);
        CHECK(default_calls == 1);
    }
    check_outcome(slots, at, true);
}

// Turns the run-time send/receive pattern of `kinds` into the template arguments of
// run_variadic (2 + 4 + 8 instantiations for 1 to 3 cases).
template <bool... S>
void dispatch(const std::vector<kind>& kinds, def d) {
    constexpr std::size_t n = sizeof...(S);
    if constexpr (n < 3) {
        if (kinds.size() > n) {
            if (is_send(kinds[n])) {
                dispatch<S..., true>(kinds, d);
            } else {
                dispatch<S..., false>(kinds, d);
            }
            return;
        }
    }
    if constexpr (n > 0) run_variadic<S...>(kinds, d);
}

// The same sequence through the dynamic selector: try_select is the select with a default,
// select_for (1 ms) the one without (it must time out when no case is ready).
void run_selector(const std::vector<kind>& kinds, bool with_default) {
    std::vector<slot> slots;
    slots.reserve(kinds.size());
    for (std::size_t i = 0; i < kinds.size(); ++i)
        slots.emplace_back(kinds[i], static_cast<int>(i));
    bool any_ready = false;
    for (kind k : kinds) any_ready = any_ready || is_ready(k);

    weft::selector sel;
    for (auto& s : slots) {
        std::size_t index = 0;
        if (is_send(s.k)) {
            index = sel.add_send(s.ch, std::make_unique<int>(*s.out), s.on_sent());
        } else {
            index = sel.add_receive(s.ch, s.on_recv());
        }
        CHECK(index == static_cast<std::size_t>(s.id));
    }
    std::optional<std::size_t> fired = with_default ? sel.try_select() : sel.select_for(1ms);
    if (any_ready) {
        REQUIRE(fired.has_value());
        CHECK(is_ready(kinds[*fired]));
    } else {
        CHECK_FALSE(fired.has_value());
    }
    check_outcome(slots, fired ? static_cast<int>(*fired) : -1, false);
}

// Every sequence of 1 to 3 kinds.
std::vector<std::vector<kind>> all_sequences() {
    std::vector<std::vector<kind>> out;
    for (kind a : all_kinds) {
        out.push_back({a});
        for (kind b : all_kinds) {
            out.push_back({a, b});
            for (kind c : all_kinds) out.push_back({a, b, c});
        }
    }
    return out;
}

std::string describe(const std::vector<kind>& kinds) {
    std::string s;
    for (kind k : kinds) {
        if (!s.empty()) s += ", ";
        s += name(k);
    }
    return s;
}

}  // namespace

TEST_CASE("select5.go: every combination of ready, not ready, closed and nil cases") {
    WEFT_WATCHDOG();
    const auto sequences = all_sequences();
    REQUIRE(sequences.size() == 8 + 64 + 512);
    // Each combination several times: the choice among ready cases is random.
    constexpr int repeats = 4;
    SUBCASE("weft::select") {
        for (const auto& kinds : sequences) {
            const std::string what = describe(kinds);
            CAPTURE(what);
            for (def d : {def::none, def::first, def::last}) {
                CAPTURE(static_cast<int>(d));
                for (int r = 0; r < repeats; ++r) dispatch<>(kinds, d);
            }
        }
    }
    SUBCASE("weft::selector") {
        for (const auto& kinds : sequences) {
            const std::string what = describe(kinds);
            CAPTURE(what);
            for (bool with_default : {false, true}) {
                CAPTURE(with_default);
                for (int r = 0; r < repeats; ++r) run_selector(kinds, with_default);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Go 1.22 test/chan/select6.go (Go issue 2075): a select that loses on c1 while other receivers
// wait on c1 must leave c1's queue intact, so that later receives on c1 still wake up.
TEST_CASE("select6.go") {
    WEFT_WATCHDOG();
    channel<bool> c1(0);
    channel<bool> c2(0);
    channel<bool> c3(0);
    std::atomic<int> dummy{0};
    goroutines g;
    g.go([&] { (void)c1.receive(); });
    g.go([&] {
        weft::select(on_receive(c1, [&] { ++dummy; }), on_receive(c2, [&] { c3.send(true); }));
        (void)c1.receive();
    });
    g.go([&] { c2.send(true); });
    CHECK(c3.receive() == std::optional<bool>(true));
    CHECK(c1.send(true).status == op_status::ok);
    CHECK(c1.send(true).status == op_status::ok);
    g.join();
    CHECK(dummy.load() == 0);
}

// ---------------------------------------------------------------------------------------------
// Go 1.22 test/chan/select7.go: every pairing of three ways to send (plain, one-case select,
// select with a dead second case) with three ways to receive and discard the value.
namespace {

using recv_fn = void (*)(receiver<int>, std::atomic<int>&);

void recv1(receiver<int> c, std::atomic<int>&) { (void)c.receive(); }
void recv2(receiver<int> c, std::atomic<int>& bad) {
    if (weft::select(on_receive(c, [] {})) != 0) ++bad;
}
void recv3(receiver<int> c, std::atomic<int>& bad) {
    channel<int> c2(0);
    if (weft::select(on_receive(c, [] {}), on_receive(c2, [] {})) != 0) ++bad;
}

// Go's runtime.Gosched() after `go recv(c)`: lets the receiver start first, as Go does.
void send1(recv_fn recv, std::atomic<int>& bad) {
    channel<int> c(0);
    std::thread t(recv, c, std::ref(bad));
    std::this_thread::yield();
    if (c.send(1).status != op_status::ok) ++bad;
    t.join();
}
void send2(recv_fn recv, std::atomic<int>& bad) {
    channel<int> c(0);
    std::thread t(recv, c, std::ref(bad));
    std::this_thread::yield();
    if (weft::select(on_send(c, 1, [] {})) != 0) ++bad;
    t.join();
}
void send3(recv_fn recv, std::atomic<int>& bad) {
    channel<int> c(0);
    std::thread t(recv, c, std::ref(bad));
    std::this_thread::yield();
    channel<int> c2(0);
    if (weft::select(on_send(c, 1, [] {}), on_send(c2, 1, [] {})) != 0) ++bad;
    t.join();
}

}  // namespace

TEST_CASE("select7.go") {
    WEFT_WATCHDOG();
    std::atomic<int> bad{0};
    for (recv_fn recv : {recv1, recv2, recv3}) {
        send1(recv, bad);
        send2(recv, bad);
        send3(recv, bad);
    }
    CHECK(bad.load() == 0);
}

// ---------------------------------------------------------------------------------------------
// Go 1.22 test/chan/sieve1.go: the classic concurrent prime sieve, a daisy chain of filter
// goroutines, must produce the primes below 100. Go's goroutines run forever; here each also
// selects on `quit`, and closes its output when it returns, so the chain unwinds.
namespace {

// Sends 2, 3, 4, ... on ch.
void sieve1_generate(sender<int> ch, receiver<bool> quit) {
    for (int i = 2; send_or_quit(ch, i, quit); ++i) {}
    ch.close();
}

// Copies the values from in to out, removing those divisible by prime.
void sieve1_filter(receiver<int> in, sender<int> out, int prime, receiver<bool> quit) {
    for (int i : in) {
        if (i % prime != 0 && !send_or_quit(out, i, quit)) break;
    }
    out.close();
}

// Daisy-chains filter goroutines together.
void sieve1_sieve(sender<int> primes, receiver<bool> quit) {
    goroutines g;
    channel<int> ch(0);
    g.go([=] { sieve1_generate(ch, quit); });
    for (;;) {
        auto prime = receive_or_quit<int>(ch, quit);  // ch is different on each iteration
        if (!prime || !send_or_quit(primes, *prime, quit)) break;
        channel<int> ch1(0);
        g.go([=, p = *prime] { sieve1_filter(ch, ch1, p, quit); });
        ch = ch1;
    }
}

}  // namespace

TEST_CASE("sieve1.go") {
    WEFT_WATCHDOG();
    channel<int> primes(0);
    channel<bool> quit(0);
    goroutines g;
    g.go([=] { sieve1_sieve(primes, quit); });
    for (int p : primes_below_100) CHECK(primes.receive() == std::optional<int>(p));
    quit.close();
}

// ---------------------------------------------------------------------------------------------
// Go 1.22 test/chan/sieve2.go: an Eratosthenes-style sieve over odd candidates, merging the
// channels of multiples of each prime through a heap, with a feedback loop of primes through a
// goroutine that buffers without limit: its select disables the output case (nil channel) while
// its buffer is empty. Must produce the primes below 100. As in sieve1, `quit` ends the
// goroutines, which Go lets run forever.
namespace {

struct sieve2 {
    receiver<bool> quit;
    goroutines& g;

    // A channel of odd numbers, starting from 5.
    channel<int> odds() {
        channel<int> out(50);
        g.go([out, q = quit] {
            for (int n = 5; send_or_quit<int>(out, n, q); n += 2) {}
        });
        return out;
    }

    // A channel of odd multiples of the prime p, starting from p*p.
    channel<int> multiples(int p) {
        channel<int> out(10);
        g.go([out, p, q = quit] {
            for (int n = p * p; send_or_quit<int>(out, n, q); n += 2 * p) {}
        });
        return out;
    }

    // A channel that forwards to `out` through a buffer that grows as needed, so sending to it
    // never blocks for long (Go uses container/ring; a deque is the same here).
    channel<int> sendproxy(channel<int> out) {
        channel<int> proxy(10);
        g.go([proxy, out, q = quit] {
            std::deque<int> buf;
            for (;;) {
                channel<int> c = buf.empty() ? channel<int>() : out;  // empty: disable output
                int e = buf.empty() ? 0 : buf.front();
                bool stop = false;
                weft::select(on_receive(proxy,
                                        [&](std::optional<int> v) {
                                            if (v) {
                                                buf.push_back(*v);
                                            } else {
                                                stop = true;
                                            }
                                        }),
                             on_send(c, e, [&] { buf.pop_front(); }),
                             on_receive(q, [&] { stop = true; }));
                if (stop) return;
            }
        });
        return proxy;
    }

    struct peek_ch {
        int head;
        channel<int> ch;
    };
    struct later_head {
        bool operator()(const peek_ch& a, const peek_ch& b) const { return a.head > b.head; }
    };

    // The primes, in a channel.
    channel<int> run() {
        channel<int> out(10);
        out.send(2);
        out.send(3);
        channel<int> composites(50);  // all composites to be eliminated, in increasing order
        channel<int> primes(10);      // the feedback loop
        primes.send(3);

        // Merges the channels of multiples of `primes` into `composites`. (The goroutines copy
        // this small struct rather than point to it: they may outlive it.)
        g.go([self = *this, composites, primes, q = quit]() mutable {
            std::priority_queue<peek_ch, std::vector<peek_ch>, later_head> h;
            auto next = [&](const receiver<int>& ch) { return receive_or_quit<int>(ch, q); };
            // Go's heap.Pop, then the popped channel's next head back on the heap.
            auto advance = [&](int& min) {
                peek_ch minchan = h.top();
                h.pop();
                min = minchan.head;
                auto head = next(minchan.ch);
                if (!head) return false;
                minchan.head = *head;
                h.push(std::move(minchan));
                return true;
            };
            int min = 15;
            for (;;) {
                auto p = next(primes);
                if (!p) return;
                channel<int> m = self.multiples(*p);
                auto head = next(m);
                if (!head) return;
                while (min < *head) {
                    if (!send_or_quit<int>(composites, min, q) || !advance(min)) return;
                }
                while (min == *head) {
                    if (!advance(min)) return;
                }
                if (!send_or_quit<int>(composites, *head, q)) return;
                auto second = next(m);
                if (!second) return;
                h.push(peek_ch{*second, m});
            }
        });

        // Sieves `composites` out of the candidates.
        g.go([self = *this, composites, primes, out, q = quit]() mutable {
            // The merger receives primes much more slowly than they are found here; without the
            // proxy this goroutine would block on the feedback loop and deadlock (Go's comment).
            channel<int> feedback = self.sendproxy(primes);
            channel<int> candidates = self.odds();
            auto p = receive_or_quit<int>(candidates, q);
            while (p) {
                auto c = receive_or_quit<int>(composites, q);
                if (!c) return;
                while (p && *p < *c) {
                    if (!send_or_quit<int>(feedback, *p, q) || !send_or_quit<int>(out, *p, q)) {
                        return;
                    }
                    p = receive_or_quit<int>(candidates, q);
                }
                if (p && *p == *c) p = receive_or_quit<int>(candidates, q);
            }
        });
        return out;
    }
};

}  // namespace

TEST_CASE("sieve2.go") {
    WEFT_WATCHDOG();
    channel<bool> quit(0);
    goroutines g;
    sieve2 s{quit, g};
    channel<int> primes = s.run();
    for (int p : primes_below_100) CHECK(primes.receive() == std::optional<int>(p));
    quit.close();
    g.join();
}

// ---------------------------------------------------------------------------------------------
// Go 1.22 test/chan/doubleselect.go: a select over four send cases must never run two of them
// (the same counter would then arrive twice). The sender's four channels are forwarded by four
// mux goroutines to one channel, where duplicates are looked for. Go checks only duplicates;
// the port also checks that every value arrived (weft promises no loss either).
TEST_CASE("doubleselect.go") {
    WEFT_WATCHDOG();
    const int iterations = static_cast<int>(weft_test::scale(100000));
    std::array<channel<int>, 4> c{channel<int>(0), channel<int>(0), channel<int>(0),
                                  channel<int>(0)};
    channel<bool> done(0);
    channel<int> cmux(0);
    goroutines g;
    g.go([&] {  // sender
        for (int i = 0; i < iterations; ++i) {
            weft::select(on_send(c[0], i, [] {}), on_send(c[1], i, [] {}), on_send(c[2], i, [] {}),
                         on_send(c[3], i, [] {}));
        }
        for (auto& ch : c) ch.close();
    });
    for (auto& ch : c) {
        g.go([&, in = receiver<int>(ch)]() mutable {  // mux
            for (int v : in) cmux.send(v);
            done.send(true);
        });
    }
    g.go([&] {
        for (int i = 0; i < 4; ++i) (void)done.receive();
        cmux.close();
    });
    // recver
    std::vector<bool> seen(static_cast<std::size_t>(iterations), false);
    int duplicates = 0;
    int out_of_range = 0;
    int count = 0;
    for (int v : cmux) {
        ++count;
        if (v < 0 || v >= iterations) {
            ++out_of_range;
        } else if (seen[static_cast<std::size_t>(v)]) {
            ++duplicates;
        } else {
            seen[static_cast<std::size_t>(v)] = true;
        }
    }
    CHECK(duplicates == 0);
    CHECK(out_of_range == 0);
    CHECK(count == iterations);
}

// ---------------------------------------------------------------------------------------------
// Go 1.22 test/chan/perm.go is an errorcheck test: it must NOT compile, and the compiler must
// reject each line marked ERROR. weft's counterparts of those lines are compile-fail tests
// (tests/compile_fail/, each built with and without -DWEFT_COMPILE_FAIL):
//   cr <- 0               -> send_on_receiver.cpp, try_send_on_receiver.cpp
//   <-cs, x, ok = <-cs    -> receive_on_sender.cpp
//   cs = cr               -> receiver_to_sender.cpp
//   close(cr)             -> close_on_receiver.cpp
// The remaining ERROR lines have no compile-fail test yet; the static_asserts below check them
// (and the lines marked ok) as properties of the types, so a regression fails this build:
//   c = cr, c = cs, cr = cs, `case cr <- 0`, `case x := <-cs`, `for range cs`.
namespace perm_go {

template <class H>
concept can_send = requires(H h) { h.send(0); };
template <class H>
concept can_try_send = requires(H h) { h.try_send(0); };
template <class H>
concept can_receive = requires(H h) { h.receive(); };
template <class H>
concept can_try_receive = requires(H h) { h.try_receive(); };
template <class H>
concept can_close = requires(H h) { h.close(); };
template <class H>
concept can_range = requires(H h) { h.begin(); };
template <class H>
concept can_select_send = requires(H h) { weft::on_send(h, 0, [] {}); };
template <class H>
concept can_select_receive = requires(H h) { weft::on_receive(h, [] {}); };

using c_t = channel<int>;
using cr_t = receiver<int>;
using cs_t = sender<int>;

// cr = c, cs = c: ok.    c = cr, c = cs, cr = cs, cs = cr: ERROR.
static_assert(std::is_convertible_v<c_t, cr_t>);
static_assert(std::is_convertible_v<c_t, cs_t>);
static_assert(!std::is_constructible_v<c_t, cr_t>);
static_assert(!std::is_constructible_v<c_t, cs_t>);
static_assert(!std::is_constructible_v<cr_t, cs_t>);
static_assert(!std::is_constructible_v<cs_t, cr_t>);
static_assert(!std::is_assignable_v<c_t&, cr_t>);
static_assert(!std::is_assignable_v<cr_t&, cs_t>);
// c <- 0, <-c, x, ok := <-c: ok.
static_assert(can_send<c_t> && can_try_send<c_t> && can_receive<c_t> && can_try_receive<c_t>);
// cr <- 0: ERROR.   <-cr, x, ok = <-cr: ok.
static_assert(!can_send<cr_t> && !can_try_send<cr_t>);
static_assert(can_receive<cr_t> && can_try_receive<cr_t>);
// cs <- 0: ok.   <-cs, x, ok = <-cs: ERROR.
static_assert(can_send<cs_t> && can_try_send<cs_t>);
static_assert(!can_receive<cs_t> && !can_try_receive<cs_t>);
// select: case c <- 0, case x := <-c, case x := <-cr, case cs <- 0: ok.
//         case cr <- 0, case x := <-cs: ERROR.
static_assert(can_select_send<c_t> && can_select_receive<c_t>);
static_assert(can_select_receive<cr_t> && !can_select_send<cr_t>);
static_assert(can_select_send<cs_t> && !can_select_receive<cs_t>);
// for range cs: ERROR (range over c and cr is fine).
static_assert(can_range<c_t> && can_range<cr_t> && !can_range<cs_t>);
// close(c), close(cs): ok.   close(cr): ERROR.
static_assert(can_close<c_t> && can_close<cs_t> && !can_close<cr_t>);

}  // namespace perm_go

// The lines perm.go marks ok, run: they compile and do what Go does.
TEST_CASE("perm.go: the permitted operations") {
    WEFT_WATCHDOG();
    channel<int> c(1);
    receiver<int> cr = c;
    sender<int> cs = c;
    CHECK(c.send(0).status == op_status::ok);
    CHECK(c.receive() == std::optional<int>(0));
    CHECK(cs.send(1).status == op_status::ok);
    CHECK(cr.receive() == std::optional<int>(1));
    std::optional<int> x;
    auto take = [&](std::optional<int> v) { x = v; };
    CHECK(weft::select(on_send(c, 2, [] {}), on_receive(cr, take)) == 0);  // only the send can
    CHECK(weft::select(on_receive(c, take), on_send(cs, 3, [] {})) == 0);  // only the receive
    CHECK(x == std::optional<int>(2));
    CHECK(c.close());
    CHECK_FALSE(cs.close());  // the same channel: already closed (Go would panic)
    CHECK(cr.is_closed());
}
