// The Go original of examples/patterns/market_feed.cpp: Go has no broadcast, so this is the hub
// Go programs hand-roll - a map of subscriber channels under a mutex, `select` with `default`
// to skip a full one. Both programs print the same lines.
package main

import (
	"fmt"
	"sync"
)

type tick struct {
	symbol string
	cents  int
}

type policy int

const (
	block policy = iota
	drop
	disconnect
)

type subscriber struct {
	ch           chan tick
	policy       policy
	dropped      int  // written under the hub's mutex; read after ch is closed
	disconnected bool // set before ch is closed
}

type hub struct {
	mu     sync.Mutex
	subs   map[*subscriber]bool
	closed bool
}

func newHub() *hub { return &hub{subs: map[*subscriber]bool{}} }

func (h *hub) subscribe(capacity int, p policy) *subscriber {
	s := &subscriber{ch: make(chan tick, capacity), policy: p}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs[s] = true
	return s
}

// The mutex is held throughout: a block subscriber that stops reading stalls every publish,
// subscribe and close, and one that unsubscribes instead of reading deadlocks.
func (h *hub) publish(t tick) (delivered, dropped, disconnected int, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return 0, 0, 0, false // a send on a closed channel would panic
	}
	for s := range h.subs {
		switch s.policy {
		case block:
			s.ch <- t
			delivered++
		case drop:
			select {
			case s.ch <- t:
				delivered++
			default:
				s.dropped++
				dropped++
			}
		case disconnect:
			select {
			case s.ch <- t:
				delivered++
			default:
				delete(h.subs, s)
				s.disconnected = true
				close(s.ch)
				disconnected++
			}
		}
	}
	return delivered, dropped, disconnected, true
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		close(s.ch)
	}
	h.subs = nil
}

func main() {
	feed := newHub()
	chart := feed.subscribe(1, block)
	alerts := feed.subscribe(2, drop)
	archive := feed.subscribe(3, disconnect)

	chartTicks, chartLast := 0, 0
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for t := range chart.ch {
			chartTicks++
			chartLast = t.cents
		}
	}()

	prices := []int{101, 103, 102, 105, 104, 107}
	for _, cents := range prices {
		delivered, dropped, disconnected, _ := feed.publish(tick{"ACME", cents})
		fmt.Printf("tick %d: delivered %d, dropped %d, disconnected %d\n", cents, delivered,
			dropped, disconnected)
	}
	feed.close()
	wg.Wait()

	fmt.Printf("chart: %d ticks, last %d\n", chartTicks, chartLast)
	fmt.Printf("alerts:")
	for t := range alerts.ch {
		fmt.Printf(" %d", t.cents)
	}
	fmt.Printf(" (missed %d)\n", alerts.dropped)
	fmt.Printf("archive:")
	for t := range archive.ch {
		fmt.Printf(" %d", t.cents)
	}
	if archive.disconnected {
		fmt.Printf(" (disconnected)\n")
	} else {
		fmt.Printf(" (closed)\n")
	}

	_, _, _, ok := feed.publish(tick{"ACME", 110})
	if ok {
		fmt.Println("publish after close: ok")
	} else {
		fmt.Println("publish after close: closed")
	}
}
