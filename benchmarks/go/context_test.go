package weftbench

// Go's context package: the twins of benchmarks/context_bench.cpp, same names and shapes
// (names: Context/<row>, the C++ rows are Context/<row>/weft).
//
//   Context/CancelFanout/{100,1000}  N goroutines blocked in <-ctx.Done(); one cancel(). ns
//                                    per woken goroutine: time from the cancel() call to the
//                                    last goroutine's wake-up (each reads the clock after its
//                                    receive; an atomic max keeps the latest), divided by N,
//                                    reported as ns/op through b.ReportMetric. One b.N
//                                    iteration is one round; starting the goroutines and
//                                    letting them park is not part of the measured span.
//   Context/WithCancel               WithCancel(parent) + cancel(), parent long-lived and
//                                    cancellable.
//   Context/CancelTree/depth=D       Go's own BenchmarkCancelTree (src/context/
//                                    benchmark_test.go), Root=OpenCanceler only.
//   Context/WithTimeout              WithTimeout(parent, time.Hour) + cancel().
//   Context/Err, Context/ErrCanceled  ctx.Err() on an active / a canceled context.
//   Context/SendRecv/cap100          100 sends then 100 receives on a cap-100 channel; ns per
//                                    send+receive.
//   Context/SendRecvCtx/cap100       the same, each operation in a select with
//                                    `case <-ctx.Done():` (the Go spelling of weft's
//                                    send(ctx, v) / receive(ctx)).
// Go 1.19 has no AfterFunc, WithoutCancel or *Cause functions; none is benchmarked here.

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var errSink error

// One round: n goroutines park on ctx.Done(), then cancel(). Returns the time from the
// cancel() call to the last wake-up.
func cancelFanoutRound(n int) time.Duration {
	ctx, cancel := context.WithCancel(context.Background())
	done := ctx.Done()
	var ready, woken sync.WaitGroup
	ready.Add(n)
	woken.Add(n)
	var start time.Time // written before cancel(), read after <-done: ordered by the close
	var last int64      // latest wake-up, ns after start
	for i := 0; i < n; i++ {
		go func() {
			ready.Done()
			<-done
			storeLatest(&last, int64(time.Since(start)))
			woken.Done()
		}()
	}
	ready.Wait()
	time.Sleep(5 * time.Millisecond) // every goroutine has announced itself; let them park
	start = time.Now()
	cancel()
	woken.Wait()
	return time.Duration(atomic.LoadInt64(&last))
}

func benchmarkCancelFanout(b *testing.B, n int) {
	var total time.Duration
	for i := 0; i < b.N; i++ {
		total += cancelFanoutRound(n)
	}
	b.ReportMetric(float64(total.Nanoseconds())/float64(b.N)/float64(n), "ns/op")
	b.ReportMetric(float64(n), "waiters")
}

func BenchmarkContext(b *testing.B) {
	for _, n := range []int{100, 1000} {
		n := n
		b.Run(fmt.Sprintf("CancelFanout/%d", n), func(b *testing.B) { benchmarkCancelFanout(b, n) })
	}
	b.Run("WithCancel", func(b *testing.B) {
		parent, cancelParent := context.WithCancel(context.Background())
		defer cancelParent()
		for i := 0; i < b.N; i++ {
			_, cancel := context.WithCancel(parent)
			cancel()
		}
	})
	for _, depth := range []int{1, 10, 100} {
		depth := depth
		b.Run(fmt.Sprintf("CancelTree/depth=%d", depth), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				root, cancel := context.WithCancel(context.Background())
				ctx := root
				for d := 0; d < depth; d++ {
					var dropped context.CancelFunc // as in BenchmarkCancelTree: the root's cancel ends them
					ctx, dropped = context.WithCancel(ctx)
					_ = dropped
				}
				cancel()
			}
		})
	}
	b.Run("WithTimeout", func(b *testing.B) {
		parent, cancelParent := context.WithCancel(context.Background())
		defer cancelParent()
		for i := 0; i < b.N; i++ {
			_, cancel := context.WithTimeout(parent, time.Hour)
			cancel()
		}
	})
	b.Run("Err", func(b *testing.B) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		for i := 0; i < b.N; i++ {
			errSink = ctx.Err()
		}
	})
	b.Run("ErrCanceled", func(b *testing.B) {
		ctx, cancel := context.WithCancel(context.Background())
		_ = ctx.Done()
		cancel()
		for i := 0; i < b.N; i++ {
			errSink = ctx.Err()
		}
	})
	b.Run("SendRecv/cap100", func(b *testing.B) {
		const C = 100
		ch := make(chan message, C)
		for done := 0; done < b.N; done += C {
			for i := 0; i < C; i++ {
				ch <- message(i)
			}
			for i := 0; i < C; i++ {
				<-ch
			}
		}
	})
	b.Run("SendRecvCtx/cap100", func(b *testing.B) {
		const C = 100
		ch := make(chan message, C)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		for done := 0; done < b.N; done += C {
			for i := 0; i < C; i++ {
				select {
				case ch <- message(i):
				case <-ctx.Done():
					b.Fatal("canceled")
				}
			}
			for i := 0; i < C; i++ {
				select {
				case <-ch:
				case <-ctx.Done():
					b.Fatal("canceled")
				}
			}
		}
	})
}
