// Package semaphorebench holds the Go twins of benchmarks/semaphore_bench.cpp: the same rows,
// with the same names, measured on golang.org/x/sync/semaphore (Debian's
// golang-golang-x-sync-dev, v0.1.0).
//
//	cd benchmarks/go/semaphore && GOPROXY=off GOFLAGS=-mod=mod GOMAXPROCS=2 go test -run '^$' -bench . -count=5
//
// ns/op is ns per Acquire+Release pair: wall time divided by b.N, the pairs of all goroutines
// together (each row splits b.N among its goroutines), as in the C++ rows.
package semaphorebench

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"golang.org/x/sync/semaphore"
)

// share returns how many of n pairs worker i of k does (the first n%k do one more).
func share(n, k, i int) int {
	s := n / k
	if i < n%k {
		s++
	}
	return s
}

// pairs runs b.N Acquire(ctx, 1)+Release(1) pairs on a semaphore of the given size, split among
// the given number of goroutines (on the benchmark's own goroutine if there is one).
func pairs(b *testing.B, ctx context.Context, size int64, goroutines int) {
	sem := semaphore.NewWeighted(size)
	run := func(k int) {
		for i := 0; i < k; i++ {
			if err := sem.Acquire(ctx, 1); err != nil {
				b.Error(err)
				return
			}
			sem.Release(1)
		}
	}
	if goroutines == 1 {
		run(b.N)
	} else {
		var wg sync.WaitGroup
		for g := 0; g < goroutines; g++ {
			wg.Add(1)
			go func(k int) {
				defer wg.Done()
				run(k)
			}(share(b.N, goroutines, g))
		}
		wg.Wait()
	}
	if !sem.TryAcquire(size) {
		b.Error("tokens leaked")
	}
}

func BenchmarkSemaphore(b *testing.B) {
	b.Run("uncontended", func(b *testing.B) { pairs(b, context.Background(), 1, 1) })
	b.Run("uncontended_cancellable", func(b *testing.B) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		pairs(b, ctx, 1, 1)
	})
	b.Run("uncontended_try", func(b *testing.B) {
		sem := semaphore.NewWeighted(1)
		for i := 0; i < b.N; i++ {
			if !sem.TryAcquire(1) {
				b.Fatal("TryAcquire failed")
			}
			sem.Release(1)
		}
	})
	for _, g := range []int{2, 4, 8} {
		g := g
		b.Run(fmt.Sprintf("contended_size1/threads:%d", g), func(b *testing.B) {
			pairs(b, context.Background(), 1, g)
		})
		b.Run(fmt.Sprintf("contended_size1_cancellable/threads:%d", g), func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			pairs(b, ctx, 1, g)
		})
		b.Run(fmt.Sprintf("contended_sizeN/threads:%d", g), func(b *testing.B) {
			pairs(b, context.Background(), int64(g), g)
		})
	}
}
