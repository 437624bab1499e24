package client

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"ftpx/internal/delta"
	"ftpx/internal/xfer"
	"ftpx/protocol"
)

// Put uploads the local regular file localPath to remote, reading it once
// and hashing it as it streams. The server stores it only once the MD5
// matches; a mismatch is a *StatusError with 265 (ExitCode 6), a refusal
// such as 264 (quota) is returned before any body byte is sent.
//
// Every put carries a transfer id. When the connection drops, a Client
// made by Connect reconnects and resumes where the server says it got
// to, once the server's MD5 of that prefix equals the local file's; with
// Records, an interrupted put leaves a resume point, and putting the same
// file to the same place again resumes it while the file is unchanged.
func (c *Client) Put(ctx context.Context, localPath, remote string, p Progress) (Result, error) {
	return c.put(ctx, localPath, remote, p, basisAsk)
}

// put is Put knowing what the server holds at remote (b).
func (c *Client) put(ctx context.Context, localPath, remote string, p Progress, b basis) (Result, error) {
	j := &putJob{transferState: transferState{c: c, op: "put", arg: remote, p: p,
		res: Result{Action: protocol.ActionPut, Local: localPath, Remote: remote, Offset: -1}}, basis: b}
	if err := j.open(localPath); err != nil {
		j.end(time.Now(), err)
		return j.res, err
	}
	defer j.f.Close()
	start := time.Now()
	err := c.retry(ctx, "put", remote, func() (bool, error) { return j.attempt(ctx) })
	switch {
	case err == nil:
		j.forget()
		j.res.MD5 = j.fh.sum()
	case worthKeeping(err), j.keepsPartial(err):
		j.rec.Offset = min(j.fh.pos, j.res.Size)
		j.save()
	default:
		j.forget()
	}
	j.end(start, err)
	return j.res, err
}

// putJob is one put across its attempts.
type putJob struct {
	transferState
	local string
	f     *os.File
	fh    *fileHash
	mtime time.Time // the file's, kept by the server
	// basis is what the server holds at the name: a delta is sent onto an
	// older version there (delta.go); basisMTime is its mtime, from its
	// signature.
	basis      basis
	basisMTime time.Time
	// ask says the server may hold part of this transfer: ask it
	// (breakpoint) before sending.
	ask bool
}

// open opens the local file and finds or starts the resume point.
func (j *putJob) open(localPath string) error {
	c := j.c
	abs, err := filepath.Abs(localPath)
	if err != nil {
		return localError("put", localPath, err)
	}
	j.local = localPath
	j.rec = newRecord(c.server(), c.user(), "put", abs, c.abs(j.arg))
	f, err := os.Open(localPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			j.forget() // the source is gone: nothing left to resume
		}
		return localError("put", localPath, err)
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
		err = localError("put", localPath, err)
	case fi.IsDir():
		err = &opError{op: "put", path: localPath, err: errors.New("is a directory (use -r)")}
	case !fi.Mode().IsRegular():
		err = &opError{op: "put", path: localPath, err: errors.New("not a regular file")}
	}
	if err != nil {
		f.Close()
		return err
	}
	j.f, j.fh = f, newFileHash(f)
	size, mtime := fi.Size(), fi.ModTime()
	j.mtime = mtime
	j.res.Size = size

	if st := c.records(); st != nil {
		old, err := st.Load(j.rec)
		switch {
		case err != nil:
			c.notice("put %s: resume record unreadable (%v); starting over", Printable(j.arg), err)
		case old == nil:
		case old.SourceSize != size || !old.SourceMTime.Equal(mtime):
			c.notice("put %s: source changed since the interrupted transfer; starting over", Printable(j.arg))
			j.rec.ID = old.ID // offset 0 with this id discards the server's partial
		default:
			j.rec, j.ask = old, true
		}
	}
	j.rec.Size, j.rec.SourceSize, j.rec.SourceMTime = size, size, mtime
	if !j.ask {
		j.rec.Offset = 0
	}
	j.save()
	return nil
}

