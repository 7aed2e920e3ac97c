// The PostgreSQL backend of weft_import::connection (private to the importer: use connect()).
#pragma once

#include "database.hpp"

#include <memory>
#include <string>

namespace weft_import {

// `conninfo` is a postgres:// or postgresql:// URI or a key=value conninfo string: one libpq
// cannot parse throws std::invalid_argument, a server that cannot be reached db_error.
// Throws url_error when libpq cannot parse `conninfo` (a URI or key=value pairs).
void check_postgres_conninfo(const std::string& conninfo);

// Pre: check_postgres_conninfo(conninfo) passed, as connect() makes sure.
std::unique_ptr<connection> open_postgres(const std::string& conninfo, const connect_options& opt);

}  // namespace weft_import
