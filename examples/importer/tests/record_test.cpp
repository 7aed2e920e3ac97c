// Tests for record.hpp: the header row (contract point 2), mapping data rows, --require lists
// and the row rules (point 4), with the exact reasons that rejects and --json report.
#include "record.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace weft_import;

namespace {

sheet_row make_row(std::uint32_t number, std::vector<std::string> cells) {
    return sheet_row{number, std::move(cells)};
}

const sheet_row standard_header = make_row(1, {"Name", "Category", "Phone", "Email", "Address",
                                               "City", "Country", "Website", "Description"});

business valid_business() {
    business b;
    b.row = 2;
    b[field::name] = "Café Zoë";
    b[field::email] = "info@cafe-zoe.fr";
    return b;
}

std::string reject_reason(const business& b, std::vector<field> required = {}) {
    const auto r = validate(b, required);
    return r ? *r : std::string("(valid)");
}

std::string email_reason(const std::string& email) {
    business b = valid_business();
    b[field::email] = email;
    return reject_reason(b);
}

std::string file_error_text(const sheet_row& header) {
    try {
        header_map::from(header);
    } catch (const file_error& e) { return e.what(); }
    return "(accepted)";
}

}  // namespace

TEST_CASE("field names: headers as in the sheet, columns as in the businesses table") {
    const char* headers[] = {"Name", "Category", "Phone",   "Email",      "Address",
                             "City", "Country",  "Website", "Description"};
    const char* columns[] = {"name", "category", "phone",   "email",      "address",
                             "city", "country",  "website", "description"};
    for (std::size_t i = 0; i < field_count; ++i) {
        CHECK(field_header(static_cast<field>(i)) == headers[i]);
        CHECK(field_column(static_cast<field>(i)) == columns[i]);
    }
}

TEST_CASE("header: every field found in the standard order") {
    const auto m = header_map::from(standard_header);
    const auto b = m.map(make_row(7, {"n", "c", "p", "e", "a", "ci", "co", "w", "d"}));
    REQUIRE(b);
    CHECK(b->row == 7);
    CHECK(b->fields ==
          std::array<std::string, field_count>{"n", "c", "p", "e", "a", "ci", "co", "w", "d"});
}

TEST_CASE("header: take moves the text out and leaves the row's vector of cells to the caller") {
    const auto m = header_map::from(standard_header);
    const std::string long_name(100, 'n');  // beyond the small-string buffer: a heap block
    auto row = make_row(8, {long_name, "c", "p", "e@x.io"});
    const auto* block = row.cells[0].data();
    const auto* cells = row.cells.data();
    const auto b = m.take(row);
    REQUIRE(b);
    CHECK(b->row == 8);
    CHECK((*b)[field::name] == long_name);
    CHECK((*b)[field::name].data() == block);  // moved, not copied
    CHECK((*b)[field::email] == "e@x.io");
    CHECK(row.cells.data() == cells);  // the vector stays with the row
    CHECK(row.cells.size() == 4);
    CHECK(row.cells[0].empty());
    // A blank row gives nothing and keeps its cells.
    auto blank_row = make_row(9, {" ", "\t"});
    CHECK_FALSE(m.take(blank_row));
    CHECK(blank_row.cells.size() == 2);
}

TEST_CASE("header: any order, any case, surrounding whitespace ignored, unknown columns ignored") {
    // Tabs, newlines (Alt+Enter in Excel), NBSP and the ideographic space all count as spaces.
    const auto m = header_map::from(make_row(1, {"  NAME ", "e-mail", "\tcity\n", "Notes", "",
                                                 "\xC2\xA0"
                                                 "EMAIL"
                                                 "\xE3\x80\x80",
                                                 "phone"}));
    const auto b = m.map(make_row(2, {"Zoë", "x@y.z", "Paris", "note", "", "z@y.com", "555"}));
    REQUIRE(b);
    CHECK((*b)[field::name] == "Zoë");
    CHECK((*b)[field::email] == "z@y.com");  // "e-mail" is not Email
    CHECK((*b)[field::city] == "Paris");
    CHECK((*b)[field::phone] == "555");
    CHECK((*b)[field::category].empty());  // absent columns give empty fields
    CHECK((*b)[field::description].empty());
}

TEST_CASE("header: inner spaces and near misses do not match") {
    CHECK(file_error_text(make_row(1, {"N ame", "Names", "Name:", "Nаme"}))  // Cyrillic 'а'
              .starts_with("the header (row 1) has no \"Name\" column"));
}

TEST_CASE("header: without a Name column the file is rejected, naming what was found") {
    CHECK(file_error_text(make_row(1, {"Title", " Phone ", "", "Say \"hi\""})) ==
          "the header (row 1) has no \"Name\" column; found \"Title\", \"Phone\", "
          "\"Say \\\"hi\\\"\"");
    CHECK(file_error_text(make_row(1, {})) ==
          "the header (row 1) has no \"Name\" column; found no headers");
    CHECK(file_error_text(make_row(1, {" ", "\t"})) ==
          "the header (row 1) has no \"Name\" column; found no headers");
    // A long header row is listed in part, on one line.
    std::vector<std::string> many;
    for (int i = 0; i < 20; ++i) many.push_back("Column " + std::to_string(i) + "\nline two");
    const std::string text = file_error_text(make_row(1, many));
    CHECK(text.find('\n') == std::string::npos);
    CHECK(text.find("\"Column 7\\nline two\", ...") != std::string::npos);
    CHECK(text.find("Column 8") == std::string::npos);
}

