// The Go twins of benchmarks/rate_bench.cpp: x/time/rate's own benchmarks and allow() rows.
// A module of its own (the parent module, benchmarks/go, has no dependencies and must keep
// building with GOPROXY=off). It builds against Debian's copy of golang.org/x/time:
//   apt-get install golang-golang-x-time-dev
//   cd benchmarks/go/rate && GOPROXY=off GOFLAGS=-mod=mod GOMAXPROCS=2 go test -run '^$' -bench . -count=5
module weft.example/benchmarks/rate

go 1.19

require golang.org/x/time v0.3.0

replace golang.org/x/time => /usr/share/gocode/src/golang.org/x/time
