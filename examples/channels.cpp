// examples/channels.cpp - the channel API, one small scene per function: buffered and
// rendezvous channels, close + range-for, try_send handing the value back, move-only values,
// sender/receiver views, the nil channel and deadlines.
//
// Deterministic: stdout is compared with examples/channels.expected. docs/patterns/channels.md
// quotes these functions verbatim; keep the two in step.
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <weft/channel.hpp>
#include <weft/wait_group.hpp>

using namespace std::chrono_literals;

// op_status as text, for printing.
const char* name(weft::op_status s) {
    switch (s) {
        case weft::op_status::ok: return "ok";
        case weft::op_status::closed: return "closed";
        case weft::op_status::full: return "full";
        case weft::op_status::empty: return "empty";
        case weft::op_status::timeout: return "timeout";
        case weft::op_status::canceled: return "canceled";
    }
    return "?";
}

// A buffered channel is a bounded FIFO: send does not wait while there is room.
void buffered() {
    weft::channel<int> ch(3);
    ch.send(1);
    ch.send(2);
    ch.send(3);  // the buffer is full now: a fourth send would wait for a receiver
    std::printf("buffered: %zu of %zu slots used\n", ch.size(), ch.capacity());
    for (int i = 0; i < 3; ++i) std::printf("  received %d\n", *ch.receive());
}

// A rendezvous channel (capacity 0) has no buffer: send returns only once a receiver has
// taken the value, so every exchange also synchronizes the two threads.
void rendezvous() {
    weft::channel<std::string> requests(0);
    weft::channel<std::string> replies(0);
    weft::wait_group wg;
    wg.go([requests, replies]() {  // handles are cheap copies of one channel
        for (std::string& r : requests) replies.send("echo " + r);
    });
    for (const char* word : {"ping", "pong"}) {
        requests.send(word);  // returns once the echo thread has the word
        std::printf("rendezvous: %s\n", replies.receive()->c_str());
    }
    requests.close();  // ends the echo thread's range-for
    wg.wait();
}

// close() ends a range-for once the buffered values are drained: the producer closes, the
// consumer loops until the channel is closed *and* empty.
void close_and_range() {
    weft::channel<int> ch(2);
    weft::wait_group wg;
    wg.go([out = weft::sender<int>(ch)]() {
        for (int i = 1; i <= 5; ++i) out.send(i * 10);
        out.close();  // without it, the loop below would wait forever
    });
    std::printf("close + range:");
    for (int v : ch) std::printf(" %d", v);
    std::printf("\n");
    wg.wait();
    std::optional<int> after = ch.receive();  // closed and drained: an empty optional
    std::printf("  receive after close: %s\n", after ? "a value" : "nullopt");
}

// A send that cannot complete hands the value back: nothing is lost.
void try_send_hands_back() {
    weft::channel<std::string> ch(1);
    auto first = ch.try_send("first");    // ok: there was room
    auto second = ch.try_send("second");  // full: "second" comes back in the result
    std::printf("try_send: %s, then %s with \"%s\" handed back\n", name(first.status),
                name(second.status), second.value->c_str());

    bool closed_now = ch.close();    // true: this call closed it
    bool closed_again = ch.close();  // false: already closed (Go would panic)
    std::printf("  close() -> %s, again -> %s\n", closed_now ? "true" : "false",
                closed_again ? "true" : "false");
    auto third = ch.send("third");  // closed: handed back too (Go would panic)
    std::printf("  send after close: %s, \"%s\" handed back\n", name(third.status),
                third.value->c_str());
    std::printf("  still receivable after close: \"%s\"\n", ch.receive()->c_str());
}

// Move-only values travel by move; a failed send gives ownership back.
struct job {
    int id;
    std::string payload;
};

void move_only() {
    weft::channel<std::unique_ptr<job>> jobs(2);
    jobs.send(std::make_unique<job>(job{1, "resize"}));
    jobs.send(std::make_unique<job>(job{2, "encode"}));

    auto extra = std::make_unique<job>(job{3, "upload"});
    auto r = jobs.try_send(std::move(extra));  // full
    extra = std::move(*r.value);               // ownership is back with us
    std::printf("move-only: try_send %s, job %d handed back\n", name(r.status), extra->id);

    jobs.close();
    for (auto& slot : jobs) {  // auto&: the element is move-only, so take it by reference
        std::unique_ptr<job> mine = std::move(slot);
        std::printf("  job %d: %s\n", mine->id, mine->payload.c_str());
    }
}

// Directional views, Go's chan<- T and <-chan T: a producer takes a sender, a consumer a
// receiver. `in.send(1)` or `in.close()` would not compile.
void produce(weft::sender<int> out, int n) {
    for (int i = 1; i <= n; ++i) out.send(i);
    out.close();  // closing belongs to the sending side
}

int total(weft::receiver<int> in) {
    int sum = 0;
    for (int v : in) sum += v;
    return sum;
}

void views() {
    weft::channel<int> ch(4);
    produce(ch, 4);  // a channel converts to either view
    std::printf("views: total %d\n", total(ch));
}

// A default-constructed handle is Go's nil channel: try_ operations fail, blocking ones wait
// forever (or until their deadline). Deadlines work the same on every channel.
void nil_and_deadlines() {
    weft::channel<int> nil;
    auto polled = nil.try_receive();
    auto waited = nil.receive_for(10ms);
    std::printf("nil channel: is nil %s, try_receive %s, receive_for %s\n", nil ? "no" : "yes",
                name(polled.status), name(waited.status));

    weft::channel<int> quiet(1);
    auto late = quiet.receive_until(std::chrono::steady_clock::now() + 10ms);
    std::printf("  empty channel, receive_until: %s\n", name(late.status));
}

int main() {
    buffered();
    rendezvous();
    close_and_range();
    try_send_hands_back();
    move_only();
    views();
    nil_and_deadlines();
}