TEST_CASE("header: a header longer than a quote is cut at a UTF-8 boundary") {
    const std::string long_name(30, 'x');
    const std::string text = file_error_text(make_row(1, {long_name + "ééé"}));
    // 24 bytes are kept, never half of a two-byte character.
    CHECK(text.ends_with("\"" + std::string(24, 'x') + "...\""));
    const std::string text2 = file_error_text(make_row(1, {std::string(23, 'x') + "é"}));
    CHECK(text2.ends_with("\"" + std::string(23, 'x') + "...\""));
}

TEST_CASE("header: a duplicated known column rejects the file, naming both columns") {
    CHECK(file_error_text(make_row(1, {"Name", "Email", "Phone", " email "})) ==
          "the header (row 1) has two \"Email\" columns: B and D");
    CHECK(file_error_text(make_row(1, {"name", "NAME"})) ==
          "the header (row 1) has two \"Name\" columns: A and B");
    std::vector<std::string> wide(28);
    wide[0] = "Name";
    wide[1] = "City";
    wide[27] = "city";
    CHECK(file_error_text(make_row(1, wide)) ==
          "the header (row 1) has two \"City\" columns: B and AB");
    // Unknown columns may repeat freely.
    CHECK_NOTHROW(header_map::from(make_row(1, {"Name", "Notes", "Notes"})));
}

TEST_CASE("header: must be row 1") {
    CHECK(file_error_text(make_row(3, {"Name"})) ==
          "the sheet has no header row (row 1): its first row is row 3");
    CHECK_THROWS_AS(header_map::from(make_row(0, {"Name"})), file_error);
}

TEST_CASE("map: short rows, values verbatim, row number kept") {
    const auto m = header_map::from(make_row(1, {"Phone", "Name", "Email", "Description"}));
    const auto b = m.map(make_row(42, {" 555 ", "  Zoë\n"}));  // Email and Description missing
    REQUIRE(b);
    CHECK(b->row == 42);
    CHECK((*b)[field::phone] == " 555 ");  // never trimmed
    CHECK((*b)[field::name] == "  Zoë\n");
    CHECK((*b)[field::email].empty());
    CHECK((*b)[field::description].empty());
    // Cells beyond the header's columns are ignored.
    const auto c = m.map(make_row(43, {"1", "n", "e@x.io", "d", "extra", "more"}));
    REQUIRE(c);
    CHECK((*c)[field::description] == "d");
}

TEST_CASE("map: a row without a non-empty cell is skipped") {
    const auto m = header_map::from(standard_header);
    CHECK_FALSE(m.map(make_row(2, {})));
    CHECK_FALSE(m.map(make_row(3, {"", "", ""})));
    CHECK_FALSE(m.map(make_row(4, {" ", "\t", "\n", "\xC2\xA0", "\xE2\x80\x83"})));
    // A value in any column, known or not, keeps the row: it is then judged, not skipped.
    CHECK(m.map(make_row(5, {"", "", "", "", "", "", "", "", "", "note"})));
    const auto b = m.map(make_row(6, {"", "Bakery"}));
    REQUIRE(b);
    CHECK(reject_reason(*b) == "name is empty");
}

TEST_CASE("map: content in a column the reader dropped keeps the row") {
    auto m = header_map::from(make_row(1, {"Email", "", "Name", "Notes"}));
    CHECK(m.keep_mapped_columns() == std::vector<std::uint32_t>{0, 2});  // Notes is no field
    auto standard = header_map::from(standard_header);
    CHECK(standard.keep_mapped_columns().size() == field_count);
    // From now on a row holds the kept cells only, A and C here.
    sheet_row dropped = make_row(7, {"", " "});
    CHECK_FALSE(m.map(dropped));
    dropped.other_content = true;  // xlsx_reader::keep_columns saw text in B or D and beyond
    const auto b = m.map(dropped);
    REQUIRE(b);
    CHECK(b->row == 7);
    CHECK(reject_reason(*b) == "name is empty");
    const auto c = m.map(make_row(8, {"e@x.io", "Zoë"}));
    REQUIRE(c);
    CHECK((*c)[field::email] == "e@x.io");
    CHECK((*c)[field::name] == "Zoë");
}

TEST_CASE("map: a header at XFD keeps two cells a row, not 16,384") {
    std::vector<std::string> wide(16384);
    wide[1] = "Email";
    wide[16383] = "Name";
    auto m = header_map::from(make_row(1, wide));
    CHECK(m.keep_mapped_columns() == std::vector<std::uint32_t>{1, 16383});
    const auto b = m.map(make_row(2, {"ada@x.io", "Ada"}));
    REQUIRE(b);
    CHECK((*b)[field::name] == "Ada");
    CHECK((*b)[field::email] == "ada@x.io");
}

