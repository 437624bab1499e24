package server

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"ftpx/accounts"
	"ftpx/home"
	"ftpx/internal/serve"
	"ftpx/protocol"
)

// Version is sent in the greeting.
const Version = "ftpx/0.1.0"

// ErrServerClosed is returned by Serve after Shutdown or Close (every
// front end's Serve returns this one error).
var ErrServerClosed = serve.ErrClosed

// Defaults for the zero values of Server's fields.
const (
	DefaultMaxConns          = 256
	DefaultMaxConnsPerIP     = 64
	DefaultMaxLoginFailures  = 10
	DefaultLoginBanTime      = 15 * time.Minute
	DefaultLoginDelay        = 250 * time.Millisecond
	DefaultGracePeriod       = 30 * time.Second
	DefaultPartialMaxAge     = 7 * 24 * time.Hour
	DefaultAnonymousMaxConns = 16
)

// AnonymousUser is the name that logs in to the anonymous tree, with any
// password, when Server.AnonymousRoot is set.
const AnonymousUser = "anonymous"

// Server serves ftpx sessions. Set its fields before calling Serve; they
// must not change afterwards.
type Server struct {
	Homes    *home.Manager   // required: users' trees
	Accounts *accounts.Store // required: who may log in

	MaxConns          int           // simultaneous connections; 0 means DefaultMaxConns
	MaxConnsPerIP     int           // simultaneous connections from one address; 0 means DefaultMaxConnsPerIP
	IdleTimeout       time.Duration // wait for the next request; 0 means protocol.DefaultIdleTimeout
	TransferTimeout   time.Duration // wait for each chunk of a body; 0 means protocol.DefaultTransferTimeout
	MaxHeader         int           // request header limit; 0 means protocol.MaxRequestHeader
	Welcome           string        // sent in the greeting
	Goodbye           string        // sent in the answer to quit
	AnonymousRoot     string        // served read-only to AnonymousUser (any password); "" for off
	AnonymousMaxConns int           // anonymous sessions at once; 0 means DefaultAnonymousMaxConns
	Metrics           *Metrics      // nil records nothing
	TLSConfig         *tls.Config   // offered through starttls when set (see TLSConfig, AutoCert)
	RequireTLS        bool          // refuse every action but starttls on a plaintext connection
	PartialMaxAge     time.Duration // interrupted uploads untouched this long are removed; 0 means DefaultPartialMaxAge
	MaxLoginFailures  int           // failed logins from one address before it is banned; 0 means DefaultMaxLoginFailures
	LoginBanTime      time.Duration // how long such a ban lasts; 0 means DefaultLoginBanTime
	LoginDelay        time.Duration // wait after the 4th failed login in a row, doubling after; 0 means DefaultLoginDelay
	Logger            *slog.Logger  // nil discards

	live atomic.Pointer[Live] // set by SetLive; else the fields above

	group serve.Group // listeners and sessions: accept, Shutdown, Close

	mu       sync.Mutex
	users    map[string]int // sessions logged in, by user name, under mu
	conns    int            // connections of every front end, under mu
	perIP    map[string]int // connections by remote address, of every front end, under mu
	throttle *throttle
	closed   bool // Shutdown or Close began, under mu
	// held counts the pipelined uploads of every session read but not
	// yet committed: each holds an open file (pipeline.go)
	held atomic.Int64

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
	if !s.prepareJanitor() {
		l.Close()
		return ErrServerClosed
	}
	s.janitor.Do(s.startJanitor)
	s.group.Name, s.group.Logger = ProtocolFTPX, s.Logger
	return s.group.Serve(l, s.open)
}

// open admits a connection (see admitLocked) as a native session, or
// refuses it with the status that says why.
func (s *Server) open(c net.Conn) serve.Session {
	sess := s.newSession(c)
	s.mu.Lock()
	st, msg := s.admitLocked(sess.ip)
	s.mu.Unlock()
	if st != 0 {
		s.refuse(c, st, msg)
		return nil
	}
	s.Metrics.connection(ProtocolFTPX, "accepted")
	s.Metrics.sessions(ProtocolFTPX, 1)
	return sess
}

// Serve, InterruptIfIdle, Close and Refuse make a session a serve.Session.

func (c *session) Serve(done func()) {
	c.serve(func() {
		c.srv.leave(c.ip)
		c.srv.Metrics.sessions(ProtocolFTPX, -1)
		done()
	})
}

func (c *session) InterruptIfIdle() { c.interruptIfIdle() }

// Close cuts the connection and ends what the session waits for from an
// object store (an upload waiting for a part buffer, a part in flight).
func (c *session) Close() {
	c.cancel()
	c.tcp.Close()
}

func (c *session) Refuse() {
	c.cancel()
	c.srv.leave(c.ip)
	c.srv.Metrics.sessions(ProtocolFTPX, -1)
	c.srv.refuse(c.tcp, protocol.StatusShuttingDown, "server shutting down")
}

