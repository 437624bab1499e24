package home

import (
	"fmt"
	"io/fs"
	"path"
	"syscall"

	"ftpx/protocol"
)

// Walked is one name met by Walk.
type Walked struct {
	Rel  string      // relative to the walked directory, elements joined by "/"
	Info fs.FileInfo // what the name leads to: symlinks that stay inside are followed
	// Skip is protocol.SkipLoop, SkipLink or SkipSpecial when the name's
	// content is left out on purpose, else "".
	Skip string
	// Err is why a directory could not be read or the name cannot be
	// requested (a wire path would be refused); nothing under it is walked.
	Err error
}

// Walk calls fn for every name under the directory name (a home path),
// depth first in name order, each directory before what it holds, as ls
// would show them: through the home's FS, so PartialDir stays hidden and
// a symlink that leaves the home (or dangles) is never followed (Skip
// SkipLink). A symlink that stays inside is followed, unless it leads to
// a directory the walk is already inside (Skip SkipLoop), so the walk
// ends. It needs read on the directory and on each folder it enters.
//
// The directory's own failures (missing, not a directory, refused) are
// returned before fn is called; a failure under it is the entry's Err, and
// the walk goes on. fn's error stops the walk and is returned.
func (h *Home) Walk(name string, fn func(Walked) error) error {
	if err := h.Allowed(name, PermRead); err != nil {
		return fmt.Errorf("tree %w", err)
	}
	fi, err := h.FS.Stat(name)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("tree %s: %w", name, ErrNotDir)
	}
	infos, err := h.FS.ReadDir(name)
	if err != nil {
		return err
	}
	w := &walker{h: h, fn: fn}
	w.enter(fi)
	return w.dir(name, "", infos)
}

// walker is one Walk: the callback and the directories it is inside.
type walker struct {
	h    *Home
	fn   func(Walked) error
	path []fileID // the directories from the top to the current one
}

// fileID tells one file from another on a server: its device and inode.
// The zero value stands for a file system that has none.
type fileID struct{ dev, ino uint64 }

func idOf(fi fs.FileInfo) fileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{uint64(st.Dev), st.Ino}
	}
	return fileID{}
}

func (w *walker) enter(fi fs.FileInfo) { w.path = append(w.path, idOf(fi)) }
func (w *walker) leave()               { w.path = w.path[:len(w.path)-1] }

// inside reports whether fi is one of the directories the walk is in.
func (w *walker) inside(fi fs.FileInfo) bool {
	id := idOf(fi)
	if id == (fileID{}) {
		return false
	}
	for _, p := range w.path {
		if p == id {
			return true
		}
	}
	return false
}

// dir walks infos, the listing of the directory at the home path name,
// rel being its path from the top ("" for the top).
func (w *walker) dir(name, rel string, infos []fs.FileInfo) error {
	for _, fi := range infos {
		e := Walked{Rel: fi.Name(), Info: fi}
		if rel != "" {
			e.Rel = rel + "/" + fi.Name()
		}
		// Names a request would be refused for (control bytes, a
		// backslash, too long: see Resolve) cannot be got, nor anything
		// under them. name is clean and checked: only the new element is.
		full := path.Join(name, fi.Name())
		_, err := appendElems(nil, fi.Name())
		if err == nil && len(full) > protocol.MaxPathLen {
			err = fmt.Errorf("tree %s: path of %d bytes: %w", full, len(full), ErrBadPath)
		}
		var sub []fs.FileInfo
		switch _, out := fi.(unfollowed); {
		case err != nil:
			e.Err = err
		case out:
			e.Skip = protocol.SkipLink
		case !fi.IsDir():
			if !fi.Mode().IsRegular() {
				e.Skip = protocol.SkipSpecial
			}
		case w.inside(fi):
			e.Skip = protocol.SkipLoop
		default:
			if e.Err = w.h.Allowed(full, PermRead); e.Err == nil {
				sub, e.Err = w.h.FS.ReadDir(full)
			}
		}
		if err := w.fn(e); err != nil {
			return err
		}
		if fi.IsDir() && e.Skip == "" && e.Err == nil {
			w.enter(fi)
			err := w.dir(full, e.Rel, sub)
			w.leave()
			if err != nil {
				return err
			}
		}
	}
	return nil
}
