// The tutorial's feed generation: ask every source for items at once, and after 500 ms serve
// what has arrived. weft's version is examples/patterns/feed_deadline.cpp; both print the same
// lines.
package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
)

type source struct {
	name    string
	latency time.Duration
	items   int
}

type batch struct {
	source string
	items  []string
}

func fetch(ctx context.Context, s source, out chan<- batch) {
	select {
	case <-time.After(s.latency):
	case <-ctx.Done():
		return
	}
	b := batch{s.name, nil}
	for i := 1; i <= s.items; i++ {
		b.items = append(b.items, s.name+"#"+strconv.Itoa(i))
	}
	select {
	case out <- b:
	case <-ctx.Done():
	}
}

func generateFeed(parent context.Context, sources []source) map[string]batch {
	ctx, cancel := context.WithTimeout(parent, 500*time.Millisecond)
	defer cancel()
	arrivals := make(chan batch)
	var wg sync.WaitGroup
	for _, s := range sources {
		wg.Add(1)
		go func(s source) {
			defer wg.Done()
			fetch(ctx, s, arrivals)
		}(s)
	}

	feed := map[string]batch{}
	for open := true; open && len(feed) < len(sources); {
		select {
		case b := <-arrivals:
			feed[b.source] = b
		case <-ctx.Done():
			open = false
		}
	}
	cancel()
	wg.Wait()
	return feed
}

func main() {
	sources := []source{
		{"following", 40 * time.Millisecond, 3}, {"trending", 80 * time.Millisecond, 2},
		{"recommended", 120 * time.Millisecond, 4}, {"ads", 900 * time.Millisecond, 1},
		{"live", 2 * time.Second, 2},
	}
	start := time.Now()
	feed := generateFeed(context.Background(), sources)
	took := time.Since(start)

	fmt.Printf("feed (500 ms budget):\n")
	for _, s := range sources {
		b, ok := feed[s.name]
		if !ok {
			fmt.Printf("  %-12s missed the deadline\n", s.name)
			continue
		}
		fmt.Printf("  %-12s", s.name)
		for _, item := range b.items {
			fmt.Printf(" %s", item)
		}
		fmt.Printf("\n")
	}
	yes := "no"
	if took < 1500*time.Millisecond {
		yes = "yes"
	}
	fmt.Printf("served without waiting for the slow sources: %s\n", yes)
}
