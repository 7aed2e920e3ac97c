// The multipart/form-data parser (multipart.hpp states its rules and invariants).
//
// Finding the delimiter without buffering: it is CRLF "--" boundary, and a boundary cannot hold
// a CR, so the delimiter's only CR is its first byte. When a partial match fails, no later byte
// of what matched can start a delimiter; the matched bytes are a known prefix of delim_, so they
// are handed on from delim_ itself and the parser keeps only their count (matched_). The body's
// start stands for a CRLF (matched_ starts at 2) so that the first boundary may open the body.
#include "multipart.hpp"

#include <algorithm>
#include <cstring>

namespace weft_import::http {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

// RFC 9110 tchar.
bool is_token_char(char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    return c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

// RFC 2045 tspecials: what an RFC-style sender escapes with a backslash.
bool is_tspecial(char c) { return c != 0 && std::strchr("()<>@,;:\\\"/[]?=", c) != nullptr; }

// RFC 2046 bchars (a space only inside).
bool is_boundary_char(char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    return c != 0 && std::strchr("'()+_,-./:=? ", c) != nullptr;
}

constexpr const char* invalid_boundary =
    "the multipart boundary is invalid (1 to 70 of RFC 2046's characters)";

bool valid_boundary(std::string_view b) {
    return !b.empty() && b.size() <= 70 && b.back() != ' ' &&
           std::all_of(b.begin(), b.end(), is_boundary_char);
}

bool iequals(std::string_view a, std::string_view b) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [&](char x, char y) { return lower(x) == lower(y); });
}

// A cursor over a header value: `type[/subtype] *(OWS ";" OWS name OWS "=" OWS value) OWS`.
struct value_reader {
    std::string_view v;
    const char* malformed;  // the error for a malformed value
    std::size_t i = 0;

    void skip_space() {
        while (i < v.size() && is_space(v[i])) ++i;
    }
    std::string_view token() {
        const std::size_t b = i;
        while (i < v.size() && is_token_char(v[i])) ++i;
        return v.substr(b, i - b);
    }
    bool take(char c) {
        if (i == v.size() || v[i] != c) return false;
        ++i;
        return true;
    }
    // Calls on_param(name, value) for each parameter until the end of the value.
    template <class F>
    void params(F on_param) {
        for (;;) {
            skip_space();
            if (i == v.size()) return;
            if (!take(';')) throw multipart_error(malformed);
            skip_space();
            const std::string_view name = token();
            skip_space();
            if (name.empty() || !take('=')) throw multipart_error(malformed);
            skip_space();
            std::string value;
            if (take('"')) {
                value = quoted();
            } else {
                value = token();
                if (value.empty()) throw multipart_error(malformed);
            }
            on_param(name, std::move(value));
        }
    }
    // The rest of a quoted string whose opening quote was taken: a backslash escapes a
    // tspecial and is kept before anything else (multipart.hpp says why).
    std::string quoted() {
        std::string out;
        for (;;) {
            if (i == v.size()) throw multipart_error(malformed);
            const char c = v[i++];
            if (c == '"') return out;
            if (c == '\\' && i < v.size() && is_tspecial(v[i])) {
                out += v[i++];
            } else {
                out += c;
            }
        }
    }
};

}  // namespace

std::optional<std::string> form_data_boundary(std::string_view content_type) {
    value_reader r{content_type, "the request's Content-Type parameters are malformed"};
    r.skip_space();
    const std::string_view type = r.token();
    if (!r.take('/')) return std::nullopt;
    const std::string_view subtype = r.token();
    if (!iequals(type, "multipart") || !iequals(subtype, "form-data")) return std::nullopt;
    std::optional<std::string> boundary;
    r.params([&](std::string_view name, std::string value) {
        if (!iequals(name, "boundary")) return;
        if (boundary) throw multipart_error("the request's Content-Type has two boundaries");
        boundary = std::move(value);
    });
    if (!boundary) throw multipart_error("the request's Content-Type has no multipart boundary");
    if (!valid_boundary(*boundary)) throw multipart_error(invalid_boundary);
    return boundary;
}

