// Cell values to text for xlsx_reader; the rules are in xlsx_values.hpp.
#include "xlsx_values.hpp"

#include <charconv>
#include <cmath>

namespace weft_import::xlsx_detail {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals_at(std::string_view s, std::size_t i, std::string_view word) {
    if (s.size() - i < word.size()) return false;
    for (std::size_t k = 0; k < word.size(); ++k)
        if (lower(s[i + k]) != lower(word[k])) return false;
    return true;
}

bool is_xml_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Howard Hinnant's civil_from_days: days since 1970-01-01 -> proleptic Gregorian date.
void civil_from_days(long long z, long long& y, unsigned& m, unsigned& d) {
    z += 719468;
    const long long era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = static_cast<long long>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2) ++y;
}

void append_2(unsigned v, std::string& out) {
    out += static_cast<char>('0' + v / 10);
    out += static_cast<char>('0' + v % 10);
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// The code unit of an escape `_xHHHH_` starting at text[i], or -1.
long escape_at(std::string_view text, std::size_t i) {
    if (text.size() - i < 7 || text[i] != '_' || text[i + 1] != 'x' || text[i + 6] != '_')
        return -1;
    long v = 0;
    for (std::size_t k = 2; k < 6; ++k) {
        int h = hex_value(text[i + k]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

void append_utf8(unsigned long cp, std::string& out) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

}  // namespace

date_kind builtin_date_kind(std::uint32_t id) {
    if (id >= 14 && id <= 17) return date_kind::date;
    if ((id >= 18 && id <= 22) || (id >= 45 && id <= 47)) return date_kind::date_time;
    return date_kind::none;
}

date_kind custom_date_kind(std::string_view code) {
    bool date = false, time = false;
    for (std::size_t i = 0; i < code.size(); ++i) {
        char c = lower(code[i]);
        switch (c) {
            case '"': {
                auto end = code.find('"', i + 1);
                i = end == std::string_view::npos ? code.size() : end;
                break;
            }
            case '\\':
            case '_':
            case '*': ++i; break;
            case '[': {
                auto end = code.find(']', i + 1);
                if (end == std::string_view::npos) return date_kind::none;
                // Elapsed time ([h], [mm], [ss]) is time; colours, conditions and locales are not.
                auto inner = code.substr(i + 1, end - i - 1);
                if (!inner.empty() && inner.find_first_not_of(inner[0]) == std::string_view::npos &&
                    (lower(inner[0]) == 'h' || lower(inner[0]) == 'm' || lower(inner[0]) == 's'))
                    time = true;
                i = end;
                break;
            }
            case 'a':
                if (iequals_at(code, i, "am/pm")) {
                    time = true;
                    i += 4;
                } else if (iequals_at(code, i, "a/p")) {
                    time = true;
                    i += 2;
                }
                break;
            case 'y':
            case 'd':
            case 'm': date = true; break;
            case 'h':
            case 's': time = true; break;
            default: break;
        }
    }
    if (time) return date_kind::date_time;
    return date ? date_kind::date : date_kind::none;
}

void append_number(double v, std::string& out) {
    if (v == 0) {
        out += '0';
        return;
    }
    // The shortest digits that read back as v come from the scientific form: the fixed form
    // prints an integer beyond 2^53 with all of its binary value's digits (1.23456789012345E+17
    // is 123456789012344992 there), which the file never had.
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    const std::string_view sci(buf, static_cast<std::size_t>(r.ptr - buf));
    const double a = std::fabs(v);
    if (!(a >= 1e-6 && a < 1e21)) {
        out.append(sci);
        return;
    }
    // sci is [-]D[.DDD]e(+|-)XX: the digits, then the power of ten of the first one.
    const std::size_t e = sci.find('e');
    std::string_view mantissa = sci.substr(0, e);
    if (mantissa.front() == '-') {
        out += '-';
        mantissa.remove_prefix(1);
    }
    std::string digits(1, mantissa.front());
    if (mantissa.size() > 2) digits.append(mantissa.substr(2));
    int exp = 0;
    (void)std::from_chars(sci.data() + e + (sci[e + 1] == '+' ? 2 : 1), sci.data() + sci.size(),
                          exp);
    const auto n = static_cast<int>(digits.size());
    if (exp < 0) {  // 0.000ddd
        out += "0.";
        out.append(static_cast<std::size_t>(-exp - 1), '0');
        out += digits;
    } else if (exp + 1 >= n) {  // ddd000
        out += digits;
        out.append(static_cast<std::size_t>(exp + 1 - n), '0');
    } else {  // dd.ddd
        out.append(digits, 0, static_cast<std::size_t>(exp + 1));
        out += '.';
        out.append(digits, static_cast<std::size_t>(exp + 1));
    }
}

bool parse_number(std::string_view text, double& v) {
    while (!text.empty() && is_xml_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_xml_space(text.back())) text.remove_suffix(1);
    if (text.empty()) return false;
    // from_chars also takes "inf" and "nan", which are no cell values.
    char c = text[text[0] == '-' ? std::min<std::size_t>(1, text.size() - 1) : 0];
    if (!((c >= '0' && c <= '9') || c == '.')) return false;
    auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    return r.ec == std::errc() && r.ptr == text.data() + text.size() && std::isfinite(v);
}

bool append_date(double serial, bool date1904, date_kind kind, std::string& out) {
    if (!(serial >= 0) || serial >= 2958466.0) return false;
    auto total = static_cast<long long>(std::llround(serial * 86400.0));
    long long days = total / 86400;
    auto secs = static_cast<unsigned>(total % 86400);
    long long y = 0;
    unsigned m = 0, d = 0;
    if (date1904) {
        civil_from_days(days - 24107, y, m, d);  // 1904-01-01 is day -24107 of 1970
    } else if (days == 0) {
        y = 1900, m = 1, d = 0;
    } else if (days == 60) {
        y = 1900, m = 2, d = 29;
    } else {
        // Before the phantom 1900-02-29 serial 1 is 1900-01-01; after it, one day less.
        civil_from_days(days - (days < 60 ? 25568 : 25569), y, m, d);
    }
    if (y > 9999) return false;
    auto year = static_cast<unsigned>(y);
    append_2(year / 100, out);
    append_2(year % 100, out);
    out += '-';
    append_2(m, out);
    out += '-';
    append_2(d, out);
    if (kind == date_kind::date_time || secs != 0) {
        out += ' ';
        append_2(secs / 3600, out);
        out += ':';
        append_2(secs / 60 % 60, out);
        out += ':';
        append_2(secs % 60, out);
    }
    return true;
}

void append_unescaped(std::string_view text, std::string& out) {
    std::size_t i = 0;
    while (i < text.size()) {
        auto u = text.find("_x", i);
        if (u == std::string_view::npos) break;
        out.append(text.substr(i, u - i));
        long cu = escape_at(text, u);
        if (cu >= 0xD800 && cu <= 0xDBFF) {
            long low = u + 7 < text.size() ? escape_at(text, u + 7) : -1;
            if (low >= 0xDC00 && low <= 0xDFFF) {
                append_utf8(0x10000 + ((static_cast<unsigned long>(cu) - 0xD800) << 10) +
                                (static_cast<unsigned long>(low) - 0xDC00),
                            out);
                i = u + 14;
                continue;
            }
            cu = -1;
        }
        if (cu <= 0 || (cu >= 0xDC00 && cu <= 0xDFFF)) {
            out += '_';
            i = u + 1;
            continue;
        }
        append_utf8(static_cast<unsigned long>(cu), out);
        i = u + 7;
    }
    out.append(text.substr(i));
}

ref_status parse_cell_ref(std::string_view ref, std::uint32_t& column, std::uint32_t& row) {
    std::size_t i = 0;
    std::uint64_t col = 0;
    while (i < ref.size()) {
        char c = lower(ref[i]);
        if (c < 'a' || c > 'z') break;
        if (col <= max_columns) col = col * 26 + static_cast<std::uint64_t>(c - 'a' + 1);
        ++i;
    }
    if (i == 0) return ref_status::malformed;
    auto rs = parse_row_number(ref.substr(i), row);
    if (rs == ref_status::malformed) return rs;
    if (col > max_columns) return ref_status::column_beyond_xfd;
    column = static_cast<std::uint32_t>(col);
    return rs;
}

ref_status parse_row_number(std::string_view text, std::uint32_t& row) {
    if (text.empty()) return ref_status::malformed;
    std::uint64_t r = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return ref_status::malformed;
        if (r <= max_rows) r = r * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (r == 0) return ref_status::malformed;
    if (r > max_rows) return ref_status::row_beyond_limit;
    row = static_cast<std::uint32_t>(r);
    return ref_status::ok;
}

std::size_t utf16_length(std::string_view utf8) {
    std::size_t n = 0;
    for (char ch : utf8) {
        const auto c = static_cast<unsigned char>(ch);
        // A continuation byte adds nothing; a lead of four bytes makes a surrogate pair.
        if ((c & 0xC0) != 0x80) ++n;
        if (c >= 0xF0) ++n;
    }
    return n;
}

std::size_t white_space_at(std::string_view s, std::size_t i) {
    const auto b = [&](std::size_t k) {
        return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u;
    };
    const unsigned c = b(0);
    if (c == ' ' || (c >= 0x09 && c <= 0x0D)) return 1;
    if (c == 0xC2 && (b(1) == 0x85 || b(1) == 0xA0)) return 2;  // NEL, NBSP
    if (c == 0xE1 && b(1) == 0x9A && b(2) == 0x80) return 3;    // U+1680 ogham space
    if (c == 0xE2 && b(1) == 0x80) {
        const unsigned d = b(2);
        // U+2000..U+200A, U+2028, U+2029, U+202F
        if ((d >= 0x80 && d <= 0x8A) || d == 0xA8 || d == 0xA9 || d == 0xAF) return 3;
    }
    if (c == 0xE2 && b(1) == 0x81 && b(2) == 0x9F) return 3;  // U+205F
    if (c == 0xE3 && b(1) == 0x80 && b(2) == 0x80) return 3;  // U+3000 ideographic space
    return 0;
}

bool white_space_only(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t n = white_space_at(s, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

}  // namespace weft_import::xlsx_detail
