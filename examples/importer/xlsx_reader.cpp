// Streaming .xlsx reader (see xlsx_reader.hpp for the contract).
//
// Parts are read in this order: _rels/.rels -> the workbook (its officeDocument relationship;
// xl/workbook.xml only when the package has no _rels/.rels at all) -> the workbook's
// relationships -> styles -> shared strings, each streamed through expat, and finally the chosen
// worksheet, which is parsed lazily: next() feeds expat one 64 KiB chunk at a time and the row
// handler suspends the parser as each </row> closes, so at most one row is ever buffered.
//
// Invariants: expat handlers never throw into C code (the trampolines catch, stop the parser and
// rethrow after XML_ParseBuffer returns); any DOCTYPE aborts the parse at its start, so no entity
// is ever declared or expanded; no element opens deeper than max_xml_depth, so what expat holds
// for open elements is bounded whatever the file; every relationship target of the parts read is
// resolved inside the package or the file is refused.
#include "xlsx_reader.hpp"

#include <expat.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <new>
#include <thread>
#include <unordered_map>
#include <utility>

#include "xlsx_package.hpp"
#include "xlsx_values.hpp"

namespace weft_import {
namespace {

using namespace xlsx_detail;

constexpr std::size_t chunk_bytes = 64 * 1024;

std::string_view local_name(const XML_Char* name) {
    const char* sep = std::strrchr(name, '\x01');
    return sep ? sep + 1 : name;
}

const char* attr(const XML_Char** atts, std::string_view local) {
    for (; *atts; atts += 2)
        if (local_name(*atts) == local) return atts[1];
    return nullptr;
}

// `name == literal`, inlined: the sheet's handlers compare names several times per cell, and a
// call into memcmp for each compare showed in its profile.
template <std::size_t N>
bool is(std::string_view name, const char (&literal)[N]) {
    if (name.size() != N - 1) return false;
    for (std::size_t i = 0; i + 1 < N; ++i)
        if (name[i] != literal[i]) return false;
    return true;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto la = (a[i] >= 'A' && a[i] <= 'Z') ? a[i] - 'A' + 'a' : a[i];
        auto lb = (b[i] >= 'A' && b[i] <= 'Z') ? b[i] - 'A' + 'a' : b[i];
        if (la != lb) return false;
    }
    return true;
}

// SAX over one part. Subclasses see local names (namespace prefixes do not matter: some writers
// use `x:` on every element).
class sax {
public:
    explicit sax(std::string part) : part_(std::move(part)) {
        parser_ = XML_ParserCreateNS(nullptr, '\x01');
        if (!parser_) throw std::bad_alloc();
        XML_SetUserData(parser_, this);
        XML_SetElementHandler(parser_, on_start, on_end);
        XML_SetCharacterDataHandler(parser_, on_text);
        XML_SetStartDoctypeDeclHandler(parser_, on_doctype);
        XML_SetEntityDeclHandler(parser_, on_entity);
        XML_SetParamEntityParsing(parser_, XML_PARAM_ENTITY_PARSING_NEVER);
    }
    sax(const sax&) = delete;
    sax& operator=(const sax&) = delete;
    virtual ~sax() { XML_ParserFree(parser_); }

    template <class Stream>
    void parse_all(Stream& in) {
        while (step(in)) {}
    }

    // Feeds one chunk, or resumes a suspended parse. False once the document has ended.
    template <class Stream>
    bool step(Stream& in) {
        XML_Status st;
        if (suspended_) {
            suspended_ = false;
            st = XML_ResumeParser(parser_);
        } else {
            void* buf = XML_GetBuffer(parser_, static_cast<int>(chunk_bytes));
            if (!buf) throw std::bad_alloc();
            std::size_t n = in.read(static_cast<char*>(buf), chunk_bytes);
            final_ = n == 0;
            st = XML_ParseBuffer(parser_, static_cast<int>(n), final_ ? XML_TRUE : XML_FALSE);
        }
        if (failure_) std::rethrow_exception(failure_);
        if (st == XML_STATUS_ERROR)
            throw file_error("XML not well-formed in " + part_ + " (line " +
                             std::to_string(XML_GetCurrentLineNumber(parser_)) + ", column " +
                             std::to_string(XML_GetCurrentColumnNumber(parser_)) +
                             "): " + XML_ErrorString(XML_GetErrorCode(parser_)));
        if (st == XML_STATUS_SUSPENDED) {
            suspended_ = true;
            return true;
        }
        return !final_;
    }

protected:
    virtual void start(std::string_view name, const XML_Char** atts) = 0;
    virtual void end(std::string_view name) = 0;
    virtual void text(std::string_view) {}

