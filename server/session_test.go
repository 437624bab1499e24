package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/protocol"
	"ftpx/server"
)

func TestGreeting(t *testing.T) {
	ts := ftpxtest.NewServer(t, func(s *server.Server) { s.Welcome = "hello team" })
	rc := dialRaw(t, ts.Addr)
	if rc.hi.Status != protocol.StatusReady || rc.hi.Welcome != "hello team" || rc.hi.Version == "" || rc.hi.Session == "" {
		t.Fatalf("greeting: %+v", rc.hi)
	}
}

func TestAuth(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	rc := dialRaw(t, ts.Addr)
	for _, tc := range []struct {
		user, pw string
		want     protocol.Status
	}{
		{"alex", "wrong", protocol.StatusWrongLogin},
		{"nobody", "pw-alex", protocol.StatusWrongLogin},
		{"alex", "", protocol.StatusBadAuthData},
		{"", "x", protocol.StatusBadAuthData},
		{"alex", "pw-alex", protocol.StatusLoggedIn},
	} {
		if resp := rc.do(protocol.Request{ID: "id-" + tc.user, Action: "auth", Username: tc.user, Password: tc.pw}); resp.Status != tc.want || resp.ID != "id-"+tc.user {
			t.Errorf("auth %q/%q: %d %s id %q, want %d", tc.user, tc.pw, resp.Status, resp.Msg, resp.ID, tc.want)
		}
	}
	if !strings.Contains(ts.Log(), "auth failed") || !strings.Contains(ts.Log(), "auth ok") {
		t.Errorf("auth results not logged:\n%s", ts.Log())
	}
}

func TestActionsBeforeAuthRefused(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	rc := dialRaw(t, ts.Addr)
	for _, req := range []protocol.Request{
		{Action: "ls"}, {Action: "cd", Path: "x"}, {Action: "pwd"}, {Action: "get", Filename: "x"},
		{Action: "put", Filename: "x", SizeField: protocol.Int64(3)}, {Action: "mkdir", Filename: "x"}, {Action: "stat", Filename: "x"},
	} {
		if resp := rc.do(req); resp.Status != protocol.StatusNotLoggedIn {
			t.Errorf("%s before auth: %d %s, want 262", req.Action, resp.Status, resp.Msg)
		}
	}
	if ents, _ := os.ReadDir(ts.Root); len(ents) != 0 {
		t.Fatalf("actions before auth created %d entries in the root", len(ents))
	}
	if resp := rc.do(protocol.Request{Action: "frobnicate"}); resp.Status != protocol.StatusBadCommand {
		t.Errorf("unknown action: %d, want 251", resp.Status)
	}
}

func TestCdPwdStayInsideHome(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	rc := login(t, ts, "alex", "pw-alex")
	rc.do(protocol.Request{Action: "mkdir", Filename: "a/b", Parents: true})
	steps := []struct {
		path string
		want protocol.Status
		cwd  string
	}{
		{"a", protocol.StatusDirChanged, "/a"},
		{"b", protocol.StatusDirChanged, "/a/b"},
		{"../..", protocol.StatusDirChanged, "/"},
		{"..", protocol.StatusPermission, "/"},
		{"/a/../../..", protocol.StatusPermission, "/"},
		{"missing", protocol.StatusNotExist, "/"},
		{"/a/b", protocol.StatusDirChanged, "/a/b"},
		{"/", protocol.StatusDirChanged, "/"},
	}
	for _, s := range steps {
		if resp := rc.do(protocol.Request{Action: "cd", Path: s.path}); resp.Status != s.want {
			t.Fatalf("cd %q: %d %s, want %d", s.path, resp.Status, resp.Msg, s.want)
		}
		if resp := rc.do(protocol.Request{Action: "pwd"}); resp.Path != s.cwd {
			t.Fatalf("after cd %q: pwd %q, want %q", s.path, resp.Path, s.cwd)
		}
	}
	// No answer names the server's own directories.
	resp := rc.do(protocol.Request{Action: "cd", Path: "../../../../etc"})
	if strings.Contains(resp.Msg, ts.Root) {
		t.Fatalf("answer reveals the server root: %q", resp.Msg)
	}
}

