// The Go twins of benchmarks/semaphore_bench.cpp, on golang.org/x/sync/semaphore. A module of
// its own (the parent module, benchmarks/go, has no dependencies and must keep building with
// GOPROXY=off). It builds against Debian's copy of golang.org/x/sync:
//   apt-get install golang-golang-x-sync-dev
//   cd benchmarks/go/semaphore && GOPROXY=off GOFLAGS=-mod=mod GOMAXPROCS=2 go test -run '^$' -bench . -count=5
module weft.example/benchmarks/semaphore

go 1.19

require golang.org/x/sync v0.1.0

replace golang.org/x/sync => /usr/share/gocode/src/golang.org/x/sync
