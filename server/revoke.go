package server

import "errors"

// A user removed from the accounts (user del, then a reload) is logged out
// of every session at its next request: a transfer already running ends
// normally, nothing after it runs. A changed password or quota applies
// from the next login.

// errRemoved ends the session of a user whose account is gone.
var errRemoved = errors.New("the account was removed")

// removed reports whether the logged-in user no longer has an account.
func (c *session) removed() bool {
	if c.home == nil || c.counted == anonymousKey {
		return false
	}
	_, ok := c.srv.Accounts.Lookup(c.user)
	return !ok
}
