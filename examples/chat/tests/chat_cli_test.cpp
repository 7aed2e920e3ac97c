// The weft-chat program (WEFT_CHAT_EXE, set by CMake and Meson) as a child process: it prints
// its port, serves clients over loopback, and exits 0 when SIGINT or SIGTERM cancels it.
#include "chat_client.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <cstdlib>
#include <string>
#include <vector>

using chat_test::client;

namespace {

std::string chat_exe() {
    const char* p = std::getenv("WEFT_CHAT_EXE");
    if (!p || !*p) chat_test::fail("WEFT_CHAT_EXE is not set (run through ctest or meson test)");
    return p;
}

// "listening on 127.0.0.1:PORT" -> PORT.
unsigned short port_of(const std::string& first) {
    const std::string prefix = "listening on 127.0.0.1:";
    REQUIRE(first.starts_with(prefix));
    return static_cast<unsigned short>(std::stoi(first.substr(prefix.size())));
}

void serve_and_stop(const std::vector<std::string>& args, int sig) {
    chat_test::child server(args);
    const unsigned short port = port_of(server.line());
    client a(port);
    chat_test::join_as(a, "ann");
    client b(port);
    chat_test::join_as(b, "bob");
    client idle(port);
    (void)idle.line();  // its join: it is a member
    b.send_raw("an unfinished line");
    a.send("hello");
    CHECK(b.lines_until("<ann> hello") ==
          std::vector<std::string>{"* guest3 joined", "<ann> hello"});

    server.signal(sig);
    CHECK(server.wait() == 0);
    CHECK(a.until_eof().size() >= 1);  // bob's rename and the hello, at least
    CHECK(b.until_eof().empty());
    (void)idle.until_eof();
    CHECK(server.rest() == "shut down: 3 sessions, 1 messages, 0 cut off as too slow\n");
}

}  // namespace

TEST_CASE("weft-chat prints its port, serves, and exits 0 on SIGINT") {
    weft_test::watchdog w("weft-chat SIGINT", std::chrono::seconds(120));
    serve_and_stop({chat_exe(), "--port", "0"}, SIGINT);
}

TEST_CASE("weft-chat on two threads exits 0 on SIGTERM") {
    weft_test::watchdog w("weft-chat SIGTERM", std::chrono::seconds(120));
    serve_and_stop({chat_exe(), "--port", "0", "--threads", "2", "--buffer", "16"}, SIGTERM);
}

TEST_CASE("weft-chat rejects a bad option") {
    weft_test::watchdog w("weft-chat usage", std::chrono::seconds(120));
    chat_test::child server({chat_exe(), "--port", "http"});
    CHECK(server.wait() == 2);
    CHECK(server.rest().empty());
}
