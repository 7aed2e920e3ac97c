// Test support shared by the importer's tests: a private temporary directory, and a small zip
// writer for workbooks made by hand (the malformed ones libxlsxwriter will not write).
// Header-only; every function throws std::runtime_error on failure so it works inside and
// outside doctest assertions.
#pragma once

#include <stdlib.h>  // mkdtemp
#include <zip.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace importer_test {

// A fresh directory (mkdtemp: unique even across parallel test processes), removed with
// everything in it when the object goes.
struct temp_dir {
    std::filesystem::path path;

    temp_dir() {
        std::string t = (std::filesystem::temp_directory_path() / "weft-import-XXXXXX").string();
        if (!::mkdtemp(t.data())) throw std::runtime_error("mkdtemp failed");
        path = t;
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string operator/(const std::string& name) const { return (path / name).string(); }
};

using zip_entries = std::vector<std::pair<std::string, std::string>>;

// Writes a zip at `path` holding each (name, content) entry, deflated, in the given order.
inline void write_zip(const std::string& path, const zip_entries& entries) {
    int err = 0;
    zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
    if (!z) throw std::runtime_error("zip_open failed for " + path);
    for (const auto& entry : entries) {
        // libzip reads buffers at zip_close: `entries` outlives it, so no copy is needed.
        zip_source_t* s = zip_source_buffer(z, entry.second.data(), entry.second.size(), 0);
        zip_int64_t i = s ? zip_file_add(z, entry.first.c_str(), s, ZIP_FL_ENC_UTF_8) : -1;
        if (i < 0) {
            if (s) zip_source_free(s);
            zip_discard(z);
            throw std::runtime_error("cannot add " + entry.first + " to " + path);
        }
        if (zip_set_file_compression(z, static_cast<zip_uint64_t>(i), ZIP_CM_DEFLATE, 0) != 0) {
            zip_discard(z);
            throw std::runtime_error("cannot deflate " + entry.first);
        }
    }
    if (zip_close(z) != 0) {
        std::string why = zip_strerror(z);
        zip_discard(z);
        throw std::runtime_error("zip_close failed for " + path + ": " + why);
    }
}

// The XML declaration and worksheet element around `sheet_data_xml` (the rows, as XML).
inline std::string worksheet_xml(const std::string& sheet_data_xml,
                                 const std::string& tail = "</sheetData></worksheet>") {
    return R"(<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>)" +
           sheet_data_xml + tail;
}

// The five parts of the smallest workbook with one sheet, "Sheet1", whose part is
// xl/worksheets/sheet1.xml holding `sheet_xml` verbatim (a whole worksheet document: see
// worksheet_xml). No shared strings or styles: use inline-string cells, or append parts.
inline zip_entries minimal_workbook_parts(const std::string& sheet_xml) {
    return {
        {"[Content_Types].xml",
         R"(<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>)"},
        {"_rels/.rels",
         R"(<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>)"},
        {"xl/workbook.xml",
         R"(<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>)"},
        {"xl/_rels/workbook.xml.rels",
         R"(<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>)"},
        {"xl/worksheets/sheet1.xml", sheet_xml},
    };
}

// The inline-string cell at `ref` holding `text` (already XML-escaped).
inline std::string inline_cell(const std::string& ref, const std::string& text) {
    return "<c r=\"" + ref + "\" t=\"inlineStr\"><is><t>" + text + "</t></is></c>";
}

}  // namespace importer_test
