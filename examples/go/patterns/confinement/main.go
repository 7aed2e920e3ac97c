// Confinement: make data safe by giving it one owner instead of a lock. First, results by
// index: a pre-sized slice where each goroutine writes only its own element, read after Wait.
// Then the owner goroutine: one goroutine owns a map, and the others change and query it only
// by sending it requests. weft's version is examples/patterns/confinement.cpp; both print the
// same lines.
package main

import (
	"fmt"
	"sort"
	"sync"
)

// Some work per input: FNV-1a of the text, repeated to make it take a moment.
func checksum(text string) uint32 {
	h := uint32(2166136261)
	for round := 0; round < 1000; round++ {
		for i := 0; i < len(text); i++ {
			h = (h ^ uint32(text[i])) * 16777619
		}
	}
	return h
}

// Each goroutine owns results[i]; Wait makes every write visible here.
func checksums(docs []string) []uint32 {
	results := make([]uint32, len(docs)) // sized before any goroutine starts
	var wg sync.WaitGroup
	for i := range docs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = checksum(docs[i])
		}(i)
	}
	wg.Wait()
	return results
}

// The owner: the only goroutine that touches stock. Others send it requests on one channel; a
// query carries the channel its answer goes back on. One channel, not one per kind of request:
// the owner then handles requests in the order they were sent, so a query sees every change
// sent before it.
type adjust struct {
	item  string
	delta int
}
type query struct {
	item  string
	reply chan<- int
}

func inventoryOwner(requests <-chan interface{}) map[string]int {
	stock := map[string]int{} // confined to this goroutine: no lock
	for r := range requests { // until the channel is closed and drained
		switch r := r.(type) {
		case adjust:
			stock[r.item] += r.delta
		case query:
			r.reply <- stock[r.item]
		}
	}
	return stock
}

func ownerGoroutine() {
	requests := make(chan interface{}, 8)
	finalState := make(chan map[string]int, 1)
	go func() { finalState <- inventoryOwner(requests) }()

	items := []string{"apples", "pears", "plums"}
	var clerks sync.WaitGroup
	for clerk := 0; clerk < 4; clerk++ {
		clerks.Add(1)
		go func(clerk int) {
			defer clerks.Done()
			sign := 1 // three clerks restock, one sells
			if clerk == 3 {
				sign = -1
			}
			for round := 0; round < 50; round++ {
				for k, item := range items {
					requests <- adjust{item, sign * (k + 1)}
				}
			}
		}(clerk)
	}
	clerks.Wait()
	reply := make(chan int)
	requests <- query{"apples", reply} // sent after every clerk's change
	fmt.Printf("owner: a query after the clerks sees apples = %d\n", <-reply)
	close(requests) // the owner drains what is queued, then returns its map
	stock := <-finalState
	var names []string
	for item := range stock {
		names = append(names, item)
	}
	sort.Strings(names)
	for _, item := range names {
		fmt.Printf("owner: %-6s %d\n", item, stock[item])
	}
}

func main() {
	docs := []string{"invoice-17", "contract-b", "memo", "report-q3", "receipt-0042"}
	sums := checksums(docs)
	for i, doc := range docs {
		fmt.Printf("by index: %-12s %08x\n", doc, sums[i])
	}
	ownerGoroutine()
}
