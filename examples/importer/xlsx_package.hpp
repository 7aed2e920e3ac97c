// The zip package under an .xlsx (private to xlsx_reader.cpp): opens it with libzip from a file or
// from memory, tells what kind of file it is when it is not a zip we can read, and streams parts
// out of it while counting every inflated byte against the limits.
//
// Invariants: nothing is written to the filesystem but the copy of a piped input, in an unnamed
// temporary file no larger than max_part_bytes; no two entries have one name; a part_stream
// never hands out more bytes than its declared size, max_part_bytes, or max_ratio times its
// compressed size (once above ratio_min_bytes) allow, so a zip bomb stops after at most
// ratio_min_bytes + one chunk.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "xlsx_limits.hpp"

struct zip;
struct zip_file;

namespace weft_import::xlsx_detail {

class package;

// One part, inflated as it is read. Throws file_error naming the part on any damage or limit.
class part_stream {
public:
    part_stream(const package& pkg, std::uint64_t index, std::string name);
    part_stream(const part_stream&) = delete;
    part_stream& operator=(const part_stream&) = delete;
    ~part_stream();

    // Up to `size` bytes into `out`; 0 only at the end of the part (which has then been checked
    // against its declared size and CRC).
    std::size_t read(char* out, std::size_t size);

    std::uint64_t declared_size() const { return declared_; }
    std::uint64_t inflated() const { return inflated_; }

private:
    [[noreturn]] void fail_from_libzip() const;

    zip_file* file_ = nullptr;
    std::string name_;
    std::uint64_t declared_ = 0;
    std::uint64_t compressed_ = 0;
    std::uint64_t inflated_ = 0;
    limits lim_;
};

class package {
public:
    // Throws file_error: a directory, empty, not a zip, legacy .xls, truncated or damaged zip,
    // two entries with one name, ODS.
    package(const std::filesystem::path& file, const limits& lim);
    package(std::span<const std::byte> bytes, const limits& lim);
    package(const package&) = delete;
    package& operator=(const package&) = delete;
    ~package();

    // The entry of a part name (no leading '/'): the one of that exact name, else the one equal
    // to it ignoring case, as OPC part names compare. Throws file_error when two entries match
    // only ignoring case.
    std::optional<std::uint64_t> find(const std::string& part) const;

    const limits& lim() const { return lim_; }
    zip* archive() const { return zip_; }

private:
    // Reads every entry's name; throws file_error when two are equal.
    void index_names();
    void reject_foreign_formats() const;

    zip* zip_ = nullptr;
    limits lim_;
    std::vector<std::string> names_;  // by entry index
};

// Classifies the first bytes of a file that libzip could not open, for the error message.
[[noreturn]] void reject_unopenable(std::span<const unsigned char> head, int zip_error_code);

}  // namespace weft_import::xlsx_detail
