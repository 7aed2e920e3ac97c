package weftbench

// The pool row of /work/shared/BENCH.md, the Go twin of benchmarks/worker_pool_bench.cpp: one
// goroutine submits b.N trivial tasks, then waits for all of them; ns/op is ns per task, the
// pool's start and its wait included.
//   Pool/post/workers:W    W goroutines range over a channel of funcs (capacity 1024, weft's
//                          default queue); the submitter closes it and waits on a WaitGroup.
//   Pool/submit/workers:W  the same, each task with its own result channel (capacity 1), Go's
//                          "future".
//   Pool/go_per_task       no pool: a go statement and a WaitGroup per task.
// Run as BENCH.md did (1M tasks per run):
//   GOMAXPROCS=2 go test -run '^$' -bench Pool -benchtime=1000000x -count=5

import (
	"fmt"
	"sync"
	"testing"
)

func runPool(n, workers int, submit bool) {
	jobs := make(chan func(), 1024)
	var wg sync.WaitGroup
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		go func() {
			defer wg.Done()
			for f := range jobs {
				f()
			}
		}()
	}
	for i := 0; i < n; i++ {
		if submit {
			result := make(chan struct{}, 1)
			jobs <- func() { result <- struct{}{} }
		} else {
			jobs <- func() {}
		}
	}
	close(jobs)
	wg.Wait()
}

func BenchmarkPool(b *testing.B) {
	for _, op := range []string{"post", "submit"} {
		for _, workers := range []int{1, 2, 4} {
			op, workers := op, workers
			b.Run(fmt.Sprintf("%s/workers:%d", op, workers), func(b *testing.B) {
				runPool(b.N, workers, op == "submit")
			})
		}
	}
	b.Run("go_per_task", func(b *testing.B) {
		var wg sync.WaitGroup
		wg.Add(b.N)
		for i := 0; i < b.N; i++ {
			go func() { wg.Done() }()
		}
		wg.Wait()
	})
}
