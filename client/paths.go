package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"ftpx/protocol"
)

// TransferOptions shape PutPaths and GetPaths.
type TransferOptions struct {
	// Recursive copies directory trees (put -r, get -r).
	Recursive bool
	// To, when set, puts every item inside this directory, creating it
	// (and its parents) when missing: "put --to DIR A B", "get --to DIR R S".
	To string
	// Progress, when set, returns the Progress of one transfer, named by
	// its remote path.
	Progress func(remote string) Progress
	// Done, when set, is called after each transfer that succeeded, and
	// for each file a batch skipped because an earlier run of the same
	// command finished it (Offset = Size, Sent = 0).
	Done func(Result)
	// Warn, when set, is told about what was skipped (symlinked
	// directories, special files) without being a failure.
	Warn func(msg string)

	// Sync (sync.go): with Recursive, a file whose destination already
	// has the same size and mtime is skipped (Done is told, with
	// Skipped); Checksum compares MD5s instead, IgnoreTimes sends every
	// file. Delete removes from the destination tree what the source
	// tree does not have (Removed is told of each). DryRun changes
	// nothing on either side: Done and Removed are told what would be
	// done, with DryRun set.
	Checksum, IgnoreTimes, Delete, DryRun bool
	Removed                               func(Removal)

	// Group, when set, makes a get of one file (not a batch, not a dry
	// run) leave its verified file waiting in the group, which names it
	// and tells Done when flushed (getgroup.go); any other get flushes
	// the group first.
	Group *GetGroup
}

// target is one source named on the command line and where it goes.
type target struct{ src, dest string }

