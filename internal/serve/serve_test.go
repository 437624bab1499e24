package serve

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// lineSession answers each line it reads with "ok LINE"; a line "slow"
// takes 300 ms. It is idle while waiting for a line, and like every front
// end's session it looks at Closing before it waits.
type lineSession struct {
	g       *Group
	c       net.Conn
	mu      sync.Mutex
	idle    bool
	ended   chan string // why it ended
	refused chan bool
}

func (s *lineSession) Serve(done func()) {
	defer done()
	r := bufio.NewReader(s.c)
	for {
		s.mu.Lock()
		if s.g.Closing() {
			s.mu.Unlock()
			s.c.Close()
			s.ended <- "shutting down"
			return
		}
		s.idle = true
		s.mu.Unlock()
		line, err := r.ReadString('\n')
		s.mu.Lock()
		s.idle = false
		s.mu.Unlock()
		if err != nil {
			s.c.Close()
			s.ended <- err.Error()
			return
		}
		if line == "slow\n" {
			time.Sleep(300 * time.Millisecond)
		}
		s.c.Write([]byte("ok " + line))
	}
}

func (s *lineSession) InterruptIfIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.idle {
		s.c.SetReadDeadline(time.Now())
	}
}

func (s *lineSession) Close() { s.c.Close() }

func (s *lineSession) Refuse() {
	s.c.Write([]byte("shutting down\n"))
	s.c.Close()
	s.refused <- true
}

// start serves a Group on 127.0.0.1 whose sessions are lineSessions
// reporting on ended; opened, when set, runs in open first.
func start(t *testing.T, opened func(*Group)) (*Group, string, chan string, chan bool, chan error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &Group{Name: "test"}
	ended, refused, served := make(chan string, 8), make(chan bool, 8), make(chan error, 1)
	go func() {
		served <- g.Serve(l, func(c net.Conn) Session {
			if opened != nil {
				opened(g)
			}
			return &lineSession{g: g, c: c, ended: ended, refused: refused}
		})
	}()
	t.Cleanup(func() { g.Close() })
	return g, l.Addr().String(), ended, refused, served
}

func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, line string) string {
	t.Helper()
	c.Write([]byte(line + "\n"))
	got, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return got
}

// TestShutdownEndsIdleAndWaitsForBusy: Shutdown stops accepting, ends the
// idle session at once, lets the busy one answer, and returns once both
// have ended; Serve returns ErrClosed.
func TestShutdownEndsIdleAndWaitsForBusy(t *testing.T) {
	g, addr, ended, _, served := start(t, nil)
	idle, idleR := dial(t, addr)
	busy, busyR := dial(t, addr)
	if got := roundTrip(t, idle, idleR, "a"); got != "ok a\n" {
		t.Fatalf("got %q", got)
	}
	roundTrip(t, busy, busyR, "b")
	busy.Write([]byte("slow\n"))
	time.Sleep(50 * time.Millisecond) // the busy session is in its request

	t0 := time.Now()
	if err := g.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(t0); d < 200*time.Millisecond {
		t.Errorf("Shutdown returned after %v, before the slow request ended", d)
	}
	if got, err := busyR.ReadString('\n'); got != "ok slow\n" {
		t.Errorf("busy session: got %q, %v; want its answer", got, err)
	}
	for range 2 {
		select {
		case <-ended:
		case <-time.After(5 * time.Second):
			t.Fatal("a session did not end")
		}
	}
	if err := <-served; !errors.Is(err, ErrClosed) {
		t.Errorf("Serve returned %v, want ErrClosed", err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("still accepting after Shutdown")
	}
}

// TestShutdownPastItsContextCloses: a request that outlasts Shutdown's
// context is cut off, and Shutdown returns the context's error once the
// session has ended.
func TestShutdownPastItsContextCloses(t *testing.T) {
	g, addr, ended, _, _ := start(t, nil)
	c, _ := dial(t, addr)
	c.Write([]byte("slow\n"))
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := g.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want the deadline", err)
	}
	select {
	case <-ended:
	default:
		t.Error("Shutdown returned before the session ended")
	}
}

// TestCloseEndsEverySession: Close cuts idle and busy sessions at once.
func TestCloseEndsEverySession(t *testing.T) {
	g, addr, ended, _, served := start(t, nil)
	a, ar := dial(t, addr)
	roundTrip(t, a, ar, "x")
	b, br := dial(t, addr)
	roundTrip(t, b, br, "y")
	g.Close()
	for range 2 {
		select {
		case <-ended:
		case <-time.After(5 * time.Second):
			t.Fatal("a session did not end")
		}
	}
	if err := <-served; !errors.Is(err, ErrClosed) {
		t.Errorf("Serve returned %v, want ErrClosed", err)
	}
	if err := g.Serve(mustListen(t), nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Serve after Close: %v, want ErrClosed", err)
	}
}

// TestOpenedDuringShutdownIsRefused: a connection whose Open ran while
// Shutdown began is refused, not served, and Shutdown does not wait for it.
func TestOpenedDuringShutdownIsRefused(t *testing.T) {
	shut := make(chan error, 1)
	_, addr, _, refused, _ := start(t, func(g *Group) {
		go func() { shut <- g.Shutdown(context.Background()) }()
		for !g.Closing() {
			time.Sleep(time.Millisecond)
		}
	})
	c, r := dial(t, addr)
	if got, _ := r.ReadString('\n'); got != "shutting down\n" {
		t.Errorf("got %q, want the refusal", got)
	}
	c.Close()
	select {
	case <-refused:
	case <-time.After(5 * time.Second):
		t.Fatal("Refuse was not called")
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func mustListen(t *testing.T) net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}
