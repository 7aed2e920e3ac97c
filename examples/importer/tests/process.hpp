// Runs weft-import as a child process for the end-to-end tests: its exit status, stdout and
// stderr, with a time limit after which it is killed (a hung import is a red test, not a hung CI).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

extern char** environ;

namespace importer_test {

struct run_result {
    int status = -1;  // exit status, or 128 + signal number
    std::string out;
    std::string err;
};

// The weft-import binary the build made (CMake and Meson put it in the tests' environment).
inline std::string importer_exe() {
    const char* p = std::getenv("WEFT_IMPORT_EXE");
    if (!p || !*p)
        throw std::runtime_error(
            "WEFT_IMPORT_EXE is not set (run the test through ctest or meson test)");
    return p;
}

class child {
public:
    explicit child(std::vector<std::string> args) {
        int out[2], err[2];
        if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
            throw std::system_error(errno, std::generic_category(), "pipe2");
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_adddup2(&fa, err[1], 2);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        const int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        close(out[1]);
        close(err[1]);
        out_ = out[0];
        err_ = err[0];
        if (rc != 0) {
            close(out_);
            close(err_);
            throw std::system_error(rc, std::generic_category(), "posix_spawn " + args[0]);
        }
    }
    child(const child&) = delete;
    child& operator=(const child&) = delete;
    ~child() {
        if (pid_ > 0) {
            kill(SIGKILL);
            (void)wait(std::chrono::seconds(60));
        }
    }

    pid_t pid() const { return pid_; }
    void kill(int sig) const { ::kill(pid_, sig); }

    // Collects output until stdout holds `text` or both pipes close (the child exited), for at
    // most `limit`; returns stdout so far. wait() returns it again, with the rest.
    const std::string& wait_for_output(const std::string& text, std::chrono::seconds limit) {
        const auto end = std::chrono::steady_clock::now() + limit;
        while ((out_ >= 0 || err_ >= 0) && early_.out.find(text) == std::string::npos &&
               std::chrono::steady_clock::now() < end) {
            pollfd fds[2] = {{out_, POLLIN, 0}, {err_, POLLIN, 0}};
            if (poll(fds, 2, 100) > 0) {
                drain(fds[0], out_, early_.out);
                drain(fds[1], err_, early_.err);
            }
        }
        return early_.out;
    }

    // Collects output until the child exits; kills it after `limit`.
    run_result wait(std::chrono::seconds limit) {
        run_result r = std::move(early_);
        early_ = {};
        const auto end = std::chrono::steady_clock::now() + limit;
        bool killed = false;
        while (out_ >= 0 || err_ >= 0) {
            pollfd fds[2] = {{out_, POLLIN, 0}, {err_, POLLIN, 0}};
            const int n = poll(fds, 2, 100);
            if (n > 0) {
                drain(fds[0], out_, r.out);
                drain(fds[1], err_, r.err);
            }
            if (!killed && std::chrono::steady_clock::now() > end) {
                ::kill(pid_, SIGKILL);
                killed = true;
                r.err += "\n[test: killed after the time limit]";
            }
        }
        int st = 0;
        waitpid(pid_, &st, 0);
        pid_ = -1;
        r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return r;
    }

private:
    static void drain(const pollfd& p, int& fd, std::string& to) {
        if (fd < 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR))) return;
        char buf[65536];
        const ssize_t k = read(fd, buf, sizeof buf);
        if (k > 0) {
            to.append(buf, static_cast<std::size_t>(k));
        } else {
            close(fd);
            fd = -1;
        }
    }

    pid_t pid_ = -1;
    run_result early_;  // what wait_for_output collected
    int out_ = -1;
    int err_ = -1;
};

// weft-import ARGS..., to completion (or killed after `limit`).
inline run_result run_importer(std::vector<std::string> args,
                               std::chrono::seconds limit = std::chrono::seconds(120)) {
    args.insert(args.begin(), importer_exe());
    child c(std::move(args));
    return c.wait(limit);
}

}  // namespace importer_test
