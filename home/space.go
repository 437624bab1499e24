package home

import (
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"ftpx/protocol"
)

// Space is what a file system can still take, as FS.Space reports it.
type Space struct {
	Free  int64 // bytes an unprivileged writer may still add; -1 when the store cannot tell (no limit known)
	Total int64 // the file system's size; -1 when unknown
}

// AutoMinFreeSpace, as Manager.MinFreeSpace (NewManager's default), keeps
// 1% of each file system free, at most DefaultMaxReserve.
const (
	AutoMinFreeSpace  int64 = -1
	DefaultMaxReserve int64 = 1 << 30
)

// spaceFresh is how long one statfs answers the free-space checks of a
// file system, so that a burst of pipelined puts costs one statfs. What
// the puts accepted meanwhile will write is taken off what it reported
// (promises), and so is what uploads that were running then had still to
// write: puts cannot overbook the disk between two statfs calls. A refusal
// asks the file system again first.
const spaceFresh = time.Second

// SpaceError is an up-front refusal for want of space: ErrNoSpace with the
// figures, for the answer's message.
type SpaceError struct {
	Need  int64 // bytes the put still has to write
	Avail int64 // bytes the file system can take for uploads, its reserve kept (may be negative)
}

func (e *SpaceError) Error() string {
	return fmt.Sprintf("need %s, %s free for uploads: %v", protocol.HumanSize(e.Need), protocol.HumanSize(max(e.Avail, 0)), ErrNoSpace)
}

func (e *SpaceError) Unwrap() error { return ErrNoSpace }

// spaceCount is the free-space bookkeeping of one file system: its last
// statfs, and the promises made to uploads that were running then or
// began since, with what they may still write that the statfs did not
// see (owed, kept as a sum so that a check costs the same however many
// puts ran in the last second).
type spaceCount struct {
	mu       sync.Mutex
	at       time.Time
	sp       Space
	promises map[*promise]struct{}
	owed     int64 // the sum of need-before over promises
}

// promise is the space an upload may still write.
type promise struct {
	c      *spaceCount
	done   atomic.Int64 // bytes written so far (the upload's hashing goroutine stores it)
	need   int64        // bytes it may write in all; once it ended, what it wrote (under c.mu)
	before int64        // done at the last statfs: already out of its Free (under c.mu)
	ended  bool         // under c.mu: forgotten at the next statfs, which sees all it wrote
}

// wrote records that the upload has written n bytes so far.
func (p *promise) wrote(n int64) {
	if p != nil {
		p.done.Store(n)
	}
}

// end records that the upload is over: it writes no more.
func (p *promise) end() {
	if p == nil {
		return
	}
	p.c.mu.Lock()
	defer p.c.mu.Unlock()
	if p.ended {
		return
	}
	done := min(p.done.Load(), p.need)
	p.c.owed -= p.need - done
	p.need, p.ended = done, true
}

// avail returns what the file system can still take for new uploads,
// reserve kept, as far as c knows. Under c.mu.
func (c *spaceCount) avail(reserve int64) int64 {
	return c.sp.Free - c.owed - reserve
}

// refresh asks the file system (fsys) again. Under c.mu.
func (c *spaceCount) refresh(fsys FS) error {
	for p := range c.promises { // before the statfs: what they write meanwhile is then counted twice, never missed
		if p.ended {
			c.owed -= p.need - p.before
			delete(c.promises, p)
			continue
		}
		done := min(p.done.Load(), p.need)
		c.owed -= done - p.before
		p.before = done
	}
	sp, err := fsys.Space()
	if err != nil {
		return err
	}
	c.sp, c.at = sp, time.Now()
	return nil
}

// reserve returns the bytes to keep free on a file system of total bytes.
func (m *Manager) reserve(total int64) int64 {
	if m.MinFreeSpace >= 0 {
		return m.MinFreeSpace
	}
	if total <= 0 {
		return 0
	}
	return min(total/100, DefaultMaxReserve)
}

// checkSpace refuses, with a *SpaceError, a put that still has need bytes
// to write into the mount mt when its file system would then keep less
// than the reserve free; else it returns the promise of that space, to be
// told of the upload's progress and end. A file system that cannot tell
// its free space (or fails to) never refuses; the promise is then nil. A
// put whose quota cannot take counted bytes is left for the quota to
// refuse: the user's own limit is the answer that helps them.
func (h *Home) checkSpace(mt *mount, need, counted int64) (*promise, error) {
	if h.m == nil || !mt.acct.fits(counted) {
		return nil, nil
	}
	c := mt.space
	if c == nil {
		return nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	reserve := func() int64 { return h.m.reserve(c.sp.Total) }
	if c.at.IsZero() || time.Since(c.at) > spaceFresh || need > c.avail(reserve()) {
		if err := c.refresh(mt.fs); err != nil {
			return nil, nil // a statfs that fails says nothing of the space: let the writes tell
		}
	}
	if c.sp.Free < 0 {
		return nil, nil
	}
	if a := c.avail(reserve()); need > a && need > 0 {
		return nil, &SpaceError{Need: need, Avail: a}
	}
	p := &promise{c: c, need: need}
	c.promises[p] = struct{}{}
	c.owed += need
	return p, nil
}

// spaceOf returns the bookkeeping of the file system holding fsys (key
// names the tree, for a file system that cannot tell its device), shared
// by every home and folder on that file system.
func (m *Manager) spaceOf(fsys FS, key string) *spaceCount {
	dev := deviceOf(fsys, key)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.space == nil {
		m.space = make(map[string]*spaceCount)
	}
	c := m.space[dev]
	if c == nil {
		c = &spaceCount{promises: make(map[*promise]struct{})}
		m.space[dev] = c
	}
	return c
}

// deviceOf names the file system holding fsys; key when it cannot tell.
func deviceOf(fsys FS, key string) string {
	fi, err := fsys.Stat("/")
	if err != nil {
		return key
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("dev:%d", st.Dev)
	}
	return key
}
