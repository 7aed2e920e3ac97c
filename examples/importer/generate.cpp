// Sample workbooks for `weft-import generate`, the tests and the benchmark.
//
// Invariants:
// - Row `i` depends on (seed, i) only: its own splitmix64 stream, seeded from both, so rows can be
//   regenerated one at a time in any order. Ranges come from our own modulo and 53-bit mapping,
//   never std::uniform_*_distribution, whose output differs between standard libraries.
// - Every row has a cell, so the sheet has exactly `rows` data rows; a valid row passes
//   validate() with nothing required and an invalid one fails it (empty or blank Name, or a
//   malformed Email); invalid rows always keep a Category so they are never blank, hence
//   rejected rather than skipped.
// - No value contains a literal `_xHHHH_` or a control character other than '\n':
//   libxlsxwriter writes those through unescaped or escaped, and they would not read back
//   verbatim.
// - The document's creation time is fixed, so the same options give the same file, byte for byte.
// - ZIP64 is never needed: a row's XML is under 2 KiB plus its text_size description (at most
//   3/2 x 1,000 bytes and one sentence, below 1.7 KiB), and at most 1,048,575 rows fit, so the
//   sheet part stays below 3.9 GB, under 4 GiB; it is left off for readers without ZIP64.
#include "generate.hpp"

#include <xlsxwriter.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string_view>

namespace weft_import {
namespace {

// splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough for sample data.
struct rng {
    std::uint64_t state;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9E3779B97F4A7C15u);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
        return z ^ (z >> 31);
    }
    // Modulo bias is below 2^-50 for these small ranges.
    std::uint64_t below(std::uint64_t n) { return next() % n; }
    double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    bool chance(double p) { return unit() < p; }
    template <class T, std::size_t N>
    const T& pick(const std::array<T, N>& a) {
        return a[below(N)];
    }
};

using sv = std::string_view;

struct category {
    sv name;
    std::array<sv, 4> kinds;  // words a business of this category calls itself
};
constexpr std::array<category, 12> categories{{
    {"Restaurant", {"Bistro", "Grill", "Kitchen", "Trattoria"}},
    {"Café", {"Café", "Coffee House", "Espresso Bar", "Tea Room"}},
    {"Bakery", {"Bakery", "Bäckerei", "Boulangerie", "Patisserie"}},
    {"Bar", {"Pub", "Tavern", "Wine Bar", "Brewery"}},
    {"Hardware", {"Hardware", "Tools", "Supply Co.", "Builders' Merchant"}},
    {"Legal Services", {"Law Firm", "Legal", "Notary", "Attorneys"}},
    {"Dentist", {"Dental", "Dentistry", "Smile Studio", "Orthodontics"}},
    {"Plumbing", {"Plumbing", "Pipes & Drains", "Heating", "Sanitär"}},
    {"IT Services", {"Software", "Systems", "Consulting", "Data Labs"}},
    {"Bookshop", {"Books", "Buchhandlung", "Librairie", "Reading Room"}},
    {"Florist", {"Flowers", "Blumen", "Fleurs", "Garden"}},
    {"Hotel", {"Hotel", "Inn", "Guesthouse", "Hostel"}},
}};

constexpr std::array<sv, 20> surnames{
    "O'Brien", "Müller",  "García",     "Nguyễn",         "Kowalski", "Smith",       "Jones",
    "Tanaka",  "Dubois",  "Rossi",      "Ivanova",        "Öztürk",   "Andersson",   "Kim",
    "Patel",   "Schmidt", "Żółkiewski", "Ó Súilleabháin", "D'Angelo", "van der Berg"};
constexpr std::array<sv, 12> adjectives{"Golden", "Blue",  "Green", "Red",   "Silver", "Little",
                                        "Old",    "Happy", "Royal", "Urban", "Lucky",  "Northern"};
constexpr std::array<sv, 12> nouns{"Dragon", "Bottle", "Leaf",  "Lantern", "Anchor", "Fox",
                                   "Oak",    "Harbor", "Crown", "Bridge",  "Star",   "Mill"};
