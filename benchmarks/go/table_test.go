package weftbench

// The rows of /work/shared/BENCH.md's channel table (docs: benchmarks/README.md):
//   ProdCons/<P>p<P>c/cap<N>  ns per item: P producers send b.N items in total (split as
//                             evenly as possible), P consumers receive exactly b.N.
//   PingPong/cap<N>           ns per round trip: ping on one channel, pong back on another.
//   Uncontended/cap100        ns per send+receive: one goroutine fills a cap-100 channel
//                             with 100 items, then drains it.
// The C++ twins in benchmarks/channel_bench.cpp have the same names.

import (
	"fmt"
	"sync"
	"testing"
)

type message = uintptr

// share returns how many of n items worker i of k handles (first n%k get one more).
func share(n, k, i int) int {
	s := n / k
	if i < n%k {
		s++
	}
	return s
}

// prodCons runs p producers and c consumers over one channel of the given capacity;
// together they move exactly n items.
func prodCons(n, capacity, p, c int) {
	ch := make(chan message, capacity)
	var wg sync.WaitGroup
	wg.Add(p + c)
	for i := 0; i < p; i++ {
		go func(k int) {
			defer wg.Done()
			for j := 0; j < k; j++ {
				ch <- message(j + 1)
			}
		}(share(n, p, i))
	}
	for i := 0; i < c; i++ {
		go func(k int) {
			defer wg.Done()
			for j := 0; j < k; j++ {
				<-ch
			}
		}(share(n, c, i))
	}
	wg.Wait()
}

func BenchmarkProdCons(b *testing.B) {
	for _, pc := range []int{1, 2} {
		for _, capacity := range []int{0, 10, 100, 1024} {
			pc, capacity := pc, capacity
			b.Run(fmt.Sprintf("%dp%dc/cap%d", pc, pc, capacity), func(b *testing.B) {
				prodCons(b.N, capacity, pc, pc)
			})
		}
	}
	// Oversubscribed: 8 producers and 8 consumers on GOMAXPROCS=2 (16 OS threads in C++).
	b.Run("8p8c/cap100", func(b *testing.B) { prodCons(b.N, 100, 8, 8) })
}

func BenchmarkPingPong(b *testing.B) {
	for _, capacity := range []int{0, 1} {
		capacity := capacity
		b.Run(fmt.Sprintf("cap%d", capacity), func(b *testing.B) {
			ping := make(chan message, capacity)
			pong := make(chan message, capacity)
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				for i := 0; i < b.N; i++ {
					ping <- message(i)
					<-pong
				}
			}()
			go func() {
				defer wg.Done()
				for i := 0; i < b.N; i++ {
					pong <- <-ping
				}
			}()
			wg.Wait()
		})
	}
}

func BenchmarkUncontended(b *testing.B) {
	b.Run("cap100", func(b *testing.B) {
		const C = 100
		ch := make(chan message, C)
		for done := 0; done < b.N; done += C {
			k := C
			if b.N-done < k {
				k = b.N - done
			}
			for i := 0; i < k; i++ {
				ch <- message(i)
			}
			for i := 0; i < k; i++ {
				<-ch
			}
		}
	})
}
