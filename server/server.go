package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"ftpx/accounts"
	"ftpx/home"
	"ftpx/protocol"
)

// Version is sent in the greeting.
const Version = "ftpx/0.1.0"

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("ftpx: server closed")

// Defaults for the zero values of Server's fields.
const (
	DefaultMaxConns      = 256
	DefaultGracePeriod   = 30 * time.Second
	DefaultPartialMaxAge = 7 * 24 * time.Hour
)

// Server serves ftpx sessions. Set its fields before calling Serve; they
// must not change afterwards.
type Server struct {
	Homes    *home.Manager   // required: users' trees
	Accounts *accounts.Store // required: who may log in

	MaxConns        int           // simultaneous connections; 0 means DefaultMaxConns
	IdleTimeout     time.Duration // wait for the next request; 0 means protocol.DefaultIdleTimeout
	TransferTimeout time.Duration // wait for each chunk of a body; 0 means protocol.DefaultTransferTimeout
	MaxHeader       int           // request header limit; 0 means protocol.MaxRequestHeader
	Welcome         string        // sent in the greeting
	PartialMaxAge   time.Duration // interrupted uploads untouched this long are removed; 0 means DefaultPartialMaxAge
	Logger          *slog.Logger  // nil discards

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	sessions  map[*session]struct{}
	conns     atomic.Int64
	closing   atomic.Bool
	wg        sync.WaitGroup // one per running session

	janitor     sync.Once
	stopJanitor chan struct{}
	janitorDone chan struct{}
}

// ListenAndServe listens on the TCP address addr and calls Serve.
func (s *Server) ListenAndServe(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(l)
}

// Serve accepts connections on l and serves each in its own goroutine. It
// always returns a non-nil error; after Shutdown it is ErrServerClosed.
func (s *Server) Serve(l net.Listener) error {
	if !s.track(l) {
		l.Close()
		return ErrServerClosed
	}
	defer s.untrack(l)
	s.janitor.Do(s.startJanitor)
	var delay time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.logger().Warn("accept failed; retrying", "err", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		if n := s.conns.Add(1); n > int64(s.maxConns()) {
			s.conns.Add(-1)
			s.refuse(c, protocol.StatusTooManyConns)
			continue
		}
		sess := s.newSession(c)
		if !s.add(sess) {
			s.conns.Add(-1)
			s.refuse(c, protocol.StatusShuttingDown)
			continue
		}
		go func() {
			defer s.wg.Done()
			defer s.conns.Add(-1)
			defer s.remove(sess)
			sess.serve()
		}()
	}
}

// refuse sends one frame with status st and closes c, without waiting long
// for a client that does not read.
func (s *Server) refuse(c net.Conn, st protocol.Status) {
	c.SetWriteDeadline(time.Now().Add(time.Second))
	protocol.WriteFrame(c, protocol.Response{Status: st, Msg: st.String(), Version: Version})
	c.Close()
	s.logger().Warn("connection refused", "remote", c.RemoteAddr().String(), "status", int(st))
}

// Shutdown stops accepting, tells idle sessions the server is going away,
// lets running transfers finish, and returns when every session has ended
// or ctx is done; then it closes what is left and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.stopTheJanitor()
	s.mu.Lock()
	for l := range s.listeners {
		l.Close()
	}
	for sess := range s.sessions {
		sess.interruptIfIdle()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.Close()
		<-done
		return ctx.Err()
	}
}

// Close closes every listener and connection at once. Uploads in progress
// are abandoned and their partial files removed.
func (s *Server) Close() error {
	s.closing.Store(true)
	s.stopTheJanitor()
	s.mu.Lock()
	defer s.mu.Unlock()
	for l := range s.listeners {
		l.Close()
	}
	for sess := range s.sessions {
		sess.conn.Close()
	}
	return nil
}

func (s *Server) track(l net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	if s.stopJanitor == nil {
		s.stopJanitor, s.janitorDone = make(chan struct{}), make(chan struct{})
	}
	if s.listeners == nil {
		s.listeners = make(map[net.Listener]struct{})
	}
	s.listeners[l] = struct{}{}
	return true
}

func (s *Server) untrack(l net.Listener) {
	s.mu.Lock()
	delete(s.listeners, l)
	s.mu.Unlock()
}

// add registers a session; it fails once Shutdown has begun, so that no
// session starts after Shutdown looked at the set.
func (s *Server) add(sess *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	if s.sessions == nil {
		s.sessions = make(map[*session]struct{})
	}
	s.sessions[sess] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) remove(sess *session) {
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *Server) maxConns() int {
	if s.MaxConns > 0 {
		return s.MaxConns
	}
	return DefaultMaxConns
}

func (s *Server) idleTimeout() time.Duration {
	if s.IdleTimeout > 0 {
		return s.IdleTimeout
	}
	return protocol.DefaultIdleTimeout
}

func (s *Server) transferTimeout() time.Duration {
	if s.TransferTimeout > 0 {
		return s.TransferTimeout
	}
	return protocol.DefaultTransferTimeout
}

func (s *Server) maxHeader() int {
	if s.MaxHeader > 0 {
		return s.MaxHeader
	}
	return protocol.MaxRequestHeader
}
