package server

import (
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"ftpx/home"
	"ftpx/protocol"
)

// A pipelined put ("nowait") sends its header, body and md5 without waiting
// for the server, so a client can stream thousands of small files over one
// connection. The server reads and verifies each as it comes, but answers
// only once the files are on disk: it holds the verified uploads of a
// window, commits them with two syncs of the file system in all
// (home.CommitBatch) when no more requests are waiting or the window is
// full, and then sends their answers, in order. The commit runs on a
// goroutine of its own while the session reads the next window (the
// network and the disk each get a core); one commit runs at a time, and
// the session waits for it (settle) before it sends anything else.

// pendingPut is one pipelined put read but not yet answered.
type pendingPut struct {
	req    *protocol.Request
	name   string
	up     *home.Upload    // nil when refused: answer holds the refusal
	answer protocol.Status // the refusal's status
	err    error
	start  time.Time
}

// handleNoWaitPut reads a pipelined put. Its body is read even when the put
// is refused, to keep the stream in step; only a size over MaxNoWaitSize
// (or none) cannot be skipped, and ends the session.
func (c *session) handleNoWaitPut(req *protocol.Request) error {
	start := time.Now()
	size, ok := req.Size()
	if !ok || size < 0 || size > protocol.MaxNoWaitSize {
		c.settle()
		c.reply(req, protocol.StatusBadSize, fmt.Sprintf("nowait put: size must be 0 to %d", protocol.MaxNoWaitSize))
		return fmt.Errorf("nowait put: size %d", size)
	}
	if req.Delta != nil { // its body's length is not known: it cannot be skipped
		c.settle()
		c.reply(req, protocol.StatusBadFormat, "a nowait put cannot be a delta")
		return fmt.Errorf("nowait put with a delta: %w", protocol.ErrFormat)
	}
	p := &pendingPut{req: req, start: start}
	up, err := c.beginNoWait(req, size, p)
	if err != nil {
		if _, derr := c.copyBody(io.Discard, c.r, size, c.conn.SetReadDeadline); derr != nil {
			return derr
		}
		p.err = err
		c.queue(p)
		return nil
	}
	body := &bodyReader{r: c.r}
	if _, err := c.copyBody(up, body, size, c.conn.SetReadDeadline); err != nil {
		up.Abort()
		if body.err == nil { // the disk failed, not the client: drop the rest and answer in turn
			if _, derr := c.copyBody(io.Discard, c.r, size-body.n, c.conn.SetReadDeadline); derr == nil {
				p.err = err
				c.queue(p)
				return nil
			}
		}
		c.settle()
		return fmt.Errorf("put %s: body: %w", p.name, err)
	}
	p.up = up
	c.queue(p)
	return nil
}

// beginNoWait checks a pipelined put and begins its upload.
func (c *session) beginNoWait(req *protocol.Request, size int64, p *pendingPut) (*home.Upload, error) {
	name, err := c.resolveFilename(req)
	p.name = name
	switch {
	case err != nil:
		return nil, err
	case req.MD5 == "":
		return nil, fmt.Errorf("put %s: nowait needs md5: %w", name, protocol.ErrFormat)
	case req.Transfer != "" || req.Offset != 0:
		return nil, fmt.Errorf("put %s: nowait puts are not resumable: %w", name, home.ErrBadOffset)
	}
	return c.home.BeginUpload(name, home.Put{Size: size, MTime: mtimeOf(req)})
}

// queue holds p for the next flush, flushing now if the window is full,
// the client has nothing more on the way, or the sessions together hold
// as many open uploads as heldMax allows.
func (c *session) queue(p *pendingPut) {
	c.pending = append(c.pending, p)
	if p.up != nil {
		c.srv.held.Add(1)
	}
	if len(c.pending) >= protocol.NoWaitWindow || c.srv.held.Load() >= heldMax() || !c.moreWaiting() {
		c.flush()
	}
}

