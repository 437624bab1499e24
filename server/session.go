package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"ftpx/home"
	"ftpx/protocol"

	"github.com/google/uuid"
)

// session is one connection: its state (who is logged in, the current
// directory) and the loop that reads requests and dispatches them.
type session struct {
	ctx    context.Context // done when the session is closed: its home's object-store calls end
	cancel context.CancelFunc
	srv    *Server
	tcp    net.Conn    // the accepted connection: Shutdown and Close use it from other goroutines
	conn   net.Conn    // the stream: rate, or the TLS connection over it after starttls
	rate   *rateConn   // tcp, slowed to the user's rates once logged in
	tls    bool        // conn is TLS
	r      *connReader // reads conn, flushing out first
	out    *connWriter // writes conn
	id     string
	log    *slog.Logger
	start  time.Time
	remote string // host:port
	ip     string // host

	user    string     // "" until auth succeeds
	home    *home.Home // nil until auth succeeds
	counted string     // the key this session is counted under in Server.users, once logged in
	cwd     string     // home path, "/" being the home root

	mu   sync.Mutex // guards idle, against Shutdown
	idle bool       // waiting for the next request

	requests int
	parked   bool          // run is on a fresh goroutine, about to wait for a request
	pending  []*pendingPut // pipelined puts read but not yet answered (pipeline.go)
	// committing is closed when the commit of the pipelined puts before
	// pending is done; nil when none runs
	committing chan struct{}
}

func (s *Server) newSession(c net.Conn) *session {
	id := uuid.NewString()
	remote := c.RemoteAddr().String()
	ip, _, err := net.SplitHostPort(remote)
	if err != nil {
		ip = remote
	}
	rc := &rateConn{Conn: c}
	out := &connWriter{dst: rc, timeout: s.transferTimeout, setDL: rc.SetWriteDeadline}
	ctx, cancel := context.WithCancel(context.Background())
	return &session{
		ctx:    ctx,
		cancel: cancel,
		ip:     ip,
		srv:    s,
		tcp:    c,
		conn:   rc,
		rate:   rc,
		r:      newConnReader(flushingReader{rc, out}), // holds no buffer while idle; big body reads bypass it
		out:    out,
		id:     id,
		remote: remote,
		log:    s.logger().With("protocol", ProtocolFTPX, "session", id, "remote", remote),
		start:  time.Now(),
		cwd:    "/",
	}
}

// Errors that end a session after the current request.
var (
	errPanic = errors.New("panic in handler")
	errQuit  = errors.New("client quit")
)

// serve runs the session until the client leaves, a protocol error or a
// timeout closes it, or the server shuts down; then it calls done, on
// whichever goroutine the session ended (see run).
func (c *session) serve(done func()) {
	if err := c.send(protocol.Response{
		Status:  protocol.StatusReady,
		Msg:     protocol.StatusReady.String(),
		Version: Version,
		Welcome: c.srv.settings().Welcome,
		Session: c.id,
		TLS:     c.srv.TLSConfig != nil,
	}); err != nil {
		c.end("greeting: "+err.Error(), done)
		return
	}
	c.parked = true
	c.run(done)
}

// run reads and dispatches requests. When the next request must be waited
// for with nothing buffered, it hands the session to a new goroutine and
// returns: that one waits with a small, fresh stack, while the stack this
// one grew doing the work (JSON, bcrypt, the file system) goes. An idle
// connection then costs a few KiB; a busy one (pipelined requests already
// buffered) stays on one goroutine.
func (c *session) run(done func()) {
	for {
		if !c.parked && c.r.Buffered() == 0 {
			c.parked = true
			go c.run(done)
			return
		}
		c.parked = false
		req, err := c.readRequest()
		if err != nil {
			c.settle()
			if reason := c.endWith(req, err); reason != "" {
				c.end(reason, done)
				return
			}
			continue
		}
		c.requests++
		if !(req.NoWait && !req.Stream && req.Action == protocol.ActionPut) {
			c.settle() // answers stay in the order of the requests
		}
		if err := c.dispatch(req); err != nil {
			c.end(err.Error(), done)
			return
		}
	}
}

// end closes the session for reason and calls done.
func (c *session) end(reason string, done func()) {
	c.waitCommit()
	for _, p := range c.pending { // none unless a path forgot to settle
		if p.up != nil {
			p.up.Abort()
		}
	}
	c.srv.held.Add(-uploads(c.pending))
	c.pending = nil
	if c.home != nil {
		c.home.Close()
	}
	if c.counted != "" {
		c.srv.logout(c.counted)
	}
	c.out.Flush()
	c.conn.Close()
	c.cancel()
	c.log.Info("connection closed", "requests", c.requests,
		"seconds", secondsSince(c.start), "reason", reason)
	done()
}

