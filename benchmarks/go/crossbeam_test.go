package weftbench

// The shapes of crossbeam-channel's Go comparison, crossbeam-rs/crossbeam
// crossbeam-channel/benchmarks/go.go (seq, spsc, mpsc, mpmc, select_rx, select_both with
// THREADS = 4, at capacities 0 ("bounded0"), 1 ("bounded1") and "big enough never to fill"
// ("bounded")). Differences, kept identical in the C++ twins:
//   - crossbeam moves a fixed 5,000,000 messages and prints seconds; here b.N messages are
//     moved and ns/op is ns per message;
//   - crossbeam's "bounded" rows use one channel as big as the whole run (cap = MESSAGES);
//     here the run is cut into rounds of at most cbRound messages, each on a fresh channel
//     with room for exactly that round's messages.
// Names: Crossbeam/<crossbeam's name>, e.g. Crossbeam/bounded0_spsc.

import (
	"sync"
	"testing"
)

const (
	cbThreads = 4
	cbRound   = 1 << 20 // messages per round in the "bounded" rows
)

func cbSeq(n, capacity int) {
	ch := make(chan message, capacity)
	for i := 0; i < n; i++ {
		ch <- message(i)
	}
	for i := 0; i < n; i++ {
		<-ch
	}
}

func cbSpsc(n, capacity int) { prodCons(n, capacity, 1, 1) }

func cbMpsc(n, capacity int) { prodCons(n, capacity, cbThreads, 1) }

func cbMpmc(n, capacity int) { prodCons(n, capacity, cbThreads, cbThreads) }

// cbSelect: one producer per channel on 4 channels; `consumers` goroutines each select
// over all 4 channels until together they have received n messages.
func cbSelect(n, capacity, consumers int) {
	var chans [cbThreads]chan message
	for i := range chans {
		chans[i] = make(chan message, capacity)
	}
	c0, c1, c2, c3 := chans[0], chans[1], chans[2], chans[3]
	var wg sync.WaitGroup
	wg.Add(cbThreads + consumers)
	for i := 0; i < cbThreads; i++ {
		go func(ch chan message, k int) {
			defer wg.Done()
			for j := 0; j < k; j++ {
				ch <- message(j)
			}
		}(chans[i], share(n, cbThreads, i))
	}
	for i := 0; i < consumers; i++ {
		go func(k int) {
			defer wg.Done()
			for j := 0; j < k; j++ {
				select {
				case <-c0:
				case <-c1:
				case <-c2:
				case <-c3:
				}
			}
		}(share(n, consumers, i))
	}
	wg.Wait()
}

func cbSelectRx(n, capacity int)   { cbSelect(n, capacity, 1) }
func cbSelectBoth(n, capacity int) { cbSelect(n, capacity, cbThreads) }

func BenchmarkCrossbeam(b *testing.B) {
	shapes := []struct {
		name string
		f    func(n, capacity int)
	}{
		{"mpmc", cbMpmc}, {"mpsc", cbMpsc}, {"select_both", cbSelectBoth},
		{"select_rx", cbSelectRx}, {"seq", cbSeq}, {"spsc", cbSpsc},
	}
	for _, prefix := range []string{"bounded0", "bounded1", "bounded"} {
		for _, s := range shapes {
			if s.name == "seq" && prefix != "bounded" {
				continue // seq would deadlock on a channel smaller than the run, as in crossbeam
			}
			prefix, s := prefix, s
			b.Run(prefix+"_"+s.name, func(b *testing.B) {
				switch prefix {
				case "bounded0":
					s.f(b.N, 0)
				case "bounded1":
					s.f(b.N, 1)
				default:
					for done := 0; done < b.N; done += cbRound {
						k := cbRound
						if b.N-done < k {
							k = b.N - done
						}
						s.f(k, k)
					}
				}
			})
		}
	}
}
