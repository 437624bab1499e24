// Command tcpcount counts the bytes on the wire: it listens on a loopback
// port, forwards every connection to a target address, and appends the
// bytes each connection carried in each direction to a file, one line per
// connection when it closes:
//
//	conn 1 up 1234 down 5678
//
// (up: from the client to the target; down: back). It prints the address
// it listens on as one line on standard output. On SIGTERM or SIGINT it
// stops accepting, waits up to -grace for the open connections to end,
// appends a line for each one still open (ending in "open"), and exits.
// bench/rsync.sh runs it between ftpx or rsync and their servers.
//
//	tcpcount -target 127.0.0.1:873 -out bytes.txt
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type conn struct {
	id       int
	up, down atomic.Int64
}

type counter struct {
	target string
	out    string
	mu     sync.Mutex // one line at a time, each connection's once
	open   map[*conn]bool
	wg     sync.WaitGroup
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	target := flag.String("target", "", "address to forward every connection to")
	out := flag.String("out", "", "file to append each connection's byte counts to")
	grace := flag.Duration("grace", 5*time.Second, "on SIGTERM, how long to wait for open connections to end")
	flag.Parse()
	if *target == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: tcpcount -target HOST:PORT -out FILE [-listen ADDR]")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcpcount:", err)
		os.Exit(1)
	}
	c := &counter{target: *target, out: *out, open: map[*conn]bool{}}
	fmt.Println(ln.Addr().String())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		ln.Close()
	}()
	id := 0
	for {
		client, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				break
			}
			fmt.Fprintln(os.Stderr, "tcpcount: accept:", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		id++
		cn := &conn{id: id}
		c.mu.Lock()
		c.open[cn] = true
		c.mu.Unlock()
		c.wg.Add(1)
		go c.forward(cn, client)
	}

	finished := make(chan struct{})
	go func() { c.wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(*grace):
		c.mu.Lock()
		for cn := range c.open {
			c.write(cn, " open")
		}
		c.open = map[*conn]bool{}
		c.mu.Unlock()
	}
}

// forward carries one connection both ways until both directions end.
func (c *counter) forward(cn *conn, client net.Conn) {
	defer c.wg.Done()
	defer client.Close()
	server, err := net.Dial("tcp", c.target)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcpcount: dial:", err)
		c.finish(cn)
		return
	}
	defer server.Close()
	var both sync.WaitGroup
	both.Add(2)
	pipe := func(dst, src net.Conn, n *atomic.Int64) {
		defer both.Done()
		buf := make([]byte, 256<<10)
		for {
			r, rerr := src.Read(buf)
			if r > 0 {
				w, werr := dst.Write(buf[:r])
				n.Add(int64(w))
				if werr != nil {
					// the other side is gone: end both directions
					client.Close()
					server.Close()
					return
				}
			}
			if rerr != nil {
				if tc, ok := dst.(*net.TCPConn); ok && errors.Is(rerr, io.EOF) {
					_ = tc.CloseWrite() // pass the half-close on
				} else {
					client.Close()
					server.Close()
				}
				return
			}
		}
	}
	go pipe(server, client, &cn.up)
	go pipe(client, server, &cn.down)
	both.Wait()
	c.finish(cn)
}

func (c *counter) finish(cn *conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.open[cn] {
		return // written at the end of the grace period
	}
	delete(c.open, cn)
	c.write(cn, "")
}

// write appends cn's line; c.mu is held.
func (c *counter) write(cn *conn, suffix string) {
	f, err := os.OpenFile(c.out, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcpcount:", err)
		return
	}
	fmt.Fprintf(f, "conn %d up %d down %d%s\n", cn.id, cn.up.Load(), cn.down.Load(), suffix)
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "tcpcount:", err)
	}
}
