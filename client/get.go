package client

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"ftpx/internal/delta"
	"ftpx/internal/xfer"
	"ftpx/protocol"
)

// Get downloads remote into localPath. The body goes to a hidden partial
// file beside localPath, hashed as it is written, and is renamed into place
// only when its MD5 equals the server's: no incomplete file ever appears
// under localPath, and a file already there is left as it was on failure.
// An MD5 mismatch is a *StatusError with 265 (ExitCode 6).
//
// When the connection drops, a Client made by Connect reconnects and asks
// for the rest, sending the MD5 of what it holds so the server can refuse
// (279) when its file no longer starts with those bytes. With Records, an
// interrupted get keeps its partial file and a resume point holding the
// MD5 state, so getting the same file again resumes without reading the
// partial, unless the remote file changed (size or mtime).
func (c *Client) Get(ctx context.Context, remote, localPath string, p Progress) (Result, error) {
	return c.get(ctx, remote, localPath, p, basisAsk)
}

// get is Get knowing what is at localPath (b).
func (c *Client) get(ctx context.Context, remote, localPath string, p Progress, b basis) (Result, error) {
	j := c.newGetJob(remote, localPath, p, b)
	err := j.run(ctx)
	return j.res, err
}

// newGetJob starts a get of remote into localPath, knowing what is there
// (b).
func (c *Client) newGetJob(remote, localPath string, p Progress, b basis) *getJob {
	return &getJob{transferState: transferState{c: c, op: "get", arg: remote, p: p,
		res: Result{Action: protocol.ActionGet, Local: localPath, Remote: remote, Offset: -1}}, local: localPath, basis: b}
}

// run makes the get, with its retries, and puts the verified file in
// place (or, held, leaves it for a GetGroup).
func (j *getJob) run(ctx context.Context) error {
	defer j.closeBasis()
	fi, err := os.Stat(j.local)
	switch {
	case err == nil && fi.IsDir():
		err := &opError{op: "get", path: j.local, err: errors.New("a local directory is in the way (a file cannot replace it)")}
		j.end(time.Now(), err)
		return err
	case err != nil && j.basis == basisAsk:
		j.basis = basisNone // nothing there to send a delta onto: no need to open it
	}
	if err := j.open(); err != nil {
		j.end(time.Now(), err)
		return err
	}
	start := time.Now()
	err = j.c.retry(ctx, "get", j.arg, func() (bool, error) { return j.attempt(ctx) })
	err = j.finish(err)
	j.end(start, err)
	return err
}

// getJob is one get across its attempts.
type getJob struct {
	transferState
	local string
	// held: the file is written unnamed where it can be (firstPoint) and,
	// verified, stays open without its name for a GetGroup to name
	// (getgroup.go).
	held bool

	part  *os.File
	h     hash.Hash // MD5 of part's first pos bytes
	pos   int64
	werr  error // the first failure to write part; the body is still read to its end
	known bool  // rec holds the source's size and mtime
	stat  bool  // compare the source with rec before the first request

	resumed   bool // some request asked for an offset
	restarted bool // started over after a whole-file MD5 mismatch

	// The local file the get replaces, as the basis of a delta
	// (delta.go): open, and its signature, once looked at.
	basis     basis
	basisFile *os.File
	sig       *delta.Signature
}

// closeBasis closes the basis of a delta, if one was opened.
func (j *getJob) closeBasis() {
	if j.basisFile != nil {
		j.basisFile.Close()
	}
}

// open finds the resume point and its partial file, or starts a new one.
func (j *getJob) open() error {
	c := j.c
	abs, err := c.absLocal(j.local)
	if err != nil {
		return localError("get", j.local, err)
	}
	j.rec = newRecord(c.server(), c.user(), "get", abs, c.abs(j.arg))
	if st := c.records(); st != nil {
		old, err := st.Load(j.rec)
		switch {
		case err != nil:
			c.notice("get %s: resume record unreadable (%v); starting over", Printable(j.arg), err)
			removeStalePartials(abs)
		case old != nil && j.reopen(old):
			return nil
		}
	}
	j.h = md5.New()
	if j.held {
		if j.part, err = createUnnamed(filepath.Dir(abs)); err == nil {
			return nil // named when it needs a resume point (savePoint)
		}
	}
	part, err := createPartial(abs, j.rec.ID)
	if err != nil {
		return localError("get", j.local, err)
	}
	j.part, j.rec.Partial = part, part.Name()
	return nil
}