multipart_parser::multipart_parser(std::string boundary, handler& h, multipart_limits lim)
    : h_(h), lim_(lim), matched_(2) {
    if (!valid_boundary(boundary)) throw multipart_error(invalid_boundary);
    delim_ = "\r\n--" + boundary;
}

std::size_t multipart_parser::buffered_bytes() const noexcept {
    return matched_ + line_.size() + part_.name.size() +
           (part_.filename ? part_.filename->size() : 0) + part_.content_type.size();
}

void multipart_parser::feed(std::string_view in) {
    if (state_ == state::failed) throw std::logic_error("multipart_parser: feed after an error");
    try {
        while (!in.empty()) {
            switch (state_) {
                case state::preamble:
                case state::body: scan(in); break;
                case state::headers: header_bytes(in); break;
                case state::epilogue: return;
                default:  // after a boundary (a throw leaves the loop, so not failed)
                    boundary_tail(in.front());
                    in.remove_prefix(1);
                    break;
            }
        }
    } catch (...) {
        state_ = state::failed;
        throw;
    }
}

void multipart_parser::finish() {
    if (!complete()) {
        throw multipart_error("the upload ended before its closing boundary (truncated?)");
    }
}

// Preamble or body: hands on (or discards) every byte that cannot begin a delimiter, until a
// delimiter is confirmed by the byte after it.
void multipart_parser::scan(std::string_view& in) {
    while (!in.empty()) {
        if (matched_ == delim_.size()) {
            // RFC 2046 lets a boundary line end only in padding, CRLF or "--"; LF is let in to
            // report it as an error rather than read a bare-LF line as data.
            const char c = in.front();
            if (is_space(c) || c == '\r' || c == '\n' || c == '-') {
                if (state_ == state::body) h_.on_part_end();
                matched_ = 0;
                virtual_crlf_ = false;
                state_ = state::after_boundary;
                return;
            }
            not_delimiter(delim_);
            continue;
        }
        if (matched_ == 0) {
            const std::size_t cr = in.find('\r');
            not_delimiter(in.substr(0, cr));
            if (cr == std::string_view::npos) {
                in = {};
                return;
            }
            in.remove_prefix(cr + 1);
            matched_ = 1;
            continue;
        }
        const std::string_view want = std::string_view(delim_).substr(matched_);
        const std::size_t n = std::min(want.size(), in.size());
        const std::size_t same = static_cast<std::size_t>(
            std::mismatch(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n), want.begin())
                .first -
            in.begin());
        in.remove_prefix(same);
        matched_ += same;
        // On a mismatch the byte that broke it is looked at again: it may be a CR.
        if (same < n) not_delimiter(std::string_view(delim_).substr(0, matched_));
    }
}

// Bytes that turned out not to be a delimiter (or its start): body data, or preamble. Resets
// the match (callers pass delim_'s matched prefix or input before any match).
void multipart_parser::not_delimiter(std::string_view bytes) {
    std::size_t real = bytes.size();
    if (matched_ != 0 && virtual_crlf_) {
        real -= 2;  // the CRLF the body's start stands for was never sent
        virtual_crlf_ = false;
    }
    matched_ = 0;
    if (state_ == state::body) {
        if (!bytes.empty()) h_.on_part_data(bytes);
        return;
    }
    preamble_bytes_ += real;
    if (preamble_bytes_ > lim_.max_preamble_bytes) {
        throw multipart_error("the upload has more than " +
                              std::to_string(lim_.max_preamble_bytes) +
                              " bytes before its first boundary");
    }
}

