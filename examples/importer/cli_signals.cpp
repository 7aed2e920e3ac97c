// The destructor wakes the signal thread with a SIGUSR1 of its own, the only one it accepts as
// the signal to leave, and restores the mask.
#include "cli_signals.hpp"

#include <pthread.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <utility>

namespace weft_import::cli {

signal_canceller::signal_canceller(weft::cancel_cause_func cancel,
                                   const std::atomic<std::uint64_t>& committed, int exit_nothing,
                                   int exit_partial) {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
    try {
        thread_ =
            std::thread([this, c = std::move(cancel), &committed, exit_nothing, exit_partial] {
                bool canceled = false;
                for (;;) {
                    siginfo_t info{};
                    if (sigwaitinfo(&set_, &info) < 0) continue;  // EINTR
                    if (info.si_signo == SIGUSR1) {
                        if (info.si_pid == getpid()) return;
                        continue;
                    }
                    if (canceled) {
                        const auto n = committed.load(std::memory_order_relaxed);
                        char msg[160];
                        const int len =
                            n == 0 ? std::snprintf(msg, sizeof msg,
                                                   "\nweft-import: second signal: exiting now\n")
                                   : std::snprintf(
                                         msg, sizeof msg,
                                         "\nweft-import: second signal: exiting now; at least %llu "
                                         "rows stay committed\n",
                                         static_cast<unsigned long long>(n));
                        (void)!write(STDERR_FILENO, msg, static_cast<std::size_t>(len));
                        _exit(n == 0 ? exit_nothing : exit_partial);
                    }
                    canceled = true;
                    c(std::runtime_error(info.si_signo == SIGINT ? "interrupted (SIGINT)"
                                                                 : "terminated (SIGTERM)"));
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
