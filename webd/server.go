package webd

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"ftpx/server"
)

// Server serves the web client and the HTTP API on the accounts, homes,
// limits and metrics of Core. Set its fields before calling Serve.
type Server struct {
	Core *server.Server // required: logins, connection limits, homes, metrics
	// TLS, when set, makes Serve speak HTTPS (HTTP/1.1) with it. Without
	// it Serve refuses a listener that is not on a loopback address.
	TLS    *tls.Config
	Logger *slog.Logger // nil discards

	once     sync.Once
	hs       *http.Server
	sessions sessions
	running  atomic.Int64 // authenticated requests being served
}

// ErrServerClosed is returned by Serve after Shutdown or Close: the same
// error as every front end's.
var ErrServerClosed = server.ErrServerClosed

// ErrPlainNotLoopback refuses plain HTTP on an address other machines can
// reach: passwords and session cookies would cross the network in clear.
var ErrPlainNotLoopback = errors.New("plain HTTP is served on loopback addresses only; give the server a certificate (tls_cert and tls_key, or --tls auto)")

// Limits of what a client may send before its request is handled.
const (
	maxHeaderBytes    = 64 << 10 // the native protocol's header limit
	readHeaderTimeout = 10 * time.Second
	keepAliveIdle     = 60 * time.Second // a browser's idle connection is closed after this
)

func (s *Server) init() {
	s.once.Do(func() {
		idle, _ := s.Core.Timeouts()
		s.sessions.idle = idle
		s.hs = &http.Server{
			Handler:           s.bodyDeadline(s.routes()),
			ReadHeaderTimeout: readHeaderTimeout,
			IdleTimeout:       keepAliveIdle,
			MaxHeaderBytes:    maxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(s.logger().Handler(), slog.LevelDebug),
		}
	})
}

// Serve accepts connections on l, each admitted against the connection
// limits every front end shares, and serves HTTP on them (HTTPS with
// TLS). It always returns a non-nil error; after Shutdown or Close it is
// ErrServerClosed.
func (s *Server) Serve(l net.Listener) error {
	if s.TLS == nil && !Loopback(l.Addr()) {
		l.Close()
		return ErrPlainNotLoopback
	}
	s.init()
	var ln net.Listener = &admitting{Listener: l, core: s.Core, plain: s.TLS == nil}
	if s.TLS != nil {
		cfg := s.TLS.Clone()
		cfg.NextProtos = []string{"http/1.1"}
		ln = tls.NewListener(ln, cfg)
	}
	err := s.hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return ErrServerClosed
	}
	return err
}

// Shutdown stops accepting, closes idle connections, lets the requests
// running finish, and returns when they have or ctx is done; then it
// closes what is left and returns ctx's error. An upload cut off keeps
// what arrived, to be resumed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	err := s.hs.Shutdown(ctx)
	if err != nil {
		s.Close()
	}
	return err
}

// Close closes every listener and connection at once, and waits (a few
// seconds at most) for the requests they cut to end: an upload cut off
// keeps what arrived, as after Shutdown.
func (s *Server) Close() error {
	s.init()
	err := s.hs.Close()
	for deadline := time.Now().Add(cutRequestsGrace); s.running.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	return err
}

// cutRequestsGrace bounds how long Close waits for the requests it cut
// to keep what they received.
const cutRequestsGrace = 5 * time.Second

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// bodyDeadline gives a request's body the transfer timeout to arrive
// from the start of the handler, as the native protocol gives each chunk
// of a body: a client that stops sending a body (one that the handler
// reads, such as a login's, or one it leaves for net/http to drain
// after it) is cut off with its connection instead of holding both for
// as long as it likes. A tus PATCH moves the deadline on with each read
// (deadlineReader). Once the body is read whole, net/http lifts the
// deadline itself (its watch for the client going away), so a handler
// may go on working after that (an upload's commit on a slow store).
// http.Server's ReadTimeout would not do: its clock starts with the
// headers (readHeaderTimeout's), not with the body.
func (s *Server) bodyDeadline(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 { // a body: of a known length, or chunked (-1)
			_, transfer := s.Core.Timeouts()
			http.NewResponseController(w).SetReadDeadline(time.Now().Add(transfer))
		}
		h.ServeHTTP(w, r)
	})
}

// Loopback tells whether a listener's address is on a loopback interface
// only, where Serve may speak plain HTTP.
func Loopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// admitting counts each connection against Core's limits as it is
// accepted; one refused is told so (plain HTTP) and closed.
type admitting struct {
	net.Listener
	core  *server.Server
	plain bool
}

// busyAnswer is what a refused plain HTTP connection reads.
var busyAnswer = func() string {
	body := `{"error":"too many connections","status":270}` + "\n"
	return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}()

func (a *admitting) Accept() (net.Conn, error) {
	for {
		c, err := a.Listener.Accept()
		if err != nil {
			return nil, err
		}
		release, err := a.core.Admit(c.RemoteAddr(), server.ProtocolHTTP)
		if err != nil {
			if a.plain {
				c.SetWriteDeadline(time.Now().Add(time.Second))
				c.Write([]byte(busyAnswer))
			}
			c.Close()
			continue
		}
		return &admitted{Conn: c, release: release}, nil
	}
}

// admitted is a counted connection: closing it ends its count.
type admitted struct {
	net.Conn
	release func() // idempotent
}

func (c *admitted) Close() error {
	c.release()
	return c.Conn.Close()
}
