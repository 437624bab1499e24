package server_test

import (
	"crypto/md5"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/protocol"
	"ftpx/server"
)

// treeSum describes every file under dir (paths, sizes and content), to
// show that a refused action changed nothing.
func treeSum(t *testing.T, dir string) string {
	t.Helper()
	h := md5.New()
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		io.WriteString(h, rel+"\x00"+e.Type().String()+"\x00")
		if e.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			h.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))
}

func TestSharedFolderReadForOneReadWriteForOther(t *testing.T) {
	team := t.TempDir()
	os.WriteFile(filepath.Join(team, "doc.txt"), []byte("team doc\n"), 0o644)
	ts := ftpxtest.NewServer(t)
	ts.AddUserWith(t, "alice", "pw-alice", accounts.Unlimited, "folder.shared = "+team+" read")
	ts.AddUserWith(t, "bob", "pw-bob", accounts.Unlimited, "folder.shared = "+team+" read,write")
	alice, bob := login(t, ts, "alice", "pw-alice"), login(t, ts, "bob", "pw-bob")

	for _, rc := range []*raw{alice, bob} {
		ls := rc.do(protocol.Request{Action: "ls", Path: "/"})
		if ls.Status != protocol.StatusOK || len(ls.Entries) != 1 || ls.Entries[0].Name != "shared" || !ls.Entries[0].IsDir {
			t.Fatalf("ls /: %d %+v, want the folder", ls.Status, ls.Entries)
		}
		if resp, body, _ := rc.get("/shared/doc.txt"); resp.Status != protocol.StatusReadyToSend || string(body) != "team doc\n" {
			t.Fatalf("get /shared/doc.txt: %d %q", resp.Status, body)
		}
		if st := rc.do(protocol.Request{Action: "stat", Filename: "shared/doc.txt"}); st.Status != protocol.StatusOK {
			t.Fatalf("stat: %d", st.Status)
		}
	}

	body := []byte("new content\n")
	refused := func(who string, rc *raw, what string, resp protocol.Response) {
		t.Helper()
		if resp.Status != protocol.StatusPermission {
			t.Errorf("%s: %s: %d %s, want 263", who, what, resp.Status, resp.Msg)
		}
	}
	before := treeSum(t, team)
	refused("alice", alice, "put", alice.put("/shared/new.txt", body, md5hex(body)))
	refused("alice", alice, "put over", alice.put("/shared/doc.txt", body, md5hex(body)))
	refused("alice", alice, "mkdir", alice.do(protocol.Request{Action: "mkdir", Filename: "/shared/d"}))
	refused("alice", alice, "mkdir -p", alice.do(protocol.Request{Action: "mkdir", Filename: "/shared/d/e", Parents: true}))
	refused("alice", alice, "rm", alice.do(protocol.Request{Action: "rm", Filename: "/shared/doc.txt"}))
	refused("alice", alice, "mv", alice.do(protocol.Request{Action: "mv", Filename: "/shared/doc.txt", To: "/shared/x.txt"}))
	refused("bob", bob, "put over", bob.put("/shared/doc.txt", body, md5hex(body)))
	refused("bob", bob, "rm", bob.do(protocol.Request{Action: "rm", Filename: "/shared/doc.txt"}))
	refused("bob", bob, "rm -r", bob.do(protocol.Request{Action: "rm", Filename: "/shared", Recursive: true}))
	refused("bob", bob, "mv", bob.do(protocol.Request{Action: "mv", Filename: "/shared/doc.txt", To: "/shared/x.txt"}))
	if after := treeSum(t, team); after != before {
		t.Fatal("a refused action changed the folder")
	}

	if resp := bob.put("/shared/new.txt", body, md5hex(body)); resp.Status != protocol.StatusMD5OK {
		t.Fatalf("bob: put: %d %s", resp.Status, resp.Msg)
	}
	if resp := bob.do(protocol.Request{Action: "mkdir", Filename: "/shared/d"}); resp.Status != protocol.StatusOK {
		t.Fatalf("bob: mkdir: %d %s", resp.Status, resp.Msg)
	}
	if b, _ := os.ReadFile(filepath.Join(team, "new.txt")); string(b) != string(body) {
		t.Fatalf("the folder's new.txt: %q", b)
	}
	if resp, got, _ := alice.get("/shared/new.txt"); resp.Status != protocol.StatusReadyToSend || string(got) != string(body) {
		t.Fatalf("alice gets bob's file: %d %q", resp.Status, got)
	}
	if _, err := os.Stat(filepath.Join(ts.Home("bob"), "new.txt")); err == nil {
		t.Fatal("bob's put landed in his home")
	}
}

