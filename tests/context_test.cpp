// Tests of weft/context.hpp: every factory (with_cancel, with_cancel_cause, with_timeout,
// with_deadline and their _cause forms, with_value, without_cancel, with_stop_token), the
// observers (done, err, deadline, value, stop_token, cause), after_func, and the context-taking
// operations elsewhere in the library (channel send/receive, wait_group::wait, weft::sleep,
// select on ctx.done()). Then what the tree promises under load: one cancel releases every
// waiter, concurrent cancellers agree on one cause, no child is left active when it is created
// while its parent is canceled, canceled or dropped children leave their parent, and no timer
// entry or thread is left behind. Go's own context tests are ported in golang_context_test.cpp.
#include <weft/channel.hpp>
#include <weft/context.hpp>
#include <weft/go.hpp>
#include <weft/select.hpp>
#include <weft/wait_group.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include <pthread.h>

#include "support.hpp"

using namespace std::chrono_literals;
using weft::op_status;
using weft_test::eventually;
using weft_test::goroutines;
using weft_test::scale;
using weft_test::settled_thread_count;
using weft_test::thread_count;

namespace {

// Non-blocking: is ctx.done() closed? (False for a context that can never be canceled.)
bool is_done(const weft::context& ctx) {
    auto d = ctx.done();
    return d && d.try_receive().status == op_status::closed;
}

std::size_t links(const weft::context& ctx) { return weft::detail::context_access::links(ctx); }

std::size_t pending_timers() { return weft::detail::timer_service::instance().pending(); }

// A cause that says who gave it.
struct tagged_error : std::runtime_error {
    explicit tagged_error(int i) : std::runtime_error("tagged " + std::to_string(i)), id(i) {}
    int id;
};
struct other_error : std::runtime_error {
    other_error() : std::runtime_error("other") {}
};

int tag_of(const std::exception_ptr& p) {
    const auto* t = weft::error_as<tagged_error>(p);
    return t ? t->id : -1;
}

// The context_errc carried by a cause that is a context_error, else 0.
int errc_of_cause(const std::exception_ptr& p) {
    const auto* e = weft::error_as<weft::context_error>(p);
    return e && e->code().category() == weft::context_category() ? e->code().value() : 0;
}

// A busy wait that still lets a preempted thread run (2 cores, many threads).
void spin_pause() {
    static thread_local unsigned n = 0;
    if (++n % 64 == 0) std::this_thread::yield();
}

// Gives a thread that announced itself time to block (not needed for correctness: a waiter
// that has not blocked yet sees the cancellation at once).
void let_block() { std::this_thread::sleep_for(10ms); }

}  // namespace

// --- the root --------------------------------------------------------------------------------

TEST_CASE("background and todo: never canceled, no deadline, no values") {
    WEFT_WATCHDOG();
    static const weft::context_key<int> key("k");
    for (const weft::context& ctx : {weft::background(), weft::todo(), weft::context{}}) {
        CHECK_FALSE(ctx.done());  // nil: never ready
        CHECK_FALSE(ctx.err());
        CHECK_FALSE(ctx.deadline());
        CHECK(ctx.value(key) == nullptr);
        CHECK(weft::cause(ctx) == nullptr);
        CHECK_FALSE(ctx.stop_token().stop_possible());
        CHECK(links(ctx) == 0);
        // A select on the nil done channel never picks it.
        CHECK(weft::select(weft::on_receive(ctx.done(), [] {}), weft::otherwise([] {})) == 1);
    }
}

// --- with_cancel and err() ---------------------------------------------------------------------

TEST_CASE("with_cancel: done is closed and err is canceled after cancel, which is idempotent") {
    WEFT_WATCHDOG();
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    CHECK(ctx.done());
    CHECK_FALSE(is_done(ctx));
    CHECK_FALSE(ctx.err());
    CHECK(weft::cause(ctx) == nullptr);  // null while active
    CHECK_FALSE(ctx.deadline());

    cancel();
    CHECK(is_done(ctx));
    CHECK(ctx.err() == weft::context_errc::canceled);
    CHECK(ctx.err() == std::errc::operation_canceled);
    CHECK(ctx.err() != std::errc::timed_out);
    CHECK(ctx.err() != weft::context_errc::deadline_exceeded);
    CHECK(ctx.err().category() == weft::context_category());
    CHECK(std::string(ctx.err().category().name()) == "weft.context");
    CHECK(ctx.err().message() == "context canceled");
    // The default cause carries err().
    const auto c = weft::cause(ctx);
    REQUIRE(c != nullptr);
    CHECK(errc_of_cause(c) == static_cast<int>(weft::context_errc::canceled));
    CHECK(weft::error_as<std::system_error>(c) != nullptr);  // a base class matches too
    CHECK(weft::error_as<other_error>(c) == nullptr);

    cancel();  // again: nothing changes
    CHECK(ctx.err() == weft::context_errc::canceled);
    CHECK(weft::cause(ctx) == c);
    // done() stays closed, for every receiver, any number of times.
    for (int i = 0; i < 3; ++i) CHECK_FALSE(ctx.done().receive().has_value());

    weft::cancel_func none;
    none();  // a default-constructed cancel function does nothing
    weft::cancel_cause_func none_cause;
    none_cause(std::make_exception_ptr(other_error{}));
}

TEST_CASE("err: deadline_exceeded is std::errc::timed_out; the category and the enum") {
    const std::error_code canceled = weft::make_error_code(weft::context_errc::canceled);
    const std::error_code deadline = weft::context_errc::deadline_exceeded;  // implicit
    CHECK(deadline == std::errc::timed_out);
    CHECK(deadline != std::errc::operation_canceled);
    CHECK(canceled == std::errc::operation_canceled);
    CHECK(deadline.message() == "context deadline exceeded");
    CHECK(canceled.message() == "context canceled");
    CHECK(weft::context_category().message(99) == "unknown context error");
    CHECK(std::is_error_code_enum_v<weft::context_errc>);
    const weft::context_error e(weft::context_errc::deadline_exceeded);
    CHECK(e.code() == weft::context_errc::deadline_exceeded);
}

TEST_CASE("error_as: null, a matching type, a base class, a non-matching type") {
    CHECK(weft::error_as<std::exception>(nullptr) == nullptr);
    const auto p = std::make_exception_ptr(tagged_error(7));
    REQUIRE(weft::error_as<tagged_error>(p) != nullptr);
    CHECK(weft::error_as<tagged_error>(p)->id == 7);
    CHECK(weft::error_as<std::runtime_error>(p) != nullptr);
    CHECK(weft::error_as<std::exception>(p) != nullptr);
    CHECK(weft::error_as<other_error>(p) == nullptr);
    CHECK(weft::error_as<tagged_error>(std::make_exception_ptr(42)) == nullptr);  // not a class
    // The same object each time (it lives as long as `p`).
    CHECK(weft::error_as<tagged_error>(p) == weft::error_as<tagged_error>(p));
}

TEST_CASE("cancellation flows down the tree, never up") {
    auto [root, cancel_root] = weft::with_cancel(weft::background());
    auto [mid, cancel_mid] = weft::with_cancel(root);
    static const weft::context_key<int> key("k");
    const auto valued = weft::with_value(mid, key, 1);
    auto [leaf, cancel_leaf] = weft::with_cancel(valued);
    auto [sibling, cancel_sibling] = weft::with_cancel(root);

    cancel_leaf();
    CHECK(leaf.err() == weft::context_errc::canceled);
    CHECK_FALSE(valued.err());
    CHECK_FALSE(mid.err());
    CHECK_FALSE(root.err());
    CHECK_FALSE(sibling.err());

    cancel_mid();
    CHECK(is_done(mid));
    CHECK(is_done(valued));  // a value node is done when its cancellable ancestor is
    CHECK(valued.err() == weft::context_errc::canceled);
    CHECK_FALSE(root.err());
    CHECK_FALSE(sibling.err());
    CHECK(links(root) == 1);  // the sibling; mid left when it was canceled

    cancel_root();
    CHECK(is_done(sibling));
    CHECK(sibling.err() == weft::context_errc::canceled);
    CHECK(links(root) == 0);
    // The sibling was canceled by the root: it has the root's cause.
    CHECK(weft::cause(sibling) == weft::cause(root));
}

