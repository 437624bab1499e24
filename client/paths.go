package client

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"ftpx/protocol"
)

// TransferOptions shape PutPaths and GetPaths.
type TransferOptions struct {
	// Recursive copies directory trees (put -r).
	Recursive bool
	// To, when set, puts every item inside this directory, creating it
	// (and its parents) when missing: "put --to DIR A B", "get --to DIR R S".
	To string
	// Progress, when set, returns the Progress of one transfer, named by
	// its remote path.
	Progress func(remote string) Progress
	// Done, when set, is called after each transfer that succeeded.
	Done func(Result)
	// Warn, when set, is told about what was skipped (symlinked
	// directories, special files) without being a failure.
	Warn func(msg string)
}

// PutPaths uploads with cp's destinations:
//
//	put FILE            -> the base name, in the remote current directory
//	put FILE REMOTE     -> REMOTE, or REMOTE/BASE when REMOTE is an existing directory
//	put -r DIR          -> the tree at BASE (merged into it when it exists)
//	put -r DIR REMOTE   -> the tree at REMOTE (created with its parents), or at
//	                       REMOTE/BASE when REMOTE is an existing directory
//	put [-r] --to D A B -> D/A, D/B, creating D when missing
//
// A directory without Recursive is a failure. When several items fail it
// goes on with the rest while the connection lasts, and returns their
// errors joined in order (ExitCode reports the first); nil when all
// succeeded.
func (c *Client) PutPaths(ctx context.Context, locals []string, remote string, opt TransferOptions) error {
	var fails failures
	if opt.To != "" {
		if remote != "" {
			return Usagef("put: give either --to DIR or REMOTE, not both")
		}
		if len(locals) == 0 {
			return Usagef("put: nothing to put")
		}
		if err := c.Mkdir(ctx, opt.To, true); err != nil {
			return err
		}
		for _, l := range locals {
			if c.err != nil || ctx.Err() != nil {
				break
			}
			base, err := localBase(l)
			if err != nil {
				fails.add(err)
				continue
			}
			c.putItem(ctx, l, path.Join(opt.To, base), opt, &fails)
		}
		return fails.err()
	}
	if len(locals) != 1 {
		return Usagef("put: want LOCAL [REMOTE], or --to REMOTE_DIR LOCAL...")
	}
	local := locals[0]
	base, err := localBase(local)
	if err != nil {
		return err
	}
	dest := base
	if remote != "" {
		dest = remote
		isDir, err := c.isRemoteDir(ctx, remote)
		if err != nil {
			return err
		}
		if isDir {
			dest = path.Join(remote, base)
		}
	}
	c.putItem(ctx, local, dest, opt, &fails)
	return fails.err()
}

// putItem puts one file, or with opt.Recursive one tree, at dest.
func (c *Client) putItem(ctx context.Context, local, dest string, opt TransferOptions, fails *failures) {
	fi, err := os.Stat(local)
	if err != nil {
		fails.add(localError("put", local, err))
		return
	}
	if !fi.IsDir() {
		c.putFile(ctx, local, dest, opt, fails)
		return
	}
	if !opt.Recursive {
		fails.add(&opError{op: "put", path: local, err: errors.New("is a directory (use -r)")})
		return
	}
	if err := c.Mkdir(ctx, dest, true); err != nil {
		fails.add(err)
		return
	}
	filepath.WalkDir(local, func(p string, d fs.DirEntry, err error) error {
		if c.err != nil || ctx.Err() != nil {
			return filepath.SkipAll
		}
		if err != nil {
			fails.add(localError("put", p, err))
			return nil
		}
		if p == local {
			return nil
		}
		rel, err := filepath.Rel(local, p)
		if err != nil {
			fails.add(localError("put", p, err))
			return nil
		}
		r := path.Join(dest, filepath.ToSlash(rel))
		switch {
		case d.IsDir():
			if err := c.Mkdir(ctx, r, true); err != nil {
				fails.add(err)
				return filepath.SkipDir
			}
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Stat(p)
			switch {
			case err != nil:
				fails.add(localError("put", p, err))
			case target.IsDir():
				warn(opt, "put "+p+": skipping symlinked directory")
			case target.Mode().IsRegular():
				c.putFile(ctx, p, r, opt, fails)
			default:
				warn(opt, "put "+p+": skipping special file")
			}
		case d.Type().IsRegular():
			c.putFile(ctx, p, r, opt, fails)
		default:
			warn(opt, "put "+p+": skipping special file")
		}
		return nil
	})
}

