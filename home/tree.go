package home

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"
)

// Remove deletes a file, an empty directory, or with recursive a whole
// tree (symlinks inside are removed, never followed), and gives the bytes
// it held back to the quota. It needs modify; a folder's mount point
// cannot be removed.
func (h *Home) Remove(name string, recursive bool) error {
	if name == "/" {
		return fmt.Errorf("rm %s: %w", name, because(ErrPermission, "the home itself cannot be removed"))
	}
	if err := h.Allowed(name, PermModify); err != nil {
		return fmt.Errorf("rm %w", err)
	}
	mt, in := h.route(name)
	a := mt.acct
	a.tree.Lock()
	defer a.tree.Unlock()
	if recursive {
		freed, err := h.FS.RemoveAll(name)
		a.commit(0, -freed)
		return err
	}
	size, err := mt.lsize(in)
	if err != nil {
		return muxFS{h}.rename(err, mt, in)
	}
	if err := h.FS.Remove(name); err != nil {
		return err
	}
	a.commit(0, -size)
	return nil
}

// CheckKind checks that name exists and is (dir) or is not (!dir) a
// directory: ErrNotDir or ErrIsDir otherwise (a front end's rmdir of a
// file, delete of a directory).
func (h *Home) CheckKind(name string, dir bool) error {
	fi, err := h.FS.Stat(name)
	switch {
	case err != nil:
		return err
	case dir && !fi.IsDir():
		return fmt.Errorf("%s: %w", name, ErrNotDir)
	case !dir && fi.IsDir():
		return fmt.Errorf("%s: %w", name, ErrIsDir)
	}
	return nil
}

// Rename moves oldname to newname, replacing a file there (not a
// directory: ErrIsDir), and takes a replaced file's bytes off the quota.
// newname's parent must exist. It needs modify at both names; a move
// between the home and a folder, or two folders, is ErrCrossFolder.
func (h *Home) Rename(oldname, newname string) error {
	switch {
	case oldname == "/" || newname == "/":
		return fmt.Errorf("mv %s %s: %w", oldname, newname, because(ErrPermission, "the home itself cannot be moved or replaced"))
	case newname == oldname:
		return fmt.Errorf("mv %s %s: %w", oldname, newname, because(ErrPermission, "source and target are the same"))
	case strings.HasPrefix(newname, oldname+"/"):
		return fmt.Errorf("mv %s %s: %w", oldname, newname, because(ErrPermission, "a directory cannot move into itself"))
	}
	for _, name := range []string{oldname, newname} {
		if err := h.Allowed(name, PermModify); err != nil {
			return fmt.Errorf("mv %w", err)
		}
	}
	mt, io := h.route(oldname)
	mn, in := h.route(newname)
	if mt.name != "" && io == "/" || mn.name != "" && in == "/" {
		return fmt.Errorf("mv %s %s: %w", oldname, newname, because(ErrPermission, "a folder cannot be moved or replaced"))
	}
	a := mt.acct
	a.tree.Lock()
	defer a.tree.Unlock()
	if _, err := h.FS.Stat(oldname); err != nil {
		return err
	}
	if mt != mn {
		return fmt.Errorf("mv %s %s: %w", oldname, newname, ErrCrossFolder)
	}
	fi, err := h.FS.Stat(newname)
	switch {
	case err == nil && fi.IsDir():
		return fmt.Errorf("mv %s %s: %w", oldname, newname, ErrIsDir)
	case err != nil && !errors.Is(err, ErrNotExist):
		return err
	}
	replaced, err := mn.lsize(in)
	if err != nil && !errors.Is(err, ErrNotExist) {
		return err
	}
	if err := h.FS.Rename(oldname, newname); err != nil {
		return err
	}
	a.commit(0, -replaced)
	return nil
}

// lsize returns the bytes the quota counts for name within the mount: a
// regular file's size, else 0; symlinks are not followed.
func (mt *mount) lsize(name string) (int64, error) {
	var fi fs.FileInfo
	var err error
	if l, ok := mt.fs.(interface {
		lstat(string) (fs.FileInfo, error)
	}); ok {
		fi, err = l.lstat(name)
	} else {
		fi, err = mt.fs.Stat(name)
	}
	if err != nil {
		return 0, err
	}
	if fi.Mode().IsRegular() {
		return fi.Size(), nil
	}
	return 0, nil
}

// SetMTime sets the modification time of name (FTP's MFMT). It needs
// write, as the put that would have given the file that time did.
func (h *Home) SetMTime(name string, mtime time.Time) error {
	if err := h.Allowed(name, PermWrite); err != nil {
		return fmt.Errorf("mtime %w", err)
	}
	if name == "/" {
		return fmt.Errorf("mtime %s: %w", name, because(ErrPermission, "the home's own time is the server's"))
	}
	return h.FS.Chtimes(name, mtime)
}

// Checksum returns the lower-case hex MD5 of a file's content: the one
// remembered, or else reading the file once (and remembering it, if the
// file did not change meanwhile).
func (h *Home) Checksum(name string) (string, error) {
	if err := h.Allowed(name, PermRead); err != nil {
		return "", fmt.Errorf("stat %w", err)
	}
	f, err := h.FS.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return "", opErr("stat", name, err)
	}
	if sum := h.KnownSum(before); sum != "" {
		return sum, nil
	}
	d := md5.New()
	if _, err := io.CopyBuffer(d, f, make([]byte, 256<<10)); err != nil {
		return "", opErr("stat", name, err)
	}
	sum := hex.EncodeToString(d.Sum(nil))
	if after, err := f.Stat(); err == nil && after.Size() == before.Size() && after.ModTime().Equal(before.ModTime()) {
		h.RememberSum(after, sum)
	}
	return sum, nil
}
