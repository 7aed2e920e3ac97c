// weft-chat: a TCP chat room (see chat_server.hpp). SIGINT or SIGTERM cancels the server's
// context: every session ends, every socket is closed, and the program exits 0.
//
//     weft-chat [--address A] [--port P] [--buffer N] [--threads T]
//
// The first line on stdout is "listening on A:P", P being the port bound (--port 0, the
// default, picks a free one). Try it with `nc 127.0.0.1 P` in two terminals.
#include "chat_server.hpp"

#include <weft/context.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace net = boost::asio;

namespace {

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr,
                 "weft-chat: %s\nusage: weft-chat [--address A] [--port P] [--buffer N] "
                 "[--threads T]\n",
                 why);
    std::exit(2);
}

unsigned long number(const char* s, unsigned long max) {
    char* end = nullptr;
    const unsigned long v = std::strtoul(s, &end, 10);
    if (!*s || *end || v > max) usage("bad number");
    return v;
}

}  // namespace

int main(int argc, char** argv) try {
    std::string address = "127.0.0.1";
    unsigned short port = 0;
    chat::options opt;
    unsigned threads = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (i + 1 >= argc) usage("missing value");
        const char* v = argv[++i];
        if (a == "--address") {
            address = v;
        } else if (a == "--port") {
            port = static_cast<unsigned short>(number(v, 65535));
        } else if (a == "--buffer") {
            opt.buffer = number(v, 1 << 20);
        } else if (a == "--threads") {
            threads = static_cast<unsigned>(number(v, 256));
            if (threads == 0) usage("--threads must be at least 1");
        } else {
            usage("unknown option");
        }
    }

    net::io_context ioc;
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    chat::server room(ioc, {net::ip::make_address(address), port}, opt);
    net::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([cancel = cancel](const boost::system::error_code& ec, int) {
        if (!ec) cancel();  // every session ends; run() then runs out of work
    });
    std::printf("listening on %s:%u\n", address.c_str(), static_cast<unsigned>(room.port()));
    std::fflush(stdout);

    room.start(ctx);
    std::vector<std::thread> more;
    for (unsigned t = 1; t < threads; ++t) more.emplace_back([&ioc] { ioc.run(); });
    ioc.run();
    for (auto& t : more) t.join();

    const chat::stats s = room.snapshot();
    std::printf("shut down: %llu sessions, %llu messages, %llu cut off as too slow\n",
                static_cast<unsigned long long>(s.sessions),
                static_cast<unsigned long long>(s.messages),
                static_cast<unsigned long long>(s.too_slow));
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "weft-chat: %s\n", e.what());
    return 1;
}
