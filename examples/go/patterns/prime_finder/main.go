// The tutorial's fan-out/fan-in: find the primes in a range with several workers. A generator
// cuts the range into chunks, workers take them from one channel (fan-out), and merge brings
// their results back into one channel (fan-in). weft's version is
// examples/patterns/prime_finder.cpp; both print the same lines.
package main

import (
	"fmt"
	"sort"
	"sync"
)

type chunk struct{ from, to int } // [from, to)

func isPrime(n int) bool {
	if n < 2 {
		return false
	}
	for d := 2; d*d <= n; d++ {
		if n%d == 0 {
			return false
		}
	}
	return true
}

func primesIn(c chunk) []int {
	var found []int
	for n := c.from; n < c.to; n++ {
		if isPrime(n) {
			found = append(found, n)
		}
	}
	return found
}

func chunks(from, to, size int) <-chan chunk {
	out := make(chan chunk)
	go func() {
		for f := from; f < to; f += size {
			end := f + size
			if end > to {
				end = to
			}
			out <- chunk{f, end}
		}
		close(out)
	}()
	return out
}

// fanOut starts n workers; each sends the primes of the chunks it takes on a channel of its own.
func fanOut(in <-chan chunk, n int) []<-chan []int {
	outs := make([]<-chan []int, n)
	for i := range outs {
		out := make(chan []int)
		outs[i] = out
		go func() {
			for c := range in {
				out <- primesIn(c)
			}
			close(out)
		}()
	}
	return outs
}

// merge is the tutorial's fan-in: a goroutine per input, and one more to close the output.
func merge(cs ...<-chan []int) <-chan []int {
	var wg sync.WaitGroup
	out := make(chan []int)
	wg.Add(len(cs))
	for _, c := range cs {
		go func(c <-chan []int) {
			for part := range c {
				out <- part
			}
			wg.Done()
		}(c)
	}
	go func() {
		wg.Wait()
		close(out)
	}()
	return out
}

func main() {
	const limit, size, workers = 200000, 5000, 4

	found := fanOut(chunks(2, limit, size), workers)
	var primes []int
	for part := range merge(found...) {
		primes = append(primes, part...)
	}
	sort.Ints(primes)

	fmt.Printf("primes below %d: %d (%d workers, chunks of %d)\n", limit, len(primes), workers, size)
	fmt.Printf("first ten:")
	for _, p := range primes[:10] {
		fmt.Printf(" %d", p)
	}
	fmt.Printf("\nlast five:")
	for _, p := range primes[len(primes)-5:] {
		fmt.Printf(" %d", p)
	}
	widest := 1
	for i := 2; i < len(primes); i++ {
		if primes[i]-primes[i-1] > primes[widest]-primes[widest-1] {
			widest = i
		}
	}
	fmt.Printf("\nwidest gap: %d, from %d to %d\n", primes[widest]-primes[widest-1], primes[widest-1], primes[widest])
}
