package client

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"ftpx/protocol"
)

// A server whose disk fails under a put answers at once, while the body is
// still coming (286 when it is full), and reads and drops the rest. So
// that a big put stops there instead of sending everything for nothing,
// the client watches the connection while it sends: once something
// arrives, it stops sending, reads the answer and drops the connection
// (the stream is out of step); the next operation reconnects.

// errAnswered ends a body copy when the server has answered early.
var errAnswered = errors.New("the server answered before the body was sent")

// answerWatch peeks at the connection on its own goroutine while a put
// body goes out; nothing else reads the connection meanwhile.
type answerWatch struct {
	c        *Client
	arrived  atomic.Bool
	stopping atomic.Bool
	done     chan struct{}
}

// watchAnswer starts watching for an early answer.
func (c *Client) watchAnswer() *answerWatch {
	w := &answerWatch{c: c, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for !w.stopping.Load() {
			_, err := c.br.Peek(1)
			if err == nil {
				w.arrived.Store(true)
				return
			}
			if !isTimeout(err) {
				return // the connection failed: the sending side will see it
			}
		}
	}()
	return w
}

// answered reports whether the server has sent something.
func (w *answerWatch) answered() bool { return w.arrived.Load() }

// stop ends the watch, waking the goroutine with a read deadline in the
// past, and reports whether an answer arrived. Later reads set their own
// deadlines again.
func (w *answerWatch) stop() bool {
	w.stopping.Store(true)
	for {
		w.c.rw.Conn.SetReadDeadline(time.Now())
		select {
		case <-w.done:
			return w.arrived.Load()
		case <-time.After(5 * time.Millisecond): // the goroutine set a new deadline meanwhile: again
		}
	}
}

// earlyAnswer reads the answer the server sent while a put body was still
// going out, and drops the connection, which is out of step now; the
// next operation reconnects. It returns the refusal.
func (c *Client) earlyAnswer(ctx context.Context, remote, id string) error {
	c.rw.timeout = ioTimeout
	resp, err := protocol.ReadResponse(c.br, protocol.MaxResponseHeader)
	switch {
	case err != nil:
		return c.fail(ctx, "put", remote, ErrConnection, err)
	case resp.ID != "" && resp.ID != id || resp.Status == protocol.StatusMD5OK || resp.Status == protocol.StatusReadyToSend:
		return c.fail(ctx, "put", remote, ErrProtocol, errors.New("unexpected answer before the end of the body"))
	}
	c.err = &opError{op: "put", path: remote, kind: ErrConnection, err: errors.New("connection dropped after an answer mid-body")}
	c.conn.Close()
	return &StatusError{Op: "put", Path: remote, Status: resp.Status, Msg: resp.Msg}
}

// isTimeout reports whether err is a read deadline that passed.
func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

// keepsPartial reports whether a put that failed with err left bytes on
// the server worth resuming: it was refused for want of space, or because
// the server's object store stopped answering, after some of it was sent,
// or while resuming. Its record then stays, for the same put (or ftpx
// resume) once space is freed or the store is back, or for ftpx resume
// --cancel.
func (j *putJob) keepsPartial(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && (se.Status == protocol.StatusNoSpace || se.Status == protocol.StatusUnavailable) &&
		(j.res.Sent > 0 || j.fh.pos > 0)
}