// refuse sends one frame with status st and closes c, without waiting long
// for a client that does not read.
func (s *Server) refuse(c net.Conn, st protocol.Status, msg string) {
	c.SetWriteDeadline(time.Now().Add(time.Second))
	protocol.WriteFrame(c, protocol.Response{Status: st, Msg: msg, Version: Version})
	c.Close()
	s.Metrics.connection(ProtocolFTPX, "refused")
	s.logger().Warn("connection refused", "remote", c.RemoteAddr().String(), "status", int(st), "reason", msg)
}

// Shutdown stops accepting, tells idle sessions the server is going away,
// lets running transfers finish, and returns when every session has ended
// or ctx is done; then it closes what is left and returns ctx's error.
// An upload cut off keeps what arrived, to be resumed, when the client
// gave it a transfer id (ftpx put does); one without is discarded.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeGroup()
	s.stopTheJanitor()
	return s.group.Shutdown(ctx)
}

// Close closes every listener and connection at once. Uploads cut off
// are kept or discarded as after Shutdown.
func (s *Server) Close() error {
	s.closeGroup()
	s.stopTheJanitor()
	return s.group.Close()
}

// closeGroup marks the group closing before the janitor stops, so that no
// Serve starts it again.
func (s *Server) closeGroup() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

// prepareJanitor makes the janitor's channels for the first Serve, or
// reports false once Shutdown or Close has begun.
func (s *Server) prepareJanitor() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.group.Closing() {
		return false
	}
	if s.stopJanitor == nil {
		s.stopJanitor, s.janitorDone = make(chan struct{}), make(chan struct{})
	}
	return true
}

// leave is admitLocked's undoing, for a connection that ended.
func (s *Server) leave(ip string) {
	s.mu.Lock()
	s.leaveLocked(ip)
	s.mu.Unlock()
}

// admitLocked counts a connection from ip, of any front end, or returns
// the status refusing it: once Shutdown has begun, or at MaxConns, or
// when ip has MaxConnsPerIP already. s.mu is held.
func (s *Server) admitLocked(ip string) (protocol.Status, string) {
	switch {
	case s.closed || s.group.Closing():
		return protocol.StatusShuttingDown, "server shutting down"
	case s.conns >= s.maxConns():
		return protocol.StatusTooManyConns, "too many connections"
	case s.perIP[ip] >= s.maxConnsPerIP():
		return protocol.StatusTooManyConns, "too many connections from " + ip
	}
	if s.perIP == nil {
		s.perIP = make(map[string]int)
	}
	s.conns++
	s.perIP[ip]++
	return 0, ""
}

// leaveLocked is admitLocked's undoing. s.mu is held.
func (s *Server) leaveLocked(ip string) {
	s.conns--
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
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

func (s *Server) maxConnsPerIP() int {
	if s.MaxConnsPerIP > 0 {
		return s.MaxConnsPerIP
	}
	return DefaultMaxConnsPerIP
}

// logins returns the login throttle, made on first use from the settings.
func (s *Server) logins() *throttle {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.throttle == nil {
		n, ban, delay := s.MaxLoginFailures, s.LoginBanTime, s.LoginDelay
		if n <= 0 {
			n = DefaultMaxLoginFailures
		}
		if ban <= 0 {
			ban = DefaultLoginBanTime
		}
		if delay <= 0 {
			delay = DefaultLoginDelay
		}
		s.throttle = newThrottle(n, ban, delay)
	}
	return s.throttle
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

// Live is what may change while the server runs, as on SIGHUP.
type Live struct {
	Welcome           string
	Goodbye           string
	AnonymousRoot     string
	AnonymousMaxConns int // 0 means DefaultAnonymousMaxConns
}

// SetLive replaces the live settings (the fields Welcome, Goodbye,
// AnonymousRoot and AnonymousMaxConns) at once; sessions see them from
// their next greeting, auth or quit.
func (s *Server) SetLive(l Live) { s.live.Store(&l) }

// settings returns the live settings in force.
func (s *Server) settings() Live {
	l := s.live.Load()
	if l == nil {
		l = &Live{Welcome: s.Welcome, Goodbye: s.Goodbye, AnonymousRoot: s.AnonymousRoot, AnonymousMaxConns: s.AnonymousMaxConns}
	}
	if l.AnonymousMaxConns <= 0 {
		c := *l
		c.AnonymousMaxConns = DefaultAnonymousMaxConns
		l = &c
	}
	return *l
}

// login counts a session of user, unless it has max (0: no limit) already.
func (s *Server) login(user string, max int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if max > 0 && s.users[user] >= max {
		return false
	}
	if s.users == nil {
		s.users = make(map[string]int)
	}
	s.users[user]++
	return true
}

// logout is login's undoing, when the session ends.
func (s *Server) logout(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users[user]--; s.users[user] <= 0 {
		delete(s.users, user)
	}
}
