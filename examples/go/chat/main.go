// The Go twin of examples/chat (weft-chat): the same room, protocol and shutdown, on
// goroutines. Standard library only:
//
//	cd examples/go/chat && GO111MODULE=off go run main.go -port 0
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
)

// A member of the room: its bounded channel, and the cancel function of its session.
type member struct {
	nick   string
	ch     chan string
	cancel context.CancelFunc
}

type room struct {
	mu      sync.Mutex
	members map[*member]bool
	joined  int // guest numbers, in order of arrival
	buffer  int
}

func (r *room) join(cancel context.CancelFunc) *member {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := &member{ch: make(chan string, r.buffer), cancel: cancel}
	r.joined++
	m.nick = fmt.Sprintf("guest%d", r.joined)
	for r.taken(m.nick) {
		m.nick += "_"
	}
	r.members[m] = true
	return m
}

func (r *room) taken(nick string) bool { // under r.mu
	for m := range r.members {
		if m.nick == nick {
			return true
		}
	}
	return false
}

func (r *room) rename(m *member, nick string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.taken(nick) {
		return false
	}
	m.nick = nick
	return true
}

func (r *room) leave(m *member) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.members, m)
}

// A full member is cut off: removed, its session canceled. The publisher never waits.
func (r *room) say(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for m := range r.members {
		select {
		case m.ch <- line + "\n":
		default:
			delete(r.members, m)
			m.cancel()
		}
	}
}

func session(parent context.Context, r *room, conn net.Conn) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	m := r.join(cancel)
	nick := m.nick
	r.say("* " + nick + " joined")
	replies := make(chan string, 8)

	var wg sync.WaitGroup
	wg.Add(3)
	go func() { // the closer: closing the connection ends a pending read or write
		defer wg.Done()
		<-ctx.Done()
		conn.Close()
	}()
	go func() { // the writer
		defer wg.Done()
		defer cancel()
		for {
			var line string
			select {
			case line = <-m.ch:
			case line = <-replies:
			case <-ctx.Done():
				return
			}
			if _, err := conn.Write([]byte(line)); err != nil {
				return
			}
		}
	}()
	go func() { // the reader
		defer wg.Done()
		defer cancel()
		reply := func(s string) {
			select {
			case replies <- s + "\n":
			case <-ctx.Done():
			}
		}
		in := bufio.NewScanner(conn)
		in.Buffer(make([]byte, 4096), 4096)
		for in.Scan() {
			text := strings.TrimSuffix(in.Text(), "\r")
			switch {
			case text == "/quit":
				return
			case strings.HasPrefix(text, "/nick "):
				next := text[len("/nick "):]
				if !validNick(next) {
					reply("* invalid nick: " + next)
				} else if next != nick && !r.rename(m, next) {
					reply("* nick taken: " + next)
				} else if next != nick {
					r.say("* " + nick + " is now known as " + next)
					nick = next
				}
			case strings.HasPrefix(text, "/"):
				reply("* unknown command: " + text)
			case text != "":
				r.say("<" + nick + "> " + text)
			}
		}
	}()
	wg.Wait()

	r.mu.Lock()
	slow := !r.members[m] // cut off by say()
	r.mu.Unlock()
	r.leave(m)
	if parent.Err() == nil {
		if slow {
			r.say("* " + nick + " left (too slow)")
		} else {
			r.say("* " + nick + " left")
		}
	}
}

func validNick(n string) bool {
	if n == "" || len(n) > 32 || n[0] == '*' || n[0] == '<' {
		return false
	}
	for _, c := range []byte(n) {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

func main() {
	port := flag.Int("port", 0, "port to listen on (0: a free one)")
	buffer := flag.Int("buffer", 256, "lines a member may fall behind before it is cut off")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	go func() {
		<-ctx.Done()
		ln.Close()
	}()

	r := &room{members: map[*member]bool{}, buffer: *buffer}
	var sessions sync.WaitGroup
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			continue
		}
		sessions.Add(1)
		go func() {
			defer sessions.Done()
			session(ctx, r, conn)
		}()
	}
	sessions.Wait()
}