// PutPaths uploads with cp's destinations:
//
//	put FILE            -> the base name, in the remote current directory
//	put FILE REMOTE     -> REMOTE, or REMOTE/BASE when REMOTE is an existing
//	                       directory; REMOTE ending in "/" must be one
//	put -r DIR          -> the tree at BASE (merged into it when it exists)
//	put -r DIR REMOTE   -> the tree at REMOTE (created with its parents), or at
//	                       REMOTE/BASE when REMOTE is an existing directory
//	put [-r] A B REMOTE -> REMOTE/A, REMOTE/B; REMOTE must be an existing
//	                       directory ("" for the current one)
//	put [-r] --to D A B -> D/A, D/B, creating D when missing
//
// Several sources, a tree or --to make a batch: before anything is sent
// the total is compared with the quota left (a *StatusError with 264 when
// it cannot fit), and with Records the files done are journaled so that
// the same command, run again after a crash, skips them (see journal).
//
// A directory without Recursive is a failure. When several items fail it
// goes on with the rest while the connection lasts, and returns their
// errors joined in order (ExitCode reports the first); nil when all
// succeeded.
func (c *Client) PutPaths(ctx context.Context, locals []string, remote string, opt TransferOptions) error {
	batch := opt.Recursive || opt.To != "" || len(locals) > 1
	var j *journal
	var tops []target
	if !opt.DryRun {
		j, tops = c.openJournal(batch, "put", locals, remote, opt)
	}
	if tops == nil {
		var err error
		if tops, err = c.putTargets(ctx, locals, remote, opt); err != nil {
			j.close(true) // a new journal, still empty
			return err
		}
		j.setTops(tops)
	} else if opt.To != "" {
		if err := c.Mkdir(ctx, opt.To, true); err != nil { // as the first run did
			j.close(!j.resumed())
			return err
		}
	}
	var fails failures
	// The destinations are listed while the sources are walked: the server
	// walks its tree as this side walks its own.
	var dests []destTree
	var listErr error
	listed := make(chan struct{})
	if opt.Recursive {
		isDir := topDirs(tops, opt)
		go func() {
			defer close(listed)
			dests, listErr = c.listDests(ctx, tops, isDir, opt)
		}()
	} else {
		close(listed)
	}
	pp := planPut(tops, opt, &fails)
	<-listed
	complete := len(fails.errs) == 0 // the sources were read whole: --delete may remove
	plan := pp.items
	defer c.batchRecords()()
	if listErr != nil {
		j.close(false)
		return errors.Join(append([]error{listErr}, fails.errs...)...)
	}
	if opt.Recursive {
		c.markPut(pp, dests, opt)
	}
	if opt.DryRun {
		for _, it := range plan {
			if it.conflict && opt.Delete { // removed before the copy
				removed(opt, Removal{Action: "delete", Remote: it.remote, DryRun: true})
			}
			if !it.dir {
				done(opt, Result{Action: protocol.ActionPut, Local: it.local, Remote: it.remote, Size: it.size,
					Skipped: it.skip, Delta: it.delta, DryRun: true})
			}
		}
		if opt.Delete {
			c.deleteRemote(ctx, tops, pp, dests, complete, opt, &fails)
		}
		return fails.err()
	}
	// What the destination already has is done: unchanged files, and
	// directories that are there.
	work := plan[:0:0]
	for _, it := range plan {
		switch {
		case it.conflict:
			work = append(work, it)
		case it.skip:
			done(opt, Result{Action: protocol.ActionPut, Local: it.local, Remote: it.remote, Size: it.size, Offset: it.size, Skipped: true})
		case !it.dir || !it.there:
			work = append(work, it)
		}
	}
	plan = work
	if batch {
		if err := c.checkQuota(ctx, plan, quotaSubject(locals, remote, opt)); err != nil {
			j.close(!j.resumed()) // a new journal goes; an earlier run's keeps its destinations
			return errors.Join(append([]error{err}, fails.errs...)...)
		}
	}
	failedDirs := map[string]bool{}
	finished := func(it planItem, res Result) {
		j.add(it.local, c.abs(it.remote), res.Size, it.mtime, res.MD5)
		done(opt, res)
	}
	for i := 0; i < len(plan); i++ {
		it := plan[i]
		if !c.usable() || ctx.Err() != nil {
			break
		}
		if batch && c.pipelinable(j, it, failedDirs) {
			run := i + 1
			for run < len(plan) && run-i < 4*pipeWindow && c.pipelinable(j, plan[run], failedDirs) {
				run++
			}
			// After a lost connection, what was not settled goes one by
			// one, through the retries.
			if run-i > 1 {
				if n := c.putPipelined(ctx, plan[i:run], finished, fails.add); n > 0 {
					i += n - 1
					continue
				}
			}
		}
		if failedDirs[path.Dir(it.remote)] {
			if it.dir {
				failedDirs[it.remote] = true
			}
			continue
		}
		if it.conflict && opt.Delete {
			if err := c.Rm(ctx, it.remote, it.conflictDir); err != nil {
				fails.add(err)
				failedDirs[it.remote] = it.dir
				continue
			}
			removed(opt, Removal{Action: "delete", Remote: it.remote})
			it.there = false
		}
		if it.skip {
			done(opt, Result{Action: protocol.ActionPut, Local: it.local, Remote: it.remote, Size: it.size, Offset: it.size, Skipped: true})
			continue
		}
		if it.dir {
			if err := c.Mkdir(ctx, it.remote, true); err != nil {
				fails.add(err)
				failedDirs[it.remote] = true
			}
			continue
		}
		if res, ok := c.alreadyPut(ctx, j, it); ok {
			done(opt, res)
			continue
		}
		var p Progress
		if opt.Progress != nil {
			p = opt.Progress(it.remote)
		}
		basis := basisAsk
		switch {
		case it.delta:
			basis = basisThere
		case opt.Recursive && !it.there:
			basis = basisNone // listed: nothing there to send a delta onto
		}
		res, err := c.put(ctx, it.local, it.remote, p, basis)
		if err != nil {
			fails.add(err)
			continue
		}
		finished(it, res)
	}
	if opt.Delete && c.usable() && ctx.Err() == nil {
		c.deleteRemote(ctx, tops, pp, dests, complete, opt, &fails)
	}
	fails.stopped(ctx, c, "put", quotaSubject(locals, remote, opt))
	j.close(len(fails.errs) == 0)
	return fails.err()
}

