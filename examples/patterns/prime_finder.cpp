// examples/patterns/prime_finder.cpp - the tutorial's fan-out/fan-in: find the primes in a range
// with several workers. A generator cuts the range into chunks; weft::fan_out gives each chunk
// to whichever worker is free (fan-out) and weft::merge brings the workers' results back into
// one channel (fan-in), with one forwarding thread and no WaitGroup.
//
// The Go original is examples/go/patterns/prime_finder/main.go; both print the same lines.
// Deterministic: which worker found what varies, so the primes are sorted before printing;
// stdout is compared with prime_finder.expected. docs/patterns/fan_out_fan_in.md quotes this
// file verbatim; keep the two in step.
#include <algorithm>
#include <cstdio>
#include <vector>

#include <weft/channel.hpp>
#include <weft/fan.hpp>
#include <weft/go.hpp>

struct chunk {
    int from, to;  // [from, to)
};

bool is_prime(int n) {
    if (n < 2) return false;
    for (int d = 2; d * d <= n; ++d)
        if (n % d == 0) return false;
    return true;
}

std::vector<int> primes_in(chunk c) {
    std::vector<int> found;
    for (int n = c.from; n < c.to; ++n)
        if (is_prime(n)) found.push_back(n);
    return found;
}

// The generator: sends the chunks of [from, to) from a thread of its own, then closes.
weft::receiver<chunk> chunks(int from, int to, int size) {
    weft::channel<chunk> out(0);
    weft::go([out, from, to, size]() {
        for (int f = from; f < to; f += size) out.send(chunk{f, std::min(f + size, to)});
        out.close();
    });
    return out;
}

int main() {
    const int limit = 200'000, size = 5'000;
    const std::size_t workers = 4;

    auto found = weft::fan_out(chunks(2, limit, size), workers, primes_in);  // fan-out
    auto all = weft::merge(found.outputs());                                 // fan-in
    std::vector<int> primes;
    for (const auto& part : all.output()) primes.insert(primes.end(), part.begin(), part.end());
    std::sort(primes.begin(), primes.end());

    std::printf("primes below %d: %zu (%zu workers, chunks of %d)\n", limit, primes.size(), workers,
                size);
    std::printf("first ten:");
    for (std::size_t i = 0; i < 10; ++i) std::printf(" %d", primes[i]);
    std::printf("\nlast five:");
    for (std::size_t i = primes.size() - 5; i < primes.size(); ++i) std::printf(" %d", primes[i]);
    std::size_t widest = 1;
    for (std::size_t i = 2; i < primes.size(); ++i)
        if (primes[i] - primes[i - 1] > primes[widest] - primes[widest - 1]) widest = i;
    std::printf("\nwidest gap: %d, from %d to %d\n", primes[widest] - primes[widest - 1],
                primes[widest - 1], primes[widest]);
}
