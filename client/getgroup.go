package client

import (
	"context"
	"os"

	"ftpx/protocol"
)

// A batch script's consecutive gets of one file each pay their
// durability together, as get -r does (pipeline_get.go): each get
// downloads and verifies its file as a lone get does, then leaves it
// waiting in a GetGroup without its name: a big file in its partial file,
// with a resume point at its end; a small one in an unnamed file, with
// none (getJob.firstPoint). Flush makes the files durable with one syncfs
// per file system, names them in the order they came, syncs the names,
// and only then reports them: a file appears under its name only once its
// data are on disk, as after a lone get, for two syncs a group instead of
// one a file.

// groupMax is the most files a GetGroup holds, each an open partial
// file: as many as a server commits at a time for a batch put.
const groupMax = protocol.NoWaitWindow

// GetGroup holds the verified files of consecutive single gets until
// Flush names them (TransferOptions.Group). The caller flushes it before
// anything that should see those files, and before changing the local
// working directory: the gets of a group resolve their local paths
// against the directory it had when the first of them ran.
type GetGroup struct {
	files  []heldGet
	names  map[string]bool // the waiting files' local paths, absolute
	queued int             // files queued over the group's life
	wd     string          // the local working directory, read once a group
}

// heldGet is a verified get waiting in a GetGroup.
type heldGet struct {
	g      gotFile
	forget func()       // removes the get's resume point; nil: it has none
	done   func(Result) // told once the file is named
}

// NewGetGroup returns an empty group.
func NewGetGroup() *GetGroup { return &GetGroup{} }

// Len returns how many files wait.
func (q *GetGroup) Len() int { return len(q.files) }

// Queued returns how many files were queued over the group's life: the
// next file queued is number Queued() (GroupError.Index).
func (q *GetGroup) Queued() int { return q.queued }

// GroupError is the failure to name a file of a GetGroup; the files
// queued after it were dropped.
type GroupError struct {
	Index int // the file's number (see Queued)
	Err   error
}

func (e *GroupError) Error() string { return e.Err.Error() }
func (e *GroupError) Unwrap() error { return e.Err }

// Flush makes the waiting files durable, names them in the order they
// were queued, replacing what had their names, and tells each Done. At
// the first that cannot be named it stops: that file and those after it
// are dropped (partial files and resume points removed) and it returns a
// *GroupError for the first.
func (q *GetGroup) Flush() error {
	held := q.files
	q.files, q.wd = nil, ""
	clear(q.names)
	if len(held) == 0 {
		return nil
	}
	w := make([]gotItem, len(held))
	for i, h := range held {
		w[i].g = h.g
	}
	placeWindow(w, true)
	var first error
	for i, h := range held {
		if h.forget != nil {
			h.forget()
		}
		switch err := w[i].err; {
		case err == nil:
			h.done(w[i].g.res)
		case first == nil:
			first = &GroupError{Index: q.queued - len(held) + i, Err: err}
		}
	}
	return first
}

// get gets t as a lone get does, but leaves the verified file waiting in
// the group, which tells done once it names it. A group that is full, or
// holds a file for the same local path, is flushed first: a get of the
// same name would otherwise take the waiting file's resume point.
func (q *GetGroup) get(ctx context.Context, c *Client, t target, p Progress, b basis, done func(Result)) error {
	abs, err := c.absLocal(t.dest)
	if len(q.files) >= groupMax || err == nil && q.names[abs] {
		if err := q.Flush(); err != nil {
			return err
		}
	}
	j := c.newGetJob(t.src, t.dest, p, b)
	j.held = true
	if err := j.run(ctx); err != nil {
		return err
	}
	if q.names == nil {
		q.names = map[string]bool{}
	}
	q.names[j.rec.Local] = true
	h := heldGet{g: gotFile{t: t, abs: j.rec.Local, f: j.part, partial: j.rec.Partial, res: j.res}, done: done}
	if j.rec.Partial != "" { // an unnamed file has no resume point (firstPoint)
		j.checkpoint() // at its end: a rerun after a crash fetches only the MD5
		h.forget = j.forget
	}
	q.files = append(q.files, h)
	q.queued++
	return nil
}

// workDir returns the local working directory, read once a group
// (os.Getwd stats two directories each time).
func (q *GetGroup) workDir() string {
	if q.wd == "" {
		q.wd, _ = os.Getwd()
	}
	return q.wd
}
