package weftbench

// The Go twin of benchmarks/sync_bench.cpp: locks beside atomics and a channel owner.
//   Sync/Mutex/threads:T              sync.Mutex: Lock, increment a shared counter, Unlock
//   Sync/SharedMutexRead/threads:T    sync.RWMutex: RLock, read a shared value, RUnlock
//   Sync/SharedMutexMixed/threads:T   the same RWMutex, ops 0, 10, 20... of each goroutine a
//                                     Lock and an increment, the other 90% RLock and a read
//   Sync/Atomic/threads:T             atomic.AddInt64
//   Confinement/OwnerQuery/clients:C  C clients query an owner goroutine that alone holds a map,
//                                     as in examples/go/patterns/confinement: a query goes on one
//                                     channel (capacity 8) and carries a fresh unbuffered reply
//                                     channel; one op = one round trip
//   Confinement/ByIndex/workers:W     rounds of 65,536 results: W goroutines fill a slice made
//                                     before they start, each a contiguous share of the indexes;
//                                     the caller reads it after Wait; one op = one result, the
//                                     round's allocation, goroutines and read-out included
//   Confinement/MutexPush/workers:W   the same rounds, the results appended under one
//                                     sync.Mutex (no preallocation: the count is "unknown")
// A run of b.N ops starts T (C) goroutines, splits the ops evenly between them and waits for
// them (ByIndex and MutexPush: W goroutines per round), so ns/op is wall time per op over all goroutines together (as RunParallel counts, but
// with exactly T goroutines: RunParallel would start GOMAXPROCS of them at least). The Sync
// goroutines wait for a closed channel so that they start contending together. Every run checks
// its result.
//
//	cd benchmarks/go && GOMAXPROCS=2 go test -run '^$' -bench 'Sync|Confinement' -count=5

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// syncShare is how many of n ops goroutine i of k does; syncFirst is where its share starts.
func syncShare(n, k, i int) int {
	s := n / k
	if i < n%k {
		s++
	}
	return s
}

func syncFirst(n, k, i int) int {
	if i < n%k {
		return i*(n/k) + i
	}
	return i*(n/k) + n%k
}

