package client

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"ftpx/protocol"
)

// getItem is one step of a get: a local directory to make, or a remote
// file to fetch into dest.
type getItem struct {
	target
	dir   bool
	top   bool  // a tree's destination, named by the user: a symlink to a directory is followed there
	size  int64 // -1 when not known (a file named on the command line)
	mtime time.Time
	md5   string // the server's, when listed with checksums

	// What the local destination holds there (sync.go).
	skip     bool // the same file: nothing to get
	delta    bool // an older version of the file: get it as a delta
	conflict bool // a directory is in the way of the file
}

// planGet lists what each target is: a file, or with Recursive a tree,
// whose directories come before what they hold. What cannot be got (a
// missing path, a refused name) is added to fails; what is skipped on
// purpose (symlinks out of the home, loops, special files) is warned
// about.
func (c *Client) planGet(ctx context.Context, tops []target, opt TransferOptions, fails *failures) ([]getItem, []getTree) {
	var plan []getItem
	var trees []getTree
	for _, t := range tops {
		if !opt.Recursive {
			plan = append(plan, getItem{target: t, size: -1})
			continue
		}
		if !c.usable() || ctx.Err() != nil {
			break
		}
		entries, isDir, err := c.remoteTree(ctx, t.src, opt.Checksum)
		switch {
		case err != nil:
			fails.add(retarget(err, "get", t.src))
		case !isDir:
			plan = append(plan, getItem{target: t, size: -1})
		default:
			tree := getTree{dest: t.dest, names: make(map[string]bool, len(entries)), complete: true}
			for _, e := range entries {
				tree.names[e.Path] = true
				tree.complete = tree.complete && e.Status == 0
			}
			refused := func(err error) {
				tree.complete = false
				fails.add(err)
			}
			plan = append(plan, c.planTree(t, entries, refused, func(msg string) { warn(opt, msg) })...)
			trees = append(trees, tree)
		}
	}
	return plan, trees
}

// planTree turns the server's listing of the tree top.src into the steps
// that copy it to top.dest, checking every name first: each must be one
// plain element (checkName) under a directory listed before it, once, so
// that every local path stays inside top.dest. A refused name is
// reported, escaped, on one line of its own, and nothing under it is got.
func (c *Client) planTree(top target, entries []protocol.TreeEntry, report func(error), warn func(string)) []getItem {
	plan := make([]getItem, 0, len(entries)+1)
	plan = append(plan, getItem{target: top, dir: true, top: true})
	taken := map[string]bool{"": true} // directories whose content is got, by relative path
	dropped := map[string]bool{}       // directories refused or skipped: what is under them goes silently
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		shown := strings.TrimSuffix(top.src, "/") + "/" + e.Path
		refuse := func(why string) {
			report(&opError{op: "get", path: shown, err: errors.New(why)})
			if e.IsDir {
				dropped[e.Path] = true
			}
		}
		parent, name := "", e.Path
		if i := strings.LastIndexByte(e.Path, '/'); i >= 0 {
			parent, name = e.Path[:i], e.Path[i+1:]
		}
		switch {
		case seen[e.Path]:
			refuse("listed twice by the server")
			continue
		case dropped[parent]:
			if e.IsDir {
				dropped[e.Path] = true
			}
			continue
		case !taken[parent] || strings.HasPrefix(e.Path, "/"):
			refuse("not under a directory the server listed; not got")
			continue
		}
		seen[e.Path] = true
		if err := checkName(name); err != nil {
			refuse("refused name from the server (" + err.Error() + "); not got")
			continue
		}
		remote := path.Join(top.src, e.Path)
		if len(c.abs(remote)) > protocol.MaxPathLen {
			refuse(fmt.Sprintf("a remote path over %d bytes; not got", protocol.MaxPathLen))
			continue
		}
		switch {
		case e.Status != 0:
			report(&StatusError{Op: "get", Path: remote, Status: e.Status, Msg: e.Status.String()})
			dropped[e.Path] = true
			continue
		case e.Skip == protocol.SkipLoop:
			warn("get " + Printable(remote) + ": skipping a directory that is one of its own parents (a symlink loop)")
		case e.Skip == protocol.SkipLink:
			warn("get " + Printable(remote) + ": skipping a symlink out of the home, or dangling")
		case e.Skip == protocol.SkipSpecial:
			warn("get " + Printable(remote) + ": skipping special file")
		case e.Skip != "":
			warn("get " + Printable(remote) + ": skipped by the server: " + Printable(e.Skip))
		case e.IsDir:
			taken[e.Path] = true
			plan = append(plan, getItem{target: target{remote, filepath.Join(top.dest, filepath.FromSlash(e.Path))}, dir: true})
			continue
		case e.Size < 0:
			refuse("a negative size from the server; not got")
			continue
		default:
			plan = append(plan, getItem{target: target{remote, filepath.Join(top.dest, filepath.FromSlash(e.Path))}, size: e.Size, mtime: e.MTime, md5: e.MD5})
			continue
		}
		if e.IsDir {
			dropped[e.Path] = true
		}
	}
	return plan
}

