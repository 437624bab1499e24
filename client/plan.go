package client

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"
)

// planItem is one step of a put: a remote directory to create, or a
// local file to send.
type planItem struct {
	local, remote string
	dir           bool
	size          int64
	mtime         time.Time
	top           int    // the source on the command line it comes from
	rel           string // its path under that source ("" for the source itself), "/"-joined

	// What the destination holds there (sync.go).
	there       bool  // something of the same kind: a directory for a directory, a file for a file
	skip        bool  // the same file: nothing to send
	delta       bool  // an older version of the file: send it as a delta
	basisSize   int64 // the older version's size
	conflict    bool  // a name of the other kind is in the way
	conflictDir bool  // that name is a directory
}

// putPlan is what a put will do: its steps, and for each source the
// relative paths of every name its walk found (sent or not), for
// --delete to keep.
type putPlan struct {
	items []planItem
	found []map[string]bool
}

// planPut walks the sources before anything is sent, so that a batch
// knows its total size. Directories come before what they hold. Local
// failures are added to fails; what cannot be sent (symlinked
// directories, special files) is warned about.
func planPut(tops []target, opt TransferOptions, fails *failures) putPlan {
	var pp putPlan
	for i, t := range tops {
		found := map[string]bool{"": true}
		pp.found = append(pp.found, found)
		fi, err := os.Stat(t.src)
		switch {
		case err != nil:
			fails.add(localError("put", t.src, err))
			continue
		case !fi.IsDir():
			pp.items = append(pp.items, planItem{local: t.src, remote: t.dest, size: fi.Size(), mtime: fi.ModTime(), top: i})
			continue
		case !opt.Recursive:
			fails.add(&opError{op: "put", path: t.src, err: errors.New("is a directory (use -r)")})
			continue
		}
		pp.items = append(pp.items, planItem{local: t.src, remote: t.dest, dir: true, top: i})
		walkLocal(t.src, true, func(n *localName) bool {
			found[n.rel] = true
			r := path.Join(t.dest, n.rel)
			p := n.path
			switch {
			case n.typ.IsDir() && n.err == nil:
				pp.items = append(pp.items, planItem{local: p, remote: r, dir: true, top: i, rel: n.rel})
				return true
			case n.err != nil && n.typ&fs.ModeSymlink != 0 && errors.Is(n.err, fs.ErrNotExist):
				warn(opt, "put "+p+": skipping dangling symlink")
			case n.err != nil && n.typ&fs.ModeSymlink != 0 && isLoop(n.err):
				warn(opt, "put "+p+": skipping symlink loop")
			case n.err != nil:
				fails.add(localError("put", p, n.err))
			case n.mode.IsDir():
				warn(opt, "put "+p+": skipping symlinked directory")
			case n.mode.IsRegular():
				pp.items = append(pp.items, planItem{local: p, remote: r, size: n.size, mtime: n.mtime, top: i, rel: n.rel})
			default:
				warn(opt, "put "+p+": skipping special file")
			}
			return false
		}, func(p string, err error) { fails.add(localError("put", p, err)) })
	}
	return pp
}

// checkQuota refuses a batch put that cannot fit in what is left of the
// user's quota, before anything is sent. Only when the plain total does
// not fit does it look closer: a file that replaces one counts for the
// difference, and the part of an interrupted upload that the server
// already holds (and counts) is not counted twice. A server that cannot
// answer quota is not asked again: the puts themselves are checked.
func (c *Client) checkQuota(ctx context.Context, plan []planItem, what string) error {
	var total int64
	for _, it := range plan {
		if !it.skip {
			total += it.size
		}
	}
	if total == 0 {
		return nil
	}
	used, limit, err := c.Quota(ctx)
	var se *StatusError
	switch {
	case errors.As(err, &se) && !se.Status.Closes():
		return nil
	case err != nil:
		return err
	case limit < 0 || total <= limit-used:
		return nil
	}
	need, err := c.addedBytes(ctx, plan)
	if err != nil {
		return err
	}
	if need <= limit-used {
		return nil
	}
	return quotaError(what, need, used, limit)
}

// addedBytes is how much the plan adds to the quota: for each file its
// size, less that of the remote file it replaces and of the part of it
// an interrupted put left on the server. One listing per remote
// directory.
func (c *Client) addedBytes(ctx context.Context, plan []planItem) (int64, error) {
	listings := map[string]map[string]int64{}
	var need int64
	for _, it := range plan {
		if it.dir || it.skip {
			continue
		}
		dir, base := path.Dir(it.remote), path.Base(it.remote)
		sizes, ok := listings[dir]
		if !ok {
			sizes = map[string]int64{}
			entries, err := c.Ls(ctx, dir)
			var se *StatusError
			if err != nil && !(errors.As(err, &se) && !se.Status.Closes()) {
				return 0, err
			}
			for _, e := range entries {
				if !e.IsDir {
					sizes[e.Name] = e.Size
				}
			}
			listings[dir] = sizes
		}
		need += max(it.size-sizes[base]-c.heldForPut(it), 0)
	}
	return need, nil
}

// heldForPut is how much of an interrupted put of it the resume point
// says the server holds.
func (c *Client) heldForPut(it planItem) int64 {
	st := c.records()
	abs, err := c.absLocal(it.local)
	if st == nil || err != nil {
		return 0
	}
	r, err := c.loadRecord(st, newRecord(c.server(), c.user(), "put", abs, c.abs(it.remote)))
	if err != nil || r == nil || r.SourceSize != it.size || !r.SourceMTime.Equal(it.mtime) {
		return 0
	}
	return r.Offset
}

// loadRecord is st.Load, answering at once for a file that has no record
// when a batch has listed the records (batchRecords).
func (c *Client) loadRecord(st *Records, key *Record) (*Record, error) {
	if c.recordNames != nil && !c.recordNames[filepath.Base(st.file(key))] {
		return nil, nil
	}
	return st.Load(key)
}

// batchRecords lists the records once for a batch that asks for many of
// them while it plans; the returned function forgets the list. Records
// written meanwhile concern files already planned.
func (c *Client) batchRecords() func() {
	if st := c.records(); st != nil {
		c.recordNames = st.names()
	}
	c.localDir, _ = os.Getwd() // once: Getwd stats "." and $PWD each time
	return func() { c.recordNames, c.localDir = nil, "" }
}

// inDir has absLocal resolve against dir, the working directory a caller
// read, until the returned function is called.
func (c *Client) inDir(dir string) func() {
	c.localDir = dir
	return func() { c.localDir = "" }
}

// absLocal is filepath.Abs of a local path, with the working directory
// read once a batch (batchRecords).
func (c *Client) absLocal(p string) (string, error) {
	if filepath.IsAbs(p) || c.localDir == "" {
		return filepath.Abs(p)
	}
	return filepath.Join(c.localDir, p), nil
}

// quotaSubject names a batch put in a quota refusal: its only source, or
// where its sources go.
func quotaSubject(locals []string, remote string, opt TransferOptions) string {
	switch {
	case opt.To != "":
		return opt.To
	case len(locals) == 1:
		return locals[0]
	case remote != "":
		return remote
	}
	return "."
}
