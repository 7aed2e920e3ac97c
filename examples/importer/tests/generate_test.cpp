// Tests for generate.hpp: the generated workbook's shape (header, exact row count, numeric
// phone cells), determinism (same options, same bytes; rows computable one at a time), the
// share of invalid rows as validate() sees it, variety of the data, errors, and the round trip
// through xlsx_reader + header_map back to exactly the generated values.
#include "generate.hpp"
#include "xlsx_reader.hpp"

#include <doctest/doctest.h>
#include <zip.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>

#include "../../../tests/support.hpp"
#include "importer_support.hpp"

using namespace weft_import;
namespace fs = std::filesystem;

namespace {

using importer_test::temp_dir;

std::string file_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// One part of the package, read with libzip (the part names are libxlsxwriter's own).
std::string part(const fs::path& file, const char* name) {
    int err = 0;
    zip_t* z = zip_open(file.c_str(), ZIP_RDONLY, &err);
    REQUIRE(z != nullptr);
    zip_stat_t st;
    REQUIRE(zip_stat(z, name, 0, &st) == 0);
    zip_file_t* f = zip_fopen(z, name, 0);
    REQUIRE(f != nullptr);
    std::string out(static_cast<std::size_t>(st.size), '\0');
    const zip_int64_t n = zip_fread(f, out.data(), st.size);
    zip_fclose(f);
    zip_close(z);
    REQUIRE(n == static_cast<zip_int64_t>(st.size));
    return out;
}

std::size_t count(const std::string& haystack, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = haystack.find(needle); at != std::string::npos;
         at = haystack.find(needle, at + needle.size()))
        ++n;
    return n;
}

constexpr const char* sheet_part = "xl/worksheets/sheet1.xml";

business as_business(const generated_row& g, std::uint64_t index) {
    business b;
    b.row = static_cast<std::uint32_t>(index + 2);
    b.fields = g.values;
    return b;
}

}  // namespace

TEST_CASE("generate: header row and exactly `rows` data rows") {
    WEFT_WATCHDOG();
    temp_dir dir;
    for (const std::uint64_t rows : {0u, 1u, 1000u}) {
        CAPTURE(rows);
        const fs::path out = dir / "rows.xlsx";
        generate_workbook(out, {.rows = rows, .seed = 3, .invalid_rate = 0.01});
        const std::string sheet = part(out, sheet_part);
        CHECK(count(sheet, "<row ") == rows + 1);
        CHECK(sheet.find("<dimension ref=\"A1:I" + std::to_string(rows + 1) + "\"/>") !=
              std::string::npos);
        CHECK(sheet.find("<row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>Name</t></is></c>"
                         "<c r=\"B1\" t=\"inlineStr\"><is><t>Category</t>") != std::string::npos);
        CHECK(sheet.find("<t>Description</t></is></c></row>") != std::string::npos);
        const std::string workbook = part(out, "xl/workbook.xml");
        CHECK(workbook.find("<sheet name=\"Sheet1\"") != std::string::npos);
        CHECK(count(workbook, "<sheet ") == 1);
    }
}

TEST_CASE("generate: the same options give the same file, other seeds another sheet") {
    WEFT_WATCHDOG();
    temp_dir dir;
    const generate_options opt{.rows = 2000, .seed = 42, .invalid_rate = 0.05};
    generate_workbook(dir / "a.xlsx", opt);
    generate_workbook(dir / "b.xlsx", opt);
    // The creation time is pinned, so even docProps/core.xml and thus the whole file agree.
    CHECK(file_bytes(dir / "a.xlsx") == file_bytes(dir / "b.xlsx"));
    CHECK(part(dir / "a.xlsx", sheet_part) == part(dir / "b.xlsx", sheet_part));

    generate_options other = opt;
    other.seed = 43;
    generate_workbook(dir / "c.xlsx", other);
    CHECK(part(dir / "a.xlsx", sheet_part) != part(dir / "c.xlsx", sheet_part));
}

