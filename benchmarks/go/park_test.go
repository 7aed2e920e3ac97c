package weftbench

// Park/<N>: the twin of benchmarks/coro_bench.cpp's Park/<N>/<peer>/<threads>t (issue 12:
// "1,000,000 coroutines parked on channel receives; RSS per parked task beside Go's per parked
// goroutine, and the time to wake them all by one close").
//
// One round: N goroutines announce themselves and block in a receive on one channel; once all
// have announced, 50 ms let the last ones park, then
//   - B/goroutine: (RSS with all N parked - RSS before they were started) / N, RSS from
//     /proc/self/statm, the "before" taken after runtime.GC() and debug.FreeOSMemory();
//   - ns/op: one close() wakes them all; time from the close to the last wake-up (each reads
//     the clock after its receive, an atomic max keeps the latest), divided by N.
// Both are the largest over the b.N rounds (b.N is 1 under -benchtime=1x): a later round in the
// same process reuses the g structures of the earlier one's dead goroutines, which stay
// resident, so only the first round's RSS shows them. scripts/bench-table.py --coro runs this
// benchmark alone, -benchtime=1x, in a fresh process per -cpu value.
//
// N = $WEFT_BENCH_PARK_N (default 100000, as in coro_bench.cpp; the run: 1000000):
//
//	WEFT_BENCH_PARK_N=1000000 go test -run '^$' -bench '^BenchmarkPark$' -benchtime=1x -cpu 1

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func parkN() int {
	if n, err := strconv.Atoi(os.Getenv("WEFT_BENCH_PARK_N")); err == nil && n > 0 {
		return n
	}
	return 100000
}

// rssBytes is the resident set size of this process (Linux: /proc/self/statm, 2nd field).
func rssBytes(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		b.Skip("no /proc/self/statm:", err)
	}
	var size, resident int64
	if _, err := fmt.Sscan(string(data), &size, &resident); err != nil {
		b.Fatal("parsing /proc/self/statm:", err)
	}
	return resident * int64(os.Getpagesize())
}

// parkRound parks n goroutines on one channel and wakes them with one close. Returns the RSS
// growth while they were parked and the time from the close to the last wake-up.
func parkRound(b *testing.B, n int) (rssGrowth int64, wake time.Duration) {
	runtime.GC()
	debug.FreeOSMemory()
	before := rssBytes(b)
	ch := make(chan message)
	var ready, woken sync.WaitGroup
	ready.Add(n)
	woken.Add(n)
	var start time.Time // written before close(ch), read after <-ch: ordered by the close
	var last int64      // latest wake-up, ns after start
	for i := 0; i < n; i++ {
		go func() {
			ready.Done()
			if _, ok := <-ch; ok {
				panic("park: received a value; only close(ch) should wake")
			}
			storeLatest(&last, int64(time.Since(start)))
			woken.Done()
		}()
	}
	ready.Wait()
	time.Sleep(50 * time.Millisecond) // every goroutine has announced itself; let them park
	rssGrowth = rssBytes(b) - before
	start = time.Now()
	close(ch)
	woken.Wait()
	return rssGrowth, time.Duration(atomic.LoadInt64(&last))
}

func BenchmarkPark(b *testing.B) {
	n := parkN()
	b.Run(strconv.Itoa(n), func(b *testing.B) {
		var maxRSS int64
		var maxWake time.Duration
		for i := 0; i < b.N; i++ {
			rss, wake := parkRound(b, n)
			if rss > maxRSS {
				maxRSS = rss
			}
			if wake > maxWake {
				maxWake = wake
			}
		}
		b.ReportMetric(float64(maxWake.Nanoseconds())/float64(n), "ns/op")
		b.ReportMetric(float64(maxRSS)/float64(n), "B/goroutine")
		b.ReportMetric(float64(maxWake.Nanoseconds())/1e6, "wake_all_ms")
		b.ReportMetric(float64(n), "goroutines")
	})
}

// storeLatest raises *last to d unless a later wake-up is already recorded: the fan-out
// benchmarks report when the last waiter woke.
func storeLatest(last *int64, d int64) {
	for {
		old := atomic.LoadInt64(last)
		if d <= old || atomic.CompareAndSwapInt64(last, old, d) {
			return
		}
	}
}
