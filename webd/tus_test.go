package webd_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/protocol"
	"ftpx/webd"
)

// partials lists what alex's home holds of unfinished uploads (data
// files and resume points).
func partials(t *testing.T, w *web, user string) []string {
	t.Helper()
	var out []string
	filepath.Walk(w.ts.Home(user), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && strings.Contains(p, ".ftpx-partial") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestTusOptionsAndVersion(t *testing.T) {
	w := newWeb(t)
	resp, _ := w.client().do("OPTIONS", "/api/v1/uploads/", nil, nil)
	if resp.StatusCode != 204 && resp.StatusCode != 200 {
		t.Fatalf("OPTIONS: %d", resp.StatusCode)
	}
	for k, want := range map[string]string{"Tus-Version": "1.0.0", "Tus-Resumable": "1.0.0", "Tus-Extension": "creation,creation-with-upload,termination"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("OPTIONS: %s %q, want %q", k, got, want)
		}
	}
	a := w.basic(alex, alexPW)
	data := []byte("x")
	for _, c := range []struct{ method, path string }{
		{"POST", "/api/v1/uploads/"},
		{"HEAD", "/api/v1/uploads/0b0f2c4e-6a59-4a8f-9d8e-1f2a3b4c5d6e"},
		{"PATCH", "/api/v1/uploads/0b0f2c4e-6a59-4a8f-9d8e-1f2a3b4c5d6e"},
		{"DELETE", "/api/v1/uploads/0b0f2c4e-6a59-4a8f-9d8e-1f2a3b4c5d6e"},
	} {
		for _, v := range []string{"", "0.2.2", "1.0"} {
			h := http.Header{"Upload-Length": {"1"}, "Upload-Metadata": {metadata("/x", md5hex(data), 0)}}
			if v != "" {
				h.Set("Tus-Resumable", v)
			}
			resp, body := a.do(c.method, c.path, nil, h)
			wantErr(t, c.method+" Tus-Resumable "+v, resp, body, 412, 0)
			if resp.Header.Get("Tus-Version") != "1.0.0" {
				t.Errorf("412 without Tus-Version")
			}
		}
	}
	if _, err := os.Stat(filepath.Join(w.ts.Home(alex), "x")); err == nil {
		t.Error("a request refused with 412 stored a file")
	}
}

func TestTusCreateErrors(t *testing.T) {
	w := newWeb(t)
	w.ts.AddUserWith(t, "reader", "pw-reader", accounts.Unlimited, "perms = read")
	a := w.basic(alex, alexPW)
	sum := md5hex([]byte("abcd"))
	for _, c := range []struct {
		name     string
		length   string
		meta     string
		code     int
		st       protocol.Status
		user, pw string
	}{
		{"no metadata", "4", "", 400, 0, "", ""},
		{"no path", "4", "md5 " + b64(sum), 400, 0, "", ""},
		{"empty path", "4", "path ,md5 " + b64(sum), 400, 0, "", ""},
		{"no md5", "4", "path " + b64("/a"), 400, 0, "", ""},
		{"short md5", "4", "path " + b64("/a") + ",md5 " + b64(sum[:31]), 400, 0, "", ""},
		{"md5 not hex", "4", "path " + b64("/a") + ",md5 " + b64(strings.Repeat("z", 32)), 400, 0, "", ""},
		{"path not base64", "4", "path /a!,md5 " + b64(sum), 400, 0, "", ""},
		{"md5 not base64", "4", "path " + b64("/a") + ",md5 " + sum + "!", 400, 0, "", ""},
		{"repeated key", "4", "path " + b64("/a") + ",path " + b64("/b") + ",md5 " + b64(sum), 400, 0, "", ""},
		{"bad mtime", "4", metadata("/a", sum, 0) + ",mtime " + b64("yesterday"), 400, 0, "", ""},
		{"negative mtime", "4", metadata("/a", sum, 0) + ",mtime " + b64("-5"), 400, 0, "", ""},
		{"no length", "", metadata("/a", sum, 0), 400, 0, "", ""},
		{"negative length", "-1", metadata("/a", sum, 0), 400, 0, "", ""},
		{"length not a number", "4x", metadata("/a", sum, 0), 400, 0, "", ""},
		{"parent missing", "4", metadata("/no/a", sum, 0), 404, protocol.StatusNotExist, "", ""},
		{"a directory's name", "4", metadata("/", sum, 0), 0, 0, "", ""},
		{"partial dir", "4", metadata("/.ftpx-partial/x", sum, 0), 403, protocol.StatusPermission, "", ""},
		{"read-only user", "4", metadata("/a", sum, 0), 403, protocol.StatusPermission, "reader", "pw-reader"},
	} {
		ag := a
		if c.user != "" {
			ag = w.basic(c.user, c.pw)
		}
		h := tusHeader("Upload-Metadata", c.meta)
		if c.length != "" {
			h.Set("Upload-Length", c.length)
		}
		resp, body := ag.do("POST", "/api/v1/uploads/", nil, h)
		if c.code == 0 {
			if resp.StatusCode < 400 || resp.StatusCode >= 500 {
				t.Errorf("%s: %d %s, want a 4xx", c.name, resp.StatusCode, body)
			}
			continue
		}
		wantErr(t, c.name, resp, body, c.code, c.st)
		if loc := resp.Header.Get("Location"); loc != "" {
			t.Errorf("%s: refused with a Location %q", c.name, loc)
		}
	}
	if p := partials(t, w, alex); len(p) != 0 {
		t.Errorf("refused creations left partials: %v", p)
	}
	entries, _ := os.ReadDir(w.ts.Home(alex))
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			t.Errorf("refused creations stored %s", e.Name())
		}
	}
}

