// xlsx_reader: the workbook contract (docs/importer.md, points 1-3, 5 and 7) on workbooks these
// tests build themselves: with libxlsxwriter for what Excel-like writers produce, and by hand
// (XML parts zipped with libzip, then bytes patched) for every value kind, placement rule and
// cause of rejection.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xlsxwriter.h>
#include <zip.h>

#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../../../tests/support.hpp"
#include "generate.hpp"
#include "importer_support.hpp"
#include "xlsx_reader.hpp"

namespace fs = std::filesystem;
using importer_test::temp_dir;
using weft_import::file_error;
using weft_import::limits;
using weft_import::sheet_row;
using weft_import::xlsx_reader;

namespace {

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& p, const std::string& bytes) {
    std::ofstream out(p, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

struct part {
    part(std::string n, std::string c, bool stored = false)
        : name(std::move(n)), content(std::move(c)), store(stored) {}
    std::string name, content;
    bool store = false;  // no compression: its bytes can be found and patched in the zip
    // When non-zero, the part is `content` followed by this many blanks and then `tail`, made
    // as libzip reads it (a zip bomb without holding its bytes).
    std::uint64_t blanks = 0;
    std::string tail;
};

// A libzip source callback that makes a part with `blanks` blanks in the middle.
struct blank_source {
    const part* p;
    std::uint64_t pos = 0;
    std::uint64_t size() const { return p->content.size() + p->blanks + p->tail.size(); }

    static zip_int64_t callback(void* self, void* data, zip_uint64_t len, zip_source_cmd_t cmd) {
        auto& s = *static_cast<blank_source*>(self);
        switch (cmd) {
            case ZIP_SOURCE_OPEN: s.pos = 0; return 0;
            case ZIP_SOURCE_READ: {
                auto* out = static_cast<char*>(data);
                zip_uint64_t n = 0;
                std::uint64_t head = s.p->content.size(), body = head + s.p->blanks;
                for (; n < len && s.pos < s.size(); ++n, ++s.pos)
                    out[n] = s.pos < head   ? s.p->content[s.pos]
                             : s.pos < body ? ' '
                                            : s.p->tail[s.pos - body];
                return static_cast<zip_int64_t>(n);
            }
            case ZIP_SOURCE_CLOSE: return 0;
            case ZIP_SOURCE_STAT: {
                auto* st = static_cast<zip_stat_t*>(data);
                zip_stat_init(st);
                st->size = s.size();
                st->valid |= ZIP_STAT_SIZE;
                return sizeof(zip_stat_t);
            }
            case ZIP_SOURCE_FREE: delete &s; return 0;
            case ZIP_SOURCE_SUPPORTS:
                return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ,
                                                      ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT,
                                                      ZIP_SOURCE_FREE, ZIP_SOURCE_ERROR, -1);
            case ZIP_SOURCE_ERROR: return 0;
            default: return -1;
        }
    }
};

// A zip of the given parts, built by libzip in a temporary file and returned as bytes.
std::string make_zip(const std::vector<part>& parts) {
    temp_dir dir;
    auto path = dir / "z.zip";
    int err = 0;
    zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
    REQUIRE(z != nullptr);
    for (auto& p : parts) {
        zip_source_t* src =
            p.blanks ? zip_source_function(z, blank_source::callback, new blank_source{&p})
                     : zip_source_buffer(z, p.content.data(), p.content.size(), 0);
        REQUIRE(src != nullptr);
        zip_int64_t i = zip_file_add(z, p.name.c_str(), src, ZIP_FL_ENC_UTF_8);
        REQUIRE(i >= 0);
        REQUIRE(zip_set_file_compression(z, static_cast<zip_uint64_t>(i),
                                         p.store ? ZIP_CM_STORE : ZIP_CM_DEFLATE, 0) == 0);
    }
    REQUIRE(zip_close(z) == 0);
    return read_file(path);
}

const char* const main_ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const char* const rel_ns = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const char* const pkg_rel_ns = "http://schemas.openxmlformats.org/package/2006/relationships";

std::string rel(const std::string& id, const std::string& type, const std::string& target,
                const std::string& extra = "") {
    return "<Relationship Id=\"" + id + "\" Type=\"" + rel_ns + "/" + type + "\" Target=\"" +
           target + "\"" + extra + "/>";
}

std::string rels(const std::string& body) {
    return std::string("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n") +
           "<Relationships xmlns=\"" + pkg_rel_ns + "\">" + body + "</Relationships>";
}

std::string worksheet(const std::string& sheet_data, const std::string& before = "") {
    return std::string("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n") +
           "<worksheet xmlns=\"" + main_ns + "\" xmlns:r=\"" + rel_ns + "\">" + before +
           "<sheetData>" + sheet_data + "</sheetData></worksheet>";
}

std::string shared(const std::vector<std::string>& items) {
    std::string s = std::string("<sst xmlns=\"") + main_ns + "\">";
    for (auto& i : items) s += "<si>" + i + "</si>";
    return s + "</sst>";
}

// A workbook by hand: each field is one part's text, and `parts()` zips them. Tests change a
// field (or drop a part) to make the case they need.
struct book {
    std::string root_rels = rels(rel("rId1", "officeDocument", "xl/workbook.xml"));
    std::string workbook_pr;
    std::vector<std::pair<std::string, std::string>> sheets{{"Sheet1", "rId1"}};
    std::string workbook_rels = rels(rel("rId1", "worksheet", "worksheets/sheet1.xml") +
                                     rel("rId2", "sharedStrings", "sharedStrings.xml") +
                                     rel("rId3", "styles", "styles.xml"));
    std::string sheet = worksheet("<row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c></row>");
    std::string sst = shared({"<t>Name</t>"});
    std::string styles = std::string("<styleSheet xmlns=\"") + main_ns +
                         "\"><cellXfs count=\"1\"><xf numFmtId=\"0\"/></cellXfs></styleSheet>";
    std::string sheet_part = "xl/worksheets/sheet1.xml";
    std::vector<part> extra;
    bool store_sheet = false;

    std::string workbook() const {
        std::string s = std::string("<workbook xmlns=\"") + main_ns + "\" xmlns:r=\"" + rel_ns +
                        "\">" + workbook_pr + "<sheets>";
        int n = 1;
        for (auto& [name, id] : sheets)
            s += "<sheet name=\"" + name + "\" sheetId=\"" + std::to_string(n++) + "\" r:id=\"" +
                 id + "\"/>";
        return s + "</sheets></workbook>";
    }
    std::vector<part> parts() const {
        std::vector<part> p{{"[Content_Types].xml", "<Types/>"},
                            {"_rels/.rels", root_rels},
                            {"xl/workbook.xml", workbook()},
                            {"xl/_rels/workbook.xml.rels", workbook_rels},
                            {sheet_part, sheet, store_sheet},
                            {"xl/sharedStrings.xml", sst},
                            {"xl/styles.xml", styles}};
        p.insert(p.end(), extra.begin(), extra.end());
        return p;
    }
    std::string zip() const { return make_zip(parts()); }
};

std::span<const std::byte> bytes_of(const std::string& s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

std::vector<sheet_row> read_all(xlsx_reader& r) {
    std::vector<sheet_row> rows;
    sheet_row row;
    while (r.next(row)) rows.push_back(row);
    return rows;
}

std::vector<sheet_row> read_bytes(const std::string& zip, std::string_view sheet = {}) {
    xlsx_reader r(bytes_of(zip), limits{}, sheet);
    return read_all(r);
}

// The rejection message of a workbook (read to its end), or "" when it was read.
std::string rejection(const std::string& zip, const limits& lim = {}) {
    try {
        xlsx_reader r(bytes_of(zip), lim);
        read_all(r);
    } catch (const file_error& e) {
        std::string msg = e.what();
        CHECK(msg.find('\n') == std::string::npos);
        return msg;
    }
    return "";
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

// The values of one-row sheet cells (A1, B1, ...).
std::vector<std::string> values(const book& b) {
    auto rows = read_bytes(b.zip());
    REQUIRE(rows.size() == 1);
    return rows[0].cells;
}

using cells = std::vector<std::string>;
using columns = std::vector<std::uint32_t>;

// Patches a little-endian u32 in a zip's bytes.
void put_u32(std::string& z, std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i)
        z[at + static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xFF);
}
std::uint32_t get_u32(const std::string& z, std::size_t at) {
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i)
        v = (v << 8) | static_cast<unsigned char>(z[at + static_cast<std::size_t>(i)]);
    return v;
}

// The offsets of an entry's central-directory record and local header.
std::pair<std::size_t, std::size_t> entry_headers(const std::string& z, const std::string& name) {
    for (std::size_t at = z.find("PK\1\2"); at != std::string::npos;
         at = z.find("PK\1\2", at + 1)) {
        auto name_len =
            static_cast<unsigned char>(z[at + 28]) | (static_cast<unsigned char>(z[at + 29]) << 8);
        if (z.compare(at + 46, static_cast<std::size_t>(name_len), name) == 0)
            return {at, get_u32(z, at + 42)};
    }
    FAIL("no entry " << name);
    return {0, 0};
}

// Declares another uncompressed size for an entry, in both of its headers.
std::string with_declared_size(std::string z, const std::string& name, std::int64_t delta) {
    auto [central, local] = entry_headers(z, name);
    auto size =
        static_cast<std::uint32_t>(static_cast<std::int64_t>(get_u32(z, central + 24)) + delta);
    put_u32(z, central + 24, size);
    put_u32(z, local + 22, size);
    return z;
}

}  // namespace