// putTargets resolves where each source goes, following cp.
func (c *Client) putTargets(ctx context.Context, locals []string, remote string, opt TransferOptions) ([]target, error) {
	if len(locals) == 0 {
		return nil, Usagef("put: nothing to put")
	}
	dir := remote
	switch {
	case opt.To != "" && remote != "":
		return nil, Usagef("put: give either --to DIR or REMOTE, not both")
	case opt.To != "":
		if !opt.DryRun {
			if err := c.Mkdir(ctx, opt.To, true); err != nil {
				return nil, err
			}
		}
		dir = opt.To
	case len(locals) == 1:
		base, err := localBase(locals[0])
		if err != nil {
			return nil, err
		}
		if remote == "" {
			return []target{{locals[0], base}}, nil
		}
		isDir, exists, err := c.remoteKind(ctx, remote)
		switch {
		case err != nil:
			return nil, err
		case isDir:
			return []target{{locals[0], path.Join(remote, base)}}, nil
		case strings.HasSuffix(remote, "/") && (exists || !isLocalDir(locals[0])):
			// cp: a trailing slash names a directory, and this is none.
			return nil, &StatusError{Op: "put", Path: remote, Status: protocol.StatusNotDir, Msg: protocol.StatusNotDir.String()}
		}
		return []target{{locals[0], remote}}, nil
	case remote != "":
		isDir, _, err := c.remoteKind(ctx, remote)
		if err != nil {
			return nil, err
		}
		if !isDir {
			return nil, &StatusError{Op: "put", Path: remote, Status: protocol.StatusNotDir, Msg: "not a directory (several sources need an existing directory)"}
		}
	}
	var tops []target
	for _, l := range locals {
		base, err := localBase(l)
		if err != nil {
			return nil, err
		}
		tops = append(tops, target{l, joinRemote(dir, base)})
	}
	return tops, nil
}

// remoteKind reports whether name is an existing remote directory, and
// whether it exists at all. A name this user may not stat counts as
// missing (the transfer itself then reports what is wrong).
func (c *Client) remoteKind(ctx context.Context, name string) (isDir, exists bool, err error) {
	e, err := c.Stat(ctx, name)
	var se *StatusError
	switch {
	case err == nil:
		return e.IsDir, true, nil
	case errors.As(err, &se) && !se.Status.Closes():
		return false, false, nil
	}
	return false, false, err
}

