// The tutorial's "spawn 100,000 goroutines", done with weft coroutines on one Boost.Asio
// io_context: every task parks on one channel until a single close starts them all, then
// sends its result through a bounded channel to one collector. One OS thread runs them all.
// The Go original: examples/go/patterns/spawn_many/main.go; the page: docs/patterns/coroutines.md.
#include <weft/asio.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <cstdio>
#include <variant>

namespace net = boost::asio;

int main() {
    constexpr int tasks = 100000;
    net::io_context ioc;  // run by this thread alone
    weft::channel<std::monostate> start(0);
    weft::channel<int> results(1024);

    for (int i = 0; i < tasks; ++i) {
        net::co_spawn(
            ioc,
            [=]() -> net::awaitable<void> {
                (void)co_await start.async_receive(net::use_awaitable);  // closed: go
                (void)co_await results.async_send(i % 7, net::use_awaitable);
            },
            net::detached);
    }

    std::array<int, 7> counts{};
    net::co_spawn(
        ioc,
        [&]() -> net::awaitable<void> {
            start.close();  // wakes every parked task
            for (int n = 0; n < tasks; ++n) {
                auto r = co_await results.async_receive(net::use_awaitable);
                ++counts[static_cast<std::size_t>(*r)];
            }
        },
        net::detached);
    ioc.run();

    std::printf("%d tasks started by one close\n", tasks);
    for (std::size_t k = 0; k < counts.size(); ++k)
        std::printf("remainder %zu: %d\n", k, counts[k]);
}
