// The Go original of examples/patterns/crawler_coro.cpp, quoted beside it in
// docs/patterns/coroutines.md. Needs golang.org/x/sync (Debian: golang-golang-x-sync-dev). Run
// without a module, e.g.
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run examples/go/patterns/crawler_coro/main.go
//
// It prints what the C++ program prints (expected, beside it) but for the OS threads: Go
// does not show which threads ran its goroutines.
package main

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

const pages = 5000
const limit = 8

// linksOf returns the links on page p: 1 to 5 of them, a fixed function of p.
func linksOf(p int) []int {
	u := uint64(p)
	var out []int
	for k := uint64(0); k < 1+u*7%5; k++ {
		out = append(out, int((u*2654435761+k*40503+17)%pages))
	}
	return out
}

type stats struct {
	active, peak atomic.Int64
}

// fetch fetches a page: a network round trip is a few trips through the scheduler; the broken
// page fails.
func fetch(p, broken int, st *stats) ([]int, error) {
	a := st.active.Add(1)
	for old := st.peak.Load(); a > old && !st.peak.CompareAndSwap(old, a); old = st.peak.Load() {
	}
	for i := 0; i < 20; i++ {
		runtime.Gosched()
	}
	st.active.Add(-1)
	if p == broken {
		return nil, fmt.Errorf("page %d: 503 unavailable", p)
	}
	return linksOf(p), nil
}

func crawl(broken int, st *stats) {
	seen := map[int]bool{0: true}
	frontier := []int{0}
	for depth := 0; len(frontier) > 0; depth++ {
		g, ctx := errgroup.WithContext(context.Background())
		g.SetLimit(limit)
		var mu sync.Mutex // goroutines run in parallel: the set needs a lock
		var next []int
		for _, p := range frontier {
			p := p
			g.Go(func() error { // waits for a slot
				if err := ctx.Err(); err != nil {
					return err // another page failed: give up
				}
				links, err := fetch(p, broken, st)
				if err != nil {
					return err
				}
				mu.Lock()
				defer mu.Unlock()
				for _, l := range links {
					if !seen[l] {
						seen[l] = true
						next = append(next, l)
					}
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			fmt.Printf("crawl failed at depth %d: %v\n", depth, err)
			return
		}
		fmt.Printf("depth %2d, pages %d\n", depth, len(frontier))
		frontier = next
	}
	fmt.Printf("crawled %d pages\n", len(seen))
}

func main() {
	for _, broken := range []int{-1, 1234} {
		if broken != -1 {
			fmt.Println()
		}
		var st stats
		crawl(broken, &st)
		if peak := st.peak.Load(); peak <= limit {
			fmt.Printf("at most %d at once\n", limit)
		} else {
			fmt.Printf("%d at once: over the limit\n", peak)
		}
	}
}
