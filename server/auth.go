package server

import (
	"fmt"
	"time"

	"ftpx/accounts"
	"ftpx/home"
	"ftpx/protocol"
)

// anonymousKey counts anonymous sessions apart from any user's.
const anonymousKey = "\x00" + AnonymousUser

// handleAuth logs the session in. Unknown users and wrong passwords get the
// same answer after the same work (accounts.Store.Authenticate sees to the
// timing); the log tells them apart for the operator. With AnonymousRoot
// set, AnonymousUser logs in with any password to a read-only tree.
func (c *session) handleAuth(req *protocol.Request) error {
	if c.home != nil {
		return c.reply(req, protocol.StatusBadCommand, "auth: already authenticated as "+c.user)
	}
	live := c.srv.settings()
	anonymous := req.Username == AnonymousUser && live.AnonymousRoot != ""
	if req.Username == "" || req.Password == "" && !anonymous {
		return c.reply(req, protocol.StatusBadAuthData, "auth: username and password required")
	}
	logins := c.srv.logins()
	if until, banned := logins.banned(c.ip, time.Now()); banned {
		c.srv.Metrics.authResult("banned")
		c.log.Warn("auth refused: address banned", "id", req.ID, "user", req.Username, "until", until.Format(time.RFC3339))
		return c.reply(req, protocol.StatusBanned, fmt.Sprintf("%s (until %s)", protocol.StatusBanned, until.UTC().Format(time.RFC3339)))
	}
	if anonymous {
		return c.authAnonymous(req, live)
	}
	acct, err := c.srv.Accounts.Authenticate(req.Username, req.Password)
	if err != nil {
		_, known := c.srv.Accounts.Lookup(req.Username)
		delay, banned := logins.fail(c.ip, req.Username, time.Now())
		c.srv.Metrics.authResult("failed")
		c.log.Warn("auth failed", "id", req.ID, "user", req.Username, "known_user", known, "delay", delay.String(), "address_banned", banned)
		time.Sleep(delay)
		return c.reply(req, protocol.StatusWrongLogin, protocol.StatusWrongLogin.String())
	}
	logins.succeed(c.ip, acct.Name)
	if !c.srv.login(acct.Name, acct.MaxSessions) {
		c.srv.Metrics.authResult("too_many_sessions")
		c.log.Warn("auth refused: too many sessions", "id", req.ID, "user", acct.Name, "max_sessions", acct.MaxSessions)
		return c.reply(req, protocol.StatusTooManySessions, fmt.Sprintf("%s (at most %d)", protocol.StatusTooManySessions, acct.MaxSessions))
	}
	h, err := c.srv.Homes.OpenSpec(acct.Name, specOf(acct))
	if err != nil {
		c.srv.logout(acct.Name)
		c.log.Error("auth: open home failed", "id", req.ID, "user", acct.Name, "err", err)
		if st := statusFor(err); st == protocol.StatusUnavailable {
			return c.reply(req, st, "auth: cannot open home: "+st.String()+"; try again later")
		}
		return c.reply(req, protocol.StatusServerError, "auth: cannot open home")
	}
	c.user, c.home, c.cwd, c.counted = acct.Name, h, "/", acct.Name
	c.rate.setRates(acct.UploadRate, acct.DownloadRate)
	c.log = c.log.With("user", acct.Name)
	c.srv.Metrics.authResult("ok")
	c.log.Info("auth ok", "id", req.ID, "folders", len(acct.Folders))
	return c.reply(req, protocol.StatusLoggedIn, fmt.Sprintf("%s as %s", protocol.StatusLoggedIn, acct.Name))
}

// authAnonymous logs the session in to the anonymous tree, read only.
func (c *session) authAnonymous(req *protocol.Request, live Live) error {
	if !c.srv.login(anonymousKey, live.AnonymousMaxConns) {
		c.srv.Metrics.authResult("too_many_sessions")
		c.log.Warn("auth refused: too many anonymous sessions", "id", req.ID, "max", live.AnonymousMaxConns)
		return c.reply(req, protocol.StatusTooManySessions, fmt.Sprintf("%s (at most %d anonymous)", protocol.StatusTooManySessions, live.AnonymousMaxConns))
	}
	h, err := c.srv.Homes.OpenAnonymous(live.AnonymousRoot)
	if err != nil {
		c.srv.logout(anonymousKey)
		c.log.Error("auth: open anonymous root failed", "id", req.ID, "err", err)
		return c.reply(req, protocol.StatusServerError, "auth: cannot open the anonymous tree")
	}
	c.user, c.home, c.cwd, c.counted = AnonymousUser, h, "/", anonymousKey
	c.log = c.log.With("user", AnonymousUser)
	c.srv.Metrics.authResult("anonymous")
	c.log.Info("auth ok", "id", req.ID, "anonymous", true)
	return c.reply(req, protocol.StatusLoggedIn, fmt.Sprintf("%s as %s (read only)", protocol.StatusLoggedIn, AnonymousUser))
}

// specOf is how the account's home is opened: its quota, its permissions
// and its folders.
func specOf(a accounts.Account) home.Spec {
	spec := home.Spec{Quota: a.Quota, Perms: a.Perms}
	for _, f := range a.Folders {
		spec.Folders = append(spec.Folders, home.Folder{Name: f.Name, Dir: f.Dir, Perms: f.Perms, Quota: f.Quota, OwnQuota: f.OwnQuota})
	}
	return spec
}

// handleQuit says goodbye, with the goodbye text; the session ends after
// the answer.
func (c *session) handleQuit(req *protocol.Request) error {
	c.send(protocol.Response{ID: req.ID, Status: protocol.StatusGoodbye, Msg: protocol.StatusGoodbye.String(), Goodbye: c.srv.settings().Goodbye})
	return errQuit
}