TEST_CASE("a child of a canceled parent is born canceled, with the parent's error and cause") {
    auto [parent, cancel] = weft::with_cancel_cause(weft::background());
    const auto why = std::make_exception_ptr(tagged_error(1));
    cancel(why);
    std::stop_source src;
    static const weft::context_key<int> key("k");
    const weft::context children[] = {
        weft::with_cancel(parent).ctx,
        weft::with_cancel_cause(parent).ctx,
        weft::with_timeout(parent, 1h).ctx,
        weft::with_timeout_cause(parent, 1h, std::make_exception_ptr(other_error{})).ctx,
        weft::with_deadline(parent, std::chrono::system_clock::now() + 1h).ctx,
        weft::with_stop_token(parent, src.get_token()),
        weft::with_value(parent, key, 3),
    };
    for (const auto& c : children) {
        CHECK(is_done(c));
        CHECK(c.err() == weft::context_errc::canceled);
        CHECK(weft::cause(c) == why);
    }
    CHECK(links(parent) == 0);

    // Also when the parent's cancellation was a deadline: the child inherits deadline_exceeded.
    auto expired = weft::with_timeout(weft::background(), 0ms);
    CHECK(expired.ctx.err() == weft::context_errc::deadline_exceeded);
    auto child = weft::with_cancel(expired.ctx);
    CHECK(child.ctx.err() == weft::context_errc::deadline_exceeded);
    CHECK(weft::cause(child.ctx) == weft::cause(expired.ctx));
}

// --- causes --------------------------------------------------------------------------------

TEST_CASE("cause: null while active, the first cancellation wins for err and for cause") {
    const auto parent_cause = std::make_exception_ptr(tagged_error(1));
    const auto child_cause = std::make_exception_ptr(tagged_error(2));
    const auto too_slow = std::make_exception_ptr(tagged_error(3));
    const auto finished_early = std::make_exception_ptr(tagged_error(4));
    constexpr int canceled = static_cast<int>(weft::context_errc::canceled);
    constexpr int deadline = static_cast<int>(weft::context_errc::deadline_exceeded);

    struct row {
        const char* name;
        weft::context ctx;
        int err;                   // 0: active
        std::exception_ptr cause;  // expected identity; null: see default_cause
        int default_cause;         // the errc of a default context_error cause expected;
                                   // negative: a tagged_error whose id is -default_cause
    };
    std::vector<row> rows;
    {
        auto c = weft::with_cancel(weft::background());
        rows.push_back({"with_cancel, active", c.ctx, 0, nullptr, 0});
    }
    {
        auto c = weft::with_cancel(weft::background());
        c.cancel();
        rows.push_back({"with_cancel", c.ctx, canceled, nullptr, canceled});
    }
    {
        auto c = weft::with_cancel_cause(weft::background());
        c.cancel(parent_cause);
        rows.push_back({"with_cancel_cause", c.ctx, canceled, parent_cause, 0});
    }
    {
        auto c = weft::with_cancel_cause(weft::background());
        c.cancel(nullptr);
        rows.push_back({"with_cancel_cause(nullptr)", c.ctx, canceled, nullptr, canceled});
    }
    {
        auto c = weft::with_cancel_cause(weft::background());
        c.cancel();
        rows.push_back({"with_cancel_cause()", c.ctx, canceled, nullptr, canceled});
    }
    {
        auto c = weft::with_cancel_cause(weft::background());
        c.cancel(tagged_error(5));  // an exception object, not a pointer
        rows.push_back({"with_cancel_cause(object)", c.ctx, canceled, nullptr, -5});
    }
    {
        auto p = weft::with_cancel_cause(weft::background());
        auto c = weft::with_cancel_cause(p.ctx);
        p.cancel(parent_cause);
        c.cancel(child_cause);
        rows.push_back({"parent cause before child", c.ctx, canceled, parent_cause, 0});
    }
    {
        auto p = weft::with_cancel_cause(weft::background());
        auto c = weft::with_cancel_cause(p.ctx);
        c.cancel(child_cause);
        p.cancel(parent_cause);
        rows.push_back({"parent cause after child", c.ctx, canceled, child_cause, 0});
        rows.push_back({"the parent keeps its own", p.ctx, canceled, parent_cause, 0});
    }
    {
        auto p = weft::with_cancel_cause(weft::background());
        auto c = weft::with_cancel(p.ctx);
        p.cancel(parent_cause);
        c.cancel();
        rows.push_back({"parent cause before plain child", c.ctx, canceled, parent_cause, 0});
    }
    {
        auto p = weft::with_cancel_cause(weft::background());
        auto c = weft::with_cancel(p.ctx);
        c.cancel();
        p.cancel(parent_cause);
        rows.push_back({"parent cause after plain child", c.ctx, canceled, nullptr, canceled});
    }
    {
        auto c = weft::with_timeout(weft::background(), 0s);
        c.cancel();
        rows.push_back({"with_timeout expired", c.ctx, deadline, nullptr, deadline});
    }
    {
        auto c = weft::with_timeout(weft::background(), 1h);
        c.cancel();
        rows.push_back({"with_timeout canceled", c.ctx, canceled, nullptr, canceled});
    }
    {
        auto c = weft::with_timeout_cause(weft::background(), 0s, too_slow);
        c.cancel();
        rows.push_back({"with_timeout_cause expired", c.ctx, deadline, too_slow, 0});
    }
    {
        auto c = weft::with_timeout_cause(weft::background(), 1h, too_slow);
        c.cancel();
        rows.push_back({"with_timeout_cause canceled", c.ctx, canceled, nullptr, canceled});
    }
    {
        auto c = weft::with_deadline_cause(weft::background(),
                                           std::chrono::steady_clock::now() - 1s, too_slow);
        rows.push_back({"with_deadline_cause in the past", c.ctx, deadline, too_slow, 0});
    }
    {
        auto p = weft::with_cancel_cause(weft::background());
        auto c = weft::with_timeout_cause(p.ctx, 0s, too_slow);
        p.cancel(finished_early);
        rows.push_back({"timeout under a cause, expired first", c.ctx, deadline, too_slow, 0});
    }
    {
        auto p = weft::with_cancel_cause(weft::background());
        auto c = weft::with_timeout_cause(p.ctx, 1h, too_slow);
        p.cancel(finished_early);
        rows.push_back({"timeout under a cause, parent first", c.ctx, canceled, finished_early, 0});
    }
    {
        auto p = weft::with_cancel_cause(weft::background());
        const auto w = weft::without_cancel(p.ctx);
        p.cancel(finished_early);
        rows.push_back({"without_cancel of a canceled parent", w, 0, nullptr, 0});
    }
    {
        auto p = weft::with_timeout_cause(weft::background(), 0s, too_slow);
        rows.push_back(
            {"without_cancel of an expired parent", weft::without_cancel(p.ctx), 0, nullptr, 0});
    }
    for (const auto& r : rows) {
        CAPTURE(r.name);
        CHECK(r.ctx.err().value() == r.err);
        const auto c = weft::cause(r.ctx);
        if (r.err == 0) {
            CHECK(c == nullptr);
        } else if (r.cause) {
            CHECK(c == r.cause);  // the very object given
        } else if (r.default_cause < 0) {
            CHECK(tag_of(c) == -r.default_cause);
        } else {
            CHECK(errc_of_cause(c) == r.default_cause);
        }
    }
}

// --- deadlines -----------------------------------------------------------------------------

TEST_CASE("with_timeout: expires with deadline_exceeded at its deadline") {
    WEFT_WATCHDOG();
    const auto before = std::chrono::steady_clock::now();
    auto [ctx, cancel] = weft::with_timeout(weft::background(), 30ms);
    REQUIRE(ctx.deadline());
    CHECK(*ctx.deadline() >= before + 30ms);
    CHECK(*ctx.deadline() <= std::chrono::steady_clock::now() + 30ms);
    CHECK_FALSE(ctx.err());
    CHECK_FALSE(ctx.done().receive().has_value());  // blocks until the deadline closes it
    CHECK(std::chrono::steady_clock::now() >= *ctx.deadline());
    CHECK(ctx.err() == weft::context_errc::deadline_exceeded);
    CHECK(ctx.err() == std::errc::timed_out);
    CHECK(errc_of_cause(weft::cause(ctx)) ==
          static_cast<int>(weft::context_errc::deadline_exceeded));
    cancel();  // after expiry: nothing changes
    CHECK(ctx.err() == weft::context_errc::deadline_exceeded);
}

