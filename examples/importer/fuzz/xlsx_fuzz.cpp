// libFuzzer target for xlsx_reader: any bytes either read to the end or throw file_error.
// Anything else (another exception, a crash, a sanitizer report, a hang) is a bug in the reader.
#include <cstddef>
#include <cstdint>
#include <span>

#include "xlsx_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Small limits keep every input fast; they are exercised like the defaults.
    weft_import::limits lim;
    lim.max_part_bytes = 64 << 20;
    lim.ratio_min_bytes = 1 << 20;
    lim.max_text_bytes = 16 << 20;
    lim.max_row_bytes = 4 << 20;
    try {
        weft_import::xlsx_reader reader(std::as_bytes(std::span(data, size)), lim);
        weft_import::sheet_row row;
        // As the importer does after the header: later rows keep only a few columns, in any
        // order, near or far.
        const std::uint32_t columns[] = {static_cast<std::uint32_t>(size % 7), 0, 16383, 2};
        if (reader.next(row)) reader.keep_columns(std::span(columns, size % 5));
        while (reader.next(row)) {}
        (void)reader.fraction_read();
    } catch (const weft_import::file_error&) {}
    return 0;
}