// removeStalePartials removes the partial files of earlier gets to
// localPath, whose record was lost: nothing can resume them.
func removeStalePartials(localPath string) {
	dir, name := filepath.Split(localPath)
	if len(name) > 100 {
		name = name[:100]
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "."+globEscape(name)+".ftpx-part-*"))
	for _, m := range matches {
		if uuid.Validate(m[strings.LastIndex(m, ".ftpx-part-")+len(".ftpx-part-"):]) == nil {
			os.Remove(m)
		}
	}
}

// globEscape quotes the characters filepath.Match treats specially.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// reopen continues from the partial file and MD5 state of an earlier run,
// cut back to the last checkpoint. It reports false (and why) when that
// cannot be done.
func (j *getJob) reopen(old *Record) bool {
	part, err := os.OpenFile(old.Partial, os.O_RDWR, 0)
	if err != nil {
		j.c.notice("get %s: the partial download is gone; starting over", Printable(j.arg))
		return false
	}
	h, _ := restoreMD5(old.MD5State) // checked when the record was loaded
	fi, err := part.Stat()
	if err == nil && fi.Size() < old.Offset {
		err = fmt.Errorf("it holds %d bytes, the resume point says %d", fi.Size(), old.Offset)
	}
	if err == nil {
		err = part.Truncate(old.Offset)
	}
	if err != nil {
		j.c.notice("get %s: the partial download is unusable (%v); starting over", Printable(j.arg), err)
		part.Close()
		os.Remove(old.Partial)
		return false
	}
	j.rec, j.part, j.h, j.pos = old, part, h, old.Offset
	j.known, j.stat = true, true
	j.saved = old.Offset
	return true
}

// attempt makes one try on the current connection: ask for the file from
// pos, receive the rest and check the MD5. progressed says whether the
// partial grew.
func (j *getJob) attempt(ctx context.Context) (progressed bool, err error) {
	c := j.c
	stop := c.watch(ctx)
	defer stop()
	if j.stat {
		if err := j.compareSource(ctx); err != nil {
			return false, err
		}
	}
	req := &protocol.Request{Action: protocol.ActionGet, Filename: j.arg, Offset: j.pos}
	if j.pos > 0 {
		req.MD5 = hex.EncodeToString(j.h.Sum(nil))
		j.resumed = true
	}
	if j.basis != basisNone && j.basisFile == nil {
		if j.basisFile, j.sig, err = j.localBasis(); err != nil {
			return false, err
		}
		if j.sig == nil {
			j.basis = basisNone
		}
	}
	if j.sig != nil {
		d := j.sig.Delta()
		req.Delta = &d
	}
	id, err := c.send(ctx, "get", j.arg, req)
	if err != nil {
		return false, err
	}
	if j.sig != nil { // the signature follows the request
		bw := bufio.NewWriterSize(c.rw, 64<<10)
		n, err := j.sig.WriteTo(bw)
		if err == nil {
			err = bw.Flush()
		}
		j.res.Sent += n // it crossed the wire for this file too
		if err != nil {
			return false, c.fail(ctx, "get", j.arg, ErrConnection, err)
		}
	}
	resp, err := c.readResponse(ctx, "get", j.arg, id)
	if err != nil {
		return false, err
	}
	switch {
	case resp.Status == protocol.StatusPrefixMismatch && j.pos > 0:
		j.startOver("the server's file no longer starts with the bytes already received")
		return false, errAgain
	case resp.Status == protocol.StatusBadOffset && j.pos > 0:
		j.startOver(fmt.Sprintf("the server refused to resume at byte %d", j.pos))
		return false, errAgain
	}
	if err := expect(resp, "get", j.arg, protocol.StatusReadyToSend); err != nil {
		return false, err
	}
	if resp.Delta != nil && j.sig == nil {
		return false, c.fail(ctx, "get", j.arg, ErrProtocol, errors.New("a delta that was not asked for"))
	}
	if resp.Size == nil || *resp.Size < j.pos || resp.Offset != j.pos {
		return false, c.fail(ctx, "get", j.arg, ErrProtocol, fmt.Errorf("257 without a valid size, or with offset %d for %d", resp.Offset, j.pos))
	}
	size := *resp.Size
	var mtime time.Time
	if resp.MTime != nil {
		mtime = *resp.MTime
	}
	switch {
	case j.known && (size != j.rec.SourceSize || !mtime.IsZero() && !sameSecond(mtime, j.rec.SourceMTime)):
		// What follows is the rest of another file: drop the connection.
		c.fail(ctx, "get", j.arg, ErrConnection, errors.New("the source changed; reconnecting"))
		j.startOver("source changed since the transfer began")
		return false, errAgain
	case !j.known:
		j.known = true
		j.rec.Size, j.rec.SourceSize, j.rec.SourceMTime = size, size, mtime
		j.firstPoint()
	}
	j.res.Size = size
	j.begin(j.pos)

	if resp.Delta != nil && j.sig != nil {
		err = j.receiveDelta(ctx, size)
	} else {
		err = j.receive(ctx, size)
	}
	progressed = j.advanced(j.pos)
	if err != nil {
		j.checkpoint()
		return progressed, err
	}
	want := resp.MD5
	if want == "" {
		trailer, err := c.readResponse(ctx, "get", j.arg, id)
		if err != nil {
			j.checkpoint()
			return progressed, err
		}
		if err := expect(trailer, "get", j.arg, protocol.StatusOK); err != nil {
			return progressed, err
		}
		if trailer.MD5 == "" {
			return progressed, c.fail(ctx, "get", j.arg, ErrProtocol, errors.New("md5 trailer without \"md5\""))
		}
		want = trailer.MD5
	}
	// The connection is in step again; what follows is local.
	if j.werr != nil {
		return progressed, localError("get", j.local, j.werr)
	}
	j.res.MD5 = hex.EncodeToString(j.h.Sum(nil))
	j.res.mtime = j.rec.SourceMTime
	if !strings.EqualFold(want, j.res.MD5) {
		if j.resumed && !j.restarted {
			j.restarted = true
			j.startOver("the MD5 of the resumed file is wrong")
			return progressed, errAgain
		}
		return progressed, &StatusError{Op: "get", Path: j.arg, Status: protocol.StatusMD5Mismatch,
			Msg: fmt.Sprintf("md5 mismatch (server said %.64s, received %s)", want, j.res.MD5)}
	}
	return progressed, nil
}

