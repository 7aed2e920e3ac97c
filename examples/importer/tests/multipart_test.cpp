// Tests for multipart.hpp: the Content-Type boundary, real uploads captured from curl 7.88 and
// headless Chromium (tests/multipart/, made by capture.py and page.html there), bodies built by
// hand for the edge cases and every error, each fed whole, byte by byte and split at every
// point; and that memory does not grow with the body (50 MiB fed without one allocation).
#include "multipart.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using namespace weft_import::http;
using namespace std::string_literals;

// Counts allocations while `counting` is set, for the bounded-memory test. The replacement is
// global to this test program; it only counts, and allocates as the default does. clang's
// ThreadSanitizer runtime defines operator new in a static library, where a replacement fails to
// link: that build checks the buffered-bytes bound only.
#if defined(__SANITIZE_THREAD__)
#define WEFT_COUNT_ALLOCATIONS 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_COUNT_ALLOCATIONS 0
#endif
#endif
#ifndef WEFT_COUNT_ALLOCATIONS
#define WEFT_COUNT_ALLOCATIONS 1
#endif

// Atomic because operator new may run on any thread; relaxed because only the test's thread sets
// and reads them, so they order nothing else.
namespace {
std::atomic<bool> counting{false};
std::atomic<std::size_t> allocations{0};
}  // namespace

#if WEFT_COUNT_ALLOCATIONS
void* operator new(std::size_t n) {
    if (counting.load(std::memory_order_relaxed)) {
        allocations.fetch_add(1, std::memory_order_relaxed);
    }
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#endif

namespace {

struct recorded_part {
    part_info info;
    std::string data;
    bool ended = false;
};

// What a parse produced: the parts, whether the closing delimiter was seen, and the error.
struct outcome {
    std::vector<recorded_part> parts;
    bool complete = false;
    std::string error;  // multipart_error's what(), or empty
};

struct recorder final : multipart_parser::handler {
    std::vector<recorded_part>& parts;
    bool empty_data = false;  // on_part_data was called with no bytes
    explicit recorder(std::vector<recorded_part>& p) : parts(p) {}
    void on_part_begin(const part_info& info) override { parts.push_back({info, {}, false}); }
    void on_part_data(std::string_view bytes) override {
        if (bytes.empty()) empty_data = true;
        parts.back().data.append(bytes);
    }
    void on_part_end() override { parts.back().ended = true; }
};

std::string escaped(std::string_view s) {
    std::string out;
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out += ch;
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    }
    return out;
}

// One line per event, for comparing outcomes with a readable diff.
std::string describe(const outcome& o) {
    std::ostringstream out;
    for (const auto& p : o.parts) {
        out << "part name=" << escaped(p.info.name) << " filename=";
        if (p.info.filename) {
            out << "'" << escaped(*p.info.filename) << "'";
        } else {
            out << "none";
        }
        out << " type=" << escaped(p.info.content_type) << " data='" << escaped(p.data) << "'"
            << (p.ended ? " ended" : " open") << "\n";
    }
    out << (o.complete ? "complete" : "incomplete") << " error=" << o.error << "\n";
    return out.str();
}

// Parses `body` fed in pieces of the given sizes (the last one repeats), then finish().
outcome parse(std::string_view body, const std::string& boundary, std::vector<std::size_t> sizes,
              multipart_limits lim = {}) {
    outcome o;
    recorder r(o.parts);
    try {
        multipart_parser p(boundary, r, lim);
        std::size_t i = 0, k = 0;
        while (i < body.size()) {
            const std::size_t n = std::min(sizes[std::min(k++, sizes.size() - 1)], body.size() - i);
            p.feed(body.substr(i, n));
            i += n;
        }
        p.finish();
        o.complete = p.complete();
    } catch (const multipart_error& e) { o.error = e.what(); }
    if (r.empty_data) o.error += " (and on_part_data got no bytes)";
    return o;
}

// Parses `body` whole, byte by byte and cut at every point; all must agree. Returns the outcome.
outcome parse_all_ways(std::string_view body, const std::string& boundary,
                       multipart_limits lim = {}) {
    const outcome whole = parse(body, boundary, {body.size() + 1}, lim);
    const std::string want = describe(whole);
    CHECK(describe(parse(body, boundary, {1}, lim)) == want);
    bool same = true;
    for (std::size_t cut = 1; cut < body.size() && same; ++cut) {
        const std::string got = describe(parse(body, boundary, {cut, body.size()}, lim));
        if (got != want) {
            same = false;
            CAPTURE(cut);
            CHECK(got == want);
        }
    }
    return whole;
}

std::string error_of(std::string_view body, multipart_limits lim = {}) {
    return parse_all_ways(body, "b0und", lim).error;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    return {std::istreambuf_iterator<char>(in), {}};
}

// A captured HTTP request: its body and the boundary its Content-Type names.
struct capture {
    std::string boundary, body;
};

capture read_capture(const std::string& name) {
    const std::string raw = read_file(WEFT_MULTIPART_FIXTURES "/"s + name);
    const std::size_t end = raw.find("\r\n\r\n");
    REQUIRE(end != std::string::npos);
    const std::string head = raw.substr(0, end + 2);
    const std::size_t ct = head.find("\r\nContent-Type: ");
    REQUIRE(ct != std::string::npos);
    const std::size_t from = ct + 16;
    const auto boundary = form_data_boundary(head.substr(from, head.find("\r\n", from) - from));
    REQUIRE(boundary);
    return {*boundary, raw.substr(end + 4)};
}

const std::string tiny_xlsx = read_file(WEFT_MULTIPART_FIXTURES "/tiny.xlsx");
// The file page.html has Chromium upload.
const std::string chromium_file(
    "PK\x03\x04\x00\r\n--\x00\xff\xfe\r\n\x00"
    "bin",
    18);

}  // namespace