func TestCrossFolderMoveRefusedWithItsCode(t *testing.T) {
	team := t.TempDir()
	ts := ftpxtest.NewServer(t)
	ts.AddUserWith(t, "carol", "pw-carol", accounts.Unlimited, "folder.team = "+team+" read,write,modify")
	rc := login(t, ts, "carol", "pw-carol")
	body := []byte("x")
	rc.put("/team/a.txt", body, md5hex(body))
	rc.put("/b.txt", body, md5hex(body))
	for _, mv := range [][2]string{{"/team/a.txt", "/a.txt"}, {"/b.txt", "/team/b.txt"}} {
		if resp := rc.do(protocol.Request{Action: "mv", Filename: mv[0], To: mv[1]}); resp.Status != protocol.StatusCrossFolder {
			t.Errorf("mv %s %s: %d %s, want 284", mv[0], mv[1], resp.Status, resp.Msg)
		}
	}
	if resp := rc.do(protocol.Request{Action: "mv", Filename: "/team/a.txt", To: "/team/c.txt"}); resp.Status != protocol.StatusOK {
		t.Errorf("mv inside the folder: %d %s", resp.Status, resp.Msg)
	}
	if resp := rc.do(protocol.Request{Action: "rm", Filename: "/team/c.txt"}); resp.Status != protocol.StatusOK {
		t.Errorf("rm inside the folder: %d %s", resp.Status, resp.Msg)
	}
	for _, p := range []string{"/team", "team/"} {
		if resp := rc.do(protocol.Request{Action: "rm", Filename: p, Recursive: true}); resp.Status != protocol.StatusPermission {
			t.Errorf("rm -r %s (the mount point): %d, want 263", p, resp.Status)
		}
	}
	if resp := rc.do(protocol.Request{Action: "cd", Path: "/team"}); resp.Status != protocol.StatusDirChanged || resp.Path != "/team" {
		t.Errorf("cd /team: %d %q", resp.Status, resp.Path)
	}
	if resp := rc.do(protocol.Request{Action: "cd", Path: ".."}); resp.Status != protocol.StatusDirChanged || resp.Path != "/" {
		t.Errorf("cd .. from the folder: %d %q", resp.Status, resp.Path)
	}
}

func TestFolderQuotaAndHomeQuotaCountedApart(t *testing.T) {
	box := t.TempDir()
	ts := ftpxtest.NewServer(t)
	ts.AddUserWith(t, "dave", "pw-dave", 100_000, "folder.box = "+box+" read,write,modify quota=50000B")
	ts.AddUserWith(t, "erin", "pw-erin", accounts.Unlimited, "folder.box = "+box+" read,write quota=50000B")
	dave, erin := login(t, ts, "dave", "pw-dave"), login(t, ts, "erin", "pw-erin")
	b40 := randomBytes(t, 40_000)
	if resp := dave.put("/box/a.bin", b40, md5hex(b40)); resp.Status != protocol.StatusMD5OK {
		t.Fatalf("40 KB into the folder: %d %s", resp.Status, resp.Msg)
	}
	if q := dave.do(protocol.Request{Action: "quota"}); *q.Used != 0 || *q.Quota != 100_000 {
		t.Errorf("home quota: %d of %d, want 0 of 100000", *q.Used, *q.Quota)
	}
	if q := dave.do(protocol.Request{Action: "quota", Path: "/box"}); *q.Used != 40_000 || *q.Quota != 50_000 {
		t.Errorf("folder quota: %d of %d, want 40000 of 50000", *q.Used, *q.Quota)
	}
	b20 := b40[:20_000]
	if resp := erin.put("/box/b.bin", b20, md5hex(b20)); resp.Status != protocol.StatusQuota {
		t.Errorf("another user's 20 KB into the folder's last 10 KB: %d, want 264", resp.Status)
	}
	b90 := randomBytes(t, 90_000)
	if resp := dave.put("/c.bin", b90, md5hex(b90)); resp.Status != protocol.StatusMD5OK {
		t.Errorf("90 KB into the 100 KB home, the folder full: %d %s", resp.Status, resp.Msg)
	}
	if resp := dave.put("/d.bin", b20, md5hex(b20)); resp.Status != protocol.StatusQuota {
		t.Errorf("past the home quota: %d, want 264", resp.Status)
	}
}

