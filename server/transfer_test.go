package server_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/home"
	"ftpx/protocol"
)

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestPutGetRoundTripSizes(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	rc := login(t, ts, "alex", "pw-alex")
	for _, n := range []int{0, 1, 64<<10 - 1, 5<<20 + 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			body := randomBytes(t, n)
			name := fmt.Sprintf("f%d.bin", n)
			resp := rc.put(name, body, md5hex(body))
			if resp.Status != protocol.StatusMD5OK || resp.MD5 != md5hex(body) {
				t.Fatalf("put: %d %s md5=%s", resp.Status, resp.Msg, resp.MD5)
			}
			onDisk, err := os.ReadFile(filepath.Join(ts.Home("alex"), name))
			if err != nil || !bytes.Equal(onDisk, body) {
				t.Fatalf("on disk: %d bytes, err %v; want %d bytes equal", len(onDisk), err, n)
			}
			got, data, sum := rc.get(name)
			if got.Status != protocol.StatusReadyToSend || *got.Size != int64(n) {
				t.Fatalf("get: %+v", got)
			}
			if !bytes.Equal(data, body) || sum != md5hex(body) {
				t.Fatalf("get: %d bytes md5 %s; want %d bytes md5 %s", len(data), sum, n, md5hex(body))
			}
		})
	}
}

func TestPutWithMD5InHeaderAndFileSizeKey(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	rc := login(t, ts, "alex", "pw-alex")
	body := []byte("hello, original design\n")
	resp := rc.do(protocol.Request{Action: "put", Filename: "a.txt", FileSizeField: protocol.Int64(int64(len(body))), MD5: md5hex(body)})
	if resp.Status != protocol.StatusReadyToSend {
		t.Fatalf("put: %d %s", resp.Status, resp.Msg)
	}
	rc.sendBytes(body) // no trailer: the header carried the md5
	if resp := rc.read(); resp.Status != protocol.StatusMD5OK {
		t.Fatalf("put: %d %s", resp.Status, resp.Msg)
	}
}

func TestPutIntoSubdirectory(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	rc := login(t, ts, "alex", "pw-alex")
	body := []byte("deep")
	if resp := rc.put("a/b/c.txt", body, md5hex(body)); resp.Status != protocol.StatusNotExist {
		t.Fatalf("put into a missing directory: %d %s, want 256", resp.Status, resp.Msg)
	}
	if resp := rc.do(protocol.Request{Action: "mkdir", Filename: "a/b", Parents: true}); resp.Status != protocol.StatusOK {
		t.Fatalf("mkdir -p: %d %s", resp.Status, resp.Msg)
	}
	if resp := rc.put("a/b/c.txt", body, md5hex(body)); resp.Status != protocol.StatusMD5OK {
		t.Fatalf("put: %d %s", resp.Status, resp.Msg)
	}
	if b, _ := os.ReadFile(filepath.Join(ts.Home("alex"), "a", "b", "c.txt")); string(b) != "deep" {
		t.Fatalf("on disk: %q", b)
	}
	if resp := rc.put("a", body, md5hex(body)); resp.Status != protocol.StatusIsDir {
		t.Fatalf("put onto a directory: %d %s, want 268", resp.Status, resp.Msg)
	}
}

func TestPutMD5MismatchLeavesNothingUnderName(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	rc := login(t, ts, "alex", "pw-alex")
	old := []byte("the old, good content")
	if resp := rc.put("keep.txt", old, md5hex(old)); resp.Status != protocol.StatusMD5OK {
		t.Fatalf("first put: %d", resp.Status)
	}
	body := randomBytes(t, 100_000)
	lie := md5hex([]byte("something else"))
	for _, name := range []string{"new.txt", "keep.txt"} {
		if resp := rc.put(name, body, lie); resp.Status != protocol.StatusMD5Mismatch {
			t.Fatalf("lying put of %s: %d %s, want 265", name, resp.Status, resp.Msg)
		}
	}
	if _, err := os.Stat(filepath.Join(ts.Home("alex"), "new.txt")); !os.IsNotExist(err) {
		t.Fatalf("new.txt exists after a mismatch: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(ts.Home("alex"), "keep.txt")); !bytes.Equal(b, old) {
		t.Fatalf("keep.txt changed after a mismatch: %q", b)
	}
	assertNoPartials(t, ts.Home("alex"))
	// The connection is still in sync.
	if resp := rc.do(protocol.Request{Action: "pwd"}); resp.Status != protocol.StatusOK || resp.Path != "/" {
		t.Fatalf("pwd after mismatch: %+v", resp)
	}
}

func assertNoPartials(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(dir, home.PartialDir))
	if len(ents) != 0 {
		t.Fatalf("%d partial files left behind", len(ents))
	}
}

