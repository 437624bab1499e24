package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/protocol"

	"github.com/google/uuid"
)

// TestPutAbandonedStoresNothing: {"abandon":true} in place of the md5
// frame drops the upload, resumable or not, and the session goes on.
func TestPutAbandonedStoresNothing(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	rc := login(t, ts, "alex", "pw-alex")
	body := randomBytes(t, 3<<20)
	for _, transfer := range []string{"", uuid.NewString()} {
		resp := rc.do(protocol.Request{Action: "put", Filename: "a.bin", SizeField: protocol.Int64(int64(len(body))), Transfer: transfer})
		if resp.Status != protocol.StatusReadyToSend {
			t.Fatalf("put: %d %s", resp.Status, resp.Msg)
		}
		rc.sendBytes(body)
		rc.send(protocol.Request{Abandon: true})
		if resp := rc.read(); resp.Status != protocol.StatusOK || !strings.Contains(resp.Msg, "abandoned") {
			t.Fatalf("abandon: %d %s", resp.Status, resp.Msg)
		}
		if _, err := os.Stat(filepath.Join(ts.Home("alex"), "a.bin")); !os.IsNotExist(err) {
			t.Fatalf("an abandoned put is stored: %v", err)
		}
		if ps := partials(t, ts, "alex"); len(ps) != 0 {
			t.Fatalf("partials left: %v", ps)
		}
	}
	if resp := rc.do(protocol.Request{Action: "quota"}); *resp.Used != 0 {
		t.Fatalf("quota used %d after abandoned puts", *resp.Used)
	}
	usable(t, rc, ts)
}

// TestRemovedUserLoggedOutAtNextRequest: once a user is removed from the
// accounts (and they are reloaded), that user's sessions get 262 with the
// reason at their next request, and end.
func TestRemovedUserLoggedOutAtNextRequest(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	ts.AddUser(t, "bob", "pw-bob", accounts.Unlimited)
	alex := login(t, ts, "alex", "pw-alex")
	bob := login(t, ts, "bob", "pw-bob")
	if err := accounts.DeleteUser(context.Background(), accounts.File(ts.Accounts), "alex"); err != nil {
		t.Fatal(err)
	}
	if err := ts.Server.Accounts.Reload(); err != nil {
		t.Fatal(err)
	}
	if resp := alex.do(protocol.Request{Action: "pwd"}); resp.Status != protocol.StatusNotLoggedIn || resp.Msg != "not authenticated (the account was removed)" {
		t.Fatalf("removed user's request: %d %s", resp.Status, resp.Msg)
	}
	if !alex.closedByServer() {
		t.Fatal("the removed user's session goes on")
	}
	if resp := bob.do(protocol.Request{Action: "pwd"}); resp.Status != protocol.StatusOK {
		t.Fatalf("another user's session: %d %s", resp.Status, resp.Msg)
	}
}
