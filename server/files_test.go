package server_test

import (
	"os"
	"path/filepath"
	"testing"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/protocol"
)

func TestRmFreesQuota(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", 100_000)
	rc := login(t, ts, "alex", "pw-alex")
	body := randomBytes(t, 70_000)
	if resp := rc.put("a.bin", body, md5hex(body)); resp.Status != protocol.StatusMD5OK {
		t.Fatal(resp.Msg)
	}
	if resp := rc.put("b.bin", body, md5hex(body)); resp.Status != protocol.StatusQuota {
		t.Fatalf("second put: %d, want 264", resp.Status)
	}
	if q := rc.do(protocol.Request{Action: "quota"}); q.Status != protocol.StatusOK || *q.Used != 70_000 || *q.Quota != 100_000 {
		t.Fatalf("quota: %+v", q)
	}
	if resp := rc.do(protocol.Request{Action: "rm", Filename: "a.bin"}); resp.Status != protocol.StatusOK {
		t.Fatalf("rm: %d %s", resp.Status, resp.Msg)
	}
	if q := rc.do(protocol.Request{Action: "quota"}); *q.Used != 0 {
		t.Fatalf("used after rm: %d", *q.Used)
	}
	if resp := rc.put("b.bin", body, md5hex(body)); resp.Status != protocol.StatusMD5OK {
		t.Fatalf("put into freed space: %d %s", resp.Status, resp.Msg)
	}
}

func TestRmTree(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	rc := login(t, ts, "alex", "pw-alex")
	rc.do(protocol.Request{Action: "mkdir", Filename: "d/e", Parents: true})
	body := randomBytes(t, 1000)
	rc.put("d/e/f.bin", body, md5hex(body))
	rc.put("keep.bin", body, md5hex(body))
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "precious"), []byte("x"), 0o644)
	os.Symlink(outside, filepath.Join(ts.Home("alex"), "d", "link-out"))
	os.Symlink("../keep.bin", filepath.Join(ts.Home("alex"), "d", "link-in"))

	if resp := rc.do(protocol.Request{Action: "rm", Filename: "d"}); resp.Status != protocol.StatusNotEmpty {
		t.Fatalf("rm of a full directory: %d, want 281", resp.Status)
	}
	if resp := rc.do(protocol.Request{Action: "rm", Filename: "d", Recursive: true}); resp.Status != protocol.StatusOK {
		t.Fatalf("rm -r: %d %s", resp.Status, resp.Msg)
	}
	if _, err := os.Stat(filepath.Join(outside, "precious")); err != nil {
		t.Fatal("rm -r followed a symlink out of the home")
	}
	if _, err := os.Stat(filepath.Join(ts.Home("alex"), "keep.bin")); err != nil {
		t.Fatal("rm -r followed a symlink inside the home")
	}
	if q := rc.do(protocol.Request{Action: "quota"}); *q.Used != 1000 {
		t.Fatalf("used after rm -r: %d, want 1000", *q.Used)
	}
	for _, p := range []string{"/", "..", "../alex", "../other"} {
		if resp := rc.do(protocol.Request{Action: "rm", Filename: p, Recursive: true}); resp.Status != protocol.StatusPermission {
			t.Errorf("rm -r %q: %d, want 263", p, resp.Status)
		}
	}
	if resp := rc.do(protocol.Request{Action: "rm", Filename: "missing"}); resp.Status != protocol.StatusNotExist {
		t.Errorf("rm of a missing file: %d", resp.Status)
	}
}

func TestMv(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	rc := login(t, ts, "alex", "pw-alex")
	a, b := randomBytes(t, 300), randomBytes(t, 500)
	rc.put("a", a, md5hex(a))
	rc.put("b", b, md5hex(b))
	rc.do(protocol.Request{Action: "mkdir", Filename: "dir"})
	for _, tc := range []struct {
		from, to string
		want     protocol.Status
	}{
		{"a", "b", protocol.StatusOK}, // replaces b
		{"b", "dir", protocol.StatusIsDir},
		{"dir", "dir/sub", protocol.StatusPermission},
		{"missing", "x", protocol.StatusNotExist},
		{"b", "../../etc/x", protocol.StatusPermission},
		{"b", "", protocol.StatusNoFilename},
		{"b", "dir/c", protocol.StatusOK},
	} {
		if resp := rc.do(protocol.Request{Action: "mv", Filename: tc.from, To: tc.to}); resp.Status != tc.want {
			t.Errorf("mv %s %s: %d %s, want %d", tc.from, tc.to, resp.Status, resp.Msg, tc.want)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(ts.Home("alex"), "dir", "c")); string(got) != string(a) {
		t.Fatal("dir/c is not the old a")
	}
	if q := rc.do(protocol.Request{Action: "quota"}); *q.Used != 300 || *q.Quota != -1 {
		t.Fatalf("quota after replacing mv: used %d quota %d", *q.Used, *q.Quota)
	}
}

func TestStatChecksum(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	rc := login(t, ts, "alex", "pw-alex")
	body := randomBytes(t, 70_000)
	rc.put("f", body, md5hex(body))
	resp := rc.do(protocol.Request{Action: "stat", Filename: "f", Checksum: true})
	if resp.Status != protocol.StatusOK || resp.MD5 != md5hex(body) || resp.Stat.Size != 70_000 || resp.Stat.Name != "f" {
		t.Fatalf("stat: %+v", resp)
	}
	if resp := rc.do(protocol.Request{Action: "stat", Filename: "f"}); resp.MD5 != "" {
		t.Fatal("md5 without asking")
	}
}
