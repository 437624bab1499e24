package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"ftpx/protocol"
)

// RetryPolicy says how a Client that lost its connection tries again:
// up to Retries reconnections in a row that make no progress, waiting
// Delay before the first, twice as long before each next one, never more
// than MaxDelay.
type RetryPolicy struct {
	Retries  int
	Delay    time.Duration
	MaxDelay time.Duration // zero means DefaultMaxDelay
}

// The command's defaults: --retries 5 --retry-delay 1s, doubling up to 30s.
const (
	DefaultRetries    = 5
	DefaultRetryDelay = time.Second
	DefaultMaxDelay   = 30 * time.Second
)

// Backoff returns the delay before retry n (1 for the first).
func (p RetryPolicy) Backoff(n int) time.Duration {
	limit := p.MaxDelay
	if limit <= 0 {
		limit = DefaultMaxDelay
	}
	d := p.Delay
	for i := 1; i < n && d > 0 && d < limit; i++ {
		d *= 2
	}
	return max(min(d, limit), 0)
}

// Retryable reports whether trying again may fix err: a lost or refused
// connection, a server that timed out, is shutting down, is full (270),
// or has not yet noticed that the old connection of a transfer died
// (280). A refusal (auth, quota, permission, a missing file, an MD5
// mismatch, a bad path...) and a cancelled operation never are.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		switch se.Status {
		case protocol.StatusTooManyConns, protocol.StatusTimeout, protocol.StatusShuttingDown, protocol.StatusTransferBusy, protocol.StatusTooManySessions:
			return true
		}
		return false
	}
	return errors.Is(err, ErrConnection)
}

// cancelled reports whether err ended an operation whose context was
// cancelled (Ctrl-C in the shell): the connection was closed on purpose
// and the next operation, under a live context, replaces it.
func cancelled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// usable reports whether the next operation can run: the connection is
// up, or it was lost or cancelled and this Client can replace it.
func (c *Client) usable() bool {
	return c.err == nil || c.cfg != nil && (Retryable(c.err) || cancelled(c.err))
}

// errAgain is returned by an attempt that changed its plan (start over
// from offset 0, take a new transfer id) and wants to run again at once,
// without waiting and without counting a retry.
var errAgain = errors.New("try again at once")

// maxAgain bounds how often in a row an attempt may ask to run again at
// once: each such change of plan moves towards offset 0, so a few are
// enough.
const maxAgain = 8

// retryError is what is left when the retries ran out: the last failure,
// which ExitCode maps to 3.
type retryError struct {
	op, path string
	retries  int
	err      error
}

// Error names the operation given up (the last failure may be a
// reconnection's, which names only the server) and, for a transfer, how
// to go on.
func (e *retryError) Error() string {
	msg := e.err.Error()
	if prefix := opPath(e.op, e.path) + ": "; !strings.HasPrefix(msg, prefix) {
		msg = prefix + msg
	}
	if e.op != "get" && e.op != "put" { // nothing kept to continue from
		return fmt.Sprintf("%s (gave up after %d retries)", msg, e.retries)
	}
	return fmt.Sprintf("%s (gave up after %d retries; run the same command again, or ftpx resume, to continue)", msg, e.retries)
}

func (e *retryError) Unwrap() error { return e.err }

// retry runs attempt until it succeeds, fails in a way retrying cannot
// fix, or Retries attempts in a row fail without progress. Before an
// attempt that follows a lost connection it reconnects; a failure to
// reconnect counts as a failed attempt. A Client made by Dial (no
// Config) runs attempt once.
func (c *Client) retry(ctx context.Context, op, path string, attempt func() (progressed bool, err error)) error {
	fails, again := 0, 0
	for {
		var err error
		progressed := false
		if c.err != nil && c.usable() && ctx.Err() == nil {
			err = c.reconnect(ctx)
		}
		if err == nil {
			progressed, err = attempt()
		}
		switch {
		case errors.Is(err, errAgain) && again < maxAgain:
			again++
			continue
		case errors.Is(err, errAgain):
			return &opError{op: op, path: path, err: fmt.Errorf("started over %d times in a row; giving up", again)}
		case err == nil || c.cfg == nil || !Retryable(err) || ctx.Err() != nil:
			return err
		}
		again = 0
		if progressed {
			fails = 0
		}
		if fails >= c.cfg.Retry.Retries {
			return &retryError{op: op, path: path, retries: fails, err: err}
		}
		fails++
		delay := c.cfg.Retry.Backoff(fails)
		if c.cfg.Retrying != nil {
			c.cfg.Retrying(fmt.Sprintf("%s: %v; retry %d of %d in %v", opPath(op, path), trimOp(err, op, path), fails, c.cfg.Retry.Retries, delay))
		}
		if sleep(ctx, delay) != nil {
			return &opError{op: op, path: path, err: context.Cause(ctx)}
		}
	}
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// trimOp is err's message without the "op path: " it may start with.
func trimOp(err error, op, path string) string {
	return strings.TrimPrefix(err.Error(), opPath(op, path)+": ")
}
