package server

import (
	"errors"
	"fmt"

	"ftpx/home"
	"ftpx/protocol"
)

// handleBreakpoint tells the client how much of an interrupted put the
// server holds, with the MD5 of those bytes (from the saved digest state,
// not by reading them), so the client can check its own prefix before it
// sends the rest. Nothing held for this name is offset 0.
func (c *session) handleBreakpoint(req *protocol.Request) error {
	name, err := c.resolveFilename(req)
	if err == nil {
		err = c.home.Allowed(name, home.PermWrite)
	}
	if err != nil {
		return c.fail(req, err)
	}
	if req.Transfer == "" {
		return c.reply(req, protocol.StatusBadFormat, "breakpoint: transfer id required")
	}
	held, err := c.home.Breakpoint(req.Transfer)
	switch {
	case errors.Is(err, home.ErrNotExist):
		return c.send(protocol.Response{ID: req.ID, Status: protocol.StatusOK, Msg: "nothing held", Path: name})
	case err != nil:
		return c.fail(req, err)
	case held.Name != name:
		return c.send(protocol.Response{ID: req.ID, Status: protocol.StatusOK, Msg: fmt.Sprintf("nothing held for %s", name), Path: name})
	}
	return c.send(protocol.Response{
		ID: req.ID, Status: protocol.StatusOK, Msg: protocol.StatusOK.String(), Path: name,
		Offset: held.Offset, Size: protocol.Int64(held.Size), MD5: held.PrefixMD5,
	})
}
