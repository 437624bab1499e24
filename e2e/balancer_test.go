package e2e

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// balancer is the load balancer in front of several servers, as a team
// would run them: a TCP forwarder on one address that hands each new
// connection to the next server in turn, skipping any it cannot reach.
type balancer struct {
	l        net.Listener
	mu       sync.Mutex
	backends []string
	next     int
	served   []int // the backend of each connection, in order

	// The bytes forwarded each way, and the connections still open.
	up, down atomic.Int64 // client to server, server to client
	open     atomic.Int64
}

func newBalancer(t *testing.T, backends ...string) *balancer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{l: l, backends: backends}
	t.Cleanup(func() { l.Close() })
	go b.serve()
	return b
}

func (b *balancer) addr() string { return b.l.Addr().String() }

func (b *balancer) serve() {
	for {
		c, err := b.l.Accept()
		if err != nil {
			return
		}
		go b.forward(c)
	}
}

// forward connects c to the next backend that answers.
func (b *balancer) forward(c net.Conn) {
	b.open.Add(1)
	defer b.open.Add(-1)
	defer c.Close()
	b.mu.Lock()
	start := b.next
	b.next = (b.next + 1) % len(b.backends)
	b.mu.Unlock()
	for i := range b.backends {
		k := (start + i) % len(b.backends)
		s, err := net.Dial("tcp", b.backends[k])
		if err != nil {
			continue
		}
		b.mu.Lock()
		b.served = append(b.served, k)
		b.mu.Unlock()
		defer s.Close()
		done := make(chan struct{}, 2)
		go func() { io.Copy(counting{s, &b.up}, c); s.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
		go func() { io.Copy(counting{c, &b.down}, s); c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
		<-done
		<-done
		return
	}
}

// log returns the backend of each connection so far.
func (b *balancer) log() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int(nil), b.served...)
}

// counting is a writer that adds what it writes to n.
type counting struct {
	w io.Writer
	n *atomic.Int64
}

func (c counting) Write(p []byte) (int, error) {
	k, err := c.w.Write(p)
	c.n.Add(int64(k))
	return k, err
}

// carried returns the bytes forwarded each way since the last call
// (client to server, server to client), once every connection has ended:
// call it after the client exited.
func (b *balancer) carried(t *testing.T) (up, down int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b.open.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still open through the forwarder", b.open.Load())
		}
		time.Sleep(time.Millisecond)
	}
	return b.up.Swap(0), b.down.Swap(0)
}
