// Ride matching (as Uber does it): a ride request goes to every nearby driver at once, their
// offers are fanned in, and the first acceptable offer wins within a 400 ms budget; then the
// request is withdrawn from the other drivers. weft's version is
// examples/patterns/ride_matching.cpp; both print the same lines (the simulation is seeded).
package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// simulation is splitmix64: the same numbers in C++ and Go.
type simulation struct{ s uint64 }

func (r *simulation) below(n int) int {
	r.s += 0x9E3779B97F4A7C15
	z := r.s
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return int((z ^ (z >> 31)) % uint64(n))
}

func (r *simulation) shuffle(n int, swap func(i, j int)) {
	for i := n - 1; i > 0; i-- {
		swap(i, r.below(i+1))
	}
}

type offer struct {
	driver    string
	etaMin    int
	fareCents int
}

type driver struct {
	terms        offer
	answersAfter time.Duration
}

type ride struct {
	id           int
	maxEtaMin    int
	maxFareCents int
	nearby       []driver
}

func dollars(cents int) string { return fmt.Sprintf("$%d.%02d", cents/100, cents%100) }

func answer(ctx context.Context, d driver, out chan<- offer) {
	defer close(out)
	select {
	case <-time.After(d.answersAfter):
	case <-ctx.Done():
		return
	}
	select {
	case out <- d.terms:
	case <-ctx.Done():
	}
}

// merge is the fan-in: a goroutine per input; the output closes when all of them are done,
// which a canceled context also forces.
func merge(ctx context.Context, cs []<-chan offer) <-chan offer {
	var wg sync.WaitGroup
	out := make(chan offer)
	wg.Add(len(cs))
	for _, c := range cs {
		go func(c <-chan offer) {
			defer wg.Done()
			for o := range c {
				select {
				case out <- o:
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

func match(parent context.Context, r ride) {
	ctx, cancel := context.WithTimeout(parent, 400*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	var offers []<-chan offer
	for _, d := range r.nearby {
		ch := make(chan offer)
		offers = append(offers, ch)
		wg.Add(1)
		go func(d driver) {
			defer wg.Done()
			answer(ctx, d, ch)
		}(d)
	}
	merged := merge(ctx, offers)

	fmt.Printf("ride %d (pickup within %d min, fare up to %s):\n", r.id, r.maxEtaMin, dollars(r.maxFareCents))
	var winner *offer
	seen := 0
	for o := range merged {
		seen++
		if o.etaMin > r.maxEtaMin {
			fmt.Printf("  rejected %-6s %d min away\n", o.driver, o.etaMin)
		} else if o.fareCents > r.maxFareCents {
			fmt.Printf("  rejected %-6s %s\n", o.driver, dollars(o.fareCents))
		} else {
			o := o
			winner = &o
			break
		}
	}
	cancel()
	wg.Wait()
	if winner != nil {
		fmt.Printf("  matched  %-6s %d min away, %s\n", winner.driver, winner.etaMin, dollars(winner.fareCents))
	} else {
		fmt.Printf("  no match within 400 ms\n")
	}
	fmt.Printf("  withdrawn from %d driver(s)\n", len(r.nearby)-seen)
}

func simulate(seed uint64) []ride {
	names := []string{"Ana", "Ben", "Chloe", "Dev", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jun", "Kofi", "Lena"}
	ms := time.Millisecond
	answerTimes := []time.Duration{70 * ms, 140 * ms, 210 * ms, 280 * ms, 1500 * ms}
	rides := []ride{{1, 6, 1400, nil}, {2, 5, 1200, nil}, {3, 8, 1600, nil}, {4, 4, 1000, nil}}
	sim := simulation{seed}
	for i := range rides {
		who := append([]string(nil), names...)
		sim.shuffle(len(who), func(a, b int) { who[a], who[b] = who[b], who[a] })
		when := append([]time.Duration(nil), answerTimes...)
		sim.shuffle(len(when), func(a, b int) { when[a], when[b] = when[b], when[a] })
		for k := range when {
			eta := 2 + sim.below(10)
			fare := 900 + sim.below(900)
			rides[i].nearby = append(rides[i].nearby, driver{offer{who[k], eta, fare}, when[k]})
		}
	}
	return rides
}

func main() {
	start := time.Now()
	for _, r := range simulate(32) {
		match(context.Background(), r)
	}
	yes := "no"
	if time.Since(start) < 2500*time.Millisecond {
		yes = "yes"
	}
	fmt.Printf("every ride decided within its budget: %s\n", yes)
}
