// Records: the header that maps sheet columns to the nine fields, and the row rules of the
// contract (docs/importer.md, points 2 and 4).
//
// Invariants:
// - Values are stored verbatim; whitespace only decides whether a value counts as empty, and
//   "whitespace" is the Unicode White_Space set (ASCII blanks, NBSP, the U+2000 spaces, U+3000,
//   ...) everywhere: a header name, a skipped row, an empty Name, a required column.
// - Header names match case-insensitively by ASCII folding. The nine names are ASCII, so full
//   Unicode case folding would only add oddities such as the Kelvin sign matching 'k'.
// - A reason is one short line (tests and --json compare it): a quoted value is cut to a few
//   dozen bytes at a UTF-8 boundary and written as a JSON string (control characters and DEL
//   escaped).
#include "record.hpp"

#include "xlsx_values.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string_view.hpp>

#include <algorithm>
#include <stdexcept>

namespace weft_import {
namespace {

constexpr std::array<std::string_view, field_count> headers{
    "Name", "Category", "Phone", "Email", "Address", "City", "Country", "Website", "Description"};
constexpr std::array<std::string_view, field_count> columns{
    "name", "category", "phone", "email", "address", "city", "country", "website", "description"};

// Length of the White_Space code point that ends s[0, end), or 0.
std::size_t space_before(std::string_view s, std::size_t end) {
    for (std::size_t len = 1; len <= 3 && len <= end; ++len)
        if (xlsx_detail::white_space_at(s, end - len) == len) return len;
    return 0;
}

std::string_view trim(std::string_view s) {
    std::size_t begin = 0;
    std::size_t end = s.size();
    while (begin < end) {
        const std::size_t n = xlsx_detail::white_space_at(s, begin);
        if (n == 0) break;
        begin += n;
    }
    while (end > begin) {
        const std::size_t n = space_before(s, end);
        if (n == 0) break;
        end -= n;
    }
    return s.substr(begin, end - begin);
}

bool blank(std::string_view s) { return trim(s).empty(); }

bool has_space_or_control(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7F || xlsx_detail::white_space_at(s, i) != 0) return true;
    }
    return false;
}

bool iequal(std::string_view a, std::string_view b) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [&](char x, char y) { return lower(x) == lower(y); });
}

std::optional<field> field_named(std::string_view name) {
    for (std::size_t i = 0; i < field_count; ++i)
        if (iequal(name, headers[i])) return static_cast<field>(i);
    return std::nullopt;
}

// `value` as a JSON string (Boost.JSON escapes quotes, backslashes and control characters),
// cut so that a reason stays one short line. DEL, which JSON leaves as it is but a terminal
// does not show, is escaped too.
std::string quote(std::string_view value, std::size_t max_bytes = 40) {
    bool cut = false;
    if (value.size() > max_bytes) {
        std::size_t n = max_bytes;
        while (n > 0 && (static_cast<unsigned char>(value[n]) & 0xC0) == 0x80) --n;
        value = value.substr(0, n);
        cut = true;
    }
    const std::string json =
        boost::json::serialize(boost::json::string_view(value.data(), value.size()));
    std::string out;
    out.reserve(json.size() + 3);
    for (const char ch : std::string_view(json).substr(0, json.size() - 1)) {
        if (ch == '\x7F')
            out += "\\u007F";
        else
            out += ch;
    }
    if (cut) out += "...";
    out += '"';
    return out;
}

// "A", "B", ..., "Z", "AA": the column's letters, for messages.
std::string column_letters(std::size_t index) {
    std::string s;
    for (std::size_t n = index + 1; n > 0; n = (n - 1) / 26)
        s.insert(s.begin(), static_cast<char>('A' + (n - 1) % 26));
    return s;
}

// local@domain.tld: one '@', nothing blank or control anywhere, a non-empty local part, and a
// domain of at least two dot-separated labels, none empty.
bool email_shaped(std::string_view s) {
    const std::size_t at = s.find('@');
    if (at == std::string_view::npos || at == 0 || s.find('@', at + 1) != std::string_view::npos)
        return false;
    if (has_space_or_control(s)) return false;
    const std::string_view domain = s.substr(at + 1);
    if (domain.find('.') == std::string_view::npos) return false;
    return domain.front() != '.' && domain.back() != '.' &&
           domain.find("..") == std::string_view::npos;
}

}  // namespace

