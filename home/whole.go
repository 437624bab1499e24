package home

import (
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"sync"

	"github.com/google/uuid"
	"golang.org/x/sys/unix"
)

// A small upload that cannot be resumed (a pipelined put) skips PartialDir:
// its bytes go to an unnamed file (O_TMPFILE) in the very directory that
// will hold it, and once verified and synced the file is linked there
// under its name. Per file that is one create and one link instead of a
// create in PartialDir and a rename across directories, and a server that
// dies leaves nothing behind: an unnamed file vanishes with its last
// descriptor. The directory is opened through the home's os.Root, and
// every call on it takes one plain name (no '/'), which stays in it.
// Where the file system has no O_TMPFILE, or links cannot be made from a
// descriptor, uploads take the partial path as before.

// wholeMax is the largest upload written as a whole file.
const wholeMax = 1 << 20

// wholeFile is an unnamed file being written, and the directory it will
// be linked into.
type wholeFile struct {
	f    *os.File
	dir  *openDir
	base string // the name it will have in dir
	rel  string // its root-relative path, for messages and fallbacks
	fs   *dirFS
}

func (w *wholeFile) Write(p []byte) (int, error) { return w.f.Write(p) }
func (w *wholeFile) Sync() error                 { return w.f.Sync() }

// Close does nothing: the descriptor is needed to link the file, and
// link or discard closes it.
func (w *wholeFile) Close() error { return nil }

// discard drops the unnamed file.
func (w *wholeFile) discard() {
	if w.f != nil {
		w.f.Close()
	}
	w.fs.dirs.release(w.dir)
}

// dfd is the descriptor of the file's directory.
func (w *wholeFile) dfd() int { return int(w.dir.f.Fd()) }

// openDir is a directory opened through the root, shared by the uploads
// into it that are in flight together (a pipelined window into one
// directory opens it once). It closes when the last lets go, so a
// directory renamed or removed later is opened afresh by the next upload.
type openDir struct {
	rel  string
	f    *os.File
	refs int
}

// dirCache holds the directories of uploads in flight.
type dirCache struct {
	mu   sync.Mutex
	dirs map[string]*openDir
}

// open returns rel, opened through root, with one more reference.
func (c *dirCache) open(root *os.Root, rel string) (*openDir, error) {
	c.mu.Lock()
	if d := c.dirs[rel]; d != nil {
		d.refs++
		c.mu.Unlock()
		return d, nil
	}
	c.mu.Unlock()
	f, err := root.Open(rel)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d := c.dirs[rel]; d != nil { // opened meanwhile
		f.Close()
		d.refs++
		return d, nil
	}
	if c.dirs == nil {
		c.dirs = make(map[string]*openDir)
	}
	d := &openDir{rel: rel, f: f, refs: 1}
	c.dirs[rel] = d
	return d, nil
}

func (c *dirCache) release(d *openDir) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d.refs--; d.refs == 0 {
		delete(c.dirs, d.rel)
		d.f.Close()
	}
}

// beginWhole is BeginUpload for a small upload without a transfer id in
// a mount on local disk: it checks the name as checkTarget does, with one
// open of the parent directory and one stat in it, reserves the quota and
// starts an unnamed file there. errNoWhole: take the partial path.
func (h *Home) beginWhole(mt *mount, name, in string, size int64) (*Upload, error) {
	d, ok := mt.fs.(*dirFS)
	if !ok || d.noWhole.Load() {
		return nil, errNoWhole
	}
	if in == "/" {
		return nil, fmt.Errorf("put %s: %w", name, ErrIsDir)
	}
	w, exists, replaces, err := d.openWhole(name, in)
	if err != nil {
		return nil, err
	}
	if exists && !mt.perms.Has(PermModify) {
		w.discard()
		return nil, fmt.Errorf("put %s: needs %s: %w", name, PermModify&^mt.perms, ErrPermission)
	}
	u := &Upload{h: h, mt: mt, name: name, in: in, size: size, md5: md5.New(), f: w, whole: w,
		reserved: max(size-replaces, 0), released: true} // nothing claimed: no id outlives it
	if err := mt.acct.reserve(u.reserved); err != nil {
		w.discard()
		return nil, fmt.Errorf("put %s: %w", name, err)
	}
	return u, nil
}

// openWhole checks the home path name (in, within this FS) for an upload
// and starts an unnamed file in its directory. It reports whether
// something is at the name and the bytes the quota counts for it, or
// errNoWhole when this file system cannot make unnamed files.
func (d *dirFS) openWhole(name, in string) (*wholeFile, bool, int64, error) {
	r, err := rel("put", in)
	if err != nil {
		return nil, false, 0, err
	}
	dir, err := d.dirs.open(d.root, path.Dir(r))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, 0, fmt.Errorf("put %s: parent directory: %w", name, ErrNotExist)
		}
		return nil, false, 0, opErr("put", name, err)
	}
	w := &wholeFile{dir: dir, base: path.Base(r), rel: r, fs: d}
	t, err := d.target(w, name)
	if err == nil {
		err = d.createIn(w, name)
	}
	if err != nil {
		w.discard()
		return nil, false, 0, err
	}
	return w, t.exists, t.size, nil
}

