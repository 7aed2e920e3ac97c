// The Go originals of examples/timers.cpp, quoted beside them in docs/patterns/timers.md.
// Run: go run examples/go/timers/main.go (Go 1.23 or later: the timer channel rules changed).
package main

import (
	"fmt"
	"time"
)

func timeout() {
	results := make(chan string, 1)
	start := time.Now()
	select {
	case r := <-results:
		fmt.Println("result:", r)
	case <-time.After(50 * time.Millisecond):
		fmt.Println("timeout")
	}
	fmt.Printf("  waited at least 50ms: %s\n", yes(time.Since(start) >= 50*time.Millisecond))

	now := time.After(0)
	select {
	case <-now:
		fmt.Println("  after(0ms) ready at once: yes")
	default:
		fmt.Println("  after(0ms) ready at once: no")
	}
}

func stopTimer() {
	t := time.NewTimer(time.Hour)
	stopped := t.Stop()
	again := t.Stop()
	fmt.Printf("timer: stop() -> %t, again -> %t\n", stopped, again)
}

func resetTimer() {
	t := time.NewTimer(time.Millisecond)
	time.Sleep(20 * time.Millisecond) // it fires; nobody receives
	before := time.Now()
	pending := t.Reset(30 * time.Millisecond) // Go 1.23: true, the unreceived value is discarded
	stale := false
	select {
	case <-t.C:
		stale = true
	default:
	}
	fmt.Printf("timer: reset() -> %t, old value received: %s\n", pending, yes(stale))
	fresh := <-t.C
	fmt.Printf("  new value is due 30ms after the reset: %s\n", yes(!fresh.Before(before.Add(30*time.Millisecond))))
}

func ticking() {
	tk := time.NewTicker(10 * time.Millisecond)
	defer tk.Stop()
	first := <-tk.C
	for i := 1; i <= 3; i++ {
		tick := <-tk.C
		// Go delivers the time the tick was sent, which jitters; weft delivers the due time.
		fmt.Printf("tick %d: on the 10ms grid: %s\n", i, yes(tick.Sub(first).Round(10*time.Millisecond)%(10*time.Millisecond) == 0))
	}
}

func slowReceiver() {
	tk := time.NewTicker(time.Millisecond)
	time.Sleep(30 * time.Millisecond) // about 30 ticks were due
	// len(tk.C) is always 0 since Go 1.23; a non-blocking receive tells instead.
	fmt.Printf("slow receiver: %d tick waiting, the rest dropped\n", ready(tk.C))
	time.Sleep(5 * time.Millisecond) // let one wait again
	tk.Stop()                        // and no stale tick survives Stop (Go 1.23)
	fmt.Printf("  after stop: %d waiting\n", ready(tk.C))
}

// ready receives without blocking: 1 if a value was waiting, else 0.
func ready(c <-chan time.Time) int {
	select {
	case <-c:
		return 1
	default:
		return 0
	}
}

func idleTimeout() {
	messages := make(chan string, 3)
	for _, m := range []string{"a", "b", "c"} {
		messages <- m
	}
	idle := time.NewTimer(200 * time.Millisecond)
	for open := true; open; {
		select {
		case m := <-messages:
			fmt.Println("message", m)
			idle.Reset(200 * time.Millisecond)
		case <-idle.C:
			fmt.Println("idle for 200ms, stopping")
			open = false
		}
	}
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func main() {
	timeout()
	stopTimer()
	resetTimer()
	ticking()
	slowReceiver()
	idleTimeout()
}
