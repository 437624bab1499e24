package home

import (
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"
)

// A Home is one or more mounts: the home directory itself at "/", and each
// virtual folder (another directory of the server, with its own os.Root)
// at "/NAME". Each mount has its permissions and a quota account: the
// folder's own when it has a quota, else the home's. Uploads into a mount
// keep their partials under that mount's PartialDir, so the final rename
// stays within one os.Root.

// mount is one tree of a home.
type mount struct {
	name  string // "" for the home itself; else the folder's name, mounted at "/"+name
	fs    FS
	perms Perm
	acct  *account
	claim string      // the key its partials' transfer ids are claimed under
	space *spaceCount // the free-space bookkeeping of its file system (space.go); nil: none
	let   func()      // gives back the account; nil when there is nothing to give back
}

// point returns the home path of the mount point.
func (mt *mount) point() string { return "/" + mt.name }

// inner turns a home path inside the mount into the mount's own path.
func (mt *mount) inner(name string) string {
	if mt.name == "" {
		return name
	}
	if rest := strings.TrimPrefix(name, mt.point()); rest != "" {
		return rest
	}
	return "/"
}

// route returns the mount the home path name is in and name within it.
// A name that is not a clean absolute path goes to the home, whose FS
// refuses it.
func (h *Home) route(name string) (*mount, string) {
	if len(h.mounts) > 1 && len(name) > 1 && name[0] == '/' {
		first, _, _ := strings.Cut(name[1:], "/")
		for _, mt := range h.mounts[1:] {
			if mt.name == first {
				return mt, mt.inner(name)
			}
		}
	}
	return h.mounts[0], name
}

// muxFS is the FS of a home with folders: it routes each name to its
// mount. A mount point is a directory that cannot be removed, renamed or
// replaced. The partial-file methods are the home mount's; an upload into
// a folder uses the folder's FS itself.
type muxFS struct{ h *Home }

func (x muxFS) Stat(name string) (fs.FileInfo, error) {
	mt, in := x.h.route(name)
	fi, err := mt.fs.Stat(in)
	if err != nil {
		return nil, x.rename(err, mt, in)
	}
	if mt.name != "" && in == "/" {
		fi = named{fi, mt.name}
	}
	return fi, nil
}

func (x muxFS) ReadDir(name string) ([]fs.FileInfo, error) {
	mt, in := x.h.route(name)
	infos, err := mt.fs.ReadDir(in)
	if err != nil || mt.name != "" || in != "/" {
		return infos, x.rename(err, mt, in)
	}
	// The home's root: the folders show as directories, over any entry
	// of the same name in the home directory.
	infos = slices.DeleteFunc(infos, func(fi fs.FileInfo) bool { return x.h.folder(fi.Name()) != nil })
	for _, f := range x.h.mounts[1:] {
		fi, err := f.fs.Stat("/")
		if err != nil {
			fi = missing{}
		}
		infos = append(infos, named{fi, f.name})
	}
	slices.SortFunc(infos, func(a, b fs.FileInfo) int { return strings.Compare(a.Name(), b.Name()) })
	return infos, nil
}

func (x muxFS) Open(name string) (File, error) {
	mt, in := x.h.route(name)
	f, err := mt.fs.Open(in)
	return f, x.rename(err, mt, in)
}

func (x muxFS) Mkdir(name string, parents bool) error {
	mt, in := x.h.route(name)
	if mt.name != "" && in == "/" {
		if parents {
			return nil
		}
		return fmt.Errorf("mkdir %s: %w", name, ErrExists)
	}
	return x.rename(mt.fs.Mkdir(in, parents), mt, in)
}

func (x muxFS) Remove(name string) error {
	mt, in := x.h.route(name)
	if mt.name != "" && in == "/" {
		return fmt.Errorf("rm %s: %w", name, because(ErrPermission, "a folder cannot be removed"))
	}
	return x.rename(mt.fs.Remove(in), mt, in)
}