func TestTusUploadInChunks(t *testing.T) {
	w := newWeb(t)
	a := w.login(alex, alexPW)
	os.MkdirAll(filepath.Join(w.ts.Home(alex), "docs"), 0o755)
	data := randomBytes(1<<20 + 333)
	mtime := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	loc := a.create("/docs/up.bin", data, mtime.Unix())

	resp := a.head(loc)
	if resp.StatusCode != 200 || resp.Header.Get("Upload-Offset") != "0" || resp.Header.Get("Upload-Length") != strconv.Itoa(len(data)) ||
		resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Tus-Resumable") != "1.0.0" {
		t.Fatalf("HEAD after creation: %d %v", resp.StatusCode, resp.Header)
	}
	cuts := []int{0, 300_000, 700_001, len(data)}
	for i := 0; i < 3; i++ {
		if i == 1 {
			// A wrong offset: 409 with the server's.
			resp, body := a.patch(loc, int64(cuts[i])+5, data[cuts[i]+5:cuts[i+1]])
			wantErr(t, "PATCH at a wrong offset", resp, body, 409, protocol.StatusBadOffset)
			if offsetOf(t, resp) != int64(cuts[i]) {
				t.Errorf("409 says Upload-Offset %s, want %d", resp.Header.Get("Upload-Offset"), cuts[i])
			}
			// The wrong Content-Type: 415.
			resp, body = a.do("PATCH", loc, data[cuts[i]:cuts[i+1]], tusHeader("Content-Type", "application/octet-stream", "Upload-Offset", strconv.Itoa(cuts[i])))
			wantErr(t, "PATCH with the wrong Content-Type", resp, body, 415, 0)
			// No Upload-Offset: 400.
			resp, body = a.do("PATCH", loc, data[cuts[i]:cuts[i+1]], tusHeader("Content-Type", "application/offset+octet-stream"))
			wantErr(t, "PATCH without Upload-Offset", resp, body, 400, 0)
		}
		resp, body := a.patch(loc, int64(cuts[i]), data[cuts[i]:cuts[i+1]])
		if resp.StatusCode != 204 || offsetOf(t, resp) != int64(cuts[i+1]) {
			t.Fatalf("PATCH %d: %d %s, Upload-Offset %s, want %d", i, resp.StatusCode, body, resp.Header.Get("Upload-Offset"), cuts[i+1])
		}
		if i < 2 {
			if h := a.head(loc); offsetOf(t, h) != int64(cuts[i+1]) {
				t.Fatalf("HEAD after PATCH %d: %s", i, h.Header.Get("Upload-Offset"))
			}
			if _, err := os.Stat(filepath.Join(w.ts.Home(alex), "docs", "up.bin")); err == nil {
				t.Fatal("the file is placed before its last byte")
			}
		}
	}
	got, err := os.ReadFile(filepath.Join(w.ts.Home(alex), "docs", "up.bin"))
	if err != nil || md5hex(got) != md5hex(data) {
		t.Fatalf("placed file: %d bytes md5 %s, want %s (%v)", len(got), md5hex(got), md5hex(data), err)
	}
	if fi, _ := os.Stat(filepath.Join(w.ts.Home(alex), "docs", "up.bin")); !fi.ModTime().Equal(mtime) {
		t.Errorf("mtime %v, want %v", fi.ModTime(), mtime)
	}
	if resp := a.head(loc); resp.StatusCode != 404 {
		t.Errorf("HEAD of a finished upload: %d, want 404", resp.StatusCode)
	}
	if p := partials(t, w, alex); len(p) != 0 {
		t.Errorf("a finished upload left partials: %v", p)
	}
	// The download says the same MD5.
	resp, body := a.do("GET", "/api/v1/files/docs/up.bin", nil, nil)
	if resp.StatusCode != 200 || md5hex(body) != md5hex(data) || resp.Header.Get("Etag") != `"`+md5hex(data)+`"` {
		t.Errorf("download of the upload: %d %s", resp.StatusCode, resp.Header.Get("Etag"))
	}
}