    // Called from a handler: the parse returns after it, to hand a finished row out.
    void suspend() { XML_StopParser(parser_, XML_TRUE); }
    const std::string& part() const { return part_; }

private:
    void fail(std::exception_ptr e) {
        if (!failure_) failure_ = std::move(e);
        XML_StopParser(parser_, XML_FALSE);
    }
    template <class F>
    static void guarded(void* self, F&& f) {
        auto* s = static_cast<sax*>(self);
        if (s->failure_) return;
        try {
            f(*s);
        } catch (...) { s->fail(std::current_exception()); }
    }
    static void XMLCALL on_start(void* self, const XML_Char* name, const XML_Char** atts) {
        guarded(self, [&](sax& s) {
            if (++s.depth_ > max_xml_depth)
                throw file_error("XML nested deeper than " + std::to_string(max_xml_depth) +
                                 " elements in " + s.part_ + " (line " +
                                 std::to_string(XML_GetCurrentLineNumber(s.parser_)) +
                                 "): refused, no .xlsx part nests that deep");
            s.start(local_name(name), atts);
        });
    }
    static void XMLCALL on_end(void* self, const XML_Char* name) {
        guarded(self, [&](sax& s) {
            --s.depth_;
            s.end(local_name(name));
        });
    }
    static void XMLCALL on_text(void* self, const XML_Char* s, int len) {
        guarded(self, [&](sax& p) { p.text(std::string_view(s, static_cast<std::size_t>(len))); });
    }
    static void XMLCALL on_doctype(void* self, const XML_Char*, const XML_Char*, const XML_Char*,
                                   int) {
        guarded(self, [](sax& s) {
            throw file_error("DTD (DOCTYPE) in " + s.part_ + ": refused, an .xlsx part has none");
        });
    }
    static void XMLCALL on_entity(void* self, const XML_Char*, int, const XML_Char*, int,
                                  const XML_Char*, const XML_Char*, const XML_Char*,
                                  const XML_Char*) {
        guarded(self,
                [](sax& s) { throw file_error("entity declaration in " + s.part_ + ": refused"); });
    }

    XML_Parser parser_ = nullptr;
    std::string part_;
    std::exception_ptr failure_;
    std::size_t depth_ = 0;  // elements open: expat holds each one until it closes
    bool suspended_ = false;
    bool final_ = false;
};

struct relationship {
    std::string id, type, target;  // target resolved to a part name
};

// Resolves a relationship target against the directory of its source part; throws when it leaves
// the package (External mode, a URI with a scheme, or ".." above the root).
std::string resolve_target(std::string_view source_dir, std::string_view target, bool external,
                           const std::string& rels_part) {
    auto outside = [&] {
        return file_error("relationship target outside the package in " + rels_part + ": '" +
                          std::string(target) + "'");
    };
    if (external || target.starts_with("//")) throw outside();
    auto colon = target.find(':');
    if (colon != std::string_view::npos &&
        target.substr(0, colon).find('/') == std::string_view::npos)
        throw outside();
    std::string path = target.starts_with('/')
                           ? std::string(target.substr(1))
                           : std::string(source_dir) + "/" + std::string(target);
    std::string_view rest(path);
    std::vector<std::string> out;
    while (!rest.empty()) {
        auto slash = rest.find('/');
        auto seg = rest.substr(0, slash);
        rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
        if (seg.empty() || seg == ".") continue;
        if (seg == "..") {
            if (out.empty()) throw outside();
            out.pop_back();
            continue;
        }
        out.emplace_back(seg);
    }
    if (out.empty()) throw outside();
    std::string joined;
    for (auto& s : out) {
        if (!joined.empty()) joined += '/';
        joined += s;
    }
    return joined;
}

std::string dir_of(std::string_view part) {
    auto slash = part.rfind('/');
    return slash == std::string_view::npos ? std::string{} : std::string(part.substr(0, slash));
}

std::string rels_of(std::string_view part) {
    auto slash = part.rfind('/');
    std::string dir =
        slash == std::string_view::npos ? std::string{} : std::string(part.substr(0, slash + 1));
    return dir + "_rels/" + std::string(part.substr(slash + 1)) + ".rels";
}

class rels_parser : public sax {
public:
    rels_parser(std::string part, std::string source_dir)
        : sax(std::move(part)), source_dir_(std::move(source_dir)) {}
    std::vector<relationship> rels;

private:
    void start(std::string_view name, const XML_Char** atts) override {
        if (name != "Relationship") return;
        const char* id = attr(atts, "Id");
        const char* type = attr(atts, "Type");
        const char* target = attr(atts, "Target");
        const char* mode = attr(atts, "TargetMode");
        if (!id || !type || !target)
            throw file_error("relationship without Id, Type or Target in " + part());
        rels.push_back(
            {id, type,
             resolve_target(source_dir_, target, mode && iequals(mode, "External"), part())});
    }
    void end(std::string_view) override {}
    std::string source_dir_;
};

struct sheet_entry {
    std::string name, rel_id;
};

class workbook_parser : public sax {
public:
    using sax::sax;
    std::vector<sheet_entry> sheets;
    bool date1904 = false;

private:
    void start(std::string_view name, const XML_Char** atts) override {
        if (name == "sheets") {
            in_sheets_ = true;
        } else if (name == "sheet" && in_sheets_) {
            const char* n = attr(atts, "name");
            const char* id = attr(atts, "id");  // r:id
            if (!n || !id) throw file_error("sheet without name or r:id in " + part());
            sheets.push_back({n, id});
        } else if (name == "workbookPr") {
            const char* v = attr(atts, "date1904");
            date1904 = v && (std::strcmp(v, "1") == 0 || std::strcmp(v, "true") == 0);
        }
    }
    void end(std::string_view name) override {
        if (name == "sheets") in_sheets_ = false;
    }
    bool in_sheets_ = false;
};

// A shared-string index: digits only (surrounding XML whitespace allowed); one too large for
// 64 bits saturates, which no table reaches.
bool parse_index(std::string_view text, std::uint64_t& v) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\n' || text.front() == '\t' ||
                             text.front() == '\r'))
        text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\n' || text.back() == '\t' ||
                             text.back() == '\r'))
        text.remove_suffix(1);
    if (text.empty()) return false;
    v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        v = v > (UINT64_MAX - 9) / 10 ? UINT64_MAX : v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return true;
}

