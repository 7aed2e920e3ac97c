// SIGINT and SIGTERM as a cancellation of the import's context (see cli_signals.cpp).
#pragma once

#include <weft/context.hpp>

#include <signal.h>

#include <atomic>
#include <cstdint>
#include <shared_mutex>
#include <thread>

namespace weft_import::cli {

// Turns SIGINT/SIGTERM into a cancellation: the signals are blocked in every thread (the
// engine's threads inherit the mask) and one thread takes them with sigwaitinfo. The first one
// cancels the import, which then rolls back and reports; a second one ends the process (an
// uncommitted transaction dies with its connection): with `exit_nothing` when `committed` is
// 0, else with `exit_partial` and the count. It ends it at once, or, while a commit holds
// `commit_gate` (import_options::commit_gate), as soon as that commit is counted: a commit
// cannot be stopped halfway, and the count must say whether it happened. Make it before the
// engine starts its threads, so that they inherit the mask.
class signal_canceller {
public:
    signal_canceller(weft::cancel_cause_func cancel, const std::atomic<std::uint64_t>& committed,
                     std::shared_mutex& commit_gate, int exit_nothing, int exit_partial);
    ~signal_canceller();
    signal_canceller(const signal_canceller&) = delete;
    signal_canceller& operator=(const signal_canceller&) = delete;

private:
    sigset_t set_{};
    sigset_t old_{};
    std::thread thread_;
};

}  // namespace weft_import::cli
