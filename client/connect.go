package client

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"ftpx/protocol"
)

// Config is what a Client needs to reconnect by itself, to pace its
// transfers and to keep resume points.
type Config struct {
	Addr     string // host:port
	User     string
	Password string

	// Retry says how often and how patiently a lost connection is
	// reconnected; the zero value never retries.
	Retry RetryPolicy
	// RateLimit caps the transfer rate in bytes per second, both ways;
	// zero or less means no cap.
	RateLimit int64
	// Records, when set, keeps the resume points of interrupted transfers.
	Records *Records
	// Notice, when set, is told what a transfer decided on its own, one
	// line without "ftpx: ", e.g. "put big.iso: source changed since the
	// interrupted transfer; starting over".
	Notice func(msg string)
	// Retrying, when set, is told before each retry of a lost connection,
	// one line without "ftpx: ", e.g. "put big.iso: connection lost (...);
	// retry 1 of 5 in 1s". Unlike Notice it is meant for --quiet too: a
	// script's log should show that a transfer was retried.
	Retrying func(msg string)
	// TLS, when set, switches every connection to TLS before logging in.
	TLS *TLSOptions
}

// Connect dials cfg.Addr and logs in. The first connection is not retried
// (a server that is down is reported at once, exit status 3); later ones,
// after a connection dropped mid-operation, follow cfg.Retry.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	c, err := dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := c.Auth(ctx, cfg.User, cfg.Password); err != nil {
		c.Close()
		return nil, err
	}
	c.cfg, c.lim = &cfg, newLimiter(cfg.RateLimit)
	return c, nil
}

// dial connects and, when cfg asks for it, switches to TLS.
func dial(ctx context.Context, cfg Config) (*Client, error) {
	c, err := Dial(ctx, cfg.Addr)
	if err != nil || cfg.TLS == nil {
		return c, err
	}
	if err := c.StartTLS(ctx, *cfg.TLS); err != nil {
		c.conn.Close()
		return nil, err
	}
	return c, nil
}

// Reconnect replaces the connection with a new, logged-in one in the same
// remote directory, as the retries do; a shell calls it when the user
// asks to after the retries ran out. A Client made by Dial cannot.
func (c *Client) Reconnect(ctx context.Context) error {
	if c.cfg == nil {
		return &opError{op: "connect", path: c.addr, err: errors.New("no configuration to reconnect with")}
	}
	return c.reconnect(ctx)
}

// Cwd returns the remote current directory as this client last learned
// it ("/" being the home root).
func (c *Client) Cwd() string { return c.cwd }

// reconnect replaces a lost connection with a new, logged-in one in the
// same remote directory.
func (c *Client) reconnect(ctx context.Context) error {
	c.conn.Close()
	nc, err := dial(ctx, *c.cfg)
	if err != nil {
		return err
	}
	if err := nc.Auth(ctx, c.cfg.User, c.cfg.Password); err != nil {
		nc.conn.Close()
		return err
	}
	c.conn, c.rw, c.br, c.greeting, c.err = nc.conn, nc.rw, nc.br, nc.greeting, nil
	if c.cwd == "/" {
		return nil
	}
	resp, err := c.roundTrip1(ctx, "cd", c.cwd, &protocol.Request{Action: protocol.ActionCd, Path: c.cwd})
	if err != nil {
		return err
	}
	return expect(resp, "cd", c.cwd, protocol.StatusDirChanged)
}

// roundTrip sends req and reads its answer, reconnecting and trying again
// (see retry) when the connection was lost. An answer saying the server
// closes, or that it is busy, counts as a failure here, so it is retried.
func (c *Client) roundTrip(ctx context.Context, op, path string, req *protocol.Request) (*protocol.Response, error) {
	var resp *protocol.Response
	err := c.retry(ctx, op, path, func() (bool, error) {
		var err error
		if resp, err = c.roundTrip1(ctx, op, path, req); err != nil {
			return false, err
		}
		if st := resp.Status; st != protocol.StatusGoodbye && st.Closes() || st == protocol.StatusTransferBusy {
			return false, &StatusError{Op: op, Path: path, Status: st, Msg: resp.Msg}
		}
		return false, nil
	})
	return resp, err
}

// roundTrip1 sends req and reads its answer on the current connection.
func (c *Client) roundTrip1(ctx context.Context, op, path string, req *protocol.Request) (*protocol.Response, error) {
	stop := c.watch(ctx)
	defer stop()
	id, err := c.send(ctx, op, path, req)
	if err != nil {
		return nil, err
	}
	return c.readResponse(ctx, op, path, id)
}

func (c *Client) records() *Records {
	if c.cfg == nil {
		return nil
	}
	return c.cfg.Records
}

func (c *Client) server() string {
	if c.cfg == nil {
		return c.addr
	}
	return c.cfg.Addr
}

func (c *Client) user() string {
	if c.cfg == nil {
		return ""
	}
	return c.cfg.User
}

func (c *Client) notice(format string, args ...any) {
	if c.cfg != nil && c.cfg.Notice != nil {
		c.cfg.Notice(fmt.Sprintf(format, args...))
	}
}

// abs returns the home path ("/a/b") of a remote path as the server
// would resolve it from the current directory.
func (c *Client) abs(remote string) string {
	if strings.HasPrefix(remote, "/") {
		return path.Clean(remote)
	}
	return path.Join(c.cwd, remote)
}
