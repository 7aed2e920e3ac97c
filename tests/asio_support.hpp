// What the tests of weft's Asio parts share: the warning Boost.Asio needs silenced, the
// namespace alias and coroutine names, and an io_context run under a watchdog.
#pragma once

#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 at -O1 (the sanitizer builds) warns inside Boost.Asio's completion objects (use_future,
// co_spawn) that one "may be used uninitialized": a false positive in Boost's code, not in
// weft's. A diagnostic pragma holds to the end of the including file, where the templates are
// instantiated.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <weft/asio.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <thread>
#include <vector>

#include "support.hpp"

namespace net = boost::asio;
using net::awaitable;
using net::use_awaitable;
using namespace std::chrono_literals;

namespace weft_test {

// Runs `ioc` on `threads` threads until it runs out of work, under a watchdog.
inline void run(net::io_context& ioc, const char* what, int threads = 1) {
    watchdog w(what);
    std::vector<std::thread> extra;
    for (int i = 1; i < threads; ++i) extra.emplace_back([&] { ioc.run(); });
    ioc.run();
    for (auto& t : extra) t.join();
}

}  // namespace weft_test

using weft_test::run;
