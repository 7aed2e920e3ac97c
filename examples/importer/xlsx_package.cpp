// The zip package under an .xlsx: libzip, opened read-only from a file or from memory; parts are
// streamed with zip_fread and counted against the limits as they inflate (see xlsx_package.hpp).
#include "xlsx_package.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <utility>
#include <vector>

namespace weft_import {
namespace xlsx_detail {
namespace {

std::string libzip_message(zip_error_t* err) {
    const char* s = zip_error_strerror(err);
    return s ? s : "unknown libzip error";
}

bool starts_with(std::span<const unsigned char> head, std::initializer_list<unsigned char> magic) {
    return head.size() >= magic.size() && std::equal(magic.begin(), magic.end(), head.begin());
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               auto lower = [](char c) {
                   return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
               };
               return lower(x) == lower(y);
           });
}

// Closes a descriptor unless it was handed on.
struct fd_owner {
    int fd = -1;
    explicit fd_owner(int f) : fd(f) {}
    fd_owner(const fd_owner&) = delete;
    fd_owner& operator=(const fd_owner&) = delete;
    ~fd_owner() {
        if (fd >= 0) ::close(fd);
    }
};

[[noreturn]] void fail_errno(const char* what) {
    throw file_error(std::string(what) + ": " + std::strerror(errno));
}

// Copies a pipe (or any input that cannot seek) into an unnamed temporary file, which libzip
// can seek; refused once it grows beyond max_part_bytes, so a pipe cannot fill the disk.
int spool(int in, const limits& lim) {
    fd_owner out(unnamed_temp_file("the piped input"));
    std::vector<char> buf(64 * 1024);
    std::uint64_t total = 0;
    for (;;) {
        const ssize_t n = ::read(in, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail_errno("cannot read the input");
        if (n == 0) break;
        total += static_cast<std::uint64_t>(n);
        if (total > lim.max_part_bytes)
            throw file_error("the piped input is larger than the limit of " +
                             std::to_string(lim.max_part_bytes) +
                             " bytes (limits::max_part_bytes): refused");
        for (ssize_t done = 0; done < n;) {
            const ssize_t w =
                ::write(out.fd, buf.data() + done, static_cast<std::size_t>(n - done));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) fail_errno("cannot copy the piped input to a temporary file");
            done += w;
        }
    }
    if (::lseek(out.fd, 0, SEEK_SET) != 0) fail_errno("cannot read back the piped input");
    return std::exchange(out.fd, -1);
}

}  // namespace

}  // namespace xlsx_detail

int unnamed_temp_file(const char* purpose) {
    using xlsx_detail::fail_errno;
    const std::string what = std::string("cannot create a temporary file for ") + purpose;
    std::error_code ec;
    const auto dir = std::filesystem::temp_directory_path(ec);
    int fd = ec ? -1 : ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) return fd;
    // A file system without O_TMPFILE: tmpfile() unlinks the file it creates.
    std::FILE* f = std::tmpfile();
    if (!f) fail_errno(what.c_str());
    fd = ::fcntl(fileno(f), F_DUPFD_CLOEXEC, 0);
    std::fclose(f);
    if (fd < 0) fail_errno(what.c_str());
    return fd;
}