TEST_CASE("generate_row: each row from (seed, index) alone") {
    const generate_options a{.rows = 10, .seed = 7, .invalid_rate = 0.01};
    const generate_options b{.rows = 1'000'000, .seed = 7, .invalid_rate = 0.01};
    for (std::uint64_t i : {0u, 1u, 9u, 500u}) {
        CAPTURE(i);
        const generated_row x = generate_row(a, i);
        const generated_row y = generate_row(b, i);  // `rows` does not matter
        CHECK(x.values == y.values);
        CHECK(x.invalid == y.invalid);
        CHECK(x.phone_is_number == y.phone_is_number);
        CHECK(generate_row(a, i).values == x.values);  // nor does calling again
    }
    // Neighbouring rows and neighbouring seeds are unrelated.
    std::size_t same_as_next = 0;
    std::size_t same_as_other_seed = 0;
    const generate_options c{.rows = 10, .seed = 8, .invalid_rate = 0.01};
    for (std::uint64_t i = 0; i < 200; ++i) {
        same_as_next += generate_row(a, i).values == generate_row(a, i + 1).values;
        same_as_other_seed += generate_row(a, i).values == generate_row(c, i).values;
    }
    CHECK(same_as_next == 0);
    CHECK(same_as_other_seed == 0);
}

TEST_CASE("generate_row: the invalid share, as validate() sees it") {
    const std::uint64_t rows = 10'000;
    for (const double rate : {0.0, 0.01, 0.2, 1.0}) {
        CAPTURE(rate);
        const generate_options opt{.rows = rows, .seed = 11, .invalid_rate = rate};
        std::uint64_t invalid = 0;
        std::uint64_t no_name = 0;
        std::uint64_t bad_email = 0;
        for (std::uint64_t i = 0; i < rows; ++i) {
            const generated_row g = generate_row(opt, i);
            const auto reason = validate(as_business(g, i), {});
            CHECK(reason.has_value() == g.invalid);  // the flag says what validate() says
            invalid += g.invalid;
            if (reason && *reason == "name is empty") ++no_name;
            if (reason && reason->starts_with("invalid email")) ++bad_email;
        }
        const double expected = rate * static_cast<double>(rows);
        // Binomial: five standard deviations (and a floor) keep this far from chance failure,
        // and the generator is deterministic anyway.
        const double tolerance = std::max(5.0, 5.0 * std::sqrt(expected * (1.0 - rate)));
        CHECK(std::abs(static_cast<double>(invalid) - expected) <= tolerance);
        CHECK(no_name + bad_email == invalid);
        if (rate > 0) {
            CHECK(no_name > 0);
            CHECK(bad_email > 0);
        }
    }
}

