// Package weftbench holds the Go side of weft's benchmarks: the reference numbers the C++
// library is measured against. Every benchmark here has a twin with the same name and shape
// in benchmarks/*_bench.cpp (Google Benchmark); scripts/bench-table.py puts the channel ones
// side by side.
//
// Run them the way BENCH.md was measured:
//
//	cd benchmarks/go && GOMAXPROCS=2 go test -run '^$' -bench . -count=5
//
// The coroutine table (benchmarks/coro_bench.cpp) runs the same rows with -cpu 1,2 (GOMAXPROCS
// 1 and 2); none of them depends on GOMAXPROCS otherwise (scripts/bench-table.py --coro).
//
// Files:
//   - runtime_test.go:   the channel/select benchmarks of Go's own runtime/chan_test.go
//   - table_test.go:     the rows of BENCH.md's table (ProdCons, PingPong, Uncontended)
//   - crossbeam_test.go: the shapes of crossbeam-channel's benchmarks/go.go
//   - context_test.go:   contexts (benchmarks/context_bench.cpp)
//   - park_test.go:      N goroutines parked on a receive: RSS each, wake all by one close
//     (benchmarks/coro_bench.cpp; run alone, -benchtime=1x, fresh process)
//   - pool_test.go:      worker pools (benchmarks/worker_pool_bench.cpp)
//   - pipeline_test.go:  a 3-stage ordered pipeline and batching (benchmarks/pipeline_bench.cpp)
//   - fan_test.go:       merge (benchmarks/fan_bench.cpp)
//   - sync_test.go:      Mutex, RWMutex, atomics, a channel owner, results by index
//     (benchmarks/sync_bench.cpp)
//
// The twins on golang.org/x packages (rate/, semaphore/) are modules of their own.
//
// Units: ns/op where one op is what the benchmark's comment says (one item, one round
// trip, one send+receive, or the Go runtime benchmark's own notion of an op).
package weftbench
