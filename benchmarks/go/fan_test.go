package weftbench

// The Go twin of benchmarks/fan_bench.cpp: fan-in with Go's merge, a goroutine per input and a
// WaitGroup that closes the output (Go has no dynamic select without reflection).
//   Merge4/cap<n>         4 inputs, each fed by its own producer goroutine; inputs and output
//                         have capacity n
//   MergeFilled/inputs<k> k inputs already filled and closed (filling is not timed); output
//                         capacity 64
// One op is one item: ns/op is comparable with the C++ real_time per item.
//
//	cd benchmarks/go && GOMAXPROCS=2 go test -run '^$' -bench 'Merge' -count=5

import (
	"fmt"
	"sync"
	"testing"
)

func fanMerge(out chan<- uint64, cs []chan uint64) {
	var wg sync.WaitGroup
	wg.Add(len(cs))
	for _, c := range cs {
		go func(c <-chan uint64) {
			defer wg.Done()
			for v := range c {
				out <- v
			}
		}(c)
	}
	go func() {
		wg.Wait()
		close(out)
	}()
}

// fanConsume checks that the output carries inputs 1..share(n, k, i), each once.
func fanConsume(b *testing.B, out <-chan uint64, n, k int) {
	var count, sum, want uint64
	for v := range out {
		count++
		sum += v
	}
	for i := 0; i < k; i++ {
		m := uint64(share(n, k, i))
		want += m * (m + 1) / 2
	}
	if count != uint64(n) || sum != want {
		b.Fatalf("got %d items summing to %d, want %d summing to %d", count, sum, n, want)
	}
}

func BenchmarkMerge4(b *testing.B) {
	for _, capacity := range []int{0, 64} {
		b.Run(fmt.Sprintf("cap%d", capacity), func(b *testing.B) {
			const k = 4
			cs := make([]chan uint64, k)
			for i := range cs {
				cs[i] = make(chan uint64, capacity)
				go func(c chan<- uint64, m int) {
					for j := 1; j <= m; j++ {
						c <- uint64(j)
					}
					close(c)
				}(cs[i], share(b.N, k, i))
			}
			out := make(chan uint64, capacity)
			fanMerge(out, cs)
			fanConsume(b, out, b.N, k)
		})
	}
}

func BenchmarkMergeFilled(b *testing.B) {
	for _, k := range []int{4, 64} {
		b.Run(fmt.Sprintf("inputs%d", k), func(b *testing.B) {
			cs := make([]chan uint64, k)
			for i := range cs {
				m := share(b.N, k, i)
				cs[i] = make(chan uint64, m)
				for j := 1; j <= m; j++ {
					cs[i] <- uint64(j)
				}
				close(cs[i])
			}
			b.ResetTimer()
			out := make(chan uint64, 64)
			fanMerge(out, cs)
			fanConsume(b, out, b.N, k)
		})
	}
}