func TestLs(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	rc := login(t, ts, "alex", "pw-alex")
	rc.do(protocol.Request{Action: "mkdir", Filename: "dir"})
	body := []byte("12345")
	rc.put("five.txt", body, md5hex(body))
	resp := rc.do(protocol.Request{Action: "ls", ID: "ls-1"})
	if resp.Status != protocol.StatusOK || resp.ID != "ls-1" || len(resp.Entries) != 2 {
		t.Fatalf("ls: %+v", resp)
	}
	d, f := resp.Entries[0], resp.Entries[1]
	if d.Name != "dir" || !d.IsDir || f.Name != "five.txt" || f.IsDir || f.Size != 5 || time.Since(f.MTime) > time.Hour {
		t.Fatalf("entries: %+v", resp.Entries)
	}
	if resp := rc.do(protocol.Request{Action: "ls", Path: "five.txt"}); len(resp.Entries) != 1 || resp.Entries[0].Size != 5 {
		t.Fatalf("ls of a file: %+v", resp)
	}
}

func TestUsersIsolated(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "al", "pw-al", accounts.Unlimited)
	ts.AddUser(t, "alice", "pw-alice", accounts.Unlimited)
	alice := login(t, ts, "alice", "pw-alice")
	secret := []byte("alice's secret")
	alice.put("secret.txt", secret, md5hex(secret))
	al := login(t, ts, "al", "pw-al")
	for _, p := range []string{"../alice/secret.txt", "/../alice/secret.txt", "secret.txt", filepath.Join(ts.Root, "alice", "secret.txt")} {
		if resp, data, _ := al.get(p); resp.Status == protocol.StatusReadyToSend || len(data) != 0 {
			t.Errorf("al got %q: %d", p, resp.Status)
		}
	}
	if resp := al.do(protocol.Request{Action: "ls", Path: "../alice"}); resp.Status != protocol.StatusPermission || len(resp.Entries) != 0 {
		t.Errorf("al listed alice's home: %+v", resp)
	}
	body := []byte("planted")
	if resp := al.put("../alice/planted.txt", body, md5hex(body)); resp.Status == protocol.StatusMD5OK {
		t.Errorf("al wrote into alice's home")
	}
	if _, err := os.Stat(filepath.Join(ts.Home("alice"), "planted.txt")); !os.IsNotExist(err) {
		t.Errorf("planted.txt exists in alice's home")
	}
}

