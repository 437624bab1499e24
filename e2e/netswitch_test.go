package e2e

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// netSwitch stands between a browser and a server, on real TCP: it
// forwards every connection, can slow what the browser sends (setRate),
// and can pull the plug (setDown): every open connection is cut, and new
// ones are closed as soon as they are accepted, until it is up again. The
// browser's network fails as it does when a laptop loses its link.
type netSwitch struct {
	l      net.Listener
	target string
	rate   atomic.Int64 // bytes per second from the browser, 0 for no limit
	muted  atomic.Bool  // the server's answers are held back

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// newNetSwitch forwards 127.0.0.1:PORT to target until the test ends.
func newNetSwitch(t *testing.T, target string) *netSwitch {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &netSwitch{l: l, target: target, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() {
		l.Close()
		s.setDown(true)
		s.wg.Wait()
	})
	return s
}

func (s *netSwitch) addr() string { return s.l.Addr().String() }

// setRate slows what the browser sends to bytes per second (0: no limit).
func (s *netSwitch) setRate(bytesPerSecond int64) { s.rate.Store(bytesPerSecond) }

// setMuted holds back what the server sends (true) until false or a cut:
// an answer can be lost after the server acted on its request.
func (s *netSwitch) setMuted(muted bool) { s.muted.Store(muted) }

// setDown cuts every connection and refuses new ones (true), or lets
// them through again (false).
func (s *netSwitch) setDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
	if down {
		for c := range s.conns {
			c.Close()
			delete(s.conns, c)
		}
	}
}

func (s *netSwitch) serve() {
	defer s.wg.Done()
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go s.pipe(c)
	}
}

// track registers a connection's two ends, unless the switch is down.
func (s *netSwitch) track(cs ...net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return false
	}
	for _, c := range cs {
		s.conns[c] = struct{}{}
	}
	return true
}

// isTracked tells whether a connection is still open (not cut).
func (s *netSwitch) isTracked(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.conns[c]
	return ok
}

func (s *netSwitch) untrack(cs ...net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range cs {
		delete(s.conns, c)
		c.Close()
	}
}

// pipe forwards one connection: the server's answers as they come (unless
// muted), the browser's bytes at the switch's rate.
func (s *netSwitch) pipe(browser net.Conn) {
	defer s.wg.Done()
	server, err := net.Dial("tcp", s.target)
	if err != nil {
		browser.Close()
		return
	}
	if !s.track(browser, server) {
		browser.Close()
		server.Close()
		return
	}
	defer s.untrack(browser, server)
	answers := make(chan struct{})
	go func() {
		defer close(answers)
		defer browser.Close()
		buf := make([]byte, 16<<10)
		for {
			n, err := server.Read(buf)
			for s.muted.Load() && s.isTracked(server) {
				time.Sleep(5 * time.Millisecond)
			}
			if n > 0 {
				if _, werr := browser.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 16<<10)
	for {
		n, err := browser.Read(buf)
		if n > 0 {
			if r := s.rate.Load(); r > 0 {
				time.Sleep(time.Duration(int64(n) * int64(time.Second) / r))
			}
			if _, werr := server.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	server.Close()
	<-answers
}
