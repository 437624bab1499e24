package home

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// The kinds of error home returns, wrapped with an operation and a
// home-relative path. The server maps each to one status code.
var (
	ErrNotExist   = errors.New("file does not exist")
	ErrOutside    = errors.New("path leaves the home")
	ErrBadPath    = errors.New("invalid path")
	ErrPermission = errors.New("permission denied")
	ErrQuota      = errors.New("quota exceeded")
	ErrNotDir     = errors.New("not a directory")
	ErrIsDir      = errors.New("is a directory")
	ErrExists     = errors.New("already exists")
	ErrMD5        = errors.New("md5 mismatch")
	ErrSize       = errors.New("size mismatch") // body longer/shorter than declared

	ErrBadOffset   = errors.New("bad resume offset")                // negative, past the end, or not what is held
	ErrBadTransfer = errors.New("invalid transfer id")              // not a uuid
	ErrForeign     = errors.New("transfer belongs to another user") // the id is held in another home
	ErrBusy        = errors.New("transfer in progress")             // another connection is using the id
	ErrPrefix      = errors.New("prefix md5 mismatch")              // a resumed get's prefix differs
	ErrNotEmpty    = errors.New("directory not empty")
	ErrCrossFolder = errors.New("move across folders")  // a rename between the home and a folder, or two folders: different trees
	ErrNoSpace     = errors.New("insufficient storage") // the file system is full (ENOSPC, EDQUOT) or would keep less than its reserve

	// ErrUnavailable is a store that cannot be reached or does not answer
	// in time (an object store that is down): worth trying again later.
	ErrUnavailable = errors.New("storage unavailable")
	// ErrChanged is a conditional change to an object store refused
	// because another server changed the name meanwhile: measure again.
	ErrChanged = errors.New("changed meanwhile")
)

// escapeMsg is the text of the unexported error os.Root returns when a
// path or a symlink would take it out of its directory.
const escapeMsg = "path escapes from parent"

// opErr wraps err, an error from the os package, as "op name: kind", where
// kind is one of the sentinels when err means one. Other errors keep only
// their innermost cause (an errno), so no path the os package put in the
// message (relative as it is under os.Root) is repeated.
func opErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	if kind := kindOf(err); kind != nil {
		return fmt.Errorf("%s %s: %w", op, name, kind)
	}
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = le.Err
	}
	return fmt.Errorf("%s %s: %w", op, name, err)
}

// OpError wraps err, an error of the os package or an errno, as home's
// own FS does: "op name: kind" when it means one of the sentinels (ENOSPC
// is ErrNoSpace, ENOENT ErrNotExist...), else "op name: errno". For FS
// implementations outside this package (object stores, test wrappers).
func OpError(op, name string, err error) error { return opErr(op, name, err) }

// kindOf returns the sentinel err means, or nil.
func kindOf(err error) error {
	for _, kind := range []error{ErrNotExist, ErrOutside, ErrBadPath, ErrPermission,
		ErrQuota, ErrNotDir, ErrIsDir, ErrExists, ErrMD5, ErrSize,
		ErrBadOffset, ErrBadTransfer, ErrForeign, ErrBusy, ErrPrefix, ErrNotEmpty, ErrCrossFolder, ErrNoSpace, ErrUnavailable, ErrChanged} {
		if errors.Is(err, kind) {
			return kind
		}
	}
	switch {
	case escapes(err):
		return ErrOutside
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return ErrNoSpace
	case errors.Is(err, syscall.ENOTEMPTY):
		return ErrNotEmpty // before fs.ErrExist, which would match it too
	case errors.Is(err, syscall.ELOOP):
		return ErrBadPath // a symlink loop, or one swapped in mid-lookup
	case errors.Is(err, syscall.ENOTDIR):
		return ErrNotDir
	case errors.Is(err, syscall.EISDIR):
		return ErrIsDir
	case errors.Is(err, fs.ErrNotExist):
		return ErrNotExist
	case errors.Is(err, fs.ErrExist):
		return ErrExists
	case errors.Is(err, fs.ErrPermission):
		return ErrPermission
	}
	return nil
}

// escapes reports whether err is os.Root refusing a path that leaves it.
func escapes(err error) bool {
	for ; err != nil; err = errors.Unwrap(err) {
		if err.Error() == escapeMsg {
			return true
		}
	}
	return false
}