void multipart_parser::boundary_tail(char c) {
    static constexpr const char* unexpected = "unexpected bytes after a multipart boundary";
    static constexpr const char* bare_lf = "a multipart boundary line ends in LF, not CRLF";
    switch (state_) {
        case state::after_boundary:
        case state::padding:
            if (is_space(c)) {
                state_ = state::padding;
            } else if (c == '\r') {
                state_ = state::padding_lf;
            } else if (c == '\n') {
                throw multipart_error(bare_lf);
            } else if (c == '-' && state_ == state::after_boundary) {
                state_ = state::close_dash;
            } else {
                throw multipart_error(unexpected);
            }
            return;
        case state::padding_lf:
            if (c != '\n') throw multipart_error(unexpected);
            if (++parts_ > lim_.max_parts) {
                throw multipart_error("the upload has more than " + std::to_string(lim_.max_parts) +
                                      " parts");
            }
            state_ = state::headers;
            return;
        default:  // close_dash, the last state feed() calls it in
            if (c != '-') throw multipart_error(unexpected);
            state_ = state::epilogue;
            return;
    }
}

void multipart_parser::header_bytes(std::string_view& in) {
    const std::size_t lf = in.find('\n');
    const std::size_t n = lf == std::string_view::npos ? in.size() : lf + 1;
    header_bytes_ += n;
    if (header_bytes_ > lim_.max_header_bytes) {
        throw multipart_error("a part's headers are larger than " +
                              std::to_string(lim_.max_header_bytes) + " bytes");
    }
    line_.append(in.substr(0, lf == std::string_view::npos ? n : lf));
    in.remove_prefix(n);
    if (lf != std::string_view::npos) header_line();
}

void multipart_parser::header_line() {
    if (line_.empty() || line_.back() != '\r') {
        throw multipart_error("a part's header line ends in LF, not CRLF");
    }
    line_.pop_back();
    // RFC 9110 field values hold no control character but tab; refusing them also keeps NUL and
    // terminal escapes out of filenames that the server shows.
    if (std::any_of(line_.begin(), line_.end(), [](char c) {
            return (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f;
        })) {
        throw multipart_error("a part's header line holds a control character");
    }
    if (line_.empty()) {
        begin_part();
        return;
    }
    if (is_space(line_.front())) {
        throw multipart_error("a part's header line is folded (obsolete line folding)");
    }
    value_reader r{line_, "a part's header line is malformed"};
    const std::string_view name = r.token();
    if (name.empty() || !r.take(':')) throw multipart_error(r.malformed);
    std::string_view value = std::string_view(line_).substr(r.i);
    while (!value.empty() && is_space(value.front())) value.remove_prefix(1);
    while (!value.empty() && is_space(value.back())) value.remove_suffix(1);
    if (iequals(name, "content-disposition")) {
        if (have_disposition_) throw multipart_error("a part has two Content-Disposition headers");
        have_disposition_ = true;
        value_reader d{value, "a part's Content-Disposition is malformed"};
        if (!iequals(d.token(), "form-data")) {
            throw multipart_error("a part's Content-Disposition is not form-data");
        }
        bool have_name = false;
        d.params([&](std::string_view param, std::string v) {
            // Two values for one parameter could be read differently by another parser.
            if (iequals(param, "name")) {
                if (have_name) throw multipart_error("a part's Content-Disposition has two names");
                have_name = true;
                part_.name = std::move(v);
            } else if (iequals(param, "filename")) {
                if (part_.filename) {
                    throw multipart_error("a part's Content-Disposition has two filenames");
                }
                part_.filename = std::move(v);
            }
        });
        if (!have_name) throw multipart_error("a part's Content-Disposition has no name");
    } else if (iequals(name, "content-type")) {
        if (!part_.content_type.empty()) {
            throw multipart_error("a part has two Content-Type headers");
        }
        part_.content_type = value;
    }
    line_.clear();
}

void multipart_parser::begin_part() {
    if (!have_disposition_) throw multipart_error("a part has no Content-Disposition header");
    state_ = state::body;
    h_.on_part_begin(part_);
    part_ = {};
    have_disposition_ = false;
    header_bytes_ = 0;
}

}  // namespace weft_import::http
