// Consumer test of weft::asio: a coroutine receives 42 from a thread through a weft::channel.
#include <weft/asio.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <thread>

int main() {
    boost::asio::io_context ioc;
    weft::channel<int> ch(0);
    int got = 0;
    boost::asio::co_spawn(
        ioc,
        [&]() -> boost::asio::awaitable<void> {
            auto r = co_await ch.async_receive(boost::asio::use_awaitable);
            got = r ? *r : -1;
        },
        boost::asio::detached);
    std::thread sender([&] { (void)ch.send(42); });
    ioc.run();
    sender.join();
    return got == 42 ? 0 : 1;
}
