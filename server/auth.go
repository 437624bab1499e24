package server

import (
	"fmt"
	"time"

	"ftpx/protocol"
)

// handleAuth logs the session in. Unknown users and wrong passwords get the
// same answer after the same work (accounts.Store.Authenticate sees to the
// timing); the log tells them apart for the operator.
func (c *session) handleAuth(req *protocol.Request) error {
	if c.home != nil {
		return c.reply(req, protocol.StatusBadCommand, "auth: already authenticated as "+c.user)
	}
	if req.Username == "" || req.Password == "" {
		return c.reply(req, protocol.StatusBadAuthData, "auth: username and password required")
	}
	logins := c.srv.logins()
	if until, banned := logins.banned(c.ip, time.Now()); banned {
		c.log.Warn("auth refused: address banned", "id", req.ID, "user", req.Username, "until", until.Format(time.RFC3339))
		return c.reply(req, protocol.StatusBanned, fmt.Sprintf("%s (until %s)", protocol.StatusBanned, until.UTC().Format(time.RFC3339)))
	}
	acct, err := c.srv.Accounts.Authenticate(req.Username, req.Password)
	if err != nil {
		_, known := c.srv.Accounts.Lookup(req.Username)
		delay, banned := logins.fail(c.ip, req.Username, time.Now())
		c.log.Warn("auth failed", "id", req.ID, "user", req.Username, "known_user", known, "delay", delay.String(), "address_banned", banned)
		time.Sleep(delay)
		return c.reply(req, protocol.StatusWrongLogin, protocol.StatusWrongLogin.String())
	}
	logins.succeed(c.ip, acct.Name)
	h, err := c.srv.Homes.Open(acct.Name, acct.Quota)
	if err != nil {
		c.log.Error("auth: open home failed", "id", req.ID, "user", acct.Name, "err", err)
		return c.reply(req, protocol.StatusServerError, "auth: cannot open home")
	}
	c.user, c.home, c.cwd = acct.Name, h, "/"
	c.log = c.log.With("user", acct.Name)
	c.log.Info("auth ok", "id", req.ID)
	return c.reply(req, protocol.StatusLoggedIn, fmt.Sprintf("%s as %s", protocol.StatusLoggedIn, acct.Name))
}

// handleQuit says goodbye; the session ends after the answer.
func (c *session) handleQuit(req *protocol.Request) error {
	c.send(protocol.Response{ID: req.ID, Status: protocol.StatusGoodbye, Msg: protocol.StatusGoodbye.String()})
	return errQuit
}
