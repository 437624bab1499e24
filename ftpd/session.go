package ftpd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"ftpx/home"
	"ftpx/server"

	"github.com/google/uuid"
)

// session is one FTP control connection: its state and the loop that
// reads commands and dispatches them.
type session struct {
	ctx     context.Context // done when the session is closed: its home's object-store calls end
	cancel  context.CancelFunc
	srv     *Server
	core    *server.Server
	tcp     net.Conn      // the accepted connection
	release func()        // ends its count against the connection limits (Core.Admit)
	conn    net.Conn      // tcp, or TLS over it after AUTH TLS
	r       *bufio.Reader // reads conn, one line at a time (maxLine)
	log     *slog.Logger
	start   time.Time
	remote  net.IP // the client's address: data connections must come from it
	local   net.IP // ours, where passive data connections listen

	// The reader goroutine reads one line each time it is let (next) and
	// hands it over (lines), so that during a transfer the control
	// connection is still read: an ABOR, or the client going away.
	next    chan struct{}
	lines   chan line
	reading bool  // the reader has a permit and has not handed its line over yet
	pending *line // a command that came during a transfer, to run after it

	tls       bool // the control connection is TLS
	protected bool // PROT P: data connections are TLS too

	user       string // given by USER, waiting for PASS
	login      *server.Login
	home       *home.Home
	cwd        string
	rest       int64 // REST's offset, for the next command only
	restSet    bool
	renameFrom string // RNFR's path, for the next command only
	epsvAll    bool   // EPSV ALL: no PORT/EPRT any more

	dataMu sync.Mutex   // guards pasv and data against Close
	pasv   net.Listener // from PASV/EPSV, for the next data command
	port   *net.TCPAddr // from PORT/EPRT, for the next data command
	data   net.Conn     // the data connection of the transfer running

	mu   sync.Mutex // guards idle, against Shutdown
	idle bool

	commands int
}

type line struct {
	text string
	err  error
}

func newSession(s *Server, c net.Conn) *session {
	id := uuid.NewString()
	remote := c.RemoteAddr().String()
	ctx, cancel := context.WithCancel(context.Background())
	sess := &session{
		ctx: ctx, cancel: cancel,
		srv: s, core: s.Core, tcp: c, conn: c,
		r:     bufio.NewReaderSize(c, maxLine),
		log:   s.logger().With("protocol", server.ProtocolFTP, "session", id, "remote", remote),
		start: time.Now(),
		next:  make(chan struct{}),
		lines: make(chan line, 1),
		cwd:   "/",
	}
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		sess.remote = a.IP
	}
	if a, ok := c.LocalAddr().(*net.TCPAddr); ok {
		sess.local = a.IP
	}
	oobInline(c)
	return sess
}

// oobInline keeps TCP urgent data in the stream: ftplib and others send
// ABOR with MSG_OOB, whose last byte would otherwise be taken out of it.
func oobInline(c net.Conn) {
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			raw.Control(func(fd uintptr) {
				syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_OOBINLINE, 1)
			})
		}
	}
}

// Errors that end a session after the current command.
var (
	errQuit  = errors.New("client quit")
	errPanic = errors.New("panic in handler")
	errGone  = errors.New("control connection lost")
	// errRemoved ends the session of a user removed from the accounts.
	errRemoved = errors.New("the account was removed")
)

// serve runs the session until the client quits or goes away, a timeout,
// or the server shuts down.
func (c *session) serve() {
	reason := "client closed"
	go c.readLines()
	defer func() {
		close(c.next)
		c.closeData()
		if c.login != nil {
			c.login.Close()
		}
		c.conn.Close()
		c.log.Info("connection closed", "commands", c.commands, "seconds", secondsSince(c.start), "reason", reason)
	}()
	if err := c.greet(); err != nil {
		reason = "greeting: " + err.Error()
		return
	}
	for {
		l, ok := c.nextLine()
		if !ok {
			reason = "server shutting down"
			c.reply(421, "server shutting down")
			return
		}
		if l.err != nil {
			reason = c.endWith(l.err)
			return
		}
		c.commands++
		if err := c.dispatch(l.text); err != nil {
			reason = err.Error()
			return
		}
	}
}

// greet sends 220 with the welcome text.
func (c *session) greet() error {
	text := "ftpx FTP server ready"
	if w := c.core.LiveSettings().Welcome; w != "" {
		text = w + "\n" + text
	}
	return c.reply(220, text)
}

// readLines is the reader goroutine: one line per permit on next.
func (c *session) readLines() {
	for range c.next {
		text, err := c.readLine()
		c.lines <- line{text, err}
		if err != nil {
			return
		}
	}
}

