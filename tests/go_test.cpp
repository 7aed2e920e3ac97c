// Tests of weft/go.hpp: argument passing, stack size, and "a panic kills the program".
#include <weft/channel.hpp>
#include <weft/context.hpp>
#include <weft/detail/spin_lock.hpp>
#include <weft/go.hpp>
#include <weft/wait_group.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <pthread.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.hpp"

extern char** environ;

namespace {

// The stack size of the calling thread, as the system reports it.
std::size_t current_stack_size() {
    pthread_attr_t attr;
    std::size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstacksize(&attr, &size);
        pthread_attr_destroy(&attr);
    }
    return size;
}

// Touches `bytes` of stack, so a too-small stack would crash.
__attribute__((noinline)) int use_stack(std::size_t bytes) {
    std::vector<char> unused;  // keep the frame honest under -O2
    volatile char* big = static_cast<volatile char*>(__builtin_alloca(bytes));
    for (std::size_t i = 0; i < bytes; i += 4096) big[i] = static_cast<char>(i);
    return big[bytes / 2];
}

struct child_result {
    int status = 0;
    std::string err;
};

// Runs this test binary again with only the helper test case below and WEFT_GO_PANIC_CHILD=mode
// in its environment; returns its wait status and what it wrote to stderr.
child_result run_panic_child(const char* mode) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 0 /* O_RDONLY */, 0);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);

    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e)
        if (std::strncmp(*e, "WEFT_GO_PANIC_CHILD=", 20) != 0) env_strings.emplace_back(*e);
    env_strings.push_back(std::string("WEFT_GO_PANIC_CHILD=") + mode);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);

    std::string self = "/proc/self/exe";
    std::string filter = "--test-case=go: panic child helper";
    std::string quiet = "--no-version";
    std::vector<char*> argv{self.data(), filter.data(), quiet.data(), nullptr};

    pid_t pid = 0;
    const int rc = posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    child_result out;
    if (rc != 0) {
        ::close(fds[0]);
        FAIL("posix_spawn failed: " << rc);
        return out;
    }
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
        out.err.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    ::waitpid(pid, &out.status, 0);
    return out;
}

bool died(int status) {
    return WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0);
}

}  // namespace

TEST_CASE("go: panic child helper") {
    // Does nothing in a normal run; in the child spawned below it panics in a goroutine.
    const char* mode = std::getenv("WEFT_GO_PANIC_CHILD");
    if (!mode) return;
    const std::string m = mode;
    if (m == "std") weft::go([] { throw std::runtime_error("boom in a goroutine"); });
    if (m == "int") weft::go([] { throw 42; });
    if (m == "stack")
        weft::go(weft::go_options{.stack_size = 256 * 1024},
                 [] { throw std::logic_error("boom on a small stack"); });
    if (m == "wg") {
        weft::wait_group wg;
        wg.go([] { throw std::runtime_error("boom in wg.go"); });
        wg.wait();  // never returns: the panic terminates the process first
    }
    if (m == "assert") {
        weft::detail::spin_lock lock;
        lock.unlock();  // never locked: breaks spin_lock's invariant, WEFT_ASSERT aborts
    }
    std::this_thread::sleep_for(std::chrono::seconds(30));  // the panic ends us long before
    std::_Exit(0);                                          // reached only if it did not
}

TEST_CASE("go: runs f with decay-copied arguments on another thread") {
    WEFT_WATCHDOG();
    weft::wait_group wg;
    std::atomic<std::thread::id> where{};
    std::string shared = "by ref";
    std::string copy_seen, ref_seen;
    std::unique_ptr<int> moved_seen;
    std::string arg = "copied";
    wg.add(1);
    weft::go(
        [&](std::string s, std::string& r, std::unique_ptr<int> p) {
            where = std::this_thread::get_id();
            copy_seen = s;
            ref_seen = r;
            r = "changed";
            moved_seen = std::move(p);
            wg.done();
        },
        arg, std::ref(shared), std::make_unique<int>(7));
    arg = "modified after go()";  // f got its own copy
    wg.wait();
    CHECK(where.load() != std::this_thread::get_id());
    CHECK(copy_seen == "copied");
    CHECK(ref_seen == "by ref");
    CHECK(shared == "changed");
    REQUIRE(moved_seen);
    CHECK(*moved_seen == 7);
}