TEST_CASE("form_data_boundary: the boundary of multipart/form-data, nothing else") {
    CHECK(
        form_data_boundary("multipart/form-data; boundary=------------------------2d34a3c7b2d5") ==
        "------------------------2d34a3c7b2d5");
    CHECK(form_data_boundary("Multipart/Form-Data;BOUNDARY=\"a b'()+_,-./:=?\"") ==
          "a b'()+_,-./:=?");
    CHECK(form_data_boundary(" multipart/form-data ; charset=utf-8; boundary=x ") == "x");
    CHECK(form_data_boundary("multipart/form-data; boundary=" + std::string(70, 'z')) ==
          std::string(70, 'z'));
    CHECK_FALSE(form_data_boundary("multipart/mixed; boundary=x"));
    CHECK_FALSE(form_data_boundary("application/x-www-form-urlencoded"));
    CHECK_FALSE(form_data_boundary("multipart/form-datax; boundary=x"));
    CHECK_FALSE(form_data_boundary(""));
    CHECK_FALSE(form_data_boundary("multipart"));

    auto error = [](std::string_view ct) {
        try {
            form_data_boundary(ct);
        } catch (const multipart_error& e) { return std::string(e.what()); }
        return "(accepted)"s;
    };
    const std::string invalid =
        "the multipart boundary is invalid (1 to 70 of RFC 2046's characters)";
    CHECK(error("multipart/form-data") == "the request's Content-Type has no multipart boundary");
    CHECK(error("multipart/form-data; charset=utf-8") ==
          "the request's Content-Type has no multipart boundary");
    CHECK(error("multipart/form-data; boundary=\"\"") == invalid);
    CHECK(error("multipart/form-data; boundary=" + std::string(71, 'z')) == invalid);
    CHECK(error("multipart/form-data; boundary=\"a{b\"") == invalid);
    CHECK(error("multipart/form-data; boundary=\"ab \"") == invalid);
    CHECK(error("multipart/form-data; boundary=a; boundary=a") ==
          "the request's Content-Type has two boundaries");
    const std::string malformed = "the request's Content-Type parameters are malformed";
    CHECK(error("multipart/form-data; boundary") == malformed);
    CHECK(error("multipart/form-data; boundary=") == malformed);
    CHECK(error("multipart/form-data; boundary=\"abc") == malformed);
    CHECK(error("multipart/form-data boundary=abc") == malformed);
}

TEST_CASE("curl -F file=@tiny.xlsx -F method=batch, as curl 7.88 sent it") {
    const capture c = read_capture("curl_file_method.http");
    CHECK(c.boundary == "------------------------2d34a3c7b2d53f37");
    const outcome o = parse_all_ways(c.body, c.boundary);
    CHECK(o.error == "");
    CHECK(o.complete);
    REQUIRE(o.parts.size() == 2);
    CHECK(o.parts[0].info.name == "file");
    CHECK(o.parts[0].info.filename == "tiny.xlsx");
    CHECK(o.parts[0].info.content_type == "application/octet-stream");
    CHECK(o.parts[0].data == tiny_xlsx);  // holds CRLF, "--", NULs and 0xff
    CHECK(o.parts[0].ended);
    CHECK(o.parts[1].info.name == "method");
    CHECK_FALSE(o.parts[1].info.filename);
    CHECK(o.parts[1].info.content_type == "");
    CHECK(o.parts[1].data == "batch");
    CHECK(o.parts[1].ended);
}

