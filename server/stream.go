package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"ftpx/home"
	"ftpx/protocol"
)

// A streamed put ("stream": true) is a put whose size is not known up
// front (a client's standard input): after 257 its body comes as chunks
// (protocol.ChunkReader), then the md5 frame. It goes through home's
// stream upload, as an FTP STOR does: the quota is reserved as the bytes
// arrive. It cannot be resumed (standard input cannot be sent again), so
// every way it can end but its commit discards what arrived.

// streamRefusal answers a streamed put that also asks for what only a put
// of known size can have.
const streamRefusal = "invalid command format (a streamed put takes no size, offset, transfer, delta, nowait or md5)"

// After an early answer (264 over the quota, 286 or 272 from the disk),
// the rest of a streamed body is read and dropped so that the session can
// go on, but no more than this, nor for longer: past either the session
// ends.
const (
	maxStreamDrain  = 64 << 20
	streamDrainTime = 30 * time.Second
)

// handleStreamPut receives a streamed put into a partial, placed under
// its name only once the client's MD5 matches, as any put.
func (c *session) handleStreamPut(req *protocol.Request) error {
	start := time.Now()
	if req.NoWait {
		// Its body follows the header whatever the answer, and nothing
		// says how it is framed: the stream is lost.
		c.reply(req, protocol.StatusBadFormat, streamRefusal)
		return errors.New("put: a streamed put cannot be pipelined (nowait)")
	}
	if _, sized := req.Size(); sized || req.Offset != 0 || req.Transfer != "" || req.Delta != nil || req.MD5 != "" {
		return c.failWith(req, fmt.Errorf("put %s: stream with a size, offset, transfer, delta or md5: %w", req.Filename, protocol.ErrFormat), streamRefusal)
	}
	name, err := c.resolveFilename(req)
	if err != nil {
		return c.fail(req, err)
	}
	// A transfer id of its own, never told to anyone: nobody resumes it.
	s, err := c.home.BeginStreamAt(name, uuid.NewString(), 0, mtimeOf(req))
	if err != nil {
		return c.refusePut(req, name, "", start, err)
	}
	defer s.Abort() // a no-op once committed
	if err := c.send(protocol.Response{ID: req.ID, Status: protocol.StatusReadyToSend, Msg: protocol.StatusReadyToSend.String()}); err != nil {
		return err
	}
	chunks := protocol.NewChunkReader(c.r)
	body := &bodyReader{r: progressReader{chunks, c.conn.SetReadDeadline, c.srv.transferTimeout()}}
	n, err := s.Receive(body)
	switch {
	case errors.Is(body.err, protocol.ErrFormat):
		s.Abort()
		c.logTransfer(slog.LevelWarn, "put failed", req, name, n, start, "", protocol.StatusBadFormat, body.err)
		c.reply(req, protocol.StatusBadFormat, "malformed chunk: "+body.err.Error())
		return fmt.Errorf("put %s: %w", name, body.err)
	case body.err != nil && body.err != io.EOF:
		s.Abort() // cut off: standard input cannot be sent again
		c.logTransfer(slog.LevelWarn, "put failed", req, name, n, start, "", statusFor(body.err), body.err)
		return fmt.Errorf("put %s: body: %w", name, body.err)
	case err != nil:
		return c.streamFailed(req, s, chunks, name, start, err)
	}
	if placed, err := c.commitPut(req, md5Stream{s}, name, n, start); !placed {
		return err
	}
	c.logTransfer(slog.LevelInfo, "put done", req, name, n, start, s.Sum(), protocol.StatusMD5OK, nil)
	return c.send(protocol.Response{ID: req.ID, Status: protocol.StatusMD5OK, Msg: protocol.StatusMD5OK.String(), MD5: s.Sum(), Size: protocol.Int64(n)})
}

// md5Stream is a stream decided by the md5 frame, as a put is.
type md5Stream struct{ *home.Stream }

func (s md5Stream) Commit(want string) error { return s.CommitMD5(want) }

// streamFailed ends a streamed put whose bytes could not all be kept (err:
// over the quota, or the disk failed): nothing is kept, the client is
// answered at once, then the rest of the body and the md5 frame are read
// and dropped. It returns an error only when the session must end.
func (c *session) streamFailed(req *protocol.Request, s *home.Stream, chunks *protocol.ChunkReader, name string, start time.Time, err error) error {
	st, n := statusFor(err), s.Written()
	s.Abort() // first: the quota's figures in the answer are without it
	msg := ""
	switch st {
	case protocol.StatusQuota:
		msg = c.quotaMessage(name, "stopped after "+protocol.HumanSize(n))
	case protocol.StatusNoSpace:
		msg = fmt.Sprintf("%s (the disk filled up after %s)", st, protocol.HumanSize(n))
	}
	if err := c.failedMidBody(req, name, n, start, st, msg, err); err != nil {
		return err
	}
	deadline := time.Now().Add(streamDrainTime)
	c.conn.SetReadDeadline(deadline)
	chunks.Limit(maxStreamDrain)
	if _, err := io.Copy(io.Discard, chunks); err != nil {
		return fmt.Errorf("put %s: the rest of the body after the %d answer: %w", name, int(st), err)
	}
	if _, err := c.readTrailerBy(deadline); err != nil {
		return fmt.Errorf("put %s: trailer after the %d answer: %w", name, int(st), err)
	}
	return nil
}