TEST_CASE("with_deadline: any clock; a deadline now or in the past is expired at birth") {
    WEFT_WATCHDOG();
    {
        const auto sys = std::chrono::system_clock::now() + 1h;
        auto c = weft::with_deadline(weft::background(), sys);
        REQUIRE(c.ctx.deadline());
        const auto expect = std::chrono::steady_clock::now() + 1h;
        CHECK(*c.ctx.deadline() > expect - 5s);
        CHECK(*c.ctx.deadline() < expect + 5s);
        CHECK_FALSE(c.ctx.err());
    }
    for (auto d : {std::chrono::steady_clock::now(), std::chrono::steady_clock::now() - 1h}) {
        auto c = weft::with_deadline(weft::background(), d);
        CHECK(c.ctx.err() == weft::context_errc::deadline_exceeded);  // already, no waiting
        CHECK(is_done(c.ctx));
    }
    auto zero = weft::with_timeout(weft::background(), 0ns);
    CHECK(zero.ctx.err() == weft::context_errc::deadline_exceeded);
    auto negative = weft::with_timeout(weft::background(), -5s);
    CHECK(negative.ctx.err() == weft::context_errc::deadline_exceeded);
    // A huge timeout saturates instead of overflowing.
    auto forever = weft::with_timeout(weft::background(), std::chrono::hours::max());
    CHECK_FALSE(forever.ctx.err());
    forever.cancel();
}

TEST_CASE("deadline inheritance: a later child deadline adds nothing, an earlier one wins") {
    WEFT_WATCHDOG();
    const std::size_t timers = pending_timers();
    auto parent = weft::with_timeout(weft::background(), 1h);
    const auto pd = *parent.ctx.deadline();
    CHECK(pending_timers() == timers + 1);

    // Later: the child is a with_cancel of the parent, with the parent's deadline and no timer.
    auto later = weft::with_timeout_cause(parent.ctx, 2h, std::make_exception_ptr(other_error{}));
    CHECK(later.ctx.deadline() == pd);
    auto same = weft::with_deadline(parent.ctx, pd);
    CHECK(same.ctx.deadline() == pd);
    CHECK(pending_timers() == timers + 1);

    // Every kind of child sees the nearest deadline.
    static const weft::context_key<int> key("k");
    std::stop_source src;
    CHECK(weft::with_cancel(parent.ctx).ctx.deadline() == pd);
    CHECK(weft::with_cancel_cause(parent.ctx).ctx.deadline() == pd);
    CHECK(weft::with_value(parent.ctx, key, 1).deadline() == pd);
    CHECK(weft::with_stop_token(parent.ctx, src.get_token()).deadline() == pd);
    CHECK_FALSE(weft::without_cancel(parent.ctx).deadline());

    // Earlier: its own deadline and its own timer.
    auto earlier = weft::with_timeout(parent.ctx, 10ms);
    REQUIRE(earlier.ctx.deadline());
    CHECK(*earlier.ctx.deadline() < pd);
    CHECK(pending_timers() == timers + 2);
    CHECK_FALSE(earlier.ctx.done().receive().has_value());
    CHECK(earlier.ctx.err() == weft::context_errc::deadline_exceeded);
    CHECK_FALSE(parent.ctx.err());  // never up
    CHECK(pending_timers() == timers + 1);

    // When the parent's deadline passes, the later-deadline child reports the parent's cause.
    auto short_parent = weft::with_timeout_cause(weft::background(), 10ms,
                                                 std::make_exception_ptr(tagged_error(1)));
    auto long_child =
        weft::with_timeout_cause(short_parent.ctx, 1h, std::make_exception_ptr(tagged_error(2)));
    CHECK_FALSE(long_child.ctx.done().receive().has_value());
    CHECK(long_child.ctx.err() == weft::context_errc::deadline_exceeded);
    CHECK(tag_of(weft::cause(long_child.ctx)) == 1);

    parent.cancel();
    CHECK(later.ctx.err() == weft::context_errc::canceled);
    CHECK(pending_timers() == timers);
}

// --- values --------------------------------------------------------------------------------

namespace {
struct point {
    int x, y;
};
const weft::context_key<std::string> user_key("user");
const weft::context_key<std::string> other_string_key("user");  // same name, another key
const weft::context_key<int> request_id_key("request id");
const weft::context_key<point> point_key("point");
const weft::context_key<std::unique_ptr<int>> owned_key("owned");
const weft::context_key<const char*> nullable_key("nullable");
}  // namespace

TEST_CASE("with_value: typed keys, lookup walks the chain, the nearest value shadows") {
    const auto c1 = weft::with_value(weft::background(), user_key, "ann");
    const auto c2 = weft::with_value(c1, request_id_key, 42);
    const auto c3 = weft::with_value(c2, point_key, point{1, 2});
    const auto c4 = weft::with_value(c3, user_key, std::string("bob"));         // shadows c1's
    const auto c5 = weft::with_value(c4, owned_key, std::make_unique<int>(9));  // move-only

    CHECK(*c1.value(user_key) == "ann");
    CHECK(c1.value(request_id_key) == nullptr);
    CHECK(c1.value(other_string_key) == nullptr);  // identity is the key object, not its name
    CHECK(*c3.value(user_key) == "ann");
    CHECK(*c3.value(request_id_key) == 42);
    CHECK(c3.value(point_key)->y == 2);
    CHECK(*c4.value(user_key) == "bob");
    CHECK(*c5.value(user_key) == "bob");
    CHECK(*c5.value(request_id_key) == 42);
    REQUIRE(c5.value(owned_key) != nullptr);
    CHECK(**c5.value(owned_key) == 9);
    CHECK(*c2.value(user_key) == "ann");  // the parent is unchanged
    CHECK(std::string(user_key.name()) == "user");

    // Values are visible through every kind of child.
    std::stop_source src;
    CHECK(*weft::with_cancel(c4).ctx.value(user_key) == "bob");
    CHECK(*weft::with_timeout(c4, 1h).ctx.value(user_key) == "bob");
    CHECK(*weft::with_stop_token(c4, src.get_token()).value(user_key) == "bob");
    CHECK(*weft::without_cancel(c4).value(user_key) == "bob");

    // Shadowing with a "nil" value, as Go's WithValue(ctx, k, nil).
    const auto n1 = weft::with_value(weft::background(), nullable_key, "set");
    const auto n2 = weft::with_value(n1, nullable_key, nullptr);
    CHECK(std::string(*n1.value(nullable_key)) == "set");
    REQUIRE(n2.value(nullable_key) != nullptr);
    CHECK(*n2.value(nullable_key) == nullptr);

    // A value node adds no cancellation of its own.
    CHECK_FALSE(c5.done());
    CHECK_FALSE(c5.deadline());
}

TEST_CASE("with_value: a value lives as long as any context that can see it") {
    const std::string* seen = nullptr;
    weft::context leaf;
    {
        auto [ctx, cancel] = weft::with_cancel(weft::background());
        const auto v = weft::with_value(ctx, user_key, std::string(1000, 'x'));
        leaf = weft::with_cancel(v).ctx;
        seen = leaf.value(user_key);
        cancel();
    }  // every handle but `leaf` is gone
    REQUIRE(seen != nullptr);
    CHECK(leaf.value(user_key) == seen);
    CHECK(seen->size() == 1000);  // ASan: no use after free
    CHECK(leaf.err() == weft::context_errc::canceled);
}

// --- without_cancel --------------------------------------------------------------------------

TEST_CASE("without_cancel: values visible, never canceled, no deadline") {
    auto [parent, cancel] = weft::with_timeout(weft::with_value({}, user_key, "ann"), 1h);
    const auto detached = weft::without_cancel(parent);
    CHECK(*detached.value(user_key) == "ann");
    CHECK_FALSE(detached.deadline());
    CHECK_FALSE(detached.done());
    CHECK_FALSE(detached.stop_token().stop_possible());
    CHECK(links(parent) == 0);  // it does not join the parent's tree

    cancel();
    CHECK(parent.err() == weft::context_errc::canceled);
    CHECK_FALSE(detached.err());
    CHECK(weft::cause(detached) == nullptr);

    // Its own children are cancellable, independently of the canceled parent.
    auto [child, cancel_child] = weft::with_cancel(detached);
    CHECK_FALSE(child.err());
    CHECK(*child.value(user_key) == "ann");
    cancel_child();
    CHECK(child.err() == weft::context_errc::canceled);

    // after_func on it: f never runs, stop() prevents it.
    std::atomic<bool> ran{false};
    auto h = weft::after_func(detached, [&] { ran = true; });
    CHECK(h.stop());
    CHECK_FALSE(h.stop());
    CHECK_FALSE(ran.load());
}

// --- std::stop_token, both ways -------------------------------------------------------------

TEST_CASE("with_stop_token: a std::stop_source's stop cancels the context") {
    WEFT_WATCHDOG();
    std::stop_source src;
    auto ctx = weft::with_stop_token(weft::background(), src.get_token());
    CHECK(ctx.done());
    CHECK_FALSE(ctx.err());
    CHECK_FALSE(ctx.deadline());
    src.request_stop();
    CHECK(is_done(ctx));
    CHECK(ctx.err() == weft::context_errc::canceled);
    CHECK(errc_of_cause(weft::cause(ctx)) == static_cast<int>(weft::context_errc::canceled));

    // An already-stopped token: born canceled.
    auto born = weft::with_stop_token(weft::background(), src.get_token());
    CHECK(born.err() == weft::context_errc::canceled);
    CHECK(is_done(born));

    // A token that can never stop: only the parent can cancel it.
    auto [parent, cancel] = weft::with_cancel(weft::background());
    auto never = weft::with_stop_token(parent, std::stop_token{});
    CHECK_FALSE(never.err());
    CHECK(links(parent) == 1);
    cancel();
    CHECK(never.err() == weft::context_errc::canceled);
    CHECK(links(parent) == 0);
}