TEST_CASE("generate_row: realistic variety, never a blank row") {
    const generate_options opt{.rows = 10'000, .seed = 1, .invalid_rate = 0.01};
    const auto m = header_map::from(sheet_row{1,
                                              {"Name", "Category", "Phone", "Email", "Address",
                                               "City", "Country", "Website", "Description"}});
    std::array<std::size_t, field_count> empty{};
    std::size_t numeric_phones = 0, text_phones = 0, non_ascii_names = 0, newlines = 0, commas = 0,
                quotes = 0, markup = 0, four_byte = 0;
    const auto has = [](const std::string& s, char c) { return s.find(c) != std::string::npos; };
    for (std::uint64_t i = 0; i < opt.rows; ++i) {
        const generated_row g = generate_row(opt, i);
        std::vector<std::string> cells(g.values.begin(), g.values.end());
        REQUIRE(m.map(sheet_row{static_cast<std::uint32_t>(i + 2), cells}));  // not skipped
        for (std::size_t f = 0; f < field_count; ++f) {
            const std::string& v = g.values[f];
            empty[f] += v.empty();
            CHECK_FALSE(has(v, '\r'));                 // XML would read it back as '\n'
            CHECK(v.find("_x") == std::string::npos);  // would read back as an escape
            four_byte += std::any_of(v.begin(), v.end(), [](char c) {
                return (static_cast<unsigned char>(c) & 0xF8) == 0xF0;
            });
        }
        const auto& phone = g.values[static_cast<std::size_t>(field::phone)];
        if (g.phone_is_number) {
            ++numeric_phones;
            // A number cell: digits only, exact in a double, no leading zero to lose.
            CHECK(phone.find_first_not_of("0123456789") == std::string::npos);
            CHECK(phone.size() <= 15);
            CHECK(phone.front() != '0');
        } else if (!phone.empty()) {
            ++text_phones;
        }
        const auto& name = g.values[static_cast<std::size_t>(field::name)];
        non_ascii_names += std::any_of(
            name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
        const auto& text = g.values[static_cast<std::size_t>(field::description)];
        newlines += has(text, '\n');
        commas += has(text, ',') || has(name, ',');
        quotes += has(text, '"') || has(name, '"');
        markup += has(name, '&') || has(name, '<') || has(text, '<');
    }
    CHECK(numeric_phones > 1000);
    CHECK(text_phones > 1000);
    CHECK(non_ascii_names > 500);
    CHECK(newlines > 500);
    CHECK(commas > 500);
    CHECK(quotes > 500);
    CHECK(markup > 100);
    CHECK(four_byte > 100);
    for (std::size_t f = 1; f < field_count; ++f) {  // every optional column has empty cells
        CAPTURE(f);
        CHECK(empty[f] > 100);
        CHECK(empty[f] < opt.rows / 2);
    }
}

TEST_CASE("generate: phone numbers written as number cells") {
    WEFT_WATCHDOG();
    temp_dir dir;
    const generate_options opt{.rows = 300, .seed = 5, .invalid_rate = 0.01};
    generate_workbook(dir / "phones.xlsx", opt);
    const std::string sheet = part(dir / "phones.xlsx", sheet_part);
    std::size_t numeric = 0;
    for (std::uint64_t i = 0; i < opt.rows; ++i) {
        const generated_row g = generate_row(opt, i);
        // Built with +=: g++ 12 warns falsely (-Wrestrict) on "C" + std::to_string(...).
        std::string ref = "C";
        ref += std::to_string(i + 2);
        const std::string& phone = g.values[static_cast<std::size_t>(field::phone)];
        if (g.phone_is_number) {
            ++numeric;
            CHECK(sheet.find("<c r=\"" + ref + "\"><v>" + phone + "</v></c>") != std::string::npos);
        } else if (!phone.empty()) {
            CHECK(sheet.find("<c r=\"" + ref + "\" t=\"inlineStr\">") != std::string::npos);
        } else {
            CHECK(sheet.find("<c r=\"" + ref + "\"") == std::string::npos);  // empty: no cell
        }
    }
    CHECK(numeric > 50);
}

TEST_CASE("generate: options out of range and unwritable files") {
    temp_dir dir;
    CHECK_THROWS_AS(generate_workbook(dir / "x.xlsx", {.rows = max_generated_rows + 1}),
                    std::invalid_argument);
    for (const double rate : {-0.01, 1.01, std::numeric_limits<double>::quiet_NaN()}) {
        CHECK_THROWS_AS(generate_workbook(dir / "x.xlsx", {.rows = 1, .invalid_rate = rate}),
                        std::invalid_argument);
        CHECK_THROWS_AS(generate_row({.rows = 1, .invalid_rate = rate}, 0), std::invalid_argument);
    }
    CHECK_FALSE(fs::exists(dir / "x.xlsx"));

    std::string message;
    try {
        generate_workbook(dir.path / "no-such-dir" / "x.xlsx", {.rows = 5});
    } catch (const std::runtime_error& e) { message = e.what(); }
    CHECK(message.starts_with("cannot write " + (dir.path / "no-such-dir" / "x.xlsx").string()));
    CHECK(message.find('\n') == std::string::npos);
}

TEST_CASE("generate: reads back through xlsx_reader and header_map as generated") {
    WEFT_WATCHDOG(std::chrono::seconds(60));
    temp_dir dir;
    const generate_options opt{.rows = weft_test::scale(20'000), .seed = 9, .invalid_rate = 0.05};
    generate_workbook(dir / "round.xlsx", opt);

    xlsx_reader reader(dir / "round.xlsx");
    CHECK(reader.sheet_name() == "Sheet1");
    sheet_row row;
    REQUIRE(reader.next(row));
    const header_map header = header_map::from(row);
    std::uint64_t i = 0;
    std::uint64_t rejected = 0;
    while (reader.next(row)) {
        REQUIRE(i < opt.rows);
        const generated_row g = generate_row(opt, i);
        CAPTURE(row.number);
        CHECK(row.number == i + 2);
        const auto b = header.map(row);
        REQUIRE(b);
        CHECK(b->row == row.number);
        for (std::size_t f = 0; f < field_count; ++f) {
            CAPTURE(f);
            CHECK(b->fields[f] == g.values[f]);  // verbatim, numeric phones included
        }
        const bool invalid = validate(*b, {}).has_value();
        CHECK(invalid == g.invalid);
        rejected += invalid;
        ++i;
    }
    CHECK(i == opt.rows);
    CHECK(rejected > 0);
    CHECK(reader.fraction_read() == doctest::Approx(1.0));
}

namespace {

std::size_t text_bytes(const generated_row& r) {
    std::size_t n = 0;
    for (const auto& v : r.values) n += v.size();
    return n;
}

}  // namespace

TEST_CASE("generate_row: text_size makes long descriptions and changes nothing else") {
    const std::uint64_t rows = 5'000;
    const generate_options plain{.rows = rows, .seed = 3, .invalid_rate = 0.05};
    constexpr auto description = static_cast<std::size_t>(field::description);
    double plain_bytes = 0;
    for (std::uint64_t i = 0; i < rows; ++i)
        plain_bytes += static_cast<double>(text_bytes(generate_row(plain, i)));
    plain_bytes /= rows;
    CHECK(plain_bytes > 150);
    CHECK(plain_bytes < 230);

    for (const std::uint64_t size : {std::uint64_t{1}, std::uint64_t{300}, max_text_size}) {
        CAPTURE(size);
        generate_options opt = plain;
        opt.text_size = size;
        double bytes = 0;
        std::uint64_t invalid = 0;
        for (std::uint64_t i = 0; i < rows; ++i) {
            const generated_row a = generate_row(plain, i);
            const generated_row b = generate_row(opt, i);
            bytes += static_cast<double>(text_bytes(b));
            const std::string& text = b.values[description];
            CHECK(text.size() >= size / 2);
            // The short description, continued by whole sentences to its drawn length.
            CHECK(text.starts_with(a.values[description]));
            CHECK(text.size() <
                  std::max<std::size_t>(a.values[description].size(), size + size / 2) + 64);
            CHECK(text.find("_x") == std::string::npos);
            CHECK(b.invalid == a.invalid);
            invalid += b.invalid;
            business rec;
            rec.fields = b.values;
            CHECK(validate(rec, {}).has_value() == b.invalid);
            if (a.invalid) continue;
            for (std::size_t f = 0; f < field_count; ++f) {
                if (f != description) CHECK(b.values[f] == a.values[f]);
            }
        }
        CHECK(invalid > rows / 40);
        if (size == 300) {
            bytes /= rows;
            CHECK(bytes > 400);
            CHECK(bytes < 500);
        }
    }
    CHECK_THROWS_AS(generate_row({.rows = 1, .text_size = max_text_size + 1}, 0),
                    std::invalid_argument);
}

TEST_CASE("generate: long descriptions read back verbatim") {
    WEFT_WATCHDOG(std::chrono::seconds(60));
    temp_dir dir;
    const generate_options opt{
        .rows = weft_test::scale(2'000), .seed = 5, .invalid_rate = 0.02, .text_size = 1000};
    generate_workbook(dir / "long.xlsx", opt);
    xlsx_reader reader(dir / "long.xlsx");
    sheet_row row;
    REQUIRE(reader.next(row));
    const header_map header = header_map::from(row);
    std::uint64_t i = 0;
    while (reader.next(row)) {
        REQUIRE(i < opt.rows);
        const auto b = header.map(row);
        REQUIRE(b);
        CHECK(b->fields == generate_row(opt, i).values);
        ++i;
    }
    CHECK(i == opt.rows);
}
