// weft-import serve: the tutorial's upload service as an HTTP server (Boost.Beast on Asio
// coroutines, with weft's channels, select, contexts and worker pool doing the coordination).
//
//   POST /upload?method=pipeline|batch|concurrent|sequential[&async=1][&cancel_on_disconnect=1]
//        multipart/form-data with a part named "file" (curl -F file=@x.xlsx), or the raw .xlsx
//   GET  /imports/{id}               state, counts, progress; the result once finished
//   GET  /imports/{id}/events        progress as Server-Sent Events, then the result
//   GET  /imports/{id}/rejects.csv   every rejected row
//   GET  /health                     {"status":"healthy","database":"ok"} (503 without a database)
//   GET  /metrics                    Prometheus text
//   GET  /                           the upload page
//
// Imports run the engine the CLI runs (run_import) on a weft::worker_pool of --max-imports
// threads with a queue of --max-queue; an upload that finds the queue full is refused with 429
// before its body is read. The upload goes to an unnamed temporary file; a client's file name is
// only ever echoed back. SIGINT/SIGTERM stop accepting, wait up to --grace for the imports, then
// cancel the rest through their contexts (rolled back: nothing written) and return 0; a second
// signal exits at once with 1 (a transaction in progress is then rolled back by the database).
#pragma once

#include "xlsx_limits.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>

namespace weft_import::serve {

struct options {
    std::string listen = "127.0.0.1:8080";  // host:port, [v6]:port; port 0 picks a free one
    std::string db_url = "sqlite:businesses.db";
    std::uint64_t max_upload_bytes = std::uint64_t{100} << 20;
    unsigned max_imports = 2;        // imports running at once
    unsigned max_queue = 8;          // accepted imports waiting for a slot; beyond: 429
    unsigned max_connections = 512;  // beyond: the connection is answered 503 and closed
    std::string token_file;          // required to listen on anything but loopback
    std::chrono::milliseconds grace{std::chrono::seconds(30)};
    // --header-timeout: the whole header (and a keep-alive connection's idle time); a client
    // that stalls in it gets 408, an idle one is closed.
    std::chrono::milliseconds header_timeout{std::chrono::seconds(10)};
    // --body-timeout: between two reads of a body, or two writes of an answer; then closed.
    std::chrono::milliseconds body_timeout{std::chrono::seconds(30)};
    std::size_t max_header_bytes = 16 * 1024;
    unsigned io_threads = 2;
    weft_import::limits limits;
    // Called once the socket listens, with the address and port (the CLI prints it).
    std::function<void(const std::string& url)> on_listening;
};

// A configuration the server refuses to start with (a usage error: exit 2).
class startup_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Serves until SIGINT or SIGTERM, then shuts down as the header comment says, and returns 0.
// Throws startup_error, or what binding the socket throws.
int run(const options& opt);

}  // namespace weft_import::serve