TEST_CASE(
    "with_stop_token: the parent cancels it; a later stop does nothing; dropping it "
    "deregisters from the stop_source") {
    WEFT_WATCHDOG();
    std::stop_source src;
    auto [parent, cancel] = weft::with_cancel_cause(weft::background());
    auto ctx = weft::with_stop_token(parent, src.get_token());
    cancel(std::make_exception_ptr(tagged_error(8)));
    CHECK(ctx.err() == weft::context_errc::canceled);
    CHECK(tag_of(weft::cause(ctx)) == 8);
    src.request_stop();  // its callback is gone: the first cancellation stands
    CHECK(tag_of(weft::cause(ctx)) == 8);

    // Dropped while the source lives: a later stop must not touch the dead node (ASan).
    std::stop_source src2;
    auto [p2, cancel2] = weft::with_cancel(weft::background());
    for (int i = 0; i < 100; ++i) (void)weft::with_stop_token(p2, src2.get_token());
    CHECK(links(p2) == 0);
    src2.request_stop();
    CHECK_FALSE(p2.err());
    cancel2();
}

TEST_CASE("with_stop_token: a std::jthread's token") {
    WEFT_WATCHDOG();
    weft::channel<int> started(1);
    std::error_code seen;
    {
        std::jthread worker([&](std::stop_token st) {
            auto ctx = weft::with_stop_token(weft::background(), st);
            (void)started.send(1);
            (void)ctx.done().receive();  // until the jthread is asked to stop
            seen = ctx.err();
        });
        CHECK(started.receive() == std::optional<int>(1));
        let_block();
    }  // ~jthread: request_stop(), then join()
    CHECK(seen == weft::context_errc::canceled);

    // And explicitly, with a stop requested while the worker waits in receive(ctx).
    weft::channel<int> never(0);
    op_status st = op_status::ok;
    std::jthread worker([&](std::stop_token tok) {
        auto ctx = weft::with_stop_token(weft::background(), std::move(tok));
        st = never.receive(ctx).status;
    });
    let_block();
    worker.request_stop();
    worker.join();
    CHECK(st == op_status::canceled);
}

TEST_CASE("ctx.stop_token(): stop requested on cancel, also when obtained after it") {
    WEFT_WATCHDOG();
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    const auto tok = ctx.stop_token();
    CHECK(tok.stop_possible());
    CHECK_FALSE(tok.stop_requested());
    CHECK(ctx.stop_token() == tok);  // one stop_source per context

    // A stop_callback runs on the canceling thread, before cancel() returns, and sees err().
    std::error_code err_in_callback;
    bool ran = false;
    std::stop_callback cb(tok, [&, c = ctx] {
        ran = true;
        err_in_callback = c.err();
    });

    // A thread waiting on a condition_variable_any with the token is woken by the cancel.
    std::mutex m;
    std::condition_variable_any cv;
    bool woken_by_stop = false;
    std::thread waiter([&, c = ctx] {
        std::unique_lock lock(m);
        woken_by_stop = !cv.wait(lock, c.stop_token(), [] { return false; });
    });
    let_block();
    cancel();
    CHECK(ran);
    CHECK(err_in_callback == weft::context_errc::canceled);
    CHECK(tok.stop_requested());
    waiter.join();
    CHECK(woken_by_stop);

    // Obtained after the cancellation: already stopped.
    auto [late, cancel_late] = weft::with_cancel(weft::background());
    cancel_late();
    CHECK(late.stop_token().stop_requested());
    // Through a value node, and for a child of the canceled one.
    CHECK(weft::with_value(late, request_id_key, 1).stop_token().stop_requested());
    CHECK(weft::with_cancel(late).ctx.stop_token().stop_requested());
    // Round trip: context -> stop_token -> context.
    auto [a, cancel_a] = weft::with_cancel(weft::background());
    auto b = weft::with_stop_token(weft::background(), a.stop_token());
    CHECK_FALSE(b.err());
    cancel_a();
    CHECK(b.err() == weft::context_errc::canceled);
}

// --- after_func ----------------------------------------------------------------------------

TEST_CASE("after_func: runs once, on its own thread, after the cancellation") {
    WEFT_WATCHDOG();
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    std::atomic<int> runs{0};
    std::error_code err_seen;
    std::thread::id ran_on;
    weft::channel<int> done(1);
    // Channels go into f by value: f may still be inside send() when the test has its value
    // and ends.
    auto h = weft::after_func(ctx, [&, done, c = ctx]() mutable {
        err_seen = c.err();
        ran_on = std::this_thread::get_id();
        runs.fetch_add(1);
        (void)done.send(1);
    });
    CHECK(links(ctx) == 1);
    std::this_thread::sleep_for(5ms);
    CHECK(runs.load() == 0);  // not before the cancellation
    cancel();
    CHECK(done.receive() == std::optional<int>(1));
    CHECK(err_seen == weft::context_errc::canceled);
    CHECK(ran_on != std::this_thread::get_id());
    CHECK(links(ctx) == 0);
    CHECK_FALSE(h.stop());  // started: too late
    cancel();
    std::this_thread::sleep_for(5ms);
    CHECK(runs.load() == 1);
}

TEST_CASE("after_func: at once if the context is already done; after a deadline; by a parent") {
    WEFT_WATCHDOG();
    weft::channel<int> done(3);
    {
        auto [ctx, cancel] = weft::with_cancel(weft::background());
        cancel();
        auto h = weft::after_func(ctx, [done]() mutable { (void)done.send(1); });
        CHECK(done.receive() == std::optional<int>(1));
        CHECK_FALSE(h.stop());
    }
    {
        auto [ctx, cancel] = weft::with_timeout(weft::background(), 10ms);
        (void)weft::after_func(ctx, [done]() mutable { (void)done.send(2); });  // handle dropped
        CHECK(done.receive() == std::optional<int>(2));
        CHECK(ctx.err() == weft::context_errc::deadline_exceeded);
    }
    {
        auto [parent, cancel] = weft::with_cancel(weft::background());
        const auto child = weft::with_value(weft::with_cancel(parent).ctx, request_id_key, 1);
        (void)weft::after_func(child, [done]() mutable { (void)done.send(3); });
        cancel();
        CHECK(done.receive() == std::optional<int>(3));
    }
}

TEST_CASE("after_func: stop() true prevents f; false once started or stopped") {
    WEFT_WATCHDOG();
    {
        auto [ctx, cancel] = weft::with_cancel(weft::background());
        std::atomic<bool> ran{false};
        auto h = weft::after_func(ctx, [&] { ran = true; });
        CHECK(links(ctx) == 1);
        CHECK(h.stop());
        CHECK(links(ctx) == 0);
        cancel();
        std::this_thread::sleep_for(10ms);
        CHECK_FALSE(ran.load());
        CHECK_FALSE(h.stop());
    }
    {
        // stop() while f runs: false, and it does not wait for f.
        auto [ctx, cancel] = weft::with_cancel(weft::background());
        weft::channel<int> started(1), release(0);
        auto h = weft::after_func(ctx, [started, release]() mutable {
            (void)started.send(1);
            (void)release.receive();
        });
        cancel();
        CHECK(started.receive() == std::optional<int>(1));
        CHECK_FALSE(h.stop());
        CHECK(release.send(0));
    }
    {
        // A context that can never be canceled: stop() succeeds, f never runs.
        std::atomic<bool> ran{false};
        auto h = weft::after_func(weft::background(), [&] { ran = true; });
        CHECK(h.stop());
        CHECK_FALSE(ran.load());
        weft::after_func_handle empty;
        CHECK_FALSE(empty.stop());
    }
    {
        // A dropped context with a pending record: f never runs, nothing leaks (LSan).
        std::atomic<bool> ran{false};
        {
            auto [ctx, cancel] = weft::with_cancel(weft::background());
            (void)weft::after_func(ctx, [&, big = std::vector<int>(100)] { ran = true; });
        }
        CHECK_FALSE(ran.load());
    }
}

