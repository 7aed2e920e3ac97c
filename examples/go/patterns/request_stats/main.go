// The tutorial's mutex-protected request stats: handlers record every request, dashboards read
// the stats all the time. A sync.RWMutex lets the many readers in together and the writers one
// at a time. weft's version is examples/patterns/request_stats.cpp; both print the same lines.
package main

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

type routeStats struct {
	requests, errors int
	latencyUs        int64
}

type requestStats struct {
	mu     sync.RWMutex
	routes map[string]routeStats // guarded by mu
	total  int                   // guarded by mu; sum of the requests
}

// A writer: exclusive, for as short as the update.
func (s *requestStats) record(route string, status int, latencyUs int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.routes[route]
	r.requests++
	if status >= 500 {
		r.errors++
	}
	r.latencyUs += latencyUs
	s.routes[route] = r
	s.total++
}

// A reader: shared with other readers. It copies under the lock and formats outside it.
func (s *requestStats) snapshot() (map[string]routeStats, int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	snap := make(map[string]routeStats, len(s.routes))
	for k, v := range s.routes {
		snap[k] = v
	}
	return snap, s.total
}

func (s *requestStats) requests(route string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.routes[route].requests
}

func main() {
	routes := []string{"/cart", "/checkout", "/search", "/product"}
	stats := &requestStats{routes: map[string]routeStats{}}
	var serving atomic.Bool
	serving.Store(true)
	var inconsistent, snapshots atomic.Int32

	var dashboards sync.WaitGroup // readers, polling until the handlers are done
	for d := 0; d < 3; d++ {
		dashboards.Add(1)
		go func() {
			defer dashboards.Done()
			for {
				snap, total := stats.snapshot()
				sum := 0
				for _, r := range snap {
					sum += r.requests
				}
				if sum != total {
					inconsistent.Add(1) // never: one lock guards both
				}
				snapshots.Add(1)
				time.Sleep(time.Millisecond) // a dashboard polls; it does not spin
				if !serving.Load() {
					return
				}
			}
		}()
	}

	var handlers sync.WaitGroup // writers
	for h := 0; h < 4; h++ {
		handlers.Add(1)
		go func(h int) {
			defer handlers.Done()
			for i := 0; i < 500; i++ {
				k := (i*7 + h) % len(routes)
				status := 200
				if (i+h)%50 == 0 {
					status = 503
				}
				stats.record(routes[k], status, int64(100+10*k+i%10))
			}
		}(h)
	}
	handlers.Wait()
	serving.Store(false)
	dashboards.Wait()

	snap, total := stats.snapshot()
	var names []string
	for name := range snap {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		r := snap[name]
		fmt.Printf("%-10s requests %4d  errors %2d  avg %d us\n", name, r.requests, r.errors,
			r.latencyUs/int64(r.requests))
	}
	fmt.Printf("total %d, /search alone %d\n", total, stats.requests("/search"))
	yes := map[bool]string{true: "yes", false: "no"}
	fmt.Printf("dashboards took snapshots: %s, every one consistent: %s\n",
		yes[snapshots.Load() >= 3], yes[inconsistent.Load() == 0])
}