// onGoroutines runs body(i, share) on k goroutines released together, and waits for them.
func onGoroutines(n, k int, body func(i, ops int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(k)
	for i := 0; i < k; i++ {
		go func(i int) {
			defer wg.Done()
			<-start
			body(i, syncShare(n, k, i))
		}(i)
	}
	close(start)
	wg.Wait()
}

func syncMutex(b *testing.B, k int) {
	var mu sync.Mutex
	counter := 0 // guarded by mu
	onGoroutines(b.N, k, func(_, ops int) {
		for j := 0; j < ops; j++ {
			mu.Lock()
			counter++
			mu.Unlock()
		}
	})
	if counter != b.N {
		b.Fatalf("counter %d, want %d", counter, b.N)
	}
}

func syncSharedRead(b *testing.B, k int) {
	var mu sync.RWMutex
	value := int64(1) // guarded by mu (never written: reads only)
	var total int64
	onGoroutines(b.N, k, func(_, ops int) {
		var sum int64
		for j := 0; j < ops; j++ {
			mu.RLock()
			sum += value
			mu.RUnlock()
		}
		atomic.AddInt64(&total, sum)
	})
	if total != int64(b.N) {
		b.Fatalf("read %d, want %d", total, b.N)
	}
}

var syncSink int64

func syncSharedMixed(b *testing.B, k int) {
	var mu sync.RWMutex
	var counter int64 // guarded by mu
	var writes int64
	onGoroutines(b.N, k, func(_, ops int) {
		var mine, seen int64
		for j := 0; j < ops; j++ {
			if j%10 == 0 {
				mu.Lock()
				counter++
				mu.Unlock()
				mine++
			} else {
				mu.RLock()
				seen = counter
				mu.RUnlock()
			}
		}
		atomic.AddInt64(&writes, mine)
		atomic.AddInt64(&syncSink, seen)
	})
	if counter != writes {
		b.Fatalf("counter %d, want %d", counter, writes)
	}
}

func syncAtomic(b *testing.B, k int) {
	var counter int64
	onGoroutines(b.N, k, func(_, ops int) {
		for j := 0; j < ops; j++ {
			atomic.AddInt64(&counter, 1)
		}
	})
	if counter != int64(b.N) {
		b.Fatalf("counter %d, want %d", counter, b.N)
	}
}

// The owner of examples/go/patterns/confinement reduced to its queries.
type syncQuery struct {
	item  int
	reply chan<- int
}

func syncOwner(requests <-chan syncQuery) {
	stock := map[int]int{0: 0, 1: 10, 2: 20, 3: 30} // confined to this goroutine
	for q := range requests {
		q.reply <- stock[q.item]
	}
}

func confinementOwnerQuery(b *testing.B, k int) {
	requests := make(chan syncQuery, 8)
	ownerDone := make(chan struct{})
	go func() {
		syncOwner(requests)
		close(ownerDone)
	}()
	var right int64
	var clients sync.WaitGroup
	clients.Add(k)
	for i := 0; i < k; i++ {
		go func(ops int) {
			defer clients.Done()
			var mine int64
			for j := 0; j < ops; j++ {
				item := j % 4
				reply := make(chan int) // one per query, as in the example
				requests <- syncQuery{item, reply}
				if <-reply == item*10 {
					mine++
				}
			}
			atomic.AddInt64(&right, mine)
		}(syncShare(b.N, k, i))
	}
	clients.Wait()
	close(requests)
	<-ownerDone
	if right != int64(b.N) {
		b.Fatalf("%d right replies, want %d", right, b.N)
	}
}

func syncResult(i int) uint32 { return uint32(i) * 2654435761 }

// syncReadout is what the caller of a round reads: how many results, and a checksum of them
// (weighted by position for ByIndex, so that a result in the wrong slot shows).
type syncReadout struct {
	count    int
	checksum uint64
}

func syncExpected(m int, weighted bool) syncReadout {
	var sum uint64
	for j := 0; j < m; j++ {
		w := uint64(1)
		if weighted {
			w = uint64(j) + 1
		}
		sum += w * uint64(syncResult(j))
	}
	return syncReadout{m, sum}
}

// One round of the pattern: m results made by k workers, read by the caller after Wait.
func byIndexRound(m, k int) syncReadout {
	results := make([]uint32, m) // sized before any worker starts
	var wg sync.WaitGroup
	wg.Add(k)
	for i := 0; i < k; i++ {
		go func(from, to int) {
			defer wg.Done()
			for j := from; j < to; j++ {
				results[j] = syncResult(j)
			}
		}(syncFirst(m, k, i), syncFirst(m, k, i)+syncShare(m, k, i))
	}
	wg.Wait()
	var sum uint64
	for j, r := range results {
		sum += (uint64(j) + 1) * uint64(r)
	}
	return syncReadout{len(results), sum}
}

func mutexPushRound(m, k int) syncReadout {
	var results []uint32 // guarded by mu
	var mu sync.Mutex
	var wg sync.WaitGroup
	wg.Add(k)
	for i := 0; i < k; i++ {
		go func(from, to int) {
			defer wg.Done()
			for j := from; j < to; j++ {
				mu.Lock()
				results = append(results, syncResult(j))
				mu.Unlock()
			}
		}(syncFirst(m, k, i), syncFirst(m, k, i)+syncShare(m, k, i))
	}
	wg.Wait()
	var sum uint64
	for _, r := range results {
		sum += uint64(r)
	}
	return syncReadout{len(results), sum}
}

// A run of b.N items is cut into rounds of syncRoundItems (the last one shorter), each with its
// own slice and goroutines: memory stays bounded, and a round's allocation, goroutine start,
// wait and read-out are spread over its items.
const syncRoundItems = 1 << 16

func inRounds(b *testing.B, k int, round func(m, k int) syncReadout, weighted bool) {
	wantFull := syncExpected(syncRoundItems, weighted)
	wantLast := syncExpected(b.N%syncRoundItems, weighted)
	b.ResetTimer()
	for done := 0; done < b.N; done += syncRoundItems {
		m := b.N - done
		want := wantLast
		if m >= syncRoundItems {
			m, want = syncRoundItems, wantFull
		}
		if got := round(m, k); got != want {
			b.Fatalf("round read %+v, want %+v", got, want)
		}
	}
}

func confinementByIndex(b *testing.B, k int) { inRounds(b, k, byIndexRound, true) }

func confinementMutexPush(b *testing.B, k int) { inRounds(b, k, mutexPushRound, false) }

func syncRows(b *testing.B, arg string, ks []int, f func(*testing.B, int)) {
	for _, k := range ks {
		k := k
		b.Run(fmt.Sprintf("%s:%d", arg, k), func(b *testing.B) { f(b, k) })
	}
}

func BenchmarkSync(b *testing.B) {
	b.Run("Mutex", func(b *testing.B) { syncRows(b, "threads", []int{1, 2, 4}, syncMutex) })
	b.Run("SharedMutexRead", func(b *testing.B) {
		syncRows(b, "threads", []int{1, 2, 4}, syncSharedRead)
	})
	b.Run("SharedMutexMixed", func(b *testing.B) {
		syncRows(b, "threads", []int{2, 4}, syncSharedMixed)
	})
	b.Run("Atomic", func(b *testing.B) { syncRows(b, "threads", []int{1, 2, 4}, syncAtomic) })
}

func BenchmarkConfinement(b *testing.B) {
	b.Run("OwnerQuery", func(b *testing.B) {
		syncRows(b, "clients", []int{1, 2}, confinementOwnerQuery)
	})
	b.Run("ByIndex", func(b *testing.B) {
		syncRows(b, "workers", []int{1, 2, 4}, confinementByIndex)
	})
	b.Run("MutexPush", func(b *testing.B) {
		syncRows(b, "workers", []int{1, 2, 4}, confinementMutexPush)
	})
}