// readLine reads one command line of at most maxLine bytes.
func (c *session) readLine() (string, error) {
	b, err := c.r.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return "", errTooLong
	case err != nil && len(b) > 0 && err == io.EOF:
		return "", io.ErrUnexpectedEOF
	case err != nil:
		return "", err
	}
	return string(b), nil
}

var errTooLong = errors.New("command line too long")

// nextLine waits, up to the idle timeout, for the next command: the one
// that came during a transfer, or a new one. It reports false when the
// server is shutting down.
func (c *session) nextLine() (line, bool) {
	if c.pending != nil {
		l := *c.pending
		c.pending = nil
		return l, true
	}
	c.mu.Lock()
	if c.srv.closing() {
		c.mu.Unlock()
		return line{}, false
	}
	c.idle = true
	idle, _ := c.core.Timeouts()
	c.tcp.SetReadDeadline(time.Now().Add(idle))
	c.mu.Unlock()

	c.permit()
	l := <-c.lines
	c.reading = false

	c.mu.Lock()
	c.idle = false
	c.mu.Unlock()
	var ne net.Error
	if l.err != nil && c.srv.closing() && errors.As(l.err, &ne) && ne.Timeout() {
		return line{}, false
	}
	return l, true
}

// interruptIfIdle wakes a session waiting for a command, so that it sees
// the server is shutting down.
func (c *session) interruptIfIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.idle {
		c.tcp.SetReadDeadline(time.Now())
	}
}

// endWith answers a failed read of a command, if the client can still
// hear it, and returns why the session ends.
func (c *session) endWith(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, errTooLong):
		c.reply(500, "command line too long")
		return "command line too long"
	case errors.As(err, &ne) && ne.Timeout():
		c.reply(421, "idle timeout; closing the control connection")
		return "idle timeout"
	case errors.Is(err, io.EOF):
		return "client closed"
	}
	return "read: " + err.Error()
}

// dispatch runs one command line. A panic is logged, answered 451 and
// ends this session only.
func (c *session) dispatch(text string) (err error) {
	verb, arg := parseLine(text)
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("panic in handler", "command", verb, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			c.reply(451, "internal error")
			err = errPanic
		}
	}()
	// REST and RNFR hold for the very next command only.
	rest, restSet, from := c.rest, c.restSet, c.renameFrom
	c.rest, c.restSet, c.renameFrom = 0, false, ""
	cmd, ok := commands[verb]
	switch {
	case verb == "":
		return c.reply(500, "syntax error, command unrecognized")
	case !ok:
		return c.reply(502, verb+" not implemented")
	case cmd.arg == argNone && arg != "":
		return c.reply(501, verb+" takes no argument")
	case cmd.arg == argRequired && strings.TrimSpace(arg) == "":
		return c.reply(501, verb+" needs an argument")
	case !cmd.open && c.login == nil:
		return c.reply(530, "please log in with USER and PASS")
	case !cmd.open && c.login.Removed():
		c.reply(421, errRemoved.Error())
		return errRemoved
	}
	switch verb {
	case "RETR", "STOR", "APPE":
		c.rest, c.restSet = rest, restSet
	case "RNTO":
		c.renameFrom = from
	}
	return cmd.fn(c, arg)
}

// reply sends one reply; a text of several lines is sent as a multi-line
// reply (each line after the first indented, as RFC 959 asks for lines
// that could start with a code).
func (c *session) reply(code int, text string) error {
	var b strings.Builder
	lines := strings.Split(strings.ReplaceAll(text, "\r", ""), "\n")
	for i, l := range lines {
		switch {
		case i == len(lines)-1:
			fmt.Fprintf(&b, "%d %s\r\n", code, l)
		case i == 0:
			fmt.Fprintf(&b, "%d-%s\r\n", code, l)
		default:
			fmt.Fprintf(&b, " %s\r\n", l)
		}
	}
	_, transfer := c.core.Timeouts()
	c.conn.SetWriteDeadline(time.Now().Add(transfer))
	_, err := io.WriteString(c.conn, b.String())
	return err
}

// fail answers a refused command with the code err maps to, naming what
// the client asked for, and logs it.
func (c *session) fail(verb, arg string, err error) error {
	code, text := codeFor(err)
	level := slog.LevelInfo
	if code == 451 {
		level = slog.LevelError
	}
	c.log.Log(context.Background(), level, strings.ToLower(verb)+" refused", "arg", arg, "code", code, "err", err.Error())
	return c.reply(code, arg+": "+text)
}

// resolve turns a path from the client into a home path, relative to the
// current directory.
func (c *session) resolve(p string) (string, error) {
	return home.Resolve(c.cwd, p)
}

func secondsSince(t time.Time) float64 {
	return float64(time.Since(t).Microseconds()) / 1e6
}
