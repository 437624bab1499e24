package client

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"ftpx/protocol"
)

// A put -r or get -r compares its source with what the destination holds
// before it sends anything, as rsync does: the destination tree is listed
// once (the tree action, one request), and a file whose destination has
// the same size and modification time (sameMTime) is skipped; with
// Checksum, the same size and MD5 (the server's stored one against the
// local file's, computed). A file whose destination holds another version
// of it goes as a delta when both are big enough (MinDeltaSize). With
// Delete, what the destination tree has and the source tree does not is
// removed after the copy, unless the source could not be read completely;
// a name of the other kind in the way (a file where a directory goes, or
// the reverse) is removed before the copy. With DryRun, each step is
// reported and nothing is changed on either side.

// Removal is a name that --delete removed, or in a dry run would remove,
// as "ftpx --json" prints it.
type Removal struct {
	Action string `json:"action"` // "delete"
	Remote string `json:"remote,omitempty"`
	Local  string `json:"local,omitempty"`
	DryRun bool   `json:"dry_run,omitempty"`
}

// unchanged reports whether a file of size and mtime is what the
// destination entry e holds, by size and mtime or, with Checksum, size
// and MD5 (sum gives the source's, computed only when the sizes agree).
func unchanged(opt TransferOptions, size int64, mtime time.Time, e protocol.TreeEntry, sum func() string) bool {
	switch {
	case opt.IgnoreTimes, e.IsDir, e.Skip != "", e.Status != 0, e.Size != size:
		return false
	case opt.Checksum:
		return e.MD5 != "" && strings.EqualFold(e.MD5, sum())
	}
	return sameMTime(e.MTime, mtime)
}

// sameMTime compares modification times to the nanosecond when both have
// a fraction of a second, else to the second: a file system (or a server)
// that keeps whole seconds has a truncated copy of the other side's time.
func sameMTime(a, b time.Time) bool {
	if a.Nanosecond() == 0 || b.Nanosecond() == 0 {
		return a.Unix() == b.Unix()
	}
	return a.Equal(b)
}

// deltaWorth reports whether a file of size sent onto a version of basis
// bytes goes as a delta.
func deltaWorth(size, basis int64) bool {
	return size >= protocol.MinDeltaSize && basis >= protocol.MinDeltaSize
}

// destTree is what the destination of one source holds: the server's
// listing of a tree (put), by path relative to it, in the server's
// order; or the entry of one file ("").
type destTree struct {
	entries map[string]protocol.TreeEntry
	order   []protocol.TreeEntry
	listed  bool // the destination is a directory the server listed whole
}

// listDests lists what the destination of each source of a put -r holds:
// the tree where a source is a directory (isDir), one stat where it is a
// file. One request per source.
func (c *Client) listDests(ctx context.Context, tops []target, isDir []bool, opt TransferOptions) ([]destTree, error) {
	dests := make([]destTree, len(tops))
	for i, t := range tops {
		d := destTree{entries: map[string]protocol.TreeEntry{}}
		if isDir[i] {
			entries, dir, err := c.remoteTree(ctx, t.dest, opt.Checksum)
			switch {
			case isStatus(err):
				// Missing, or not to be listed: the puts say what is wrong.
			case err != nil:
				return nil, err
			case dir:
				d.listed = true
				d.order = entries
				for _, e := range entries {
					d.entries[e.Path] = e
				}
			default:
				d.entries[""] = protocol.TreeEntry{Size: -1} // a file where the tree goes
			}
		} else if e, sum, err := c.statEntry(ctx, t.dest, opt.Checksum); err == nil {
			e.MD5 = sum
			d.entries[""] = e
		} else if !isStatus(err) {
			return nil, err
		}
		dests[i] = d
	}
	return dests, nil
}

// topDirs reports which sources of a put are directories to copy whole.
func topDirs(tops []target, opt TransferOptions) []bool {
	dirs := make([]bool, len(tops))
	for i, t := range tops {
		fi, err := os.Stat(t.src)
		dirs[i] = opt.Recursive && err == nil && fi.IsDir()
	}
	return dirs
}