TEST_CASE("a workbook written by libxlsxwriter: every value kind, sheet names, several sheets") {
    WEFT_WATCHDOG();
    temp_dir dir;
    auto path = dir / "lxw.xlsx";
    lxw_workbook* wb = workbook_new(path.c_str());
    REQUIRE(wb != nullptr);
    lxw_worksheet* first = workbook_add_worksheet(wb, "Übersicht");
    worksheet_write_string(first, 0, 0, "not this one", nullptr);
    lxw_worksheet* data = workbook_add_worksheet(wb, "Businesses");
    lxw_format* date = workbook_add_format(wb);
    format_set_num_format(date, "yyyy-mm-dd");
    lxw_format* stamp = workbook_add_format(wb);
    format_set_num_format(stamp, "dd/mm/yyyy hh:mm:ss");
    lxw_format* money = workbook_add_format(wb);
    format_set_num_format(money, "#,##0.00 [$€-407];[Red]-#,##0.00");
    worksheet_write_string(data, 0, 0, "Name", nullptr);
    worksheet_write_string(data, 0, 1, "Phone", nullptr);
    worksheet_write_string(data, 1, 0, "Café \"Zur Post\", Köln\nsecond line", nullptr);
    worksheet_write_number(data, 1, 1, 4155550100, nullptr);
    worksheet_write_number(data, 1, 2, 1.5, nullptr);
    worksheet_write_number(data, 1, 3, 42.0, money);
    worksheet_write_boolean(data, 1, 4, 1, nullptr);
    worksheet_write_boolean(data, 1, 5, 0, nullptr);
    worksheet_write_formula_num(data, 1, 6, "=B2*2", nullptr, 8311100200);
    worksheet_write_formula_str(data, 1, 7, "=A1&\"!\"", nullptr, "Name!");
    lxw_datetime d{2024, 2, 29, 0, 0, 0};
    worksheet_write_datetime(data, 1, 8, &d, date);
    lxw_datetime t{1999, 12, 31, 23, 59, 58};
    worksheet_write_datetime(data, 1, 9, &t, stamp);
    worksheet_write_string(data, 3, 1, "row 4, column B", nullptr);
    lxw_worksheet* sheet1 = workbook_add_worksheet(wb, "Sheet1");
    worksheet_write_string(sheet1, 0, 0, "the default", nullptr);
    REQUIRE(workbook_close(wb) == LXW_NO_ERROR);

    SUBCASE("Sheet1 is the default even when it is not first") {
        xlsx_reader r(path);
        CHECK(r.sheet_name() == "Sheet1");
        auto rows = read_all(r);
        REQUIRE(rows.size() == 1);
        CHECK(rows[0].cells == cells{"the default"});
    }
    SUBCASE("a sheet by name, case-insensitively") {
        xlsx_reader r(path, limits{}, "businesses");
        CHECK(r.sheet_name() == "Businesses");
        auto rows = read_all(r);
        REQUIRE(rows.size() == 3);
        CHECK(rows[0].number == 1);
        CHECK(rows[0].cells == cells{"Name", "Phone"});
        CHECK(rows[1].number == 2);
        CHECK(rows[1].cells == cells{"Café \"Zur Post\", Köln\nsecond line", "4155550100", "1.5",
                                     "42", "TRUE", "FALSE", "8311100200", "Name!", "2024-02-29",
                                     "1999-12-31 23:59:58"});
        CHECK(rows[2].number == 4);
        CHECK(rows[2].cells == cells{"", "row 4, column B"});
    }
    SUBCASE("a Unicode sheet name") {
        xlsx_reader r(path, limits{}, "Übersicht");
        CHECK(read_all(r)[0].cells == cells{"not this one"});
    }
    SUBCASE("a sheet that does not exist is a file error naming the sheets") {
        try {
            xlsx_reader r(path, limits{}, "Nope");
            FAIL("read a sheet that does not exist");
        } catch (const file_error& e) {
            CHECK(contains(e.what(), "no sheet named 'Nope'"));
            CHECK(contains(e.what(), "'Businesses'"));
        }
    }
    SUBCASE("the same bytes from memory") {
        auto bytes = read_file(path);
        CHECK(read_bytes(bytes, "Businesses").size() == 3);
    }
    SUBCASE("the reader moves") {
        xlsx_reader a(path, limits{}, "Businesses");
        sheet_row row;
        REQUIRE(a.next(row));
        xlsx_reader b(std::move(a));
        REQUIRE(b.next(row));
        CHECK(row.number == 2);
    }
}