namespace xlsx_detail {

void reject_unopenable(std::span<const unsigned char> head, int zip_error_code) {
    if (head.empty()) throw file_error("empty file");
    if (starts_with(head, {0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}))
        throw file_error(
            "legacy .xls workbook (OLE2 compound file), not .xlsx: save it as .xlsx "
            "(a password-protected .xlsx is also stored this way)");
    // A local file header up front but no readable central directory: the end was cut off.
    if (starts_with(head, {'P', 'K', 3, 4}) || starts_with(head, {'P', 'K', 5, 6})) {
        if (zip_error_code == ZIP_ER_NOZIP)
            throw file_error("truncated zip archive (its central directory is missing)");
        zip_error_t err;
        zip_error_init_with_code(&err, zip_error_code);
        std::string msg = "damaged zip archive (" + libzip_message(&err) + ")";
        zip_error_fini(&err);
        throw file_error(msg);
    }
    throw file_error("not an .xlsx file (not a zip archive)");
}

package::package(const std::filesystem::path& file, const limits& lim) : lim_(lim) {
    // The caller names the file in front of the message ("weft-import: FILE: ..."), so it is not
    // repeated here.
    fd_owner fd(file == "-" ? ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0)
                            : ::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.fd < 0) fail_errno("cannot open the file");
    struct stat st{};
    if (::fstat(fd.fd, &st) != 0) fail_errno("cannot open the file");
    if (S_ISDIR(st.st_mode)) throw file_error("is a directory, not an .xlsx file");
    if (!S_ISREG(st.st_mode)) {
        const int copy = spool(fd.fd, lim);
        ::close(std::exchange(fd.fd, copy));
    }
    std::array<unsigned char, 8> head{};
    ssize_t got = 0;
    do { got = ::pread(fd.fd, head.data(), head.size(), 0); } while (got < 0 && errno == EINTR);
    if (got < 0) fail_errno("cannot read the file");
    int code = 0;
    // zip_fdopen reads through a duplicate and closes `fd` only when it succeeds.
    zip_ = zip_fdopen(fd.fd, ZIP_RDONLY, &code);
    if (!zip_) {
        if (code == ZIP_ER_OPEN || code == ZIP_ER_MEMORY) {
            zip_error_t err;
            zip_error_init_with_code(&err, code);
            std::string msg = "cannot open the file: " + libzip_message(&err);
            zip_error_fini(&err);
            throw file_error(msg);
        }
        reject_unopenable(std::span(head.data(), static_cast<std::size_t>(got)), code);
    }
    fd.fd = -1;
    try {
        index_names();
        reject_foreign_formats();
    } catch (...) {
        zip_discard(zip_);
        throw;
    }
}

package::package(std::span<const std::byte> bytes, const limits& lim) : lim_(lim) {
    auto head = std::span(reinterpret_cast<const unsigned char*>(bytes.data()),
                          std::min<std::size_t>(bytes.size(), 8));
    if (bytes.empty()) reject_unopenable(head, ZIP_ER_NOZIP);
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &err);
    if (src) zip_ = zip_open_from_source(src, ZIP_RDONLY, &err);
    if (!zip_) {
        int code = zip_error_code_zip(&err);
        zip_error_fini(&err);
        if (src) zip_source_free(src);
        reject_unopenable(head, code);
    }
    zip_error_fini(&err);
    try {
        index_names();
        reject_foreign_formats();
    } catch (...) {
        zip_discard(zip_);
        throw;
    }
}

package::~package() {
    if (zip_) zip_discard(zip_);
}

void package::index_names() {
    const zip_int64_t n = zip_get_num_entries(zip_, 0);
    names_.reserve(static_cast<std::size_t>(std::max<zip_int64_t>(n, 0)));
    for (zip_int64_t i = 0; i < n; ++i) {
        const char* name = zip_get_name(zip_, static_cast<zip_uint64_t>(i), 0);
        if (!name)
            throw file_error("damaged zip archive: entry " + std::to_string(i) + " has no name");
        names_.emplace_back(name);
    }
    // libzip finds the first of two entries with one name, other readers the last: which part
    // the workbook holds would depend on the reader.
    std::vector<std::string_view> sorted(names_.begin(), names_.end());
    std::sort(sorted.begin(), sorted.end());
    const auto twice = std::adjacent_find(sorted.begin(), sorted.end());
    if (twice != sorted.end())
        throw file_error("two zip entries are named '" + std::string(*twice) +
                         "': readers differ on which one counts");
}

std::optional<std::uint64_t> package::find(const std::string& part) const {
    std::optional<std::uint64_t> found;
    for (std::size_t i = 0; i < names_.size(); ++i)
        if (names_[i] == part) return i;
    for (std::size_t i = 0; i < names_.size(); ++i) {
        if (!iequals(names_[i], part)) continue;
        if (found)
            throw file_error("two zip entries match part " + part + " ignoring case ('" +
                             names_[*found] + "' and '" + names_[i] + "') and neither exactly");
        found = i;
    }
    return found;
}

