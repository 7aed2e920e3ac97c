// connect(): which backend a database URL names. `sqlite:PATH` is SQLite; a postgres:// or
// postgresql:// URI, or a libpq conninfo string ("host=... dbname=..."), is PostgreSQL. Anything
// else is a usage error (url_error), never a guess.
#include "database.hpp"

#include "postgres_database.hpp"
#include "sqlite_database.hpp"

#include <cctype>
#include <cstddef>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace weft_import {
namespace {

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
    }
    return true;
}

// A conninfo string opens with `keyword =` (libpq then checks the keywords themselves).
bool looks_like_conninfo(std::string_view s) {
    std::size_t i = s.find_first_not_of(" \t\n\r");
    const std::size_t key = i;
    while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_')) ++i;
    if (i == key || key == std::string_view::npos) return false;
    i = s.find_first_not_of(" \t", i);
    return i != std::string_view::npos && s[i] == '=';
}

}  // namespace

std::string_view check_url(std::string_view url) {
    if (starts_with_nocase(url, "sqlite:")) {
        if (url.size() == 7) throw url_error("database URL 'sqlite:' has no path: use sqlite:PATH");
        return "sqlite";
    }
    if (starts_with_nocase(url, "postgres://") || starts_with_nocase(url, "postgresql://") ||
        looks_like_conninfo(url)) {
        check_postgres_conninfo(std::string(url));
        return "postgresql";
    }
    const std::string_view kinds =
        "use sqlite:PATH, a postgres:// or postgresql:// URI, or a conninfo such as "
        "'host=/run/postgresql dbname=app'";
    // Only the scheme of an unknown URI is repeated: the rest may hold a password.
    if (const std::size_t scheme = url.find("://"); scheme != std::string_view::npos) {
        throw url_error("unsupported database URL scheme '" + std::string(url.substr(0, scheme)) +
                        "': " + std::string(kinds));
    }
    if (url.empty()) throw url_error("empty database URL: " + std::string(kinds));
    throw url_error("unsupported database URL '" + std::string(url) + "': " + std::string(kinds) +
                    " (a file: sqlite:" + std::string(url) + ")");
}

std::unique_ptr<connection> connect(std::string_view url, const connect_options& opt) {
    if (check_url(url) == "sqlite") return open_sqlite(std::string(url.substr(7)), opt);
    return open_postgres(std::string(url), opt);
}

new_database_guard::new_database_guard(std::string_view url) {
    if (check_url(url) != "sqlite") return;
    std::string path(url.substr(7));
    std::error_code ec;
    if (!std::filesystem::exists(path, ec) && !ec) path_ = std::move(path);
}

new_database_guard::~new_database_guard() {
    if (path_.empty()) return;
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"})
        std::filesystem::remove(path_ + suffix, ec);
}

}  // namespace weft_import
