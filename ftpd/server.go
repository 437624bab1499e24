package ftpd

import (
	"context"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"ftpx/internal/serve"
	"ftpx/server"
)

// Server serves FTP sessions on the accounts, homes, limits, TLS settings
// and metrics of Core. Set its fields before calling Serve.
type Server struct {
	Core       *server.Server // required: everything but the FTP itself
	PassiveMin int            // first port of passive data connections; 0 (with PassiveMax 0): any free port
	PassiveMax int            // last port, inclusive
	Logger     *slog.Logger   // nil discards

	group    serve.Group   // listeners and sessions: accept, Shutdown, Close
	nextPort atomic.Uint32 // where the next passive port search starts in the range
}

// ErrServerClosed is returned by Serve after Shutdown or Close: the same
// error as every front end's.
var ErrServerClosed = server.ErrServerClosed

// Serve accepts FTP control connections on l and serves each in its own
// goroutine. It always returns a non-nil error; after Shutdown it is
// ErrServerClosed.
func (s *Server) Serve(l net.Listener) error {
	s.group.Name, s.group.Logger = server.ProtocolFTP, s.Logger
	return s.group.Serve(l, s.open)
}

// open admits a control connection against the limits every front end
// shares, or refuses it with a 421.
func (s *Server) open(c net.Conn) serve.Session {
	release, err := s.Core.Admit(c.RemoteAddr(), server.ProtocolFTP)
	if err != nil {
		refuse(c, err.Error())
		return nil
	}
	sess := newSession(s, c)
	sess.release = release
	return sess
}

// refuse answers 421 and closes c, without waiting long for a client that
// does not read.
func refuse(c net.Conn, why string) {
	c.SetWriteDeadline(time.Now().Add(time.Second))
	c.Write([]byte("421 " + why + "\r\n"))
	c.Close()
}

// Shutdown stops accepting, ends idle sessions (421), lets running
// transfers finish, and returns when every session has ended or ctx is
// done; then it closes what is left and returns ctx's error. An upload cut
// off keeps what arrived, to be resumed (REST, APPE).
func (s *Server) Shutdown(ctx context.Context) error { return s.group.Shutdown(ctx) }

// Close closes every listener and connection at once. Uploads cut off are
// kept as after Shutdown.
func (s *Server) Close() error { return s.group.Close() }

// closing reports whether Shutdown or Close has begun.
func (s *Server) closing() bool { return s.group.Closing() }

// Serve, InterruptIfIdle, Close and Refuse make a session a serve.Session.

func (c *session) Serve(done func()) {
	defer done()
	defer c.release()
	defer c.cancel()
	c.serve()
}

func (c *session) InterruptIfIdle() { c.interruptIfIdle() }

// Close cuts the connections and ends what the session waits for from an
// object store.
func (c *session) Close() {
	c.cancel()
	c.tcp.Close()
	c.closeData()
}

func (c *session) Refuse() {
	c.cancel()
	c.release()
	refuse(c.tcp, "server shutting down")
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}