func TestTusWrongMD5StoresNothing(t *testing.T) {
	w := newWeb(t)
	a := w.basic(alex, alexPW)
	os.MkdirAll(w.ts.Home(alex), 0o755)
	old := []byte("the old content")
	os.WriteFile(filepath.Join(w.ts.Home(alex), "keep.bin"), old, 0o644)
	for _, name := range []string{"/new.bin", "/keep.bin"} {
		data := randomBytes(200_000)
		resp, body := a.do("POST", "/api/v1/uploads/", nil, tusHeader("Upload-Length", strconv.Itoa(len(data)),
			"Upload-Metadata", metadata(name, md5hex([]byte("something else")), 0)))
		if resp.StatusCode != 201 {
			t.Fatalf("create: %d %s", resp.StatusCode, body)
		}
		loc := resp.Header.Get("Location")
		if resp, body := a.patch(loc, 0, data[:100_000]); resp.StatusCode != 204 {
			t.Fatalf("first PATCH: %d %s", resp.StatusCode, body)
		}
		resp, body = a.patch(loc, 100_000, data[100_000:])
		wantErr(t, "PATCH of the last byte, wrong MD5", resp, body, 460, protocol.StatusMD5Mismatch)
		if !strings.Contains(string(body), "nothing was stored") {
			t.Errorf("460 body %s", body)
		}
		if resp := a.head(loc); resp.StatusCode != 404 {
			t.Errorf("HEAD after a 460: %d, want 404", resp.StatusCode)
		}
	}
	if _, err := os.Stat(filepath.Join(w.ts.Home(alex), "new.bin")); err == nil {
		t.Error("an upload with the wrong MD5 is stored")
	}
	if b, _ := os.ReadFile(filepath.Join(w.ts.Home(alex), "keep.bin")); !bytes.Equal(b, old) {
		t.Errorf("an upload with the wrong MD5 replaced a file: %q", b)
	}
	if p := partials(t, w, alex); len(p) != 0 {
		t.Errorf("a failed upload left partials: %v", p)
	}
	resp, body := a.do("GET", "/api/v1/quota", nil, nil)
	if want := `{"used":` + strconv.Itoa(len(old)) + `,"quota":-1,"free":-1}`; string(bytes.TrimSpace(body)) != want {
		t.Errorf("quota after failed uploads: %d %s, want %s", resp.StatusCode, body, want)
	}
}

