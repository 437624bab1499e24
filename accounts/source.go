package accounts

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

var (
	// ErrConflict means the content changed between the read of an edit
	// and its write: nothing was written.
	ErrConflict = errors.New("changed meanwhile by another edit")
	// ErrUnchanged means the content is still at the version the reader
	// already has.
	ErrUnchanged = errors.New("unchanged")
)

// Source holds the bytes of an accounts file: a local file (File), or an
// object of a store (s3home.AccountsFile). Its versions let a reader skip
// what it already has and an editor write only over the content it
// changed, so that two edits at once never lose one of them.
type Source interface {
	// Name is the file's path or URL, as errors and logs show it.
	Name() string
	// Read returns the content and its version. When the content is still
	// at version known ("" for none), it may return ErrUnchanged instead.
	// A missing file gives an error wrapping fs.ErrNotExist.
	Read(ctx context.Context, known string) (data []byte, version string, err error)
	// Write replaces the content on condition that it is still at version,
	// as Read gave it ("" when Read found no file: the write creates it);
	// otherwise it writes nothing and returns an error wrapping ErrConflict.
	Write(ctx context.Context, data []byte, version string) error
}

// File is an accounts file on the local disk, by its path. It has no
// versions: Read always reads, and Write replaces the file whatever it
// holds (the `user` commands on one machine are run by one admin at a
// time). A symlink is followed: the file it points to is replaced.
type File string

// Name returns the path.
func (f File) Name() string { return string(f) }

// Read returns the file's content and no version.
func (f File) Read(context.Context, string) ([]byte, string, error) {
	data, err := os.ReadFile(f.target())
	return data, "", err
}

// Write replaces the file atomically, keeping its permissions (0600 for a
// new file).
func (f File) Write(_ context.Context, data []byte, _ string) error {
	target := f.target()
	mode := fs.FileMode(0o600)
	if fi, err := os.Stat(target); err == nil {
		mode = fi.Mode().Perm()
	}
	return writeAtomic(target, data, mode)
}

// target is the file the path names, through a symlink.
func (f File) target() string {
	if p, err := filepath.EvalSymlinks(string(f)); err == nil {
		return p
	}
	return string(f)
}