constexpr std::array<sv, 8> suffixes{"GmbH", "LLC", "Ltd.", "Inc.", "S.A.", "& Co.", "AB", "KG"};
// Names whose characters or punctuation stress every layer: XML escaping, UTF-8 of 2, 3 and 4
// bytes, right-to-left text, commas and double quotes for CSV rejects.
constexpr std::array<sv, 20> special_names{"Café Zoë",
                                           "Müller & Söhne GmbH",
                                           "東京ラーメン",
                                           "O'Brien's Pub",
                                           "Smith, Jones and Partners",
                                           "The \"Best\" Bagels",
                                           "Ångström Optics AB",
                                           "Łódź Pierogarnia",
                                           "Παπαδόπουλος Ταβέρνα",
                                           "Кафе «Москва»",
                                           "مطعم الشرق",
                                           "Şişli Döner",
                                           "Nguyễn Phở",
                                           "Crème Brûlée & Co.",
                                           "🍕 Pizza Planet",
                                           "AT&T Store <Downtown>",
                                           "서울 치킨",
                                           "Señor Taco's \"El Jefe\", Inc.",
                                           "Fish & Chips, Ltd.",
                                           "Straße 42 Bäckerei"};

struct place {
    sv city;
    sv country;
    sv dial;  // country calling code
    sv tld;
    bool nanp;  // North American numbering: 10-digit numbers
};
constexpr std::array<place, 20> places{{
    {"San Francisco", "United States", "1", "com", true},
    {"New York", "United States", "1", "com", true},
    {"Montréal", "Canada", "1", "ca", true},
    {"London", "United Kingdom", "44", "co.uk", false},
    {"Dublin", "Ireland", "353", "ie", false},
    {"Berlin", "Germany", "49", "de", false},
    {"München", "Germany", "49", "de", false},
    {"Zürich", "Switzerland", "41", "ch", false},
    {"Paris", "France", "33", "fr", false},
    {"Kraków", "Poland", "48", "pl", false},
    {"İstanbul", "Türkiye", "90", "com.tr", false},
    {"Αθήνα", "Greece", "30", "gr", false},
    {"東京", "Japan", "81", "jp", false},
    {"Tokyo", "Japan", "81", "co.jp", false},
    {"서울", "South Korea", "82", "kr", false},
    {"Hà Nội", "Vietnam", "84", "vn", false},
    {"São Paulo", "Brazil", "55", "com.br", false},
    {"Reykjavík", "Iceland", "354", "is", false},
    {"Sydney", "Australia", "61", "com.au", false},
    {"Cairo", "Egypt", "20", "eg", false},
}};

constexpr std::array<sv, 12> streets{"Main Street",      "Market St.",    "Hauptstraße",
                                     "Rue de Rivoli",    "Calle Mayor",   "ul. Floriańska",
                                     "Bahnhofstrasse",   "Baker Street",  "銀座4丁目",
                                     "Avenida Paulista", "Via del Corso", "Église Road"};
constexpr std::array<sv, 12> domains{"bluebottle", "goldendragon",    "acme",     "northwind",
                                     "contoso",    "fabrikam",        "litware",  "tailspin",
                                     "woodgrove",  "adventure-works", "cafe-zoe", "mueller-soehne"};
constexpr std::array<sv, 8> mailboxes{"info",     "hello",  "contact", "sales",
                                      "bookings", "office", "zoë",     "jose.garcia+news"};
constexpr std::array<sv, 16> sentences{"Family-owned since 1987.",
                                       "Open late, closed Mondays.",
                                       "Known for the \"best\" espresso in town.",
                                       "Free Wi-Fi, parking, and outdoor seating.",
                                       "Cash only; no reservations.",
                                       "Ask for \"the usual\".",
                                       "Gluten-free options available.",
                                       "We speak English, Deutsch, and 日本語.",
                                       "Rated 4.5/5 by 1,200 customers.",
                                       "Prices: $10–$25 & up.",
                                       "Call ext. 42 for catering, events, or \"anything else\".",
                                       "Walk-ins welcome!",
                                       "Über 20 Jahre Erfahrung.",
                                       "Café & bar <upstairs>.",
                                       "It's 'complicated', they say.",
                                       "Follow us @weft_cafe 🎉."};
constexpr std::array<sv, 8> bad_emails{
    "bob@@example.com", "no-at-sign.example.com",    "sp ace@x.com",   "@example.com",
    "user@localhost",   "trailing.dot@example.com.", "a@.example.com", "two@at@example.com"};

void add(std::string& s, sv v) { s += v; }
void add(std::string& s, char c) { s += c; }
void add(std::string& s, std::uint64_t n) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, n);
    s.append(buf, r.ptr);
}
// Appends the parts in order. Callers draw random values into locals first: the order in which
// function arguments are evaluated is unspecified, and g++ and clang++ would differ.
template <class... Parts>
void put(std::string& s, const Parts&... parts) {
    (add(s, parts), ...);
}