func (c *Client) putFile(ctx context.Context, local, remote string, opt TransferOptions, fails *failures) {
	var p Progress
	if opt.Progress != nil {
		p = opt.Progress(remote)
	}
	res, err := c.Put(ctx, local, remote, p)
	if err != nil {
		fails.add(err)
		return
	}
	if opt.Done != nil {
		opt.Done(res)
	}
}

// isRemoteDir reports whether name is an existing remote directory. A name
// that does not exist, or that this user may not stat, is not one (the
// transfer itself then reports what is wrong); a trailing slash says the
// caller means a directory.
func (c *Client) isRemoteDir(ctx context.Context, name string) (bool, error) {
	e, err := c.Stat(ctx, name)
	var se *StatusError
	switch {
	case err == nil:
		return e.IsDir, nil
	case errors.As(err, &se) && !se.Status.Closes():
		return strings.HasSuffix(name, "/"), nil
	}
	return false, err
}

// GetPaths downloads with cp's destinations, mirroring PutPaths:
//
//	get REMOTE          -> its base name, in the local current directory
//	get REMOTE LOCAL    -> LOCAL, or LOCAL/BASE when LOCAL is an existing directory
//	get --to DIR R S    -> DIR/R, DIR/S, creating DIR when missing
//
// Only files are fetched (recursive get is not implemented yet). Failures
// are handled as in PutPaths.
func (c *Client) GetPaths(ctx context.Context, remotes []string, local string, opt TransferOptions) error {
	var fails failures
	if opt.To != "" {
		if local != "" {
			return Usagef("get: give either --to DIR or LOCAL, not both")
		}
		if len(remotes) == 0 {
			return Usagef("get: nothing to get")
		}
		if err := os.MkdirAll(opt.To, 0o777); err != nil {
			return localError("get", opt.To, err)
		}
		for _, r := range remotes {
			if c.err != nil || ctx.Err() != nil {
				break
			}
			base, err := remoteBase(r)
			if err != nil {
				fails.add(err)
				continue
			}
			c.getFile(ctx, r, filepath.Join(opt.To, base), opt, &fails)
		}
		return fails.err()
	}
	if len(remotes) != 1 {
		return Usagef("get: want REMOTE [LOCAL], or --to LOCAL_DIR REMOTE...")
	}
	r := remotes[0]
	base, err := remoteBase(r)
	if err != nil {
		return err
	}
	dest := base
	if local != "" {
		dest = local
		if fi, err := os.Stat(local); err == nil && fi.IsDir() {
			dest = filepath.Join(local, base)
		}
	}
	c.getFile(ctx, r, dest, opt, &fails)
	return fails.err()
}

func (c *Client) getFile(ctx context.Context, remote, local string, opt TransferOptions, fails *failures) {
	var p Progress
	if opt.Progress != nil {
		p = opt.Progress(remote)
	}
	res, err := c.Get(ctx, remote, local, p)
	if err != nil {
		fails.add(err)
		return
	}
	if opt.Done != nil {
		opt.Done(res)
	}
}

// localBase is the name a local file or tree takes on the server: the base
// name of its absolute path, so that "." and ".." name real directories.
func localBase(local string) (string, error) {
	if local == "" {
		return "", Usagef("put: empty local path")
	}
	abs, err := filepath.Abs(local)
	if err != nil {
		return "", localError("put", local, err)
	}
	base := filepath.Base(abs)
	if base == string(filepath.Separator) || base == "." || base == ".." {
		return "", &opError{op: "put", path: local, err: errors.New("cannot put the root directory")}
	}
	return base, nil
}

// remoteBase is the local name of a remote file: the last element of the
// path as the user wrote it (never a name the server chose).
func remoteBase(remote string) (string, error) {
	if remote == "" {
		return "", Usagef("get: empty remote path")
	}
	base := path.Base(path.Clean(remote))
	if base == "/" || base == "." || base == ".." {
		return "", &StatusError{Op: "get", Path: remote, Status: protocol.StatusIsDir, Msg: "is a directory (recursive get is not supported)"}
	}
	return base, nil
}

func warn(opt TransferOptions, msg string) {
	if opt.Warn != nil {
		opt.Warn(msg)
	}
}

// failures collects the errors of a multi-item operation in order.
type failures struct{ errs []error }

func (f *failures) add(err error) { f.errs = append(f.errs, err) }

func (f *failures) err() error {
	switch len(f.errs) {
	case 0:
		return nil
	case 1:
		return f.errs[0]
	}
	return errors.Join(f.errs...)
}