// readRequest waits, up to the idle timeout, for the next request frame.
// A frame that does not decode still gives a request with its id, when it
// has one, for the answer.
func (c *session) readRequest() (*protocol.Request, error) {
	c.mu.Lock()
	if c.srv.group.Closing() {
		c.mu.Unlock()
		return nil, errShuttingDown
	}
	c.idle = true
	c.tcp.SetReadDeadline(time.Now().Add(c.srv.idleTimeout()))
	c.mu.Unlock()

	err := c.r.WaitIdle() // blocks with no buffer held
	var b []byte
	if err == nil {
		b, err = protocol.ReadFrame(c.r, c.srv.maxHeader())
	}

	c.mu.Lock()
	c.idle = false
	c.mu.Unlock()
	if err != nil {
		return &protocol.Request{}, err
	}
	req := new(protocol.Request)
	if err := protocol.Decode(b, req); err != nil {
		return &protocol.Request{ID: protocol.PeekID(b)}, err
	}
	return req, nil
}

var errShuttingDown = errors.New("server shutting down")

// interruptIfIdle wakes a session blocked waiting for a request so that it
// sees the server is shutting down. A session in the middle of a request
// finishes it first and then sees the flag in readRequest.
func (c *session) interruptIfIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.idle {
		c.tcp.SetReadDeadline(time.Now())
	}
}

// endWith answers a failed request read. It returns "" when the session
// can go on (the bad frame was consumed whole), or the reason it ends.
func (c *session) endWith(req *protocol.Request, err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, protocol.ErrFormat), errors.Is(err, protocol.ErrEmpty):
		c.log.Info("bad request", "id", req.ID, "status", int(protocol.StatusBadFormat), "err", err.Error())
		c.reply(req, protocol.StatusBadFormat, err.Error())
		return ""
	case errors.Is(err, protocol.ErrTooLarge):
		c.reply(&protocol.Request{}, protocol.StatusHeaderTooLarge, err.Error())
		return "header too large"
	case errors.Is(err, errShuttingDown) || c.srv.group.Closing() && errors.As(err, &ne) && ne.Timeout():
		c.reply(&protocol.Request{}, protocol.StatusShuttingDown, "server shutting down")
		return "server shutting down"
	case errors.As(err, &ne) && ne.Timeout():
		c.reply(&protocol.Request{}, protocol.StatusTimeout, "idle timeout")
		return "idle timeout"
	case errors.Is(err, io.EOF):
		return "client closed"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated frame"
	}
	return "read: " + err.Error()
}

// dispatch runs one request's handler. A panic is logged with the request
// id, answered with a server error, and ends this session only.
func (c *session) dispatch(req *protocol.Request) (err error) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("panic in handler", "id", req.ID, "action", req.Action, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			c.reply(req, protocol.StatusServerError, "internal error")
			err = errPanic
		}
	}()
	if req.Action == "" {
		c.reply(req, protocol.StatusBadFormat, "no action")
		return nil
	}
	a, ok := actions[req.Action]
	switch {
	case !ok:
		return c.reply(req, protocol.StatusBadCommand, fmt.Sprintf("unknown action %q", req.Action))
	case c.srv.RequireTLS && !c.tls && req.Action != protocol.ActionStartTLS:
		return c.reply(req, protocol.StatusTLSRequired, "")
	case !a.open && c.home == nil:
		return c.reply(req, protocol.StatusNotLoggedIn, "")
	case !a.open && c.removed():
		c.reply(req, protocol.StatusNotLoggedIn, protocol.StatusNotLoggedIn.String()+" (the account was removed)")
		return errRemoved
	}
	return a.fn(c, req)
}

// send queues one response frame: it goes out, within the transfer
// timeout, when the session next waits for the client (connWriter). The
// error is that of an earlier write that failed.
func (c *session) send(resp protocol.Response) error {
	return protocol.WriteFrame(c.out, resp)
}

// reply answers req with a status and message and nothing else. The error
// is the write's; a handler returns it to end the session when the client
// can no longer be reached.
func (c *session) reply(req *protocol.Request, st protocol.Status, msg string) error {
	if msg == "" {
		msg = st.String()
	}
	return c.send(protocol.Response{ID: req.ID, Status: st, Msg: msg})
}

// fail answers req with the status that err maps to. The message is the
// status's own text: the client already knows the operation and the path,
// and server-side detail stays in the log.
func (c *session) fail(req *protocol.Request, err error) error {
	return c.failWith(req, err, "")
}

// failWith is fail with a message of the caller's ("" for the status's
// text).
func (c *session) failWith(req *protocol.Request, err error, msg string) error {
	st := statusFor(err)
	level := slog.LevelInfo
	if st == protocol.StatusServerError {
		level = slog.LevelError
	}
	c.log.Log(context.Background(), level, req.Action+" refused", "id", req.ID, "status", int(st), "err", err.Error())
	if msg == "" {
		msg = message(st, err)
	}
	return c.reply(req, st, msg)
}

// resolve turns a wire path into a home path, relative to the current
// directory.
func (c *session) resolve(p string) (string, error) {
	return home.Resolve(c.cwd, p)
}

func secondsSince(t time.Time) float64 {
	return float64(time.Since(t).Microseconds()) / 1e6
}

// isTimeout reports whether err is a deadline that passed.
func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}