// An attribute's small index (numFmtId, s=): 0, the default format, when absent, not digits, or
// above 100,000,000 (no table is that long, so the lookup falls back to the default).
std::uint32_t index_or_zero(const char* text) {
    std::uint32_t v = 0;
    if (!text || !*text) return 0;
    for (const char* p = text; *p; ++p) {
        if (*p < '0' || *p > '9' || v > 100'000'000) return 0;
        v = v * 10 + static_cast<std::uint32_t>(*p - '0');
    }
    return v;
}

class styles_parser : public sax {
public:
    using sax::sax;
    // Date kind of each cellXfs entry (a cell's s= index). One pass over each list: a styles
    // part can hold a great many of both.
    std::vector<date_kind> kinds() const {
        std::unordered_map<std::uint32_t, date_kind> custom;
        custom.reserve(custom_.size());
        // A format id declared twice: the later declaration wins, as it always has here.
        for (const auto& entry : custom_) custom.insert_or_assign(entry.first, entry.second);
        std::vector<date_kind> out;
        out.reserve(xf_formats_.size());
        for (auto id : xf_formats_) {
            auto found = custom.find(id);
            out.push_back(found != custom.end() ? found->second : builtin_date_kind(id));
        }
        return out;
    }

private:
    void start(std::string_view name, const XML_Char** atts) override {
        if (name == "cellXfs") {
            in_xfs_ = true;
        } else if (name == "xf" && in_xfs_) {
            xf_formats_.push_back(index_or_zero(attr(atts, "numFmtId")));
        } else if (name == "numFmt") {
            const char* code = attr(atts, "formatCode");
            custom_.emplace_back(index_or_zero(attr(atts, "numFmtId")),
                                 code ? custom_date_kind(code) : date_kind::none);
        }
    }
    void end(std::string_view name) override {
        if (name == "cellXfs") in_xfs_ = false;
    }
    bool in_xfs_ = false;
    std::vector<std::uint32_t> xf_formats_;
    std::vector<std::pair<std::uint32_t, date_kind>> custom_;
};

// The shared-string table, packed: string i is chars[offsets[i], offsets[i + 1]).
struct shared_strings {
    bool present = false;
    std::string chars;
    std::vector<std::size_t> offsets{0};
    std::size_t size() const { return offsets.size() - 1; }
    std::string_view at(std::size_t i) const {
        return std::string_view(chars).substr(offsets[i], offsets[i + 1] - offsets[i]);
    }
};

class shared_strings_parser : public sax {
public:
    shared_strings_parser(std::string part, shared_strings& out)
        : sax(std::move(part)), out_(out) {}

private:
    void start(std::string_view name, const XML_Char**) override {
        if (name == "si") {
            in_si_ = true;
            text_.clear();
        } else if (name == "rPh") {
            ++phonetic_;
        } else if (name == "t" && in_si_ && phonetic_ == 0) {
            in_t_ = true;
        }
    }
    void end(std::string_view name) override {
        if (name == "si") {
            const std::size_t start = out_.chars.size();
            append_unescaped(text_, out_.chars);
            if (utf16_length(std::string_view(out_.chars).substr(start)) > max_cell_characters)
                too_long();
            out_.offsets.push_back(out_.chars.size());
            in_si_ = false;
        } else if (name == "rPh") {
            --phonetic_;
        } else if (name == "t") {
            in_t_ = false;
        }
    }
    void text(std::string_view s) override {
        if (!in_t_) return;
        if (text_.size() + s.size() > max_cell_raw_bytes) too_long();
        text_.append(s);
    }
    // No cell can show it, and every cell naming it would copy it: refused where it is defined.
    [[noreturn]] void too_long() const {
        throw file_error("shared string " + std::to_string(out_.size()) + " in " + part() +
                         " is longer than Excel's limit of " + std::to_string(max_cell_characters) +
                         " characters");
    }
    shared_strings& out_;
    std::string text_;
    bool in_si_ = false, in_t_ = false;
    int phonetic_ = 0;
};

