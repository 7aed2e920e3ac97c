// The tutorial's log processing pipeline: read lines, parse them, keep the errors, format
// them. A malformed line is counted, not fatal. weft's version is
// examples/patterns/log_processing.cpp (where parsing runs on 4 threads with the log order
// kept); both print the same lines.
package main

import (
	"bufio"
	"fmt"
	"strings"
)

// A small log, embedded so the example needs no file.
const logText = `2024-03-01T10:00:01Z INFO api request served path=/users status=200
2024-03-01T10:00:02Z ERROR db connection refused host=db-1
2024-03-01T10:00:02Z WARN api slow request path=/orders ms=812
2024-03-01T10:00:03Z INFO auth login user=ana
this line is not a log entry
2024-03-01T10:00:04Z ERROR payments card declined order=1042
2024-03-01T10:00:05Z INFO api request served path=/orders status=200
2024-03-01T10:00:06Z DEBUG cache miss key=user:7
2024-03-01T10:00:07Z ERROR db query timeout table=orders ms=5000
2024-03-01T10:00:08Z INFO api request served path=/health status=200
`

type entry struct {
	time, level, service, message string
}

// parse returns ok == false for a line that is not an entry.
func parse(line string) (entry, bool) {
	f := strings.SplitN(line, " ", 4)
	if len(f) < 3 || len(f[0]) != 20 || f[0][10] != 'T' {
		return entry{}, false
	}
	e := entry{time: f[0], level: f[1], service: f[2]}
	if len(f) == 4 {
		e.message = f[3]
	}
	return e, true
}

func read(text string, lines *int) <-chan string {
	out := make(chan string)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(strings.NewReader(text))
		for sc.Scan() {
			*lines++
			out <- sc.Text()
		}
	}()
	return out
}

func parseAll(in <-chan string, malformed *int) <-chan entry {
	out := make(chan entry)
	go func() {
		defer close(out)
		for line := range in {
			if e, ok := parse(line); ok {
				out <- e
			} else {
				*malformed++
			}
		}
	}()
	return out
}

func onlyErrors(in <-chan entry) <-chan entry {
	out := make(chan entry)
	go func() {
		defer close(out)
		for e := range in {
			if e.level == "ERROR" {
				out <- e
			}
		}
	}()
	return out
}

func format(in <-chan entry) <-chan string {
	out := make(chan string)
	go func() {
		defer close(out)
		for e := range in {
			out <- e.time[11:19] + " [" + e.service + "] " + e.message
		}
	}()
	return out
}

func main() {
	lines, malformed, errors := 0, 0, 0
	for line := range format(onlyErrors(parseAll(read(logText, &lines), &malformed))) {
		fmt.Println(line)
		errors++
	}
	// The range ended when format closed its channel, after every earlier stage had closed
	// theirs: the counters are final.
	fmt.Printf("%d errors in %d lines (%d malformed): ok\n", errors, lines, malformed)
}