TEST_CASE("go: plain functions and many goroutines") {
    WEFT_WATCHDOG();
    static std::atomic<int> hits{0};
    struct fn {
        static void hit(weft::wait_group* wg) {
            hits.fetch_add(1);
            wg->done();
        }
    };
    weft::wait_group wg;
    const int n = static_cast<int>(weft_test::scale(200));
    wg.add(n);
    for (int i = 0; i < n; ++i) weft::go(&fn::hit, &wg);
    wg.wait();
    CHECK(hits.load() == n);
}

TEST_CASE("go: stack_size gives the thread that stack") {
    WEFT_WATCHDOG();
    weft::wait_group wg;
    std::size_t small = 0, big = 0, tiny = 0;
    int used = -1;
    wg.go([] {});  // default options still work through wg.go
    wg.add(3);
    weft::go(weft::go_options{.stack_size = 128 * 1024}, [&] {
        small = current_stack_size();
        wg.done();
    });
    // 24 MiB of locals: would overflow the default 8 MiB stack.
    weft::go(weft::go_options{.stack_size = 64u << 20}, [&] {
        big = current_stack_size();
        used = use_stack(24u << 20);
        wg.done();
    });
    // Below PTHREAD_STACK_MIN and not a page multiple: rounded up, not rejected.
    weft::go(weft::go_options{.stack_size = 1000}, [&] {
        tiny = current_stack_size();
        wg.done();
    });
    wg.wait();
    CHECK(small >= 128 * 1024);
    CHECK(small < (8u << 20));
    CHECK(big >= (64u << 20));
    CHECK(used != -1);
    CHECK(tiny >= 1000);
}

TEST_CASE("go: an exception escaping f prints what() and terminates the program") {
    WEFT_WATCHDOG();
    auto r = run_panic_child("std");
    CHECK(died(r.status));
    CHECK(r.err.find("weft::go: uncaught exception: boom in a goroutine") != std::string::npos);

    r = run_panic_child("int");
    CHECK(died(r.status));
    CHECK(r.err.find("weft::go: uncaught exception (not derived from std::exception)") !=
          std::string::npos);

    r = run_panic_child("stack");
    CHECK(died(r.status));
    CHECK(r.err.find("weft::go: uncaught exception: boom on a small stack") != std::string::npos);

    r = run_panic_child("wg");
    CHECK(died(r.status));
    CHECK(r.err.find("weft::go: uncaught exception: boom in wg.go") != std::string::npos);
}

TEST_CASE("go: the thread is named weft-go until f renames it") {
#if defined(__linux__)
    WEFT_WATCHDOG();
    weft::wait_group wg;
    std::string name(16, '\0');
    wg.go([&name] { pthread_getname_np(pthread_self(), name.data(), name.size()); });
    wg.wait();
    CHECK(std::string(name.c_str()) == "weft-go");
    name.assign(16, '\0');
    wg.add(1);
    weft::go(weft::go_options{.stack_size = 1 << 20}, [&name, &wg] {
        pthread_getname_np(pthread_self(), name.data(), name.size());
        wg.done();
    });
    wg.wait();
    CHECK(std::string(name.c_str()) == "weft-go");
#endif
}

TEST_CASE("after_func: the callback's thread is named weft-after") {
#if defined(__linux__)
    WEFT_WATCHDOG();
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    weft::channel<std::string> got(1);
    [[maybe_unused]] auto stop = weft::after_func(ctx, [got] {
        std::string name(16, '\0');
        pthread_getname_np(pthread_self(), name.data(), name.size());
        (void)got.try_send(std::string(name.c_str()));
    });
    cancel();
    auto name = got.receive_for(std::chrono::seconds(30));
    REQUIRE(name);
    CHECK(*name == "weft-after");
#endif
}

TEST_CASE("WEFT_ASSERT prints file:line and the expression, then aborts (debug builds)") {
#if WEFT_ASSERTS_ENABLED
    WEFT_WATCHDOG();
    auto r = run_panic_child("assert");
    // abort(): a signal, or under ThreadSanitizer, which reports the abort, its exit code.
    CHECK((WIFSIGNALED(r.status) || (WIFEXITED(r.status) && WEXITSTATUS(r.status) != 0)));
    CHECK(r.err.find("spin_lock.hpp:") != std::string::npos);
    CHECK(r.err.find("weft assertion failed: locked_.load(std::memory_order_relaxed)") !=
          std::string::npos);
#endif
}
