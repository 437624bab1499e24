package server

import (
	"errors"
	"fmt"

	"ftpx/home"
	"ftpx/protocol"
)

// handleCancel gives up an interrupted put: the server's partial of the
// transfer goes and its bytes leave the quota at once. The answer is 260
// with the bytes freed in "size", or 256 when nothing is held.
func (c *session) handleCancel(req *protocol.Request) error {
	if req.Transfer == "" {
		return c.reply(req, protocol.StatusBadFormat, "cancel: transfer id required")
	}
	freed, err := c.home.Cancel(req.Transfer)
	switch {
	case errors.Is(err, home.ErrNotExist):
		return c.reply(req, protocol.StatusNotExist, "nothing held for this transfer")
	case err != nil:
		return c.fail(req, err)
	}
	c.log.Info("put cancelled", "id", req.ID, "transfer", req.Transfer, "bytes", freed)
	return c.send(protocol.Response{ID: req.ID, Status: protocol.StatusOK,
		Msg: fmt.Sprintf("cancelled: %s freed", protocol.HumanSize(freed)), Size: protocol.Int64(freed)})
}
