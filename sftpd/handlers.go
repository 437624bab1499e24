package sftpd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"sync"
	"time"

	"ftpx/home"
	"ftpx/protocol"
	"ftpx/server"

	"github.com/pkg/sftp"
)

// handlers maps SFTP requests onto a home: every path is resolved by
// home.Resolve from the home's root, every check and change is home's.
type handlers struct {
	c         *session
	home      *home.Home
	user      string
	anonymous bool

	mu      sync.Mutex
	writing map[string]*writer // uploads open, by home path: a setstat of the name is theirs
}

// syncUploads answers fsync@openssh.com on any handle: every upload the
// session has open is synced (the request server's handles do not say
// which file they are; a session seldom writes two files at once).
func (h *handlers) syncUploads() error {
	h.mu.Lock()
	open := make([]*writer, 0, len(h.writing))
	for _, w := range h.writing {
		open = append(open, w)
	}
	h.mu.Unlock()
	for _, w := range open {
		if err := w.sync(); err != nil {
			return err
		}
	}
	return nil
}

// resolve turns an SFTP path (the request server has made it absolute
// and clean) into a home path.
func (h *handlers) resolve(p string) (string, error) { return home.Resolve("/", p) }

// Fileread opens a file for reading at offsets (get, reget).
func (h *handlers) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	name, err := h.resolve(r.Filepath)
	if err == nil {
		err = h.home.Allowed(name, home.PermRead)
	}
	var f home.File
	if err == nil {
		f, err = h.home.FS.Open(name)
	}
	if err != nil {
		return nil, h.fail("get", r.Filepath, err)
	}
	h.c.enter()
	return &reader{h: h, f: f, name: name, start: time.Now()}, nil
}

// Filewrite opens a file for writing: a new upload (TRUNC, or no file
// there), the continuation of the interrupted upload held for the name
// (what reput does: it stats the name, which reports the bytes held, and
// writes from there), or an append to a complete file. The bytes go to a
// hidden partial, named only when the client closes the file.
func (h *handlers) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	flags := r.Pflags()
	if !flags.Write {
		return nil, h.fail("put", r.Filepath, fmt.Errorf("open for writing without the write flag: %w", sftp.ErrSSHFxBadMessage))
	}
	name, err := h.resolve(r.Filepath)
	if err != nil {
		return nil, h.fail("put", r.Filepath, err)
	}
	if h.anonymous {
		return nil, h.fail("put", r.Filepath, home.ErrPermission)
	}
	w, err := h.beginUpload(name, flags)
	if err != nil {
		return nil, h.fail("put", r.Filepath, err)
	}
	h.c.enter()
	h.mu.Lock()
	if h.writing == nil {
		h.writing = make(map[string]*writer)
	}
	h.writing[name] = w
	h.mu.Unlock()
	return w, nil
}

// beginUpload starts or continues the upload to name, as ftpd does for
// STOR, REST+STOR and APPE.
func (h *handlers) beginUpload(name string, flags sftp.FileOpenFlags) (*writer, error) {
	id := home.StreamID(h.user, name)
	begin := func(offset int64) (*home.Stream, error) { return h.home.BeginStream(name, id, offset) }
	if !flags.Trunc {
		if held, err := h.home.StreamHeld(name); err == nil && held.Offset > 0 {
			s, err := begin(held.Offset)
			if err != nil {
				return nil, err
			}
			return newWriter(h, name, s, held.Offset, begin), nil
		}
		if fi, err := h.home.FS.Stat(name); err == nil && !fi.IsDir() && fi.Size() > 0 {
			s, err := h.home.BeginAppend(name, id)
			if err != nil {
				return nil, err
			}
			return newWriter(h, name, s, fi.Size(), begin), nil
		}
	}
	s, err := begin(0)
	if err != nil {
		return nil, err
	}
	return newWriter(h, name, s, 0, begin), nil
}

// Filecmd runs the requests that change names and times.
func (h *handlers) Filecmd(r *sftp.Request) error {
	name, err := h.resolve(r.Filepath)
	if err != nil {
		return h.fail(r.Method, r.Filepath, err)
	}
	switch r.Method {
	case "Setstat":
		err = h.setstat(name, r)
	case "Rename", "PosixRename":
		var to string
		if to, err = h.resolve(r.Target); err != nil {
			break
		}
		if r.Method == "Rename" { // SFTP v3: never onto an existing name
			if _, serr := h.home.FS.Stat(to); serr == nil {
				err = fmt.Errorf("%s: %w", r.Target, home.ErrExists)
				break
			}
		}
		if err = h.home.Rename(name, to); err == nil {
			h.c.log.Info("mv done", "path", name, "to", to)
		}
	case "Rmdir":
		if err = h.home.CheckKind(name, true); err == nil {
			err = h.home.Remove(name, false)
		}
	case "Remove":
		if err = h.home.CheckKind(name, false); err == nil {
			err = h.home.Remove(name, false)
		}
	case "Mkdir":
		if err = h.home.Allowed(name, home.PermWrite); err == nil {
			err = h.home.FS.Mkdir(name, false)
		}
	default: // Symlink, Link: a second name would have to be followed by the jail and the quota
		err = fmt.Errorf("%s is not served: %w", r.Method, sftp.ErrSSHFxOpUnsupported)
	}
	if err != nil {
		return h.fail(r.Method, r.Filepath, err)
	}
	return nil
}

