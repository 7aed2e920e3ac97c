// The destructor wakes the signal thread with a SIGUSR1 of its own, the only one it accepts as
// the signal to leave; the thread handles a SIGINT or SIGTERM still pending before it leaves,
// and the destructor then restores the mask.
#include "cli_signals.hpp"

#include <pthread.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace weft_import::cli {
namespace {

void say(const char* msg) { (void)!write(STDERR_FILENO, msg, std::strlen(msg)); }

}  // namespace

signal_canceller::signal_canceller(weft::cancel_cause_func cancel,
                                   const std::atomic<std::uint64_t>& committed,
                                   std::shared_mutex& commit_gate, int exit_nothing,
                                   int exit_partial) {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
    try {
        thread_ = std::thread(
            [this, c = std::move(cancel), &committed, &commit_gate, exit_nothing, exit_partial] {
                bool canceled = false;
                const auto on_signal = [&](int signo) {
                    if (!canceled) {
                        canceled = true;
                        c(std::runtime_error(signo == SIGINT ? "interrupted (SIGINT)"
                                                             : "terminated (SIGTERM)"));
                        return;
                    }
                    // Held until _exit: no commit is in progress, and none starts, so the count
                    // is exactly what stays.
                    if (!commit_gate.try_lock()) {
                        say("\nweft-import: second signal: exiting once the commit in progress "
                            "ends\n");
                        commit_gate.lock();
                    }
                    const auto n = committed.load(std::memory_order_relaxed);
                    char msg[160];
                    if (n == 0)
                        say("\nweft-import: second signal: exiting now\n");
                    else if (std::snprintf(msg, sizeof msg,
                                           "\nweft-import: second signal: exiting now; %llu rows "
                                           "stay committed\n",
                                           static_cast<unsigned long long>(n)) > 0)
                        say(msg);
                    _exit(n == 0 ? exit_nothing : exit_partial);
                };
                for (;;) {
                    siginfo_t info{};
                    if (sigwaitinfo(&set_, &info) < 0) continue;  // EINTR
                    if (info.si_signo != SIGUSR1) {
                        on_signal(info.si_signo);
                    } else if (info.si_pid == getpid()) {
                        // The destructor's. A SIGINT or SIGTERM may still be pending behind it
                        // (SIGUSR1 is taken first, being the lower number): it came while this
                        // thread was on duty, so it is handled here, not by its default action
                        // once the mask is restored (status 130 or 143, the rows unsaid).
                        sigset_t rest;
                        sigemptyset(&rest);
                        sigaddset(&rest, SIGINT);
                        sigaddset(&rest, SIGTERM);
                        const timespec now{};
                        while (sigtimedwait(&rest, &info, &now) > 0) on_signal(info.si_signo);
                        return;
                    }
                }
            });
    } catch (...) {
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
        throw;
    }
}

signal_canceller::~signal_canceller() {
    // kill(), not pthread_kill(): si_pid is then this process, which is how the thread tells
    // this SIGUSR1 from a stray one. Only that thread waits for SIGUSR1, and every other thread
    // blocks it, so it is the one that takes it.
    ::kill(getpid(), SIGUSR1);
    thread_.join();
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

}  // namespace weft_import::cli
