// SIGINT and SIGTERM as a cancellation of the import's context (see cli_signals.cpp).
#pragma once

#include <weft/context.hpp>

#include <signal.h>

#include <atomic>
#include <cstdint>
#include <thread>

namespace weft_import::cli {

// Turns SIGINT/SIGTERM into a cancellation: the signals are blocked in every thread (the
// engine's threads inherit the mask) and one thread takes them with sigwaitinfo. The first one
// cancels the import, which then rolls back and reports; a second one ends the process at once
// (an uncommitted transaction dies with its connection): with `exit_nothing` when `committed`
// is 0, else with `exit_partial` and the count. Make it before the engine starts its threads,
// so that they inherit the mask.
class signal_canceller {
public:
    signal_canceller(weft::cancel_cause_func cancel, const std::atomic<std::uint64_t>& committed,
                     int exit_nothing, int exit_partial);
    ~signal_canceller();
    signal_canceller(const signal_canceller&) = delete;
    signal_canceller& operator=(const signal_canceller&) = delete;

private:
    sigset_t set_{};
    sigset_t old_{};
    std::thread thread_;
};

}  // namespace weft_import::cli
