package weftbench

// The channel and select benchmarks of Go's runtime, same names and shapes as in
// golang/go src/runtime/chan_test.go (Go 1.19: BenchmarkChanNonblocking, ...ChanPopular,
// BenchmarkSelect*). Rewritten here (not imported: the runtime's tests are not a package
// we can depend on) so that the C++ twins in benchmarks/channel_bench.cpp can be read
// side by side with them. ns/op means exactly what it means in the runtime's own run:
// RunParallel benchmarks divide wall time by the ops of all goroutines together.

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// callsPerSched is the runtime's CallsPerSched: work is handed out in chunks of this many ops.
const callsPerSched = 1000

// spin models the runtime benchmarks' "local work" loop (foo *= 2; foo /= 2).
func spin(foo, n int) int {
	for i := 0; i < n; i++ {
		foo *= 2
		foo /= 2
	}
	return foo
}

// One non-blocking receive on an empty unbuffered channel per op (select with default).
func BenchmarkChanNonblocking(b *testing.B) {
	ch := make(chan int)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			select {
			case <-ch:
			default:
			}
		}
	})
}

// Each goroutine owns a cap-100 channel; one op = 100 sends then 100 receives.
func BenchmarkChanUncontended(b *testing.B) {
	const C = 100
	b.RunParallel(func(pb *testing.PB) {
		ch := make(chan int, C)
		for pb.Next() {
			for i := 0; i < C; i++ {
				ch <- 0
			}
			for i := 0; i < C; i++ {
				<-ch
			}
		}
	})
}

// All goroutines share one channel of cap 100*GOMAXPROCS; one op = 100 sends then 100 receives.
func BenchmarkChanContended(b *testing.B) {
	const C = 100
	ch := make(chan int, C*runtime.GOMAXPROCS(0))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			for i := 0; i < C; i++ {
				ch <- 0
			}
			for i := 0; i < C; i++ {
				<-ch
			}
		}
	})
}

// Two goroutines exchange values over one unbuffered channel, each both sending and
// receiving; they take chunks from a shared counter, and the chunk's parity decides who
// sends first. One op = one send+receive by one goroutine.
func BenchmarkChanSync(b *testing.B) {
	const procs = 2
	chunks := int32(b.N / callsPerSched / procs * procs)
	ch := make(chan int)
	var wg sync.WaitGroup
	wg.Add(procs)
	for p := 0; p < procs; p++ {
		go func() {
			defer wg.Done()
			for {
				k := atomic.AddInt32(&chunks, -1)
				if k < 0 {
					return
				}
				for g := 0; g < callsPerSched; g++ {
					if k%2 == 0 {
						<-ch
						ch <- 0
					} else {
						ch <- 0
						<-ch
					}
				}
			}
		}()
	}
	wg.Wait()
}

// GOMAXPROCS producers and as many consumers on one channel; producers take chunks of
// 1000 sends from a shared counter and finish with a 0 sentinel; a consumer stops at the
// first 0 it receives. One op = one item.
func chanProdCons(b *testing.B, capacity, work int) {
	procs := runtime.GOMAXPROCS(-1)
	chunks := int32(b.N / callsPerSched)
	ch := make(chan int, capacity)
	var wg sync.WaitGroup
	wg.Add(2 * procs)
	for p := 0; p < procs; p++ {
		go func() {
			defer wg.Done()
			foo := 0
			for atomic.AddInt32(&chunks, -1) >= 0 {
				for g := 0; g < callsPerSched; g++ {
					foo = spin(foo, work)
					ch <- 1
				}
			}
			ch <- 0
			sink(foo)
		}()
		go func() {
			defer wg.Done()
			foo := 0
			for <-ch != 0 {
				foo = spin(foo, work)
			}
			sink(foo)
		}()
	}
	wg.Wait()
}

var sinkVal int64

func sink(v int) { atomic.AddInt64(&sinkVal, int64(v)) }

