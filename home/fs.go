package home

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"ftpx/protocol"

	"golang.org/x/sys/unix"
)

// PartialDir is the reserved directory at each home's root holding uploads
// in progress. It is hidden from listings and refused as any element of a
// wire path (ErrPermission).
const PartialDir = ".ftpx-partial"

// File is a file opened for reading. *os.File satisfies it, so copying one
// to a TCP connection uses sendfile.
type File interface {
	io.Reader
	io.Closer
	Stat() (fs.FileInfo, error)
}

// FS is a user's file tree: its names (Tree) and how it takes uploads
// (Uploads). Names are home paths as Resolve returns them ("/", "/a/b").
// It is the seam where virtual folders (muxFS), the read-only anonymous
// tree (readOnly) and object storage (package s3home) plug in, so it
// stays small.
type FS interface {
	Tree
	Uploads
}

// Tree is the names of a file tree.
type Tree interface {
	Stat(name string) (fs.FileInfo, error)
	ReadDir(name string) ([]fs.FileInfo, error)     // sorted by name; PartialDir left out; ErrNotDir on a file
	Open(name string) (File, error)                 // regular files only: ErrIsDir on a directory
	Mkdir(name string, parents bool) error          // parents: like mkdir -p (no error if it exists as a dir)
	Remove(name string) error                       // a file or an empty directory: ErrNotEmpty otherwise
	RemoveAll(name string) (freed int64, err error) // a tree, symlinks not followed; the bytes of its regular files
	Rename(oldname, newname string) error
	Chtimes(name string, mtime time.Time) error // set a file's modification time
	Usage() (int64, error)                      // bytes in regular files of the tree, partials included; symlinks not followed
	Sync() error                                // flush everything written to the file system holding the tree (syncfs)
	Space() (Space, error)                      // what the file system holding the tree can still take
	Close() error
}

// Permissions of what the server creates; the home itself is 0700.
const (
	dirPerm  = 0o755
	filePerm = 0o644
)

// Dir returns the FS of one local directory, opened with os.OpenRoot.
// Every operation goes through the root: symlinks that stay inside are
// followed, ones that leave it give ErrOutside.
func Dir(dir string) (FS, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, opErr("open", "home", err) // not dir: it is the server's path
	}
	return &dirFS{root: r}, nil
}

// dirFS is an FS on a local directory.
type dirFS struct {
	root       *os.Root
	partialDir atomic.Bool // PartialDir is known to exist
	noWhole    atomic.Bool // the file system cannot make or link unnamed files (whole.go)
	dirs       dirCache    // directories of whole-file uploads in flight (whole.go)
}

// rel turns the home path name into a path relative to the root: "/" is
// ".", "/a/b" is "a/b". Names that Resolve would not return are refused.
func rel(op, name string) (string, error) {
	if !strings.HasPrefix(name, "/") || path.Clean(name) != name {
		return "", fmt.Errorf("%s %q: %w", op, name, ErrBadPath)
	}
	if name == "/" {
		return ".", nil
	}
	r := name[1:]
	if first, _, _ := strings.Cut(r, "/"); first == PartialDir {
		return "", fmt.Errorf("%s %s: %w", op, name, ErrPermission)
	}
	return r, nil
}

// partial returns the root-relative path of the partial file id.
func partial(op, id string) (string, error) {
	if id == "" || id == "." || id == ".." || len(id) > protocol.MaxNameLen ||
		strings.ContainsAny(id, "/\\\x00") {
		return "", fmt.Errorf("%s partial %q: %w", op, id, ErrBadPath)
	}
	return PartialDir + "/" + id, nil
}

func (d *dirFS) Stat(name string) (fs.FileInfo, error) {
	r, err := rel("stat", name)
	if err != nil {
		return nil, err
	}
	fi, err := d.root.Stat(r)
	if err != nil {
		return nil, opErr("stat", name, err)
	}
	return fi, nil
}

// lstat is Stat without following a final symlink. Upload uses it to
// learn what a commit replaces.
func (d *dirFS) lstat(name string) (fs.FileInfo, error) {
	r, err := rel("stat", name)
	if err != nil {
		return nil, err
	}
	fi, err := d.root.Lstat(r)
	if err != nil {
		return nil, opErr("stat", name, err)
	}
	return fi, nil
}

