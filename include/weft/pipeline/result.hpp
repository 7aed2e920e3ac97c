// weft/pipeline/result.hpp - what a weft::pipeline reports: pipeline_result and the
// stage_stats of each stage, and the settings it is built with (pipeline_options, ordering).
// Part of <weft/pipeline.hpp>; include this header alone to name these types without the
// pipeline's machinery (e.g. in a header that declares a function taking a pipeline_result).
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "../detail/config.hpp"
#include "../errors.hpp"

WEFT_BEGIN_NAMESPACE

// Whether a map or filter with several workers keeps the input order.
enum class ordering { unordered, ordered };

// Settings for a whole pipeline: weft::pipeline(ctx, {.capacity = 16}).
struct pipeline_options {
    // Capacity of each stage's output channel unless the stage sets its own (0 = rendezvous).
    // A batch stage's default is capacity / size (at least 2): its values are whole batches.
    std::size_t capacity = 256;
};

// What one stage did. See the file comment for the invariants between the counters.
struct stage_stats {
    std::string name;         // "source", "map", ... or the stage's .name(...)
    std::size_t index = 0;    // position in the pipeline; the source is 0
    std::size_t workers = 0;  // threads that ran the stage's function
    std::uint64_t in = 0;     // values received (source: values taken from its range or function)
    std::uint64_t out = 0;    // values passed on (batch: inside emitted batches; sink: consumed)
    std::uint64_t filtered = 0;     // values a filter rejected
    std::uint64_t dropped = 0;      // values the stage held, or held inside it, when it stopped
    std::uint64_t stranded = 0;     // values left in its input channel after every thread stopped
    std::uint64_t sent = 0;         // values put on its output channel (batch: batches; sink: 0)
    std::size_t max_reordered = 0;  // ordered map/filter: most results in its ring (<= window)
};

// What run() / wait() report.
struct [[nodiscard]] pipeline_result {
    // Null when the pipeline ran to the end of its input. Otherwise the first exception thrown
    // by a stage, or the cause of the context that canceled it (a weft::context_error carrying
    // canceled / deadline_exceeded unless the canceller gave a cause).
    std::exception_ptr error;
    // The index of the stage whose exception stopped the pipeline (empty: it was canceled).
    std::optional<std::size_t> failed_stage;
    std::vector<stage_stats> stages;

    bool ok() const noexcept { return !error; }
    explicit operator bool() const noexcept { return ok(); }
    // Stopped by its context (the parent's cancellation or deadline, or pipeline_run::cancel).
    bool canceled() const noexcept { return error && !failed_stage; }

    // "" when ok; "stage 2 (parse) failed: <what>"; "canceled: <what>".
    std::string message() const {
        if (!error) return {};
        const std::string what = error_message(error);
        if (!failed_stage) return "canceled: " + what;
        return "stage " + std::to_string(*failed_stage) + " (" + stages.at(*failed_stage).name +
               ") failed: " + what;
    }

    void rethrow_if_error() const {
        if (error) std::rethrow_exception(error);
    }

    // Values dropped or stranded anywhere (0 after a successful run).
    std::uint64_t lost() const noexcept {
        std::uint64_t n = 0;
        for (const auto& s : stages) n += s.dropped + s.stranded;
        return n;
    }

    // Every value is accounted for: per stage in == out + filtered + dropped, and per channel
    // sent == received + stranded (the output of a started pipeline is the reader's).
    bool conserved() const noexcept {
        for (std::size_t i = 0; i < stages.size(); ++i) {
            const auto& s = stages[i];
            if (s.in != s.out + s.filtered + s.dropped) return false;
            if (i > 0 && stages[i - 1].sent != s.in + s.stranded) return false;
        }
        return true;
    }
};

WEFT_END_NAMESPACE