// there is what target found at a name.
type there struct {
	exists  bool
	size    int64 // what the quota counts: a file's size, 0 for a symlink
	symlink bool
}

// target stats what is at w's name: nothing, a file (its size counts), a
// symlink (followed through the root: one to a directory is a directory,
// one out of the home is refused; the link itself counts 0), or a
// directory (ErrIsDir). A parent that is not a directory is ErrNotDir.
func (d *dirFS) target(w *wholeFile, name string) (there, error) {
	var st unix.Stat_t
	err := unix.Fstatat(w.dfd(), w.base, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT):
		return there{}, nil
	case errors.Is(err, unix.ENOTDIR):
		return there{}, fmt.Errorf("put %s: %w", name, ErrNotDir)
	case err != nil:
		return there{}, opErr("put", name, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return there{exists: true, size: st.Size}, nil
	case unix.S_IFDIR:
		return there{}, fmt.Errorf("put %s: %w", name, ErrIsDir)
	case unix.S_IFLNK:
		fi, err := d.root.Stat(w.rel)
		switch {
		case err == nil && fi.IsDir():
			return there{}, fmt.Errorf("put %s: %w", name, ErrIsDir)
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return there{}, opErr("put", name, err)
		}
		return there{exists: true, symlink: true}, nil
	}
	return there{exists: true}, nil
}

// createIn makes the unnamed file in w's directory.
func (d *dirFS) createIn(w *wholeFile, name string) error {
	fd, err := unix.Openat(w.dfd(), ".", unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, filePerm)
	if err != nil {
		if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EINVAL) {
			d.noWhole.Store(true)
			return errNoWhole
		}
		return opErr("put", name, err)
	}
	w.f = os.NewFile(uintptr(fd), w.rel)
	return nil
}

var errNoWhole = errors.New("no unnamed files here")

// linkWhole gives a verified unnamed file its name, atomically replacing
// what target found there (a file, or a symlink: the link itself, as
// rename does), and closes it. It returns the file's final FileInfo (for
// the MD5 cache). durable: the directory is synced after.
func (d *dirFS) linkWhole(w *wholeFile, t there, id, name string, durable bool) (fs.FileInfo, error) {
	defer w.discard()
	var err error
	if t.exists {
		err = d.linkReplacing(w, id)
	} else if err = d.link(w, w.dfd(), w.base); errors.Is(err, unix.EEXIST) { // made meanwhile
		err = d.linkReplacing(w, id)
	}
	if err != nil {
		return nil, opErr("put", name, err)
	}
	fi, err := w.f.Stat()
	if err != nil {
		return nil, opErr("put", name, err)
	}
	if durable {
		if err := w.dir.f.Sync(); err != nil {
			return nil, opErr("put", name, err)
		}
	}
	return fi, nil
}

// linkReplacing links the file as PartialDir/id, then renames that onto
// its name: rename is what replaces a name atomically.
func (d *dirFS) linkReplacing(w *wholeFile, id string) error {
	if id == "" {
		id = uuid.NewString()
	}
	p, err := partial("put", id)
	if err != nil {
		return err
	}
	if err := d.ensurePartialDir(); err != nil {
		return err
	}
	pd, err := d.root.Open(PartialDir)
	if err != nil {
		return err
	}
	defer pd.Close()
	if err := d.link(w, int(pd.Fd()), path.Base(p)); err != nil {
		return err
	}
	if err := unix.Renameat(int(pd.Fd()), path.Base(p), w.dfd(), w.base); err != nil {
		unix.Unlinkat(int(pd.Fd()), path.Base(p), 0)
		return err
	}
	return nil
}

// link names the unnamed file base in the directory dfd: from its
// descriptor where the process may (AT_EMPTY_PATH needs a capability),
// else through /proc/self/fd. Without /proc the file system is marked and
// the bytes are copied to a named file instead (copyOut).
func (d *dirFS) link(w *wholeFile, dfd int, base string) error {
	fd := int(w.f.Fd())
	err := unix.Linkat(fd, "", dfd, base, unix.AT_EMPTY_PATH)
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOENT) {
		if !procFD() {
			d.noWhole.Store(true)
			return copyOut(w, dfd, base)
		}
		err = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), dfd, base, unix.AT_SYMLINK_FOLLOW)
	}
	return err
}

// procFD reports whether /proc/self/fd can name descriptors.
var procFD = sync.OnceValue(func() bool {
	_, err := os.Stat("/proc/self/fd")
	return err == nil
})

// copyOut writes the unnamed file's bytes to a new file base in dfd, for
// a system where it cannot be linked; the caller syncs as for a link.
func copyOut(w *wholeFile, dfd int, base string) error {
	fd, err := unix.Openat(dfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, filePerm)
	if err != nil {
		return err
	}
	out := os.NewFile(uintptr(fd), base)
	_, err = io.Copy(out, io.NewSectionReader(w.f, 0, 1<<62))
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		unix.Unlinkat(dfd, base, 0)
	}
	return err
}

// ensurePartialDir makes PartialDir once.
func (d *dirFS) ensurePartialDir() error {
	if d.partialDir.Load() {
		return nil
	}
	if err := d.root.Mkdir(PartialDir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	d.partialDir.Store(true)
	return nil
}
