package client

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// A batch script's run of lines "get REMOTE [LOCAL]" goes pipelined as
// get -r's small files do (pipeline_get.go), as far as each get is one a
// lone get would do in one go: a small remote file (one ls a directory),
// to a local name that does not exist yet (no delta basis) and that no
// resume point waits for. The first get that is not such a one, and every
// get after it, are left to the caller, to go one by one (GetGroup).

// OneGet is one script line "get REMOTE [LOCAL]" (LOCAL may be "").
type OneGet struct{ Remote, Local string }

// GetRun gets pipelined the longest prefix of gets that can be, naming
// each file in line order once it is durable, then telling done its line
// (its index in gets) and result. It returns how many gets it settled:
// the caller gets the others one by one. When one of them fails, the
// error is a *GroupError with its index: none after it was named.
//
// A directory that l has listed is not listed again: the caller starts
// a new Listings once anything may have changed the remote files. One
// that did all the same is no harm: a file gone fails as it would have
// one by one, and every file's MD5 is checked.
func (c *Client) GetRun(ctx context.Context, gets []OneGet, l *Listings, done func(int, Result)) (int, error) {
	if c.lim != nil || !c.usable() || ctx.Err() != nil {
		return 0, nil
	}
	defer c.batchRecords()() // one listing of the resume points, not an open a get
	tops := c.newLocalTargets(gets)
	c.listSmall(ctx, tops, l)
	n := 0
	for n < len(tops) && l.small[c.abs(tops[n].src)] {
		n++
	}
	return c.getHalting(ctx, tops[:n], done)
}

// newLocalTargets resolves the targets of the leading gets whose local
// name is free: it does not exist yet, is not taken by an earlier get,
// sits in an existing directory, and no resume point waits for it.
func (c *Client) newLocalTargets(gets []OneGet) []target {
	var tops []target
	taken := map[string]bool{}
	dirs := map[string]bool{}
	for _, g := range gets {
		ts, err := c.getTargets([]string{g.Remote}, g.Local, TransferOptions{})
		if err != nil || len(ts) != 1 {
			break
		}
		t := ts[0]
		abs, err := c.absLocal(t.dest)
		if err != nil || taken[abs] || !c.noResumePoint(t) {
			break
		}
		if _, err := os.Lstat(abs); !errors.Is(err, fs.ErrNotExist) {
			break
		}
		dir := filepath.Dir(abs)
		if !dirs[dir] && !isLocalDir(dir) {
			break
		}
		dirs[dir], taken[abs] = true, true
		tops = append(tops, t)
	}
	return tops
}

// getHalting gets tops pipelined, stopping at the first failure (see
// GetRun).
func (c *Client) getHalting(ctx context.Context, tops []target, done func(int, Result)) (int, error) {
	named := 0
	var first error
	n := c.getPipelined(ctx, tops, func(_ target, r Result) {
		done(named, r)
		named++
	}, func(err error) { first = err }, newHalter())
	if first != nil { // getPipelined has returned: its namer is done
		return named + 1, &GroupError{Index: named, Err: first}
	}
	return n, nil
}