std::string_view field_header(field f) { return headers.at(static_cast<std::size_t>(f)); }
std::string_view field_column(field f) { return columns.at(static_cast<std::size_t>(f)); }

header_map header_map::from(const sheet_row& header) {
    if (header.number != 1)
        throw file_error("the sheet has no header row (row 1): its first row is row " +
                         std::to_string(header.number));
    header_map m;
    m.column_.fill(-1);
    for (std::size_t c = 0; c < header.cells.size(); ++c) {
        const auto f = field_named(trim(header.cells[c]));
        if (!f) continue;
        int& slot = m.column_[static_cast<std::size_t>(*f)];
        // Two columns claiming one field are ambiguous: guessing which one holds the data would
        // silently import the wrong one, so the file is rejected instead.
        if (slot >= 0)
            throw file_error("the header (row 1) has two " + quote(field_header(*f)) +
                             " columns: " + column_letters(static_cast<std::size_t>(slot)) +
                             " and " + column_letters(c));
        slot = static_cast<int>(c);
    }
    if (m.column_[static_cast<std::size_t>(field::name)] < 0) {
        std::string found;
        std::size_t listed = 0;
        for (const auto& cell : header.cells) {
            if (blank(cell)) continue;
            if (listed == 8) {
                found += ", ...";
                break;
            }
            found += (listed++ == 0 ? "" : ", ") + quote(trim(cell), 24);
        }
        throw file_error("the header (row 1) has no \"Name\" column; found " +
                         (found.empty() ? std::string("no headers") : found));
    }
    return m;
}

std::vector<std::uint32_t> header_map::keep_mapped_columns() {
    std::vector<std::uint32_t> kept;
    for (const int c : column_)
        if (c >= 0) kept.push_back(static_cast<std::uint32_t>(c));
    std::sort(kept.begin(), kept.end());
    for (int& c : column_)
        if (c >= 0)
            c = static_cast<int>(
                std::lower_bound(kept.begin(), kept.end(), static_cast<std::uint32_t>(c)) -
                kept.begin());
    return kept;
}

std::optional<business> header_map::take(sheet_row& row) const {
    // Cells the reader dropped (outside keep_mapped_columns) count too: it sets other_content when
    // one of them was not blank.
    if (!row.other_content && std::all_of(row.cells.begin(), row.cells.end(),
                                          [](const std::string& c) { return blank(c); }))
        return std::nullopt;
    business b;
    b.row = row.number;
    for (std::size_t i = 0; i < field_count; ++i) {
        const int c = column_[i];
        if (c >= 0 && static_cast<std::size_t>(c) < row.cells.size())
            b.fields[i] = std::move(row.cells[static_cast<std::size_t>(c)]);
    }
    return b;
}

std::vector<field> parse_fields(std::string_view list) {
    std::vector<field> out;
    while (!list.empty()) {
        const std::size_t comma = list.find(',');
        const std::string_view item = trim(list.substr(0, comma));
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        if (item.empty()) continue;
        const auto f = field_named(item);
        if (!f) {
            std::string valid;
            for (const auto h : headers) valid += (valid.empty() ? "" : ", ") + std::string(h);
            throw std::invalid_argument("unknown column " + quote(item, 24) + " (valid: " + valid +
                                        ")");
        }
        if (std::find(out.begin(), out.end(), *f) == out.end()) out.push_back(*f);
    }
    return out;
}

std::optional<std::string> validate(const business& b, std::span<const field> required) {
    if (blank(b[field::name])) return std::string("name is empty");
    const std::string& email = b[field::email];
    if (!blank(email) && !email_shaped(email)) return "invalid email " + quote(email);
    for (const field f : required)
        if (blank(b[f])) return std::string(field_header(f)) + " is required";
    return std::nullopt;
}

std::string csv_field(std::string_view s) {
    if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
    std::string out = "\"";
    for (const char ch : s) {
        if (ch == '"') out += '"';
        out += ch;
    }
    return out + "\"";
}

}  // namespace weft_import
