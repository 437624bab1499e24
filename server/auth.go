package server

import (
	"errors"
	"fmt"

	"ftpx/accounts"
	"ftpx/home"
	"ftpx/protocol"
)

// anonymousKey counts anonymous sessions apart from any user's.
const anonymousKey = "\x00" + AnonymousUser

// handleAuth logs the session in, through Login (frontend.go), which
// every front end shares. Unknown users and wrong passwords get the same
// answer after the same work; the log tells them apart for the operator.
// With AnonymousRoot set, AnonymousUser logs in with any password to a
// read-only tree.
func (c *session) handleAuth(req *protocol.Request) error {
	if c.home != nil {
		return c.reply(req, protocol.StatusBadCommand, "auth: already authenticated as "+c.user)
	}
	l, err := c.srv.Login(c.ctx, c.log.With("id", req.ID), ProtocolFTPX, c.ip, req.Username, req.Password)
	if err != nil {
		st, msg := loginStatus(err)
		return c.reply(req, st, msg)
	}
	c.user, c.home, c.cwd, c.counted = l.User, l.Home, "/", l.User
	if l.Anonymous {
		c.counted = anonymousKey
		c.log = c.log.With("user", AnonymousUser)
		return c.reply(req, protocol.StatusLoggedIn, fmt.Sprintf("%s as %s (read only)", protocol.StatusLoggedIn, AnonymousUser))
	}
	c.rate.setRates(l.UploadRate, l.DownloadRate)
	c.log = c.log.With("user", l.User)
	return c.reply(req, protocol.StatusLoggedIn, fmt.Sprintf("%s as %s", protocol.StatusLoggedIn, l.User))
}

// LoginStatus is the status and message answering a refused login (err
// from Login, LoginKey or Reopen), for a front end that reports the
// protocol's codes.
func LoginStatus(err error) (protocol.Status, string) { return loginStatus(err) }

// loginStatus is the status and message answering a refused login.
func loginStatus(err error) (protocol.Status, string) {
	var st protocol.Status
	switch {
	case errors.Is(err, ErrBadAuthData):
		return protocol.StatusBadAuthData, "auth: username and password required"
	case errors.Is(err, ErrWrongLogin):
		return protocol.StatusWrongLogin, protocol.StatusWrongLogin.String()
	case errors.Is(err, ErrBanned):
		st = protocol.StatusBanned
	case errors.Is(err, ErrTooManySessions):
		st = protocol.StatusTooManySessions
	case errors.Is(err, home.ErrUnavailable):
		st := protocol.StatusUnavailable
		return st, "auth: cannot open home: " + st.String() + "; try again later"
	default:
		return protocol.StatusServerError, "auth: " + err.Error()
	}
	var le *LoginError
	if errors.As(err, &le) && le.Detail != "" {
		return st, fmt.Sprintf("%s (%s)", st, le.Detail)
	}
	return st, st.String()
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