std::string column_name(std::uint32_t col) {
    std::string s;
    for (; col > 0; col = (col - 1) / 26)
        s.insert(s.begin(), static_cast<char>('A' + (col - 1) % 26));
    return s;
}

class sheet_parser : public sax {
public:
    sheet_parser(std::string part, std::string sheet, const shared_strings& sst,
                 std::vector<date_kind> kinds, bool date1904, const limits& lim)
        : sax(std::move(part)),
          sheet_(std::move(sheet)),
          sst_(sst),
          kinds_(std::move(kinds)),
          date1904_(date1904),
          max_text_bytes_(lim.max_text_bytes),
          max_row_bytes_(lim.max_row_bytes) {}

    // Hands out the finished row, if there is one.
    bool take(sheet_row& out) {
        if (!ready_) return false;
        ready_ = false;
        out.number = row_.number;
        out.cells.swap(row_.cells);
        out.other_content = row_.other_content;
        row_.cells.clear();
        row_.other_content = false;
        return true;
    }

    void keep_columns(std::span<const std::uint32_t> columns) {
        kept_.assign(columns.begin(), columns.end());
        std::sort(kept_.begin(), kept_.end());
        kept_.erase(std::unique(kept_.begin(), kept_.end()), kept_.end());
        all_kept_ = false;
    }

private:
    [[noreturn]] void fail_cell(const std::string& what) const {
        throw file_error("sheet '" + sheet_ + "' cell " + column_name(col_) +
                         std::to_string(row_.number) + ": " + what);
    }

    void start(std::string_view name, const XML_Char** atts) override {
        if (!seen_root_) {
            seen_root_ = true;
            if (name != "worksheet")
                throw file_error("sheet '" + sheet_ + "' (" + part() + ") is not a worksheet");
        }
        if (is(name, "sheetData")) {
            in_data_ = true;
        } else if (!in_data_) {
            return;
        } else if (is(name, "row")) {
            start_row(attr(atts, "r"));
        } else if (is(name, "c")) {
            // One pass over the attributes: a cell has three, and this runs for every cell.
            const char* r = nullptr;
            const char* t = nullptr;
            const char* st = nullptr;
            for (; *atts; atts += 2) {
                const std::string_view a = local_name(*atts);
                if (a.size() != 1) continue;
                if (a[0] == 'r' && !r)
                    r = atts[1];
                else if (a[0] == 't' && !t)
                    t = atts[1];
                else if (a[0] == 's' && !st)
                    st = atts[1];
            }
            start_cell(r, t, st);
        } else if (is(name, "v") && in_cell_) {
            capture_ = &value_;
        } else if (is(name, "is") && in_cell_) {
            in_inline_ = true;
        } else if (is(name, "rPh")) {
            ++phonetic_;
        } else if (is(name, "t") && in_inline_ && phonetic_ == 0) {
            capture_ = &inline_;
        }
    }

    void end(std::string_view name) override {
        if (!in_data_) return;
        if (is(name, "sheetData")) {
            in_data_ = false;
        } else if (is(name, "row")) {
            while (!row_.cells.empty() && row_.cells.back().empty()) row_.cells.pop_back();
            ready_ = true;
            suspend();
        } else if (is(name, "c")) {
            if (in_cell_) finish_cell();
            in_cell_ = false;
        } else if (is(name, "v") || is(name, "t")) {
            capture_ = nullptr;
        } else if (is(name, "is")) {
            in_inline_ = false;
        } else if (is(name, "rPh")) {
            --phonetic_;
        }
    }

    void text(std::string_view s) override {
        if (!capture_) return;
        if (capture_->size() + s.size() > max_cell_raw_bytes) too_long();
        capture_->append(s);
    }

    [[noreturn]] void too_long() const {
        fail_cell("text longer than Excel's limit of " + std::to_string(max_cell_characters) +
                  " characters");
    }

