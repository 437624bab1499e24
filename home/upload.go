package home

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"path"
	"strings"

	"github.com/google/uuid"
)

// Upload is a file being put: a partial file under PartialDir, hashed
// as it is written, and a reservation on the user's quota. It ends with
// exactly one Commit or Abort. An Upload is not safe for concurrent use.
type Upload struct {
	h       *Home
	name    string // the final home path
	id      string // the partial's name under PartialDir
	size    int64  // declared, and reserved on the quota
	written int64
	f       WriteFile
	md5     hash.Hash
	done    bool // committed, failed or aborted: the partial is gone
}

// BeginUpload checks that name can be written (not a directory: ErrIsDir;
// its parent exists and is a directory: else ErrNotExist / ErrNotDir),
// reserves size bytes on the quota (ErrQuota if used+reserved+size would
// pass the limit; the whole size even when replacing a file, since the
// partial sits next to the old file until the rename), and creates the
// partial file. Nothing is created when it fails.
func (h *Home) BeginUpload(name string, size int64) (*Upload, error) {
	if size < 0 {
		return nil, fmt.Errorf("put %s: negative size %d: %w", name, size, ErrSize)
	}
	if name == "/" {
		return nil, fmt.Errorf("put %s: %w", name, ErrIsDir)
	}
	dir, err := h.FS.Stat(path.Dir(name))
	switch {
	case err != nil:
		return nil, fmt.Errorf("put %s: %w", name, err)
	case !dir.IsDir():
		return nil, fmt.Errorf("put %s: %w", name, ErrNotDir)
	}
	fi, err := h.FS.Stat(name)
	switch {
	case err == nil && fi.IsDir():
		return nil, fmt.Errorf("put %s: %w", name, ErrIsDir)
	case err != nil && !errors.Is(err, ErrNotExist):
		return nil, fmt.Errorf("put %s: %w", name, err)
	}
	if err := h.acct.reserve(size); err != nil {
		return nil, fmt.Errorf("put %s: %w", name, err)
	}
	id := uuid.NewString()
	f, err := h.FS.CreatePartial(id)
	if err != nil {
		h.acct.release(size)
		return nil, err
	}
	return &Upload{h: h, name: name, id: id, size: size, f: f, md5: md5.New()}, nil
}

// Write writes p to the partial and adds it to the MD5. Writing past the
// declared size writes up to it and fails with ErrSize.
func (u *Upload) Write(p []byte) (int, error) {
	if u.done {
		return 0, fmt.Errorf("put %s: %w", u.name, fs.ErrClosed)
	}
	var over error
	if left := u.size - u.written; int64(len(p)) > left {
		p = p[:left]
		over = fmt.Errorf("put %s: body longer than %d bytes: %w", u.name, u.size, ErrSize)
	}
	n, err := u.f.Write(p)
	u.md5.Write(p[:n])
	u.written += int64(n)
	if err != nil {
		return n, opErr("put", u.name, err)
	}
	return n, over
}

// Written returns the number of bytes written so far.
func (u *Upload) Written() int64 { return u.written }

// Sum returns the lower-case hex MD5 of what was written so far.
func (u *Upload) Sum() string {
	var b [md5.Size]byte
	return hex.EncodeToString(u.md5.Sum(b[:0]))
}

// Commit checks that the whole declared size was written (else ErrSize)
// and that its MD5 equals want, in any case (else ErrMD5); then it syncs
// the partial, renames it onto the name, replacing a file atomically, and
// counts it on the quota. On any failure the partial is removed, the
// reservation released, and nothing appears or changes under the name.
func (u *Upload) Commit(want string) error {
	if u.done {
		return fmt.Errorf("put %s: %w", u.name, fs.ErrClosed)
	}
	if u.written != u.size {
		return u.fail(fmt.Errorf("put %s: body of %d bytes, %d declared: %w", u.name, u.written, u.size, ErrSize))
	}
	if got := u.Sum(); !strings.EqualFold(got, want) {
		return u.fail(fmt.Errorf("put %s: md5 %s, client sent %q: %w", u.name, got, want, ErrMD5))
	}
	err := u.f.Sync()
	if cerr := u.f.Close(); err == nil {
		err = cerr
	}
	u.f = nil
	if err != nil {
		return u.fail(opErr("put", u.name, err))
	}

	a := u.h.acct
	a.tree.Lock()
	defer a.tree.Unlock()
	old, err := u.replaced()
	if err != nil {
		return u.fail(err)
	}
	if err := u.h.FS.CommitPartial(u.id, u.name); err != nil {
		return u.fail(err)
	}
	u.done = true
	a.commit(u.size, u.size-old)
	return nil
}

// replaced returns the bytes the quota counts for what is now at the
// name: a regular file's size, or 0 (nothing there, or a symlink, which
// Usage does not follow).
func (u *Upload) replaced() (int64, error) {
	var fi fs.FileInfo
	var err error
	if l, ok := u.h.FS.(interface {
		lstat(string) (fs.FileInfo, error)
	}); ok {
		fi, err = l.lstat(u.name)
	} else {
		fi, err = u.h.FS.Stat(u.name)
	}
	switch {
	case errors.Is(err, ErrNotExist):
		return 0, nil
	case err != nil:
		return 0, err
	case fi.IsDir():
		return 0, fmt.Errorf("put %s: %w", u.name, ErrIsDir)
	case fi.Mode().IsRegular():
		return fi.Size(), nil
	}
	return 0, nil
}

// fail ends the upload after a failed Commit and returns err.
func (u *Upload) fail(err error) error {
	u.Abort()
	return err
}

// Abort removes the partial and releases the reservation. It is
// idempotent, and does nothing after Commit.
func (u *Upload) Abort() error {
	if u.done {
		return nil
	}
	u.done = true
	var err error
	if u.f != nil {
		err = u.f.Close()
		u.f = nil
	}
	if rerr := u.h.FS.RemovePartial(u.id); rerr != nil && !errors.Is(rerr, ErrNotExist) {
		err = rerr
	} else if err != nil {
		err = opErr("abort", u.name, err)
	}
	u.h.acct.release(u.size)
	return err
}
