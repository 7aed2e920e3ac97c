// The Go originals of examples/wait_group.cpp, quoted beside them in docs/patterns/wait_group.md.
// Run: go run examples/go/wait_group/main.go (Go 1.25 or later, for wg.Go).
package main

import (
	"fmt"
	"sync"
	"time"
)

func fanOut() {
	squares := make([]int, 5)
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			squares[i] = (i + 1) * (i + 1)
		}()
	}
	wg.Wait()
	fmt.Print("squares:")
	for _, s := range squares {
		fmt.Printf(" %d", s)
	}
	fmt.Println()
}

func withGo() {
	lengths := make([]int, 3)
	var wg sync.WaitGroup
	words := []string{"go", "weft", "channel"}
	for i, w := range words {
		wg.Go(func() { lengths[i] = len(w) })
	}
	wg.Wait()
	fmt.Printf("lengths: %d %d %d\n", lengths[0], lengths[1], lengths[2])
}

func closeWhenDone() {
	results := make(chan int)
	var wg sync.WaitGroup
	for w := 1; w <= 4; w++ {
		wg.Go(func() { results <- w * 100 })
	}
	go func() {
		wg.Wait()
		close(results)
	}()
	sum, n := 0, 0
	for r := range results {
		sum += r
		n++
	}
	fmt.Printf("results: %d values, sum %d\n", n, sum)
}

// Go's WaitGroup has no timed wait; the usual workaround is a channel closed after Wait.
func timedWait() {
	var wg sync.WaitGroup
	wg.Add(1)
	waitFor := func(d time.Duration) string {
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }() // leaks until the count reaches zero
		select {
		case <-done:
			return "done"
		case <-time.After(d):
			return "timed out"
		}
	}
	fmt.Printf("wait_for(20ms) with one task running: %s\n", waitFor(20*time.Millisecond))
	wg.Done()
	fmt.Printf("  after done(): %s\n", waitFor(20*time.Millisecond))
}

func reuse() {
	var wg sync.WaitGroup
	for round := 1; round <= 2; round++ {
		var hits [3]int
		for i := range hits {
			wg.Go(func() { hits[i] = 1 })
		}
		wg.Wait()
		fmt.Printf("round %d: %d tasks done\n", round, hits[0]+hits[1]+hits[2])
	}
}

func misuse() {
	var wg sync.WaitGroup
	defer func() {
		fmt.Printf("misuse: %v\n", recover()) // Go panics: "sync: negative WaitGroup counter"
	}()
	wg.Done()
}

func main() {
	fanOut()
	withGo()
	closeWhenDone()
	timedWait()
	reuse()
	misuse()
}
