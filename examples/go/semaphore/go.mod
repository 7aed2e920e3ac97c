// The Go original of examples/semaphore.cpp. A module of its own, because it needs
// golang.org/x/sync; it builds against Debian's copy:
//   apt-get install golang-golang-x-sync-dev
//   cd examples/go/semaphore && GOPROXY=off GOFLAGS=-mod=mod go run .
module weft.example/semaphore

go 1.19

require golang.org/x/sync v0.1.0

replace golang.org/x/sync => /usr/share/gocode/src/golang.org/x/sync
