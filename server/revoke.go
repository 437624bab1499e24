package server

import "errors"

// A user removed from the accounts (user del, then a reload, or a new
// version of an accounts file in a store) is logged out of every session
// at its next request, whatever the front end: a transfer already running
// ends normally, nothing after it runs. A changed password or quota
// applies from the next login.

// errRemoved ends the session of a user whose account is gone.
var errRemoved = errors.New("the account was removed")

// removed reports whether the logged-in user no longer has an account.
func (c *session) removed() bool {
	return c.home != nil && c.counted != anonymousKey && !c.srv.hasAccount(c.user)
}

// Removed reports whether the login's account has gone from the accounts
// since: the front end ends its session at its next request, saying
// "the account was removed".
func (l *Login) Removed() bool { return !l.Anonymous && !l.srv.hasAccount(l.User) }

func (s *Server) hasAccount(name string) bool {
	_, ok := s.Accounts.Lookup(name)
	return ok
}