// An OpenDocument file is a zip too; its uncompressed first entry says what it is.
void package::reject_foreign_formats() const {
    auto idx = find("mimetype");
    if (!idx) return;
    part_stream s(*this, *idx, "mimetype");
    std::array<char, 128> buf{};
    std::size_t n = 0, got = 0;
    while (n < buf.size() && (got = s.read(buf.data() + n, buf.size() - n)) > 0) n += got;
    std::string_view type(buf.data(), n);
    if (type.starts_with("application/vnd.oasis.opendocument.spreadsheet"))
        throw file_error("OpenDocument spreadsheet (.ods), not .xlsx: save it as .xlsx");
    if (type.starts_with("application/vnd.oasis.opendocument"))
        throw file_error("OpenDocument file, not an .xlsx workbook");
}

part_stream::part_stream(const package& pkg, std::uint64_t index, std::string name)
    : name_(std::move(name)), lim_(pkg.lim()) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(pkg.archive(), index, 0, &st) != 0)
        throw file_error("damaged zip archive: cannot read the entry of part " + name_);
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
        throw file_error("part " + name_ + " is encrypted");
    declared_ = (st.valid & ZIP_STAT_SIZE) ? st.size : 0;
    compressed_ = (st.valid & ZIP_STAT_COMP_SIZE) ? st.comp_size : 0;
    // Refusing an honest declaration early only saves work: the count below is what holds.
    if (declared_ > lim_.max_part_bytes)
        throw file_error("part " + name_ + " declares " + std::to_string(declared_) +
                         " bytes, over the limit of " + std::to_string(lim_.max_part_bytes));
    file_ = zip_fopen_index(pkg.archive(), index, 0);
    if (!file_) {
        zip_error_t* err = zip_get_error(pkg.archive());
        int code = zip_error_code_zip(err);
        if (code == ZIP_ER_COMPNOTSUPP)
            throw file_error("part " + name_ + " uses an unsupported compression method");
        if (code == ZIP_ER_ENCRNOTSUPP || code == ZIP_ER_NOPASSWD)
            throw file_error("part " + name_ + " is encrypted");
        throw file_error("damaged zip archive: cannot open part " + name_ + " (" +
                         libzip_message(err) + ")");
    }
}

part_stream::~part_stream() {
    if (file_) zip_fclose(file_);
}

void part_stream::fail_from_libzip() const {
    zip_error_t* err = zip_file_get_error(file_);
    switch (zip_error_code_zip(err)) {
        case ZIP_ER_CRC: throw file_error("part " + name_ + " fails its CRC check");
        case ZIP_ER_INCONS:
            throw file_error("part " + name_ + " does not match its zip headers (size or CRC)");
        case ZIP_ER_ZLIB:
        case ZIP_ER_COMPRESSED_DATA:
            throw file_error("part " + name_ + " has damaged compressed data");
        case ZIP_ER_EOF:
        case ZIP_ER_READ:
        case ZIP_ER_SEEK: throw file_error("truncated zip archive: part " + name_ + " ends early");
        default:
            throw file_error("damaged zip archive: part " + name_ + " (" + libzip_message(err) +
                             ")");
    }
}

std::size_t part_stream::read(char* out, std::size_t size) {
    zip_int64_t n = zip_fread(file_, out, size);
    if (n < 0) fail_from_libzip();
    auto got = static_cast<std::uint64_t>(n);
    inflated_ += got;
    if (inflated_ > lim_.max_part_bytes)
        throw file_error("part " + name_ + " inflates beyond the limit of " +
                         std::to_string(lim_.max_part_bytes) + " bytes");
    if (inflated_ > declared_)
        throw file_error("part " + name_ + " inflates beyond its declared size of " +
                         std::to_string(declared_) + " bytes");
    // The compressed size bounds the input libzip reads for this entry, so the ratio so far is a
    // lower bound on the final one.
    if (inflated_ > lim_.ratio_min_bytes &&
        static_cast<double>(inflated_) >
            lim_.max_ratio * static_cast<double>(std::max<std::uint64_t>(compressed_, 1)))
        throw file_error("part " + name_ + " inflates more than " +
                         std::to_string(static_cast<long long>(lim_.max_ratio)) +
                         ":1 (a zip bomb?)");
    if (got == 0 && size > 0 && inflated_ != declared_)
        throw file_error("part " + name_ + " inflates to " + std::to_string(inflated_) +
                         " bytes, not its declared " + std::to_string(declared_));
    return static_cast<std::size_t>(got);
}

}  // namespace xlsx_detail
}  // namespace weft_import
