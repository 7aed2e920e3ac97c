// The tutorial's WaitGroup batch: send a batch of (simulated) emails concurrently, wait for all
// of them, report how many were sent and which failed. A buffered channel of tokens keeps at
// most 4 sends in flight. weft's version is examples/patterns/batch_emails.cpp; both print the
// same lines.
package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The simulated SMTP call: takes a little time, and fails for some addresses.
func sendEmail(to string, n int) error {
	time.Sleep(time.Duration(5+3*(n%4)) * time.Millisecond)
	if !strings.Contains(to, "@") {
		return errors.New("invalid address")
	}
	if strings.HasSuffix(to, "@bounce.example") {
		return errors.New("mailbox full")
	}
	return nil
}

func main() {
	batch := []string{
		"ana@shop.example", "ben@shop.example", "carla@bounce.example",
		"dev@shop.example", "eve.shop.example", "farid@shop.example",
		"gus@shop.example", "hana@bounce.example", "ivo@shop.example",
		"jon@shop.example", "kim@shop.example", "lea@shop.example",
	}
	const maxInFlight = 4

	var sent, inFlight, peak int32
	var failuresMu sync.Mutex
	var failures []string                     // guarded by failuresMu
	slots := make(chan struct{}, maxInFlight) // a token per send in flight
	var wg sync.WaitGroup
	for i, to := range batch {
		slots <- struct{}{} // waits while 4 sends are in flight
		wg.Add(1)           // before `go`: Wait must not miss this send
		go func(i int, to string) {
			defer wg.Done()
			now := atomic.AddInt32(&inFlight, 1)
			for p := atomic.LoadInt32(&peak); now > p && !atomic.CompareAndSwapInt32(&peak, p, now); p = atomic.LoadInt32(&peak) {
			}
			if err := sendEmail(to, i); err != nil {
				failuresMu.Lock()
				failures = append(failures, to+": "+err.Error())
				failuresMu.Unlock()
			} else {
				atomic.AddInt32(&sent, 1)
			}
			atomic.AddInt32(&inFlight, -1)
			<-slots // give the token back
		}(i, to)
	}
	wg.Wait() // every send has finished: sent and failures are complete

	sort.Strings(failures)
	fmt.Printf("batch of %d emails, at most %d in flight\n", len(batch), maxInFlight)
	fmt.Printf("sent: %d, failed: %d\n", atomic.LoadInt32(&sent), len(failures))
	for _, f := range failures {
		fmt.Printf("  failed %s\n", f)
	}
	yes := "no"
	if atomic.LoadInt32(&peak) <= maxInFlight {
		yes = "yes"
	}
	fmt.Printf("in flight never above %d: %s\n", maxInFlight, yes)
}
