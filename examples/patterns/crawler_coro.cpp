// Go's errgroup crawler with coroutine tasks: one task per page, at most `limit` at once, the
// first error cancels the rest. The web is a deterministic in-memory link graph; the crawl
// goes level by level (one error_group per level, as Go's Wait cancels the group's context).
// Every task runs on this thread's io_context: no OS thread per task, and no mutex.
// The Go original: examples/go/patterns/crawler_coro/main.go; the page:
// docs/patterns/coroutines.md.
#include <weft/asio.hpp>
#include <weft/error_group.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace net = boost::asio;

constexpr std::uint64_t pages = 5000;
constexpr int limit = 8;

// The links on page p: 1 to 5 of them, a fixed function of p.
std::vector<int> links_of(int p) {
    std::vector<int> out;
    const auto u = static_cast<std::uint64_t>(p);
    for (std::uint64_t k = 0; k < 1 + u * 7 % 5; ++k)
        out.push_back(static_cast<int>((u * 2654435761u + k * 40503u + 17) % pages));
    return out;
}

struct stats {
    int active = 0, peak = 0;
    std::set<std::thread::id> threads;  // the OS threads that ran a task
};

// Fetches a page: a network round trip is a suspension (here a trip through the executor's
// queue); the broken page fails.
net::awaitable<std::vector<int>> fetch(int p, int broken, stats& st) {
    st.peak = std::max(st.peak, ++st.active);
    st.threads.insert(std::this_thread::get_id());
    auto ex = co_await net::this_coro::executor;
    for (int i = 0; i < 20; ++i) co_await net::post(ex, net::use_awaitable);
    --st.active;
    if (p == broken) throw std::runtime_error("page " + std::to_string(p) + ": 503 unavailable");
    co_return links_of(p);
}

net::awaitable<void> crawl(int broken, stats& st) {
    auto ex = co_await net::this_coro::executor;
    std::set<int> seen{0};
    std::vector<int> frontier{0};
    for (int depth = 0; !frontier.empty(); ++depth) {
        weft::error_group g(weft::background());  // Go: g, ctx := errgroup.WithContext(...)
        g.set_limit(limit);
        auto ctx = g.context();
        std::vector<int> next;
        for (int p : frontier) {
            auto task = [&, ctx, p]() -> net::awaitable<std::error_code> {
                if (auto err = ctx.err()) co_return err;  // another page failed: give up
                for (int l : co_await fetch(p, broken, st))
                    if (seen.insert(l).second) next.push_back(l);  // one thread: no lock
                co_return std::error_code{};
            };
            co_await g.async_spawn(ex, std::move(task), net::use_awaitable);  // waits for a slot
        }
        if (auto err = co_await g.async_wait(net::use_awaitable)) {
            try {
                std::rethrow_exception(err);
            } catch (const std::exception& e) {
                std::printf("crawl failed at depth %d: %s\n", depth, e.what());
            }
            co_return;
        }
        std::printf("depth %2d, pages %zu\n", depth, frontier.size());
        frontier = std::move(next);
    }
    std::printf("crawled %zu pages\n", seen.size());
}

int main() {
    for (int broken : {-1, 1234}) {
        if (broken != -1) std::printf("\n");
        net::io_context ioc;  // run by this thread alone
        stats st;
        net::co_spawn(ioc, crawl(broken, st), net::detached);
        ioc.run();
        std::printf("at most %d at once, on %zu OS thread(s)\n", st.peak, st.threads.size());
    }
}
