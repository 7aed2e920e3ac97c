// Batching in front of a (simulated) bulk insert, as the importer does it: rows are grouped
// into inserts of up to 10; a batch also goes out when its oldest row has waited 100 ms (the
// source went quiet), and the last, partial batch goes out at the end of the input. weft's
// version is examples/patterns/batching.cpp; both print the same lines.
package main

import (
	"fmt"
	"strconv"
	"time"
)

type row struct {
	id   int
	name string
}

// table stands for the database: one bulkInsert is one multi-row INSERT.
type table struct {
	rows    []row
	inserts int
}

func (t *table) bulkInsert(batch []row) {
	t.inserts++
	fmt.Printf("bulk insert #%d: %d rows (ids %d-%d)\n", t.inserts, len(batch), batch[0].id,
		batch[len(batch)-1].id)
	t.rows = append(t.rows, batch...)
}

// batch groups the rows of in into slices of up to size; a slice is also sent when its oldest
// row has waited maxWait, and the partial one when in is closed.
func batch(in <-chan row, size int, maxWait time.Duration) (<-chan []row, *int) {
	out := make(chan []row)
	received := new(int)
	go func() {
		defer close(out)
		var b []row
		var timeout <-chan time.Time // nil (never ready) while b is empty
		var timer *time.Timer
		for {
			select {
			case r, ok := <-in:
				if !ok {
					if len(b) > 0 {
						out <- b
					}
					return
				}
				*received++
				b = append(b, r)
				if len(b) == 1 {
					timer = time.NewTimer(maxWait)
					timeout = timer.C
				}
				if len(b) == size {
					timer.Stop()
					out <- b
					b, timeout = nil, nil
				}
			case <-timeout:
				out <- b
				b, timeout = nil, nil
			}
		}
	}()
	return out, received
}

func main() {
	db := &table{}
	inserted := make(chan int, 16) // the sink tells the source that an insert happened
	rows := make(chan row)
	go func() {
		defer close(rows)
		id := 0
		for i := 0; i < 25; i++ {
			id++
			rows <- row{id, "business " + strconv.Itoa(id)}
		}
		for seen := 0; seen < 3; seen++ { // idle: only maxWait flushes 21-25
			<-inserted
		}
		for i := 0; i < 7; i++ {
			id++
			rows <- row{id, "business " + strconv.Itoa(id)}
		}
	}()
	batches, received := batch(rows, 10, 100*time.Millisecond)
	out := 0
	for b := range batches {
		out += len(b)
		db.bulkInsert(b)
		inserted <- db.inserts
	}
	fmt.Printf("%d rows in %d inserts; batch stage: %d in, %d out, %d lost: ok\n",
		len(db.rows), db.inserts, *received, out, *received-out)
}