TEST_CASE("after_func: cancel() does not wait for f") {
    WEFT_WATCHDOG();
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    weft::channel<int> handoff(0);
    // Blocks until received.
    auto h = weft::after_func(ctx, [handoff]() mutable { (void)handoff.send(1); });
    cancel();  // returns although f is blocked
    CHECK(handoff.receive() == std::optional<int>(1));
    CHECK_FALSE(h.stop());
}

// --- err() and done() agree ----------------------------------------------------------------

TEST_CASE("err() and done() agree: err set implies done closed, done closed implies err set") {
    WEFT_WATCHDOG();
    const int rounds = static_cast<int>(scale(2000));
    int err_without_done = 0, done_without_err = 0;
    for (int i = 0; i < rounds; ++i) {
        auto c = weft::with_cancel(weft::background());
        auto done = c.ctx.done();
        std::thread t([cancel = c.cancel] { cancel(); });
        while (!c.ctx.err()) spin_pause();
        if (done.try_receive().status != op_status::closed) ++err_without_done;
        t.join();
    }
    for (int i = 0; i < rounds / 10; ++i) {
        auto c = weft::with_cancel(weft::background());
        std::atomic<bool> bad{false};
        std::thread t([&bad, ctx = c.ctx] {
            (void)ctx.done().receive();
            if (!ctx.err()) bad = true;
        });
        c.cancel();
        t.join();
        done_without_err += bad ? 1 : 0;
    }
    CHECK(err_without_done == 0);
    CHECK(done_without_err == 0);
}

TEST_CASE("after any cancel() returns, the loser's too, err() is set and done() is closed") {
    WEFT_WATCHDOG();
    const int rounds = static_cast<int>(scale(5000));
    int not_done = 0;
    for (int i = 0; i < rounds; ++i) {
        auto c = weft::with_cancel(weft::background());
        (void)c.ctx.done();  // make the channel, so that closing it is part of the cancellation
        std::atomic<int> arrived{0}, bad{0};
        auto racer = [&, cancel = c.cancel, ctx = c.ctx] {
            arrived.fetch_add(1);
            while (arrived.load() < 2) spin_pause();
            cancel();
            if (!ctx.err() || !is_done(ctx)) bad.fetch_add(1);
        };
        std::thread a(racer), b(racer);
        a.join();
        b.join();
        not_done += bad.load();
    }
    CHECK(not_done == 0);
}

TEST_CASE("waits that race a cancel() always end: wait_group::wait(ctx), receive(ctx), sleep") {
    WEFT_WATCHDOG();
    const int rounds = static_cast<int>(scale(2000));
    weft::channel<int> never(0);
    int wrong = 0;
    for (int i = 0; i < rounds; ++i) {
        weft::wait_group wg;
        wg.add(1);
        auto c = weft::with_cancel(weft::background());
        (void)c.ctx.done();
        std::thread t([cancel = c.cancel] { cancel(); });
        switch (i % 3) {
            case 0: wrong += wg.wait(c.ctx) == weft::context_errc::canceled ? 0 : 1; break;
            case 1: wrong += never.receive(c.ctx).status == op_status::canceled ? 0 : 1; break;
            default: wrong += weft::sleep(c.ctx, 1h) == weft::context_errc::canceled ? 0 : 1;
        }
        t.join();
        wg.done();
    }
    CHECK(wrong == 0);
}

// --- channel operations that take a context -------------------------------------------------

namespace {
enum class flavor { rendezvous, buffered, unbounded };
constexpr flavor all_flavors[] = {flavor::rendezvous, flavor::buffered, flavor::unbounded};
constexpr std::size_t buffered_cap = 4;
const char* name(flavor f) {
    return f == flavor::rendezvous ? "rendezvous"
           : f == flavor::buffered ? "buffered"
                                   : "unbounded";
}
template <class T>
weft::channel<T> make(flavor f) {
    switch (f) {
        case flavor::rendezvous: return weft::channel<T>(0);
        case flavor::buffered: return weft::channel<T>(buffered_cap);
        case flavor::unbounded: break;
    }
    return weft::channel<T>::unbounded();
}
}  // namespace

TEST_CASE("receive(ctx): canceled while blocked, nothing taken, the channel still works") {
    WEFT_WATCHDOG();
    for (const flavor f : all_flavors) {
        CAPTURE(name(f));
        auto ch = make<int>(f);
        auto c = weft::with_cancel(weft::background());
        weft::receive_result<int> r{op_status::ok, std::nullopt};
        std::atomic<bool> entered{false};
        std::thread t([&] {
            entered = true;
            r = ch.receive(c.ctx);
        });
        while (!entered) std::this_thread::yield();
        let_block();
        c.cancel();
        t.join();
        CHECK(r.status == op_status::canceled);
        CHECK_FALSE(r.value.has_value());
        CHECK(ch.try_receive().status == op_status::empty);  // nothing extra appears

        // The channel is intact: a value sent now goes to the next receiver.
        auto live = weft::with_cancel(weft::background());
        std::thread s([&] { CHECK(ch.send(7)); });
        auto got = ch.receive(live.ctx);
        s.join();
        CHECK(got.status == op_status::ok);
        CHECK(got.value == std::optional<int>(7));
        CHECK(ch.try_receive().status == op_status::empty);
    }
}

TEST_CASE("send(ctx): canceled while blocked, the value is handed back, nothing lost") {
    WEFT_WATCHDOG();
    for (const flavor f : {flavor::rendezvous, flavor::buffered}) {
        CAPTURE(name(f));
        auto ch = make<int>(f);
        const int queued = f == flavor::buffered ? static_cast<int>(buffered_cap) : 0;
        for (int i = 0; i < queued; ++i) REQUIRE(ch.try_send(i));
        auto c = weft::with_cancel(weft::background());
        weft::send_result<int> r{op_status::ok, std::nullopt};
        std::atomic<bool> entered{false};
        std::thread t([&] {
            entered = true;
            r = ch.send(c.ctx, 100);
        });
        while (!entered) std::this_thread::yield();
        let_block();
        c.cancel();
        t.join();
        CHECK(r.status == op_status::canceled);
        CHECK(r.value == std::optional<int>(100));
        CHECK_FALSE(static_cast<bool>(r));
        // Exactly what was queued before, then nothing.
        for (int i = 0; i < queued; ++i) CHECK(ch.try_receive().value == std::optional<int>(i));
        CHECK(ch.try_receive().status == op_status::empty);
    }
    // An unbounded channel never blocks a sender: send(ctx) just succeeds.
    auto ch = make<int>(flavor::unbounded);
    auto c = weft::with_cancel(weft::background());
    for (int i = 0; i < 1000; ++i) REQUIRE(ch.send(c.ctx, i));
    CHECK(ch.size() == 1000);
}

TEST_CASE("receive(ctx) / send(ctx): success, also when the wait ends with a partner") {
    WEFT_WATCHDOG();
    for (const flavor f : all_flavors) {
        CAPTURE(name(f));
        auto ch = make<int>(f);
        auto c = weft::with_timeout(weft::background(), 1h);
        std::thread t([&] {
            let_block();
            CHECK(ch.send(c.ctx, 5));
        });
        auto r = ch.receive(c.ctx);  // blocks until the send
        t.join();
        CHECK(r.status == op_status::ok);
        CHECK(*r == 5);
        if (f == flavor::rendezvous) {
            // A sender that blocks until a receiver comes.
            std::thread rx([&] {
                let_block();
                CHECK(ch.receive() == std::optional<int>(6));
            });
            CHECK(ch.send(c.ctx, 6));
            rx.join();
        }
        // A context that can never be canceled takes the plain path.
        std::thread rx([&] {
            auto v = ch.receive(weft::background());
            CHECK(v.status == op_status::ok);
            CHECK(v.value == std::optional<int>(1));
        });
        CHECK(ch.send(weft::background(), 1));
        rx.join();
    }
}

TEST_CASE("receive(ctx) / send(ctx): closed beats nothing") {
    WEFT_WATCHDOG();
    for (const flavor f : all_flavors) {
        CAPTURE(name(f));
        auto c = weft::with_cancel(weft::background());
        {
            auto ch = make<int>(f);
            if (f != flavor::rendezvous) REQUIRE(ch.try_send(1));
            ch.close();
            if (f != flavor::rendezvous) {
                auto first = ch.receive(c.ctx);  // buffered values first
                CHECK(first.status == op_status::ok);
                CHECK(*first == 1);
            }
            CHECK(ch.receive(c.ctx).status == op_status::closed);
            auto s = ch.send(c.ctx, 2);
            CHECK(s.status == op_status::closed);
            CHECK(s.value == std::optional<int>(2));
        }
        {
            // Closed while a receiver waits.
            auto ch = make<int>(f);
            std::thread t([&] {
                let_block();
                ch.close();
            });
            CHECK(ch.receive(c.ctx).status == op_status::closed);
            t.join();
        }
        if (f == flavor::rendezvous) {
            // Closed while a sender waits: the value comes back with `closed`.
            auto ch = make<int>(f);
            std::thread t([&] {
                let_block();
                ch.close();
            });
            auto s = ch.send(c.ctx, 3);
            t.join();
            CHECK(s.status == op_status::closed);
            CHECK(s.value == std::optional<int>(3));
        }
        CHECK_FALSE(c.ctx.err());
    }
}

