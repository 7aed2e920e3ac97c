// The progress line weft-import draws on stderr when it is a terminal: redrawn in place from
// the engine's progress callback, cleared at the end. The engine never calls it concurrently
// with itself (engine.hpp), so it needs no lock.
#pragma once

#include "engine.hpp"

#include <chrono>

namespace weft_import::cli {

class progress_bar {
public:
    void operator()(const progress& p);
    void clear() const;

private:
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
    bool drawn_ = false;
};

}  // namespace weft_import::cli
