// Package faultfs makes a home.FS fail on cue, for tests of what a user
// sees when the server's disk fails where a real small file system cannot
// be made to: the Nth write, a short write, the sync before the 258, the
// place under the name, the sync of a batch. Set a *Faults as a Manager's
// Wrap; its plans apply to every home and folder opened after that.
package faultfs

import (
	"fmt"
	"io/fs"
	"sync"

	"ftpx/home"
)

// Op is a kind of call a plan makes fail.
type Op string

const (
	Write  Op = "write"  // a write to a partial file
	Sync   Op = "sync"   // the sync of an upload's file before it is placed under its name
	Rename Op = "rename" // the place of an upload under its name (a rename, or a link)
	SyncFS Op = "syncfs" // FS.Sync: the sync of the whole file system a batch commit makes
	Create Op = "create" // a new upload's file (partial or unnamed)
	Save   Op = "save"   // a resume point
	Reopen Op = "reopen" // a resumed upload's partial
)

// Plan makes the Nth call of its kind (counted across every FS the Faults
// wraps, 1 for the first; 0 for every one) fail with Err. With Short, a
// failing write first writes half of its bytes and returns that count
// with Err, which may then be nil: a short write. With Panic, the call
// panics instead (a bug of the server's, for tests that it stays up).
type Plan struct {
	Op    Op
	N     int
	Err   error
	Short bool
	Panic bool
}

// Faults is a set of plans and the count of calls of each kind so far.
type Faults struct {
	mu     sync.Mutex
	plans  []Plan
	counts map[Op]int
	fired  int
	space  *home.Space // what Space reports, when set
	spaces int         // Space calls so far
}

// SetSpace makes every wrapped FS report sp as its free space.
func (f *Faults) SetSpace(sp home.Space) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.space = &sp
}

// SpaceCalls returns how many times the file system was asked for its
// free space.
func (f *Faults) SpaceCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.spaces
}

// New returns Faults that carry out plans.
func New(plans ...Plan) *Faults {
	return &Faults{plans: plans, counts: make(map[Op]int)}
}

// Set replaces the plans and resets the counts.
func (f *Faults) Set(plans ...Plan) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.plans, f.counts, f.fired = plans, make(map[Op]int), 0
}

// Fired returns how many calls failed so far.
func (f *Faults) Fired() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fired
}

// Wrap is a home.Manager's Wrap.
func (f *Faults) Wrap(fsys home.FS) home.FS { return &faultFS{FS: fsys, f: f} }

// next counts a call of kind op and returns the plan it falls under, if
// any; a plan with Panic panics here.
func (f *Faults) next(op Op) (Plan, bool) {
	p, ok := f.match(op)
	if ok && p.Panic {
		panic(fmt.Sprintf("faultfs: planned panic in %s", op))
	}
	return p, ok
}

func (f *Faults) match(op Op) (Plan, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts[op]++
	for _, p := range f.plans {
		if p.Op == op && (p.N == 0 || p.N == f.counts[op]) {
			f.fired++
			return p, true
		}
	}
	return Plan{}, false
}

type faultFS struct {
	home.FS
	f *Faults
}

// Upload opens the inner tree's sink (Create, or Reopen for a resumed
// upload, may fail first) and wraps it so that its writes, sync, place
// and resume points may fail too.
func (x *faultFS) Upload(id, name string, o home.UploadOptions) (home.Sink, home.Target, error) {
	op, verb := Create, "put"
	if o.Offset > 0 {
		op, verb = Reopen, "resume"
	}
	if p, ok := x.f.next(op); ok {
		return nil, home.Target{}, home.OpError(verb, "partial "+id, p.Err)
	}
	s, t, err := x.FS.Upload(id, name, o)
	if err != nil {
		return nil, t, err
	}
	return &faultSink{Sink: s, f: x.f, id: id, name: name}, t, nil
}

func (x *faultFS) SavePartialState(id string, state []byte) error {
	if p, ok := x.f.next(Save); ok {
		return home.OpError("save", "partial "+id, p.Err)
	}
	return x.FS.SavePartialState(id, state)
}

func (x *faultFS) Sync() error {
	if p, ok := x.f.next(SyncFS); ok {
		return home.OpError("sync", "/", p.Err)
	}
	return x.FS.Sync()
}

func (x *faultFS) Space() (home.Space, error) {
	x.f.mu.Lock()
	x.f.spaces++
	sp := x.f.space
	x.f.mu.Unlock()
	if sp != nil {
		return *sp, nil
	}
	return x.FS.Space()
}

// faultSink is an upload's sink whose writes, sync, place and resume
// points may fail.
type faultSink struct {
	home.Sink
	f        *Faults
	id, name string
}

func (w *faultSink) Write(b []byte) (int, error) {
	p, ok := w.f.next(Write)
	if !ok {
		return w.Sink.Write(b)
	}
	if !p.Short {
		return 0, p.Err
	}
	n, err := w.Sink.Write(b[:len(b)/2])
	if err != nil {
		return n, err
	}
	return n, p.Err
}

func (w *faultSink) Finish(sync bool) error {
	if sync {
		if p, ok := w.f.next(Sync); ok {
			return p.Err
		}
	}
	return w.Sink.Finish(sync)
}

func (w *faultSink) Place(t home.Target, md5 string, durable bool) (fs.FileInfo, error) {
	if p, ok := w.f.next(Rename); ok {
		return nil, home.OpError("put", w.name, p.Err)
	}
	return w.Sink.Place(t, md5, durable)
}

func (w *faultSink) Checkpoint(at int64, state func() home.ResumePoint, due bool) (int64, error) {
	if due {
		if p, ok := w.f.next(Save); ok {
			return 0, home.OpError("save", "partial "+w.id, p.Err)
		}
	}
	return w.Sink.Checkpoint(at, state, due)
}

func (w *faultSink) Suspend(state func() home.ResumePoint) (int64, error) {
	if p, ok := w.f.next(Save); ok {
		w.Sink.Abort()
		return 0, home.OpError("save", "partial "+w.id, p.Err)
	}
	return w.Sink.Suspend(state)
}