func TestTusBodyPastLengthAndDelete(t *testing.T) {
	w := newWeb(t)
	w.ts.AddUser(t, "carol", "pw-carol", 10<<20)
	a := w.basic("carol", "pw-carol")
	data := randomBytes(300_000)
	loc := a.create("/long.bin", data, 0)
	resp, body := a.patch(loc, 0, append(append([]byte{}, data...), "extra"...))
	wantErr(t, "PATCH past Upload-Length", resp, body, 400, 0)
	if _, err := os.Stat(filepath.Join(w.ts.Home("carol"), "long.bin")); err == nil {
		t.Error("an upload whose body ran past its length is stored")
	}
	if resp := a.head(loc); resp.StatusCode != 404 {
		t.Errorf("HEAD after a body too long: %d", resp.StatusCode)
	}

	// The bytes held count on the quota; DELETE gives them back.
	quota := func() (used, free int64) {
		t.Helper()
		_, body := a.do("GET", "/api/v1/quota", nil, nil)
		var q struct{ Used, Quota, Free int64 }
		mustJSON(t, body, &q)
		return q.Used, q.Free
	}
	loc = a.create("/held.bin", data, 0)
	if resp, body := a.patch(loc, 0, data[:120_000]); resp.StatusCode != 204 || offsetOf(t, resp) != 120_000 {
		t.Fatalf("PATCH: %d %s", resp.StatusCode, body)
	}
	if used, free := quota(); used != 120_000 || free != 10<<20-120_000 {
		t.Errorf("quota while 120000 bytes are held: used %d free %d", used, free)
	}
	resp, body = a.do("DELETE", loc, nil, tusHeader())
	if resp.StatusCode != 204 {
		t.Fatalf("DELETE: %d %s", resp.StatusCode, body)
	}
	if resp := a.head(loc); resp.StatusCode != 404 {
		t.Errorf("HEAD after DELETE: %d", resp.StatusCode)
	}
	resp, body = a.patch(loc, 120_000, data[120_000:])
	wantErr(t, "PATCH after DELETE", resp, body, 404, 0)
	if used, _ := quota(); used != 0 {
		t.Errorf("quota after DELETE: used %d", used)
	}
	if p := partials(t, w, "carol"); len(p) != 0 {
		t.Errorf("DELETE left partials: %v", p)
	}
	resp, body = a.do("DELETE", loc, nil, tusHeader())
	wantErr(t, "DELETE twice", resp, body, 404, 0)
	for _, id := range []string{"not-a-uuid", "0b0f2c4e-6a59-4a8f-9d8e-1f2a3b4c5d6e"} {
		resp, body = a.do("DELETE", "/api/v1/uploads/"+id, nil, tusHeader())
		wantErr(t, "DELETE "+id, resp, body, 404, 0)
		if resp := a.head("/api/v1/uploads/" + id); resp.StatusCode != 404 {
			t.Errorf("HEAD %s: %d", id, resp.StatusCode)
		}
	}

	// Over the quota: refused at creation.
	resp, body = a.do("POST", "/api/v1/uploads/", nil, tusHeader("Upload-Length", strconv.Itoa(10<<20+1),
		"Upload-Metadata", metadata("/big.bin", md5hex(nil), 0)))
	wantErr(t, "creation over the quota", resp, body, 413, protocol.StatusQuota)
	// What a held upload reserves leaves less for the next.
	loc = a.create("/half.bin", make([]byte, 6<<20), 0)
	resp, body = a.do("POST", "/api/v1/uploads/", nil, tusHeader("Upload-Length", strconv.Itoa(6<<20),
		"Upload-Metadata", metadata("/half2.bin", md5hex(nil), 0)))
	if resp.StatusCode == 201 {
		// A suspended upload reserves only what it holds: the second
		// is refused when its bytes would pass the limit.
		t.Logf("a second upload whose size and the first's pass the quota: created (%s)", resp.Header.Get("Location"))
		loc2 := resp.Header.Get("Location")
		big := make([]byte, 6<<20)
		if resp, _ := a.patch(loc, 0, big); resp.StatusCode != 204 {
			t.Fatalf("filling the first upload: %d", resp.StatusCode)
		}
		resp, body = a.patch(loc2, 0, big)
		wantErr(t, "the second upload past the quota", resp, body, 413, protocol.StatusQuota)
	} else {
		wantErr(t, "a second upload past the quota", resp, body, 413, protocol.StatusQuota)
	}
}