    void start_row(const char* r) {
        std::uint32_t number = last_row_ + 1;
        if (r) {
            auto st = parse_row_number(r, number);
            if (st == ref_status::row_beyond_limit)
                throw file_error("sheet '" + sheet_ + "': row " + r + " is beyond row " +
                                 std::to_string(max_rows));
            if (st != ref_status::ok)
                throw file_error("sheet '" + sheet_ + "': invalid row number '" + r + "'");
            // Excel writes each row once, in order; a repeat or a step back would either merge
            // two rows or hand them out of sheet order, and which one the writer meant is a guess.
            if (number <= last_row_)
                throw file_error("sheet '" + sheet_ + "': row " + std::to_string(number) +
                                 " comes after row " + std::to_string(last_row_) +
                                 " (rows must ascend)");
        } else if (number > max_rows) {
            throw file_error("sheet '" + sheet_ + "': more than " + std::to_string(max_rows) +
                             " rows");
        }
        last_row_ = number;
        row_.number = number;
        row_bytes_ = 0;
        row_.cells.clear();
        row_.other_content = false;
        col_ = 0;
    }

    void start_cell(const char* r, const char* t, const char* s) {
        std::uint32_t col = col_ + 1;
        if (r) {
            std::uint32_t row = 0;
            switch (parse_cell_ref(r, col, row)) {
                case ref_status::ok: break;
                case ref_status::column_beyond_xfd:
                    throw file_error("sheet '" + sheet_ + "': cell " + r + " is beyond column XFD");
                case ref_status::row_beyond_limit:
                    throw file_error("sheet '" + sheet_ + "': cell " + r + " is beyond row " +
                                     std::to_string(max_rows));
                case ref_status::malformed:
                    throw file_error("sheet '" + sheet_ + "': invalid cell reference '" + r + "'");
            }
            if (row != row_.number)
                throw file_error("sheet '" + sheet_ + "': cell " + r + " is inside row " +
                                 std::to_string(row_.number));
        } else if (col > max_columns) {
            throw file_error("sheet '" + sheet_ + "' row " + std::to_string(row_.number) +
                             ": more than " + std::to_string(max_columns) + " cells (beyond XFD)");
        }
        col_ = col;
        type_ = type_of(t);
        if (type_ == cell_type::unknown) unknown_type_ = t;
        auto xf = index_or_zero(s);
        kind_ = xf < kinds_.size() ? kinds_[xf] : date_kind::none;
        value_.clear();
        inline_.clear();
        in_cell_ = true;
    }

    enum class cell_type : std::uint8_t {
        number,
        shared,
        inline_string,
        formula_string,
        boolean,
        error,
        date,
        unknown
    };
    static cell_type type_of(const char* t) {
        if (!t) return cell_type::number;
        const std::string_view v(t);
        if (v == "s") return cell_type::shared;
        if (v == "inlineStr") return cell_type::inline_string;
        if (v == "n") return cell_type::number;
        if (v == "str") return cell_type::formula_string;
        if (v == "b") return cell_type::boolean;
        if (v == "e") return cell_type::error;
        if (v == "d") return cell_type::date;
        return cell_type::unknown;
    }

    // Where the cell of 1-based column `col` goes in the row, or npos when it is not kept.
    std::size_t slot_of(std::uint32_t col) const {
        if (all_kept_) return col - 1;
        const auto at = std::lower_bound(kept_.begin(), kept_.end(), col - 1);
        return at != kept_.end() && *at == col - 1 ? static_cast<std::size_t>(at - kept_.begin())
                                                   : std::string::npos;
    }