TEST_CASE("receive(ctx) / send(ctx): an already-canceled context wins over a ready channel") {
    WEFT_WATCHDOG();
    for (const flavor f : {flavor::buffered, flavor::unbounded}) {
        CAPTURE(name(f));
        auto ch = make<int>(f);
        REQUIRE(ch.try_send(1));
        auto c = weft::with_cancel(weft::background());
        c.cancel();
        auto r = ch.receive(c.ctx);
        CHECK(r.status == op_status::canceled);
        CHECK_FALSE(r.value.has_value());
        auto s = ch.send(c.ctx, 2);
        CHECK(s.status == op_status::canceled);
        CHECK(s.value == std::optional<int>(2));
        CHECK(ch.size() == 1);
        CHECK(ch.try_receive().value == std::optional<int>(1));  // still there
        ch.close();
        CHECK(ch.receive(c.ctx).status == op_status::canceled);  // also over a closed one
    }
    // Through the directional views too.
    weft::channel<int> ch(1);
    weft::sender<int> tx = ch;
    weft::receiver<int> rx = ch;
    auto c = weft::with_cancel(weft::background());
    CHECK(tx.send(c.ctx, 1));
    CHECK(rx.receive(c.ctx).value == std::optional<int>(1));
    c.cancel();
    CHECK(tx.send(c.ctx, 2).status == op_status::canceled);
    CHECK(rx.receive(c.ctx).status == op_status::canceled);
}

TEST_CASE("receive(ctx) on a deadline context ends with canceled and deadline_exceeded") {
    WEFT_WATCHDOG();
    weft::channel<int> ch(0);
    auto c = weft::with_timeout(weft::background(), 20ms);
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(ch.receive(c.ctx).status == op_status::canceled);
    CHECK(std::chrono::steady_clock::now() - t0 >= 19ms);
    CHECK(c.ctx.err() == weft::context_errc::deadline_exceeded);
    auto s = ch.send(weft::with_timeout(weft::background(), 5ms).ctx, 4);
    CHECK(s.status == op_status::canceled);
    CHECK(s.value == std::optional<int>(4));
    // A nil channel with a context: waits for the context only.
    weft::channel<int> nil;
    CHECK(nil.receive(weft::with_timeout(weft::background(), 5ms).ctx).status ==
          op_status::canceled);
    CHECK(nil.send(weft::with_timeout(weft::background(), 5ms).ctx, 1).status ==
          op_status::canceled);
}

TEST_CASE("send(ctx): move-only values come back intact") {
    WEFT_WATCHDOG();
    weft::channel<std::unique_ptr<int>> ch(0);
    auto c = weft::with_cancel(weft::background());
    auto p = std::make_unique<int>(11);
    int* const raw = p.get();
    weft::send_result<std::unique_ptr<int>> r{op_status::ok, std::nullopt};
    std::thread t([&] { r = ch.send(c.ctx, std::move(p)); });
    let_block();
    c.cancel();
    t.join();
    CHECK(r.status == op_status::canceled);
    REQUIRE(r.value.has_value());
    CHECK(r.value->get() == raw);  // the very object, not a copy
    CHECK(**r.value == 11);

    // Already canceled: handed back at once. Success: it arrives.
    CHECK(ch.send(c.ctx, std::move(*r.value)).value->get() == raw);
    auto live = weft::with_cancel(weft::background());
    weft::receive_result<std::unique_ptr<int>> got{op_status::ok, std::nullopt};
    std::thread rx([&] { got = ch.receive(live.ctx); });
    CHECK(ch.send(live.ctx, std::make_unique<int>(12)));
    rx.join();
    REQUIRE(got.status == op_status::ok);
    CHECK(**got == 12);
}

TEST_CASE("send(ctx) / receive(ctx) under contention: cancellation loses and duplicates nothing") {
    WEFT_WATCHDOG();
    const int per_producer = static_cast<int>(scale(20000));
    for (const flavor f : {flavor::rendezvous, flavor::buffered}) {
        CAPTURE(name(f));
        auto ch = make<int>(f);
        auto c = weft::with_cancel(weft::background());
        constexpr int producers = 3, consumers = 3;
        std::vector<std::vector<int>> sent(producers), returned(producers), got(consumers);
        std::atomic<int> progress{0};
        {
            goroutines g;
            for (int p = 0; p < producers; ++p)
                g.go([&, p] {
                    for (int i = 0; i < per_producer; ++i) {
                        const int v = p * per_producer + i;
                        auto r = ch.send(c.ctx, v);
                        if (r) {
                            sent[static_cast<std::size_t>(p)].push_back(v);
                            progress.fetch_add(1, std::memory_order_relaxed);
                        } else {
                            CHECK(r.status == op_status::canceled);
                            returned[static_cast<std::size_t>(p)].push_back(*r.value);
                            break;
                        }
                    }
                });
            for (int k = 0; k < consumers; ++k)
                g.go([&, k] {
                    for (;;) {
                        auto r = ch.receive(c.ctx);
                        if (!r) break;
                        got[static_cast<std::size_t>(k)].push_back(*r);
                    }
                });
            // Cancel somewhere in the middle of the traffic.
            while (progress.load(std::memory_order_relaxed) < per_producer / 2)
                std::this_thread::yield();
            c.cancel();
        }
        std::vector<int> all_sent, all_got, all_returned;
        for (auto& v : sent) all_sent.insert(all_sent.end(), v.begin(), v.end());
        for (auto& v : got) all_got.insert(all_got.end(), v.begin(), v.end());
        for (auto& v : returned) all_returned.insert(all_returned.end(), v.begin(), v.end());
        for (auto r = ch.try_receive(); r; r = ch.try_receive()) all_got.push_back(*r);
        std::sort(all_sent.begin(), all_sent.end());
        std::sort(all_got.begin(), all_got.end());
        CHECK(all_sent == all_got);  // every value that went in came out, once
        for (int v : all_returned)
            CHECK_FALSE(std::binary_search(all_sent.begin(), all_sent.end(), v));
        CHECK(all_sent.size() >= static_cast<std::size_t>(per_producer / 2));
    }
}

// --- wait_group::wait(ctx), sleep(ctx, d), select on done() -----------------------------------

TEST_CASE("wait_group::wait(ctx): canceled while blocked; success; zero wins") {
    WEFT_WATCHDOG();
    {
        weft::wait_group wg;
        wg.add(1);
        auto c = weft::with_cancel(weft::background());
        std::error_code e;
        std::thread t([&] { e = wg.wait(c.ctx); });
        REQUIRE(eventually([&] { return links(c.ctx) == 1; }));  // the waiter's hook
        c.cancel();
        t.join();
        CHECK(e == weft::context_errc::canceled);
        CHECK(wg.count() == 1);  // the counter is untouched
        CHECK(links(c.ctx) == 0);
        wg.done();
    }
    {
        weft::wait_group wg;
        wg.add(2);
        auto c = weft::with_cancel(weft::background());
        std::thread t([&] {
            let_block();
            wg.done();
            wg.done();
        });
        CHECK_FALSE(wg.wait(c.ctx));  // success: empty error_code
        t.join();
        CHECK(links(c.ctx) == 0);  // the hook was removed
        c.cancel();
        CHECK_FALSE(wg.wait(c.ctx));  // zero wins over a canceled context
    }
    {
        weft::wait_group wg;
        wg.add(1);
        auto c = weft::with_cancel(weft::background());
        c.cancel();
        CHECK(wg.wait(c.ctx) == weft::context_errc::canceled);  // at once
        CHECK(wg.wait(weft::with_timeout(weft::background(), 10ms).ctx) ==
              weft::context_errc::deadline_exceeded);
        std::thread t([&] {
            let_block();
            wg.done();
        });
        CHECK_FALSE(wg.wait(weft::background()));  // never canceled: a plain wait
        t.join();
    }
}

