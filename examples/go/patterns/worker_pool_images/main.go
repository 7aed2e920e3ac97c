// The tutorial's worker pool: image processing jobs go into a jobs channel, a fixed number of
// workers range over it, and results come back on a results channel. The "images" are
// generated, the processing (a 2x2 downscale, then run-length compression) is real, and the
// results are printed in job order. weft's version is examples/patterns/worker_pool_images.cpp;
// both print the same lines.
package main

import (
	"fmt"
	"sync"
)

type job struct {
	id            int
	name          string
	width, height int
}

type result struct {
	job           job
	width, height int
	compressed    int
	checksum      uint32
}

// generate makes a grayscale picture: a diagonal gradient with a little noise, seeded by the
// job id so every run (and the C++ twin) sees the same pixels.
func generate(j job) []byte {
	px := make([]byte, j.width*j.height)
	seed := uint32(j.id) * 2654435761
	for y := 0; y < j.height; y++ {
		for x := 0; x < j.width; x++ {
			seed = seed*1664525 + 1013904223
			v := uint32(x)*255/uint32(j.width) + uint32(y)*64/uint32(j.height) + seed>>29
			px[y*j.width+x] = byte(v)
		}
	}
	return px
}

// resize halves both sides, each output pixel the mean of a 2x2 block.
func resize(px []byte, w, h int) ([]byte, int, int) {
	ow, oh := w/2, h/2
	out := make([]byte, ow*oh)
	for y := 0; y < oh; y++ {
		for x := 0; x < ow; x++ {
			sum := int(px[2*y*w+2*x]) + int(px[2*y*w+2*x+1]) +
				int(px[(2*y+1)*w+2*x]) + int(px[(2*y+1)*w+2*x+1])
			out[y*ow+x] = byte(sum / 4)
		}
	}
	return out, ow, oh
}

// compress quantises to 16 grey levels and run-length encodes: (count, level) byte pairs.
func compress(px []byte) []byte {
	var out []byte
	for i := 0; i < len(px); {
		level := px[i] >> 4
		n := 1
		for i+n < len(px) && n < 255 && px[i+n]>>4 == level {
			n++
		}
		out = append(out, byte(n), level)
		i += n
	}
	return out
}

// fnv1a is the 32-bit FNV-1a hash, a fingerprint of the compressed bytes.
func fnv1a(data []byte) uint32 {
	h := uint32(2166136261)
	for _, b := range data {
		h ^= uint32(b)
		h *= 16777619
	}
	return h
}

func process(j job) result {
	small, w, h := resize(generate(j), j.width, j.height)
	packed := compress(small)
	return result{j, w, h, len(packed), fnv1a(packed)}
}

func worker(jobs <-chan job, results chan<- result, wg *sync.WaitGroup) {
	defer wg.Done()
	for j := range jobs {
		results <- process(j)
	}
}

func main() {
	images := []job{
		{1, "beach.png", 640, 480}, {2, "city.png", 1280, 720}, {3, "forest.png", 800, 600},
		{4, "portrait.png", 480, 640}, {5, "sunset.png", 1024, 768}, {6, "logo.png", 256, 256},
		{7, "mountain.png", 1600, 900}, {8, "river.png", 720, 480},
	}
	const workers = 3
	jobs := make(chan job, len(images))
	results := make(chan result, len(images))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go worker(jobs, results, &wg)
	}
	for _, j := range images {
		jobs <- j
	}
	close(jobs)
	wg.Wait()
	close(results)

	ordered := make([]result, len(images))
	for r := range results {
		ordered[r.job.id-1] = r
	}
	for _, r := range ordered {
		fmt.Printf("job %d %-13s %4dx%-4d -> %4dx%-4d %6d bytes  fnv %08x\n", r.job.id, r.job.name,
			r.job.width, r.job.height, r.width, r.height, r.compressed, r.checksum)
	}
	fmt.Printf("%d images processed by %d workers, printed in job order\n", len(images), workers)
}
