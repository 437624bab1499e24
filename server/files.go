package server

import (
	"fmt"

	"ftpx/protocol"
)

// handleRm removes a file or an empty directory, or a tree when asked.
func (c *session) handleRm(req *protocol.Request) error {
	name, err := c.resolveFilename(req)
	if err != nil {
		return c.fail(req, err)
	}
	if err := c.home.Remove(name, req.Recursive); err != nil {
		return c.fail(req, err)
	}
	c.log.Info("rm done", "id", req.ID, "path", name, "recursive", req.Recursive)
	return c.send(protocol.Response{ID: req.ID, Status: protocol.StatusOK, Msg: protocol.StatusOK.String(), Path: name})
}

// handleMv renames "filename" to "to".
func (c *session) handleMv(req *protocol.Request) error {
	from, err := c.resolveFilename(req)
	if err != nil {
		return c.fail(req, err)
	}
	if req.To == "" {
		return c.fail(req, fmt.Errorf("mv: to: %w", errNoFilename))
	}
	to, err := c.resolve(req.To)
	if err != nil {
		return c.fail(req, err)
	}
	if err := c.home.Rename(from, to); err != nil {
		return c.fail(req, err)
	}
	c.log.Info("mv done", "id", req.ID, "path", from, "to", to)
	return c.send(protocol.Response{ID: req.ID, Status: protocol.StatusOK, Msg: protocol.StatusOK.String(), Path: to})
}

// handleQuota reports the user's usage and limit; with a path, those of
// the quota that counts there (a folder's own, or the home's).
func (c *session) handleQuota(req *protocol.Request) error {
	used, _, limit := c.home.Quota()
	if req.Path != "" {
		name, err := c.resolve(req.Path)
		if err != nil {
			return c.fail(req, err)
		}
		used, _, limit = c.home.QuotaAt(name)
	}
	return c.send(protocol.Response{ID: req.ID, Status: protocol.StatusOK, Msg: protocol.StatusOK.String(), Used: protocol.Int64(used), Quota: protocol.Int64(limit)})
}
