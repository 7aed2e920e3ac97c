// The Go originals of examples/rate_limit.cpp, quoted beside them in
// docs/patterns/rate_limit.md. Needs golang.org/x/time/rate (Debian:
// golang-golang-x-time-dev). Its output is examples/rate_limit.expected except for the
// wording of the two error messages and of the last line.
package main

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/time/rate"
)

func dropExcess() {
	lim := rate.NewLimiter(10, 3)
	t0 := time.Now()
	for _, ms := range []int{0, 0, 0, 0, 100, 150, 200, 600} {
		at := t0.Add(time.Duration(ms) * time.Millisecond)
		before := lim.TokensAt(at)
		ok := lim.AllowN(at, 1)
		fmt.Printf("t=%3dms  %.1f tokens  %s\n", ms, before, map[bool]string{true: "allowed", false: "dropped"}[ok])
	}
}

func pace() {
	lim := rate.NewLimiter(10, 1)
	t0 := time.Now()
	a := lim.ReserveN(t0, 1)
	b := lim.ReserveN(t0, 1)
	c := lim.ReserveN(t0, 1)
	for _, r := range []*rate.Reservation{a, b, c} {
		fmt.Printf("reservation: act in %dms\n", r.DelayFrom(t0).Milliseconds())
	}
	c.CancelAt(t0)
	fmt.Printf("after canceling the last: %.1f tokens\n", lim.TokensAt(t0))
	ok := "never (burst 1)"
	if lim.ReserveN(t0, 5).OK() {
		ok = "ok"
	}
	fmt.Printf("5 tokens at once: %s\n", ok)
}

func waitForTokens() {
	lim := rate.NewLimiter(20, 1)
	start := time.Now()
	for i := 1; i <= 5; i++ {
		if err := lim.Wait(context.Background()); err != nil {
			return
		}
		fmt.Printf("request %d\n", i)
	}
	paced := time.Since(start) >= 4*50*time.Millisecond-time.Millisecond
	fmt.Printf("5 requests took at least 199ms: %s\n", map[bool]string{true: "yes", false: "no"}[paced])

	hourly := rate.NewLimiter(rate.Every(time.Hour), 1)
	hourly.Allow()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := hourly.Wait(ctx)
	fmt.Printf("wait with a 1s deadline: %v\n", err)
	err = hourly.WaitN(ctx, 2)
	fmt.Printf("wait for 2 tokens, burst 1: %v\n", err)
}

// Go has no token case for select: reserve, select on a timer for the delay, and cancel the
// reservation by hand when another case wins. (Cancel gives nothing back once the delay has
// passed; weft's permit does.)
func sendPaced(ctx context.Context, lim *rate.Limiter, jobs int) {
	for job := 1; job <= jobs; job++ {
		r := lim.Reserve()
		t := time.NewTimer(r.Delay())
		select {
		case <-t.C:
			fmt.Printf("job %d sent\n", job)
		case <-ctx.Done():
			t.Stop()
			r.Cancel()
			fmt.Printf("job %d not sent: %v\n", job, ctx.Err())
			return
		}
	}
}

func selectOnTokens() {
	fast := rate.NewLimiter(100, 2)
	sendPaced(context.Background(), fast, 3)

	slow := rate.NewLimiter(rate.Every(time.Hour), 1)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	sendPaced(ctx, slow, 3)
	fmt.Printf("tokens left: %.2f (the unused reservation gave its token back)\n", slow.Tokens())
}

func main() {
	dropExcess()
	pace()
	waitForTokens()
	selectOnTokens()
}