    void finish_cell() {
        text_.clear();
        std::string_view shared;  // a shared string's text, in the table
        const std::size_t slot = slot_of(col_);
        const bool kept = slot != std::string::npos;
        if (type_ == cell_type::shared) {
            if (!value_.empty()) {
                std::uint64_t i = 0;
                if (!parse_index(value_, i))
                    fail_cell("invalid shared-string index '" + value_ + "'");
                if (!sst_.present)
                    fail_cell("refers to shared string " + value_ +
                              " but the workbook has no shared-string table");
                if (i >= sst_.size())
                    fail_cell("shared string " + value_ + " does not exist (the table has " +
                              std::to_string(sst_.size()) + ")");
                // A dropped cell only needs to be looked at: copying its string is the work a
                // sheet of references to one long string would multiply.
                const auto str = sst_.at(static_cast<std::size_t>(i));
                if (!kept) {
                    if (!white_space_only(str)) row_.other_content = true;
                    return;
                }
                shared = str;
            }
        } else if (type_ == cell_type::inline_string) {
            // Decoding never lengthens the text: one allocation, and the text is moved into the
            // row below, not copied.
            text_.reserve(inline_.size());
            append_unescaped(inline_, text_);
        } else if (type_ == cell_type::formula_string) {
            text_.reserve(value_.size());
            append_unescaped(value_, text_);
        } else if (type_ == cell_type::boolean) {
            if (value_ == "1" || value_ == "true") {
                text_ = "TRUE";
            } else if (value_ == "0" || value_ == "false") {
                text_ = "FALSE";
            } else if (!value_.empty()) {
                fail_cell("invalid boolean '" + value_ + "'");
            }
        } else if (type_ == cell_type::error || type_ == cell_type::date) {
            text_ = value_;
        } else if (type_ == cell_type::number) {
            if (!value_.empty()) {
                double v = 0;
                if (!parse_number(value_, v)) fail_cell("invalid number '" + value_ + "'");
                if (kind_ == date_kind::none || !append_date(v, date1904_, kind_, text_))
                    append_number(v, text_);
            }
        } else {
            fail_cell("unknown cell type '" + unknown_type_ + "'");
        }
        // Shared strings were measured when the table was read. A text of no more bytes than
        // the limit has no more UTF-16 code units either (one per 1 to 3 bytes, two per 4).
        if (type_ != cell_type::shared && text_.size() > max_cell_characters &&
            utf16_length(text_) > max_cell_characters)
            too_long();
        const std::string_view cell = type_ == cell_type::shared ? shared : text_;
        if (cell.empty()) return;
        if (!kept) {
            if (!white_space_only(cell)) row_.other_content = true;
            return;
        }
        // Counted before a shared string is copied: the limits trip before memory grows past
        // them.
        text_bytes_ += cell.size();
        if (text_bytes_ > max_text_bytes_)
            throw file_error("sheet '" + sheet_ + "' row " + std::to_string(row_.number) +
                             ": the sheet's cell text exceeds " + std::to_string(max_text_bytes_) +
                             " bytes (limits::max_text_bytes)");
        row_bytes_ += cell.size();
        if (row_bytes_ > max_row_bytes_)
            throw file_error("sheet '" + sheet_ + "' row " + std::to_string(row_.number) +
                             ": the row's cell text exceeds " + std::to_string(max_row_bytes_) +
                             " bytes (limits::max_row_bytes)");
        if (row_.cells.size() <= slot) row_.cells.resize(slot + 1);
        // A shared string is copied once, from the table; any other text is moved.
        if (type_ == cell_type::shared) {
            row_.cells[slot].assign(shared);
        } else {
            row_.cells[slot] = std::move(text_);
            text_ = std::string();
        }
    }

    std::string sheet_;
    const shared_strings& sst_;
    std::vector<date_kind> kinds_;
    bool date1904_;
    std::uint64_t max_text_bytes_;
    std::uint64_t max_row_bytes_;
    std::uint64_t text_bytes_ = 0;     // cell text handed out so far
    std::uint64_t row_bytes_ = 0;      // ... of it in the row being read
    bool all_kept_ = true;             // until keep_columns: column c goes to cells[c - 1]
    std::vector<std::uint32_t> kept_;  // after it: 0-based columns, ascending; cells[i] is kept_[i]

    bool seen_root_ = false, in_data_ = false, in_cell_ = false, in_inline_ = false;
    bool ready_ = false;
    int phonetic_ = 0;
    sheet_row row_;
    std::uint32_t last_row_ = 0, col_ = 0;
    cell_type type_ = cell_type::number;
    std::string unknown_type_;  // the t= of a cell_type::unknown cell, for its message
    date_kind kind_ = date_kind::none;
    std::string value_, inline_, text_;
    std::string* capture_ = nullptr;
};

// The worksheet's bytes, inflated (and CRC-checked, and held to the limits) by a thread of its
// own at most `depth` chunks ahead of the parser. Inflating took about a fifth of the reading
// thread's time in a profile of an import, and that thread is what bounds the import: on a
// second core the two overlap.
// Chunks come out in order, then the end (an empty read) or what the inflating thread threw,
// exactly where a plain read would have returned or thrown it. After construction only that
// thread touches the archive (libzip's archives are not thread-safe); the destructor stops it
// and waits for it, which takes at most one chunk's inflate.
class prefetched_stream {
public:
    explicit prefetched_stream(std::unique_ptr<part_stream> in)
        : in_(std::move(in)), declared_(in_->declared_size()) {
        thread_ = std::thread([this] { run(); });
    }
    prefetched_stream(const prefetched_stream&) = delete;
    prefetched_stream& operator=(const prefetched_stream&) = delete;
    ~prefetched_stream() {
        {
            std::lock_guard lock(mu_);
            stop_ = true;
        }
        space_.notify_one();
        thread_.join();
    }

    // As part_stream::read, from the parser's thread.
    std::size_t read(char* out, std::size_t size) {
        if (ended_) return 0;
        if (current_pos_ == current_.size()) {
            std::unique_lock lock(mu_);
            if (!current_.empty()) spare_.push_back(std::move(current_));
            ready_.wait(lock, [&] { return !chunks_.empty() || failure_; });
            if (chunks_.empty()) std::rethrow_exception(failure_);
            current_ = std::move(chunks_.front());
            chunks_.pop_front();
            current_pos_ = 0;
            lock.unlock();
            space_.notify_one();
            if (current_.empty()) {  // the end, checked by part_stream
                ended_ = true;
                return 0;
            }
        }
        const std::size_t n = std::min(size, current_.size() - current_pos_);
        std::memcpy(out, current_.data() + current_pos_, n);
        current_pos_ += n;
        consumed_ += n;
        return n;
    }

