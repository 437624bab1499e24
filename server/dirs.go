package server

import (
	"fmt"
	"io/fs"
	"path"

	"ftpx/home"
	"ftpx/protocol"
)

// handleLs lists a directory, or describes a single file.
func (c *session) handleLs(req *protocol.Request) error {
	name, err := c.resolve(req.Path)
	if err == nil {
		err = c.home.Allowed(name, home.PermRead)
	}
	if err != nil {
		return c.fail(req, err)
	}
	fi, err := c.home.FS.Stat(name)
	if err != nil {
		return c.fail(req, err)
	}
	var entries []protocol.Entry
	if fi.IsDir() {
		infos, err := c.home.FS.ReadDir(name)
		if err != nil {
			return c.fail(req, err)
		}
		entries = make([]protocol.Entry, 0, len(infos))
		for _, fi := range infos {
			entries = append(entries, entryOf(fi.Name(), fi))
		}
	} else {
		entries = []protocol.Entry{entryOf(path.Base(name), fi)}
	}
	return c.send(protocol.Response{ID: req.ID, Status: protocol.StatusOK, Msg: protocol.StatusOK.String(), Path: name, Entries: entries})
}

// treeFrameBytes is about how much of a tree answer one frame carries, far
// under the client's response limit, so that a tree of any size travels
// and the client can start on it before the walk ends.
const treeFrameBytes = 512 << 10

// handleTree lists a directory and everything under it (home.Walk), in as
// many frames as it takes: each but the last says "more".
func (c *session) handleTree(req *protocol.Request) error {
	name, err := c.resolve(req.Path)
	if err != nil {
		return c.fail(req, err)
	}
	resp := protocol.Response{ID: req.ID, Status: protocol.StatusOK, Msg: protocol.StatusOK.String(), Path: name}
	size, sent := 0, false
	err = c.home.Walk(name, func(w home.Walked) error {
		e := protocol.TreeEntry{Path: w.Rel, IsDir: w.Info.IsDir(), MTime: w.Info.ModTime().UTC(), Skip: w.Skip}
		if !e.IsDir && w.Skip == "" {
			e.Size = w.Info.Size()
			if req.Checksum && w.Err == nil {
				e.MD5 = c.treeSum(name, w)
			}
		}
		if w.Err != nil {
			e.Status = statusFor(w.Err)
			c.log.Info("tree: name left out", "id", req.ID, "status", int(e.Status), "err", w.Err.Error())
		}
		resp.Tree = append(resp.Tree, e)
		if size += 96 + len(w.Rel); size < treeFrameBytes {
			return nil
		}
		resp.More, sent = true, true
		err := c.send(resp)
		resp.Tree, size = resp.Tree[:0], 0
		return err
	})
	switch {
	case err == nil:
		resp.More = false
		return c.send(resp)
	case sent:
		return err // the connection failed mid-answer
	}
	return c.fail(req, err)
}

// treeSum is the MD5 of a file a tree answer lists with "checksum": the
// one the server knows, or read now; "" when it cannot be read (the get
// of it then says why).
func (c *session) treeSum(top string, w home.Walked) string {
	if sum := c.home.KnownSum(w.Info); sum != "" {
		return sum
	}
	sum, err := c.home.Checksum(path.Join(top, w.Rel))
	if err != nil {
		return ""
	}
	return sum
}

// handleStat describes one name.
func (c *session) handleStat(req *protocol.Request) error {
	name, err := c.resolveFilename(req)
	if err == nil {
		err = c.home.Allowed(name, home.PermRead)
	}
	if err != nil {
		return c.fail(req, err)
	}
	fi, err := c.home.FS.Stat(name)
	if err != nil {
		return c.fail(req, err)
	}
	e := entryOf(path.Base(name), fi)
	resp := protocol.Response{ID: req.ID, Status: protocol.StatusOK, Msg: protocol.StatusOK.String(), Path: name, Stat: &e}
	if req.Checksum && !fi.IsDir() {
		if resp.MD5, err = c.home.Checksum(name); err != nil {
			return c.fail(req, err)
		}
	}
	return c.send(resp)
}

// handleCd changes the current directory.
func (c *session) handleCd(req *protocol.Request) error {
	name, err := c.resolve(req.Path)
	if err != nil {
		return c.fail(req, err)
	}
	fi, err := c.home.FS.Stat(name)
	if err != nil {
		return c.fail(req, err)
	}
	if !fi.IsDir() {
		return c.reply(req, protocol.StatusNotDir, "")
	}
	c.cwd = name
	return c.send(protocol.Response{ID: req.ID, Status: protocol.StatusDirChanged, Msg: protocol.StatusDirChanged.String(), Path: name})
}

// handlePwd reports the current directory.
func (c *session) handlePwd(req *protocol.Request) error {
	return c.send(protocol.Response{ID: req.ID, Status: protocol.StatusOK, Msg: protocol.StatusOK.String(), Path: c.cwd})
}

// handleMkdir creates a directory (and its parents when asked).
func (c *session) handleMkdir(req *protocol.Request) error {
	name, err := c.resolveFilename(req)
	if err == nil {
		err = c.home.Allowed(name, home.PermWrite)
	}
	if err != nil {
		return c.fail(req, err)
	}
	if err := c.home.FS.Mkdir(name, req.Parents); err != nil {
		return c.fail(req, err)
	}
	return c.send(protocol.Response{ID: req.ID, Status: protocol.StatusOK, Msg: protocol.StatusOK.String(), Path: name})
}

// resolveFilename resolves the request's "filename", which must be given.
func (c *session) resolveFilename(req *protocol.Request) (string, error) {
	if req.Filename == "" {
		return "", fmt.Errorf("%s: %w", req.Action, errNoFilename)
	}
	return c.resolve(req.Filename)
}

func entryOf(name string, fi fs.FileInfo) protocol.Entry {
	e := protocol.Entry{Name: name, IsDir: fi.IsDir(), MTime: fi.ModTime().UTC().Truncate(1e9)}
	if !e.IsDir {
		e.Size = fi.Size()
	}
	if name == "/" || name == "." {
		e.Name = "/"
	}
	return e
}
