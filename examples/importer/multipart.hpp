// A streaming multipart/form-data parser (RFC 7578 over RFC 2046) for `weft-import serve`'s
// uploads, standard library only. Bytes go in split anywhere; each part comes out as
// on_part_begin, its body in pieces, on_part_end.
//
// Invariants:
// - Bounded memory: the parser never buffers a body. It holds the delimiter (at most 74 bytes),
//   how much of it the latest bytes match, and the current part's header line and fields, capped
//   by max_header_bytes. A body byte is handed on as soon as it cannot start a delimiter.
// - Split-invariance: any split of the same body gives the same calls with the same bytes
//   (except how on_part_data pieces are cut) and the same error.
// - Errors throw multipart_error with one line meant for the client (it becomes a 400 body); it
//   never quotes the input. After any throw, the parser is unusable.
//
// What it accepts, and why:
// - The delimiter is CRLF "--" boundary; the first may open the body (no CRLF before it). Bytes
//   before it are preamble, ignored (at most max_preamble_bytes); bytes after the closing
//   "--boundary--" are epilogue, ignored. Spaces and tabs may follow a boundary (transport
//   padding, RFC 2046 5.1.1). "--boundary" followed by anything but padding, CR, LF or "-" is
//   body data (the boundary only prefixes it), as Go's mime/multipart reads it.
// - Lines end in CRLF. A bare LF in headers or after a boundary is an error, not a guess: every
//   sender we know (curl, browsers) sends CRLF. A folded header line (obs-fold) is an error, and
//   so is a control character other than tab in a header line (RFC 9110 field values): so a
//   filename holds no CR, LF, NUL or escape, though it may hold any other byte (UTF-8 or not).
// - Content-Disposition is required, its type must be form-data and it must have a name. Header
//   and parameter names are case-insensitive; unknown headers and parameters are ignored.
// - Parameter values are tokens or quoted strings. curl 7.88 and Chromium 156 (captured in
//   tests/multipart/), as WHATWG HTML asks of browsers, percent-encode `"` CR LF as %22 %0D %0A
//   and send backslashes raw; such escapes are returned undecoded, as sent. RFC 2045 senders
//   (Go 1.19's mime/multipart; urllib3 2.x does as browsers) escape `"` and `\` with a backslash.
//   A backslash before a tspecial (`"` `\` `(` ... `=`) is read as such an escape and removed,
//   any other backslash is kept: the rule of Go's mime.ParseMediaType. So a raw name that ends
//   in a backslash reads as an unterminated string: an error.
// - `filename*=` (RFC 5987) is ignored: RFC 7578 4.2 says senders must not use it.
// - A body with a closing delimiter and no part is complete with no parts (the caller decides).
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace weft_import::http {

// Malformed input; what() is one line a client can read.
class multipart_error : public std::runtime_error {
    using runtime_error::runtime_error;
};

// The boundary of a Content-Type value `multipart/form-data; boundary=...` (media type and
// parameter names case-insensitive, value a token or a quoted string, 1..70 characters of RFC
// 2046's bchars). nullopt if the type is not multipart/form-data; multipart_error if it is but
// the boundary is missing or invalid.
std::optional<std::string> form_data_boundary(std::string_view content_type);

struct multipart_limits {
    std::size_t max_header_bytes = 8 * 1024;  // all header lines of one part, CRLFs included
    std::size_t max_parts = 32;
    std::size_t max_preamble_bytes = 64 * 1024;  // bytes before the first boundary
};

struct part_info {
    std::string name;                     // Content-Disposition name (required)
    std::optional<std::string> filename;  // as sent, unquoted (never to be used as a path)
    std::string content_type;             // empty if absent
};

class multipart_parser {
public:
    struct handler {
        virtual void on_part_begin(const part_info&) = 0;       // may throw to abort
        virtual void on_part_data(std::string_view bytes) = 0;  // body bytes, in order, any split
        virtual void on_part_end() = 0;

    protected:
        ~handler() = default;
    };

    // multipart_error if `boundary` is not 1..70 bchars (form_data_boundary's result always is).
    multipart_parser(std::string boundary, handler& h, multipart_limits lim = {});

    // Feeds the next bytes of the body, split anywhere. Throws multipart_error on malformed
    // input (and passes on what the handler throws).
    void feed(std::string_view bytes);
    // The body ended: multipart_error unless the closing delimiter was seen.
    void finish();
    // The closing delimiter was seen; later bytes are epilogue, ignored.
    bool complete() const noexcept { return state_ == state::epilogue; }
    // Bytes of input held back right now (a partial delimiter and a partial header section):
    // at most 74 + max_header_bytes, whatever the body's size. For tests of that bound.
    std::size_t buffered_bytes() const noexcept;

private:
    enum class state : unsigned char {
        preamble,        // before the first delimiter: matching it, discarding the rest
        body,            // in a part's body: matching the delimiter, passing the rest on
        after_boundary,  // right after a delimiter: "--", padding or CRLF
        padding,         // spaces/tabs after a boundary, then CRLF
        padding_lf,      // CR seen after a boundary
        close_dash,      // "-" seen right after a boundary
        headers,         // in a part's header lines
        epilogue,        // the closing delimiter was seen
        failed,          // something threw
    };

    void scan(std::string_view& in);
    void boundary_tail(char c);
    void header_bytes(std::string_view& in);
    void header_line();
    void begin_part();
    void not_delimiter(std::string_view bytes);

    std::string delim_;  // CRLF "--" boundary
    handler& h_;
    multipart_limits lim_;
    state state_ = state::preamble;
    std::size_t matched_;       // bytes of delim_ the latest input matched
    bool virtual_crlf_ = true;  // matched_ counts a CRLF the body's start stands for
    std::size_t preamble_bytes_ = 0;
    std::size_t parts_ = 0;
    std::size_t header_bytes_ = 0;  // of the current part's header section so far
    std::string line_;              // the current header line, without its end
    bool have_disposition_ = false;
    part_info part_;
};

}  // namespace weft_import::http
