package client

import (
	"context"
	"errors"
	"fmt"

	"ftpx/protocol"
)

// A file that changes while it is put would leave on the server a copy
// that matches no version of it, though its MD5 matches what was sent:
// so the put is given up and nothing is stored. A file that grew or was
// rewritten is noticed before the md5 frame, which the client replaces by
// {"abandon":true}; one that shrank cannot finish its body, so the client
// drops the connection and cancels the server's partial from a new one.
// Either way the put fails (exit 1) and running it again starts over.

// sourceChanged returns why the local file is no longer the one whose
// size and mtime the put began with, or nil.
func (j *putJob) sourceChanged() error {
	fi, err := j.f.Stat()
	switch {
	case err != nil:
		return nil // the reads went fine; nothing says it changed
	case fi.Size() != j.rec.SourceSize:
		return j.changedError(fmt.Sprintf("its size went from %d to %d bytes", j.rec.SourceSize, fi.Size()))
	case !fi.ModTime().Equal(j.rec.SourceMTime):
		return j.changedError("it was modified")
	}
	return nil
}

func (j *putJob) changedError(why string) error {
	return &opError{op: "put", path: j.local, err: fmt.Errorf("the file changed while it was sent (%s); nothing was stored: put it again", why)}
}

// abandon sends {"abandon":true} in place of the md5 frame and returns
// why once the server has dropped the upload.
func (j *putJob) abandon(ctx context.Context, id string, why error) error {
	resp, err := j.c.abandonPut(ctx, j.arg, id)
	if err != nil {
		return err
	}
	if resp.Status == protocol.StatusMD5OK { // a server that does not know abandon stored it
		return &opError{op: "put", path: j.local, err: errors.New("the file changed while it was sent; the server kept what was sent: put it again")}
	}
	return why
}

// abandonPut sends {"abandon":true} in place of the md5 frame of the put
// id to remote, and returns the server's answer.
func (c *Client) abandonPut(ctx context.Context, remote, id string) (*protocol.Response, error) {
	if err := protocol.WriteFrame(c.rw, protocol.Request{Abandon: true}); err != nil {
		return nil, c.fail(ctx, "put", remote, ErrConnection, err)
	}
	return c.readResponse(ctx, "put", remote, id)
}

// shrank ends a put whose file got shorter than the size announced: the
// connection, which waits for bytes that will not come, is dropped (the
// next operation replaces it) and the server's partial is cancelled.
func (j *putJob) shrank(ctx context.Context) error {
	c := j.c
	c.conn.Close()
	c.err = &opError{op: "put", path: j.arg, kind: ErrConnection, err: errors.New("connection dropped after the file shrank")}
	why := j.changedError(fmt.Sprintf("it shrank from %d bytes", j.res.Size))
	if c.cfg == nil || ctx.Err() != nil {
		return why
	}
	if _, err := c.CancelPut(ctx, j.arg, j.rec.ID); err != nil {
		c.notice("put %s: the server keeps what it got until partial_max_age (%v)", Printable(j.arg), err)
	}
	return why
}
