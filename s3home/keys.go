package s3home

import (
	"fmt"
	"path"
	"strings"

	"ftpx/home"
	"ftpx/protocol"
)

// maxKey is S3's longest key, in bytes.
const maxKey = 1024

// key is the one place where a home path becomes a key: the tree's
// prefix, then the path without its leading '/'. Only clean absolute
// paths are accepted (what home.Resolve returns), and none inside the
// reserved PartialDir, so the key is always under the prefix, never in
// the server's bookkeeping, and never outside the tree: no element can
// be "", "." or "..". "/" is the prefix itself.
func (t *FS) key(op, name string) (string, error) {
	if !strings.HasPrefix(name, "/") || path.Clean(name) != name {
		return "", fmt.Errorf("%s %q: %w", op, name, home.ErrBadPath)
	}
	if name == "/" {
		return t.prefix, nil
	}
	rel := name[1:]
	if first, _, _ := strings.Cut(rel, "/"); first == home.PartialDir {
		return "", fmt.Errorf("%s %s: %w", op, name, home.ErrPermission)
	}
	if strings.ContainsFunc(rel, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return "", fmt.Errorf("%s %q: %w", op, name, home.ErrBadPath)
	}
	k := t.prefix + rel
	if len(k)+1 > maxKey { // +1: its directory marker
		return "", fmt.Errorf("%s %s: path too long for the store: %w", op, name, home.ErrBadPath)
	}
	return k, nil
}

// dirKey is the key of name's directory marker, and the prefix of every
// key below it: "dir/" ("" or the tree's prefix for "/").
func (t *FS) dirKey(op, name string) (string, error) {
	k, err := t.key(op, name)
	if err != nil || name == "/" {
		return k, err
	}
	return k + "/", nil
}

// partialKey is the key of the bookkeeping object id+suffix of a partial
// upload, in the tree's PartialDir. id is checked as the local FS checks
// a partial's name.
func (t *FS) partialKey(op, id, suffix string) (string, error) {
	if id == "" || id == "." || id == ".." || len(id) > protocol.MaxNameLen ||
		strings.ContainsAny(id, "/\\\x00") {
		return "", fmt.Errorf("%s partial %q: %w", op, id, home.ErrBadPath)
	}
	return t.partials() + id + suffix, nil
}

// partials is the prefix of the tree's bookkeeping: never listed, never
// counted, never reachable by a home path.
func (t *FS) partials() string { return t.prefix + home.PartialDir + "/" }

// nameOf turns a key under the tree back into its home path.
func (t *FS) nameOf(k string) string {
	return "/" + strings.TrimSuffix(strings.TrimPrefix(k, t.prefix), "/")
}
