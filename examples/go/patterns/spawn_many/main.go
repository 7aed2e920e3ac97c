// The Go original of examples/patterns/spawn_many.cpp, quoted beside it in
// docs/patterns/coroutines.md. Run: go run examples/go/patterns/spawn_many/main.go
package main

import "fmt"

func main() {
	const tasks = 100000
	start := make(chan struct{})
	results := make(chan int, 1024)

	for i := 0; i < tasks; i++ {
		go func(n int) {
			<-start // closed: go
			results <- n % 7
		}(i)
	}

	counts := make([]int, 7)
	close(start) // wakes every parked goroutine
	for n := 0; n < tasks; n++ {
		counts[<-results]++
	}

	fmt.Printf("%d tasks started by one close\n", tasks)
	for k, c := range counts {
		fmt.Printf("remainder %d: %d\n", k, c)
	}
}
