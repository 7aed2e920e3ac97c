// The tutorial's context timeout around a slow call: give the call a context with a deadline;
// the call watches the context, so when the deadline passes it stops and returns "deadline
// exceeded" instead of running on. Then the same call run in its own goroutine with a select on
// its result and ctx.Done(), and what goes wrong when the slow call does not take a context.
// weft's version is examples/patterns/slow_call_timeout.cpp; both print the same lines.
package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

var callsRunning atomic.Int32 // how many slow calls are running right now

type quote struct {
	text string
	err  error // nil: text is the answer
}

// The slow call (a remote service, simulated): takes work, unless ctx ends first.
func fetchQuote(ctx context.Context, work time.Duration) quote {
	callsRunning.Add(1)
	defer callsRunning.Add(-1)
	t := time.NewTimer(work)
	defer t.Stop()
	select {
	case <-t.C:
		return quote{"EUR/USD 1.0842", nil}
	case <-ctx.Done():
		return quote{"", ctx.Err()}
	}
}

func report(what string, q quote) {
	if q.err != nil {
		fmt.Printf("%s: error: %v\n", what, q.err)
	} else {
		fmt.Printf("%s: %s\n", what, q.text)
	}
}

// The call takes the context: a deadline around it is all it needs.
func direct() {
	{
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		report("fast call, 1 s budget", fetchQuote(ctx, 10*time.Millisecond))
		cancel()
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	q := fetchQuote(ctx, 5000*time.Millisecond)
	early := time.Since(start) < 2*time.Second
	report("slow call, 200 ms budget", q)
	yes := map[bool]string{true: "yes", false: "no"}
	fmt.Printf("  returned at the deadline, not after 5 s: %s; still running: %d\n",
		yes[early], callsRunning.Load())
	fmt.Printf("  deadline exceeded: %s\n", yes[errors.Is(q.err, context.DeadlineExceeded)])
	parent, cancelParent := context.WithCancel(context.Background())
	child, cancelChild := context.WithTimeout(parent, 200*time.Millisecond)
	defer cancelChild()
	cancelParent() // the caller gave up: the call's context is canceled too
	report("caller canceled first", fetchQuote(child, 5000*time.Millisecond))
}

// The Go idiom: run the call in its own goroutine and select on its result or the deadline.
// The result channel has room for one value, so a late result never blocks its sender, and
// the call gets ctx, so it stops too: Wait then returns at once and nothing is left running.
func withSelect(parent context.Context, budget, work time.Duration) quote {
	ctx, cancel := context.WithTimeout(parent, budget)
	defer cancel()
	result := make(chan quote, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		result <- fetchQuote(ctx, work)
	}()
	var q quote
	select {
	case q = <-result:
	case <-ctx.Done():
		q.err = ctx.Err()
	}
	cancel()
	wg.Wait()
	return q
}

// A call that ignores the context: the select still returns at the deadline, but the call
// runs on to the end. The goroutine leaks until it finishes.
func ignoresContext() {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	result := make(chan quote, 1)
	var wg sync.WaitGroup
	callsRunning.Add(1) // counted from its start, before its goroutine runs
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(time.Second) // cannot be interrupted
		callsRunning.Add(-1)
		result <- quote{"EUR/USD 1.0842", nil}
	}()
	select {
	case <-result:
	case <-ctx.Done():
		fmt.Printf("no context: gave up with %v; still running: %d\n", ctx.Err(),
			callsRunning.Load())
	}
	wg.Wait()
	fmt.Printf("  it ran to the end anyway; its late result went unused: %s\n", (<-result).text)
}

func main() {
	direct()
	report("select, fast call, 1 s budget",
		withSelect(context.Background(), time.Second, 10*time.Millisecond))
	report("select, slow call, 200 ms budget",
		withSelect(context.Background(), 200*time.Millisecond, 5000*time.Millisecond))
	fmt.Printf("  still running: %d\n", callsRunning.Load())
	ignoresContext()
}
