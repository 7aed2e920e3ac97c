#include "cli_progress.hpp"

#include "cli_output.hpp"

#include <cstdint>
#include <cstdio>
#include <string>

namespace weft_import::cli {

void progress_bar::operator()(const progress& p) {
    const auto now = std::chrono::steady_clock::now();
    const double s = std::chrono::duration<double>(now - start_).count();
    const int width = 30;
    const int filled = static_cast<int>(p.fraction_read * width + 0.5);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(width, '.');
    // A terminal that went away is no reason to stop an import: the line is not checked.
    std::fprintf(
        stderr, "\r[%s] %3.0f%%  %s rows read  %s written  %s rows/s ", bar.c_str(),
        p.fraction_read * 100, thousands(p.rows_read).c_str(), thousands(p.rows_written).c_str(),
        thousands(static_cast<std::uint64_t>(s > 0 ? static_cast<double>(p.rows_read) / s : 0))
            .c_str());
    drawn_ = true;
}

void progress_bar::clear() const {
    if (drawn_) std::fprintf(stderr, "\r\033[K");
}

}  // namespace weft_import::cli
