// Package ratebench holds the Go twins of benchmarks/rate_bench.cpp: the same rows, with the
// same names, measured on golang.org/x/time/rate (Debian's golang-golang-x-time-dev, v0.3.0).
//
//	cd benchmarks/go/rate && GOPROXY=off GOFLAGS=-mod=mod GOMAXPROCS=2 go test -run '^$' -bench . -count=5
//
// ns/op is wall time divided by the calls of all goroutines together (RunParallel), as in the
// C++ rows; the C++ row to compare with is threads:2 (GOMAXPROCS=2).
package ratebench

import (
	"context"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// BenchmarkAllowN is x/time/rate's own: AllowN at one fixed time, one event per second, burst 1,
// so every call after the first is denied.
func BenchmarkAllowN(b *testing.B) {
	lim := rate.NewLimiter(rate.Every(time.Second), 1)
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			lim.AllowN(now, 1)
		}
	})
}

// BenchmarkAllow: Allow() reads the clock on each call; same limiter, denied.
func BenchmarkAllow(b *testing.B) {
	lim := rate.NewLimiter(rate.Every(time.Second), 1)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			lim.Allow()
		}
	})
}

// BenchmarkAllowGranted: Allow() on a limiter that grants every call, so each call also writes
// the bucket.
func BenchmarkAllowGranted(b *testing.B) {
	lim := rate.NewLimiter(1e12, 1000000)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			lim.Allow()
		}
	})
}

// BenchmarkWaitNoDelay is x/time/rate's BenchmarkWaitNNoDelay: as many tokens as calls.
func BenchmarkWaitNoDelay(b *testing.B) {
	lim := rate.NewLimiter(rate.Limit(b.N), b.N)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := lim.WaitN(ctx, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPermitReady: what weft's permit + select does, written the Go way - Reserve, then
// a select on a timer for the delay (zero here), as a caller that wants a cancellable wait in
// its own select must write it.
func BenchmarkPermitReady(b *testing.B) {
	lim := rate.NewLimiter(1e12, 1000000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := lim.Reserve()
		t := time.NewTimer(r.Delay())
		select {
		case <-t.C:
		}
	}
}