    std::uint64_t declared_size() const { return declared_; }
    std::uint64_t inflated() const { return consumed_; }  // handed to the parser so far

private:
    static constexpr std::size_t depth = 4;

    void run() {
        try {
            for (;;) {
                std::string chunk;
                {
                    std::unique_lock lock(mu_);
                    space_.wait(lock, [&] { return stop_ || chunks_.size() < depth; });
                    if (stop_) return;
                    if (!spare_.empty()) {
                        chunk = std::move(spare_.back());
                        spare_.pop_back();
                    }
                }
                chunk.resize(chunk_bytes);
                chunk.resize(in_->read(chunk.data(), chunk.size()));
                const bool end = chunk.empty();
                {
                    std::lock_guard lock(mu_);
                    chunks_.push_back(std::move(chunk));
                }
                ready_.notify_one();
                if (end) return;
            }
        } catch (...) {
            {
                std::lock_guard lock(mu_);
                failure_ = std::current_exception();
            }
            ready_.notify_one();
        }
    }

    std::unique_ptr<part_stream> in_;  // only the inflating thread reads it
    std::uint64_t declared_;
    // The parser's thread alone:
    std::string current_;
    std::size_t current_pos_ = 0;
    std::uint64_t consumed_ = 0;
    bool ended_ = false;

    std::mutex mu_;                   // guards what follows; nobody is woken while it is held
    std::condition_variable ready_;   // a chunk, the end or a failure is there
    std::condition_variable space_;   // fewer than `depth` chunks wait, or stop_
    std::deque<std::string> chunks_;  // in order; an empty one is the end
    std::vector<std::string> spare_;  // read chunks, for their capacity
    std::exception_ptr failure_;      // after the last chunk
    bool stop_ = false;
    std::thread thread_;  // last: started once everything above exists
};

void parse_part(const package& pkg, const std::string& part, sax& parser) {
    auto idx = pkg.find(part);
    if (!idx) throw file_error("missing part " + part);
    part_stream in(pkg, *idx, part);
    parser.parse_all(in);
}

}  // namespace

struct xlsx_reader::impl {
    impl(std::unique_ptr<package> p, std::string_view wanted) : pkg(std::move(p)) { open(wanted); }

    void open(std::string_view wanted);

    std::unique_ptr<package> pkg;
    shared_strings sst;
    std::string sheet_name;
    std::unique_ptr<prefetched_stream> stream;
    std::unique_ptr<sheet_parser> parser;
    bool done = false;
    std::exception_ptr failure;
};

