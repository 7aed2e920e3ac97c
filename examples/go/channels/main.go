// The Go originals of examples/channels.cpp, quoted beside them in docs/patterns/channels.md.
// Run: go run examples/go/channels/main.go
package main

import (
	"fmt"
	"sync"
	"time"
)

func buffered() {
	ch := make(chan int, 3)
	ch <- 1
	ch <- 2
	ch <- 3 // the buffer is full now
	fmt.Printf("buffered: %d of %d slots used\n", len(ch), cap(ch))
	for i := 0; i < 3; i++ {
		fmt.Printf("  received %d\n", <-ch)
	}
}

func rendezvous() {
	requests := make(chan string)
	replies := make(chan string)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for r := range requests {
			replies <- "echo " + r
		}
	}()
	for _, word := range []string{"ping", "pong"} {
		requests <- word
		fmt.Printf("rendezvous: %s\n", <-replies)
	}
	close(requests)
	wg.Wait()
}

func closeAndRange() {
	ch := make(chan int, 2)
	go func(out chan<- int) {
		for i := 1; i <= 5; i++ {
			out <- i * 10
		}
		close(out)
	}(ch)
	fmt.Print("close + range:")
	for v := range ch {
		fmt.Printf(" %d", v)
	}
	fmt.Println()
	_, ok := <-ch // closed and drained: the zero value and ok == false
	fmt.Printf("  receive after close: ok = %v\n", ok)
}

func trySend() {
	ch := make(chan string, 1)
	select {
	case ch <- "first":
		fmt.Println("try_send: ok")
	default:
	}
	select {
	case ch <- "second":
	default:
		fmt.Println("  full: \"second\" stays with the caller")
	}
	close(ch)
	// close(ch) again would panic: "close of closed channel"
	// ch <- "third" would panic: "send on closed channel"
	fmt.Printf("  still receivable after close: %q\n", <-ch)
}

func produce(out chan<- int, n int) {
	for i := 1; i <= n; i++ {
		out <- i
	}
	close(out)
}

func total(in <-chan int) int {
	sum := 0
	for v := range in {
		sum += v
	}
	return sum
}

func views() {
	ch := make(chan int, 4)
	produce(ch, 4)
	fmt.Printf("views: total %d\n", total(ch))
}

func nilAndDeadlines() {
	var nilch chan int
	select {
	case <-nilch:
	default:
		fmt.Println("nil channel: a receive would block forever")
	}
	select {
	case <-make(chan int, 1):
	case <-time.After(10 * time.Millisecond):
		fmt.Println("  empty channel: timeout")
	}
}

func main() {
	buffered()
	rendezvous()
	closeAndRange()
	trySend()
	views()
	nilAndDeadlines()
}