// Fills `row` from its stream, reusing the strings' storage (generation writes a million rows).
void fill(rng r, const generate_options& opt, generated_row& row) {
    for (auto& v : row.values) v.clear();
    const auto at = [&](field f) -> std::string& {
        return row.values[static_cast<std::size_t>(f)];
    };

    row.invalid = r.chance(opt.invalid_rate);
    const std::uint64_t how_invalid = r.below(4);  // 0: no name, 1: blank name, 2-3: bad email
    const category& cat = r.pick(categories);
    const place& where = r.pick(places);
    const sv domain = r.pick(domains);
    const sv kind = r.pick(cat.kinds);
    const sv surname1 = r.pick(surnames);
    const sv surname2 = r.pick(surnames);
    const sv surname3 = r.pick(surnames);

    std::string& name = at(field::name);
    switch (r.below(6)) {
        case 0: put(name, r.pick(special_names)); break;
        case 1: put(name, surname1, sv("'s "), kind); break;
        case 2: {
            const sv suffix = r.pick(suffixes);
            put(name, surname1, sv(" & "), surname2, ' ', suffix);
            break;
        }
        case 3: put(name, surname1, sv(", "), surname2, sv(" and "), surname3); break;
        default: {
            const sv adjective = r.pick(adjectives);
            const sv noun = r.pick(nouns);
            put(name, adjective, ' ', noun, ' ', kind);
            break;
        }
    }
    if (r.chance(0.3)) {
        const std::uint64_t branch = 1 + r.below(999);
        put(name, sv(" #"), branch);
    }

    if (r.chance(0.95)) put(at(field::category), cat.name);

    row.phone_is_number = false;
    if (r.chance(0.9)) {
        std::string& phone = at(field::phone);
        const std::uint64_t area = 201 + r.below(789);
        const std::uint64_t line = 100 + r.below(100);  // 555-0100..0199: fictional numbers
        const std::uint64_t local = 1'000'000 + r.below(9'000'000);
        switch (r.below(3)) {
            case 0:  // a number cell, as a phone typed without punctuation is stored
                row.phone_is_number = true;
                if (where.nanp)
                    put(phone, (area * 1000 + 555) * 10000 + line);
                else
                    put(phone, where.dial, local);
                break;
            case 1:
                if (where.nanp)
                    put(phone, '(', area, sv(") 555-0"), line);
                else
                    put(phone, '+', where.dial, ' ', local / 10000, ' ', 1000 + local % 9000);
                break;
            default: put(phone, '+', where.dial, ' ', area, '-', local); break;
        }
    }

    if (r.chance(0.85)) {
        std::string& email = at(field::email);
        if (r.below(4) == 0)
            put(email, sv("Info@"), domain, sv(".COM"));
        else
            put(email, r.pick(mailboxes), '@', domain, '.', where.tld);
    }

    if (r.chance(0.9)) {
        std::string& address = at(field::address);
        const std::uint64_t number = 1 + r.below(2500);
        put(address, number, ' ', r.pick(streets));
        switch (r.below(4)) {
            case 0: put(address, sv(", Suite "), 100 + r.below(900)); break;
            case 1: put(address, '\n', 10000 + r.below(89999)); break;
            default: break;
        }
    }
    if (r.chance(0.95)) put(at(field::city), where.city);
    if (r.chance(0.95)) put(at(field::country), where.country);

    if (r.chance(0.75)) {
        std::string& site = at(field::website);
        switch (r.below(4)) {
            case 0: put(site, sv("https://www."), domain, '.', where.tld); break;
            case 1: put(site, sv("http://"), domain, '.', where.tld, '/'); break;
            case 2: put(site, sv("https://"), domain, sv(".com/menu?lang=en&page=2")); break;
            default: put(site, sv("www."), domain, sv(".com")); break;
        }
    }

    if (r.chance(0.8)) {
        std::string& text = at(field::description);
        const std::uint64_t n = 1 + r.below(r.chance(0.1) ? 8 : 3);
        for (std::uint64_t k = 0; k < n; ++k) {
            if (k > 0) put(text, r.chance(0.3) ? '\n' : ' ');
            put(text, r.pick(sentences));
        }
    }
    // Drawn after everything above, so text_size 0 leaves every row as it always was.
    if (opt.text_size > 0) {
        std::string& text = at(field::description);
        const std::uint64_t target = opt.text_size / 2 + r.below(opt.text_size + 1);
        while (text.size() < target) {
            if (!text.empty()) put(text, r.chance(0.3) ? '\n' : ' ');
            put(text, r.pick(sentences));
        }
    }

    if (!row.invalid) return;
    // An invalid row keeps a Category so that it is never blank: rejected, not skipped.
    if (at(field::category).empty()) put(at(field::category), cat.name);
    switch (how_invalid) {
        case 0: name.clear(); break;
        case 1: name = r.chance(0.5) ? "   " : "\xC2\xA0"; break;  // spaces, or a lone NBSP
        default: at(field::email) = r.pick(bad_emails); break;
    }
}