// GetPaths downloads with cp's destinations, mirroring PutPaths:
//
//	get REMOTE          -> its base name, in the local current directory
//	get REMOTE LOCAL    -> LOCAL, or LOCAL/BASE when LOCAL is an existing
//	                       directory; LOCAL ending in "/" must be one
//	get -r DIR          -> the tree at BASE (merged into it when it exists)
//	get -r DIR LOCAL    -> the tree at LOCAL (created with its parents), or at
//	                       LOCAL/BASE when LOCAL is an existing directory
//	get [-r] R S LOCAL  -> LOCAL/R, LOCAL/S; LOCAL must be an existing
//	                       directory ("" for the current one)
//	get [-r] --to D R S -> D/R, D/S, creating D when missing
//
// With Recursive a remote directory is copied whole, empty directories
// included; a remote file is got as without it. Every name the server
// lists is checked before it is used (planTree): none can lead outside the
// destination, and directories already there are merged into, never
// followed when they are symlinks. Small files go pipelined, big ones one
// by one with progress and resume points.
//
// Several sources, a tree or --to make a batch, journaled as in PutPaths:
// the same command run again after a crash skips the files done and lands
// where the first run did. Failures are handled as in PutPaths.
func (c *Client) GetPaths(ctx context.Context, remotes []string, local string, opt TransferOptions) error {
	batch := opt.Recursive || len(remotes) > 1 || opt.To != ""
	held := opt.Group
	if held != nil && (batch || opt.DryRun) {
		if err := held.Flush(); err != nil {
			return err
		}
		held = nil
	}
	var j *journal
	var tops []target
	if !opt.DryRun {
		j, tops = c.openJournal(batch, "get", remotes, local, opt)
	}
	if tops == nil {
		var err error
		if tops, err = c.getTargets(remotes, local, opt); err != nil {
			j.close(true) // a new journal, still empty
			return err
		}
		j.setTops(tops)
	} else if opt.To != "" {
		os.MkdirAll(opt.To, 0o777) // as the first run did; a failure shows on each file
	}
	var fails failures
	switch {
	case batch:
		defer c.batchRecords()()
	case held != nil:
		defer c.inDir(held.workDir())()
	}
	// The local trees are walked while the server lists its own.
	var there map[string]*localName
	walked := make(chan struct{})
	if opt.Recursive {
		go func() {
			defer close(walked)
			there = walkDests(tops)
		}()
	} else {
		close(walked)
	}
	plan, trees := c.planGet(ctx, tops, opt, &fails)
	<-walked
	if opt.Recursive {
		markGet(plan, there, opt)
	}
	if opt.DryRun {
		gone := map[string]bool{}
		for _, it := range plan {
			if opt.Delete && localInTheWay(it) { // removed before the copy
				gone[it.dest] = true
				removed(opt, Removal{Action: "delete", Local: it.dest, DryRun: true})
			}
			if !it.dir {
				done(opt, Result{Action: protocol.ActionGet, Local: it.dest, Remote: it.src, Size: max(it.size, 0),
					Skipped: it.skip, Delta: it.delta, DryRun: true})
			}
		}
		if opt.Delete {
			deleteLocal(trees, gone, opt, &fails)
		}
		return fails.err()
	}
	files := c.makeDirs(plan, j.resumed(), opt, &fails)
	finished := func(t target, res Result) {
		if j != nil {
			mtime := res.mtime // what the get gave the file: no stat needed
			if mtime.IsZero() {
				if fi, err := os.Stat(t.dest); err == nil {
					mtime = fi.ModTime()
				}
			}
			j.add(t.dest, c.abs(t.src), res.Size, mtime, res.MD5)
		}
		done(opt, res)
	}
	work := files[:0:0]
	for _, it := range files {
		if it.skip {
			done(opt, Result{Action: protocol.ActionGet, Local: it.dest, Remote: it.src, Size: it.size, Offset: it.size, MD5: it.md5, Skipped: true})
		} else {
			work = append(work, it)
		}
	}
	files = c.skipDone(ctx, j, work, func(r Result) { done(opt, r) })
	small := c.smallGets(ctx, files, batch)
	for i := 0; i < len(files); i++ {
		it := files[i]
		t := it.target
		if !c.usable() || ctx.Err() != nil {
			break
		}
		if c.getPipelinable(j, it, small) {
			run := i + 1
			for run < len(files) && run-i < 4*pipeWindow && c.getPipelinable(j, files[run], small) {
				run++
			}
			if run-i > 1 {
				if n := c.getPipelined(ctx, targets(files[i:run]), finished, fails.add, nil); n > 0 {
					i += n - 1
					continue
				}
			}
		}
		if it.conflict && opt.Delete {
			if err := os.RemoveAll(t.dest); err != nil {
				fails.add(localError("delete", t.dest, err))
				continue
			}
			removed(opt, Removal{Action: "delete", Local: t.dest})
		}
		if res, ok := c.alreadyGot(ctx, j, t); ok {
			done(opt, res)
			continue
		}
		var p Progress
		if opt.Progress != nil {
			p = opt.Progress(t.src)
		}
		basis := basisAsk
		switch {
		case it.delta:
			basis = basisThere
		case it.size >= 0:
			basis = basisNone // listed, and nothing worth a delta is there
		}
		if held != nil {
			if err := held.get(ctx, c, t, p, basis, func(res Result) { finished(t, res) }); err != nil {
				fails.add(useR(err, opt))
			}
			continue
		}
		res, err := c.get(ctx, t.src, t.dest, p, basis)
		if err != nil {
			fails.add(useR(err, opt))
			continue
		}
		finished(t, res)
	}
	if opt.Delete && c.usable() && ctx.Err() == nil {
		deleteLocal(trees, nil, opt, &fails)
	}
	fails.stopped(ctx, c, "get", tops[0].src)
	j.close(len(fails.errs) == 0)
	return fails.err()
}

// smallGets returns the remote files of a batch known to be small (at most
// smallFile, by the tree listing or by one ls of each directory named):
// the ones it can get pipelined. Without a batch, or with a rate cap,
// there are none.
func (c *Client) smallGets(ctx context.Context, files []getItem, batch bool) map[string]bool {
	small := map[string]bool{}
	if !batch || c.lim != nil {
		return small
	}
	var unknown []target
	for _, it := range files {
		switch {
		case it.size < 0:
			unknown = append(unknown, it.target)
		case it.size <= smallFile:
			small[c.abs(it.src)] = true
		}
	}
	if len(unknown) > 1 {
		for k := range c.smallRemote(ctx, unknown) {
			small[k] = true
		}
	}
	return small
}

func targets(items []getItem) []target {
	ts := make([]target, len(items))
	for i, it := range items {
		ts[i] = it.target
	}
	return ts
}

