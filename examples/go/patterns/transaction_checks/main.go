// The tutorial's fintech transaction validation: four independent checks run concurrently under
// one 3-second deadline; the first failing check declines the transaction and cancels the
// others. weft's version is examples/patterns/transaction_checks.cpp; both print the same lines.
package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"
)

type transaction struct {
	id            string
	amountPence   int
	fraudScore    int
	sanctionsHang bool
}

type verdict struct {
	check  string
	ok     bool
	reason string
}

type check struct {
	name    string
	latency time.Duration
	decide  func(transaction) verdict
}

var checks = []check{
	{"balance", 20 * time.Millisecond, func(t transaction) verdict {
		return verdict{"balance", t.amountPence <= 50000, "insufficient funds"}
	}},
	{"fraud", 30 * time.Millisecond, func(t transaction) verdict {
		return verdict{"fraud", t.fraudScore <= 80, "fraud score " + strconv.Itoa(t.fraudScore) + " > 80"}
	}},
	{"limits", 10 * time.Millisecond, func(t transaction) verdict {
		return verdict{"limits", t.amountPence <= 100000, "daily limit"}
	}},
	{"sanctions", 40 * time.Millisecond, func(transaction) verdict {
		return verdict{"sanctions", true, ""}
	}},
}

func runCheck(ctx context.Context, c check, t transaction, out chan<- verdict) {
	latency := c.latency
	if c.name == "sanctions" && t.sanctionsHang {
		latency = time.Hour
	}
	select {
	case <-time.After(latency):
		out <- c.decide(t) // buffered for every check: never blocks
	case <-ctx.Done():
	}
}

func remove(names []string, name string) []string {
	kept := names[:0]
	for _, n := range names {
		if n != name {
			kept = append(kept, n)
		}
	}
	return kept
}

func validate(parent context.Context, t transaction) {
	ctx, cancel := context.WithTimeout(parent, 3*time.Second)
	defer cancel()
	results := make(chan verdict, len(checks))
	var wg sync.WaitGroup
	for _, c := range checks {
		wg.Add(1)
		go func(c check) {
			defer wg.Done()
			runCheck(ctx, c, t, results)
		}(c)
	}

	var pending []string
	for _, c := range checks {
		pending = append(pending, c.name)
	}
	outcome := "approved"
	for len(pending) > 0 && outcome == "approved" {
		select {
		case v := <-results:
			pending = remove(pending, v.check)
			if !v.ok {
				outcome = "declined: " + v.check + ": " + v.reason
			}
		case <-ctx.Done():
			outcome = "declined: " + ctx.Err().Error()
			sort.Strings(pending)
			for _, p := range pending {
				outcome += ", no answer from " + p
			}
		}
	}
	cancel()
	wg.Wait()
	fmt.Printf("%s: %s\n", t.id, outcome)
}

func main() {
	start := time.Now()
	validate(context.Background(), transaction{"tx-1001", 12000, 12, false})
	validate(context.Background(), transaction{"tx-1002", 9900, 93, false})
	validate(context.Background(), transaction{"tx-1003", 75000, 5, false})
	validate(context.Background(), transaction{"tx-1004", 2500, 20, true})
	yes := "no"
	if time.Since(start) < 10*time.Second {
		yes = "yes"
	}
	fmt.Printf("all four decided within the budget: %s\n", yes)
}