func (x muxFS) RemoveAll(name string) (int64, error) {
	mt, in := x.h.route(name)
	if mt.name != "" && in == "/" {
		return 0, fmt.Errorf("rm %s: %w", name, because(ErrPermission, "a folder cannot be removed"))
	}
	n, err := mt.fs.RemoveAll(in)
	return n, x.rename(err, mt, in)
}

func (x muxFS) Rename(oldname, newname string) error {
	mo, io := x.h.route(oldname)
	mn, in := x.h.route(newname)
	switch {
	case mo.name != "" && io == "/" || mn.name != "" && in == "/":
		return fmt.Errorf("mv %s %s: %w", oldname, newname, because(ErrPermission, "a folder cannot be moved or replaced"))
	case mo != mn:
		return fmt.Errorf("mv %s %s: %w", oldname, newname, ErrCrossFolder)
	}
	return x.rename(mo.fs.Rename(io, in), mo, io)
}

func (x muxFS) home() FS { return x.h.mounts[0].fs }

func (x muxFS) Upload(id, name string, o UploadOptions) (Sink, Target, error) {
	mt, in := x.h.route(name)
	s, t, err := mt.fs.Upload(id, in, o)
	return s, t, x.rename(err, mt, in)
}
func (x muxFS) ReadPartial(id string, offset int64) (io.ReadCloser, error) {
	return x.home().ReadPartial(id, offset)
}
func (x muxFS) Chtimes(name string, mtime time.Time) error {
	mt, in := x.h.route(name)
	return x.rename(mt.fs.Chtimes(in, mtime), mt, in)
}
func (x muxFS) RemovePartial(id string) error { return x.home().RemovePartial(id) }
func (x muxFS) SavePartialState(id string, state []byte) error {
	return x.home().SavePartialState(id, state)
}
func (x muxFS) PartialState(id string) ([]byte, error) { return x.home().PartialState(id) }
func (x muxFS) Partials() ([]PartialInfo, error)       { return x.home().Partials() }
func (x muxFS) Usage() (int64, error)                  { return x.home().Usage() }
func (x muxFS) Space() (Space, error)                  { return x.home().Space() }

// Sync syncs every mount.
func (x muxFS) Sync() error {
	var first error
	for _, mt := range x.h.mounts {
		if err := mt.fs.Sync(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Close closes every mount's FS.
func (x muxFS) Close() error {
	var first error
	for _, mt := range x.h.mounts {
		if err := mt.fs.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// rename puts the folder's name back into an error that names a path
// within it, so that errors stay in home paths: the folder's "/a" is the
// home's "/shared/a".
func (x muxFS) rename(err error, mt *mount, in string) error { return mt.rename(err, in) }

// rename is muxFS.rename for the mount.
func (mt *mount) rename(err error, in string) error {
	if err == nil || mt.name == "" {
		return err
	}
	return &folderErr{err: err, name: mt.point(), in: in}
}

// folderErr is an error from a folder's FS, whose message names paths
// within the folder: its message replaces them by home paths.
type folderErr struct {
	err  error
	name string // the mount point
	in   string // the path within the folder the error is about
}

func (e *folderErr) Error() string {
	full := e.name + strings.TrimSuffix(e.in, "/")
	if e.in == "/" {
		full = e.name
	}
	return strings.Replace(e.err.Error(), " "+e.in, " "+full, 1)
}

func (e *folderErr) Unwrap() error { return e.err }

// folder returns the folder mounted as name ("shared"), or nil.
func (h *Home) folder(name string) *mount {
	for _, mt := range h.mounts[1:] {
		if mt.name == name {
			return mt
		}
	}
	return nil
}

// named is a FileInfo under another name: a folder's root under its mount
// point's name.
type named struct {
	fs.FileInfo
	name string
}

func (n named) Name() string { return n.name }

// missing describes a folder whose directory cannot be reached: an empty
// directory, so that ls of the home still works.
type missing struct{}

func (missing) Name() string       { return "" }
func (missing) Size() int64        { return 0 }
func (missing) Mode() fs.FileMode  { return fs.ModeDir | 0o555 }
func (missing) ModTime() time.Time { return time.Time{} }
func (missing) IsDir() bool        { return true }
func (missing) Sys() any           { return nil }