func TestPutOverQuotaRefusedBeforeBody(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", 1000)
	rc := login(t, ts, "alex", "pw-alex")
	small := randomBytes(t, 600)
	if resp := rc.put("a.bin", small, md5hex(small)); resp.Status != protocol.StatusMD5OK {
		t.Fatalf("put within quota: %d %s", resp.Status, resp.Msg)
	}
	resp := rc.do(protocol.Request{Action: "put", Filename: "b.bin", SizeField: protocol.Int64(401)})
	if resp.Status != protocol.StatusQuota {
		t.Fatalf("put over quota: %d %s, want 264", resp.Status, resp.Msg)
	}
	// Nothing more is read for a refused put: the next frame is a request.
	if resp := rc.do(protocol.Request{Action: "pwd"}); resp.Status != protocol.StatusOK {
		t.Fatalf("pwd after refusal: %d %s", resp.Status, resp.Msg)
	}
	if _, err := os.Stat(filepath.Join(ts.Home("alex"), "b.bin")); !os.IsNotExist(err) {
		t.Fatalf("b.bin exists: %v", err)
	}
	assertNoPartials(t, ts.Home("alex"))
	ok := randomBytes(t, 400)
	if resp := rc.put("c.bin", ok, md5hex(ok)); resp.Status != protocol.StatusMD5OK {
		t.Fatalf("put filling the quota exactly: %d %s", resp.Status, resp.Msg)
	}
}

func TestConcurrentPutsNeverExceedQuota(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	const quota = 100_000
	ts.AddUser(t, "alex", "pw-alex", quota)
	body := randomBytes(t, 9_000)
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored := 0
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc := login(t, ts, "alex", "pw-alex")
			if resp := rc.put(fmt.Sprintf("f%02d", i), body, md5hex(body)); resp.Status == protocol.StatusMD5OK {
				mu.Lock()
				stored++
				mu.Unlock()
			} else if resp.Status != protocol.StatusQuota {
				t.Errorf("put f%02d: %d %s", i, resp.Status, resp.Msg)
			}
		}()
	}
	wg.Wait()
	if stored != quota/len(body) {
		t.Fatalf("%d puts of %d bytes stored under a quota of %d, want %d", stored, len(body), quota, quota/len(body))
	}
	var onDisk int64
	filepath.Walk(ts.Home("alex"), func(_ string, fi os.FileInfo, _ error) error {
		if fi != nil && fi.Mode().IsRegular() {
			onDisk += fi.Size()
		}
		return nil
	})
	if onDisk != int64(stored*len(body)) || onDisk > quota {
		t.Fatalf("%d bytes on disk, want %d (quota %d)", onDisk, stored*len(body), quota)
	}
}

func TestGetRefusals(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	rc := login(t, ts, "alex", "pw-alex")
	rc.do(protocol.Request{Action: "mkdir", Filename: "d"})
	for _, tc := range []struct {
		name string
		want protocol.Status
	}{
		{"", protocol.StatusNoFilename},
		{"missing.txt", protocol.StatusNotExist},
		{"d", protocol.StatusIsDir},
		{"../x", protocol.StatusPermission},
		{"a\x00b", protocol.StatusBadPath},
	} {
		if resp, _, _ := rc.get(tc.name); resp.Status != tc.want {
			t.Errorf("get %q: %d %s, want %d", tc.name, resp.Status, resp.Msg, tc.want)
		}
	}
}

func TestConcurrentClients(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc := login(t, ts, "alex", "pw-alex")
			body := randomBytes(t, 200_000+i)
			name := fmt.Sprintf("c%02d.bin", i)
			if resp := rc.put(name, body, md5hex(body)); resp.Status != protocol.StatusMD5OK {
				t.Errorf("put %s: %d %s", name, resp.Status, resp.Msg)
				return
			}
			if _, data, sum := rc.get(name); !bytes.Equal(data, body) || sum != md5hex(body) {
				t.Errorf("get %s: %d bytes, md5 %s", name, len(data), sum)
			}
		}()
	}
	wg.Wait()
}

func TestGetAnnouncesKnownMD5(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	rc := login(t, ts, "alex", "pw-alex")
	body := randomBytes(t, 20<<20+1) // more than one sendfile chunk
	rc.put("f.bin", body, md5hex(body))
	resp, data, sum := rc.get("f.bin")
	if resp.MD5 != md5hex(body) || !bytes.Equal(data, body) || sum != md5hex(body) {
		t.Fatalf("get after put: 257 md5 %q, %d bytes", resp.MD5, len(data))
	}
	// Changed behind the server's back: the digest is computed again.
	other := randomBytes(t, 1000)
	os.WriteFile(filepath.Join(ts.Home("alex"), "f.bin"), other, 0o644)
	resp, data, sum = rc.get("f.bin")
	if resp.MD5 != "" || !bytes.Equal(data, other) || sum != md5hex(other) {
		t.Fatalf("get of a changed file: 257 md5 %q, trailer %s", resp.MD5, sum)
	}
	if resp, _, _ := rc.get("f.bin"); resp.MD5 != md5hex(other) {
		t.Fatalf("the digest of a whole get is not remembered: %q", resp.MD5)
	}
}