TEST_CASE("sleep(ctx, d): the full sleep, or the context's end") {
    WEFT_WATCHDOG();
    auto c = weft::with_cancel(weft::background());
    auto t0 = std::chrono::steady_clock::now();
    CHECK_FALSE(weft::sleep(c.ctx, 15ms));
    CHECK(std::chrono::steady_clock::now() - t0 >= 15ms);

    std::thread t([&] {
        let_block();
        c.cancel();
    });
    t0 = std::chrono::steady_clock::now();
    CHECK(weft::sleep(c.ctx, 1h) == weft::context_errc::canceled);
    CHECK(std::chrono::steady_clock::now() - t0 < 30s);
    t.join();
    CHECK(weft::sleep(c.ctx, 1h) == weft::context_errc::canceled);  // already: at once
    CHECK(weft::sleep(weft::with_timeout(weft::background(), 10ms).ctx, 1h) ==
          weft::context_errc::deadline_exceeded);
    t0 = std::chrono::steady_clock::now();
    CHECK_FALSE(weft::sleep(weft::background(), 5ms));
    CHECK(std::chrono::steady_clock::now() - t0 >= 5ms);
}

TEST_CASE("sleep(ctx, d): a d near duration::max() sleeps (for ever), also without a context") {
    WEFT_WATCHDOG();
    // Both sleepers stay blocked until the process ends (detached), so what they touch is static.
    static std::atomic<int> returned{0};
    static const auto c = weft::with_cancel(weft::background());
    weft::go([] {
        (void)weft::sleep(weft::background(), std::chrono::hours::max());
        returned.fetch_add(1);
    });
    weft::go([] {
        (void)weft::sleep(weft::without_cancel(c.ctx), std::chrono::nanoseconds::max());
        returned.fetch_add(1);
    });
    weft::channel<std::error_code> canceled(1);
    weft::go([canceled]() mutable {
        (void)canceled.send(weft::sleep(c.ctx, std::chrono::hours::max()));
    });
    std::this_thread::sleep_for(50ms);
    CHECK(returned.load() == 0);
    CHECK(canceled.try_receive().status == op_status::empty);
    c.cancel();
    CHECK(canceled.receive() == std::optional<std::error_code>(weft::context_errc::canceled));
    CHECK(returned.load() == 0);
}

TEST_CASE("select with on_receive(ctx.done(), ...)") {
    WEFT_WATCHDOG();
    auto c = weft::with_cancel(weft::background());
    weft::channel<int> data(1);
    // Active: the done case is not ready.
    CHECK(weft::select(weft::on_receive(c.ctx.done(), [] {}), weft::otherwise([] {})) == 1);
    // A ready data case fires while the context is active.
    REQUIRE(data.try_send(1));
    int got = 0;
    CHECK(weft::select(weft::on_receive(data, [&](std::optional<int> v) { got = *v; }),
                       weft::on_receive(c.ctx.done(), [] {})) == 0);
    CHECK(got == 1);
    // Blocks until the cancellation; the done case gets an empty optional (closed).
    std::thread t([&] {
        let_block();
        c.cancel();
    });
    bool closed = false;
    CHECK(weft::select(weft::on_receive(data, [](std::optional<int>) {}),
                       weft::on_receive(c.ctx.done(), [&](std::optional<std::monostate> v) {
                           closed = !v;
                       })) == 1);
    t.join();
    CHECK(closed);
    CHECK(data.try_receive().status == op_status::empty);  // the data case took nothing
}

// --- many threads --------------------------------------------------------------------------

TEST_CASE("one cancel releases every waiter: done(), receive(ctx), wait_group::wait(ctx)") {
    WEFT_WATCHDOG();
    const int n = WEFT_TEST_SANITIZED ? 64 : 128;  // of each kind
    auto c = weft::with_cancel_cause(weft::background());
    const auto ctx = weft::with_value(c.ctx, request_id_key, 1);  // waiters go through a value
    weft::channel<int> never(0);
    weft::wait_group wg;
    wg.add(1);
    std::atomic<int> ready{0}, released{0}, wrong{0};
    {
        goroutines g;
        for (int i = 0; i < n; ++i) {
            g.go([&] {
                ready.fetch_add(1);
                if (ctx.done().receive().has_value()) wrong.fetch_add(1);
                released.fetch_add(1);
            });
            g.go([&] {
                ready.fetch_add(1);
                if (never.receive(ctx).status != op_status::canceled) wrong.fetch_add(1);
                released.fetch_add(1);
            });
            g.go([&] {
                ready.fetch_add(1);
                if (wg.wait(ctx) != weft::context_errc::canceled) wrong.fetch_add(1);
                released.fetch_add(1);
            });
        }
        while (ready.load() < 3 * n) std::this_thread::yield();
        REQUIRE(eventually([&] { return links(ctx) == static_cast<std::size_t>(n); }));
        let_block();
        CHECK(released.load() == 0);
        c.cancel(std::make_exception_ptr(tagged_error(1)));
    }  // joins every waiter: a missed wake-up is a watchdog abort
    CHECK(released.load() == 3 * n);
    CHECK(wrong.load() == 0);
    CHECK(links(ctx) == 0);
    CHECK(wg.count() == 1);
    wg.done();
}

TEST_CASE("concurrent cancellers: exactly one wins, everyone sees the same cause") {
    WEFT_WATCHDOG();
    const int rounds = static_cast<int>(scale(300));
    constexpr int cancellers = 8;
    for (int round = 0; round < rounds; ++round) {
        auto c = weft::with_cancel_cause(weft::background());
        auto child = weft::with_cancel(c.ctx);
        std::atomic<int> go_flag{0};
        std::vector<int> seen(cancellers, -1);
        std::atomic<int> not_done{0};
        {
            goroutines g;
            for (int i = 0; i < cancellers; ++i)
                g.go([&, i] {
                    go_flag.fetch_add(1);
                    while (go_flag.load() < cancellers) std::this_thread::yield();
                    c.cancel(std::make_exception_ptr(tagged_error(i)));
                    // Winner or not, once cancel() has returned the context is done.
                    seen[static_cast<std::size_t>(i)] = tag_of(weft::cause(c.ctx));
                    if (!c.ctx.err() || !is_done(c.ctx)) not_done.fetch_add(1);
                });
        }
        const int winner = tag_of(weft::cause(c.ctx));
        CHECK(tag_of(weft::cause(child.ctx)) == winner);  // the child got the winner's cause
        CHECK(winner >= 0);
        CHECK(winner < cancellers);
        for (int s : seen) CHECK(s == winner);
        CHECK(not_done.load() == 0);
        CHECK(c.ctx.err() == weft::context_errc::canceled);
    }
}

TEST_CASE("children created while the parent is canceled are never left active") {
    WEFT_WATCHDOG();
    const int rounds = static_cast<int>(scale(40));
    constexpr int makers = 4;
    const std::size_t timers = pending_timers();
    for (int round = 0; round < rounds; ++round) {
        auto parent = weft::with_cancel_cause(weft::background());
        const auto why = std::make_exception_ptr(tagged_error(round));
        std::stop_source src;
        std::vector<std::vector<weft::context>> made(makers);
        std::atomic<int> total{0};
        {
            goroutines g;
            for (int m = 0; m < makers; ++m)
                g.go([&, m] {
                    auto& mine = made[static_cast<std::size_t>(m)];
                    int after = 0;
                    for (int i = 0; after < 20; ++i) {
                        if (parent.ctx.err()) ++after;  // keep going a little after the cancel
                        switch (i % 5) {
                            case 0: mine.push_back(weft::with_cancel(parent.ctx).ctx); break;
                            case 1: mine.push_back(weft::with_cancel_cause(parent.ctx).ctx); break;
                            case 2: mine.push_back(weft::with_timeout(parent.ctx, 1h).ctx); break;
                            case 3:
                                mine.push_back(weft::with_stop_token(parent.ctx, src.get_token()));
                                break;
                            default:
                                mine.push_back(weft::with_cancel(
                                                   weft::with_value(parent.ctx, request_id_key, i))
                                                   .ctx);
                        }
                        total.fetch_add(1, std::memory_order_relaxed);
                    }
                });
            while (total.load(std::memory_order_relaxed) < 50 + round) std::this_thread::yield();
            parent.cancel(why);
        }
        int active = 0, wrong_cause = 0;
        for (const auto& v : made)
            for (const auto& ctx : v) {
                if (!ctx.err() || !is_done(ctx)) ++active;
                if (weft::cause(ctx) != why) ++wrong_cause;
            }
        CHECK(active == 0);
        CHECK(wrong_cause == 0);
        CHECK(links(parent.ctx) == 0);
    }
    CHECK(pending_timers() == timers);
}