func TestHomePermsReadOnly(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUserWith(t, "ro", "pw-ro", accounts.Unlimited, "perms = read")
	os.MkdirAll(ts.Home("ro"), 0o700)
	os.WriteFile(filepath.Join(ts.Home("ro"), "f.txt"), []byte("f"), 0o644)
	rc := login(t, ts, "ro", "pw-ro")
	before := treeSum(t, ts.Home("ro"))
	body := []byte("x")
	for what, resp := range map[string]protocol.Response{
		"put":        rc.put("g.txt", body, md5hex(body)),
		"mkdir":      rc.do(protocol.Request{Action: "mkdir", Filename: "d"}),
		"rm":         rc.do(protocol.Request{Action: "rm", Filename: "f.txt"}),
		"mv":         rc.do(protocol.Request{Action: "mv", Filename: "f.txt", To: "h.txt"}),
		"breakpoint": rc.do(protocol.Request{Action: "breakpoint", Filename: "g.txt", Transfer: "3f2504e0-4f89-41d3-9a0c-0305e82c3301"}),
	} {
		if resp.Status != protocol.StatusPermission {
			t.Errorf("%s: %d %s, want 263", what, resp.Status, resp.Msg)
		}
	}
	if resp, got, _ := rc.get("f.txt"); resp.Status != protocol.StatusReadyToSend || string(got) != "f" {
		t.Errorf("get: %d", resp.Status)
	}
	if treeSum(t, ts.Home("ro")) != before {
		t.Error("a refused action changed the home")
	}
}

func TestAnonymousListsAndGetsOnly(t *testing.T) {
	pub := t.TempDir()
	os.WriteFile(filepath.Join(pub, "readme.txt"), []byte("public\n"), 0o644)
	os.Mkdir(filepath.Join(pub, "sub"), 0o755)
	ts := ftpxtest.NewServer(t, func(s *server.Server) { s.AnonymousRoot = pub })
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	rc := login(t, ts, "anonymous", "whatever@example.com")
	if ls := rc.do(protocol.Request{Action: "ls"}); ls.Status != protocol.StatusOK || len(ls.Entries) != 2 {
		t.Fatalf("ls: %d %+v", ls.Status, ls.Entries)
	}
	if resp, got, _ := rc.get("readme.txt"); resp.Status != protocol.StatusReadyToSend || string(got) != "public\n" {
		t.Fatalf("get: %d %q", resp.Status, got)
	}
	before := treeSum(t, pub)
	body := []byte("x")
	for what, resp := range map[string]protocol.Response{
		"put":       rc.put("new.txt", body, md5hex(body)),
		"put over":  rc.put("readme.txt", body, md5hex(body)),
		"mkdir":     rc.do(protocol.Request{Action: "mkdir", Filename: "d"}),
		"mkdir -p":  rc.do(protocol.Request{Action: "mkdir", Filename: "sub", Parents: true}),
		"rm":        rc.do(protocol.Request{Action: "rm", Filename: "readme.txt"}),
		"rm -r":     rc.do(protocol.Request{Action: "rm", Filename: "sub", Recursive: true}),
		"mv":        rc.do(protocol.Request{Action: "mv", Filename: "readme.txt", To: "x.txt"}),
		"outside":   rc.do(protocol.Request{Action: "ls", Path: "../alex"}),
		"breakpont": rc.do(protocol.Request{Action: "breakpoint", Filename: "new.txt", Transfer: "3f2504e0-4f89-41d3-9a0c-0305e82c3301"}),
	} {
		if resp.Status != protocol.StatusPermission {
			t.Errorf("anonymous %s: %d %s, want 263", what, resp.Status, resp.Msg)
		}
	}
	if treeSum(t, pub) != before {
		t.Fatal("anonymous changed its root")
	}
	if ents, _ := os.ReadDir(ts.Root); slices.ContainsFunc(ents, func(e fs.DirEntry) bool { return e.Name() == "anonymous" }) {
		t.Error("anonymous got a home under the root")
	}
	// The password does not matter, but must not be missing a username.
	if resp := dialRaw(t, ts.Addr).do(protocol.Request{Action: "auth", Username: "anonymous"}); resp.Status != protocol.StatusLoggedIn {
		t.Errorf("anonymous without a password: %d", resp.Status)
	}
}