TEST_CASE("filenames with quotes, backslashes and UTF-8 come back as sent: %22 undecoded") {
    // curl -F 'file=@tiny.xlsx;filename=q"uo\te é.xlsx'
    const capture c = read_capture("curl_quoted_filename.http");
    const outcome o = parse_all_ways(c.body, c.boundary);
    CHECK(o.error == "");
    REQUIRE(o.parts.size() == 1);
    CHECK(o.parts[0].info.filename == "q%22uo\\te \xc3\xa9.xlsx");
    CHECK(o.parts[0].data == tiny_xlsx);

    // Headless Chromium 156 posting FormData (page.html): a File named "q\"uo\\te é\r\n.xlsx".
    const capture b = read_capture("chromium_formdata.http");
    CHECK(b.boundary.starts_with("----WebKitFormBoundary"));
    const outcome w = parse_all_ways(b.body, b.boundary);
    CHECK(w.error == "");
    CHECK(w.complete);
    REQUIRE(w.parts.size() == 2);
    CHECK(w.parts[0].info.name == "file");
    CHECK(w.parts[0].info.filename == "q%22uo\\te \xc3\xa9%0D%0A.xlsx");
    CHECK(w.parts[0].info.content_type ==
          "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    CHECK(w.parts[0].data == chromium_file);
    CHECK(w.parts[1].info.name == "method");
    CHECK(w.parts[1].data == "batch");

    // RFC 2045 senders (Go's mime/multipart) escape `"` and `\`; other backslashes stay (Go's
    // rule).
    const outcome g = parse_all_ways(
        "--b0und\r\nContent-Disposition: form-data; name=\"a\\\"b\"; "
        "filename=\"x\\\\y\\\"z\\d.xlsx\"\r\n\r\n\r\n--b0und--",
        "b0und");
    REQUIRE(g.parts.size() == 1);
    CHECK(g.parts[0].info.name == "a\"b");
    CHECK(g.parts[0].info.filename == "x\\y\"z\\d.xlsx");
}

TEST_CASE("delimiter look-alikes inside a body are data") {
    const std::string data =
        "\r\n--b0un"         // a delimiter's start, cut short
        "--b0und"            // the boundary without the CRLF before it
        "\n--b0und"          // ... with a bare LF before it
        "\r\n--b0undX"       // the boundary prefixing other text
        "\r\n--b0und0\r\n"   // ... a longer boundary
        "\r\r\r\n-\r\n--\r"  // CRs and dashes
        "\0\xff\0"s          // binary
        "\r\n--b0u";         // a cut delimiter just before the real one
    const outcome o = parse_all_ways(
        "--b0und\r\nContent-Disposition: form-data; name=\"file\"\r\n"
        "\r\n" +
            data + "\r\r\n--b0und--\r\n",
        "b0und");
    CHECK(o.error == "");
    CHECK(o.complete);
    REQUIRE(o.parts.size() == 1);
    CHECK(o.parts[0].data == data + "\r");
}

TEST_CASE("preamble, padding, epilogue, empty and duplicate parts, case-insensitive names") {
    const std::string body =
        "a preamble\r\n--b0undX--b0und in the preamble\r\n"
        "--b0und \t\r\n"  // transport padding
        "content-DISPOSITION:form-data;NAME=file;  Filename=\"empty.xlsx\"; "
        "filename*=UTF-8''ignored.xlsx\r\n"
        "X-Unknown: ignored\r\n"
        "CONTENT-TYPE: application/octet-stream  \r\n"
        "\r\n"
        "\r\n--b0und\r\n"  // the empty file part ends
        "Content-Disposition: form-data; name=file\r\n\r\nsecond\r\n"
        "--b0und\r\nContent-Disposition: form-data; name=\"\"\r\n\r\n\r\n"
        "--b0und--  \r\nthe epilogue\r\n--b0und\r\nContent-Disposition: junk\r\n";
    const outcome o = parse_all_ways(body, "b0und");
    CHECK(describe(o) ==
          "part name=file filename='empty.xlsx' type=application/octet-stream data='' ended\n"
          "part name=file filename=none type= data='second' ended\n"
          "part name= filename=none type= data='' ended\n"
          "complete error=\n");

    // A closing delimiter alone: complete with no parts (the caller wants its file).
    CHECK(describe(parse_all_ways("--b0und--", "b0und")) == "complete error=\n");
}

TEST_CASE("each malformed upload gets its own one-line error, however it is split") {
    const std::string part = "Content-Disposition: form-data; name=\"f\"\r\n\r\nx\r\n";
    const std::string truncated = "the upload ended before its closing boundary (truncated?)";
    CHECK(error_of("") == truncated);
    CHECK(error_of("no boundary at all") == truncated);
    CHECK(error_of("--b0und") == truncated);
    CHECK(error_of("--b0und\r\nContent-Disposition: form-data; name=f\r\n") == truncated);
    CHECK(error_of("--b0und\r\n" + part) == truncated);
    CHECK(error_of("--b0und\r\n" + part + "--b0und-") == truncated);

    const std::string unexpected = "unexpected bytes after a multipart boundary";
    CHECK(error_of("--b0und x\r\n") == unexpected);
    CHECK(error_of("--b0und -- \r\n") == unexpected);
    CHECK(error_of("--b0und\r\n" + part + "--b0und-x") == unexpected);
    CHECK(error_of("--b0und\rx") == unexpected);
    CHECK(error_of("--b0und\n" + part) == "a multipart boundary line ends in LF, not CRLF");
    CHECK(error_of("--b0und \n" + part) == "a multipart boundary line ends in LF, not CRLF");

    CHECK(error_of("--b0und\r\nContent-Disposition: form-data; name=f\n\r\n") ==
          "a part's header line ends in LF, not CRLF");
    CHECK(error_of("--b0und\r\nContent-Disposition: form-data; name=f\r\n\n") ==
          "a part's header line ends in LF, not CRLF");
    CHECK(error_of("--b0und\r\nContent-Disposition: form-data;\r name=f\r\n\r\n") ==
          "a part's header line holds a control character");
    for (const char c : {'\0', '\x1b', '\x7f', '\v'}) {
        CAPTURE(static_cast<int>(c));
        CHECK(error_of("--b0und\r\nContent-Disposition: form-data; name=f; filename=\"a"s + c +
                       "\"\r\n\r\n") == "a part's header line holds a control character");
    }
    CHECK(
        error_of(
            "--b0und\r\nContent-Disposition:\tform-data; name=\"\tf\xff\"\r\n\r\n\r\n--b0und--") ==
        "");
    CHECK(error_of("--b0und\r\nContent-Disposition: form-data; name=f\r\n filename=x\r\n\r\n") ==
          "a part's header line is folded (obsolete line folding)");
    CHECK(error_of("--b0und\r\nContent-Disposition form-data; name=f\r\n\r\n") ==
          "a part's header line is malformed");
    CHECK(error_of("--b0und\r\n: x\r\n\r\n") == "a part's header line is malformed");
    CHECK(error_of("--b0und\r\nContent-Type: text/plain\r\n\r\n") ==
          "a part has no Content-Disposition header");
    CHECK(error_of("--b0und\r\nContent-Disposition: attachment; name=f\r\n\r\n") ==
          "a part's Content-Disposition is not form-data");
    CHECK(error_of("--b0und\r\nContent-Disposition: form-data; filename=\"x\"\r\n\r\n") ==
          "a part's Content-Disposition has no name");
    CHECK(error_of("--b0und\r\nContent-Disposition: form-data; name=\"f\r\n\r\n") ==
          "a part's Content-Disposition is malformed");
    CHECK(error_of("--b0und\r\nContent-Disposition: form-data; name=f g\r\n\r\n") ==
          "a part's Content-Disposition is malformed");
    for (const char* params : {"; =f", "; name", "; name=", "; name=f;", ";name=\"f\\"}) {
        CAPTURE(params);
        CHECK(error_of("--b0und\r\nContent-Disposition: form-data"s + params + "\r\n\r\n") ==
              "a part's Content-Disposition is malformed");
    }
    // The price of reading RFC 2045 escapes: curl sends a name ending in a backslash raw, so its
    // closing quote reads as escaped (multipart.hpp).
    CHECK(error_of("--b0und\r\nContent-Disposition: form-data; name=f; filename=\"x\\\"\r\n\r\n") ==
          "a part's Content-Disposition is malformed");
    CHECK(error_of("--b0und\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\n") ==
          "a part's Content-Disposition has two names");
    CHECK(error_of("--b0und\r\nContent-Disposition: form-data; name=a; filename=x; "
                   "FILENAME=y\r\n\r\n") == "a part's Content-Disposition has two filenames");
    CHECK(error_of("--b0und\r\n" + part.substr(0, 40) + "\r\n" + part) ==
          "a part has two Content-Disposition headers");
    CHECK(error_of("--b0und\r\nContent-Type: a\r\ncontent-type: b\r\n" + part) ==
          "a part has two Content-Type headers");
}

TEST_CASE("limits: header bytes, parts, preamble; each exact at the limit") {
    // 44 header bytes: the Content-Disposition line with its CRLF, and the blank line.
    const std::string part = "Content-Disposition: form-data; name=\"f\"\r\n\r\nx\r\n";
    multipart_limits lim;
    lim.max_header_bytes = 44;
    CHECK(error_of("--b0und\r\n" + part + "--b0und--", lim) == "");
    lim.max_header_bytes = 43;
    CHECK(error_of("--b0und\r\n" + part + "--b0und--", lim) ==
          "a part's headers are larger than 43 bytes");

    lim = {};
    lim.max_parts = 2;
    CHECK(error_of("--b0und\r\n" + part + "--b0und\r\n" + part + "--b0und--", lim) == "");
    CHECK(error_of("--b0und\r\n" + part + "--b0und\r\n" + part + "--b0und\r\n" + part, lim) ==
          "the upload has more than 2 parts");

    lim = {};
    lim.max_preamble_bytes = 16;  // the CRLF before the first boundary is the delimiter's
    CHECK(error_of(std::string(16, 'p') + "\r\n--b0und\r\n" + part + "--b0und--", lim) == "");
    CHECK(error_of("\r\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n--b0und\r\n" + part + "--b0und--", lim) ==
          "the upload has more than 16 bytes before its first boundary");
    CHECK(error_of(std::string(17, 'p'), lim) ==
          "the upload has more than 16 bytes before its first boundary");
    lim.max_preamble_bytes = 0;
    CHECK(error_of("--b0und\r\n" + part + "--b0und--", lim) == "");
}

TEST_CASE("the parser refuses an invalid boundary, and is unusable after an error") {
    struct nothing final : multipart_parser::handler {
        void on_part_begin(const part_info& info) override {
            if (info.name == "refused") throw std::runtime_error("refused by the handler");
        }
        void on_part_data(std::string_view) override {}
        void on_part_end() override {}
    } h;
    CHECK_THROWS_WITH_AS(multipart_parser("", h),
                         "the multipart boundary is invalid (1 to 70 of RFC 2046's characters)",
                         multipart_error);
    CHECK_THROWS_AS(multipart_parser(std::string(71, 'b'), h), multipart_error);
    CHECK_THROWS_AS(multipart_parser("a\rb", h), multipart_error);

    multipart_parser p("b0und", h);
    CHECK_THROWS_WITH_AS(p.feed("--b0und\r\nContent-Disposition: form-data; name=refused\r\n\r\n"),
                         "refused by the handler", std::runtime_error);
    CHECK_THROWS_AS(p.feed("--b0und--"), std::logic_error);

    // After the closing delimiter everything is epilogue, even another body.
    multipart_parser q("b0und", h);
    q.feed("--b0und--\r\n");
    CHECK(q.complete());
    q.feed("--b0und\r\nContent-Disposition: form-data; name=refused\r\n\r\n");
    q.finish();
}

TEST_CASE("memory does not grow with the body: 50 MiB in 64 KiB pieces, no allocation") {
    // Every piece is full of delimiter look-alikes, so the matcher keeps starting and failing.
    std::string piece;
    for (std::size_t i = 0; piece.size() < 64 * 1024; ++i) {
        piece += i % 3 == 0 ? "\r\n--b0und_" : i % 3 == 1 ? "\r\n--b0u" : "data\0\xff\r"s;
    }
    piece.resize(64 * 1024 - 5);
    piece += "\r\n--b";  // a delimiter cut by the piece's end, held across feeds
    struct counter final : multipart_parser::handler {
        std::size_t bytes = 0, parts = 0, ends = 0;
        void on_part_begin(const part_info&) override { ++parts; }
        void on_part_data(std::string_view b) override { bytes += b.size(); }
        void on_part_end() override { ++ends; }
    } h;
    multipart_parser p("b0und", h);
    p.feed(
        "--b0und\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.xlsx\"\r\n\r\n");
    const std::size_t pieces = 800;  // 50 MiB
    std::size_t most_buffered = 0;
    allocations = 0;
    counting = true;
    for (std::size_t i = 0; i < pieces; ++i) {
        p.feed(piece);
        most_buffered = std::max(most_buffered, p.buffered_bytes());
    }
    counting = false;
    if (WEFT_COUNT_ALLOCATIONS) CHECK(allocations.load() == 0);
    CHECK(most_buffered > 0);  // the pieces end in a cut delimiter
    CHECK(most_buffered <= std::string("\r\n--b0und").size());
    p.feed("\r\n--b0und--");
    p.finish();
    CHECK(h.parts == 1);
    CHECK(h.ends == 1);
    CHECK(h.bytes == pieces * piece.size());
}