// The worksheet is inflated on a thread of its own, a few chunks ahead of the parser: rows still
// come out in order and complete, the progress fraction only grows and ends at 1, and a reader
// dropped in the middle of a sheet stops that thread at once.
TEST_CASE("a long sheet read through its inflating thread, whole or dropped halfway") {
    WEFT_WATCHDOG(std::chrono::seconds(120));
    temp_dir dir;
    const auto book = dir.path / "long.xlsx";
    weft_import::generate_options g;
    g.rows = 20'000;  // several MiB of XML: many chunks
    g.seed = 3;
    weft_import::generate_workbook(book, g);

    xlsx_reader whole(book);
    sheet_row r;
    std::uint32_t last = 0;
    std::size_t rows = 0;
    double fraction = 0;
    while (whole.next(r)) {
        CHECK(r.number == last + 1);
        last = r.number;
        if (r.number > 1) {
            const auto want = weft_import::generate_row(g, r.number - 2).values;
            const std::string got = r.cells.empty() ? std::string() : r.cells[0];
            if (got != want[0]) FAIL_CHECK("row " << r.number << ": " << got);
        }
        ++rows;
        CHECK(whole.fraction_read() >= fraction);
        fraction = whole.fraction_read();
    }
    CHECK(rows == 20'001);
    CHECK(whole.fraction_read() == 1.0);
    CHECK_FALSE(whole.next(r));  // and stays at the end

    for (const int stop_after : {0, 1, 5'000}) {
        xlsx_reader part(book);
        for (int i = 0; i < stop_after; ++i) REQUIRE(part.next(r));
    }  // destroyed with its thread mid-sheet: the watchdog would catch a hang
}

TEST_CASE("without Sheet1 the first worksheet is read; chartsheets are not worksheets") {
    WEFT_WATCHDOG();
    book b;
    b.sheets = {{"Chart", "rId9"}, {"Data", "rId1"}, {"More", "rId8"}};
    b.workbook_rels = rels(rel("rId9", "chartsheet", "chartsheets/sheet1.xml") +
                           rel("rId1", "worksheet", "worksheets/sheet1.xml") +
                           rel("rId8", "worksheet", "worksheets/sheet2.xml") +
                           rel("rId2", "sharedStrings", "sharedStrings.xml"));
    b.extra = {{"xl/worksheets/sheet2.xml",
                worksheet("<row><c t=\"inlineStr\"><is><t>two</t></is></c></row>")}};
    auto zip = b.zip();  // the bytes outlive the reader
    xlsx_reader r(bytes_of(zip));
    CHECK(r.sheet_name() == "Data");
    CHECK(read_all(r)[0].cells == cells{"Name"});
    CHECK(read_bytes(b.zip(), "More")[0].cells == cells{"two"});
    try {
        xlsx_reader c(bytes_of(zip), limits{}, "Chart");
        FAIL("read a chartsheet");
    } catch (const file_error& e) { CHECK(contains(e.what(), "not a worksheet")); }
}

TEST_CASE("the sheet is found through relationships, never by its usual name") {
    WEFT_WATCHDOG();
    SUBCASE("package-absolute targets") {
        book b;
        b.root_rels = rels(rel("rId1", "officeDocument", "/book/main.xml"));
        b.workbook_rels = rels(rel("rId1", "worksheet", "/data/s.xml") +
                               rel("rId2", "sharedStrings", "/xl/sharedStrings.xml"));
        b.sheet_part = "data/s.xml";
        auto parts = b.parts();
        for (auto& p : parts) {
            if (p.name == "xl/workbook.xml") p.name = "book/main.xml";
            if (p.name == "xl/_rels/workbook.xml.rels") p.name = "book/_rels/main.xml.rels";
        }
        CHECK(read_bytes(make_zip(parts))[0].cells == cells{"Name"});
    }
    SUBCASE("relative targets with .. that stay inside the package") {
        book b;
        b.workbook_rels = rels(rel("rId1", "worksheet", "./../other/./s.xml") +
                               rel("rId2", "sharedStrings", "sharedStrings.xml"));
        b.sheet_part = "other/s.xml";
        CHECK(read_bytes(b.zip())[0].cells == cells{"Name"});
    }
    SUBCASE("xl/worksheets/sheet1.xml is not assumed") {
        book b;
        b.workbook_rels = rels(rel("rId1", "worksheet", "worksheets/real.xml") +
                               rel("rId2", "sharedStrings", "sharedStrings.xml"));
        b.sheet_part = "xl/worksheets/real.xml";
        b.extra = {{"xl/worksheets/sheet1.xml", worksheet("<row><c t=\"b\"><v>1</v></c></row>")}};
        CHECK(read_bytes(b.zip())[0].cells == cells{"Name"});
    }
    SUBCASE("part names are case-insensitive, as in OPC") {
        book b;
        b.workbook_rels = rels(rel("rId1", "worksheet", "Worksheets/SHEET1.xml") +
                               rel("rId2", "sharedStrings", "sharedStrings.xml"));
        CHECK(read_bytes(b.zip())[0].cells == cells{"Name"});
    }
    SUBCASE("without _rels/.rels, xl/workbook.xml is the workbook") {
        auto parts = book{}.parts();
        std::erase_if(parts, [](const part& p) { return p.name == "_rels/.rels"; });
        CHECK(read_bytes(make_zip(parts))[0].cells == cells{"Name"});
    }
    SUBCASE("namespace prefixes on every element") {
        book b;
        b.sheet = std::string("<x:worksheet xmlns:x=\"") + main_ns +
                  "\"><x:sheetData><x:row r=\"1\"><x:c r=\"B1\" t=\"s\"><x:v>0</x:v></x:c>"
                  "</x:row></x:sheetData></x:worksheet>";
        CHECK(values(b) == cells{"", "Name"});
    }
}

TEST_CASE("values: strings") {
    WEFT_WATCHDOG();
    book b;
    b.sst =
        shared({"<t>plain</t>",
                "<r><t>rich </t></r><r><rPr><b/></rPr><t xml:space=\"preserve\">text</t></r>",
                "<r><t>東京</t></r><rPh sb=\"0\" eb=\"2\"><t>トウキョウ</t></rPh><phoneticPr "
                "fontId=\"1\"/>",
                "<t>line_x000D_break _x005F_x0041_ _x0041_ _xD83D__xDE00_ _xd800_ _x0000_ x_y</t>",
                "<t/>", "<t>  spaces kept  </t>"});
    b.sheet = worksheet(
        "<row r=\"1\">"
        "<c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\" t=\"s\"><v>1</v></c>"
        "<c r=\"C1\" t=\"s\"><v>2</v></c><c r=\"D1\" t=\"s\"><v>3</v></c>"
        "<c r=\"E1\" t=\"s\"><v>4</v></c><c r=\"F1\" t=\"s\"><v>5</v></c>"
        "<c r=\"G1\" t=\"inlineStr\"><is><t>inline &amp; &lt;escaped&gt;</t></is></c>"
        "<c r=\"H1\" "
        "t=\"inlineStr\"><is><r><t>in</t></r><r><t>line</t></r><rPh><t>x</t></rPh></is></c>"
        "<c r=\"I1\" t=\"str\"><f>A1&amp;\"!\"</f><v>plain!_x0021_</v></c>"
        "<c r=\"J1\" t=\"e\"><f>1/0</f><v>#DIV/0!</v></c>"
        "<c r=\"K1\" t=\"b\"><v>1</v></c><c r=\"L1\" t=\"b\"><v>0</v></c>"
        "<c r=\"M1\" t=\"d\"><v>2024-01-02T03:04:05</v></c>"
        "</row>");
    CHECK(values(b) == cells{"plain", "rich text", "東京",
                             "line\rbreak _x0041_ A \xF0\x9F\x98\x80 _xd800_ _x0000_ x_y", "",
                             "  spaces kept  ", "inline & <escaped>", "inline", "plain!!",
                             "#DIV/0!", "TRUE", "FALSE", "2024-01-02T03:04:05"});
}

TEST_CASE("values: numbers are their shortest round-trip decimal") {
    WEFT_WATCHDOG();
    book b;
    std::vector<std::string> in{"4155550100",
                                "1.5",
                                "42.0",
                                "42",
                                "0.1",
                                "-0",
                                "1E3",
                                "0.30000000000000004",
                                "123456789012345678901234",
                                "1e21",
                                "0.000001",
                                "1.5e-7",
                                "-2.5",
                                " 7 ",
                                "1.0000000000000002"};
    std::string row = "<row>";
    for (auto& v : in) row += "<c><v>" + v + "</v></c>";
    b.sheet = worksheet(row + "<c/><c><v></v></c><c t=\"n\"><v>3</v></c></row>");
    CHECK(values(b) == cells{"4155550100", "1.5", "42", "42", "0.1", "0", "1000",
                             "0.30000000000000004", "1.2345678901234569e+23", "1e+21", "0.000001",
                             "1.5e-07", "-2.5", "7", "1.0000000000000002", "", "", "3"});
}

TEST_CASE("values: date-formatted numbers") {
    WEFT_WATCHDOG();
    book b;
    // cellXfs: 0 General, 1 builtin 14 (date), 2 builtin 22 (date time), 3 builtin 20 (h:mm),
    // 4 custom date, 5 custom with the letters only in quotes, 6 colour and locale only,
    // 7 elapsed [h]:mm, 8 custom AM/PM, 9 builtin 49 (text)
    b.styles = std::string("<styleSheet xmlns=\"") + main_ns +
               "\"><numFmts count=\"5\">"
               "<numFmt numFmtId=\"164\" formatCode=\"dd/mm/yyyy\"/>"
               "<numFmt numFmtId=\"165\" formatCode=\"&quot;day&quot; 0.00\"/>"
               "<numFmt numFmtId=\"166\" formatCode=\"[Red][$-409]#,##0;\\d0\"/>"
               "<numFmt numFmtId=\"167\" formatCode=\"[h]:mm\"/>"
               "<numFmt numFmtId=\"168\" formatCode=\"h AM/PM\"/>"
               "</numFmts><cellStyleXfs><xf numFmtId=\"14\"/></cellStyleXfs><cellXfs>"
               "<xf numFmtId=\"0\"/><xf numFmtId=\"14\"/><xf numFmtId=\"22\"/><xf numFmtId=\"20\"/>"
               "<xf numFmtId=\"164\"/><xf numFmtId=\"165\"/><xf numFmtId=\"166\"/>"
               "<xf numFmtId=\"167\"/><xf numFmtId=\"168\"/><xf numFmtId=\"49\"/></cellXfs>"
               "</styleSheet>";
    auto cell = [](int style, const std::string& v) {
        return "<c s=\"" + std::to_string(style) + "\"><v>" + v + "</v></c>";
    };
    SUBCASE("the 1900 system, with its leap-year bug") {
        b.sheet =
            worksheet("<row>" + cell(0, "45351") + cell(1, "45351") + cell(2, "45351.5") +
                      cell(3, "0.75") + cell(4, "1") + cell(5, "45351") + cell(6, "45351") +
                      cell(7, "1.5") + cell(8, "45351.25") + cell(9, "45351") + cell(1, "59") +
                      cell(1, "60") + cell(1, "61") + cell(1, "45351.5") + cell(1, "-1") +
                      cell(1, "2958465") + cell(1, "2958466") + cell(2, "45351.999999") + "</row>");
        CHECK(values(b) == cells{"45351", "2024-02-29", "2024-02-29 12:00:00",
                                 "1900-01-00 18:00:00", "1900-01-01", "45351", "45351",
                                 "1900-01-01 12:00:00", "2024-02-29 06:00:00", "45351",
                                 "1900-02-28", "1900-02-29", "1900-03-01", "2024-02-29 12:00:00",
                                 "-1", "9999-12-31", "2958466", "2024-03-01 00:00:00"});
    }
    SUBCASE("the 1904 system") {
        b.workbook_pr = "<workbookPr date1904=\"1\"/>";
        b.sheet = worksheet("<row>" + cell(1, "0") + cell(1, "1") + cell(2, "43889.5") + "</row>");
        CHECK(values(b) == cells{"1904-01-01", "1904-01-02", "2024-02-29 12:00:00"});
    }
}

TEST_CASE("an out-of-range number is a file error, not a date") {
    WEFT_WATCHDOG();
    book b;
    b.sheet = worksheet("<row><c><v>1e400</v></c></row>");
    CHECK(contains(rejection(b.zip()), "invalid number '1e400'"));
}

TEST_CASE("placement: by r=, or the next position") {
    WEFT_WATCHDOG();
    book b;
    b.sheet = worksheet(
        "<row r=\"2\"><c r=\"C2\"><v>3</v></c><c><v>4</v></c><c "
        "r=\"A2\"><v>1</v></c><c><v>2</v></c></row>"
        "<row><c><v>1</v></c></row>"
        "<row r=\"10\" spans=\"1:3\"/>"
        "<row><c r=\"B11\"/><c r=\"D11\" s=\"0\"><v></v></c></row>"
        "<row r=\"20\"><c r=\"XFD20\" t=\"inlineStr\"><is><t>last</t></is></c></row>"
        "<row r=\"1048576\"><c r=\"A1048576\"><v>5</v></c></row>",
        "<dimension ref=\"A1:B2\"/>");
    auto rows = read_bytes(b.zip());
    REQUIRE(rows.size() == 6);
    CHECK(rows[0].number == 2);
    CHECK(rows[0].cells == cells{"1", "2", "3", "4"});
    CHECK(rows[1].number == 3);
    CHECK(rows[1].cells == cells{"1"});
    CHECK(rows[2].number == 10);
    CHECK(rows[2].cells.empty());
    CHECK(rows[3].number == 11);
    CHECK(rows[3].cells.empty());  // empty cells at the end of a row are absent
    CHECK(rows[4].number == 20);
    REQUIRE(rows[4].cells.size() == 16384);
    CHECK(rows[4].cells.back() == "last");
    CHECK(rows[5].number == 1048576);
}

TEST_CASE("placement beyond the sheet's limits rejects the file") {
    WEFT_WATCHDOG();
    book b;
    b.sheet = worksheet("<row r=\"1\"><c r=\"XFE1\"><v>1</v></c></row>");
    CHECK(contains(rejection(b.zip()), "beyond column XFD"));
    b.sheet = worksheet("<row r=\"1048577\"><c><v>1</v></c></row>");
    CHECK(contains(rejection(b.zip()), "beyond row 1048576"));
    b.sheet = worksheet("<row r=\"5\"><c r=\"A1048577\"><v>1</v></c></row>");
    CHECK(contains(rejection(b.zip()), "beyond row 1048576"));
    b.sheet = worksheet("<row r=\"1048576\"/><row/>");
    CHECK(contains(rejection(b.zip()), "more than 1048576 rows"));
    b.sheet = worksheet("<row><c r=\"XFD1\"><v>1</v></c><c><v>2</v></c></row>");
    CHECK(contains(rejection(b.zip()), "beyond XFD"));
    b.sheet = worksheet("<row><c r=\"1A\"><v>1</v></c></row>");
    CHECK(contains(rejection(b.zip()), "invalid cell reference '1A'"));
    b.sheet = worksheet("<row r=\"x\"/>");
    CHECK(contains(rejection(b.zip()), "invalid row number"));
}

TEST_CASE("rejections: not an .xlsx at all") {
    WEFT_WATCHDOG();
    CHECK(rejection("") == "empty file");
    CHECK(contains(rejection("Name,Phone\nAda,1\n"), "not a zip"));
    std::string xls("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8);
    xls += std::string(600, '\0');
    CHECK(contains(rejection(xls), "legacy .xls"));
    auto ods = make_zip({{"mimetype", "application/vnd.oasis.opendocument.spreadsheet", true},
                         {"content.xml", "<office:document-content/>"}});
    CHECK(contains(rejection(ods), "OpenDocument spreadsheet (.ods)"));
    temp_dir dir;
    write_file(dir / "empty.xlsx", "");
    CHECK_THROWS_WITH_AS(xlsx_reader(dir / "empty.xlsx"), "empty file", file_error);
    write_file(dir / "old.xls", xls);
    CHECK_THROWS_AS(xlsx_reader(dir / "old.xls"), file_error);
    // The caller puts the file name in front ("weft-import: FILE: ..."): not repeated here.
    CHECK_THROWS_WITH_AS(xlsx_reader(dir / "missing.xlsx"),
                         "cannot open the file: No such file or directory", file_error);
}

TEST_CASE("rejections: a damaged zip") {
    WEFT_WATCHDOG();
    book b;
    b.store_sheet = true;
    auto good = b.zip();
    REQUIRE(rejection(good).empty());
    SUBCASE("truncated") {
        CHECK(contains(rejection(good.substr(0, good.size() / 2)), "truncated zip"));
        CHECK(contains(rejection(good.substr(0, good.size() - 10)), "zip"));
        temp_dir dir;
        write_file(dir / "cut.xlsx", good.substr(0, good.size() / 2));
        CHECK_THROWS_WITH_AS(xlsx_reader(dir / "cut.xlsx"), doctest::Contains("truncated zip"),
                             file_error);
    }
    SUBCASE("a CRC failure") {
        auto bad = good;
        auto at = bad.find("r=\"A1\"");
        REQUIRE(at != std::string::npos);
        bad[at + 3] = 'B';  // still well-formed XML, still a valid sheet: only the CRC tells
        CHECK(rejection(bad) == "part xl/worksheets/sheet1.xml fails its CRC check");
    }
    SUBCASE("inflates to more than declared") {
        CHECK(contains(rejection(with_declared_size(b.zip(), "xl/sharedStrings.xml", -5)),
                       "xl/sharedStrings.xml"));
        b.store_sheet = false;
        CHECK(contains(rejection(with_declared_size(b.zip(), "xl/worksheets/sheet1.xml", -5)),
                       "beyond its declared size"));
    }
    SUBCASE("inflates to less than declared") {
        b.store_sheet = false;
        auto msg = rejection(with_declared_size(b.zip(), "xl/worksheets/sheet1.xml", 5));
        CHECK(contains(msg, "xl/worksheets/sheet1.xml"));
    }
}

TEST_CASE("rejections: parts that are missing") {
    WEFT_WATCHDOG();
    auto without = [](const std::string& name) {
        auto parts = book{}.parts();
        std::erase_if(parts, [&](const part& p) { return p.name == name; });
        return make_zip(parts);
    };
    CHECK(contains(rejection(without("xl/workbook.xml")), "missing workbook part xl/workbook.xml"));
    CHECK(contains(rejection(without("xl/worksheets/sheet1.xml")),
                   "missing worksheet part xl/worksheets/sheet1.xml"));
    CHECK(contains(rejection(without("xl/sharedStrings.xml")), "missing shared-strings part"));
    CHECK(contains(rejection(without("xl/styles.xml")), "missing styles part"));
    CHECK(contains(rejection(without("xl/_rels/workbook.xml.rels")),
                   "missing workbook relationships"));
    book b;
    b.root_rels = rels("");
    CHECK(contains(rejection(b.zip()), "officeDocument"));
    b = book{};
    b.sheets = {{"Sheet1", "rId7"}};
    CHECK(contains(rejection(b.zip()), "missing relationship rId7"));
    b = book{};
    b.sheets = {};
    CHECK(contains(rejection(b.zip()), "no worksheet"));
}

TEST_CASE("rejections: relationship targets outside the package") {
    WEFT_WATCHDOG();
    for (std::string extra :
         {rel("rId5", "worksheet", "../../etc/passwd"), rel("rId5", "worksheet", "/../x.xml"),
          rel("rId5", "hyperlink", "https://example.com/x.xml"),
          rel("rId5", "worksheet", "file:///etc/passwd"),
          rel("rId5", "externalLink", "x.xml", " TargetMode=\"External\"")}) {
        CAPTURE(extra);
        book b;
        b.workbook_rels = rels(rel("rId1", "worksheet", "worksheets/sheet1.xml") +
                               rel("rId2", "sharedStrings", "sharedStrings.xml") + extra);
        CHECK(contains(rejection(b.zip()), "relationship target outside the package"));
    }
    book b;
    b.root_rels = rels(rel("rId1", "officeDocument", "../xl/workbook.xml"));
    CHECK(contains(rejection(b.zip()), "outside the package in _rels/.rels"));
}

TEST_CASE("rejections: XML that is not well-formed, DTDs and entities") {
    WEFT_WATCHDOG();
    book b;
    b.sheet = worksheet("<row><c><v>1</v></row>");
    CHECK(contains(rejection(b.zip()), "XML not well-formed in xl/worksheets/sheet1.xml"));
    b = book{};
    b.sst = "<sst><si><t>&undefined;</t></si></sst>";
    CHECK(contains(rejection(b.zip()), "XML not well-formed in xl/sharedStrings.xml"));
    b = book{};
    b.sst = "<sst><si><t>a</t></si></sst><sst/>";
    CHECK(contains(rejection(b.zip()), "not well-formed"));
    b = book{};
    b.sheet = "";
    CHECK(contains(rejection(b.zip()), "not well-formed"));
    b = book{};
    b.sst =
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 "
        "\"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]><sst><si><t>&lol2;</t></si></"
        "sst>";
    CHECK(contains(rejection(b.zip()), "DTD (DOCTYPE) in xl/sharedStrings.xml"));
    b = book{};
    b.sheet = "<!DOCTYPE worksheet SYSTEM \"file:///etc/passwd\"><worksheet/>";
    CHECK(contains(rejection(b.zip()), "DTD"));
    b = book{};
    b.workbook_rels = "<!DOCTYPE r><Relationships/>";
    CHECK(contains(rejection(b.zip()), "DTD"));
    b = book{};
    b.sheet = std::string("<chartsheet xmlns=\"") + main_ns + "\"/>";
    CHECK(contains(rejection(b.zip()), "is not a worksheet"));
}

TEST_CASE("rejections: cell values that cannot be") {
    WEFT_WATCHDOG();
    book b;
    b.sheet = worksheet("<row r=\"3\"><c r=\"B3\" t=\"s\"><v>1</v></c></row>");
    CHECK(
        contains(rejection(b.zip()), "cell B3: shared string 1 does not exist (the table has 1)"));
    b.sheet = worksheet("<row><c t=\"s\"><v>-1</v></c></row>");
    CHECK(contains(rejection(b.zip()), "invalid shared-string index"));
    b.sheet = worksheet("<row><c t=\"s\"><v>99999999999999999999</v></c></row>");
    CHECK(contains(rejection(b.zip()), "does not exist"));
    b.workbook_rels = rels(rel("rId1", "worksheet", "worksheets/sheet1.xml"));
    b.sheet = worksheet("<row><c t=\"s\"><v>0</v></c></row>");
    CHECK(contains(rejection(b.zip()), "no shared-string table"));
    b = book{};
    b.sheet = worksheet("<row><c><v>abc</v></c></row>");
    CHECK(contains(rejection(b.zip()), "cell A1: invalid number 'abc'"));
    b.sheet = worksheet("<row><c><v>nan</v></c></row>");
    CHECK(contains(rejection(b.zip()), "invalid number"));
    b.sheet = worksheet("<row><c t=\"b\"><v>2</v></c></row>");
    CHECK(contains(rejection(b.zip()), "invalid boolean"));
    b.sheet = worksheet("<row><c t=\"zz\"><v>2</v></c></row>");
    CHECK(contains(rejection(b.zip()), "unknown cell type 'zz'"));
}

TEST_CASE("a valid prefix of rows comes out before a fault further in the sheet") {
    WEFT_WATCHDOG();
    book b;
    b.sheet = worksheet("<row><c><v>1</v></c></row><row><c t=\"s\"><v>7</v></c></row>");
    auto zip = b.zip();
    xlsx_reader r(bytes_of(zip));
    sheet_row row;
    REQUIRE(r.next(row));
    CHECK(row.cells == cells{"1"});
    CHECK_THROWS_AS(r.next(row), file_error);
    CHECK_THROWS_AS(r.next(row), file_error);  // and it stays failed
}

TEST_CASE("resource limits: counted while inflating") {
    WEFT_WATCHDOG(std::chrono::seconds(120));
    SUBCASE("a part beyond max_part_bytes") {
        limits lim;
        lim.max_part_bytes = 100;
        auto msg = rejection(book{}.zip(), lim);
        CHECK(contains(msg, "over the limit of 100"));
    }
    SUBCASE("a zip bomb: 200 MiB of blanks, deflated") {
        auto parts = book{}.parts();
        for (auto& p : parts)
            if (p.name == "xl/worksheets/sheet1.xml") {
                p.content = std::string("<worksheet xmlns=\"") + main_ns + "\"><sheetData>";
                p.blanks = std::uint64_t{200} << 20;
                p.tail = "</sheetData></worksheet>";
            }
        auto zip = make_zip(parts);
        CHECK(zip.size() < (std::size_t{1} << 20));
        CHECK(contains(rejection(zip), "inflates more than 100:1"));
        limits lim;
        lim.max_ratio = 2000;
        lim.max_part_bytes = 50 << 20;
        CHECK(contains(rejection(zip, lim), "over the limit"));
        // Lying about its size does not help: the count is what holds.
        auto lie = with_declared_size(zip, "xl/worksheets/sheet1.xml", -(std::int64_t{190} << 20));
        CHECK(contains(rejection(lie, lim), "beyond"));
    }
}

TEST_CASE("a large sheet is streamed row by row") {
    WEFT_WATCHDOG(std::chrono::seconds(120));
    const std::size_t n = weft_test::scale(200'000);
    book b;
    std::string data;
    data.reserve(n * 80);
    for (std::size_t i = 1; i <= n; ++i)
        data += "<row r=\"" + std::to_string(i) + "\"><c t=\"inlineStr\"><is><t>business " +
                std::to_string(i) + "</t></is></c><c><v>" + std::to_string(i * 7) +
                "</v></c></row>";
    b.sheet = worksheet(data);
    data = std::string();
    auto zip = b.zip();
    xlsx_reader r(bytes_of(zip));
    sheet_row row;
    REQUIRE(r.next(row));
    CHECK(row.cells == cells{"business 1", "7"});
    CHECK(r.fraction_read() > 0.0);
    CHECK(r.fraction_read() < 0.1);
    std::size_t count = 1;
    double last = r.fraction_read();
    bool monotonic = true;
    while (r.next(row)) {
        ++count;
        monotonic = monotonic && r.fraction_read() >= last;
        last = r.fraction_read();
        if (row.number != count) break;
    }
    CHECK(monotonic);
    CHECK(count == n);
    CHECK(row.cells == cells{"business " + std::to_string(n), std::to_string(n * 7)});
    CHECK(r.fraction_read() == 1.0);
}

TEST_CASE("cell text: Excel's limit of 32,767 characters, counted in UTF-16 code units") {
    WEFT_WATCHDOG();
    const std::string longest(32767, 'a'), too_long(32768, 'a');
    std::string e_acute;  // 32,767 two-byte characters: 65,534 bytes, within the limit
    for (int i = 0; i < 32767; ++i) e_acute += "\xC3\xA9";
    std::string emoji;  // 16,384 characters beyond U+FFFF: 32,768 code units, over it
    for (int i = 0; i < 16384; ++i) emoji += "\xF0\x9F\x98\x80";
    std::string escaped;  // _xHHHH_ spells one code unit in seven bytes
    for (int i = 0; i < 32767; ++i) escaped += "_x0041_";

    book b;
    b.sst = shared({"<t>" + longest + "</t>", "<t>" + e_acute + "</t>",
                    "<r><t>" + longest.substr(1) + "</t></r><r><t>a</t></r>"});
    b.sheet = worksheet(
        "<row r=\"1\"><c t=\"s\"><v>0</v></c><c t=\"s\"><v>1</v></c><c "
        "t=\"s\"><v>2</v></c><c t=\"inlineStr\"><is><t>" +
        escaped + "</t></is></c><c t=\"str\"><f>x</f><v>" + longest + "</v></c></row>");
    CHECK(values(b) == cells{longest, e_acute, longest, std::string(32767, 'A'), longest});

    // A shared string is refused where it is defined, even when no cell names it.
    for (const auto& big : {too_long, emoji, escaped + "_x0041_"}) {
        b.sst = shared({"<t>x</t>", "<t>" + big + "</t>"});
        b.sheet = worksheet("<row r=\"1\"><c t=\"s\"><v>0</v></c></row>");
        CHECK(rejection(b.zip()) ==
              "shared string 1 in xl/sharedStrings.xml is longer than Excel's limit of 32767 "
              "characters");
    }
    // Rich-text runs count together.
    b.sst = shared({"<r><t>" + longest + "</t></r><r><t>a</t></r>"});
    CHECK(contains(rejection(b.zip()), "shared string 0 in xl/sharedStrings.xml is longer"));

    b.sst = shared({"<t>x</t>"});
    const std::string msg =
        "sheet 'Sheet1' cell B3: text longer than Excel's limit of 32767 "
        "characters";
    b.sheet =
        worksheet("<row r=\"3\"><c/><c t=\"inlineStr\"><is><t>" + too_long + "</t></is></c></row>");
    CHECK(rejection(b.zip()) == msg);
    b.sheet =
        worksheet("<row r=\"3\"><c/><c t=\"inlineStr\"><is><t>" + emoji + "</t></is></c></row>");
    CHECK(rejection(b.zip()) == msg);
    b.sheet = worksheet("<row r=\"3\"><c/><c r=\"B3\" t=\"str\"><f>REPT(\"a\",32768)</f><v>" +
                        too_long + "</v></c></row>");
    CHECK(rejection(b.zip()) == msg);
    // Escapes are decoded before counting, and a capture stops at seven bytes a character.
    b.sheet = worksheet("<row r=\"3\"><c/><c t=\"inlineStr\"><is><t>" + escaped +
                        "_x0041_</t></is></c></row>");
    CHECK(rejection(b.zip()) == msg);
    b.sheet = worksheet("<row r=\"3\"><c/><c><v>" + std::string(300000, '1') + "</v></c></row>");
    CHECK(rejection(b.zip()) == msg);
}

TEST_CASE("limits::max_text_bytes: the cell text a sheet produces is counted") {
    WEFT_WATCHDOG();
    CHECK(limits{}.max_text_bytes == std::uint64_t{2} << 30);
    book b;
    b.sst = shared({"<t>0123456789</t>"});
    std::string rows;  // each row: three cells naming one 10-byte shared string
    for (int r = 1; r <= 4; ++r)
        rows += "<row><c t=\"s\"><v>0</v></c><c t=\"s\"><v>0</v></c><c t=\"s\"><v>0</v></c></row>";
    b.sheet = worksheet(rows);
    limits lim;
    lim.max_text_bytes = 120;
    CHECK(rejection(b.zip(), lim).empty());
    lim.max_text_bytes = 119;
    auto zip = b.zip();
    xlsx_reader r(bytes_of(zip), lim);
    sheet_row row;
    for (int i = 0; i < 3; ++i) REQUIRE(r.next(row));
    CHECK_THROWS_WITH_AS(r.next(row),
                         "sheet 'Sheet1' row 4: the sheet's cell text exceeds 119 bytes "
                         "(limits::max_text_bytes)",
                         file_error);

    // The amplification it stops: a small file whose many cells all name one long string.
    const std::string big(30000, 'x');
    b.sst = shared({"<t>" + big + "</t>"});
    rows.clear();
    for (int r2 = 1; r2 <= 2000; ++r2) {
        rows += "<row>";
        for (int c = 0; c < 50; ++c) rows += "<c t=\"s\"><v>0</v></c>";
        rows += "</row>";
    }
    b.sheet = worksheet(rows);  // 3 GB of cell text from a file of a few kilobytes
    zip = b.zip();
    CHECK(zip.size() < 100000);
    // Refused as soon as the text passes the limit (1.5 MB a row): at 64 MiB, not the default
    // 2 GiB, so that the test copies 64 MiB and not 2 GiB (the same count, 30 times faster).
    lim.max_text_bytes = std::uint64_t{64} << 20;
    CHECK(rejection(zip, lim) ==
          "sheet 'Sheet1' row 45: the sheet's cell text exceeds 67108864 bytes "
          "(limits::max_text_bytes)");
    // Columns dropped by keep_columns are neither copied nor counted.
    xlsx_reader narrow(bytes_of(zip));
    narrow.keep_columns(columns{0});
    std::size_t n = 0;
    while (narrow.next(row)) {
        ++n;
        CHECK(row.cells.size() == 1);
        CHECK(row.other_content);
    }
    CHECK(n == 2000);
}

TEST_CASE("keep_columns: cells beyond the kept columns are dropped, but not forgotten") {
    WEFT_WATCHDOG();
    book b;
    b.sst = shared({"<t>Name</t>", "<t>\xC2\xA0 </t>", "<t>far</t>"});
    b.sheet = worksheet(
        "<row r=\"1\"><c t=\"s\"><v>0</v></c><c r=\"XFD1\" t=\"s\"><v>2</v></c></row>"
        "<row r=\"2\"><c t=\"inlineStr\"><is><t>Ada</t></is></c><c r=\"XFD2\" "
        "t=\"s\"><v>2</v></c></row>"
        "<row r=\"3\"><c r=\"XFD3\" t=\"s\"><v>1</v></c><c r=\"XFD3\" t=\"inlineStr\"><is><t> "
        "\t\xE3\x80\x80</t></is></c></row>"
        "<row r=\"4\"><c r=\"C4\"><v>7</v></c></row>"
        "<row r=\"5\"><c r=\"B5\" t=\"b\"><v>0</v></c></row>"
        "<row r=\"6\"><c r=\"A6\"><v>1</v></c><c r=\"B6\"><v>2</v></c></row>");
    auto zip = b.zip();
    xlsx_reader r(bytes_of(zip));
    sheet_row row;
    REQUIRE(r.next(row));  // until keep_columns, every column is kept
    CHECK(row.cells.size() == 16384);
    CHECK(row.cells.back() == "far");
    CHECK_FALSE(row.other_content);
    r.keep_columns(columns{0});
    REQUIRE(r.next(row));
    CHECK(row.number == 2);
    CHECK(row.cells == cells{"Ada"});
    CHECK(row.other_content);
    REQUIRE(r.next(row));  // White_Space only beyond the kept columns: still a blank row
    CHECK(row.number == 3);
    CHECK(row.cells.empty());
    CHECK_FALSE(row.other_content);
    REQUIRE(r.next(row));
    CHECK(row.cells.empty());
    CHECK(row.other_content);
    REQUIRE(r.next(row));
    CHECK(row.other_content);  // FALSE is content
    REQUIRE(r.next(row));
    CHECK(row.cells == cells{"1"});
    CHECK(row.other_content);
    CHECK_FALSE(r.next(row));
    // No columns keeps nothing; the rows still come, in order.
    xlsx_reader none(bytes_of(zip));
    none.keep_columns({});
    REQUIRE(none.next(row));
    CHECK(row.cells.empty());
    CHECK(row.other_content);
    // Kept columns need not be adjacent: cells[i] is the i-th kept column, given in any order.
    xlsx_reader far(bytes_of(zip));
    REQUIRE(far.next(row));
    far.keep_columns(columns{16383, 0, 16383});
    REQUIRE(far.next(row));
    CHECK(row.cells == cells{"Ada", "far"});
    CHECK_FALSE(row.other_content);
    REQUIRE(far.next(row));
    CHECK(row.cells == cells{"", " \t\xE3\x80\x80"});  // the later XFD3 counts, as before
    CHECK_FALSE(row.other_content);
    REQUIRE(far.next(row));  // C4 is not kept
    CHECK(row.cells.empty());
    CHECK(row.other_content);
}

TEST_CASE("row numbers: a cell names its own row, rows ascend") {
    WEFT_WATCHDOG();
    book b;
    b.sheet = worksheet("<row r=\"3\"><c r=\"A9\"><v>1</v></c></row>");
    CHECK(rejection(b.zip()) == "sheet 'Sheet1': cell A9 is inside row 3");
    b.sheet = worksheet("<row r=\"3\"><c><v>1</v></c><c r=\"B4\"><v>1</v></c></row>");
    CHECK(rejection(b.zip()) == "sheet 'Sheet1': cell B4 is inside row 3");
    b.sheet = worksheet("<row><c r=\"A2\"><v>1</v></c></row>");  // a row without r is row 1
    CHECK(rejection(b.zip()) == "sheet 'Sheet1': cell A2 is inside row 1");
    b.sheet = worksheet("<row r=\"2\"/><row r=\"2\"/>");
    CHECK(rejection(b.zip()) == "sheet 'Sheet1': row 2 comes after row 2 (rows must ascend)");
    b.sheet = worksheet("<row r=\"5\"/><row r=\"4\"/>");
    CHECK(rejection(b.zip()) == "sheet 'Sheet1': row 4 comes after row 5 (rows must ascend)");
    b.sheet = worksheet("<row r=\"5\"/><row/><row r=\"6\"/>");
    CHECK(rejection(b.zip()) == "sheet 'Sheet1': row 6 comes after row 6 (rows must ascend)");
    // Still accepted: a row without r takes the next position, its cells may name it.
    b.sheet = worksheet("<row r=\"5\"/><row><c r=\"B6\"><v>1</v></c></row><row r=\"9\"/>");
    auto rows = read_bytes(b.zip());
    REQUIRE(rows.size() == 3);
    CHECK(rows[1].number == 6);
    CHECK(rows[1].cells == cells{"", "1"});
    CHECK(rows[2].number == 9);
}

TEST_CASE("many styles and many sheets cost time in proportion, not in product") {
    // A product of the two (as a scan per lookup costs) is ~10^11 steps here: the watchdog ends it.
    WEFT_WATCHDOG();
    constexpr int n = 300000;
    book b;
    std::string fmts, xfs;
    for (int i = 0; i < n; ++i) {
        fmts += "<numFmt numFmtId=\"" + std::to_string(164 + i) + "\" formatCode=\"0\"/>";
        xfs += "<xf numFmtId=\"" + std::to_string(164 + i) + "\"/>";
    }
    fmts += "<numFmt numFmtId=\"" + std::to_string(164 + n) + "\" formatCode=\"yyyy-mm-dd\"/>";
    xfs += "<xf numFmtId=\"" + std::to_string(164 + n) + "\"/>";
    b.styles = std::string("<styleSheet xmlns=\"") + main_ns + "\"><numFmts>" + fmts +
               "</numFmts><cellXfs>" + xfs + "</cellXfs></styleSheet>";
    b.sheet = worksheet("<row r=\"1\"><c s=\"" + std::to_string(n) + "\"><v>45000</v></c><c s=\"" +
                        std::to_string(n - 1) + "\"><v>45000</v></c></row>");
    CHECK(values(b) == cells{"2023-03-15", "45000"});

    // Many chartsheets before the one worksheet: each is looked up among as many relationships.
    constexpr int sheets = 100000;
    book many;
    many.sheets.clear();
    std::string rel_list;
    for (int i = sheets; i >= 0; --i)
        rel_list += rel("rId" + std::to_string(i), i == sheets ? "worksheet" : "chartsheet",
                        i == sheets ? "worksheets/sheet1.xml" : "chartsheets/c.xml");
    for (int i = 0; i <= sheets; ++i) {
        const auto number = std::to_string(i);  // (g++ 12 misreads "S" + to_string as overlap)
        many.sheets.emplace_back(std::string("S").append(number),
                                 std::string("rId").append(number));
    }
    many.workbook_rels = rels(rel_list + rel("rIdS", "sharedStrings", "sharedStrings.xml"));
    xlsx_reader r(bytes_of(many.zip()));
    CHECK(r.sheet_name() == "S" + std::to_string(sheets));
}

namespace {

double parsed(const std::string& s) {
    double v = 0;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    REQUIRE(r.ec == std::errc());
    return v;
}

}  // namespace

TEST_CASE("numbers beyond 2^53 keep the digits of the file, in shortest round-trip form") {
    WEFT_WATCHDOG();
    const std::vector<std::pair<std::string, std::string>> cases{
        {"1e15", "1000000000000000"},
        {"999999999999999", "999999999999999"},
        {"9007199254740992", "9007199254740992"},  // 2^53
        {"9007199254740993", "9007199254740992"},  // not a double: the nearest one
        {"9007199254740994", "9007199254740994"},
        {"1e16", "10000000000000000"},
        {"1.2345678901234567E+16", "12345678901234568"},
        {"1e17", "100000000000000000"},
        {"1.23456789012345E+17", "123456789012345000"},  // was 123456789012344992
        {"-1.23456789012345E+17", "-123456789012345000"},
        {"123456789012345678", "123456789012345680"},
        {"9.99999999999999E+20", "999999999999999000000"},
        {"999999999999999999999", "1e+21"},  // rounds to 1e21: scientific from there on
        {"1e21", "1e+21"},
        {"-1e21", "-1e+21"},
        {"1.7976931348623157e308", "1.7976931348623157e+308"},
        {"123.456", "123.456"},
        {"-0.5", "-0.5"},
        {"0.0000025", "0.0000025"},
        {"0.000001", "0.000001"},
        {"9.99e-7", "9.99e-07"},
        {"-1e-7", "-1e-07"},
        {"1.5e-300", "1.5e-300"},
        {"5e-324", "5e-324"},  // the smallest denormal
        {"0.1", "0.1"},
        {"100", "100"},
    };
    book b;
    std::string row = "<row>";
    cells want;
    for (const auto& [in, out] : cases) {
        row += "<c><v>" + in + "</v></c>";
        want.push_back(out);
    }
    b.sheet = worksheet(row + "</row>");
    const auto got = values(b);
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        CAPTURE(cases[i].first);
        CHECK(got[i] == want[i]);
        CHECK(parsed(got[i]) == parsed(cases[i].first));  // reads back the same
    }
}

namespace {

std::string nest(std::size_t depth) {
    std::string s;
    for (std::size_t i = 0; i < depth; ++i) s += "<x>";
    for (std::size_t i = 0; i < depth; ++i) s += "</x>";
    return s;
}

}  // namespace

TEST_CASE("XML nesting deeper than 64 elements is refused in every part") {
    WEFT_WATCHDOG();
    static_assert(weft_import::max_xml_depth == 64);
    book ok;
    // worksheet + 63 = 64 levels: the deepest accepted.
    ok.sheet = worksheet("<row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c></row>", nest(63));
    CHECK(values(ok) == cells{"Name"});
    const std::string refused = " elements in ";
    auto deep = [&](book b, const std::string& part) {
        const auto msg = rejection(b.zip());
        CAPTURE(msg);
        CHECK(msg.starts_with("XML nested deeper than 64 elements in " + part + " (line "));
        CHECK(msg.ends_with("): refused, no .xlsx part nests that deep"));
    };
    book b = ok;
    b.sheet = worksheet("<row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c></row>", nest(64));
    deep(b, "xl/worksheets/sheet1.xml");
    // Inside a cell: worksheet sheetData row c is t = 6 levels.
    b = ok;
    b.sheet = worksheet("<row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>a</t>" + nest(60) +
                        "</is></c></row>");
    deep(b, "xl/worksheets/sheet1.xml");
    b = ok;
    b.sst = shared({"<t>Name</t>" + nest(64)});
    deep(b, "xl/sharedStrings.xml");
    b = ok;
    b.workbook_pr = nest(64);
    deep(b, "xl/workbook.xml");
    b = ok;
    b.root_rels = rels(rel("rId1", "officeDocument", "xl/workbook.xml") + nest(64));
    deep(b, "_rels/.rels");
    b = ok;
    b.workbook_rels = rels(rel("rId1", "worksheet", "worksheets/sheet1.xml") +
                           rel("rId2", "sharedStrings", "sharedStrings.xml") + nest(64));
    deep(b, "xl/_rels/workbook.xml.rels");
    b = ok;
    b.styles = std::string("<styleSheet xmlns=\"") + main_ns + "\">" + nest(64) + "</styleSheet>";
    deep(b, "xl/styles.xml");
    // Millions of tags that never close: refused at the 65th, not when the part ends.
    b = ok;
    std::string open;
    for (int i = 0; i < 1'000'000; ++i) open += "<a>";
    b.sheet = std::string("<worksheet xmlns=\"") + main_ns + "\"><sheetData>" + open;
    const auto zip = b.zip();
    CHECK(zip.size() < 20000);
    deep(b, "xl/worksheets/sheet1.xml");
}

TEST_CASE("limits::max_row_bytes: one row's cell text is bounded, a header row included") {
    WEFT_WATCHDOG();
    CHECK(limits{}.max_row_bytes == std::uint64_t{64} << 20);
    book b;
    b.sst = shared({"<t>" + std::string(1000, 'x') + "</t>"});
    std::string ten;  // ten cells naming one 1000-byte string
    for (int c = 0; c < 10; ++c) ten += "<c t=\"s\"><v>0</v></c>";
    b.sheet = worksheet("<row r=\"1\">" + ten + "</row><row r=\"2\">" + ten + "</row>");
    limits lim;
    lim.max_row_bytes = 10000;
    CHECK(rejection(b.zip(), lim).empty());
    lim.max_row_bytes = 9999;
    CHECK(rejection(b.zip(), lim) ==
          "sheet 'Sheet1' row 1: the row's cell text exceeds 9999 bytes (limits::max_row_bytes)");
    // Cells outside keep_columns do not count.
    const auto zip = b.zip();
    xlsx_reader r(bytes_of(zip), lim);
    sheet_row first;
    r.keep_columns(columns{0, 5});
    REQUIRE(r.next(first));
    CHECK(first.cells.size() == 2);
    CHECK(first.other_content);
    REQUIRE(r.next(first));
    CHECK(first.number == 2);
}

TEST_CASE("ambiguous packages: two entries with one name, names equal but for case") {
    WEFT_WATCHDOG();
    book b;
    b.sst = shared({"<t>Name</t>", "<t>Other</t>"});
    const std::string other = worksheet("<row r=\"1\"><c r=\"A1\" t=\"s\"><v>1</v></c></row>");
    SUBCASE("two entries named alike are refused, whichever part they are") {
        // Made unique by libzip, then renamed in both headers to the same name.
        for (const std::string name :
             {"xl/worksheets/sheet1.xml", "xl/sharedStrings.xml", "docProps/app.xml"}) {
            CAPTURE(name);
            auto parts = b.parts();
            std::string twin = name;
            twin[twin.size() - 5] = '~';  // same length
            parts.push_back({"docProps/app.xml", "<Properties/>"});
            parts.push_back({twin, other});
            auto zip = make_zip(parts);
            for (auto at = zip.find(twin); at != std::string::npos; at = zip.find(twin, at + 1))
                zip.replace(at, twin.size(), name);
            CHECK(rejection(zip) ==
                  "two zip entries are named '" + name + "': readers differ on which one counts");
        }
    }
    SUBCASE("an exact name wins over one equal but for case, wherever it is") {
        auto parts = b.parts();
        parts.insert(parts.begin(), part{"XL/Worksheets/Sheet1.xml", other});
        CHECK(read_bytes(make_zip(parts)).at(0).cells == cells{"Name"});
        parts = b.parts();
        parts.push_back({"xl/worksheets/SHEET1.xml", other});
        CHECK(read_bytes(make_zip(parts)).at(0).cells == cells{"Name"});
    }
    SUBCASE("one entry equal but for case is the part; two are refused") {
        auto parts = b.parts();
        parts[4].name = "XL/Worksheets/Sheet1.XML";
        CHECK(read_bytes(make_zip(parts)).at(0).cells == cells{"Name"});
        parts.push_back({"xl/WORKSHEETS/sheet1.xml", other});
        CHECK(rejection(make_zip(parts)) ==
              "two zip entries match part xl/worksheets/sheet1.xml ignoring case "
              "('XL/Worksheets/Sheet1.XML' and 'xl/WORKSHEETS/sheet1.xml') and neither exactly");
    }
}

TEST_CASE("ambiguous workbooks: two sheets with one name are refused") {
    WEFT_WATCHDOG();
    book b;
    b.workbook_rels = rels(rel("rId1", "worksheet", "worksheets/sheet1.xml") +
                           rel("rId2", "worksheet", "worksheets/sheet1.xml") +
                           rel("rId3", "sharedStrings", "sharedStrings.xml"));
    for (const auto& names : std::vector<std::pair<std::string, std::string>>{
             {"Sheet1", "Sheet1"}, {"Data", "DATA"}, {"Sheet1", "sheet1"}}) {
        b.sheets = {{names.first, "rId1"}, {names.second, "rId2"}};
        const auto zip = b.zip();
        const std::string msg = "the workbook has two sheets named '" + names.first +
                                "' (names differ in case at most): which one is meant is a guess";
        CHECK(rejection(zip) == msg);
        CHECK_THROWS_WITH_AS(xlsx_reader(bytes_of(zip), limits{}, names.second), msg.c_str(),
                             file_error);
    }
    // Distinct names are fine, and --sheet prefers the exact one.
    b.sheets = {{"Data", "rId1"}, {"Data2", "rId2"}};
    CHECK(xlsx_reader(bytes_of(b.zip()), limits{}, "data2").sheet_name() == "Data2");
}

TEST_CASE("input that is not a regular file: a directory is named, a pipe is spooled") {
    WEFT_WATCHDOG();
    temp_dir dir;
    CHECK_THROWS_WITH_AS(xlsx_reader(dir.path), "is a directory, not an .xlsx file", file_error);

    book b;
    const auto zip = b.zip();
    const std::string fifo = dir / "pipe";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    auto feed = [&](const std::string& bytes) {
        return std::thread([&fifo, bytes] {
            std::ofstream out(fifo, std::ios::binary);
            out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        });
    };
    {
        auto writer = feed(zip);
        xlsx_reader r{fs::path(fifo)};
        writer.join();
        CHECK(read_all(r).at(0).cells == cells{"Name"});
    }
    {
        // The spool is bounded by max_part_bytes: a pipe cannot fill the disk.
        auto writer = feed(zip + std::string(4096, '\0'));
        limits lim;
        lim.max_part_bytes = zip.size() + 100;
        CHECK_THROWS_WITH_AS(
            xlsx_reader(fs::path(fifo), lim),
            ("the piped input is larger than the limit of " + std::to_string(lim.max_part_bytes) +
             " bytes (limits::max_part_bytes): refused")
                .c_str(),
            file_error);
        writer.join();
    }
    {
        auto writer = feed("");
        CHECK_THROWS_WITH_AS(xlsx_reader(fs::path(fifo)), "empty file", file_error);
        writer.join();
    }
    {
        auto writer = feed("Name,Phone\n");
        CHECK_THROWS_WITH_AS(xlsx_reader(fs::path(fifo)), "not an .xlsx file (not a zip archive)",
                             file_error);
        writer.join();
    }
}
