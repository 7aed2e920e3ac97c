// The SQLite backend of weft_import::connection (private to the importer: use connect()).
#pragma once

#include "database.hpp"

#include <memory>
#include <string>

namespace weft_import {

// Opens (creating when missing) the database file at `path`; db_error when SQLite cannot.
std::unique_ptr<connection> open_sqlite(const std::string& path, const connect_options& opt);

}  // namespace weft_import