// compareSource stats the remote file before resuming an earlier run's
// partial, and starts over when its size or mtime changed.
func (j *getJob) compareSource(ctx context.Context) error {
	resp, err := j.c.roundTrip1(ctx, "get", j.arg, &protocol.Request{Action: protocol.ActionStat, Filename: j.arg})
	if err != nil {
		return err
	}
	if err := expect(resp, "get", j.arg, protocol.StatusOK); err != nil {
		return err
	}
	j.stat = false
	if e := resp.Stat; e == nil || e.Size != j.rec.SourceSize || !sameSecond(e.MTime, j.rec.SourceMTime) {
		j.startOver("source changed since the interrupted transfer")
	}
	return nil
}

// receive writes the body from pos to size into the partial file at the
// client's rate: the socket is read while the last chunk is written and
// the one before is hashed, each on its own goroutine, a big file is
// written to disk as it fills, and resume points are saved as it goes.
// A local write failure is kept in werr while the body is still read to
// its end, so the connection stays in step.
func (j *getJob) receive(ctx context.Context, size int64) error {
	c := j.c
	if _, err := j.part.Seek(j.pos, io.SeekStart); err != nil && j.werr == nil {
		j.werr = err
	}
	var w io.Writer = j.part
	if size-j.pos >= writebackMin {
		wb := xfer.NewWritebackWriter(j.part)
		defer wb.Stop() // part is closed by finish, not through wb
		w = wb
	}
	sw := &stickyWriter{w: w, failed: j.werr}
	start := j.pos
	res, err := xfer.Copy(sw, c.br, size-start, xfer.Options{Hash: j.h, Chunk: c.lim.readCap(),
		AfterRead: func(n int) error {
			j.moved(n)
			return c.lim.wait(ctx, n)
		},
		AfterHash: func(hashed int64) {
			if pos := start + hashed; j.due(pos) && sw.err() == nil {
				j.pos = pos
				j.checkpoint()
			}
		},
	})
	j.pos = start + res.Hashed
	j.werr = sw.err()
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return c.fail(ctx, "get", j.arg, nil, errors.Unwrap(err))
	}
	return c.fail(ctx, "get", j.arg, ErrConnection, errors.Unwrap(err))
}

