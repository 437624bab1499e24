package sftpd_test

import (
	"context"
	"testing"
	"time"

	"ftpx/accounts"
)

// TestRemovedUserSessionEndsAtNextRequest: once a user is removed from
// the accounts (and they are reloaded), that user's SFTP session has its
// next request refused, and the connection ends, as native sessions do.
func TestRemovedUserSessionEndsAtNextRequest(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited)
	c := dial(t, ts, addr)
	c.put(t, "a.txt", []byte("kept"))
	if err := accounts.DeleteUser(context.Background(), accounts.File(ts.Accounts), user); err != nil {
		t.Fatal(err)
	}
	if err := ts.Server.Accounts.Reload(); err != nil {
		t.Fatal(err)
	}
	_, err := c.sftp.ReadDir("/")
	wantCode(t, "the removed user's next request", err, fxPermissionDenied)
	ended := make(chan error, 1)
	go func() { ended <- c.ssh.Wait() }()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the removed user's connection goes on")
	}
}