// markPut marks each step of a put -r by what its destination holds:
// skipped, sent as a delta, or in the way of something of the other kind.
func (c *Client) markPut(pp putPlan, dests []destTree, opt TransferOptions) {
	items := pp.items
	for k := range items {
		it := &items[k]
		d := dests[it.top]
		e, ok := d.entries[it.rel]
		if it.rel == "" && it.dir {
			it.there = d.listed
			ok = ok && !d.listed
		}
		switch {
		case !ok:
		case it.dir:
			it.there = it.there || e.IsDir && e.Status == 0
			c.inTheWay(it, e)
		case e.IsDir:
			c.inTheWay(it, e)
		default:
			it.there = true
			local := it.local
			it.skip = unchanged(opt, it.size, it.mtime, e, func() string { return localMD5(local) })
			it.delta = !it.skip && e.Skip == "" && deltaWorth(it.size, e.Size)
			it.basisSize = e.Size
		}
	}
}

// inTheWay marks a step whose destination holds a name of the other kind.
func (c *Client) inTheWay(it *planItem, e protocol.TreeEntry) {
	if it.dir != e.IsDir {
		it.conflict = true
		it.conflictDir = e.IsDir
	}
}

// isStatus reports whether err is the server's refusal of one request
// (the connection goes on).
func isStatus(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && !se.Status.Closes()
}

// statEntry describes one remote name as a tree entry, with its MD5 when
// asked.
func (c *Client) statEntry(ctx context.Context, name string, checksum bool) (protocol.TreeEntry, string, error) {
	var e protocol.Entry
	var sum string
	var err error
	if checksum {
		e, sum, err = c.StatMD5(ctx, name)
	} else {
		e, err = c.Stat(ctx, name)
	}
	return protocol.TreeEntry{Size: e.Size, IsDir: e.IsDir, MTime: e.MTime}, sum, err
}

