package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"ftpx/protocol"
)

// get -r copies remote trees as cp -r does: each remote directory named
// becomes a local one (empty directories included) and every file in it
// is fetched through the same batch as the files named directly (small
// ones pipelined, each verified, interrupted ones resumed).
//
// The server lists a symlink inside the home as what it points to, so a
// link to a directory above it would make the tree endless: a directory
// whose listing equals that of a directory above it is skipped with a
// warning, as put -r skips symlinked directories; and no tree goes deeper
// than maxTreeDepth.

// maxTreeDepth bounds how deep get -r goes.
const maxTreeDepth = 128

// expandTrees replaces each target whose source is a remote directory by
// the files of its tree, and returns with them the local directories to
// create, parents first. Without Recursive a directory is a failure.
func (c *Client) expandTrees(ctx context.Context, tops []target, opt TransferOptions, fails *failures) (files []target, dirs []string) {
	for _, t := range tops {
		e, err := c.Stat(ctx, t.src)
		switch {
		case err != nil:
			var se *StatusError
			if !errors.As(err, &se) || se.Status.Closes() {
				fails.add(err)
				return files, dirs
			}
			files = append(files, t) // the get says what is wrong
		case !e.IsDir:
			files = append(files, t)
		case !opt.Recursive:
			fails.add(&StatusError{Op: "get", Path: t.src, Status: protocol.StatusIsDir, Msg: "is a directory (use -r)"})
		default:
			if fi, err := os.Lstat(t.dest); err == nil && !fi.IsDir() {
				fails.add(&opError{op: "get", path: t.dest, err: errors.New("a local file is in the way (a directory cannot replace it)")})
				continue
			}
			if err := c.walkRemote(ctx, t.src, t.dest, nil, opt, fails, &files, &dirs); err != nil {
				fails.add(err)
				return files, dirs
			}
		}
	}
	return files, dirs
}

// walkRemote lists the remote directory src into the local one dest (to
// be created, which it adds to dirs). above holds the listings of the
// directories above it. It returns an error only when the connection
// failed.
func (c *Client) walkRemote(ctx context.Context, src, dest string, above []string, opt TransferOptions, fails *failures, files *[]target, dirs *[]string) error {
	entries, err := c.Ls(ctx, src)
	var se *StatusError
	switch {
	case errors.As(err, &se) && !se.Status.Closes():
		fails.add(err)
		return nil
	case err != nil:
		return err
	}
	key := listingKey(entries)
	switch {
	case slices.Contains(above, key):
		warn(opt, fmt.Sprintf("get %s: skipping a directory that repeats one above it (a symlink loop on the server?)", Printable(src)))
		return nil
	case len(above) >= maxTreeDepth:
		warn(opt, fmt.Sprintf("get %s: skipping what lies deeper than %d directories", Printable(src), maxTreeDepth))
		return nil
	}
	above = append(above, key)
	*dirs = append(*dirs, dest)
	for _, e := range entries {
		if !safeLocalName(e.Name) {
			fails.add(&opError{op: "get", path: path.Join(src, e.Name), err: errors.New("the server's name cannot be a local file name; skipped")})
			continue
		}
		s, d := path.Join(src, e.Name), filepath.Join(dest, e.Name)
		if !e.IsDir {
			*files = append(*files, target{s, d})
			continue
		}
		if err := c.walkRemote(ctx, s, d, above, opt, fails, files, dirs); err != nil {
			return err
		}
	}
	return nil
}

// listingKey sums up a listing: names, kinds, sizes and times.
func listingKey(entries []protocol.Entry) string {
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "%q %v %d %d\n", e.Name, e.IsDir, e.Size, e.MTime.Unix())
	}
	return b.String()
}

// safeLocalName reports whether a name a server listed can be used as one
// local path element: not empty, ".", ".." or with a separator.
func safeLocalName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\\\x00")
}

// makeDirs creates the local directories of the trees, in order; a
// directory that cannot be made is a failure, and so is everything it
// would hold (skip reports those).
func makeDirs(dirs []string, fails *failures) (skip func(dest string) bool) {
	var failed []string
	for _, d := range dirs {
		if slices.ContainsFunc(failed, func(f string) bool { return strings.HasPrefix(d, f+string(filepath.Separator)) }) {
			continue
		}
		if err := os.MkdirAll(d, 0o777); err != nil {
			fails.add(localError("get", d, err))
			failed = append(failed, d)
		}
	}
	return func(dest string) bool {
		return slices.ContainsFunc(failed, func(f string) bool { return strings.HasPrefix(dest, f+string(filepath.Separator)) })
	}
}

// namedRemotes gives "." and ".." (and paths ending so) the name of the
// directory they stand for, so that get -r . copies the current remote
// directory under its own name, as cp -r does.
func (c *Client) namedRemotes(remotes []string) []string {
	out := make([]string, len(remotes))
	for i, r := range remotes {
		out[i] = r
		if b := path.Base(r); b == "." || b == ".." {
			out[i] = c.abs(r)
		}
	}
	return out
}

// firstSource names a batch in messages: its first file, or its first
// remote as given.
func firstSource(tops []target, remotes []string) string {
	if len(tops) > 0 {
		return tops[0].src
	}
	return remotes[0]
}
