// examples/patterns/batching.cpp - batch(size, max_wait) in front of a (simulated) bulk insert,
// as the importer does it: rows are grouped into inserts of up to 10; a batch also goes out
// when its oldest row has waited 100 ms (the source went quiet), and the last, partial batch
// goes out at the end of the input.
//
// The source is deterministic: a burst of 25 rows, then it waits until three inserts have
// happened (the third can only be the max_wait flush of rows 21-25), then 7 more rows and the
// end. The Go original is examples/go/patterns/batching/main.go; both print the same lines.
// Deterministic: stdout is compared with batching.expected.
// docs/patterns/batching.md quotes this file verbatim; keep the two in step.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <weft/channel.hpp>
#include <weft/pipeline.hpp>

using namespace std::chrono_literals;

struct row {
    int id;
    std::string name;
};

// Stands for one multi-row INSERT (one round trip, one transaction).
struct table {
    std::vector<row> rows;
    int inserts = 0;
    void bulk_insert(std::vector<row> batch) {
        ++inserts;
        std::printf("bulk insert #%d: %zu rows (ids %d-%d)\n", inserts, batch.size(),
                    batch.front().id, batch.back().id);
        for (auto& r : batch) rows.push_back(std::move(r));
    }
};

int main() {
    table db;
    weft::channel<int> inserted(16);  // the sink tells the source that an insert happened
    auto p = weft::pipeline() | weft::stage::source<row>([&](weft::emitter<row>& emit) {
                 int id = 0;
                 for (int i = 0; i < 25; ++i)
                     if (!emit(row{++id, "business " + std::to_string(id)})) return;
                 for (int seen = 0; seen < 3; ++seen)  // idle: only max_wait flushes 21-25
                     if (!inserted.receive(emit.ctx())) return;
                 for (int i = 0; i < 7; ++i)
                     if (!emit(row{++id, "business " + std::to_string(id)})) return;
             }) |
             weft::stage::batch(10, 100ms) | weft::stage::sink([&](std::vector<row> batch) {
                 db.bulk_insert(std::move(batch));
                 (void)inserted.try_send(db.inserts);
             });
    auto result = p.run();
    const auto& b = result.stages[1];
    std::printf("%zu rows in %d inserts; batch stage: %llu in, %llu out, %llu lost: %s\n",
                db.rows.size(), db.inserts, static_cast<unsigned long long>(b.in),
                static_cast<unsigned long long>(b.out),
                static_cast<unsigned long long>(result.lost()), result.ok() ? "ok" : "failed");
}