void xlsx_reader::impl::open(std::string_view wanted) {
    std::string workbook;
    if (pkg->find("_rels/.rels")) {
        rels_parser root("_rels/.rels", "");
        parse_part(*pkg, "_rels/.rels", root);
        for (auto& r : root.rels)
            if (r.type.ends_with("/officeDocument")) {
                workbook = r.target;
                break;
            }
        if (workbook.empty())
            throw file_error("not an .xlsx workbook: _rels/.rels names no officeDocument");
    } else {
        // Hand-made packages sometimes omit the package relationships; the usual name still
        // identifies a workbook without guessing anything else.
        workbook = "xl/workbook.xml";
    }
    if (!pkg->find(workbook)) throw file_error("missing workbook part " + workbook);
    workbook_parser wb(workbook);
    parse_part(*pkg, workbook, wb);

    std::string rels_part = rels_of(workbook);
    if (!pkg->find(rels_part)) throw file_error("missing workbook relationships " + rels_part);
    rels_parser rels(rels_part, dir_of(workbook));
    parse_part(*pkg, rels_part, rels);
    // Indexed once: a workbook may list many sheets and many relationships.
    std::unordered_map<std::string_view, const relationship*> by_id;
    by_id.reserve(rels.rels.size());
    for (auto& r : rels.rels) by_id.emplace(r.id, &r);  // a repeated Id: the first one counts
    auto rel = [&](std::string_view id) -> const relationship* {
        auto found = by_id.find(id);
        return found != by_id.end() ? found->second : nullptr;
    };
    auto first_of = [&](std::string_view suffix) -> const relationship* {
        for (auto& r : rels.rels)
            if (r.type.ends_with(suffix)) return &r;
        return nullptr;
    };

    // Excel refuses two sheets whose names differ only in case; with two, --sheet and the
    // default could each pick another one. Sorted, so a workbook of many sheets costs n log n.
    {
        std::vector<std::string> names;
        names.reserve(wb.sheets.size());
        for (auto& s : wb.sheets) {
            std::string lower = s.name;
            for (auto& c : lower)
                if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
            names.push_back(std::move(lower));
        }
        std::sort(names.begin(), names.end());
        const auto twice = std::adjacent_find(names.begin(), names.end());
        if (twice != names.end()) {
            for (auto& s : wb.sheets)
                if (iequals(s.name, *twice))
                    throw file_error("the workbook has two sheets named '" + s.name +
                                     "' (names differ in case at most): which one is meant is a "
                                     "guess");
        }
    }
    const sheet_entry* chosen = nullptr;
    if (!wanted.empty()) {
        for (auto& s : wb.sheets)
            if (!chosen && s.name == wanted) chosen = &s;
        for (auto& s : wb.sheets)
            if (!chosen && iequals(s.name, wanted)) chosen = &s;
        if (!chosen) {
            std::string names;
            for (auto& s : wb.sheets) names += (names.empty() ? "'" : ", '") + s.name + "'";
            throw file_error("no sheet named '" + std::string(wanted) + "' (the workbook has " +
                             (names.empty() ? "none" : names) + ")");
        }
    } else {
        auto is_worksheet = [&](const sheet_entry& s) {
            const relationship* r = rel(s.rel_id);
            return r && r->type.ends_with("/worksheet");
        };
        for (auto& s : wb.sheets)
            if (!chosen && iequals(s.name, "Sheet1") && (!rel(s.rel_id) || is_worksheet(s)))
                chosen = &s;
        for (auto& s : wb.sheets)
            if (!chosen && is_worksheet(s)) chosen = &s;
        if (!chosen) throw file_error("the workbook has no worksheet");
    }
    const relationship* sheet_rel = rel(chosen->rel_id);
    if (!sheet_rel)
        throw file_error("missing relationship " + chosen->rel_id + " of sheet '" + chosen->name +
                         "' in " + rels_part);
    if (!sheet_rel->type.ends_with("/worksheet"))
        throw file_error("sheet '" + chosen->name + "' is not a worksheet");
    auto sheet_index = pkg->find(sheet_rel->target);
    if (!sheet_index)
        throw file_error("missing worksheet part " + sheet_rel->target + " of sheet '" +
                         chosen->name + "'");
    sheet_name = chosen->name;

    std::vector<date_kind> kinds;
    if (const relationship* r = first_of("/styles")) {
        if (!pkg->find(r->target)) throw file_error("missing styles part " + r->target);
        styles_parser styles(r->target);
        parse_part(*pkg, r->target, styles);
        kinds = styles.kinds();
    }
    if (const relationship* r = first_of("/sharedStrings")) {
        if (!pkg->find(r->target)) throw file_error("missing shared-strings part " + r->target);
        shared_strings_parser ssp(r->target, sst);
        parse_part(*pkg, r->target, ssp);
        sst.present = true;
        sst.chars.shrink_to_fit();
        sst.offsets.shrink_to_fit();
    }

    stream = std::make_unique<prefetched_stream>(
        std::make_unique<part_stream>(*pkg, *sheet_index, sheet_rel->target));
    parser = std::make_unique<sheet_parser>(sheet_rel->target, sheet_name, sst, std::move(kinds),
                                            wb.date1904, pkg->lim());
}

xlsx_reader::xlsx_reader(const std::filesystem::path& file, const limits& lim,
                         std::string_view sheet)
    : impl_(std::make_unique<impl>(std::make_unique<package>(file, lim), sheet)) {}

xlsx_reader::xlsx_reader(std::span<const std::byte> bytes, const limits& lim,
                         std::string_view sheet)
    : impl_(std::make_unique<impl>(std::make_unique<package>(bytes, lim), sheet)) {}

xlsx_reader::xlsx_reader(xlsx_reader&&) noexcept = default;
xlsx_reader& xlsx_reader::operator=(xlsx_reader&&) noexcept = default;
xlsx_reader::~xlsx_reader() = default;

const std::string& xlsx_reader::sheet_name() const { return impl_->sheet_name; }

void xlsx_reader::keep_columns(std::span<const std::uint32_t> columns) {
    impl_->parser->keep_columns(columns);
}

bool xlsx_reader::next(sheet_row& row) {
    impl& d = *impl_;
    if (d.failure) std::rethrow_exception(d.failure);
    try {
        while (!d.parser->take(row)) {
            if (d.done) return false;
            if (!d.parser->step(*d.stream)) d.done = true;
        }
        return true;
    } catch (...) {
        d.failure = std::current_exception();
        throw;
    }
}

double xlsx_reader::fraction_read() const {
    const prefetched_stream& s = *impl_->stream;
    if (s.declared_size() == 0) return impl_->done ? 1.0 : 0.0;
    double f = static_cast<double>(s.inflated()) / static_cast<double>(s.declared_size());
    return f > 1.0 ? 1.0 : f;
}

}  // namespace weft_import