func BenchmarkChanProdCons0(b *testing.B)   { chanProdCons(b, 0, 0) }
func BenchmarkChanProdCons10(b *testing.B)  { chanProdCons(b, 10, 0) }
func BenchmarkChanProdCons100(b *testing.B) { chanProdCons(b, 100, 0) }

// 1000 goroutines each select on a shared channel that never fires and their own
// channel; one op = the driver sending once to each of the 1000 goroutines.
func BenchmarkChanPopular(b *testing.B) {
	const n = 1000
	popular := make(chan bool)
	own := make([]chan bool, n)
	var wg sync.WaitGroup
	wg.Add(n)
	for j := range own {
		d := make(chan bool)
		own[j] = d
		go func() {
			defer wg.Done()
			for i := 0; i < b.N; i++ {
				select {
				case <-popular:
				case <-d:
				}
			}
		}()
	}
	for i := 0; i < b.N; i++ {
		for _, d := range own {
			d <- true
		}
	}
	wg.Wait()
}

// Each goroutine bounces a token between two cap-1 channels it owns, through a
// two-case select. One op = one select + one send.
func BenchmarkSelectUncontended(b *testing.B) {
	b.RunParallel(func(pb *testing.PB) {
		c1 := make(chan int, 1)
		c2 := make(chan int, 1)
		c1 <- 0
		for pb.Next() {
			select {
			case <-c1:
				c2 <- 0
			case <-c2:
				c1 <- 0
			}
		}
	})
}

// Per parallel goroutine, a helper selects among sending on three shared unbuffered
// channels (or stopping); the goroutine selects among receiving from them. One op = one
// receiving select.
func BenchmarkSelectSyncContended(b *testing.B) {
	c1 := make(chan int)
	c2 := make(chan int)
	c3 := make(chan int)
	done := make(chan int)
	b.RunParallel(func(pb *testing.PB) {
		go func() {
			for {
				select {
				case c1 <- 0:
				case c2 <- 0:
				case c3 <- 0:
				case <-done:
					return
				}
			}
		}()
		for pb.Next() {
			select {
			case <-c1:
			case <-c2:
			case <-c3:
			}
		}
	})
	close(done)
}

// Like ChanProdCons with cap 128 and 100 units of local work per item, but every send and
// receive is a three-case select that also watches a timer that never fires during the run
// and a channel that is never closed. One op = one item.
func BenchmarkSelectProdCons(b *testing.B) {
	procs := runtime.GOMAXPROCS(-1)
	chunks := int32(b.N / callsPerSched)
	ch := make(chan int, 128)
	never := make(chan bool)
	var wg sync.WaitGroup
	wg.Add(2 * procs)
	for p := 0; p < procs; p++ {
		go func() {
			defer wg.Done()
			foo := 0
			timer := time.After(time.Hour)
			for atomic.AddInt32(&chunks, -1) >= 0 {
				for g := 0; g < callsPerSched; g++ {
					foo = spin(foo, 100)
					select {
					case ch <- 1:
					case <-timer:
					case <-never:
					}
				}
			}
			ch <- 0
			sink(foo)
		}()
		go func() {
			defer wg.Done()
			foo := 0
			timer := time.After(time.Hour)
		loop:
			for {
				select {
				case v := <-ch:
					if v == 0 {
						break loop
					}
				case <-timer:
				case <-never:
				}
				foo = spin(foo, 100)
			}
			sink(foo)
		}()
	}
	wg.Wait()
}

// Four single-case selects with default per op: receive from an empty unbuffered channel,
// send to an unbuffered channel nobody receives from, receive from an empty cap-1 channel,
// send to a full cap-1 channel (all but the very first of those sends fail).
func BenchmarkSelectNonblock(b *testing.B) {
	c1 := make(chan int)
	c2 := make(chan int)
	c3 := make(chan int, 1)
	c4 := make(chan int, 1)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			select {
			case <-c1:
			default:
			}
			select {
			case c2 <- 0:
			default:
			}
			select {
			case <-c3:
			default:
			}
			select {
			case c4 <- 0:
			default:
			}
		}
	})
}
