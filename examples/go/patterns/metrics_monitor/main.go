// The tutorial's for-select monitor: one goroutine owns the metrics, and loops on a select over
// a ticker (flush a snapshot every period), the metrics channel (aggregate a sample) and the
// context (shut down). weft's version is examples/patterns/metrics_monitor.cpp; both print the
// same lines.
package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

type sample struct {
	service   string
	latencyMs int
	ok        bool
}

type totals struct {
	requests, errors, latencySum, latencyMax int
}

type summary struct {
	byService map[string]*totals
	flushes   int    // snapshots taken on a tick
	reason    string // why the loop ended
}

// The for-select loop. It ends when the metrics channel is closed and drained (every service
// has finished) or when ctx is canceled (shutdown), whichever comes first.
func monitor(ctx context.Context, metrics <-chan sample, period time.Duration) summary {
	s := summary{byService: map[string]*totals{}}
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			s.flushes++ // a real monitor would export s.byService here
		case m, ok := <-metrics:
			if !ok {
				s.reason = "metrics channel closed"
				return s
			}
			t := s.byService[m.service]
			if t == nil {
				t = &totals{}
				s.byService[m.service] = t
			}
			t.requests++
			if !m.ok {
				t.errors++
			}
			t.latencySum += m.latencyMs
			if m.latencyMs > t.latencyMax {
				t.latencyMax = m.latencyMs
			}
		case <-ctx.Done():
			s.reason = ctx.Err().Error()
			return s
		}
	}
}

// A service that handles n requests, one every 5 ms, and reports a sample for each.
func service(name string, n, baseMs int, metrics chan<- sample) {
	for i := 0; i < n; i++ {
		time.Sleep(5 * time.Millisecond)
		metrics <- sample{name, baseMs + (i*7)%20, i%9 != 8}
	}
}

func print(title string, s summary) {
	fmt.Printf("%s: stopped by %s\n", title, s.reason)
	var names []string
	for name := range s.byService {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t := s.byService[name]
		fmt.Printf("  %-6s requests %2d  errors %d  avg %2d ms  max %2d ms\n", name,
			t.requests, t.errors, t.latencySum/t.requests, t.latencyMax)
	}
}

// Services report until they are done, then close the channel: the monitor drains it and ends.
func untilClosed() {
	metrics := make(chan sample, 16)
	var services sync.WaitGroup
	for _, sv := range []struct {
		name      string
		n, baseMs int
	}{{"api", 30, 20}, {"db", 24, 5}, {"cache", 36, 1}} {
		services.Add(1)
		go func(name string, n, baseMs int) {
			defer services.Done()
			service(name, n, baseMs, metrics)
		}(sv.name, sv.n, sv.baseMs)
	}
	closed := make(chan struct{})
	go func() { // closes once every service is done
		services.Wait()
		close(metrics)
		close(closed)
	}()
	s := monitor(context.Background(), metrics, 10*time.Millisecond)
	<-closed
	print("run", s)
	// The services ran for at least 36 x 5 ms = 180 ms: at least a few 10 ms ticks came in.
	flushes := "none"
	if s.flushes >= 1 {
		flushes = "at least 1"
	}
	fmt.Printf("  periodic flushes: %s\n", flushes)
}

// Shutdown: the monitor stops when its context is canceled. The metrics channel is
// unbuffered: every send that returned was received, and is aggregated before the monitor's
// next select, which then finds only ctx.Done() ready.
func untilCanceled() {
	ctx, cancel := context.WithCancel(context.Background())
	metrics := make(chan sample)
	result := make(chan summary, 1)
	go func() { result <- monitor(ctx, metrics, time.Second) }()
	for i := 0; i < 10; i++ {
		metrics <- sample{"api", 10 + i, i != 3}
	}
	cancel()
	print("shutdown", <-result)
}

func main() {
	untilClosed()
	untilCanceled()
}