func TestTusCreationWithUploadAndEmptyFile(t *testing.T) {
	w := newWeb(t)
	a := w.login(alex, alexPW)
	os.MkdirAll(w.ts.Home(alex), 0o755)
	data := randomBytes(50_000)
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	resp, body := a.do("POST", "/api/v1/uploads/", data, tusHeader("Upload-Length", strconv.Itoa(len(data)),
		"Upload-Metadata", metadata("/whole.bin", md5hex(data), mtime.Unix()), "Content-Type", "application/offset+octet-stream"))
	if resp.StatusCode != 201 || offsetOf(t, resp) != int64(len(data)) || !strings.HasPrefix(resp.Header.Get("Location"), "/api/v1/uploads/") {
		t.Fatalf("creation with the whole body: %d %s %v", resp.StatusCode, body, resp.Header)
	}
	got, _ := os.ReadFile(filepath.Join(w.ts.Home(alex), "whole.bin"))
	if md5hex(got) != md5hex(data) {
		t.Fatal("creation-with-upload: bytes differ")
	}
	if fi, _ := os.Stat(filepath.Join(w.ts.Home(alex), "whole.bin")); !fi.ModTime().Equal(mtime) {
		t.Errorf("mtime %v", fi.ModTime())
	}
	// A part of the body with the creation, the rest by PATCH.
	resp, body = a.do("POST", "/api/v1/uploads/", data[:20_000], tusHeader("Upload-Length", strconv.Itoa(len(data)),
		"Upload-Metadata", metadata("/part.bin", md5hex(data), 0), "Content-Type", "application/offset+octet-stream"))
	if resp.StatusCode != 201 || offsetOf(t, resp) != 20_000 {
		t.Fatalf("creation with part of the body: %d %s %v", resp.StatusCode, body, resp.Header)
	}
	if resp, body := a.patch(resp.Header.Get("Location"), 20_000, data[20_000:]); resp.StatusCode != 204 || offsetOf(t, resp) != int64(len(data)) {
		t.Fatalf("PATCH the rest: %d %s", resp.StatusCode, body)
	}
	if got, _ := os.ReadFile(filepath.Join(w.ts.Home(alex), "part.bin")); md5hex(got) != md5hex(data) {
		t.Fatal("part.bin: bytes differ")
	}
	// An empty file is placed at once.
	resp, body = a.do("POST", "/api/v1/uploads/", nil, tusHeader("Upload-Length", "0",
		"Upload-Metadata", metadata("/empty.txt", md5hex(nil), mtime.Unix())))
	if resp.StatusCode != 201 || resp.Header.Get("Upload-Offset") != "0" {
		t.Fatalf("empty file: %d %s %v", resp.StatusCode, body, resp.Header)
	}
	if fi, err := os.Stat(filepath.Join(w.ts.Home(alex), "empty.txt")); err != nil || fi.Size() != 0 || !fi.ModTime().Equal(mtime) {
		t.Fatalf("empty file: %v %v", fi, err)
	}
	resp, body = a.do("POST", "/api/v1/uploads/", nil, tusHeader("Upload-Length", "0",
		"Upload-Metadata", metadata("/empty2.txt", md5hex([]byte("x")), 0)))
	wantErr(t, "an empty file with the wrong MD5", resp, body, 460, protocol.StatusMD5Mismatch)
	if _, err := os.Stat(filepath.Join(w.ts.Home(alex), "empty2.txt")); err == nil {
		t.Error("an empty file with the wrong MD5 is stored")
	}
}

