// examples/patterns/worker_pool_coro.cpp - the tutorial's worker pool with coroutine workers:
// the image jobs of worker_pool_images.cpp, run by a weft::co_worker_pool whose three workers
// are Boost.Asio coroutines on one io_context, run by one thread. Each task is an awaitable: it
// first "loads" its image (a timer standing in for the file read a real program awaits; the
// worker parks, the thread runs the others), then processes it. The reader is a coroutine too:
// it awaits the one-shot results (weft::future) in submission order, so the lines come out in
// job order, whoever finished first.
//
// The Go original is the same as the thread version's, examples/go/patterns/worker_pool_images/
// main.go (goroutines are what these coroutines stand for); the job lines are the same.
// Deterministic: stdout is compared with worker_pool_coro.expected.
// docs/patterns/worker_pool.md quotes this file verbatim; keep the two in step.
#include <weft/co_worker_pool.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace net = boost::asio;

struct job {
    int id;
    std::string name;
    int width, height;
};

struct result {
    job source;
    int width, height;
    std::size_t compressed;
    std::uint32_t checksum;
};

using pixels = std::vector<std::uint8_t>;

// A grayscale picture: a diagonal gradient with a little noise, seeded by the job id so every
// run (and the Go twin) sees the same pixels.
pixels generate(const job& j) {
    pixels px(static_cast<std::size_t>(j.width * j.height));
    std::uint32_t seed = static_cast<std::uint32_t>(j.id) * 2654435761u;
    const auto w = static_cast<std::uint32_t>(j.width), h = static_cast<std::uint32_t>(j.height);
    for (std::uint32_t y = 0; y < h; ++y) {
        for (std::uint32_t x = 0; x < w; ++x) {
            seed = seed * 1664525u + 1013904223u;
            const std::uint32_t v = x * 255 / w + y * 64 / h + (seed >> 29);
            px[y * w + x] = static_cast<std::uint8_t>(v);
        }
    }
    return px;
}

// Halves both sides, each output pixel the mean of a 2x2 block.
pixels resize(const pixels& px, int w, int h, int& ow, int& oh) {
    ow = w / 2;
    oh = h / 2;
    pixels out(static_cast<std::size_t>(ow * oh));
    auto at = [&](int x, int y) { return int{px[static_cast<std::size_t>(y * w + x)]}; };
    for (int y = 0; y < oh; ++y) {
        for (int x = 0; x < ow; ++x) {
            const int sum = at(2 * x, 2 * y) + at(2 * x + 1, 2 * y) + at(2 * x, 2 * y + 1) +
                            at(2 * x + 1, 2 * y + 1);
            out[static_cast<std::size_t>(y * ow + x)] = static_cast<std::uint8_t>(sum / 4);
        }
    }
    return out;
}

// Quantises to 16 grey levels and run-length encodes: (count, level) byte pairs.
pixels compress(const pixels& px) {
    pixels out;
    for (std::size_t i = 0; i < px.size();) {
        const int level = px[i] >> 4;
        std::size_t n = 1;
        while (i + n < px.size() && n < 255 && px[i + n] >> 4 == level) ++n;
        out.push_back(static_cast<std::uint8_t>(n));
        out.push_back(static_cast<std::uint8_t>(level));
        i += n;
    }
    return out;
}

// The 32-bit FNV-1a hash, a fingerprint of the compressed bytes.
std::uint32_t fnv1a(const pixels& data) {
    std::uint32_t h = 2166136261u;
    for (std::uint8_t b : data) {
        h ^= b;
        h *= 16777619u;
    }
    return h;
}

result process(const job& j) {
    int w = 0, h = 0;
    const pixels packed = compress(resize(generate(j), j.width, j.height, w, h));
    return {j, w, h, packed.size(), fnv1a(packed)};
}

// The read a real program would await; later jobs take longer, so they finish out of order.
net::awaitable<void> load(const job& j) {
    net::steady_timer io(co_await net::this_coro::executor, std::chrono::milliseconds(9 - j.id));
    co_await io.async_wait(net::use_awaitable);
}

int main() {
    const std::vector<job> images = {
        {1, "beach.png", 640, 480},     {2, "city.png", 1280, 720},   {3, "forest.png", 800, 600},
        {4, "portrait.png", 480, 640},  {5, "sunset.png", 1024, 768}, {6, "logo.png", 256, 256},
        {7, "mountain.png", 1600, 900}, {8, "river.png", 720, 480},
    };
    const std::size_t workers = 3;
    net::io_context ioc;  // one thread runs the workers and the reader
    weft::co_worker_pool pool(ioc.get_executor(), workers, images.size());
    net::co_spawn(
        ioc,
        [&]() -> net::awaitable<void> {
            std::vector<weft::future<result>> results;
            for (const job& j : images) {
                // Named, not written inside the co_await: GCC 12 destroys a capturing lambda
                // written inside a co_await expression twice (a compiler bug).
                auto task = [j]() -> net::awaitable<result> {
                    co_await load(j);
                    co_return process(j);
                };
                results.push_back(co_await pool.async_submit(std::move(task), net::use_awaitable));
            }
            for (auto& f : results) {
                const result r = co_await f.async_get(net::use_awaitable);  // job order
                std::printf("job %d %-13s %4dx%-4d -> %4dx%-4d %6zu bytes  fnv %08x\n", r.source.id,
                            r.source.name.c_str(), r.source.width, r.source.height, r.width,
                            r.height, r.compressed, r.checksum);
            }
            co_await pool.async_shutdown(net::use_awaitable);
        },
        net::detached);
    ioc.run();
    std::printf("%zu images processed by %zu coroutine workers on one thread, in job order\n",
                images.size(), workers);
}
