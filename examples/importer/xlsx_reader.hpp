// Streaming reader of one worksheet of an .xlsx workbook: libzip reads the package (never
// extracting to the filesystem), expat parses its XML as a SAX stream, and rows come out one at
// a time, so memory does not grow with the sheet. The shared-string table is the one thing kept
// whole, packed into one buffer.
//
// The contract (docs/importer.md has the whole text):
// - The sheet is `Sheet1`, else the workbook's first worksheet, unless a name is given; it is
//   found through xl/workbook.xml and its relationships, never by assuming a part name.
// - Cells are placed by their `r=` reference; a cell or row without one takes the next position.
//   Rows ascend strictly and a cell's reference names its own row, as Excel always writes them;
//   anything else is refused rather than guessed at.
// - No XML part nests elements deeper than max_xml_depth (64); a deeper one is refused.
// - No cell text is longer than Excel's limit of 32,767 characters (UTF-16 code units, as Excel
//   counts them); a longer cell, inline string, formula result or shared string is refused. With
//   limits::max_text_bytes this bounds the work a small sheet can ask for (a million cells that
//   all name one huge shared string would otherwise copy it a million times).
// - Every value becomes text: shared and inline strings (rich-text runs joined, phonetic runs
//   dropped), a formula's cached value, numbers as their shortest round-trip decimal, booleans
//   as TRUE/FALSE, errors as their text, date-formatted numbers as YYYY-MM-DD[ HH:MM:SS];
//   `_xHHHH_` escapes decoded.
// - A workbook that two readers could read differently is refused: two zip entries with one
//   name, two sheets with one name (ignoring case, as Excel does); a part name matches exactly
//   first, then ignoring case, and two entries that match it only ignoring case are refused.
// - Anything wrong with the file itself throws file_error with one line naming the cause; a
//   valid prefix of rows may already have been returned, so a caller that must be all or
//   nothing keeps its writes in a transaction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "xlsx_limits.hpp"

namespace weft_import {

struct sheet_row {
    std::uint32_t number = 0;  // 1-based row number in the sheet
    // cells[0] is column A, or the first kept column after xlsx_reader::keep_columns; trailing
    // missing cells are absent.
    std::vector<std::string> cells;
    // A cell outside xlsx_reader::keep_columns had text that is not all Unicode White_Space (the
    // same "blank" as the row rules use): the row is not blank even if every kept cell is.
    bool other_content = false;
};

class xlsx_reader {
public:
    // Opens the package and reads the workbook, its relationships, styles and shared strings;
    // `sheet` empty means Sheet1-else-first. `file` "-" is standard input. A file that is not a
    // regular file (a pipe) is first copied to an unnamed temporary file, at most
    // limits::max_part_bytes of it; a directory is refused. Throws file_error.
    explicit xlsx_reader(const std::filesystem::path& file, const limits& lim = {},
                         std::string_view sheet = {});
    // The same from bytes in memory (the fuzzer's entry); `bytes` must outlive the reader.
    explicit xlsx_reader(std::span<const std::byte> bytes, const limits& lim = {},
                         std::string_view sheet = {});
    xlsx_reader(xlsx_reader&&) noexcept;
    xlsx_reader& operator=(xlsx_reader&&) noexcept;
    ~xlsx_reader();

    const std::string& sheet_name() const;

    // From the next row on, only the cells of `columns` (0-based: 0 is column A; sorted and
    // deduplicated here) are stored, and row.cells[i] is the cell of columns[i]; the text of any
    // other cell is not copied, only looked at to set sheet_row::other_content. Without a call
    // every column up to XFD (16,384) is kept, cells[0] being column A. A caller calls it after
    // the header row with the columns it maps, so a header at XFD costs a row no more than a
    // header at B.
    void keep_columns(std::span<const std::uint32_t> columns);

    // The next row that appears in the sheet's XML (rows absent from the XML are not invented).
    // Returns false at the end of the sheet. Throws file_error. The vector that `row.cells` held
    // before is kept to read a later row into, so a caller that passes rows it is done with
    // spares the reader an allocation per row.
    bool next(sheet_row& row);

    // How much of the sheet part has been inflated, 0..1 (from the declared size: progress only).
    double fraction_read() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace weft_import