// TestTusCutPatchResumes: a connection cut mid-PATCH keeps what arrived;
// HEAD says how much and a PATCH from there completes the file.
func TestTusCutPatchResumes(t *testing.T) {
	w := newWeb(t)
	a := w.login(alex, alexPW)
	os.MkdirAll(w.ts.Home(alex), 0o755)
	data := randomBytes(2 << 20)
	loc := a.create("/cut.bin", data, 0)
	head := "PATCH " + loc + " HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\n" +
		"Upload-Offset: 0\r\nContent-Length: " + strconv.Itoa(len(data)) + "\r\nX-CSRF-Token: " + a.csrf + "\r\n"
	u, _ := http.NewRequest("GET", w.base, nil)
	for _, c := range a.hc.Jar.Cookies(u.URL) {
		head += "Cookie: " + c.Name + "=" + c.Value + "\r\n"
	}
	head += "\r\n"
	sent := 1<<20 + 4321
	rawRequest(t, hostOf(w.base), head, data[:sent])
	var held int64
	waitFor(t, "the cut PATCH to end", func() bool {
		r := a.head(loc)
		held = offsetOf(t, r)
		return r.StatusCode == 200 && held == int64(sent)
	})
	resp, body := a.patch(loc, held, data[held:])
	if resp.StatusCode != 204 || offsetOf(t, resp) != int64(len(data)) {
		t.Fatalf("PATCH the rest: %d %s", resp.StatusCode, body)
	}
	if got, _ := os.ReadFile(filepath.Join(w.ts.Home(alex), "cut.bin")); md5hex(got) != md5hex(data) {
		t.Fatal("cut.bin: bytes differ")
	}
}

// TestTusBusyUploadIs423: while a PATCH is still writing, another PATCH
// (and HEAD) of the same upload is told to retry.
func TestTusBusyUploadIs423(t *testing.T) {
	w := newWeb(t)
	a := w.basic(alex, alexPW)
	os.MkdirAll(w.ts.Home(alex), 0o755)
	data := randomBytes(1 << 20)
	loc := a.create("/busy.bin", data, 0)
	// A PATCH whose body comes slowly: half, then the rest when told.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PATCH", w.base+loc, pr)
	req.ContentLength = int64(len(data))
	req.SetBasicAuth(alex, alexPW)
	req.Header = mergeHeader(req.Header, tusHeader("Content-Type", "application/offset+octet-stream", "Upload-Offset", "0"))
	var wg sync.WaitGroup
	var first *http.Response
	var ferr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		first, ferr = http.DefaultClient.Do(req)
		if first != nil {
			first.Body.Close()
		}
	}()
	pw.Write(data[:100_000])
	waitFor(t, "the first PATCH to be running (HEAD 423)", func() bool {
		h := a.head(loc)
		if h.StatusCode == 423 && h.Header.Get("Retry-After") == "" {
			t.Error("HEAD 423 without Retry-After")
		}
		return h.StatusCode == 423
	})
	resp, body := a.patch(loc, 0, data)
	wantErr(t, "a second PATCH while the first runs", resp, body, 423, protocol.StatusTransferBusy)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("423 without Retry-After")
	}
	resp, body = a.do("DELETE", loc, nil, tusHeader())
	wantErr(t, "DELETE while a PATCH runs", resp, body, 423, protocol.StatusTransferBusy)
	pw.Write(data[100_000:])
	pw.Close()
	wg.Wait()
	if ferr != nil || first.StatusCode != 204 {
		t.Fatalf("the first PATCH: %v %v", first, ferr)
	}
	if got, _ := os.ReadFile(filepath.Join(w.ts.Home(alex), "busy.bin")); md5hex(got) != md5hex(data) {
		t.Fatal("busy.bin: bytes differ")
	}
}

// TestTusOtherUsersUploadIsNotFound: bob cannot see, feed or cancel
// alex's upload.
func TestTusOtherUsersUploadIsNotFound(t *testing.T) {
	w := newWeb(t)
	a := w.basic(alex, alexPW)
	b := w.basic(bob, bobPW)
	os.MkdirAll(w.ts.Home(bob), 0o755)
	data := randomBytes(100_000)
	loc := a.create("/mine.bin", data, 0)
	a.patch(loc, 0, data[:1000])
	if resp := b.head(loc); resp.StatusCode != 404 {
		t.Errorf("bob's HEAD of alex's upload: %d", resp.StatusCode)
	}
	resp, body := b.patch(loc, 1000, data[1000:])
	wantErr(t, "bob's PATCH of alex's upload", resp, body, 404, 0)
	resp, body = b.do("DELETE", loc, nil, tusHeader())
	wantErr(t, "bob's DELETE of alex's upload", resp, body, 404, 0)
	if r := a.head(loc); r.StatusCode != 200 || offsetOf(t, r) != 1000 {
		t.Fatalf("alex's upload after bob's tries: %d %s", r.StatusCode, r.Header.Get("Upload-Offset"))
	}
	if resp, _ := a.patch(loc, 1000, data[1000:]); resp.StatusCode != 204 {
		t.Fatalf("alex's PATCH: %d", resp.StatusCode)
	}
	if got, _ := os.ReadFile(filepath.Join(w.ts.Home(alex), "mine.bin")); md5hex(got) != md5hex(data) {
		t.Fatal("mine.bin differs")
	}
	if _, err := os.Stat(filepath.Join(w.ts.Home(bob), "mine.bin")); err == nil {
		t.Fatal("alex's upload landed in bob's home")
	}
}

