// examples/patterns/confinement.cpp - confinement: make data safe by giving it one owner instead
// of a lock. First, results by index: a pre-sized vector where each worker writes only its own
// slot, read after wait(). Then the owner goroutine: one thread owns a map, and the others
// change and query it only by sending it requests.
//
// The Go original is examples/go/patterns/confinement/main.go; both print the same lines.
// Deterministic: results are read by index, and the owner's final state is printed sorted.
// docs/patterns/confinement.md quotes this file verbatim; keep the two in step.
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include <weft/channel.hpp>
#include <weft/wait_group.hpp>

// Some work per input: FNV-1a of the text, repeated to make it take a moment.
std::uint32_t checksum(const std::string& text) {
    std::uint32_t h = 2166136261u;
    for (int round = 0; round < 1000; ++round)
        for (char c : text) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
    return h;
}

// Each worker owns results[i]: distinct elements are distinct memory locations, so writing
// them from different threads is not a data race. wait() makes every write visible here.
std::vector<std::uint32_t> checksums(const std::vector<std::string>& docs) {
    std::vector<std::uint32_t> results(docs.size());  // sized before any worker starts
    weft::wait_group wg;
    for (std::size_t i = 0; i < docs.size(); ++i)
        wg.go([&results, &docs, i] { results[i] = checksum(docs[i]); });
    wg.wait();
    return results;
}

// The owner: the only thread that touches `stock`. Others send it requests on one channel; a
// query carries the channel its answer goes back on. One channel, not one per kind of request:
// the owner then handles requests in the order they were sent, so a query sees every change
// sent before it.
struct adjust {
    std::string item;
    int delta;
};
struct query {
    std::string item;
    weft::sender<int> reply;
};
using request = std::variant<adjust, query>;

std::map<std::string, int> inventory_owner(weft::receiver<request> requests) {
    std::map<std::string, int> stock;  // confined to this thread: no lock
    for (request& r : requests) {      // until the channel is closed and drained
        if (auto* a = std::get_if<adjust>(&r)) stock[a->item] += a->delta;
        if (auto* q = std::get_if<query>(&r)) q->reply.send(stock[q->item]);
    }
    return stock;  // ownership moves out with the value
}

void owner_goroutine() {
    weft::channel<request> requests(8);
    weft::channel<std::map<std::string, int>> final_state(1);
    weft::wait_group owner;
    owner.go([requests, final_state]() { final_state.send(inventory_owner(requests)); });

    const std::vector<std::string> items = {"apples", "pears", "plums"};
    weft::wait_group clerks;
    for (int clerk = 0; clerk < 4; ++clerk) {
        clerks.go([&items, requests, clerk]() {
            int sign = clerk == 3 ? -1 : 1;  // three clerks restock, one sells
            for (int round = 0; round < 50; ++round)
                for (std::size_t k = 0; k < items.size(); ++k)
                    requests.send(adjust{items[k], sign * static_cast<int>(k + 1)});
        });
    }
    clerks.wait();
    weft::channel<int> reply(0);
    requests.send(query{"apples", reply});  // sent after every clerk's change
    std::printf("owner: a query after the clerks sees apples = %d\n", *reply.receive());
    requests.close();  // the owner drains what is queued, then returns its map
    auto stock = *final_state.receive();
    owner.wait();
    for (const auto& [item, n] : stock) std::printf("owner: %-6s %d\n", item.c_str(), n);
}

int main() {
    const std::vector<std::string> docs = {"invoice-17", "contract-b", "memo", "report-q3",
                                           "receipt-0042"};
    auto sums = checksums(docs);
    for (std::size_t i = 0; i < docs.size(); ++i)
        std::printf("by index: %-12s %08x\n", docs[i].c_str(), sums[i]);
    owner_goroutine();
}