// makeDirs makes the local directories of a plan, parents first, and
// returns its files, less those under a directory that could not be made.
// With sweep (an earlier run of the batch was cut off), each directory
// that was there already loses the partial files of that run.
// With opt.Delete, a file or symbolic link in the way of a directory is
// removed first.
func (c *Client) makeDirs(plan []getItem, sweep bool, opt TransferOptions, fails *failures) []getItem {
	failed := map[string]bool{}
	var keep map[string]bool
	if sweep {
		keep = c.recordedPartials()
	}
	files := make([]getItem, 0, len(plan))
	for _, it := range plan {
		parent := filepath.Dir(it.dest)
		switch {
		case failed[parent]:
			if it.dir {
				failed[it.dest] = true
			}
		case !it.dir:
			files = append(files, it)
		default:
			existed, err := makeLocalDir(it.dest, it.top)
			if (err == errLinkInTheWay || err == errFileInTheWay) && opt.Delete {
				if err = os.Remove(it.dest); err == nil {
					removed(opt, Removal{Action: "delete", Local: it.dest})
					existed, err = makeLocalDir(it.dest, it.top)
				}
			}
			if err != nil {
				fails.add(localError("get", it.dest, err))
				failed[it.dest] = true
			} else if existed && sweep {
				sweepPartials(it.dest, keep)
			}
		}
	}
	return files
}

// makeLocalDir makes a directory of a tree being got, with its missing
// parents, or takes the one already there. Below the tree's top, where
// the names are the server's, that must be a real directory, never a
// symlink, which could lead anywhere; the top, named by the user (LOCAL,
// or the remote path's base name), may be a symlink to a directory, as
// for cp.
func makeLocalDir(name string, top bool) (existed bool, err error) {
	if top {
		fi, err := os.Stat(name)
		if err == nil && fi.IsDir() {
			return true, nil
		}
		return false, os.MkdirAll(name, 0o777)
	}
	if err := os.MkdirAll(filepath.Dir(name), 0o777); err != nil {
		return false, err
	}
	err = os.Mkdir(name, 0o777)
	if err == nil || !errors.Is(err, fs.ErrExist) {
		return false, err
	}
	fi, err := os.Lstat(name)
	switch {
	case err != nil:
		return false, err
	case fi.Mode()&fs.ModeSymlink != 0:
		return false, errLinkInTheWay
	case !fi.IsDir():
		return false, errFileInTheWay
	}
	return true, nil
}

// Why a directory of a tree being got cannot be made.
var (
	errLinkInTheWay = errors.New("a symbolic link is in the way; not followed")
	errFileInTheWay = errors.New("a file is in the way of a directory")
)

// partialMark is in the name of every partial file a get writes
// (createPartial): ".NAME.ftpx-part-ID".
const partialMark = ".ftpx-part-"

// recordedPartials returns the partial files resume points refer to.
func (c *Client) recordedPartials() map[string]bool {
	keep := map[string]bool{}
	if st := c.records(); st != nil {
		recs, _, _ := st.List()
		for _, r := range recs {
			if r.Direction == "get" {
				keep[r.Partial] = true
			}
		}
	}
	return keep
}

// sweepPartials removes from dir the partial files of gets that were cut
// off without a resume point (those of a pipelined batch), keeping those
// in keep.
func sweepPartials(dir string, keep map[string]bool) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		n := e.Name()
		i := strings.LastIndex(n, partialMark)
		if i < 1 || n[0] != '.' || !e.Type().IsRegular() || uuid.Validate(n[i+len(partialMark):]) != nil {
			continue
		}
		p, err := filepath.Abs(filepath.Join(dir, n))
		if err == nil && !keep[p] { // records name partials by absolute path
			os.Remove(p)
		}
	}
}
