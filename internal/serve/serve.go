// Package serve is the listener and connection lifecycle that every front
// end shares (the native server, the FTP server, the SFTP server): accept
// with back-off when the process runs out of descriptors, one goroutine per
// session, Shutdown that ends idle sessions and waits for running ones, and
// Close that ends them all at once. Each front end says how a session
// starts and ends through Session; admission (connection limits) is the
// front end's, in its Open.
package serve

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrClosed is returned by Group.Serve after Shutdown or Close.
var ErrClosed = errors.New("server closed")

// A Session is one accepted connection of a front end.
type Session interface {
	// Serve serves the session until it ends, then calls done once. It
	// may hand the session from goroutine to goroutine meanwhile.
	Serve(done func())
	// InterruptIfIdle ends the session if no request is running (Shutdown).
	// A running request finishes, and the session ends after it.
	InterruptIfIdle()
	// Close ends the session at once (Close, or Shutdown past its context).
	Close()
	// Refuse tells the client the server is shutting down, closes the
	// connection and lets go of what Open took: it is called instead of
	// Serve when Shutdown began between Open and the start.
	Refuse()
}

// Group serves sessions from any number of listeners. The zero value is
// ready; Name labels its log lines, and Logger (nil discards) gets them.
type Group struct {
	Name   string
	Logger *slog.Logger

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	sessions  map[Session]struct{}
	closing   atomic.Bool    // set under mu; read without it
	wg        sync.WaitGroup // one per running session
}

// Serve accepts connections on l until Shutdown or Close, passes each to
// open and serves the session it returns on a goroutine of its own; open
// returns nil for a connection it refused (and closed). Serve always
// returns a non-nil error: ErrClosed after Shutdown or Close, else the
// listener's.
func (g *Group) Serve(l net.Listener, open func(net.Conn) Session) error {
	if !g.track(l) {
		l.Close()
		return ErrClosed
	}
	defer g.untrack(l)
	var delay time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if g.Closing() {
				return ErrClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				g.logger().Warn("accept failed; retrying", "protocol", g.Name, "err", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		sess := open(c)
		if sess == nil {
			continue
		}
		if !g.add(sess) {
			sess.Refuse()
			continue
		}
		go sess.Serve(func() {
			g.mu.Lock()
			delete(g.sessions, sess)
			g.mu.Unlock()
			g.wg.Done()
		})
	}
}

// Closing reports whether Shutdown or Close has begun: a front end's Open
// refuses new sessions then.
func (g *Group) Closing() bool { return g.closing.Load() }

// Shutdown stops accepting, interrupts idle sessions, lets running
// requests finish, and returns when every session has ended or ctx is
// done; then it closes what is left, waits for it, and returns ctx's
// error.
func (g *Group) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	g.closing.Store(true)
	for l := range g.listeners {
		l.Close()
	}
	for sess := range g.sessions {
		sess.InterruptIfIdle()
	}
	g.mu.Unlock()

	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		g.Close()
		<-done
		return ctx.Err()
	}
}

// Close stops accepting and ends every session at once. It does not wait
// for them to finish ending.
func (g *Group) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closing.Store(true)
	for l := range g.listeners {
		l.Close()
	}
	for sess := range g.sessions {
		sess.Close()
	}
	return nil
}

// Each calls f for every running session, under the group's lock: f must
// not block, nor call the group.
func (g *Group) Each(f func(Session)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for sess := range g.sessions {
		f(sess)
	}
}

func (g *Group) track(l net.Listener) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing.Load() {
		return false
	}
	if g.listeners == nil {
		g.listeners = make(map[net.Listener]struct{})
	}
	g.listeners[l] = struct{}{}
	return true
}

func (g *Group) untrack(l net.Listener) {
	g.mu.Lock()
	delete(g.listeners, l)
	g.mu.Unlock()
}

// add registers sess unless Shutdown has begun, under the lock Shutdown
// takes: no session starts after Shutdown looked at the set, and none is
// added to the wait group after Shutdown began waiting.
func (g *Group) add(sess Session) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing.Load() {
		return false
	}
	if g.sessions == nil {
		g.sessions = make(map[Session]struct{})
	}
	g.sessions[sess] = struct{}{}
	g.wg.Add(1)
	return true
}

func (g *Group) logger() *slog.Logger {
	if g.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return g.Logger
}
