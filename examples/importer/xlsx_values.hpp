// Cell values to text for xlsx_reader (private): numbers, serial dates, `_xHHHH_` escapes, cell
// references. Pure functions, no state; each appends to `out` so a row's strings keep their
// capacity.
//
// Rules (docs/importer.md repeats them):
// - A number is its shortest round-trip decimal, in plain notation when 1e-6 <= |v| < 1e21 and in
//   scientific notation (`1e+21`, `1.5e-07`) outside that range, as JavaScript prints numbers;
//   integers have no fraction (`42`), and -0 is `0`.
// - A date is YYYY-MM-DD, with ` HH:MM:SS` when the format shows a time or the value has one
//   (rounded to the second). The 1900 system keeps Excel's leap-year bug (serial 60 is
//   1900-02-29, serial 0 is 1900-01-00, as Excel shows them); the 1904 system counts from
//   1904-01-01. A serial that is negative or past 9999-12-31 is printed as a number.
// - `_xHHHH_` becomes the UTF-16 code unit HHHH (pairs of surrogates are joined); a lone
//   surrogate and `_x0000_` stay as written, since they are no text. `_x005F_` is `_`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "xlsx_limits.hpp"

namespace weft_import::xlsx_detail {

enum class date_kind : std::uint8_t { none, date, date_time };

// Builtin number format ids (ECMA-376 18.8.30) that show dates or times.
date_kind builtin_date_kind(std::uint32_t num_fmt_id);
// A custom format code: date/time tokens (y m d h s, AM/PM, [h] [m] [s]) outside quotes,
// brackets, escapes and fill/padding characters.
date_kind custom_date_kind(std::string_view code);

void append_number(double v, std::string& out);
// Strict: an optional sign, digits, fraction, exponent; surrounding XML whitespace allowed.
bool parse_number(std::string_view text, double& v);
// False when the serial is not a date (negative or too large): the caller prints the number.
bool append_date(double serial, bool date1904, date_kind kind, std::string& out);

void append_unescaped(std::string_view text, std::string& out);

// UTF-16 code units of UTF-8 text, as Excel counts a cell's characters: one per code point, two
// for one beyond U+FFFF. Bytes of an invalid sequence count one each (never fewer than Excel).
std::size_t utf16_length(std::string_view utf8);
// The most bytes the expat text of a cell can take for max_cell_characters: `_xHHHH_` spells one
// code unit in seven bytes, and nothing spells one in more. Captures stop there, so a cell's
// memory is bounded before its text is even decoded.
constexpr std::size_t max_cell_raw_bytes = 7 * max_cell_characters;
// The length in bytes of the Unicode White_Space code point (ASCII blanks, NEL, NBSP, U+1680,
// U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000) that starts utf8[i], or 0. UTF-8 is
// read byte-wise on purpose: an invalid sequence is simply not white space. The one definition
// of "blank" for the reader and the row rules (record.cpp).
std::size_t white_space_at(std::string_view utf8, std::size_t i);
// True when the text is empty or all White_Space.
bool white_space_only(std::string_view utf8);

enum class ref_status : std::uint8_t { ok, malformed, column_beyond_xfd, row_beyond_limit };
constexpr std::uint32_t max_columns = 16384;  // XFD
constexpr std::uint32_t max_rows = 1048576;
// "B12" -> column 2, row 12 (1-based). Letters are case-insensitive.
ref_status parse_cell_ref(std::string_view ref, std::uint32_t& column, std::uint32_t& row);
// A row's r="12".
ref_status parse_row_number(std::string_view text, std::uint32_t& row);

}  // namespace weft_import::xlsx_detail