// setstat sets a modification time; a size (truncate) is refused, and
// permissions and owners are ignored: the server decides them. On a name
// with an upload open (scp sets the times and mode of the file it is
// writing), the time is the upload's, set when it is named.
func (h *handlers) setstat(name string, r *sftp.Request) error {
	flags, attrs := r.AttrFlags(), r.Attributes()
	if attrs == nil { // shorter than its flags say
		return fmt.Errorf("setstat: attributes cut short: %w", sftp.ErrSSHFxBadMessage)
	}
	h.mu.Lock()
	w := h.writing[name]
	h.mu.Unlock()
	if w != nil {
		if flags.Acmodtime {
			w.setMTime(time.Unix(int64(attrs.Mtime), 0))
		}
		return nil
	}
	if flags.Size {
		fi, err := h.home.FS.Stat(name)
		if err != nil {
			return err
		}
		if fi.Size() != int64(attrs.Size) {
			return fmt.Errorf("changing a file's size is not served: %w", sftp.ErrSSHFxOpUnsupported)
		}
	}
	if flags.Acmodtime {
		return h.home.SetMTime(name, time.Unix(int64(attrs.Mtime), 0))
	}
	if _, err := h.home.FS.Stat(name); err != nil {
		return err
	}
	return nil
}

// Filelist lists a directory, or stats one name.
func (h *handlers) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	name, err := h.resolve(r.Filepath)
	if err != nil {
		return nil, h.fail(r.Method, r.Filepath, err)
	}
	switch r.Method {
	case "List":
		var infos []fs.FileInfo
		if err = h.home.Allowed(name, home.PermRead); err == nil {
			infos, err = h.home.FS.ReadDir(name)
		}
		if err != nil {
			return nil, h.fail("ls", r.Filepath, err)
		}
		return lister(infos), nil
	case "Stat", "Lstat":
		fi, err := h.stat(name)
		if err != nil {
			return nil, h.fail("stat", r.Filepath, err)
		}
		return lister{fi}, nil
	}
	return nil, h.fail(r.Method, r.Filepath, fmt.Errorf("%s is not served: %w", r.Method, sftp.ErrSSHFxOpUnsupported))
}

// PosixRename is posix-rename@openssh.com: a rename that replaces a file
// at the new name (OpenSSH's sftp uses it for rename). Without this
// method the request server would take it for a plain Rename.
func (h *handlers) PosixRename(r *sftp.Request) error { return h.Filecmd(r) }

// Lstat is Stat: the home follows links that stay inside it, and no other
// kind is reachable.
func (h *handlers) Lstat(r *sftp.Request) (sftp.ListerAt, error) { return h.Filelist(r) }

// stat stats name; a name with no file but an interrupted upload held
// shows as a file of the bytes held, where reput continues (as FTP's SIZE
// answers).
func (h *handlers) stat(name string) (fs.FileInfo, error) {
	fi, err := h.home.FS.Stat(name)
	if errors.Is(err, home.ErrNotExist) && !h.anonymous {
		if held, herr := h.home.StreamHeld(name); herr == nil {
			return heldInfo{name: path.Base(name), size: held.Offset}, nil
		}
	}
	if err == nil && name == "/" {
		fi = rootInfo{fi}
	}
	return fi, err
}

// RealPath makes p absolute from the home's root, "/" being the home: ".."
// above it stays there, as in a chroot. It is only a name: every request
// that uses it is resolved and checked again.
func (h *handlers) RealPath(p string) (string, error) {
	return path.Clean("/" + p), nil
}

// StatVFS answers df: the quota that counts at the path (a folder's own,
// or the home's) and its use; without a quota, the space the store can
// still take.
func (h *handlers) StatVFS(r *sftp.Request) (*sftp.StatVFS, error) {
	name, err := h.resolve(r.Filepath)
	if err != nil {
		return nil, h.fail("df", r.Filepath, err)
	}
	used, reserved, limit := h.home.QuotaAt(name)
	const block = 4096
	total, free := limit, limit-used-reserved
	if limit == home.Unlimited || limit < 0 {
		sp, err := h.home.FS.Space()
		if err != nil || sp.Total < 0 || sp.Free < 0 {
			total, free = used+reserved, 0
		} else {
			total, free = sp.Total, sp.Free
		}
	}
	free = max(free, 0)
	blocks := func(n int64) uint64 { return uint64((n + block - 1) / block) }
	return &sftp.StatVFS{
		Bsize: block, Frsize: block,
		Blocks: blocks(total), Bfree: blocks(free), Bavail: blocks(free),
		Namemax: 255,
	}, nil
}

