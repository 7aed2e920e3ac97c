// What the .xlsx reader refuses and how much it allows: its error type and resource limits, apart
// from the reader so that the reader's private parts (xlsx_package, xlsx_values) can use them
// without including the reader itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>

namespace weft_import {

// The file itself is unusable: not an .xlsx, damaged, hostile, or over a resource limit.
class file_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Resource limits. Bytes are counted while inflating, never taken from the zip headers.
struct limits {
    // No part inflates beyond this; input that is not a regular file (a pipe) is spooled to an
    // unnamed temporary file, and refused once it grows beyond this too.
    std::uint64_t max_part_bytes = std::uint64_t{2} << 30;
    double max_ratio = 100.0;                                 // inflated / compressed ...
    std::uint64_t ratio_min_bytes = std::uint64_t{10} << 20;  // ... checked above this size
    // Total bytes of cell text in the rows handed out (kept columns only), counted as rows are
    // produced. The shared-string table needs no limit of its own: it is one part, so
    // max_part_bytes and max_ratio already bound it, and holding it costs at most its inflated
    // size plus one offset per string (each string takes at least five bytes of XML).
    std::uint64_t max_text_bytes = std::uint64_t{2} << 30;
    // Bytes of cell text in one row (kept columns only). A row of 16,384 cells that all name
    // one long shared string would otherwise copy it into a single row of 1.6 GB; the importer
    // keeps at most nine columns after the header (under 1 MB a row), so only a header row or
    // a reader without keep_columns comes near it.
    std::uint64_t max_row_bytes = std::uint64_t{64} << 20;
};

// Excel's limit on the text of one cell, in UTF-16 code units.
inline constexpr std::size_t max_cell_characters = 32767;

// Deepest nesting of XML elements the reader accepts in any part. A worksheet needs fewer than
// ten levels (extLst extensions a few more); without a cap, unclosed tags cost the parser memory
// in proportion to the file: 3.5 million of them in 12 KB of zip cost 504 MB.
inline constexpr std::size_t max_xml_depth = 64;

// An unnamed temporary file (O_TMPFILE, else tmpfile()), open read-write: gone when its last
// descriptor closes, whatever happens to the process. Throws file_error ("cannot create a
// temporary file for <purpose>: <strerror>").
int unnamed_temp_file(const char* purpose);

}  // namespace weft_import