// attempt makes one try on the current connection: ask how much the
// server holds, send the put from there, the rest of the body and the
// MD5. progressed says whether the server holds more of the file than at
// any attempt before.
func (j *putJob) attempt(ctx context.Context) (progressed bool, err error) {
	c := j.c
	stop := c.watch(ctx)
	defer stop()
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp

	var offset int64
	if j.ask {
		if offset, err = j.breakpoint(ctx, buf); err != nil {
			return false, err
		}
	}
	if err := j.fh.seek(offset, buf); err != nil {
		return false, localError("put", j.local, err)
	}
	var sig *delta.Signature
	if wantsDelta(j.basis, j.res.Size-offset) {
		if sig, err = j.signature(ctx); err != nil {
			return false, err
		}
	}
	req := &protocol.Request{Action: protocol.ActionPut, Filename: j.arg, SizeField: protocol.Int64(j.res.Size),
		Transfer: j.rec.ID, Offset: offset, MTime: &j.mtime}
	if sig != nil {
		d := sig.Delta()
		d.BasisMTime = &j.basisMTime
		req.Delta = &d
	}
	id, err := c.send(ctx, "put", j.arg, req)
	if err != nil {
		return false, err
	}
	j.ask = true // from here on the server may hold a partial of this transfer
	resp, err := c.readResponse(ctx, "put", j.arg, id)
	if err != nil {
		return false, err
	}
	switch {
	case resp.Status == protocol.StatusBadOffset && offset > 0:
		c.notice("put %s: the server refused to resume at byte %d; starting over", Printable(j.arg), offset)
		j.ask = false
		return false, errAgain
	case resp.Status == protocol.StatusForeignTransfer:
		j.newID()
		return false, errAgain
	case resp.Status == protocol.StatusBasisChanged && sig != nil:
		j.basis = basisNone // changed since its signature: send the file whole
		return false, errAgain
	}
	if err := expect(resp, "put", j.arg, protocol.StatusReadyToSend); err != nil {
		return false, err // the server reads nothing more for this request
	}

	// Progress is what the server confirms holding: what was sent before
	// a connection dropped may not have reached it.
	progressed = j.advanced(offset)
	j.begin(offset)
	if sig != nil {
		err = j.sendDelta(ctx, sig)
	} else {
		err = j.sendBody(ctx, id)
	}
	if err != nil {
		return progressed, err
	}
	if why := j.sourceChanged(); why != nil {
		return progressed, j.abandon(ctx, id, why)
	}
	if err := protocol.WriteFrame(c.rw, protocol.Request{MD5: j.fh.sum()}); err != nil {
		return progressed, c.fail(ctx, "put", j.arg, ErrConnection, err)
	}
	resp, err = c.readResponse(ctx, "put", j.arg, id)
	if err != nil {
		return progressed, err
	}
	return progressed, expect(resp, "put", j.arg, protocol.StatusMD5OK)
}

// breakpoint asks how much of this transfer the server holds and returns
// the offset to resume at: what it holds when the MD5 of that prefix
// equals the local file's, else 0. It leaves fh at that offset.
func (j *putJob) breakpoint(ctx context.Context, buf []byte) (int64, error) {
	c := j.c
	resp, err := c.roundTrip1(ctx, "put", j.arg, &protocol.Request{Action: protocol.ActionBreakpoint, Filename: j.arg, Transfer: j.rec.ID})
	if err != nil {
		return 0, err
	}
	switch resp.Status {
	case protocol.StatusOK:
	case protocol.StatusBadCommand: // a server that cannot resume
		return 0, nil
	case protocol.StatusForeignTransfer:
		j.newID()
		return 0, nil
	default:
		return 0, expect(resp, "put", j.arg, protocol.StatusOK)
	}
	held := resp.Offset
	if held <= 0 || held > j.res.Size || resp.Size == nil || *resp.Size != j.res.Size {
		return 0, nil
	}
	if err := j.fh.seek(held, buf); err != nil {
		return 0, localError("put", j.local, err)
	}
	if !strings.EqualFold(j.fh.sum(), resp.MD5) {
		c.notice("put %s: the server's partial copy differs from the local file; starting over", Printable(j.arg))
		return 0, nil
	}
	return held, nil
}

// newID gives the transfer a fresh id, after the server said the old one
// belongs to another user.
func (j *putJob) newID() {
	j.c.notice("put %s: the transfer id is taken on the server; starting over with a new one", Printable(j.arg))
	j.rec.ID, j.rec.Offset, j.ask = uuid.NewString(), 0, false
	j.save()
}

// sendBody sends the file from fh's position to its end at the client's
// rate: the file is read ahead and hashed on other goroutines while the
// socket takes each chunk, and resume points are saved as it goes.
func (j *putJob) sendBody(ctx context.Context, id string) error {
	c := j.c
	pos := j.fh.pos
	watch := c.watchAnswer()
	_, err := j.fh.sendTo(c.rw, j.res.Size-pos, xfer.Options{
		Chunk: c.lim.readCap(),
		AfterRead: func(n int) error {
			if watch.answered() {
				return errAnswered
			}
			return c.lim.wait(ctx, n)
		},
		AfterWrite: func(n int) {
			j.moved(n)
			pos += int64(n)
			if j.due(pos) {
				j.rec.Offset = pos
				j.save()
			}
		},
	})
	answered := watch.stop()
	switch {
	case err == nil:
		return nil // an early answer is read after the md5 frame, where it is due
	case errors.Is(err, errAnswered) || answered && ctx.Err() == nil:
		return c.earlyAnswer(ctx, j.arg, id)
	case xfer.IsWrite(err):
		return c.lostDuringPut(ctx, j.arg, id, errors.Unwrap(err))
	case ctx.Err() != nil:
		return c.fail(ctx, "put", j.arg, nil, errors.Unwrap(err))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return j.shrank(ctx) // the server waits for bytes this client cannot send
	}
	return c.fail(ctx, "put", j.arg, nil, localError("read", j.local, errors.Unwrap(err)))
}
