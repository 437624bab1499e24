package ftpd

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"ftpx/server"
)

// Server serves FTP sessions on the accounts, homes, limits, TLS settings
// and metrics of Core. Set its fields before calling Serve.
type Server struct {
	Core       *server.Server // required: everything but the FTP itself
	PassiveMin int            // first port of passive data connections; 0 (with PassiveMax 0): any free port
	PassiveMax int            // last port, inclusive
	Logger     *slog.Logger   // nil discards

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	sessions  map[*session]struct{}
	closing   atomic.Bool
	wg        sync.WaitGroup // one per running session
	nextPort  atomic.Uint32  // where the next passive port search starts in the range
}

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("ftpd: server closed")

// Serve accepts FTP control connections on l and serves each in its own
// goroutine. It always returns a non-nil error; after Shutdown it is
// ErrServerClosed.
func (s *Server) Serve(l net.Listener) error {
	if !s.track(l) {
		l.Close()
		return ErrServerClosed
	}
	defer s.untrack(l)
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
				s.logger().Warn("ftp accept failed; retrying", "err", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		release, err := s.Core.Admit(c.RemoteAddr(), server.ProtocolFTP)
		if err != nil {
			c.SetWriteDeadline(time.Now().Add(time.Second))
			c.Write([]byte("421 " + err.Error() + "\r\n"))
			c.Close()
			continue
		}
		sess := newSession(s, c)
		if !s.add(sess) {
			release()
			c.Write([]byte("421 server shutting down\r\n"))
			c.Close()
			continue
		}
		go func() {
			defer s.wg.Done()
			defer release()
			defer s.remove(sess)
			sess.serve()
		}()
	}
}

// Shutdown stops accepting, ends idle sessions (421), lets running
// transfers finish, and returns when every session has ended or ctx is
// done; then it closes what is left and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
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
// keep what arrived, to be resumed.
func (s *Server) Close() error {
	s.closing.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	for l := range s.listeners {
		l.Close()
	}
	for sess := range s.sessions {
		sess.tcp.Close()
		sess.closeData()
	}
	return nil
}

func (s *Server) track(l net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
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

// add registers a session unless Shutdown has begun, under the lock
// Shutdown takes, so that no session starts after it looked.
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