// useR adds a hint to the refusal of a get of a directory without -r.
func useR(err error, opt TransferOptions) error {
	var se *StatusError
	if !opt.Recursive && errors.As(err, &se) && se.Status == protocol.StatusIsDir && se.Op == "get" {
		return &StatusError{Op: se.Op, Path: se.Path, Status: se.Status, Msg: se.Status.String() + " (use -r)"}
	}
	return err
}

// getTargets resolves where each remote file or tree goes, following cp.
func (c *Client) getTargets(remotes []string, local string, opt TransferOptions) ([]target, error) {
	if len(remotes) == 0 {
		return nil, Usagef("get: nothing to get")
	}
	dir := local
	switch {
	case opt.To != "" && local != "":
		return nil, Usagef("get: give either --to DIR or LOCAL, not both")
	case opt.To != "":
		if !opt.DryRun {
			if err := os.MkdirAll(opt.To, 0o777); err != nil {
				return nil, localError("get", opt.To, err)
			}
		}
		dir = opt.To
	case len(remotes) == 1 && local != "" && !isLocalDir(local) && !strings.HasSuffix(local, "/"):
		return []target{{remotes[0], local}}, nil
	case len(remotes) == 1:
		base, err := c.remoteBase(remotes[0], opt.Recursive)
		switch {
		case err != nil:
			return nil, err
		case base == "" && local == "":
			return nil, Usagef("get -r %s: the home root has no name: give the LOCAL directory to copy it into", Printable(remotes[0]))
		case base == "":
			return []target{{remotes[0], local}}, nil // into LOCAL itself, existing or not
		case local == "":
			return []target{{remotes[0], base}}, nil
		case isLocalDir(local):
			return []target{{remotes[0], filepath.Join(local, base)}}, nil
		case strings.HasSuffix(local, "/"):
			return nil, &opError{op: "get", path: local, err: errors.New("not a directory")}
		}
		return []target{{remotes[0], local}}, nil
	case local != "" && !isLocalDir(local):
		return nil, &opError{op: "get", path: local, err: errors.New("not a directory (several sources need an existing directory)")}
	}
	var tops []target
	for _, r := range remotes {
		base, err := c.remoteBase(r, opt.Recursive)
		if err != nil {
			return nil, err
		}
		if base == "" {
			return nil, Usagef("get -r %s: the home root has no name: get it alone, into a LOCAL directory", Printable(r))
		}
		tops = append(tops, target{r, filepath.Join(dir, base)})
	}
	return tops, nil
}

func isLocalDir(name string) bool {
	fi, err := os.Stat(name)
	return err == nil && fi.IsDir()
}

// joinRemote puts base inside dir, "" being the remote current directory.
func joinRemote(dir, base string) string {
	if dir == "" {
		return base
	}
	return path.Join(dir, base)
}

// localBase is the name a local file or tree takes on the server: the base
// name of its absolute path, so that "." and ".." name real directories.
func localBase(local string) (string, error) {
	if local == "" {
		return "", Usagef("put: empty local path")
	}
	abs, err := filepath.Abs(local)
	if err != nil {
		return "", localError("put", local, err)
	}
	base := filepath.Base(abs)
	if base == string(filepath.Separator) || base == "." || base == ".." {
		return "", &opError{op: "put", path: local, err: errors.New("cannot put the root directory")}
	}
	return base, nil
}

// remoteBase is the local name of a remote file or tree: the last element
// of the path as the user wrote it (never a name the server chose). With
// recursive, "." and ".." are the directories they lead to, named as
// in the remote current directory, and the home root has no name ("").
func (c *Client) remoteBase(remote string, recursive bool) (string, error) {
	if remote == "" {
		return "", Usagef("get: empty remote path")
	}
	base := path.Base(path.Clean(remote))
	if base != "/" && base != "." && base != ".." {
		return base, nil
	}
	if !recursive {
		return "", &StatusError{Op: "get", Path: remote, Status: protocol.StatusIsDir, Msg: "is a directory (use -r)"}
	}
	abs := c.abs(remote)
	if abs == "/" {
		return "", nil
	}
	base = path.Base(abs)
	if err := checkName(base); err != nil {
		return "", &opError{op: "get", path: remote, err: fmt.Errorf("the remote directory's name: %v", err)}
	}
	return base, nil
}

func warn(opt TransferOptions, msg string) {
	if opt.Warn != nil {
		opt.Warn(msg)
	}
}

func done(opt TransferOptions, r Result) {
	if opt.Done != nil {
		opt.Done(r)
	}
}
