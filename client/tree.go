package client

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"ftpx/protocol"
)

// maxTreeEntries bounds the names one remote tree may hold: a server that
// lists names forever is given up on instead of filling the memory.
const maxTreeEntries = 1 << 20

// errTreeTooBig is why a tree over maxTreeEntries is not got.
var errTreeTooBig = fmt.Errorf("more than %d names: get its subdirectories one by one", maxTreeEntries)

// remoteTree lists everything under the remote directory dir, with the
// tree action or, from a server without it, one ls per directory.
// isDir is false, with no error, when dir is a file. The entries are the
// server's: planTree checks them before anything is written. With
// checksum, files come with their MD5 (from a server with the tree
// action).
func (c *Client) remoteTree(ctx context.Context, dir string, checksum bool) (entries []protocol.TreeEntry, isDir bool, err error) {
	if !c.noTree {
		entries, err = c.tree(ctx, dir, checksum)
		var se *StatusError
		switch {
		case errors.As(err, &se) && se.Status == protocol.StatusNotDir:
			return nil, false, nil
		case errors.As(err, &se) && se.Status == protocol.StatusBadCommand:
			c.noTree = true
		default:
			return entries, err == nil, err
		}
	}
	e, err := c.Stat(ctx, dir)
	if err != nil || !e.IsDir {
		return nil, false, err
	}
	entries, err = c.lsTree(ctx, dir)
	return entries, err == nil, err
}

// LsTree lists everything under the remote directory dir for ls -R: a
// directory before what it holds, paths relative to dir. isDir is false,
// with no error, when dir is a file. Failures are ls's ("ls DIR: 256 ...").
func (c *Client) LsTree(ctx context.Context, dir string) (entries []protocol.TreeEntry, isDir bool, err error) {
	entries, isDir, err = c.remoteTree(ctx, dir, false)
	return entries, isDir, retarget(err, "ls", dir)
}

// tree reads the frames of one tree answer to the last, reconnecting and
// asking again when the connection is lost; with checksum, each file
// comes with its MD5.
func (c *Client) tree(ctx context.Context, dir string, checksum bool) ([]protocol.TreeEntry, error) {
	var all []protocol.TreeEntry
	err := c.retry(ctx, "tree", dir, func() (bool, error) {
		all = all[:0]
		seen := map[string]bool{}
		stop := c.watch(ctx)
		defer stop()
		id, err := c.send(ctx, "tree", dir, &protocol.Request{Action: protocol.ActionTree, Path: dir, Checksum: checksum})
		if err != nil {
			return false, err
		}
		for {
			resp, err := c.readResponse(ctx, "tree", dir, id)
			if err != nil {
				return false, err
			}
			switch {
			case resp.Status != protocol.StatusOK && resp.More:
				return false, c.fail(ctx, "tree", dir, ErrProtocol, fmt.Errorf("a frame with status %d and more", resp.Status))
			case resp.Status != protocol.StatusOK:
				return false, &StatusError{Op: "tree", Path: dir, Status: resp.Status, Msg: resp.Msg}
			case len(all)+len(resp.Tree) > maxTreeEntries:
				// The rest of the answer cannot be skipped: the connection goes.
				return false, c.fail(ctx, "get", dir, nil, errTreeTooBig)
			}
			for _, e := range resp.Tree {
				// What no server walking a real tree sends: a name twice
				// (it could repeat forever), a path deeper than a request
				// may name (it could grow forever).
				if seen[e.Path] || len(e.Path) > protocol.MaxPathLen+protocol.MaxNameLen {
					return false, c.fail(ctx, "get", dir, ErrProtocol, fmt.Errorf("the server listed %.100q twice, or too deep", e.Path))
				}
				seen[e.Path] = true
			}
			all = append(all, resp.Tree...)
			if !resp.More {
				return false, nil
			}
		}
	})
	return all, err
}

// lsTree lists a tree with one ls per directory, as tree would answer: a
// directory before what it holds. A name that could not be a local one
// is listed but not entered (planTree reports it). A directory that
// cannot be listed carries the status of the refusal.
func (c *Client) lsTree(ctx context.Context, top string) ([]protocol.TreeEntry, error) {
	var out []protocol.TreeEntry
	var walk func(rel string) (protocol.Status, error)
	walk = func(rel string) (protocol.Status, error) {
		dir := path.Join(top, rel)
		entries, err := c.Ls(ctx, dir)
		var se *StatusError
		switch {
		case errors.As(err, &se) && !se.Status.Closes():
			return se.Status, nil
		case err != nil:
			return 0, err
		case rel != "" && len(entries) == 1 && !entries[0].IsDir && entries[0].Name == path.Base(dir):
			// ls of a file lists that file: a directory with one file of
			// its own name, or a directory that is really a file.
			if e, err := c.Stat(ctx, dir); err != nil || !e.IsDir {
				return protocol.StatusNotDir, err
			}
		}
		for _, e := range entries {
			if len(out) >= maxTreeEntries {
				return 0, &opError{op: "get", path: top, err: errTreeTooBig}
			}
			name := e.Name
			if rel != "" {
				name = rel + "/" + e.Name
			}
			out = append(out, protocol.TreeEntry{Path: name, Size: e.Size, IsDir: e.IsDir, MTime: e.MTime})
			if !e.IsDir || checkName(e.Name) != nil || len(c.abs(path.Join(top, name))) > protocol.MaxPathLen {
				continue
			}
			i := len(out) - 1
			if out[i].Status, err = walk(name); err != nil {
				return 0, err
			}
		}
		return 0, nil
	}
	_, err := walk("")
	return out, err
}

// checkName refuses a name from the server that cannot be one element of
// a local path under the target directory, or that the server itself
// would refuse in a request: empty, "." or "..", holding "/", a backslash,
// NUL or any other control character, not UTF-8, over
// protocol.MaxNameLen bytes, or the server's reserved .ftpx-partial.
func checkName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return errors.New("not a file name")
	case len(name) > protocol.MaxNameLen:
		return fmt.Errorf("a name of %d bytes", len(name))
	case !utf8.ValidString(name):
		return errors.New("not UTF-8")
	case strings.ContainsAny(name, `/\`):
		return errors.New("a name with a slash or a backslash")
	case strings.ContainsFunc(name, unicode.IsControl):
		return errors.New("a name with a control character")
	case name == ".ftpx-partial":
		return errors.New("the server's reserved name")
	}
	return nil
}
