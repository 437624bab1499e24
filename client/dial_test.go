package client_test

import (
	"context"
	"errors"
	"net"
	"testing"

	"ftpx/client"
	"ftpx/client/internal/fake"
	"ftpx/protocol"
)

func errorAs[T error](err error, target *T) bool { return errors.As(err, target) }

func TestConnectFailuresExit3(t *testing.T) {
	s := fake.Start(t, func(s *fake.Server) {
		s.Greeting = &protocol.Response{Status: protocol.StatusTooManyConns, Msg: "too many connections"}
	})
	_, err := client.Dial(context.Background(), s.Addr)
	if code := client.ExitCode(err); code != client.ExitConnection {
		t.Fatalf("270 greeting: err %v, exit %d, want 3", err, code)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = client.Dial(context.Background(), addr)
	if code := client.ExitCode(err); code != client.ExitConnection {
		t.Fatalf("closed port: err %v, exit %d, want 3", err, code)
	}
}

func TestAuthFailuresExit4(t *testing.T) {
	s := fake.Start(t)
	for _, tc := range []struct {
		user, pass string
		status     protocol.Status
	}{
		{"demo", "wrong", protocol.StatusWrongLogin},
		{"nobody", "secret", protocol.StatusWrongLogin},
		{"demo", "", protocol.StatusBadAuthData},
	} {
		c, err := client.Dial(context.Background(), s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		err = c.Auth(context.Background(), tc.user, tc.pass)
		var se *client.StatusError
		if !errors.As(err, &se) || se.Status != tc.status || client.ExitCode(err) != client.ExitAuth {
			t.Errorf("auth %s/%s: %v (exit %d), want %d and exit 4", tc.user, tc.pass, err, client.ExitCode(err), tc.status)
		}
		c.Close()
	}
}

func TestGreetingAndDirectoryActions(t *testing.T) {
	s := fake.Start(t)
	s.Mkdir("docs")
	s.WriteFile("docs/a.txt", []byte("abc"))
	c := connect(t, s)
	ctx := context.Background()
	if g := c.Greeting(); g.Status != protocol.StatusReady || g.Version != "fake" {
		t.Fatalf("greeting %+v", g)
	}
	if err := c.Mkdir(ctx, "new/deep", false); client.ExitCode(err) != 1 {
		t.Fatalf("mkdir without parents: %v", err)
	}
	if err := c.Mkdir(ctx, "new/deep", true); err != nil {
		t.Fatal(err)
	}
	entries, err := c.Ls(ctx, "/")
	if err != nil || len(entries) != 2 || entries[0].Name != "docs" || !entries[0].IsDir || entries[1].Name != "new" {
		t.Fatalf("ls: %+v %v", entries, err)
	}
	st, err := c.Stat(ctx, "docs/a.txt")
	if err != nil || st.Size != 3 || st.IsDir || st.Name != "a.txt" {
		t.Fatalf("stat: %+v %v", st, err)
	}
	if p, err := c.Cd(ctx, "docs"); err != nil || p != "/docs" {
		t.Fatalf("cd: %q %v", p, err)
	}
	if p, err := c.Pwd(ctx); err != nil || p != "/docs" {
		t.Fatalf("pwd: %q %v", p, err)
	}
}

func TestNotLoggedInIsGenericFailure(t *testing.T) {
	s := fake.Start(t)
	c, err := client.Dial(context.Background(), s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Ls(context.Background(), "")
	var se *client.StatusError
	if !errors.As(err, &se) || se.Status != protocol.StatusNotLoggedIn || client.ExitCode(err) != 1 {
		t.Fatalf("ls before auth: %v", err)
	}
}

func TestClosedClientRefuses(t *testing.T) {
	s := fake.Start(t)
	c := connect(t, s)
	c.Close()
	if _, err := c.Pwd(context.Background()); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("pwd after close: %v", err)
	}
}
