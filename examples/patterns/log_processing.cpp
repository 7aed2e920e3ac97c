// examples/patterns/log_processing.cpp - the tutorial's log processing pipeline: read lines,
// parse them (on 4 threads, in order), keep the errors, format them. A malformed line is
// counted, not fatal; the order of the log is kept although parsing runs in parallel.
//
// The Go original is examples/go/patterns/log_processing/main.go; both print the same lines.
// Deterministic: stdout is compared with log_processing.expected.
// docs/patterns/pipeline.md quotes this file verbatim; keep the two in step.
#include <atomic>
#include <cstdio>
#include <optional>
#include <sstream>
#include <string>

#include <weft/pipeline.hpp>

// A small log, embedded so the example needs no file.
const char* const log_text = R"(2024-03-01T10:00:01Z INFO api request served path=/users status=200
2024-03-01T10:00:02Z ERROR db connection refused host=db-1
2024-03-01T10:00:02Z WARN api slow request path=/orders ms=812
2024-03-01T10:00:03Z INFO auth login user=ana
this line is not a log entry
2024-03-01T10:00:04Z ERROR payments card declined order=1042
2024-03-01T10:00:05Z INFO api request served path=/orders status=200
2024-03-01T10:00:06Z DEBUG cache miss key=user:7
2024-03-01T10:00:07Z ERROR db query timeout table=orders ms=5000
2024-03-01T10:00:08Z INFO api request served path=/health status=200
)";

struct entry {
    std::string time, level, service, message;
};

// "<time> <level> <service> <message...>", or nothing for a line that is not an entry.
std::optional<entry> parse(const std::string& line) {
    std::istringstream in(line);
    entry e;
    if (!(in >> e.time >> e.level >> e.service) || e.time.size() != 20 || e.time[10] != 'T')
        return std::nullopt;
    std::getline(in >> std::ws, e.message);
    return e;
}

int main() {
    std::atomic<int> malformed{0};
    int errors = 0;
    std::istringstream log(log_text);
    auto p = weft::pipeline() | weft::stage::source([&]() -> std::optional<std::string> {  // read
                 std::string line;
                 if (!std::getline(log, line)) return std::nullopt;
                 return line;
             }) |
             weft::stage::map(
                 [&](const std::string& line) {  // parse, 4 threads, log order kept
                     auto e = parse(line);
                     if (!e) ++malformed;
                     return e;
                 },
                 4, weft::stage::ordered) |
             weft::stage::filter(
                 [](const std::optional<entry>& e) { return e && e->level == "ERROR"; }) |
             weft::stage::map([](std::optional<entry> e) {  // format
                 return e->time.substr(11, 8) + " [" + e->service + "] " + e->message;
             }) |
             weft::stage::sink([&](const std::string& line) {
                 std::printf("%s\n", line.c_str());
                 ++errors;
             });
    auto result = p.run();
    std::printf("%d errors in %llu lines (%d malformed): %s\n", errors,
                static_cast<unsigned long long>(result.stages[0].in), malformed.load(),
                result.ok() ? "ok" : result.message().c_str());
}