TEST_CASE("parse_fields: names, case, spaces, empty items, duplicates") {
    CHECK(parse_fields("phone, Email") == std::vector<field>{field::phone, field::email});
    CHECK(parse_fields(" CITY ,,country,") == std::vector<field>{field::city, field::country});
    CHECK(parse_fields("").empty());
    CHECK(parse_fields(" , ").empty());
    CHECK(parse_fields("email,EMAIL") == std::vector<field>{field::email});
    CHECK(
        parse_fields("name,category,phone,email,address,city,country,website,description").size() ==
        field_count);
}

TEST_CASE("parse_fields: an unknown name is refused, listing the valid ones") {
    std::string message;
    try {
        parse_fields("phone, e-mail");
    } catch (const std::invalid_argument& e) { message = e.what(); }
    CHECK(message ==
          "unknown column \"e-mail\" (valid: Name, Category, Phone, Email, Address, City, "
          "Country, Website, Description)");
    CHECK_THROWS_AS(parse_fields("Phone Email"), std::invalid_argument);
}

TEST_CASE("validate: Name") {
    business b = valid_business();
    CHECK_FALSE(validate(b, {}));
    for (const char* blank : {"", " ", "\t\n", "\xC2\xA0", "\xE3\x80\x80 "}) {
        b[field::name] = blank;
        CHECK(reject_reason(b) == "name is empty");
    }
    b[field::name] = " x ";
    CHECK_FALSE(validate(b, {}));
    // Characters that are not White_Space are content, even if invisible.
    b[field::name] = "\xE2\x80\x8B";  // zero-width space
    CHECK_FALSE(validate(b, {}));
}

TEST_CASE("validate: Email shape local@domain.tld") {
    for (const char* good : {"a@b.co", "first.last+tag@sub.example.com", "zoë@example.com",
                             "x@bücher.de", "Info@Example.COM", "a-b_c@d-e.f-g.h"}) {
        CAPTURE(good);
        CHECK(email_reason(good) == "(valid)");
    }
    for (const char* bad : {"a@b", "a@@b.com", "a b@c.com", "@b.com", "a@.com", "a@b.com.",
                            "a@b..com", "ab.com", "a@b@c.com", " a@b.com", "a@b.com ", "a@b.com\n",
                            "a\t@b.com", "a@b.c\xC2\xA0", "a\x01@b.com", "a@", "@"}) {
        CAPTURE(bad);
        CHECK(email_reason(bad).starts_with("invalid email \""));
    }
    CHECK(email_reason("bob@@example") == "invalid email \"bob@@example\"");
    CHECK(email_reason("no-at-sign.example.com") == "invalid email \"no-at-sign.example.com\"");
    CHECK(email_reason("sp ace@x.com") == "invalid email \"sp ace@x.com\"");
}

TEST_CASE("validate: an empty or blank Email is absent, not invalid") {
    CHECK(email_reason("") == "(valid)");
    CHECK(email_reason("   ") == "(valid)");
}

TEST_CASE("validate: a bad value is quoted on one short line") {
    CHECK(email_reason("say \"hi\"\\ @x") == "invalid email \"say \\\"hi\\\"\\\\ @x\"");
    CHECK(email_reason("line\none@x.com") == "invalid email \"line\\none@x.com\"");
    CHECK(email_reason("a\x7f@x.com") == "invalid email \"a\\u007F@x.com\"");
    CHECK(email_reason("a\x01"
                       "b@x.com") == "invalid email \"a\\u0001b@x.com\"");
    const std::string long_local(100, 'l');
    const std::string reason = email_reason(long_local + "@@x.com");
    CHECK(reason == "invalid email \"" + std::string(40, 'l') + "...\"");
    // Cut before a multi-byte character rather than through it.
    const std::string reason2 = email_reason(std::string(39, 'l') + "東@@x.com");
    CHECK(reason2 == "invalid email \"" + std::string(39, 'l') + "...\"");
}

TEST_CASE("validate: required columns") {
    business b = valid_business();
    const std::vector<field> required = parse_fields("phone,city");
    CHECK(reject_reason(b, required) == "Phone is required");
    b[field::phone] = " \t";
    CHECK(reject_reason(b, required) == "Phone is required");
    b[field::phone] = "4155550100";
    CHECK(reject_reason(b, required) == "City is required");
    b[field::city] = "Paris";
    CHECK_FALSE(validate(b, required));
    // The Name rule and the Email rule come first; Name required adds nothing.
    b[field::name] = "";
    CHECK(reject_reason(b, parse_fields("name")) == "name is empty");
    b[field::name] = "n";
    b[field::email] = "bad";
    CHECK(reject_reason(b, parse_fields("description")) == "invalid email \"bad\"");
    b[field::email] = "";
    CHECK(reject_reason(b, parse_fields("email")) == "Email is required");
}
