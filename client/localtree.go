package client

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// localName is one name under a local tree, as walkLocal found it.
type localName struct {
	path  string      // the local path: root joined with rel
	rel   string      // relative to the root, elements joined by "/"
	typ   fs.FileMode // the name's own type (fs.ModeDir, fs.ModeSymlink, 0 for a regular file, ...)
	mode  fs.FileMode // what the name leads to: a symlink is followed when follow is set
	size  int64
	mtime time.Time
	err   error // the name could not be stat'ed (a dangling link: fs.ErrNotExist)
}

// walkLocal visits every name under the directory root, depth first in
// name order, each directory before what it holds, with one fstatat per
// name in its open directory: a tree of 10,000 files costs its getdents
// and 10,000 fstatat calls, and no path is looked up twice. A symbolic
// link is followed for mode, size and mtime when follow is set, never
// walked into. visit returns whether to enter a directory. A directory
// that cannot be read is given to fail, and nothing under it is visited.
func walkLocal(root string, follow bool, visit func(n *localName) bool, fail func(path string, err error)) {
	var walk func(dir, rel string)
	walk = func(dir, rel string) {
		f, err := os.Open(dir)
		if err != nil {
			fail(dir, err)
			return
		}
		ents, err := f.ReadDir(-1)
		if err != nil {
			f.Close()
			fail(dir, err)
			return
		}
		slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
		fd := int(f.Fd())
		var st unix.Stat_t
		var dirs []*localName
		for _, e := range ents {
			n := &localName{path: filepath.Join(dir, e.Name()), rel: e.Name(), typ: e.Type()}
			if rel != "" {
				n.rel = rel + "/" + e.Name()
			}
			flags := unix.AT_SYMLINK_NOFOLLOW
			if follow && n.typ&fs.ModeSymlink != 0 {
				flags = 0
			}
			if err := unix.Fstatat(fd, e.Name(), &st, flags); err != nil {
				n.err = &os.PathError{Op: "stat", Path: n.path, Err: err}
			} else {
				n.mode, n.size, n.mtime = statMode(&st), st.Size, time.Unix(st.Mtim.Sec, st.Mtim.Nsec)
			}
			if visit(n) && n.typ.IsDir() {
				dirs = append(dirs, n)
			}
		}
		f.Close()
		// Each subdirectory after its parent's names are all visited: the
		// parent is closed first, so the open descriptors are one per
		// level only while its names are stat'ed.
		for _, d := range dirs {
			walk(d.path, d.rel)
		}
	}
	walk(root, "")
}

// statMode is the fs.FileMode of a stat's type bits.
func statMode(st *unix.Stat_t) fs.FileMode {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return 0
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFLNK:
		return fs.ModeSymlink
	case unix.S_IFIFO:
		return fs.ModeNamedPipe
	case unix.S_IFSOCK:
		return fs.ModeSocket
	case unix.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		return fs.ModeDevice
	}
	return fs.ModeIrregular
}

// isLoop reports whether err is a symlink loop.
func isLoop(err error) bool { return errors.Is(err, unix.ELOOP) }
