package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"ftpx/home"
	"ftpx/protocol"
)

// When the disk fails under a put (it is full, or an I/O error), the client
// is told at once, with its own code, and the session goes on: the server
// answers while the body is still coming, then reads and drops the rest of
// it (and the md5 frame, when one is due). A client that watches for that
// early answer, as ftpx does, stops sending and reconnects; one that does
// not finds the answer where it expects it, after the body.

// bodyReader counts the body bytes read from the client and keeps the
// first read error, so that a failed body tells the client's side (cut
// off: the stream is lost) from the server's (the disk failed: the rest can
// still be read and dropped).
type bodyReader struct {
	r   io.Reader
	n   int64
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if err != nil && b.err == nil {
		b.err = err
	}
	return n, err
}

// storageFailed ends a put whose partial could not be written, left bytes
// of the body still to come. A partial cut short by a full disk is kept to
// resume once there is room (the quota counts it), and one cut short by an
// object store that stopped answering to resume once it is back; after any
// other failure, or when it holds nothing, it goes. It returns an error only when the session must end.
func (c *session) storageFailed(req *protocol.Request, up *home.Upload, name string, left int64, start time.Time, err error) error {
	st := statusFor(err)
	held := up.Offset() + up.Written()
	size, _ := req.Size()
	msg := ""
	if st == protocol.StatusNoSpace {
		msg = fmt.Sprintf("%s (the disk filled up after %s of %s", st, protocol.HumanSize(held), protocol.HumanSize(size))
	}
	if st == protocol.StatusUnavailable {
		msg = fmt.Sprintf("%s (the object store failed after %s of %s", st, protocol.HumanSize(held), protocol.HumanSize(size))
	}
	if keptFor(st) && held > 0 && req.Transfer != "" {
		// The store may still have the parts and the resume point it
		// saved last, even when this suspend cannot reach it.
		if serr := up.Suspend(); serr != nil {
			c.log.Warn("put: suspend failed", "id", req.ID, "path", name, "err", serr)
		}
		if st == protocol.StatusNoSpace {
			msg += "; put the file again to resume once space is freed"
		} else {
			msg += "; put the file again to resume once it is back"
		}
	} else {
		up.Abort()
	}
	if msg != "" {
		msg += ")"
	}
	if err := c.failedMidBody(req, name, up.Written(), start, st, msg, err, "transfer", req.Transfer, "held", held); err != nil {
		return err
	}
	if _, err := c.copyBody(io.Discard, c.r, left, c.conn.SetReadDeadline); err != nil {
		return fmt.Errorf("put %s: the client stopped sending after the %d answer: %w", name, int(st), err)
	}
	if req.MD5 == "" {
		if _, err := c.readTrailer(); err != nil {
			return fmt.Errorf("put %s: trailer after the %d answer: %w", name, int(st), err)
		}
	}
	return nil
}

// keptFor reports whether a put that failed with st keeps what it holds:
// the failure passes (space is freed, the store comes back) and the same
// put goes on from there.
func keptFor(st protocol.Status) bool {
	return st == protocol.StatusNoSpace || st == protocol.StatusUnavailable
}

// failedMidBody logs a put whose storage failed under its body (n bytes
// written; an I/O error at level error) and answers it with st and msg
// at once, while the client may still be sending.
func (c *session) failedMidBody(req *protocol.Request, name string, n int64, start time.Time, st protocol.Status, msg string, err error, extra ...any) error {
	level := slog.LevelWarn
	if st == protocol.StatusServerError {
		level = slog.LevelError
	}
	c.logTransfer(level, "put failed", req, name, n, start, "", st, err, extra...)
	return c.reply(req, st, msg)
}

// refuseNoSpace answers a put refused before its body because the file
// system cannot take it and keep its reserve free.
func (c *session) refuseNoSpace(req *protocol.Request, name string, start time.Time, err error) error {
	msg := ""
	var se *home.SpaceError
	if errors.As(err, &se) {
		msg = fmt.Sprintf("%s (need %s, %s free for uploads)", protocol.StatusNoSpace, protocol.HumanSize(se.Need), protocol.HumanSize(max(se.Avail, 0)))
	}
	c.logTransfer(slog.LevelWarn, "put refused", req, name, 0, start, "", protocol.StatusNoSpace, err)
	return c.reply(req, protocol.StatusNoSpace, msg)
}
