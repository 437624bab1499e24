// Package faultfs makes a home.FS fail on cue, for tests of what a user
// sees when the server's disk fails where a real small file system cannot
// be made to: the Nth write, a short write, the sync before the 258, the
// rename into place, the sync of a batch. Set a *Faults as a Manager's
// Wrap; its plans apply to every home and folder opened after that.
package faultfs

import (
	"sync"

	"ftpx/home"
)

// Op is a kind of call a plan makes fail.
type Op string

const (
	Write  Op = "write"  // a write to a partial file
	Sync   Op = "sync"   // the sync of a partial file before it is renamed into place
	Rename Op = "rename" // CommitPartial: the rename into place
	SyncFS Op = "syncfs" // FS.Sync: the sync of the whole file system a batch commit makes
	Create Op = "create" // CreatePartial: a new upload's partial file
	Save   Op = "save"   // SavePartialState: a resume point
	Reopen Op = "reopen" // ReopenPartial: a resumed upload's partial
)

// Plan makes the Nth call of its kind (counted across every FS the Faults
// wraps, 1 for the first; 0 for every one) fail with Err. With Short, a
// failing write first writes half of its bytes and returns that count
// with Err, which may then be nil: a short write.
type Plan struct {
	Op    Op
	N     int
	Err   error
	Short bool
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

// next counts a call of kind op and returns the plan it falls under, if any.
func (f *Faults) next(op Op) (Plan, bool) {
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

func (x *faultFS) CreatePartial(id string) (home.WriteFile, error) {
	if p, ok := x.f.next(Create); ok {
		return nil, home.OpError("put", "partial "+id, p.Err)
	}
	w, err := x.FS.CreatePartial(id)
	if err != nil {
		return nil, err
	}
	return &faultFile{WriteFile: w, f: x.f}, nil
}

func (x *faultFS) ReopenPartial(id string, offset int64) (home.WriteFile, error) {
	if p, ok := x.f.next(Reopen); ok {
		return nil, home.OpError("resume", "partial "+id, p.Err)
	}
	w, err := x.FS.ReopenPartial(id, offset)
	if err != nil {
		return nil, err
	}
	return &faultFile{WriteFile: w, f: x.f}, nil
}

func (x *faultFS) CommitPartial(id, name string, durable bool) error {
	if p, ok := x.f.next(Rename); ok {
		return home.OpError("put", name, p.Err)
	}
	return x.FS.CommitPartial(id, name, durable)
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

// faultFile is a partial file whose writes and sync may fail.
type faultFile struct {
	home.WriteFile
	f *Faults
}

func (w *faultFile) Write(b []byte) (int, error) {
	p, ok := w.f.next(Write)
	if !ok {
		return w.WriteFile.Write(b)
	}
	if !p.Short {
		return 0, p.Err
	}
	n, err := w.WriteFile.Write(b[:len(b)/2])
	if err != nil {
		return n, err
	}
	return n, p.Err
}

func (w *faultFile) Sync() error {
	if p, ok := w.f.next(Sync); ok {
		return p.Err
	}
	return w.WriteFile.Sync()
}
