// examples/patterns/pipeline_coro.cpp - the tutorial's first pipeline with coroutine stages:
// generate numbers, square them, keep the even squares. Each stage is a Boost.Asio coroutine
// that ranges over its input channel and closes its output, as Go's stage goroutines do; one
// thread runs them all. Then an endless generator, stopped by canceling a context once three
// results have been read: every stage selects between its send and ctx.done().
//
// The Go original is examples/go/patterns/pipeline_squares/main.go (its hand-made stages).
// Deterministic: stdout is compared with pipeline_coro.expected.
// docs/patterns/pipeline.md quotes this file verbatim; keep the two in step.
#include <weft/asio.hpp>
#include <weft/context.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdio>
#include <vector>

namespace net = boost::asio;
using net::use_awaitable;

// Each stage starts a coroutine and returns the channel it writes, as Go's stages do.
weft::receiver<int> generate(net::io_context& ioc, std::vector<int> nums) {
    weft::channel<int> out(0);
    net::co_spawn(
        ioc,
        [out, nums]() -> net::awaitable<void> {
            for (int n : nums) (void)co_await out.async_send(n, use_awaitable);
            out.close();
        },
        net::detached);
    return out;
}

weft::receiver<int> square(net::io_context& ioc, weft::receiver<int> in) {
    weft::channel<int> out(0);
    net::co_spawn(
        ioc,
        [in, out]() -> net::awaitable<void> {
            while (auto r = co_await in.async_receive(use_awaitable))
                (void)co_await out.async_send(*r * *r, use_awaitable);
            out.close();
        },
        net::detached);
    return out;
}

weft::receiver<int> filter_even(net::io_context& ioc, weft::receiver<int> in) {
    weft::channel<int> out(0);
    net::co_spawn(
        ioc,
        [in, out]() -> net::awaitable<void> {
            while (auto r = co_await in.async_receive(use_awaitable))
                if (*r % 2 == 0) (void)co_await out.async_send(*r, use_awaitable);
            out.close();
        },
        net::detached);
    return out;
}

void coroutine_stages() {
    net::io_context ioc;
    auto results = filter_even(ioc, square(ioc, generate(ioc, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10})));
    net::co_spawn(
        ioc,
        [results]() -> net::awaitable<void> {
            std::printf("coroutine stages:");
            while (auto r = co_await results.async_receive(use_awaitable)) std::printf(" %d", *r);
            std::printf("\n");
        },
        net::detached);
    ioc.run();
}

// Sends v unless ctx ends first: Go's select { case out <- v: case <-ctx.Done(): return }.
net::awaitable<bool> send_or_done(const weft::context& ctx, weft::channel<int> out, int v) {
    auto i = co_await weft::async_select(use_awaitable, weft::on_send(out, v, [] {}),
                                         weft::on_receive(ctx.done(), [] {}));
    co_return i == 0;
}

// An endless generator and a squarer that watch ctx; the reader cancels it after three.
void stopped_after_three() {
    net::io_context ioc;
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    weft::channel<int> nums(0), squares(0);
    net::co_spawn(
        ioc,
        [ctx = ctx, nums]() -> net::awaitable<void> {
            for (int n = 1; co_await send_or_done(ctx, nums, n); ++n) {}
            nums.close();
        },
        net::detached);
    net::co_spawn(
        ioc,
        [ctx = ctx, nums, squares]() -> net::awaitable<void> {
            while (auto r = co_await nums.async_receive(use_awaitable))
                if (*r % 2 == 0 && !co_await send_or_done(ctx, squares, *r * *r)) break;
            squares.close();
        },
        net::detached);
    net::co_spawn(
        ioc,
        [cancel = cancel, squares]() -> net::awaitable<void> {
            std::printf("endless, stopped after three:");
            for (int i = 0; i < 3; ++i) {
                auto r = co_await squares.async_receive(use_awaitable);
                std::printf(" %d", *r);
            }
            cancel();  // every stage is parked in a select with ctx.done(): each one ends
        },
        net::detached);
    ioc.run();  // returns once every stage has ended
    std::printf(" (%s)\n", ctx.err().message().c_str());
}

int main() {
    coroutine_stages();
    stopped_after_three();
}