func (d *dirFS) ReadDir(name string) ([]fs.FileInfo, error) {
	r, err := rel("ls", name)
	if err != nil {
		return nil, err
	}
	f, err := d.root.Open(r)
	if err != nil {
		return nil, opErr("ls", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, opErr("ls", name, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("ls %s: %w", name, ErrNotDir)
	}
	entries, err := f.ReadDir(-1)
	if err != nil {
		return nil, opErr("ls", name, err)
	}
	infos := make([]fs.FileInfo, 0, len(entries))
	for _, e := range entries {
		if e.Name() == PartialDir {
			continue
		}
		var fi fs.FileInfo
		if e.Type()&fs.ModeSymlink == 0 {
			fi, err = e.Info() // a stat in the directory open here
		} else {
			// Through the root, so an inside symlink shows its target.
			fi, err = d.root.Stat(path.Join(r, e.Name()))
		}
		if err != nil {
			// Leaves the home, dangles, or vanished: never followed.
			li, lerr := e.Info()
			if lerr != nil {
				continue
			}
			fi = unfollowed{li}
		}
		infos = append(infos, fi)
	}
	slices.SortFunc(infos, func(a, b fs.FileInfo) int { return strings.Compare(a.Name(), b.Name()) })
	return infos, nil
}

// unfollowed lists an entry that cannot be stat'ed through the root (a
// symlink out of the home or dangling) as a non-directory of size 0.
type unfollowed struct{ fs.FileInfo }

func (u unfollowed) Size() int64       { return 0 }
func (u unfollowed) IsDir() bool       { return false }
func (u unfollowed) Mode() fs.FileMode { return u.FileInfo.Mode() &^ fs.ModeDir }

func (d *dirFS) Open(name string) (File, error) {
	r, err := rel("get", name)
	if err != nil {
		return nil, err
	}
	// O_NONBLOCK: opening a FIFO must not wait for a writer; what was
	// opened is checked before anything is read from it.
	f, err := d.root.OpenFile(r, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, opErr("get", name, err)
	}
	fi, err := f.Stat()
	if err == nil {
		err = regular("get", name, fi)
	}
	if err != nil {
		f.Close()
		return nil, opErr("get", name, err)
	}
	return f, nil
}

// regular refuses anything but a regular file.
func regular(op, name string, fi fs.FileInfo) error {
	switch {
	case fi.IsDir():
		return fmt.Errorf("%s %s: %w", op, name, ErrIsDir)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s %s: %w", op, name, because(ErrPermission, "not a regular file"))
	}
	return nil
}

func (d *dirFS) Mkdir(name string, parents bool) error {
	r, err := rel("mkdir", name)
	if err != nil {
		return err
	}
	if parents {
		err = d.root.MkdirAll(r, dirPerm)
	} else {
		err = d.root.Mkdir(r, dirPerm)
	}
	return opErr("mkdir", name, err)
}

func (d *dirFS) Remove(name string) error {
	r, err := rel("rm", name)
	if err != nil {
		return err
	}
	if r == "." {
		return fmt.Errorf("rm %s: %w", name, ErrPermission)
	}
	return opErr("rm", name, d.root.Remove(r))
}

func (d *dirFS) RemoveAll(name string) (int64, error) {
	r, err := rel("rm", name)
	if err != nil {
		return 0, err
	}
	if r == "." {
		return 0, fmt.Errorf("rm %s: %w", name, ErrPermission)
	}
	fi, err := d.root.Lstat(r)
	if err != nil {
		return 0, opErr("rm", name, err)
	}
	if !fi.IsDir() { // a file, or a symlink (to a directory too): only the name goes
		var freed int64
		if fi.Mode().IsRegular() {
			freed = fi.Size()
		}
		return freed, opErr("rm", name, d.root.Remove(r))
	}
	var freed int64
	fs.WalkDir(d.root.FS(), r, func(_ string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			if fi, err := e.Info(); err == nil {
				freed += fi.Size()
			}
		}
		return nil
	})
	return freed, opErr("rm", name, d.root.RemoveAll(r))
}

func (d *dirFS) Rename(oldname, newname string) error {
	ro, err := rel("mv", oldname)
	if err != nil {
		return err
	}
	rn, err := rel("mv", newname)
	if err != nil {
		return err
	}
	if ro == "." || rn == "." {
		return fmt.Errorf("mv %s %s: %w", oldname, newname, ErrPermission)
	}
	return opErr("mv", oldname+" "+newname, d.root.Rename(ro, rn))
}

func (d *dirFS) createPartial(id string) (*os.File, error) {
	p, err := partial("put", id)
	if err != nil {
		return nil, err
	}
	if err := d.ensurePartialDir(); err != nil {
		return nil, opErr("put", "partial "+id, err)
	}
	f, err := d.root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, filePerm)
	if errors.Is(err, fs.ErrNotExist) && d.partialDir.Swap(false) {
		return d.createPartial(id) // removed behind our back: make it again
	}
	if err != nil {
		return nil, opErr("put", "partial "+id, err)
	}
	return f, nil
}

func (d *dirFS) Sync() error {
	dir, err := d.root.Open(".")
	if err != nil {
		return opErr("sync", "/", err)
	}
	defer dir.Close()
	return opErr("sync", "/", unix.Syncfs(int(dir.Fd())))
}

func (d *dirFS) Usage() (int64, error) {
	var n int64
	err := fs.WalkDir(d.root.FS(), ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p != "." {
				return nil // removed while walking
			}
			return err
		}
		if !e.Type().IsRegular() || isStateFile(p) {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		n += fi.Size()
		return nil
	})
	if err != nil {
		return 0, opErr("usage", "/", err)
	}
	return n, nil
}

// Space asks the file system holding the root (fstatfs on the root's own
// descriptor, so it is the one the partials are written to).
func (d *dirFS) Space() (Space, error) {
	dir, err := d.root.Open(".")
	if err != nil {
		return Space{}, opErr("statfs", "/", err)
	}
	defer dir.Close()
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(dir.Fd()), &st); err != nil {
		return Space{}, opErr("statfs", "/", err)
	}
	unit := st.Frsize // the unit of the block counts; older kernels leave it 0
	if unit <= 0 {
		unit = st.Bsize
	}
	return Space{Free: int64(st.Bavail) * unit, Total: int64(st.Blocks) * unit}, nil
}

func (d *dirFS) Close() error { return d.root.Close() }