// TestTusResumesAfterRestart: what a server held is resumed through the
// next one on the same root.
func TestTusResumesAfterRestart(t *testing.T) {
	w := newWeb(t)
	a := w.basic(alex, alexPW)
	os.MkdirAll(w.ts.Home(alex), 0o755)
	data := randomBytes(1<<20 + 7)
	mtime := time.Date(2019, 9, 9, 9, 9, 9, 0, time.UTC)
	loc := a.create("/restart.bin", data, mtime.Unix())
	if resp, _ := a.patch(loc, 0, data[:400_000]); resp.StatusCode != 204 {
		t.Fatal("first PATCH")
	}
	ts2 := w.ts.Restart(t)
	w2 := &web{t: t, ts: ts2, base: ts2.StartHTTP(t)}
	a2 := w2.basic(alex, alexPW)
	r := a2.head(loc)
	if r.StatusCode != 200 || offsetOf(t, r) != 400_000 || r.Header.Get("Upload-Length") != strconv.Itoa(len(data)) {
		t.Fatalf("HEAD after the restart: %d %v", r.StatusCode, r.Header)
	}
	if resp, body := a2.patch(loc, 400_000, data[400_000:]); resp.StatusCode != 204 || offsetOf(t, resp) != int64(len(data)) {
		t.Fatalf("PATCH after the restart: %d %s", resp.StatusCode, body)
	}
	p := filepath.Join(ts2.Home(alex), "restart.bin")
	if got, _ := os.ReadFile(p); md5hex(got) != md5hex(data) {
		t.Fatal("restart.bin differs")
	}
	if fi, _ := os.Stat(p); !fi.ModTime().Equal(mtime) {
		t.Errorf("mtime after the restart: %v, want %v", fi.ModTime(), mtime)
	}
}

// TestTusShutdownKeepsWhatArrived: a PATCH still sending when the server
// shuts down (and its grace period ends) keeps the bytes that arrived,
// resumed through the next server.
func TestTusShutdownKeepsWhatArrived(t *testing.T) {
	w := newWeb(t)
	os.MkdirAll(w.ts.Home(alex), 0o755)
	ws := &webd.Server{Core: w.ts.Server}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ws.Serve(l) }()
	first := &web{t: t, ts: w.ts, base: "http://" + l.Addr().String()}
	a := first.basic(alex, alexPW)
	data := randomBytes(1 << 20)
	loc := a.create("/shut.bin", data, 0)

	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PATCH", first.base+loc, pr)
	req.ContentLength = int64(len(data))
	req.SetBasicAuth(alex, alexPW)
	req.Header = mergeHeader(req.Header, tusHeader("Content-Type", "application/offset+octet-stream", "Upload-Offset", "0"))
	patched := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		patched <- err
	}()
	sent := 300_000
	pw.Write(data[:sent])
	waitFor(t, "the PATCH to be running", func() bool { return w.basic(alex, alexPW).head(loc).StatusCode == 423 })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := ws.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with a PATCH running: %v, want the deadline", err)
	}
	if err := <-done; !errors.Is(err, webd.ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
	pw.CloseWithError(errors.New("the test stops sending"))
	<-patched
	b := w.basic(alex, alexPW) // the test's other front end, on the same core
	var held int64
	waitFor(t, "the cut upload to be held", func() bool {
		r := b.head(loc)
		if r.StatusCode != 200 {
			return false
		}
		held = offsetOf(t, r)
		return true
	})
	if held != int64(sent) {
		t.Fatalf("held %d after the shutdown, want %d", held, sent)
	}
	if resp, body := b.patch(loc, held, data[held:]); resp.StatusCode != 204 {
		t.Fatalf("PATCH the rest: %d %s", resp.StatusCode, body)
	}
	if got, _ := os.ReadFile(filepath.Join(w.ts.Home(alex), "shut.bin")); md5hex(got) != md5hex(data) {
		t.Fatal("shut.bin differs")
	}
}

