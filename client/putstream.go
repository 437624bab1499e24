package client

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"time"

	"ftpx/protocol"
)

// PutStream uploads what r holds to remote (standard input, for `ftpx
// put - REMOTE`), its size known only when r ends: a streamed put, sent in
// chunks of at most 1 MiB and hashed on the way, stored by the server only
// once that MD5 matches (a mismatch is StatusMD5Mismatch, exit 6). An
// empty r makes an empty file. A refusal in the middle (264: over the
// quota) stops the sending at once. It is one attempt: r cannot be read
// again, so nothing is resumed or retried and no resume point is kept; a
// lost connection stores nothing, and its error says so. p, when not
// nil, starts with size -1 (not known).
func (c *Client) PutStream(ctx context.Context, r io.Reader, remote string, p Progress) (Result, error) {
	start := time.Now()
	t := &transferState{c: c, op: "put", arg: remote, p: p, res: Result{Action: protocol.ActionPut, Local: "-", Remote: remote}}
	err := c.putStream(ctx, r, t)
	if err != nil && ExitCode(err) == ExitConnection && ctx.Err() == nil {
		err = &streamLost{err}
	}
	t.end(start, err)
	return t.res, err
}

// streamLost is a streamed put cut off with its connection.
type streamLost struct{ err error }

func (e *streamLost) Error() string {
	return e.err.Error() + " (standard input cannot be resumed: nothing was stored)"
}

func (e *streamLost) Unwrap() error { return e.err }

// putStream asks for a streamed put, sends r as its body and the MD5, and
// reads the answer into t.res.
func (c *Client) putStream(ctx context.Context, r io.Reader, t *transferState) error {
	remote := t.arg
	stop := c.watch(ctx)
	defer stop()
	id, err := c.send(ctx, "put", remote, &protocol.Request{Action: protocol.ActionPut, Filename: remote, Stream: true})
	if err != nil {
		return err
	}
	resp, err := c.readResponse(ctx, "put", remote, id)
	if err != nil {
		return err
	}
	if resp.Status == protocol.StatusBadSize { // a server from before streamed puts wants a size
		resp.Msg = resp.Status.String() + " (this server cannot take a file of unknown size: put a file instead)"
	}
	if err := expect(resp, "put", remote, protocol.StatusReadyToSend); err != nil {
		return err
	}
	t.res.Size = -1 // not known: the progress shows no total
	t.begin(0)
	t.res.Size = 0
	h := md5.New()
	if err := c.sendChunks(ctx, r, t, id, h); err != nil {
		return err
	}
	t.res.MD5 = hex.EncodeToString(h.Sum(nil))
	if err := protocol.WriteFrame(c.rw, protocol.Request{MD5: t.res.MD5}); err != nil {
		return c.fail(ctx, "put", remote, ErrConnection, err)
	}
	if resp, err = c.readResponse(ctx, "put", remote, id); err != nil {
		return err
	}
	if err := expect(resp, "put", remote, protocol.StatusMD5OK); err != nil {
		return err
	}
	if resp.Size != nil && *resp.Size != t.res.Size {
		return c.fail(ctx, "put", remote, ErrProtocol, errors.New("the server stored another size than was sent"))
	}
	return nil
}

// sendChunks sends r to its end as the chunks of a streamed body, hashed
// into h, then the end chunk. While it sends it watches for the server's
// early answer, and on one stops, reads it and returns it. A failure to
// read r gives the put up ({"abandon":true}).
func (c *Client) sendChunks(ctx context.Context, r io.Reader, t *transferState, id string, h hash.Hash) error {
	remote := t.arg
	w := protocol.NewChunkWriter(c.rw)
	size := protocol.MaxChunk
	if c.lim != nil {
		size = c.lim.chunk()
	}
	stop := make(chan struct{})
	defer close(stop)
	in := readAhead(r, size, stop)
	watch := c.watchAnswer()
	var rerr, werr error
	for rerr == nil && werr == nil && !watch.answered() {
		var b []byte
		select {
		case got := <-in:
			b, rerr = got.b, got.err
		case <-ctx.Done():
			werr = context.Cause(ctx) // the input may never come (a terminal): not waited for
		}
		if len(b) == 0 {
			continue
		}
		h.Write(b)
		if _, werr = w.Write(b); werr == nil {
			t.moved(len(b))
			t.res.Size += int64(len(b))
			werr = c.lim.wait(ctx, len(b))
		}
	}
	answered := watch.stop()
	switch {
	case answered && ctx.Err() == nil:
		return c.earlyAnswer(ctx, remote, id)
	case werr != nil:
		return c.lostDuringPut(ctx, remote, id, werr)
	case rerr != io.EOF:
		return c.giveUpStream(ctx, w, remote, id, rerr)
	}
	if err := w.Close(); err != nil {
		return c.lostDuringPut(ctx, remote, id, err)
	}
	return nil
}

// readResult is one read of a streamed put's source.
type readResult struct {
	b   []byte
	err error
}

// readAhead reads r on its own goroutine, into two buffers of size bytes
// in turn: the next read runs while the last one is sent, and a put that
// is cancelled, or answered early, need not wait for input that may be
// long in coming. Each result's bytes are valid until the next receive.
// The goroutine ends after r's error, or once stop is closed (at the end
// of the read it may be blocked in).
func readAhead(r io.Reader, size int, stop <-chan struct{}) <-chan readResult {
	out := make(chan readResult)
	go func() {
		bufs := [2][]byte{make([]byte, size), make([]byte, size)}
		for i := 0; ; i ^= 1 {
			n, err := r.Read(bufs[i])
			select {
			case out <- readResult{bufs[i][:n], err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return out
}

// giveUpStream ends a streamed body that could not be read to its end
// (rerr), so that the server stores nothing and the connection stays in
// step.
func (c *Client) giveUpStream(ctx context.Context, w *protocol.ChunkWriter, remote, id string, rerr error) error {
	if err := w.Close(); err != nil {
		return c.lostDuringPut(ctx, remote, id, err)
	}
	if _, err := c.abandonPut(ctx, remote, id); err != nil {
		return err
	}
	return localError("put", "-", rerr)
}