// heldMax bounds the pipelined uploads all sessions hold open at once: a
// quarter of the files the process may open. Past it, windows are
// committed early (smaller), rather than a flood of pipelined puts on many
// connections taking every descriptor.
var heldMax = sync.OnceValue(func() int64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur < 4096 {
		return 1024
	}
	return int64(min(rl.Cur/4, 1<<20))
})

// moreWaiting reports whether the client has already sent more: a read of
// one byte that waits at most a millisecond. A timeout here leaves the
// reader as it was.
func (c *session) moreWaiting() bool {
	if c.r.Buffered() > 0 {
		return true
	}
	c.tcp.SetReadDeadline(time.Now().Add(time.Millisecond))
	return c.r.Peek1() == nil
}

// flush hands the held uploads to a goroutine that commits them together
// and sends every held answer, in the order of the requests, once the
// commit before it is done.
func (c *session) flush() {
	if len(c.pending) == 0 {
		return
	}
	c.waitCommit()
	batch := c.pending
	c.pending = nil // batch is the committer's now
	done := make(chan struct{})
	c.committing = done
	go func() {
		defer close(done)
		defer c.srv.held.Add(-uploads(batch))
		defer c.recoverCommit(batch)
		c.commit(batch)
	}()
}

// recoverCommit, deferred by the goroutine committing a window, turns a
// panic there into the end of this session, not of the server: it is
// logged, the window's uploads are given up (nothing of them appears;
// their reservations go back), the session's output fails and its
// connection is closed, which ends the session wherever it waits; the
// client, whose answers never came, sends those files again.
func (c *session) recoverCommit(batch []*pendingPut) {
	p := recover()
	if p == nil {
		return
	}
	c.log.Error("panic committing pipelined puts", "puts", len(batch), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	for _, b := range batch {
		if b.up != nil {
			b.up.Abort()
		}
	}
	c.out.fail(errPanic)
	c.conn.Close()
}

// uploads counts the puts of batch that hold an open upload.
func uploads(batch []*pendingPut) int64 {
	var n int64
	for _, p := range batch {
		if p.up != nil {
			n++
		}
	}
	return n
}

// settle flushes and waits for the commit: every answer owed is then in
// c.out, ahead of anything the session sends next.
func (c *session) settle() {
	c.flush()
	c.waitCommit()
}

// waitCommit waits for the running commit, if any.
func (c *session) waitCommit() {
	if c.committing != nil {
		<-c.committing
		c.committing = nil
	}
}

// commit commits a window of pipelined puts and sends their answers; the
// session may be waiting for the client meanwhile, so it writes them out.
func (c *session) commit(batch []*pendingPut) {
	var ups []*home.Upload
	var wants []string
	for _, p := range batch {
		if p.up != nil {
			ups = append(ups, p.up)
			wants = append(wants, p.req.MD5)
		}
	}
	var errs []error
	if len(ups) > 0 {
		errs = c.home.CommitBatch(ups, wants)
	}
	for _, p := range batch {
		if p.up != nil {
			p.err, errs = errs[0], errs[1:]
		}
		c.answerNoWait(p) // gathered in c.out: they go out together
	}
	c.out.Flush()
}

func (c *session) answerNoWait(p *pendingPut) {
	var n int64
	if p.up != nil {
		n = p.up.Written()
	}
	if p.err != nil {
		st := statusFor(p.err)
		c.logTransfer(slog.LevelWarn, "put failed", p.req, p.name, n, p.start, "", st, p.err, "nowait", true)
		c.reply(p.req, st, message(st, p.err))
		return
	}
	c.logTransfer(slog.LevelInfo, "put done", p.req, p.name, n, p.start, p.up.Sum(), protocol.StatusMD5OK, nil, "nowait", true)
	c.send(protocol.Response{ID: p.req.ID, Status: protocol.StatusMD5OK, Msg: protocol.StatusMD5OK.String(), MD5: p.up.Sum(), Size: protocol.Int64(p.up.Written())})
}
