// `weft-import generate`: realistic sample workbooks written with libxlsxwriter.
#pragma once

#include "record.hpp"

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>

namespace weft_import {

struct generate_options {
    std::uint64_t rows = 10'000;  // data rows, below the header
    std::uint64_t seed = 1;
    double invalid_rate = 0.01;  // share of rows that break the contract (empty name, bad email)
    // 0: short descriptions (a fifth of the rows have none; rows average ~170 bytes of text).
    // N: every row's description is continued with whole sentences up to a length drawn
    // between N/2 and 3N/2 bytes (N + ~25 on average); the other cells stay as they were.
    // 320 makes rows of ~450 bytes, like a real business directory's.
    std::uint64_t text_size = 0;
};

// At most this many data rows fit below the header (Excel's 1,048,576 rows).
inline constexpr std::uint64_t max_generated_rows = 1'048'575;
// The largest text_size: it keeps a full sheet's XML below ZIP's 4 GiB without ZIP64.
inline constexpr std::uint64_t max_text_size = 1000;

// Data row `index` (0-based: it lands on sheet row index + 2) as generate_workbook writes it.
// Each row is computed from (seed, index) alone, so any row can be had without the ones before:
// tests compare a database with its source, the benchmark builds rows in memory.
struct generated_row {
    std::array<std::string, field_count> values;  // "" = no cell written
    bool phone_is_number = false;  // Phone written as a numeric cell (its text is the number)
    bool invalid = false;          // broken on purpose: validate() rejects it (nothing required)
};
generated_row generate_row(const generate_options& opt, std::uint64_t index);

// Writes OUT: one sheet, "Sheet1", with the header row Name..Description and exactly
// `opt.rows` data rows below it, none of them blank (Unicode names, quotes, commas, newlines in
// descriptions, empty optional cells, phone numbers as numbers and as text). The same options
// always give the same cell values. Throws std::invalid_argument for options out of range
// (more than max_generated_rows, an invalid_rate outside [0, 1], a text_size above
// max_text_size) and std::runtime_error with
// libxlsxwriter's message when writing fails.
void generate_workbook(const std::filesystem::path& out, const generate_options& opt);

}  // namespace weft_import
