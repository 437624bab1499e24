package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"ftpx/internal/ids"
	"ftpx/protocol"
)

// Client is one authenticated (or not yet authenticated) connection to an
// ftpx server. It is not safe for concurrent use.
type Client struct {
	addr     string
	conn     net.Conn      // the raw connection, closed on cancellation
	rw       *deadlineConn // conn with a deadline refreshed before each read and write
	br       *bufio.Reader // frames and get bodies are read through it
	greeting protocol.Response

	// err, once set, is returned by every later operation: the connection
	// is closed or out of step with the server. A Client made by Connect
	// replaces a connection lost this way (see retry).
	err error

	cfg *Config  // nil for a Client made by Dial: no reconnection, no resume points
	lim *limiter // nil: no rate cap
	cwd string   // the remote current directory, restored after a reconnection

	recordNames map[string]bool // the records' file names, while a batch plans (batchRecords)
	localDir    string          // the local working directory, during a batch (batchRecords)
	noTree      bool            // the server has no tree action: get -r lists with ls
}

// ioTimeout bounds how long one read or write may stall before the client
// gives up on the server.
const ioTimeout = protocol.DefaultTransferTimeout

// Dial connects to the server at addr and reads its greeting. A failure to
// connect, and a server refusing with 270 (too many connections), give
// errors for which ExitCode returns 3.
func Dial(ctx context.Context, addr string) (*Client, error) {
	d := net.Dialer{Timeout: protocol.DefaultDialTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &opError{op: "connect", path: addr, kind: ErrConnection, err: err}
	}
	rw := &deadlineConn{Conn: conn, timeout: ioTimeout}
	c := &Client{addr: addr, conn: conn, rw: rw, br: bufio.NewReader(rw), cwd: "/"}

	stop := c.watch(ctx)
	resp, err := c.readResponse(ctx, "connect", addr, "")
	stop()
	if err != nil {
		c.conn.Close()
		return nil, err
	}
	if resp.Status != protocol.StatusReady {
		c.conn.Close()
		return nil, &StatusError{Op: "connect", Path: addr, Status: resp.Status, Msg: resp.Msg}
	}
	c.greeting = *resp
	return c, nil
}

// Greeting returns the frame the server sent on connect: its version,
// welcome text and session id.
func (c *Client) Greeting() protocol.Response { return c.greeting }

// Close says goodbye to the server (best effort, bounded by a short
// deadline) and closes the connection.
func (c *Client) Close() error {
	if c.err == nil {
		c.rw.timeout = 2 * time.Second
		if protocol.WriteFrame(c.rw, protocol.Request{ID: ids.New(), Action: protocol.ActionQuit}) == nil {
			protocol.ReadResponse(c.br, protocol.MaxResponseHeader) // the 277, or whatever comes
		}
	}
	c.err = ErrClosed
	return c.conn.Close()
}

// watch closes the connection when ctx is done, so that blocked I/O
// returns. The returned function stops watching.
func (c *Client) watch(ctx context.Context) (stop func() bool) {
	conn := c.conn
	return context.AfterFunc(ctx, func() { conn.Close() })
}

// fail records err as the connection's fatal error, closes the connection
// and returns err. A cancelled context takes precedence: the connection
// was closed on purpose.
func (c *Client) fail(ctx context.Context, op, path string, kind, err error) error {
	if ctx.Err() != nil {
		err = &opError{op: op, path: path, err: context.Cause(ctx)}
	} else {
		err = &opError{op: op, path: path, kind: kind, err: err}
	}
	if c.err == nil {
		c.err = err
	}
	c.conn.Close()
	return err
}

// send writes one request, giving it a fresh id, which it returns.
func (c *Client) send(ctx context.Context, op, path string, req *protocol.Request) (string, error) {
	if c.err != nil {
		return "", c.err
	}
	req.ID = ids.New()
	if err := protocol.WriteFrame(c.rw, req); err != nil {
		return "", c.fail(ctx, op, path, ErrConnection, err)
	}
	return req.ID, nil
}

// readResponse reads one response frame and checks that it answers the
// request with the given id (an answer may leave the id out, as a server
// does when it could not parse the request; the greeting has none). A status after which the
// server closes the connection is recorded, so later calls fail at once.
func (c *Client) readResponse(ctx context.Context, op, path, id string) (*protocol.Response, error) {
	if c.err != nil {
		return nil, c.err
	}
	resp, err := protocol.ReadResponse(c.br, protocol.MaxResponseHeader)
	switch {
	case errors.Is(err, protocol.ErrFormat), errors.Is(err, protocol.ErrTooLarge), errors.Is(err, protocol.ErrEmpty):
		return nil, c.fail(ctx, op, path, ErrProtocol, err)
	case err != nil:
		return nil, c.fail(ctx, op, path, ErrConnection, err)
	}
	if id != "" && resp.ID != "" && resp.ID != id {
		return nil, c.fail(ctx, op, path, ErrProtocol, fmt.Errorf("answer for request %q, want %q", resp.ID, id))
	}
	if resp.Status.Closes() {
		c.err = &StatusError{Op: op, Path: path, Status: resp.Status, Msg: resp.Msg}
		c.conn.Close()
	}
	return resp, nil
}

// deadlineConn refreshes the connection's deadline before every read and
// write, so a server that stalls is given up on after timeout without a
// timer for the whole transfer.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
}

func (d *deadlineConn) Read(p []byte) (int, error) {
	d.Conn.SetReadDeadline(time.Now().Add(d.timeout))
	return d.Conn.Read(p)
}

func (d *deadlineConn) Write(p []byte) (int, error) {
	d.Conn.SetWriteDeadline(time.Now().Add(d.timeout))
	return d.Conn.Write(p)
}