TEST_CASE("a long-lived parent does not grow: canceled or dropped children leave it") {
    WEFT_WATCHDOG();
    auto [parent, cancel] = weft::with_cancel(weft::background());
    const int n = static_cast<int>(scale(100000));
    for (int i = 0; i < n; ++i) {
        auto c = weft::with_cancel(parent);
        if (links(parent) != 1) {
            FAIL_CHECK("child not linked");
            break;
        }
        c.cancel();
        if (links(parent) != 0) {
            FAIL_CHECK("canceled child still linked");
            break;
        }
    }
    CHECK(links(parent) == 0);

    // Dropped without a cancel: every kind leaves by itself.
    static const weft::context_key<int> key("k");
    std::stop_source src;
    const std::size_t timers = pending_timers();
    {
        std::vector<weft::context> kept;
        for (int i = 0; i < 100; ++i) {
            kept.push_back(weft::with_cancel(parent).ctx);
            kept.push_back(weft::with_cancel_cause(parent).ctx);
            kept.push_back(weft::with_timeout(parent, 1h).ctx);
            kept.push_back(weft::with_stop_token(parent, src.get_token()));
            kept.push_back(weft::with_cancel(weft::with_value(parent, key, i)).ctx);
        }
        CHECK(links(parent) == 500);
        CHECK(pending_timers() == timers + 100);
        for (int i = 0; i < 1000; ++i) (void)weft::with_timeout(parent, 1h);  // dropped at once
        CHECK(links(parent) == 500);
    }
    CHECK(links(parent) == 0);
    CHECK(pending_timers() == timers);

    // Many short timeout children canceled one by one.
    for (int i = 0; i < n / 10; ++i) weft::with_timeout(parent, 1h).cancel();
    CHECK(links(parent) == 0);
    CHECK(pending_timers() == timers);
    CHECK_FALSE(parent.err());
    cancel();
}

TEST_CASE("no timer remains after timeout contexts are canceled, expire, or are dropped") {
    WEFT_WATCHDOG();
    const std::size_t timers = pending_timers();
    const int n = static_cast<int>(scale(2000));
    {
        std::vector<weft::cancel_func> cancels;
        std::vector<weft::context> kept;
        for (int i = 0; i < n; ++i) {
            auto c = weft::with_timeout(weft::background(), 1h + std::chrono::seconds(i));
            cancels.push_back(c.cancel);
            kept.push_back(c.ctx);
        }
        CHECK(pending_timers() == timers + static_cast<std::size_t>(n));
        for (std::size_t i = 0; i < cancels.size(); i += 2) cancels[i]();  // half canceled
        CHECK(pending_timers() == timers + static_cast<std::size_t>(n) / 2);
    }  // the other half dropped
    CHECK(pending_timers() == timers);

    // The parent's cancellation releases its children's timers.
    {
        auto [parent, cancel] = weft::with_cancel(weft::background());
        std::vector<weft::context> kept;
        for (int i = 0; i < n; ++i)
            kept.push_back(weft::with_timeout(parent, 1h + std::chrono::seconds(i)).ctx);
        CHECK(pending_timers() == timers + static_cast<std::size_t>(n));
        cancel();
        CHECK(pending_timers() == timers);
    }
    // Expiry removes the entry; so does a stop on a deadline child of with_stop_token.
    {
        auto c = weft::with_timeout(weft::background(), 1ms);
        (void)c.ctx.done().receive();
        CHECK(eventually([&] { return pending_timers() == timers; }));
        std::stop_source src;
        auto s = weft::with_stop_token(weft::background(), src.get_token());
        auto d = weft::with_timeout(s, 1h);
        CHECK(pending_timers() == timers + 1);
        src.request_stop();
        CHECK(d.ctx.err() == weft::context_errc::canceled);
        CHECK(pending_timers() == timers);
    }
}

TEST_CASE("no thread per context, and none left behind") {
    WEFT_WATCHDOG();
    if (thread_count() == 0) return;  // no /proc
    {
        // Start the timer service (one thread for every deadline in the process).
        auto warm = weft::with_timeout(weft::background(), 1h);
        warm.cancel();
    }
    // after_func threads of earlier tests may still be exiting: wait until the count is stable.
    const std::size_t base = settled_thread_count();
    {
        auto [root, cancel] = weft::with_cancel(weft::background());
        std::vector<weft::context> kept;
        for (int i = 0; i < 1000; ++i) {
            kept.push_back(weft::with_timeout(root, 1h).ctx);
            kept.push_back(weft::with_cancel(kept.back()).ctx);
            kept.push_back(weft::with_value(kept.back(), request_id_key, i));
        }
        CHECK(thread_count() == base);  // contexts and deadlines start no thread
        // after_func starts one thread per run f, which ends with f.
        std::atomic<int> ran{0};
        const int funcs = 16;
        for (int i = 0; i < funcs; ++i)
            (void)weft::after_func(kept[static_cast<std::size_t>(i) * 3],
                                   [&] { ran.fetch_add(1); });
        cancel();
        CHECK(eventually([&] { return ran.load() == funcs; }));
    }
    CHECK(eventually([&] { return thread_count() <= base; }));
    CHECK(thread_count() <= base);
}

namespace {

// Runs f on a thread with a 256 KiB stack and returns what it returned. A recursion of one
// frame per level of a 5,000-deep chain does not fit there (the recursive code crashed these
// tests, also at their sanitizer depths), so a test that passes on it shows the code iterates.
// (std::thread cannot set a stack size.)
bool on_small_stack(bool (*f)()) {
    struct call {
        bool (*f)();
        bool result = false;
    } c{f};
    pthread_attr_t attr;
    REQUIRE(pthread_attr_init(&attr) == 0);
    REQUIRE(pthread_attr_setstacksize(&attr, 256 * 1024) == 0);
    pthread_t t;
    const int rc = pthread_create(
        &t, &attr,
        [](void* p) -> void* {
            auto* cp = static_cast<call*>(p);
            cp->result = cp->f();
            return nullptr;
        },
        &c);
    pthread_attr_destroy(&attr);
    REQUIRE(rc == 0);
    REQUIRE(pthread_join(t, nullptr) == 0);
    return c.result;
}

}  // namespace

// Go's TestCancelRemoves... has no depth limit: a chain of cancelCtx is canceled by a loop
// over its children. Here the canceller walks the tree with a work list, not by recursion.
TEST_CASE("deep chains: canceling the root of a 50,000-deep with_cancel chain") {
    WEFT_WATCHDOG(std::chrono::seconds(60));
    CHECK(on_small_stack([] {
        const std::size_t depth = scale(50000);
        auto [root, cancel] = weft::with_cancel(weft::background());
        weft::context leaf = root;
        weft::context middle;
        for (std::size_t i = 0; i < depth; ++i) {
            leaf = weft::with_cancel(leaf).ctx;  // the cancel functions are dropped: the chain
            if (i == depth / 2) middle = leaf;   // lives through the leaf
        }
        auto done = leaf.done();
        const bool active = !leaf.err() && !middle.err();
        cancel();
        // Returning drops `leaf` and `middle`, which releases the chain: iterative too.
        return active && leaf.err() == weft::context_errc::canceled &&
               middle.err() == weft::context_errc::canceled &&
               done.try_receive().status == op_status::closed;
    }));
}

TEST_CASE("deep chains: destroying a 1,000,000-deep with_value chain") {
    WEFT_WATCHDOG(std::chrono::seconds(60));
    CHECK(on_small_stack([] {
        static const weft::context_key<std::size_t> key("depth");
        const std::size_t depth = scale(1000000);
        weft::context ctx;
        for (std::size_t i = 0; i < depth; ++i) ctx = weft::with_value(ctx, key, i);
        const std::size_t* v = ctx.value(key);
        const bool found = v && *v == depth - 1;
        ctx = weft::context();  // the last handle: the whole chain goes here
        return found;
    }));
}

TEST_CASE("deep chains: a mixed chain whose values hold contexts, canceled and destroyed") {
    WEFT_WATCHDOG(std::chrono::seconds(60));
    CHECK(on_small_stack([] {
        static const weft::context_key<weft::context> held("held");
        const std::size_t depth = scale(30000);
        auto [root, cancel] = weft::with_cancel(weft::background());
        weft::context leaf = root;
        for (std::size_t i = 0; i < depth; ++i) {
            switch (i % 4) {
                case 0: leaf = weft::with_cancel(leaf).ctx; break;
                case 1: leaf = weft::with_timeout(leaf, 1h).ctx; break;
                // A value that is itself a short chain: destroying the node destroys another
                // chain from inside the release loop.
                case 2:
                    leaf = weft::with_value(
                        leaf, held, weft::with_cancel(weft::with_value(leaf, held, leaf)).ctx);
                    break;
                case 3: leaf = weft::with_stop_token(leaf, std::stop_token{}); break;
            }
        }
        const auto detached = weft::without_cancel(leaf);
        cancel();
        return leaf.err() == weft::context_errc::canceled && !detached.err() &&
               detached.value(held) != nullptr;
    }));
    CHECK(eventually([] { return pending_timers() == 0; }));
}
