// Go's context package, the original of examples/context.cpp (Go 1.21 or later, for
// WithTimeoutCause, AfterFunc and WithoutCancel). The stop_token bridge has no Go counterpart.
package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

func state(ctx context.Context) string {
	if ctx.Err() != nil {
		return "done"
	}
	return "active"
}

func tree() {
	parent, cancelParent := context.WithCancel(context.Background())
	child, cancelChild := context.WithCancel(parent)
	grandchild, cancelGrandchild := context.WithCancel(child)

	cancelGrandchild()
	fmt.Printf("grandchild canceled: parent=%s child=%s grandchild=%v\n",
		state(parent), state(child), grandchild.Err())
	cancelParent()
	fmt.Printf("parent canceled: child=%v\n", child.Err())
	cancelChild()
	fmt.Printf("  still: %v\n", child.Err())
}

func workerStops() {
	ctx, cancel := context.WithCancel(context.Background())
	jobs := make(chan int)
	report := make(chan string, 1)
	go func() {
		handled := 0
		for running := true; running; {
			select {
			case <-jobs:
				handled++
			case <-ctx.Done():
				running = false
			}
		}
		report <- fmt.Sprintf("worker handled %d jobs, then: %v", handled, ctx.Err())
	}()
	for i := 0; i < 3; i++ {
		jobs <- i
	}
	cancel()
	fmt.Println(<-report)
}

func timeout() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	never := make(chan int)
	status := "ok"
	select {
	case <-never:
	case <-ctx.Done():
		status = "canceled"
	}
	yes := map[bool]string{true: "yes", false: "no"}
	fmt.Printf("receive: %s, err: %v, timed out: %s, canceled: %s\n", status, ctx.Err(),
		yes[errors.Is(ctx.Err(), context.DeadlineExceeded)], yes[errors.Is(ctx.Err(), context.Canceled)])
	cancel()
	fmt.Printf("  after cancel(): %v\n", ctx.Err())
}

func causes() {
	ctx, cancel := context.WithCancelCause(context.Background())
	child, cancelChild := context.WithCancel(ctx)
	defer cancelChild()
	cancel(errors.New("payment provider unreachable"))
	cancel(errors.New("ignored: too late"))
	fmt.Printf("err: %v; cause: %v\n", child.Err(), context.Cause(child))

	slow, stopSlow := context.WithTimeoutCause(context.Background(), 10*time.Millisecond,
		errors.New("quote too slow"))
	defer stopSlow()
	<-slow.Done()
	fmt.Printf("err: %v; cause: %v\n", slow.Err(), context.Cause(slow))
	plain, cancelPlain := context.WithCancel(context.Background())
	cancelPlain()
	fmt.Printf("no cause given: %v\n", context.Cause(plain))
}

type key string

const (
	requestID key = "request_id"
	userID    key = "user_id"
)

func values() {
	ctx := context.WithValue(context.Background(), requestID, "req-42")
	ctx = context.WithValue(ctx, userID, 7)
	child, cancel := context.WithCancel(ctx)
	defer cancel()
	fmt.Printf("request %s, user %d\n", child.Value(requestID), child.Value(userID))
	retry := context.WithValue(child, requestID, "req-42-retry")
	fmt.Printf("retry sees %s; the parent still sees %s\n", retry.Value(requestID), child.Value(requestID))
	if child.Value(key("other")) == nil {
		fmt.Println("missing key: nullptr")
	}
}

func detachedWork() {
	request, cancel := context.WithCancel(context.WithValue(context.Background(), requestID, "req-7"))
	audit := context.WithoutCancel(request)
	cancel()
	fmt.Printf("request: %v; audit log for %s: %s\n", request.Err(), audit.Value(requestID),
		map[bool]string{true: "stopped", false: "still running"}[audit.Err() != nil])
}

func cleanupOnCancel() {
	ctx, cancel := context.WithCancel(context.Background())
	log := make(chan string, 2)
	closeConn := context.AfterFunc(ctx, func() { log <- "connection closed" })
	never := context.AfterFunc(ctx, func() { log <- "not printed" })
	fmt.Printf("stop() before cancel prevented it: %s\n", map[bool]string{true: "yes", false: "no"}[never()])
	cancel()
	fmt.Println(<-log)
	fmt.Printf("stop() after it ran: %s\n", map[bool]string{true: "prevented", false: "too late"}[closeConn()])
}

func cancellableOperations() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	full := make(chan *int, 1)
	one, two := 1, 2
	full <- &one
	select {
	case full <- &two:
	case <-ctx.Done():
		fmt.Printf("send: canceled, value handed back: %d\n", two)
	}

	var wg sync.WaitGroup
	wg.Add(1)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		fmt.Printf("wait_group::wait(ctx): %v\n", ctx.Err())
	}
	wg.Done()
	select {
	case <-time.After(time.Hour):
	case <-ctx.Done():
		fmt.Printf("sleep(ctx, 1h) returns at once: %v\n", ctx.Err())
	}
}

func main() {
	tree()
	workerStops()
	timeout()
	causes()
	values()
	detachedWork()
	cleanupOnCancel()
	cancellableOperations()
}