std::uint64_t mix(std::uint64_t x) { return rng{x}.next(); }

// Row `index`'s own stream: neighbouring indexes and seeds give unrelated streams.
rng row_rng(std::uint64_t seed, std::uint64_t index) { return rng{mix(mix(seed) + index)}; }

void check_options(const generate_options& opt) {
    if (opt.rows > max_generated_rows)
        throw std::invalid_argument("at most " + std::to_string(max_generated_rows) +
                                    " rows fit below the header, not " + std::to_string(opt.rows));
    if (!(opt.invalid_rate >= 0.0 && opt.invalid_rate <= 1.0))
        throw std::invalid_argument("the invalid rate must be between 0 and 1");
    if (opt.text_size > max_text_size)
        throw std::invalid_argument("the text size is at most " + std::to_string(max_text_size) +
                                    " bytes, not " + std::to_string(opt.text_size));
}

void check(lxw_error e, const std::string& file, const char* what) {
    if (e != LXW_NO_ERROR)
        throw std::runtime_error("cannot write " + file + ": " + what + ": " + lxw_strerror(e));
}

// Writes every row; the caller has checked the options and that `file` can be created.
void write_workbook(const std::string& file, const generate_options& opt) {
    // constant_memory streams each row to a temporary file as the next one starts, so memory
    // stays flat however many rows there are (strings are then written inline, not shared).
    lxw_workbook_options wo{};
    wo.constant_memory = LXW_TRUE;
    std::unique_ptr<lxw_workbook, void (*)(lxw_workbook*)> wb(workbook_new_opt(file.c_str(), &wo),
                                                              lxw_workbook_free);
    if (!wb) throw std::runtime_error("cannot write " + file + ": libxlsxwriter could not start");

    lxw_doc_properties props{};
    char title[] = "weft-import sample businesses";
    props.title = title;
    props.created = 1'704'067'200;  // 2024-01-01T00:00:00Z: identical options, identical bytes
    check(workbook_set_properties(wb.get(), &props), file, "properties");

    lxw_worksheet* ws = workbook_add_worksheet(wb.get(), "Sheet1");
    if (!ws) throw std::runtime_error("cannot write " + file + ": could not add Sheet1");

    for (std::size_t c = 0; c < field_count; ++c)
        check(worksheet_write_string(ws, 0, static_cast<lxw_col_t>(c),
                                     std::string(field_header(static_cast<field>(c))).c_str(),
                                     nullptr),
              file, "header");

    generated_row row;
    constexpr auto phone = static_cast<std::size_t>(field::phone);
    for (std::uint64_t i = 0; i < opt.rows; ++i) {
        fill(row_rng(opt.seed, i), opt, row);
        const auto r = static_cast<lxw_row_t>(i + 1);
        for (std::size_t c = 0; c < field_count; ++c) {
            const std::string& v = row.values[c];
            if (v.empty()) continue;
            lxw_error e;
            if (c == phone && row.phone_is_number) {
                std::uint64_t n = 0;
                std::from_chars(v.data(), v.data() + v.size(), n);
                e = worksheet_write_number(ws, r, static_cast<lxw_col_t>(c), static_cast<double>(n),
                                           nullptr);
            } else {
                e = worksheet_write_string(ws, r, static_cast<lxw_col_t>(c), v.c_str(), nullptr);
            }
            check(e, file, "a cell");
        }
    }
    // workbook_close frees the workbook whether or not it could write the file.
    const lxw_error e = workbook_close(wb.release());
    check(e, file, "the package");
}

}  // namespace

generated_row generate_row(const generate_options& opt, std::uint64_t index) {
    check_options(opt);
    generated_row row;
    fill(row_rng(opt.seed, index), opt, row);
    return row;
}

void generate_workbook(const std::filesystem::path& out, const generate_options& opt) {
    check_options(opt);
    const std::string file = out.string();
    // libxlsxwriter opens OUT only at the very end, after every row is written: try it first so
    // an unwritable path fails at once, not after a million rows (and without its stderr noise).
    if (std::FILE* probe = std::fopen(file.c_str(), "wb")) {
        std::fclose(probe);
    } else {
        throw std::runtime_error("cannot write " + file + ": " + std::strerror(errno));
    }
    try {
        write_workbook(file, opt);
    } catch (...) {
        std::error_code ignored;
        std::filesystem::remove(out, ignored);  // no half-written workbook left behind
        throw;
    }
}

}  // namespace weft_import