func TestAnonymousRefusedWhenOffAndOverItsLimit(t *testing.T) {
	off := ftpxtest.NewServer(t)
	if resp := dialRaw(t, off.Addr).do(protocol.Request{Action: "auth", Username: "anonymous", Password: "x"}); resp.Status != protocol.StatusWrongLogin {
		t.Errorf("anonymous with anonymous access off: %d, want 253", resp.Status)
	}
	pub := t.TempDir()
	ts := ftpxtest.NewServer(t, func(s *server.Server) { s.AnonymousRoot, s.AnonymousMaxConns = pub, 1 })
	first := login(t, ts, "anonymous", "x")
	if resp := dialRaw(t, ts.Addr).do(protocol.Request{Action: "auth", Username: "anonymous", Password: "x"}); resp.Status != protocol.StatusTooManySessions {
		t.Errorf("a second anonymous session over a limit of 1: %d, want 285", resp.Status)
	}
	first.do(protocol.Request{Action: "quit"})
	waitFor(t, func() bool {
		return dialRaw(t, ts.Addr).do(protocol.Request{Action: "auth", Username: "anonymous", Password: "x"}).Status == protocol.StatusLoggedIn
	})
}

func TestUserSessionLimit(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUserWith(t, "sam", "pw-sam", accounts.Unlimited, "max_sessions = 2")
	a, _ := login(t, ts, "sam", "pw-sam"), login(t, ts, "sam", "pw-sam")
	third := dialRaw(t, ts.Addr)
	resp := third.do(protocol.Request{Action: "auth", Username: "sam", Password: "pw-sam"})
	if resp.Status != protocol.StatusTooManySessions {
		t.Fatalf("a third session with max_sessions = 2: %d %s, want 285", resp.Status, resp.Msg)
	}
	if ls := third.do(protocol.Request{Action: "ls"}); ls.Status != protocol.StatusNotLoggedIn {
		t.Errorf("after the refusal the session is not logged in: %d", ls.Status)
	}
	a.do(protocol.Request{Action: "quit"})
	waitFor(t, func() bool {
		return third.do(protocol.Request{Action: "auth", Username: "sam", Password: "pw-sam"}).Status == protocol.StatusLoggedIn
	})
}

func TestWelcomeInGreetingGoodbyeInQuit(t *testing.T) {
	ts := ftpxtest.NewServer(t, func(s *server.Server) { s.Welcome, s.Goodbye = "Welcome to the team server", "See you" })
	rc := dialRaw(t, ts.Addr)
	if rc.hi.Welcome != "Welcome to the team server" {
		t.Errorf("greeting: %+v", rc.hi)
	}
	if resp := rc.do(protocol.Request{Action: "quit"}); resp.Status != protocol.StatusGoodbye || resp.Goodbye != "See you" {
		t.Errorf("quit: %+v", resp)
	}
	ts.SetLive(server.Live{Welcome: "changed", Goodbye: "bye"})
	if rc := dialRaw(t, ts.Addr); rc.hi.Welcome != "changed" {
		t.Errorf("greeting after SetLive: %q", rc.hi.Welcome)
	}
}

// waitFor retries ok for a few seconds: a session the client left is
// counted until the server has seen it go.
func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for range 100 {
		if ok() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("condition not met in 5 s")
}
