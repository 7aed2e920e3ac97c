// examples/patterns/worker_pool_images.cpp - the tutorial's worker pool: image processing jobs
// run on a fixed number of workers, and the results are printed in job order. The "images"
// are generated, the processing (a 2x2 downscale, then run-length compression) is real.
//
// Go needs a jobs channel, a results channel, a WaitGroup and a reorder step; with
// weft::worker_pool each submit returns a future, and reading the futures in submission order
// is the job order.
//
// The Go original is examples/go/patterns/worker_pool_images/main.go; both print the same
// lines. Deterministic: stdout is compared with worker_pool_images.expected.
// docs/patterns/worker_pool.md quotes this file verbatim; keep the two in step.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <weft/worker_pool.hpp>

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

int main() {
    const std::vector<job> images = {
        {1, "beach.png", 640, 480},     {2, "city.png", 1280, 720},   {3, "forest.png", 800, 600},
        {4, "portrait.png", 480, 640},  {5, "sunset.png", 1024, 768}, {6, "logo.png", 256, 256},
        {7, "mountain.png", 1600, 900}, {8, "river.png", 720, 480},
    };
    const std::size_t workers = 3;
    weft::worker_pool pool(workers, images.size());
    std::vector<weft::future<result>> results;
    for (const job& j : images) results.push_back(pool.submit([j] { return process(j); }));

    for (auto& f : results) {
        const result r = f.get();  // in submission order: job order, whoever finished first
        std::printf("job %d %-13s %4dx%-4d -> %4dx%-4d %6zu bytes  fnv %08x\n", r.source.id,
                    r.source.name.c_str(), r.source.width, r.source.height, r.width, r.height,
                    r.compressed, r.checksum);
    }
    std::printf("%zu images processed by %zu workers, printed in job order\n", images.size(),
                workers);
}