// writebackMin is the smallest download whose writeback starts as it
// fills (xfer.WritebackWriter).
const writebackMin = 8 << 20

// stickyWriter passes writes on until one fails, then swallows the rest
// and keeps the first error: a get keeps reading the body it cannot
// store, to stay in step with the server.
type stickyWriter struct {
	w      io.Writer
	mu     sync.Mutex
	failed error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err() == nil {
		if _, err := s.w.Write(p); err != nil {
			s.mu.Lock()
			s.failed = err
			s.mu.Unlock()
		}
	}
	return len(p), nil
}

func (s *stickyWriter) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// checkpoint saves the resume point: pos and the MD5 state of the bytes
// before it, all of which are in the partial file.
func (j *getJob) checkpoint() {
	if !j.known || j.werr != nil || j.c.records() == nil {
		return
	}
	j.rec.Offset, j.rec.MD5State = j.pos, md5State(j.h)
	j.savePoint()
}

// firstPoint saves the first resume point, once the source's size is
// known. A get held for a GetGroup writes into an unnamed file, and for a
// small file (smallFile at most, as get -r pipelines) saves none yet: a
// record made and removed for each file of a script of small gets cost
// more than the file (a file created and a file deleted, each get), and a
// client killed outright leaves nothing behind, to be got again whole. It
// is named and its resume point saved when a checkpoint comes due (a slow
// transfer) or it is cut off.
func (j *getJob) firstPoint() {
	if j.rec.Partial == "" && j.rec.Size <= smallFile {
		j.savedAt = time.Now() // the next checkpoint is due as if saved now
		return
	}
	j.savePoint()
}

// savePoint saves the resume point, first giving an unnamed partial file
// its hidden name, which the record holds. When it cannot be named there
// is no resume point.
func (j *getJob) savePoint() {
	if j.rec.Partial == "" {
		if j.c.records() == nil {
			return
		}
		name := partialName(j.rec.Local, j.rec.ID)
		if err := linkUnnamed(j.part, name); err != nil {
			j.c.notice("get %s: cannot save the resume point: %v", Printable(j.arg), err)
			return
		}
		j.rec.Partial = name
	}
	j.save()
}

// startOver empties the partial file and forgets the source's size and
// mtime, saying why.
func (j *getJob) startOver(why string) {
	j.c.notice("get %s: %s; starting over", Printable(j.arg), why)
	j.werr = j.part.Truncate(0)
	j.h.Reset()
	j.pos, j.known = 0, false
	j.rec.Offset, j.rec.MD5State = 0, nil
	if j.rec.Partial != "" { // an unnamed partial has no resume point to reset
		j.save()
	}
}

// finish puts a verified file in place and forgets its resume point (a
// held one waits for its GetGroup to do so); a transfer cut off keeps its
// partial and resume point; any other failure removes both.
func (j *getJob) finish(err error) error {
	if err == nil && !j.rec.SourceMTime.IsZero() {
		err = xfer.SetMTime(j.part, j.rec.SourceMTime) // the server's: kept
	}
	if err == nil && j.held {
		return nil
	}
	if err == nil {
		err = j.part.Sync()
		if cerr := j.part.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = renameFile(j.rec.Partial, j.local)
		}
		if err != nil {
			os.Remove(j.rec.Partial)
			j.forget()
			return localError("get", j.local, err)
		}
		j.forget()
		return nil
	}
	defer j.part.Close() // after the checkpoint, which may name it
	if j.c.records() != nil && j.known && worthKeeping(err) {
		j.checkpoint()
		return err
	}
	if j.rec.Partial != "" {
		os.Remove(j.rec.Partial)
	}
	j.forget()
	return err
}

// sameSecond compares remote mtimes to the second: a listing may carry
// whole seconds where a get's 257 carries nanoseconds. A change within
// the same second and size is still caught, by the prefix MD5 (279) or the
// whole file's.
func sameSecond(a, b time.Time) bool {
	return a.Truncate(time.Second).Equal(b.Truncate(time.Second))
}