// localMD5 is the MD5 of a local file, or "" when it cannot be read.
func localMD5(name string) string {
	f, err := os.Open(name)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := md5.New()
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	if _, err := io.CopyBuffer(h, onlyReader{f}, *buf); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// onlyReader hides a file's other methods from io.CopyBuffer.
type onlyReader struct{ io.Reader }

// validRel reports whether p, a path from the server relative to a tree,
// names something inside it: plain elements (checkName) joined by "/".
func validRel(p string) bool {
	if p == "" {
		return false
	}
	for _, el := range strings.Split(p, "/") {
		if checkName(el) != nil {
			return false
		}
	}
	return true
}

// deleteRemote removes from each destination tree of a put what its
// source does not have, after the copy: every name the listing gave that
// the walk of the source did not find, a directory with all it holds.
// What was under a directory in the way of a file is not looked at: the
// directory went before the copy. Nothing is removed when the source could
// not be read completely (complete false), and nothing but names inside
// the trees.
func (c *Client) deleteRemote(ctx context.Context, tops []target, pp putPlan, dests []destTree, complete bool, opt TransferOptions, fails *failures) {
	if !complete {
		warn(opt, "put: not deleting anything: the source could not be read completely")
		return
	}
	for i, t := range tops {
		d := dests[i]
		if !d.listed {
			continue
		}
		gone := map[string]bool{}
		for _, it := range pp.items {
			if it.top == i && it.conflict && it.conflictDir {
				gone[it.rel] = true
			}
		}
		for _, e := range d.order {
			if !validRel(e.Path) || pp.found[i][e.Path] || under(gone, e.Path) {
				continue
			}
			name := path.Join(t.dest, e.Path)
			if e.IsDir {
				gone[e.Path] = true
			}
			if opt.DryRun {
				removed(opt, Removal{Action: "delete", Remote: name, DryRun: true})
				continue
			}
			if !c.usable() || ctx.Err() != nil {
				return
			}
			if err := c.Rm(ctx, name, e.IsDir); err != nil {
				fails.add(err)
				continue
			}
			removed(opt, Removal{Action: "delete", Remote: name})
		}
	}
}

// under reports whether p is inside one of the directories in gone.
func under(gone map[string]bool, p string) bool {
	for i := strings.LastIndexByte(p, '/'); i > 0; i = strings.LastIndexByte(p[:i], '/') {
		if gone[p[:i]] {
			return true
		}
	}
	return false
}

func removed(opt TransferOptions, r Removal) {
	if opt.Removed != nil {
		opt.Removed(r)
	}
}

// getTree is what the source of a get -r holds, for --delete: every name
// the server listed under it (got or not), and whether the listing was
// whole: every directory listed, every name usable.
type getTree struct {
	dest     string
	names    map[string]bool
	complete bool
}

// markGet marks each file of a get -r: skipped when the local file is the
// same (a regular file: a symbolic link is replaced, never followed),
// sent as a delta onto an older version, or in the way (a directory where
// the file goes).
func markGet(files []getItem, local map[string]*localName, opt TransferOptions) {
	for k := range files {
		it := &files[k]
		if it.size < 0 {
			continue // not listed: a file named on the command line
		}
		n, ok := local[it.dest]
		switch {
		case !ok:
		case n.typ.IsDir():
			it.conflict = true
		case n.typ.IsRegular() && n.err == nil:
			dest := it.dest
			e := protocol.TreeEntry{Size: it.size, MTime: it.mtime, MD5: it.md5}
			it.skip = unchanged(opt, n.size, n.mtime, e, func() string { return localMD5(dest) })
			it.delta = !it.skip && deltaWorth(it.size, n.size)
		}
	}
}

// walkDests walks the local trees a get -r copies into (the tops'
// destinations), symbolic links not followed, and returns every name
// found, by local path: what markGet compares the server's listing with.
// Destinations that are not there yet have nothing.
func walkDests(tops []target) map[string]*localName {
	local := map[string]*localName{}
	for _, t := range tops {
		walkLocal(t.dest, false, func(n *localName) bool {
			local[n.path] = n
			return true
		}, func(string, error) {})
	}
	return local
}

// localInTheWay reports whether get -r --delete removes what is at
// it.dest before the copy: a directory where a file goes (markGet), or,
// below a tree's top, a file or symbolic link where a directory goes
// (makeDirs).
func localInTheWay(it getItem) bool {
	if !it.dir {
		return it.conflict
	}
	if it.top {
		return false
	}
	fi, err := os.Lstat(it.dest)
	return err == nil && !fi.IsDir()
}

// deleteLocal removes from each local tree a get -r copied into what its
// source does not have: every name the walk of the local tree finds (a
// symbolic link is removed, never followed) that the server did not list,
// a directory with all it holds; partial files of this client's own
// interrupted gets stay, and so do the names in gone (a dry run's names in
// the way, which the real run removes before the copy). Nothing is
// removed from a tree whose listing was not whole.
func deleteLocal(trees []getTree, gone map[string]bool, opt TransferOptions, fails *failures) {
	for _, t := range trees {
		if !t.complete {
			warn(opt, "get "+t.dest+": not deleting anything: the remote tree could not be read completely")
			continue
		}
		root := t.dest
		if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
			continue
		}
		root += string(filepath.Separator) // a top that is a symlink to a directory is walked
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || filepath.Clean(p) == filepath.Clean(root) {
				return nil
			}
			rel, rerr := filepath.Rel(root, p)
			if rerr != nil {
				return nil
			}
			rel = filepath.ToSlash(rel)
			if gone[filepath.Clean(p)] && d.IsDir() {
				return fs.SkipDir
			}
			if t.names[rel] || ownPartial(d.Name()) || gone[filepath.Clean(p)] {
				return nil
			}
			if opt.DryRun {
				removed(opt, Removal{Action: "delete", Local: p, DryRun: true})
			} else if err := os.RemoveAll(p); err != nil {
				fails.add(localError("delete", p, err))
				return nil
			} else {
				removed(opt, Removal{Action: "delete", Local: p})
			}
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		})
	}
}

// ownPartial reports whether name is one of this client's partial files
// (".NAME.ftpx-part-ID").
func ownPartial(name string) bool {
	i := strings.LastIndex(name, partialMark)
	return i >= 1 && name[0] == '.' && uuid.Validate(name[i+len(partialMark):]) == nil
}
