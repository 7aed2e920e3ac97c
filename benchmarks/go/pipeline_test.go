package weftbench

// The Go twin of benchmarks/pipeline_bench.cpp: a 3-stage pipeline on the same work.
//   parse      one goroutine: the next decimal string (from a pool of 4096) -> int64
//   transform  `workers` goroutines, results in input order: the parser sends each job's
//              result channel to the aggregator, in order, before it sends the job (the usual
//              Go way to keep order in a parallel stage); the capacity of that channel (256)
//              bounds the items in flight, as weft's window and TBB's tokens do
//   aggregate  the benchmark goroutine: h = h*31 + x
// One op is one item: ns/op is comparable with the C++ real_time per item.
// BenchmarkBatch is the twin of Batch/weft: a source goroutine, the usual batching goroutine
// (a timer armed by a batch's first item) and the consumer; size 0: no batching goroutine.
//
//	cd benchmarks/go && GOMAXPROCS=2 go test -run '^$' -bench 'Pipeline3|Batch' -count=5

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

const (
	pipePoolSize = 4096
	pipeTokens   = 256
)

var pipePool = func() []string {
	v := make([]string, 0, pipePoolSize)
	x := uint64(88172645463325252) // xorshift64, as in the C++ twin
	for i := 0; i < pipePoolSize; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		v = append(v, strconv.FormatInt(int64(x>>uint(i%40)), 10))
	}
	return v
}()

func pipeParse(s string) int64 {
	v, _ := strconv.ParseInt(s, 10, 64)
	return v
}

func pipeTransform(x int64, rounds int) uint64 {
	h := uint64(x)
	for i := 0; i < rounds; i++ {
		h ^= h >> 31
		h *= 0x9e3779b97f4a7c15
	}
	return h
}

func pipeLoop(n, rounds int) uint64 {
	var acc uint64
	for i := 0; i < n; i++ {
		acc = acc*31 + pipeTransform(pipeParse(pipePool[i%pipePoolSize]), rounds)
	}
	return acc
}

func pipeline3(n, rounds, workers int) uint64 {
	type job struct {
		x   int64
		res chan uint64
	}
	jobs := make(chan job, pipeTokens)
	order := make(chan chan uint64, pipeTokens)
	go func() {
		defer close(jobs)
		defer close(order)
		for i := 0; i < n; i++ {
			res := make(chan uint64, 1)
			order <- res
			jobs <- job{pipeParse(pipePool[i%pipePoolSize]), res}
		}
	}()
	for w := 0; w < workers; w++ {
		go func() {
			for j := range jobs {
				j.res <- pipeTransform(j.x, rounds)
			}
		}()
	}
	var acc uint64
	for res := range order {
		acc = acc*31 + <-res
	}
	return acc
}

func BenchmarkPipeline3(b *testing.B) {
	for _, rounds := range []int{0, 300} {
		b.Run(fmt.Sprintf("loop/work:%d", rounds), func(b *testing.B) {
			b.ReportAllocs()
			if pipeLoop(b.N, rounds) == 42 {
				b.Log("unlikely")
			}
		})
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("go/work:%d/workers:%d", rounds, workers), func(b *testing.B) {
				want := pipeLoop(b.N, rounds)
				b.ReportAllocs()
				b.ResetTimer()
				if got := pipeline3(b.N, rounds, workers); got != want {
					b.Fatalf("wrong result: lost, duplicated or reordered items")
				}
			})
		}
	}
}

func batchPipeline(n, size int, maxWait time.Duration) int {
	in := make(chan uint64, pipeTokens)
	go func() {
		defer close(in)
		for i := 0; i < n; i++ {
			in <- uint64(i)
		}
	}()
	got := 0
	if size == 0 {
		for range in {
			got++
		}
		return got
	}
	out := make(chan []uint64, 2)
	go func() {
		defer close(out)
		var b []uint64
		var timer *time.Timer
		var timeout <-chan time.Time
		for {
			select {
			case v, ok := <-in:
				if !ok {
					if len(b) > 0 {
						out <- b
					}
					return
				}
				b = append(b, v)
				if len(b) == 1 {
					timer = time.NewTimer(maxWait)
					timeout = timer.C
				}
				if len(b) == size {
					timer.Stop()
					out <- b
					b, timeout = nil, nil
				}
			case <-timeout:
				out <- b
				b, timeout = nil, nil
			}
		}
	}()
	for b := range out {
		got += len(b)
	}
	return got
}

func BenchmarkBatch(b *testing.B) {
	for _, size := range []int{0, 100} {
		b.Run(fmt.Sprintf("go/size:%d", size), func(b *testing.B) {
			b.ReportAllocs()
			if got := batchPipeline(b.N, size, time.Millisecond); got != b.N {
				b.Fatalf("got %d items, want %d", got, b.N)
			}
		})
	}
}
