// libFuzzer target for multipart_parser. An input is one byte that chooses how the body is split,
// then a body whose boundary is "--b0und". Every input must parse or throw multipart_error, hold
// at most the documented bytes between feeds, and give the same parts, bytes and error fed whole
// as fed in the chosen pieces (split-invariance). Anything else aborts: a bug in the parser. The
// body's first line also goes to form_data_boundary, whose boundary the parser must accept.
// multipart_corpus/ holds the uploads of tests/multipart/ with their boundary replaced by
// "--b0und", each after a split byte (0: byte by byte), and content_type_0, whose first line is a
// Content-Type.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "multipart.hpp"

namespace {

using weft_import::http::multipart_error;
using weft_import::http::multipart_limits;
using weft_import::http::multipart_parser;
using weft_import::http::part_info;

const std::string boundary = "--b0und";

struct outcome {
    std::vector<std::string> events;  // "begin name\0filename\0type", a part's data, "end"
    bool complete = false;
    std::string error;
    bool operator==(const outcome&) const = default;
};

struct recorder final : multipart_parser::handler {
    outcome& out;
    bool in_data = false;
    explicit recorder(outcome& o) : out(o) {}
    void on_part_begin(const part_info& p) override {
        std::string e = "begin " + p.name + '\0' + (p.filename ? "=" + *p.filename : "none");
        out.events.push_back(e + '\0' + p.content_type);
        in_data = false;
    }
    void on_part_data(std::string_view bytes) override {
        if (bytes.empty()) std::abort();  // the parser promises bytes
        if (!in_data) out.events.emplace_back("data ");
        in_data = true;
        out.events.back().append(bytes);
    }
    void on_part_end() override {
        out.events.emplace_back("end");
        in_data = false;
    }
};

// Feeds `body` in pieces drawn from `seed` (0: byte by byte), or whole without a seed.
outcome run(std::string_view body, const multipart_limits& lim, const unsigned* seed) {
    outcome o;
    recorder r(o);
    try {
        multipart_parser p(boundary, r, lim);
        std::uint32_t state = seed ? *seed : 0;
        const std::uint32_t most = seed ? *seed % 97 + 1 : 0;
        while (!body.empty()) {
            std::size_t n = body.size();
            if (seed) {
                state = state * 1103515245u + 12345u;
                n = std::min<std::size_t>(n, 1 + (state >> 16) % most);
            }
            p.feed(body.substr(0, n));
            body.remove_prefix(n);
            // A partial delimiter (CRLF "--" boundary, and the byte after it) and one part's
            // headers: nothing else may stay behind.
            if (p.buffered_bytes() > boundary.size() + 5 + lim.max_header_bytes) std::abort();
        }
        p.finish();
        o.complete = p.complete();
    } catch (const multipart_error& e) { o.error = e.what(); }
    return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const unsigned seed = data[0];
    const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
    // Small limits, so that inputs reach them.
    multipart_limits lim;
    lim.max_header_bytes = 512;
    lim.max_parts = 4;
    lim.max_preamble_bytes = 256;
    if (!(run(body, lim, nullptr) == run(body, lim, &seed))) std::abort();
    // The body's first line as a Content-Type: a boundary it yields must suit the parser.
    std::optional<std::string> b;
    try {
        b = weft_import::http::form_data_boundary(body.substr(0, body.find('\n')));
    } catch (const multipart_error&) {}
    if (b) {
        outcome o;
        recorder r(o);
        multipart_parser p(*b, r);
    }
    return 0;
}
