package server

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"ftpx/home"
	"ftpx/protocol"
)

// How every put ends, whatever brought its body (a sized body, a
// delta, a stream): refused before the body, or decided by the md5 frame.

// refusePut answers a put that home refused before its body (err, from
// BeginUpload or BeginStream): the parent missing, no room on the disk,
// over the quota (need says what the put would have needed, "" when it
// cannot tell), or whatever else err maps to.
func (c *session) refusePut(req *protocol.Request, name, need string, start time.Time, err error) error {
	switch {
	case errors.Is(err, home.ErrNotExist):
		return c.failWith(req, err, "file does not exist: the parent directory is missing")
	case statusFor(err) == protocol.StatusNoSpace:
		return c.refuseNoSpace(req, name, start, err)
	case statusFor(err) != protocol.StatusQuota:
		return c.fail(req, err)
	}
	c.logTransfer(slog.LevelWarn, "put refused", req, name, 0, start, "", protocol.StatusQuota, err)
	return c.reply(req, protocol.StatusQuota, c.quotaMessage(name, need))
}

// quotaMessage is the text of a 264 for a put to name: what the put
// needed or did (what, may be empty), and the quota's figures.
func (c *session) quotaMessage(name, what string) string {
	used, reserved, limit := c.home.QuotaAt(name)
	if what != "" {
		what += ", "
	}
	msg := fmt.Sprintf("%s (%s%s of %s used", protocol.StatusQuota, what, protocol.HumanSize(used), protocol.HumanSize(limit))
	if reserved > 0 {
		msg += fmt.Sprintf(", %s reserved by uploads in progress", protocol.HumanSize(reserved))
	}
	return msg + ")"
}

// landing is an upload whose whole body has arrived, waiting for the MD5
// that decides it: a put's or a streamed put's.
type landing interface {
	Commit(want string) error // in place under its name only when the MD5 of what arrived is want
	Abort() error
	Sum() string
}

// commitPut reads the md5 frame that follows a put body (unless the put
// gave its md5 up front) and commits up with it. placed says the file is
// in place: the caller logs that and answers 258. Otherwise the put has
// been answered (265, 286, 272..., 260 when abandoned) and err, when not
// nil, ends the session.
func (c *session) commitPut(req *protocol.Request, up landing, name string, n int64, start time.Time) (placed bool, err error) {
	want := req.MD5
	if want == "" {
		trailer, err := c.readTrailer()
		if err != nil {
			c.logTransfer(slog.LevelWarn, "put failed", req, name, n, start, up.Sum(), protocol.StatusBadFormat, err)
			if reason := c.endWith(req, err); reason != "" {
				return false, fmt.Errorf("put %s: trailer: %s", name, reason)
			}
			return false, nil
		}
		if trailer.Abandon {
			return false, c.abandoned(req, up, name, n, start)
		}
		want = trailer.MD5
	}
	if err := up.Commit(want); err != nil {
		c.logTransfer(slog.LevelWarn, "put failed", req, name, n, start, up.Sum(), statusFor(err), err)
		return false, c.fail(req, err)
	}
	return true, nil
}
