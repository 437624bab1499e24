package home

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"ftpx/internal/xfer"
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
	f    *rawFile
	dir  *openDir
	base string // the name it will have in dir
	rel  string // its root-relative path, for messages and fallbacks
	fs   *dirFS
}

// discard drops the unnamed file.
func (w *wholeFile) discard() {
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	if w.dir != nil {
		w.fs.dirs.release(w.dir)
		w.dir = nil
	}
}

// dfd is the descriptor of the file's directory.
func (w *wholeFile) dfd() int { return int(w.dir.f.Fd()) }

// wholeSink is an upload into an unnamed file: small, and not resumable.
type wholeSink struct {
	w     *wholeFile
	name  string // in the tree
	mtime time.Time
	// blind: the name was not measured (Target.Blind); the first Target
	// says so again, without a stat, and the link (which fails when a
	// name is there: ErrChanged) checks it.
	blind bool
}

func (s *wholeSink) Write(p []byte) (int, error) { return s.w.f.Write(p) }

// Checkpoint is never due: such an upload is not resumable.
func (s *wholeSink) Checkpoint(int64, func() ResumePoint, bool) (int64, error) { return 0, nil }

// Finish gives the file its modification time and syncs it when asked;
// it stays open, to be linked.
func (s *wholeSink) Finish(sync bool) error {
	if !s.mtime.IsZero() {
		if err := xfer.SetMTime(s.w.f, s.mtime); err != nil {
			return err
		}
	}
	if sync {
		return s.w.f.Sync()
	}
	return nil
}

// Target stats the name in the directory already open, but the first
// time: a blind upload takes it to be free.
func (s *wholeSink) Target() (Target, error) {
	if s.blind {
		s.blind = false
		return Target{Blind: true}, nil
	}
	return s.w.fs.target(s.w, s.name)
}

func (s *wholeSink) Place(t Target, _ string, durable bool) (fs.FileInfo, error) {
	return s.w.fs.linkWhole(s.w, t.Exists, s.name, durable)
}

func (s *wholeSink) Suspend(func() ResumePoint) (int64, error) { return 0, s.Abort() }

func (s *wholeSink) Abort() error {
	s.w.discard() // an unnamed file: nothing to remove
	return nil
}

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

// openWhole starts an unnamed file in the directory of name (in this
// tree), opened once for the uploads into it in flight (a missing parent
// is ErrNotExist). The name is not measured: the upload takes it to be
// free (Target.Blind) and its link checks that. errNoWhole: this file
// system cannot make unnamed files.
func (d *dirFS) openWhole(name string, mtime time.Time) (Sink, Target, error) {
	if name == "/" {
		return nil, Target{}, fmt.Errorf("put %s: %w", name, because(ErrIsDir, "a file cannot replace a directory"))
	}
	r, err := rel("put", name)
	if err != nil {
		return nil, Target{}, err
	}
	dir, err := d.dirs.open(d.root, path.Dir(r))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, Target{}, fmt.Errorf("put %s: parent directory: %w", name, ErrNotExist)
		}
		return nil, Target{}, opErr("put", name, err)
	}
	w := &wholeFile{dir: dir, base: path.Base(r), rel: r, fs: d}
	if err := d.createIn(w, name); err != nil {
		w.discard()
		return nil, Target{}, err
	}
	return &wholeSink{w: w, name: name, mtime: mtime, blind: true}, Target{Blind: true}, nil
}

// target stats what is at w's name: nothing, a file (its size counts), a
// symlink (followed through the root: one to a directory is a directory,
// one out of the home is refused; the link itself counts 0), or a
// directory (ErrIsDir). A parent that is not a directory is ErrNotDir.
func (d *dirFS) target(w *wholeFile, name string) (Target, error) {
	var st unix.Stat_t
	err := unix.Fstatat(w.dfd(), w.base, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT):
		return Target{}, nil
	case errors.Is(err, unix.ENOTDIR):
		return Target{}, fmt.Errorf("put %s: %w", name, ErrNotDir)
	case err != nil:
		return Target{}, opErr("put", name, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return Target{Exists: true, Size: st.Size}, nil
	case unix.S_IFDIR:
		return Target{}, fmt.Errorf("put %s: %w", name, ErrIsDir)
	case unix.S_IFLNK:
		fi, err := d.root.Stat(w.rel)
		switch {
		case err == nil && fi.IsDir():
			return Target{}, fmt.Errorf("put %s: %w", name, ErrIsDir)
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return Target{}, opErr("put", name, err)
		}
		return Target{Exists: true}, nil
	}
	return Target{Exists: true}, nil
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
	w.f = &rawFile{fd: fd, name: w.rel}
	return nil
}