// TestFoldersThroughTheWeb: a folder mounted read-only is listed and read;
// one mounted with write takes a tus upload in chunks (its partial in the
// folder) with the folder's quota; a rename across mounts is 409.
func TestFoldersThroughTheWeb(t *testing.T) {
	w := newWeb(t)
	team, drop := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(team, "plan.txt"), []byte("the plan"), 0o644)
	w.ts.AddUserWith(t, "carol", "pw-carol", accounts.Unlimited,
		"folder.team = "+team+" read", "folder.drop = "+drop+" read,write,modify quota=1MB")
	os.MkdirAll(w.ts.Home("carol"), 0o755)
	a := w.login("carol", "pw-carol")
	_, body := a.do("GET", "/api/v1/ls/", nil, nil)
	if !strings.Contains(string(body), `"name":"team","size":0,"is_dir":true`) || !strings.Contains(string(body), `"name":"drop"`) {
		t.Fatalf("ls / does not show the folders: %s", body)
	}
	if resp, body := a.do("GET", "/api/v1/files/team/plan.txt", nil, nil); resp.StatusCode != 200 || string(body) != "the plan" {
		t.Fatalf("get from the folder: %d %q", resp.StatusCode, body)
	}
	for _, c := range []struct{ method, path string }{
		{"POST", "/api/v1/mkdir/team/x"}, {"DELETE", "/api/v1/files/team/plan.txt"}, {"POST", "/api/v1/rename/team/plan.txt?to=/team/p2.txt"},
	} {
		resp, body := a.do(c.method, c.path, nil, nil)
		wantErr(t, "read-only folder: "+c.method+" "+c.path, resp, body, 403, protocol.StatusPermission)
	}
	resp, body := a.do("POST", "/api/v1/uploads/", nil, tusHeader("Upload-Length", "1", "Upload-Metadata", metadata("/team/x", md5hex([]byte("x")), 0)))
	wantErr(t, "upload to a read-only folder", resp, body, 403, protocol.StatusPermission)

	data := randomBytes(600_000)
	loc := a.create("/drop/in.bin", data, 0)
	if resp, _ := a.patch(loc, 0, data[:250_000]); resp.StatusCode != 204 {
		t.Fatalf("PATCH into the folder: %d", resp.StatusCode)
	}
	if r := a.head(loc); r.StatusCode != 200 || offsetOf(t, r) != 250_000 {
		t.Fatalf("HEAD of an upload into the folder: %d %s", r.StatusCode, r.Header.Get("Upload-Offset"))
	}
	resp, body = a.do("POST", "/api/v1/uploads/", nil, tusHeader("Upload-Length", strconv.Itoa(800_000), "Upload-Metadata", metadata("/drop/big.bin", md5hex(nil), 0)))
	wantErr(t, "a second upload past the folder's quota", resp, body, 413, protocol.StatusQuota)
	if resp, body := a.patch(loc, 250_000, data[250_000:]); resp.StatusCode != 204 {
		t.Fatalf("PATCH the rest: %d %s", resp.StatusCode, body)
	}
	if got, _ := os.ReadFile(filepath.Join(drop, "in.bin")); md5hex(got) != md5hex(data) {
		t.Fatal("the folder's file differs")
	}
	resp, body = a.do("POST", "/api/v1/rename/drop/in.bin?to=/in.bin", nil, nil)
	wantErr(t, "rename from a folder to the home", resp, body, 409, protocol.StatusCrossFolder)
}
