// The tutorial's first pipeline: generate numbers, square them, keep the even squares. Each
// stage is a function that starts a goroutine and returns the channel it writes. weft's
// version is examples/patterns/pipeline_squares.cpp; both print the same lines.
package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
)

func generate(nums ...int) <-chan int {
	out := make(chan int)
	go func() {
		for _, n := range nums {
			out <- n
		}
		close(out)
	}()
	return out
}

func square(in <-chan int) <-chan int {
	out := make(chan int)
	go func() {
		for n := range in {
			out <- n * n
		}
		close(out)
	}()
	return out
}

func filterEven(in <-chan int) <-chan int {
	out := make(chan int)
	go func() {
		for n := range in {
			if n%2 == 0 {
				out <- n
			}
		}
		close(out)
	}()
	return out
}

func handMade() {
	line := ""
	for n := range filterEven(square(generate(1, 2, 3, 4, 5, 6, 7, 8, 9, 10))) {
		line += " " + strconv.Itoa(n)
	}
	fmt.Printf("hand-made stages:%s\n", line)
}

// Go has no pipeline type: composing the stage functions is the pipeline. Ranging over the
// last channel until it is closed waits for every stage to have finished its work.
func onePipeline() {
	line := ""
	for n := range filterEven(square(generate(1, 2, 3, 4, 5, 6, 7, 8, 9, 10))) {
		line += " " + strconv.Itoa(n)
	}
	fmt.Printf("one pipeline:%s (ok)\n", line)
}

// With cancellation, every send and receive becomes a select on ctx.Done(), and a WaitGroup
// waits for the goroutines to return.
func stoppedAfterThree() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	stage := func(in <-chan int, f func(int, chan<- int) bool) <-chan int {
		out := make(chan int)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(out)
			for {
				select {
				case n, ok := <-in:
					if !ok || !f(n, out) {
						return
					}
				case <-ctx.Done():
					return
				}
			}
		}()
		return out
	}
	send := func(n int, out chan<- int) bool {
		select {
		case out <- n:
			return true
		case <-ctx.Done():
			return false
		}
	}
	numbers := make(chan int)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(numbers)
		for n := 1; send(n, numbers); n++ {
		}
	}()
	squares := stage(numbers, func(n int, out chan<- int) bool { return send(n*n, out) })
	results := stage(squares, func(n int, out chan<- int) bool { return n%2 != 0 || send(n, out) })

	line := ""
	for i := 0; i < 3; i++ {
		line += " " + strconv.Itoa(<-results)
	}
	cancel()
	wg.Wait()
	fmt.Printf("endless, stopped after three:%s (%v)\n", line, ctx.Err())
}

func main() {
	handMade()
	onePipeline()
	stoppedAfterThree()
}