// rawFile is a descriptor used as it is: an *os.File would ask fcntl for
// its flags when made, a system call more per small upload.
type rawFile struct {
	fd   int
	name string
	n    int64 // bytes written
}

func (f *rawFile) Fd() uintptr  { return uintptr(f.fd) }
func (f *rawFile) Name() string { return f.name }

func (f *rawFile) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := unix.Write(f.fd, p[done:])
		if err == unix.EINTR {
			continue
		}
		if n > 0 {
			done += n
		}
		if err != nil {
			f.n += int64(done)
			return done, &os.PathError{Op: "write", Path: f.name, Err: err}
		}
		if n == 0 {
			f.n += int64(done)
			return done, io.ErrShortWrite
		}
	}
	f.n += int64(done)
	return done, nil
}

func (f *rawFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := unix.Pread(f.fd, p, off)
	switch {
	case err != nil:
		return max(n, 0), &os.PathError{Op: "read", Path: f.name, Err: err}
	case n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return n, nil
}

func (f *rawFile) Sync() error {
	if err := unix.Fsync(f.fd); err != nil {
		return &os.PathError{Op: "sync", Path: f.name, Err: err}
	}
	return nil
}

func (f *rawFile) Close() error { return unix.Close(f.fd) }

var errNoWhole = errors.New("no unnamed files here")

// linkWhole gives a verified unnamed file its name, atomically replacing
// what target found there (a file, or a symlink: the link itself, as
// rename does), and closes it. It returns the file's final FileInfo (for
// the MD5 cache). durable: the directory is synced after. When nothing was
// there and a name appeared meanwhile, it fails with ErrChanged and keeps
// the file, to be placed again once measured.
func (d *dirFS) linkWhole(w *wholeFile, exists bool, name string, durable bool) (fs.FileInfo, error) {
	var err error
	if exists {
		err = d.linkReplacing(w)
	} else if err = d.link(w, w.dfd(), w.base); errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("put %s: made meanwhile: %w", name, ErrChanged)
	}
	defer w.discard()
	if err != nil {
		return nil, opErr("put", name, err)
	}
	var fi fs.FileInfo
	if w.f.n > rememberAbove { // a small file is hashed again at no cost: not worth a stat
		var st syscall.Stat_t
		if err := syscall.Fstat(w.f.fd, &st); err == nil {
			fi = &statInfo{name: w.base, st: st}
		}
	}
	if durable {
		if err := w.dir.f.Sync(); err != nil {
			return nil, opErr("put", name, err)
		}
	}
	return fi, nil
}

// statInfo is the fs.FileInfo of a regular file's fstat.
type statInfo struct {
	name string
	st   syscall.Stat_t
}

func (s *statInfo) Name() string       { return s.name }
func (s *statInfo) Size() int64        { return s.st.Size }
func (s *statInfo) Mode() fs.FileMode  { return fs.FileMode(s.st.Mode & 0o777) }
func (s *statInfo) ModTime() time.Time { return time.Unix(s.st.Mtim.Sec, s.st.Mtim.Nsec) }
func (s *statInfo) IsDir() bool        { return false }
func (s *statInfo) Sys() any           { return &s.st }

// rememberAbove is the size past which a small upload's MD5 is remembered
// (home.RememberSum), which needs a stat of the file once it is named.
const rememberAbove = 64 << 10

// linkReplacing links the file as PartialDir/id, then renames that onto
// its name: rename is what replaces a name atomically.
func (d *dirFS) linkReplacing(w *wholeFile) error {
	p, err := partial("put", FreshID())
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
