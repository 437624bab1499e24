package server

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

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

// abandoned ends a put whose client sent {"abandon":true} instead of the
// md5 frame (its source changed while it was sent): nothing is stored and
// the partial goes.
func (c *session) abandoned(req *protocol.Request, up landing, name string, n int64, start time.Time) error {
	up.Abort()
	c.logTransfer(slog.LevelInfo, "put abandoned", req, name, n, start, "", protocol.StatusOK, nil)
	return c.reply(req, protocol.StatusOK, "put abandoned: nothing stored")
}
