// Test support for weft-chat: a loopback client on a plain non-blocking POSIX socket whose
// every wait has a time limit (a deadlock is a red test), a driver that lets many clients talk
// and listen at once from one thread, and a child process for the command-line tests.
// Everything throws std::runtime_error on a timeout or a socket error.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../../../tests/support.hpp"

extern char** environ;

namespace chat_test {

using std::chrono::milliseconds;
using clock = std::chrono::steady_clock;

// The limit of one step (a line to arrive, a connection to close): generous, as a loaded
// machine or a sanitizer slows everything; a step that never ends still fails.
inline milliseconds step_limit() { return milliseconds(WEFT_TEST_SANITIZED ? 60000 : 20000); }

[[noreturn]] inline void fail(const std::string& what) { throw std::runtime_error(what); }

inline int poll_ms(clock::time_point until) {
    const auto left = std::chrono::duration_cast<milliseconds>(until - clock::now()).count();
    return left < 0 ? 0 : static_cast<int>(left);
}

class client {
public:
    // Connects to 127.0.0.1:port. A receive_buffer > 0 sets SO_RCVBUF first: a small one makes
    // a client that does not read fill up quickly.
    explicit client(unsigned short port, int receive_buffer = 0) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) fail(std::string("socket: ") + std::strerror(errno));
        if (receive_buffer > 0) {
            ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
        }
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            const int e = errno;
            ::close(fd_);
            fd_ = -1;
            throw std::system_error(e, std::generic_category(), "connect");
        }
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    }
    client(const client&) = delete;
    client& operator=(const client&) = delete;
    ~client() {
        if (fd_ >= 0) ::close(fd_);
    }

    int fd() const noexcept { return fd_; }
    bool at_eof() const noexcept { return eof_; }

    // Sends text and a newline, all of it.
    void send(std::string_view text) {
        std::string s(text);
        s += '\n';
        send_raw(s);
    }
    void send_raw(std::string_view s) {
        const auto until = clock::now() + step_limit();
        while (!s.empty()) {
            const ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
            if (n > 0) {
                s.remove_prefix(static_cast<std::size_t>(n));
                continue;
            }
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                fail(std::string("send: ") + std::strerror(errno));
            }
            pollfd p{fd_, POLLOUT, 0};
            if (::poll(&p, 1, poll_ms(until)) == 0) fail("send: timed out");
        }
    }

    // Reads what the socket has without waiting; appends complete lines to `out`. Sets at_eof()
    // at the end of the stream (a reset counts as an end).
    void pump(std::vector<std::string>& out) {
        char buf[65536];
        for (;;) {
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n > 0) {
                partial_.append(buf, static_cast<std::size_t>(n));
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
                eof_ = true;
            }
            break;
        }
        for (std::size_t nl; (nl = partial_.find('\n')) != std::string::npos;) {
            out.push_back(partial_.substr(0, nl));
            partial_.erase(0, nl + 1);
        }
    }

    // The next line; fails at the end of the stream or after the limit.
    std::string line() {
        const auto until = clock::now() + step_limit();
        for (;;) {
            if (!pending_.empty()) {
                std::string l = std::move(pending_.front());
                pending_.erase(pending_.begin());
                return l;
            }
            pump(pending_);
            if (!pending_.empty()) continue;
            if (eof_) fail("line: the server closed the connection");
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, poll_ms(until)) == 0) fail("line: timed out");
        }
    }
    // Lines up to and including the first equal to `want`.
    std::vector<std::string> lines_until(std::string_view want) {
        std::vector<std::string> seen;
        do { seen.push_back(line()); } while (seen.back() != want);
        return seen;
    }
    // Reads until the server closes the connection; returns the lines that came first.
    std::vector<std::string> until_eof() {
        const auto until = clock::now() + step_limit();
        std::vector<std::string> seen = std::move(pending_);
        pending_.clear();
        for (;;) {
            pump(seen);
            if (eof_) return seen;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, poll_ms(until)) == 0) fail("until_eof: timed out");
        }
    }
    // Closes with a reset (SO_LINGER 0), as a crashed client's kernel would.
    void reset() {
        linger l{1, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
    bool eof_ = false;
    std::string partial_;
    std::vector<std::string> pending_;  // read by pump() but not yet returned by line()
};

// Connects a client, reads its own join notice, renames it to `nick` and reads that notice.
inline void join_as(client& c, const std::string& nick) {
    const std::string joined = c.line();  // its own join: the first line it gets
    if (!joined.starts_with("* guest") || !joined.ends_with(" joined")) fail("join: " + joined);
    const std::string guest = joined.substr(2, joined.size() - 2 - 7);
    c.send("/nick " + nick);
    (void)c.lines_until("* " + guest + " is now known as " + nick);
}

// What each listener received while talkers talked.
struct conversation {
    std::vector<std::vector<std::string>> heard;  // per listener, in arrival order
};

// Each talker k says `count` lines "<nicks[k]>:<i>" (then `pad` bytes of padding), at most
// `window` lines ahead of the slowest listener's hearing of its lines, so no listener falls
// more than talkers x window lines behind (the server would cut it off) however the machine
// schedules the server's threads. Calls `midway` once, when the first talker has said half its
// lines. Returns when every listener heard every line of every talker; fails when a listener
// is disconnected, or after the step limit passes without progress.
inline conversation converse(const std::vector<client*>& talkers,
                             const std::vector<std::string>& nicks,
                             const std::vector<client*>& listeners, int count, int window,
                             std::size_t pad = 0, const std::function<void()>& midway = {}) {
    const std::string padding = pad ? " " + std::string(pad - 1, '.') : std::string();
    conversation r;
    r.heard.resize(listeners.size());
    std::vector<int> said(talkers.size(), 0);
    std::map<std::string, std::size_t> talker_of;
    for (std::size_t k = 0; k < nicks.size(); ++k) talker_of["<" + nicks[k] + "> "] = k;
    std::vector<std::vector<int>> got(listeners.size(), std::vector<int>(talkers.size(), 0));
    std::size_t complete = 0;
    bool midway_done = false;
    auto last_progress = clock::now();
    while (complete < listeners.size()) {
        for (std::size_t k = 0; k < talkers.size(); ++k) {
            int heard_by_all = count;
            for (const auto& g : got) heard_by_all = std::min(heard_by_all, g[k]);
            while (said[k] < count && said[k] - heard_by_all < window) {
                talkers[k]->send(nicks[k] + ":" + std::to_string(said[k]++) + padding);
            }
        }
        std::vector<pollfd> fds;
        for (auto* c : listeners) fds.push_back({c->fd(), POLLIN, 0});
        ::poll(fds.data(), fds.size(), 100);
        bool moved = false;
        for (std::size_t j = 0; j < listeners.size(); ++j) {
            if (!(fds[j].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            const std::size_t before = r.heard[j].size();
            listeners[j]->pump(r.heard[j]);
            if (listeners[j]->at_eof()) fail("converse: a listener was disconnected");
            for (std::size_t i = before; i < r.heard[j].size(); ++i) {
                const std::string& l = r.heard[j][i];
                const auto gt = l.find("> ");
                if (l.empty() || l[0] != '<' || gt == std::string::npos) continue;
                const auto t = talker_of.find(l.substr(0, gt + 2));
                if (t == talker_of.end()) continue;
                moved = true;
                if (++got[j][t->second] == count) {
                    bool all = true;
                    for (int g : got[j]) all = all && g == count;
                    if (all) ++complete;
                }
            }
        }
        if (midway && !midway_done && said[0] >= count / 2) {
            midway_done = true;
            midway();
        }
        if (moved) last_progress = clock::now();
        if (clock::now() - last_progress > step_limit()) fail("converse: no progress");
    }
    return r;
}

// The numbers `nick` said, in the order `heard` has them.
inline std::vector<int> said_by(const std::vector<std::string>& heard, const std::string& nick) {
    const std::string prefix = "<" + nick + "> " + nick + ":";
    std::vector<int> r;
    for (const auto& l : heard) {
        if (l.starts_with(prefix)) r.push_back(std::stoi(l.substr(prefix.size())));
    }
    return r;
}

inline std::vector<int> zero_to(int n) {
    std::vector<int> r;
    for (int i = 0; i < n; ++i) r.push_back(i);
    return r;
}

// A child process (weft-chat) with its stdout on a pipe, killed if it outlives the object.
class child {
public:
    explicit child(std::vector<std::string> args) {
        int out[2];
        if (::pipe2(out, O_CLOEXEC) != 0) fail("pipe2");
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        const int rc = ::posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        ::close(out[1]);
        out_ = out[0];
        if (rc != 0) {
            ::close(out_);
            pid_ = -1;
            throw std::system_error(rc, std::generic_category(), "posix_spawn " + args[0]);
        }
    }
    child(const child&) = delete;
    child& operator=(const child&) = delete;
    ~child() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        if (out_ >= 0) ::close(out_);
    }

    void signal(int sig) const { ::kill(pid_, sig); }

    // The next line of its stdout.
    std::string line() {
        const auto until = clock::now() + step_limit();
        for (;;) {
            if (const auto nl = out_buf_.find('\n'); nl != std::string::npos) {
                std::string l = out_buf_.substr(0, nl);
                out_buf_.erase(0, nl + 1);
                return l;
            }
            pollfd p{out_, POLLIN, 0};
            if (::poll(&p, 1, poll_ms(until)) == 0) fail("child: no output in time");
            char buf[4096];
            const ssize_t n = ::read(out_, buf, sizeof buf);
            if (n <= 0) fail("child: stdout closed");
            out_buf_.append(buf, static_cast<std::size_t>(n));
        }
    }

    // Its exit status (128 + signal if a signal ended it); -1 if it did not exit within the
    // limit (it is then killed).
    int wait() {
        const auto until = clock::now() + step_limit();
        for (;;) {
            int st = 0;
            const pid_t r = ::waitpid(pid_, &st, WNOHANG);
            if (r == pid_) {
                pid_ = -1;
                return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            }
            if (clock::now() > until) return -1;
            ::usleep(10000);
        }
    }
    // What is left on its stdout after it exited.
    std::string rest() {
        char buf[4096];
        for (ssize_t n; (n = ::read(out_, buf, sizeof buf)) > 0;) {
            out_buf_.append(buf, static_cast<std::size_t>(n));
        }
        return std::exchange(out_buf_, {});
    }

private:
    pid_t pid_ = -1;
    int out_ = -1;
    std::string out_buf_;
};

}  // namespace chat_test