// fail logs a refused request and gives the error the client sees: a
// missing name is SSH_FX_NO_SUCH_FILE, a refusal or a path leaving the
// home SSH_FX_PERMISSION_DENIED, anything else SSH_FX_FAILURE with a
// message that says what (quota exceeded, insufficient storage).
func (h *handlers) fail(op, p string, err error) error {
	level := slog.LevelInfo
	if errors.Is(err, home.ErrNotExist) {
		level = slog.LevelDebug // a client stats a name before every put
	}
	h.c.log.Log(context.Background(), level, "sftp refused", "op", op, "path", p, "err", err.Error())
	return statusOf(err)
}

// statusOf maps an error of the home to an SFTP status.
func statusOf(err error) error {
	var code error
	switch {
	case errors.Is(err, sftp.ErrSSHFxOpUnsupported), errors.Is(err, sftp.ErrSSHFxBadMessage):
		return err
	case errors.Is(err, home.ErrNotExist):
		code = sftp.ErrSSHFxNoSuchFile
	case errors.Is(err, home.ErrPermission), errors.Is(err, home.ErrOutside), errors.Is(err, home.ErrBadPath):
		code = sftp.ErrSSHFxPermissionDenied
	case errors.Is(err, home.ErrQuota):
		return fmt.Errorf("quota exceeded: %w", sftp.ErrSSHFxFailure)
	case errors.Is(err, home.ErrNoSpace):
		return fmt.Errorf("insufficient storage: %w", sftp.ErrSSHFxFailure)
	default:
		code = sftp.ErrSSHFxFailure
	}
	return &status{code: code, msg: err.Error()}
}

// status is an SFTP status with the home's own words as its message.
type status struct {
	code error
	msg  string
}

func (s *status) Error() string { return s.msg }
func (s *status) Unwrap() error { return s.code }

// lister serves a list of names.
type lister []fs.FileInfo

func (l lister) ListAt(to []os.FileInfo, offset int64) (int, error) {
	if offset >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(to, l[offset:])
	if n < len(to) {
		return n, io.EOF
	}
	return n, nil
}

// heldInfo is how a name with only an interrupted upload held looks.
type heldInfo struct {
	name string
	size int64
}

func (i heldInfo) Name() string       { return i.name }
func (i heldInfo) Size() int64        { return i.size }
func (i heldInfo) Mode() fs.FileMode  { return 0o644 }
func (i heldInfo) ModTime() time.Time { return time.Now() }
func (i heldInfo) IsDir() bool        { return false }
func (i heldInfo) Sys() any           { return nil }

// rootInfo names the home's root "/".
type rootInfo struct{ fs.FileInfo }

func (rootInfo) Name() string { return "/" }

// reader serves reads at offsets of one open file. A file that is not an
// io.ReaderAt (an object store's) is read at offsets by seeking, one read
// at a time.
type reader struct {
	h     *handlers
	f     home.File
	name  string
	start time.Time

	mu   sync.Mutex
	pos  int64
	sent int64
	once sync.Once
}

func (r *reader) ReadAt(p []byte, off int64) (n int, err error) {
	defer r.h.c.catch("Read", &err)
	if off < 0 { // an offset of 2^63 or more on the wire
		return 0, io.EOF
	}
	n, err = r.readAt(p, off)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("read %s: %w", r.name, describeIO(err))
	}
	return n, err
}

// describeIO keeps an I/O error's cause and drops the server's path that
// an *fs.PathError names.
func describeIO(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (r *reader) readAt(p []byte, off int64) (int, error) {
	if ra, ok := r.f.(io.ReaderAt); ok {
		n, err := ra.ReadAt(p, off)
		r.mu.Lock()
		r.sent += int64(n)
		r.mu.Unlock()
		return n, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if off != r.pos {
		sk, ok := r.f.(io.Seeker)
		if !ok {
			return 0, fmt.Errorf("read at %d of a file read in order: %w", off, sftp.ErrSSHFxOpUnsupported)
		}
		if _, err := sk.Seek(off, io.SeekStart); err != nil {
			return 0, err
		}
		r.pos = off
	}
	n, err := io.ReadFull(r.f, p)
	r.pos += int64(n)
	r.sent += int64(n)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}

// Close ends the download: logged and counted as a get.
func (r *reader) Close() (err error) {
	defer r.h.c.catch("Close", &err)
	r.once.Do(func() {
		err = r.f.Close()
		r.mu.Lock()
		sent := r.sent
		r.mu.Unlock()
		d := time.Since(r.start)
		r.h.c.srv.Core.RecordTransfer(server.ProtocolSFTP, protocol.ActionGet, sent, d, nil)
		r.h.c.log.Info("get done", "path", r.name, "bytes", sent, "seconds", d.Seconds())
		r.h.c.leave()
	})
	return err
}
