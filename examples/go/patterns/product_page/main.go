// A product page assembled from four services at once (as Etsy does it): the calls are fanned
// out to workers, their answers fanned back in, and the page is assembled in a fixed order
// within a 300 ms budget; the optional recommendations are left out when they are late. weft's
// version is examples/patterns/product_page.cpp; both print the same lines.
package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

type call struct {
	service string
	latency time.Duration // simulated
	answer  string
}

type part struct {
	service string
	body    string
}

type product struct {
	id    int
	title string
	calls []call
}

func fetch(ctx context.Context, c call) (part, bool) {
	select {
	case <-time.After(c.latency):
		return part{c.service, c.answer}, true
	case <-ctx.Done():
		return part{}, false
	}
}

// fanOut starts n workers; each sends the parts of the calls it takes on a channel of its own.
func fanOut(ctx context.Context, calls <-chan call, n int) []<-chan part {
	outs := make([]<-chan part, n)
	for i := range outs {
		out := make(chan part)
		outs[i] = out
		go func() {
			defer close(out)
			for c := range calls {
				p, ok := fetch(ctx, c)
				if !ok {
					return
				}
				select {
				case out <- p:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	return outs
}

// merge is the fan-in: a goroutine per input; the output closes when all of them are done,
// which the deadline also forces.
func merge(ctx context.Context, cs ...<-chan part) <-chan part {
	var wg sync.WaitGroup
	out := make(chan part)
	wg.Add(len(cs))
	for _, c := range cs {
		go func(c <-chan part) {
			defer wg.Done()
			for {
				select {
				case p, ok := <-c:
					if !ok {
						return
					}
					select {
					case out <- p:
					case <-ctx.Done():
						return
					}
				case <-ctx.Done():
					return
				}
			}
		}(c)
	}
	go func() {
		wg.Wait()
		close(out)
	}()
	return out
}

func gather(parent context.Context, p product) map[string]string {
	ctx, cancel := context.WithTimeout(parent, 300*time.Millisecond)
	defer cancel()
	calls := make(chan call, len(p.calls))
	for _, c := range p.calls {
		calls <- c
	}
	close(calls)

	got := map[string]string{}
	for x := range merge(ctx, fanOut(ctx, calls, len(p.calls))...) {
		got[x.service] = x.body
	}
	return got
}

func render(p product, got map[string]string) {
	fmt.Printf("product %d: %s\n", p.id, p.title)
	for _, service := range []string{"listing", "reviews", "shipping", "recommendations"} {
		if body, ok := got[service]; ok {
			fmt.Printf("  %-16s %s\n", service, body)
		} else if service == "recommendations" {
			fmt.Printf("  %-16s left out: not ready within 300 ms\n", service)
		} else {
			fmt.Printf("  %-16s unavailable: page not served\n", service)
		}
	}
}

func main() {
	ms := time.Millisecond
	products := []product{
		{1001, "Handmade oak cutting board", []call{
			{"listing", 30 * ms, "$45.00, 3 in stock"},
			{"reviews", 60 * ms, "4.8 stars from 212 reviews"},
			{"shipping", 20 * ms, "from Portland, OR in 1-2 days"},
			{"recommendations", 120 * ms, "walnut coasters, olive wood spoon"}}},
		{1002, "Hand-thrown ceramic mug", []call{
			{"listing", 25 * ms, "$28.00, 12 in stock"},
			{"reviews", 50 * ms, "4.9 stars from 1,034 reviews"},
			{"shipping", 40 * ms, "from Asheville, NC in 2-4 days"},
			{"recommendations", 900 * ms, "matching saucer, tea towel"}}},
	}
	start := time.Now()
	for _, p := range products {
		render(p, gather(context.Background(), p))
	}
	yes := "no"
	if time.Since(start) < 1500*time.Millisecond {
		yes = "yes"
	}
	fmt.Printf("both pages served within their budgets: %s\n", yes)
}
