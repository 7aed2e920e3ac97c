// The Go original of examples/semaphore.cpp, quoted beside it in docs/patterns/semaphore.md.
// Run: cd examples/go/semaphore && GOPROXY=off GOFLAGS=-mod=mod go run .
// (see go.mod; Debian: apt-get install golang-golang-x-sync-dev). alreadyDone prints
// "context canceled" with a golang.org/x/sync that has the fix for go.dev/issue/63615 (2023);
// older versions, Debian 12's v0.1.0 among them, let that acquire succeed and print "<nil>".
package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// collatzSteps is the number of steps from n to 1 under the Collatz conjecture.
func collatzSteps(n int) (steps int) {
	for ; n > 1; steps++ {
		if n%2 == 0 {
			n /= 2
		} else {
			n = 3*n + 1
		}
	}
	return steps
}

// workerPool is x/sync's Example_workerPool.
func workerPool() {
	ctx := context.TODO()
	const maxWorkers = 4
	sem := semaphore.NewWeighted(maxWorkers)
	out := make([]int, 32)

	for i := range out {
		if err := sem.Acquire(ctx, 1); err != nil {
			fmt.Printf("failed to acquire semaphore: %v\n", err)
			break
		}
		go func(i int) {
			defer sem.Release(1)
			out[i] = collatzSteps(i + 1)
		}(i)
	}
	if err := sem.Acquire(ctx, maxWorkers); err != nil {
		fmt.Printf("failed to acquire semaphore: %v\n", err)
	}
	fmt.Println(out)
}

func memoryBudget() {
	const budgetMB = 10
	sem := semaphore.NewWeighted(budgetMB)
	var inUse, peak atomic.Int64
	var wg sync.WaitGroup
	for _, mb := range []int64{6, 3, 8, 2, 5, 4, 7, 1} {
		sem.Acquire(context.Background(), mb)
		wg.Add(1)
		go func(mb int64) {
			defer wg.Done()
			now := inUse.Add(mb)
			for seen := peak.Load(); now > seen && !peak.CompareAndSwap(seen, now); seen = peak.Load() {
			}
			time.Sleep(2 * time.Millisecond)
			inUse.Add(-mb)
			sem.Release(mb)
		}(mb)
	}
	wg.Wait()
	yes := map[bool]string{true: "yes", false: "no"}
	fmt.Printf("8 jobs of 1..8 MB in a %d MB budget: peak within budget: %s\n", budgetMB,
		yes[peak.Load() <= budgetMB])
}

func timeout() {
	sem := semaphore.NewWeighted(1)
	sem.Acquire(context.Background(), 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := sem.Acquire(ctx, 1)
	yes := map[bool]string{true: "yes", false: "no"}
	fmt.Printf("acquire: %v (timed out: %s)\n", err, yes[errors.Is(err, context.DeadlineExceeded)])
	sem.Release(1)
	fmt.Printf("  after release: try_acquire(1) = %t\n", sem.TryAcquire(1))
}

func writerAmongReaders() {
	const n = 4
	sem := semaphore.NewWeighted(n)
	var stop atomic.Bool
	var readers sync.WaitGroup
	for r := 0; r < 4; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for !stop.Load() {
				sem.Acquire(context.Background(), 1)
				time.Sleep(time.Millisecond)
				sem.Release(1)
			}
		}()
	}
	time.Sleep(10 * time.Millisecond)
	sem.Acquire(context.Background(), n)
	fmt.Printf("writer: got all %d tokens while readers kept coming\n", n)
	stop.Store(true)
	sem.Release(n)
	readers.Wait()
}

func tooBig() {
	sem := semaphore.NewWeighted(4)
	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error, 1)
	go func() { result <- sem.Acquire(ctx, 5) }()
	sem.Acquire(context.Background(), 1)
	sem.Release(1)
	fmt.Println("acquire(1) while acquire(5) waits: ok")
	cancel()
	fmt.Printf("acquire(5) on a semaphore of 4: %v\n", <-result)
}

func alreadyDone() {
	sem := semaphore.NewWeighted(4)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fmt.Printf("acquire on a canceled context, 4 tokens free: %v\n", sem.Acquire(ctx, 1))
}

func misuse() {
	sem := semaphore.NewWeighted(2)
	func() {
		defer func() {
			fmt.Printf("release(1) with nothing held: %v\n", recover())
		}()
		sem.Release(1)
	}()
	// Go's Release has already changed the count when it panics: it is -1 now, so even 3
	// tokens "fit". weft checks first and changes nothing.
	fmt.Printf("  still free: try_acquire(2) = %t\n", sem.TryAcquire(2))
}

func main() {
	workerPool()
	memoryBudget()
	timeout()
	writerAmongReaders()
	tooBig()
	alreadyDone()
	misuse()
}
