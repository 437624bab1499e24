package ftpd_test

import (
	"context"
	"io"
	"testing"

	"ftpx/accounts"
)

// TestRemovedUserSessionEndsAtNextCommand: once a user is removed from
// the accounts (and they are reloaded), that user's FTP sessions are
// answered 421 at their next command, and end, as native sessions do.
func TestRemovedUserSessionEndsAtNextCommand(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited, nil)
	ts.AddUser(t, "bob", "pw-bob", accounts.Unlimited)
	alex, _, _ := dialRaw(t, addr)
	alex.login("alex", "pw")
	bob, _, _ := dialRaw(t, addr)
	bob.login("bob", "pw-bob")
	if err := accounts.DeleteUser(context.Background(), accounts.File(ts.Accounts), "alex"); err != nil {
		t.Fatal(err)
	}
	if err := ts.Server.Accounts.Reload(); err != nil {
		t.Fatal(err)
	}
	if code, text := alex.cmd("PWD"); code != 421 || text != "421 the account was removed" {
		t.Fatalf("the removed user's next command: %d %q", code, text)
	}
	if line, err := alex.r.ReadString('\n'); err != io.EOF {
		t.Fatalf("the removed user's session goes on: %q %v", line, err)
	}
	if code, text := bob.cmd("PWD"); code != 257 {
		t.Fatalf("another user's session: %d %q", code, text)
	}
}