func TestHeaderOverLimitAndGarbageDoNotHurtOthers(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	good := login(t, ts, "alex", "pw-alex")

	big := dialRaw(t, ts.Addr)
	big.sendBytes(lengthPrefix(protocol.MaxRequestHeader + 1))
	if resp := big.read(); resp.Status != protocol.StatusHeaderTooLarge {
		t.Fatalf("header over the limit: %d, want 271", resp.Status)
	}
	if !big.closedByServer() {
		t.Fatal("connection with an oversized header left open")
	}

	garbage := dialRaw(t, ts.Addr)
	garbage.sendBytes([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	if resp := garbage.read(); resp.Status != protocol.StatusHeaderTooLarge {
		t.Fatalf("HTTP request: %d, want 271", resp.Status)
	}

	bad := dialRaw(t, ts.Addr)
	for _, junk := range []string{`not json`, `[1,2,3]`, `{"action":"ls","Action":"put"}`, `{"action":7}`} {
		bad.sendBytes(append(lengthPrefix(uint32(len(junk))), junk...))
		if resp := bad.read(); resp.Status != protocol.StatusBadFormat {
			t.Fatalf("%s: %d, want 250", junk, resp.Status)
		}
	}
	bad.sendBytes(lengthPrefix(0))
	if resp := bad.read(); resp.Status != protocol.StatusBadFormat {
		t.Fatalf("empty frame: %d, want 250", resp.Status)
	}

	body := []byte("still fine")
	if resp := good.put("ok.txt", body, md5hex(body)); resp.Status != protocol.StatusMD5OK {
		t.Fatalf("neighbour's put: %d %s", resp.Status, resp.Msg)
	}
}

func TestMaxConnsRefusalFrame(t *testing.T) {
	ts := ftpxtest.NewServer(t, func(s *server.Server) { s.MaxConns = 2 })
	a, b := dialRaw(t, ts.Addr), dialRaw(t, ts.Addr)
	c := dialRaw(t, ts.Addr)
	if c.hi.Status != protocol.StatusTooManyConns || !c.closedByServer() {
		t.Fatalf("third connection: %+v", c.hi)
	}
	if a.hi.Status != protocol.StatusReady || b.hi.Status != protocol.StatusReady {
		t.Fatal("first two connections not greeted")
	}
	a.do(protocol.Request{Action: "quit"})
	a.closedByServer()
	var d *raw
	for range 50 { // the server counts a down once the session has ended
		if d = dialRaw(t, ts.Addr); d.hi.Status == protocol.StatusReady {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d.hi.Status != protocol.StatusReady {
		t.Fatalf("after one left: %d", d.hi.Status)
	}
}

func TestIdleTimeout(t *testing.T) {
	ts := ftpxtest.NewServer(t, func(s *server.Server) { s.IdleTimeout = 200 * time.Millisecond })
	rc := dialRaw(t, ts.Addr)
	rc.sendBytes([]byte{0, 0}) // half a length prefix, then silence
	if resp := rc.read(); resp.Status != protocol.StatusTimeout {
		t.Fatalf("idle: %d, want 275", resp.Status)
	}
	if !rc.closedByServer() {
		t.Fatal("idle connection left open")
	}
}

func TestShutdownLetsTransferFinish(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	idle := login(t, ts, "alex", "pw-alex")
	busy := login(t, ts, "alex", "pw-alex")
	body := randomBytes(t, 1<<20)
	if resp := busy.do(protocol.Request{Action: "put", Filename: "late.bin", SizeField: protocol.Int64(int64(len(body)))}); resp.Status != protocol.StatusReadyToSend {
		t.Fatal(resp.Msg)
	}
	busy.sendBytes(body[:1000])
	done := make(chan error)
	go func() { done <- ts.Shutdown(t.Context()) }()
	if resp := idle.read(); resp.Status != protocol.StatusShuttingDown {
		t.Fatalf("idle session told %d, want 276", resp.Status)
	}
	busy.sendBytes(body[1000:])
	busy.send(protocol.Request{MD5: md5hex(body)})
	if resp := busy.read(); resp.Status != protocol.StatusMD5OK {
		t.Fatalf("put during shutdown: %d %s", resp.Status, resp.Msg)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(ts.Home("alex"), "late.bin")); len(b) != len(body) {
		t.Fatalf("late.bin: %d bytes", len(b))
	}
}

func TestQuitAnswersGoodbye(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	rc := dialRaw(t, ts.Addr)
	if resp := rc.do(protocol.Request{Action: "quit", ID: "q"}); resp.Status != protocol.StatusGoodbye || resp.ID != "q" {
		t.Fatalf("quit: %+v", resp)
	}
	if !rc.closedByServer() {
		t.Fatal("still open after quit")
	}
}

func TestPipelinedRequestsAnsweredInOrder(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	rc := login(t, ts, "alex", "pw-alex")
	ids := []string{"1", "2", "3", "4"}
	for _, id := range ids {
		rc.send(protocol.Request{ID: id, Action: "pwd"})
	}
	for _, id := range ids {
		if resp := rc.read(); resp.ID != id {
			t.Fatalf("answer id %q, want %q", resp.ID, id)
		}
	}
}

func TestBruteForceBansAddress(t *testing.T) {
	ts := ftpxtest.NewServer(t, func(s *server.Server) {
		s.MaxLoginFailures, s.LoginDelay, s.LoginBanTime = 5, time.Millisecond, time.Hour
	})
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	rc := dialRaw(t, ts.Addr)
	for i := range 5 {
		if resp := rc.do(protocol.Request{Action: "auth", Username: "alex", Password: "guess"}); resp.Status != protocol.StatusWrongLogin {
			t.Fatalf("guess %d: %d", i, resp.Status)
		}
	}
	if resp := rc.do(protocol.Request{Action: "auth", Username: "alex", Password: "pw-alex"}); resp.Status != protocol.StatusBanned {
		t.Fatalf("right password from a banned address: %d, want 282", resp.Status)
	}
	if !strings.Contains(ts.Log(), "address_banned=true") {
		t.Fatalf("ban not logged:\n%s", ts.Log())
	}
}

func TestMaxConnsPerIP(t *testing.T) {
	ts := ftpxtest.NewServer(t, func(s *server.Server) { s.MaxConnsPerIP = 3 })
	for range 3 {
		if c := dialRaw(t, ts.Addr); c.hi.Status != protocol.StatusReady {
			t.Fatalf("greeting %d", c.hi.Status)
		}
	}
	if c := dialRaw(t, ts.Addr); c.hi.Status != protocol.StatusTooManyConns || !strings.Contains(c.hi.Msg, "127.0.0.1") {
		t.Fatalf("fourth connection from one address: %+v", c.hi)
	}
}
