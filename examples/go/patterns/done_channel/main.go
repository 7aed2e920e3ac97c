// The tutorial's done channel: workers select on their jobs and on a done channel, and closing
// done stops every one of them at once. The second part stops a pool that still has queued
// jobs: running jobs see done, and the queued ones are drained and reported instead of run -
// what weft::worker_pool::stop() does. weft's version is examples/patterns/done_channel.cpp;
// both print the same lines.
package main

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

func joinInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, " ")
}

func doneChannel() {
	jobs := make(chan int)
	results := make(chan int, 6)
	done := make(chan struct{})
	var returned int32
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case j := <-jobs:
					results <- j * j
				case <-done:
					atomic.AddInt32(&returned, 1)
					return
				}
			}
		}()
	}
	for i := 1; i <= 6; i++ {
		jobs <- i
	}
	var squares []int
	for i := 0; i < 6; i++ {
		squares = append(squares, <-results)
	}
	sort.Ints(squares)
	fmt.Printf("done channel: squares %s\n", joinInts(squares))
	close(done)
	wg.Wait()
	fmt.Printf("done channel: closed done, %d workers returned\n", atomic.LoadInt32(&returned))
}

type job struct {
	id  int
	run func()
}

func stopWithQueuedJobs() {
	jobs := make(chan job, 10)
	done := make(chan struct{})
	started := make(chan int)
	var sawDone int32
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				// done first: once it is closed no queued job starts (a select between two
				// ready cases picks at random).
				select {
				case <-done:
					return
				default:
				}
				select {
				case j := <-jobs:
					j.run()
				case <-done:
					return
				}
			}
		}()
	}
	for id := 1; id <= 2; id++ {
		id := id
		jobs <- job{id, func() {
			started <- id
			<-done // a long job that watches done
			atomic.AddInt32(&sawDone, 1)
		}}
	}
	<-started
	<-started
	for id := 3; id <= 7; id++ {
		jobs <- job{id, func() { fmt.Println("never printed") }}
	}
	close(done)
	wg.Wait()
	close(jobs)
	var canceled []int
	for j := range jobs {
		canceled = append(canceled, j.id)
	}
	fmt.Printf("stop: %d running jobs saw the done signal\n", atomic.LoadInt32(&sawDone))
	fmt.Printf("stop: %d queued jobs canceled: %s\n", len(canceled), joinInts(canceled))
}

func main() {
	doneChannel()
	stopWithQueuedJobs()
}
