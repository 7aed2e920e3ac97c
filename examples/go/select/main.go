// The Go originals of examples/select.cpp, quoted beside them in docs/patterns/select.md.
// Run: go run examples/go/select/main.go
package main

import (
	"fmt"
	"reflect"
	"sort"
	"sync"
	"time"
)

func fibonacci(c chan<- int, quit <-chan bool) {
	x, y := 0, 1
	for {
		select {
		case c <- x:
			x, y = y, x+y
		case <-quit:
			fmt.Println("quit")
			return
		}
	}
}

func fibonacciDemo() {
	c := make(chan int)
	quit := make(chan bool)
	go func() {
		for i := 0; i < 10; i++ {
			fmt.Printf("%d ", <-c)
		}
		quit <- true
	}()
	fibonacci(c, quit)
}

func timeouts() {
	results := make(chan string, 1)
	select {
	case r := <-results:
		fmt.Println("got", r)
	case <-time.After(50 * time.Millisecond):
		fmt.Println("timeout")
	}
	results <- "result 1"
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	select {
	case r := <-results:
		fmt.Println("got", r)
	case <-deadline.C:
		fmt.Println("timeout")
	}
}

func nonBlocking() {
	messages := make(chan string, 1)
	select {
	case <-messages:
		fmt.Println("received a message")
	default:
		fmt.Println("no message received")
	}
	msg := "hi"
	select {
	case messages <- msg:
		fmt.Println("sent message")
	default:
		fmt.Println("no message sent")
	}
	more := "hello"
	select {
	case messages <- more:
		fmt.Println("sent message")
	default:
		fmt.Printf("buffer full, kept %q\n", more)
	}
}

func mergeTwo() {
	a, b := make(chan int, 3), make(chan int, 3)
	a <- 1
	a <- 2
	close(a)
	b <- 10
	close(b)
	sum := 0
	for a != nil || b != nil {
		select {
		case v, ok := <-a:
			if !ok {
				a = nil
				continue
			}
			sum += v
		case v, ok := <-b:
			if !ok {
				b = nil
				continue
			}
			sum += v
		}
	}
	fmt.Printf("merge: sum %d, both inputs nil now\n", sum)
}

func fanIn() {
	inputs := make([]chan int, 4)
	var producers sync.WaitGroup
	for i := range inputs {
		inputs[i] = make(chan int, 2)
		producers.Add(1)
		go func(out chan<- int, i int) {
			defer producers.Done()
			for k := 1; k <= 3; k++ {
				out <- 100*i + k
			}
			close(out)
		}(inputs[i], i)
	}
	cases := make([]reflect.SelectCase, len(inputs))
	for i, ch := range inputs {
		cases[i] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)}
	}
	var got []int
	for open := len(inputs); open > 0; {
		i, v, ok := reflect.Select(cases)
		if ok {
			got = append(got, int(v.Int()))
		} else {
			cases[i].Chan = reflect.Value{} // a zero Value: the case is ignored from now on
			open--
		}
	}
	producers.Wait()
	sort.Ints(got)
	fmt.Printf("fan-in: %d values: %v\n", len(got), got)
}

func main() {
	fibonacciDemo()
	timeouts()
	nonBlocking()
	mergeTwo()
	fanIn()
}
