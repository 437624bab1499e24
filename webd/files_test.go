package webd_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"mime"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/client"
	"ftpx/client/shell"
	"ftpx/ftpxtest"
	"ftpx/protocol"
)

var fixtureTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// fixture fills alex's home: a.txt, page.html, sub/b.bin, sub/deeper/,
// empty/, full/x.txt; every mtime fixtureTime.
func fixture(t *testing.T, ts *ftpxtest.Server) map[string][]byte {
	t.Helper()
	files := map[string][]byte{
		"a.txt":        []byte("hello a\n"),
		"page.html":    []byte("<html><script>alert(1)</script></html>"),
		"sub/b.bin":    randomBytes(100_000),
		"full/x.txt":   []byte("x"),
		"Ünï cøde.txt": []byte("unicode"),
	}
	dir := ts.Home(alex)
	for _, d := range []string{"sub/deeper", "empty", "full"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"a.txt", "page.html", "sub/b.bin", "full/x.txt", "Ünï cøde.txt", "sub/deeper", "sub", "empty", "full"} {
		os.Chtimes(filepath.Join(dir, p), fixtureTime, fixtureTime)
	}
	return files
}

// nativeLsJSON is what ftpx ls --json prints for p.
func nativeLsJSON(t *testing.T, ts *ftpxtest.Server, p string) []byte {
	t.Helper()
	ctx := context.Background()
	c, err := client.Dial(ctx, ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(ctx, alex, alexPW); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := shell.List(ctx, c, &out, p, shell.ListOptions{JSON: true}); err != nil {
		t.Fatalf("ftpx ls --json %s: %v", p, err)
	}
	return out.Bytes()
}

func TestLsIsTheJSONOfFtpxLs(t *testing.T) {
	w := newWeb(t)
	fixture(t, w.ts)
	a := w.basic(alex, alexPW)
	for _, c := range []struct {
		url, native string
		names       []string
	}{
		{"/api/v1/ls", "/", []string{"a.txt", "empty", "full", "page.html", "sub", "Ünï cøde.txt"}},
		{"/api/v1/ls/", "/", nil},
		{"/api/v1/ls/sub", "/sub", []string{"b.bin", "deeper"}},
		{"/api/v1/ls/sub/", "/sub", nil},
		{"/api/v1/ls/empty", "/empty", []string{}},
		{"/api/v1/ls/sub/b.bin", "/sub/b.bin", []string{"b.bin"}},
		{"/api/v1/ls/" + "%C3%9Cn%C3%AF%20c%C3%B8de.txt", "/Ünï cøde.txt", []string{"Ünï cøde.txt"}},
	} {
		resp, body := a.do("GET", c.url, nil, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s %s", c.url, resp.StatusCode, resp.Header.Get("Content-Type"), body)
			continue
		}
		if want := nativeLsJSON(t, w.ts, c.native); !bytes.Equal(body, want) {
			t.Errorf("%s:\n web    %s\n ftpx ls --json %s", c.url, body, want)
		}
		var entries []protocol.Entry
		mustJSON(t, body, &entries)
		if c.names != nil {
			got := []string{}
			for _, e := range entries {
				got = append(got, e.Name)
			}
			if len(got) != len(c.names) {
				t.Errorf("%s: names %q, want %q", c.url, got, c.names)
				continue
			}
			for i := range got {
				if got[i] != c.names[i] {
					t.Errorf("%s: names %q, want %q", c.url, got, c.names)
				}
			}
		}
		for _, e := range entries {
			if !e.MTime.Equal(fixtureTime) {
				t.Errorf("%s: %s mtime %v", c.url, e.Name, e.MTime)
			}
			if e.Name == "b.bin" && (e.Size != 100_000 || e.IsDir) || e.Name == "deeper" && !e.IsDir {
				t.Errorf("%s: entry %+v", c.url, e)
			}
		}
	}
	resp, body := a.do("GET", "/api/v1/ls/missing", nil, nil)
	wantErr(t, "ls missing", resp, body, 404, protocol.StatusNotExist)
	resp, body = a.do("GET", "/api/v1/ls/a.txt/x", nil, nil)
	if resp.StatusCode != 404 && resp.StatusCode != 409 {
		t.Errorf("ls under a file: %d %s", resp.StatusCode, body)
	}
}

func TestMkdirRenameDelete(t *testing.T) {
	w := newWeb(t)
	fixture(t, w.ts)
	dir := w.ts.Home(alex)
	a := w.login(alex, alexPW)
	isDir := func(p string) bool { fi, err := os.Stat(filepath.Join(dir, p)); return err == nil && fi.IsDir() }
	exists := func(p string) bool { _, err := os.Lstat(filepath.Join(dir, p)); return err == nil }

	for _, c := range []struct {
		method, path string
		code         int
		st           protocol.Status
		json         string // the body of a success
	}{
		{"POST", "/api/v1/mkdir/new", 201, 0, `{"path":"/new"}`},
		{"POST", "/api/v1/mkdir/new", 409, protocol.StatusExists, ""},
		{"POST", "/api/v1/mkdir/a.txt", 409, protocol.StatusExists, ""},
		{"POST", "/api/v1/mkdir/", 409, protocol.StatusExists, ""},
		{"POST", "/api/v1/mkdir/nope/new", 404, protocol.StatusNotExist, ""},
		{"POST", "/api/v1/mkdir/new/n%20two", 201, 0, `{"path":"/new/n two"}`},
		{"POST", "/api/v1/mkdir/p1/p2?parents=1", 201, 0, `{"path":"/p1/p2"}`},
		{"POST", "/api/v1/rename/a.txt?to=/new/a2.txt", 200, 0, `{"path":"/new/a2.txt"}`},
		{"POST", "/api/v1/rename/new/a2.txt?to=" + "%2Fnew%2Fa%203%3F.txt", 200, 0, `{"path":"/new/a 3?.txt"}`},
		{"POST", "/api/v1/rename/sub/b.bin", 400, protocol.StatusBadFormat, ""},
		{"POST", "/api/v1/rename/sub/b.bin?to=", 400, protocol.StatusBadFormat, ""},
		{"POST", "/api/v1/rename/missing?to=x", 404, protocol.StatusNotExist, ""},
		{"POST", "/api/v1/rename/sub?to=sub/deeper/sub", 403, protocol.StatusPermission, ""},
		{"DELETE", "/api/v1/files/page.html", 204, 0, ""},
		{"DELETE", "/api/v1/files/page.html", 404, protocol.StatusNotExist, ""},
		{"DELETE", "/api/v1/files/empty", 204, 0, ""},
		{"DELETE", "/api/v1/files/full", 409, protocol.StatusNotEmpty, ""},
		{"DELETE", "/api/v1/files/full?recursive=0", 409, protocol.StatusNotEmpty, ""},
		{"DELETE", "/api/v1/files/full?recursive=1", 204, 0, ""},
		{"DELETE", "/api/v1/files/", 403, protocol.StatusPermission, ""},
	} {
		resp, body := a.do(c.method, c.path, nil, nil)
		what := c.method + " " + c.path
		if c.st != 0 {
			wantErr(t, what, resp, body, c.code, c.st)
			continue
		}
		if resp.StatusCode != c.code || c.json != "" && string(bytes.TrimSpace(body)) != c.json {
			t.Errorf("%s: %d %s, want %d %s", what, resp.StatusCode, body, c.code, c.json)
		}
	}
	for p, want := range map[string]bool{"new": true, "new/n two": true, "p1/p2": true, "new/a 3?.txt": true, "sub/b.bin": true,
		"a.txt": false, "page.html": false, "empty": false, "full": false} {
		if exists(p) != want {
			t.Errorf("%s exists: %v, want %v", p, !want, want)
		}
	}
	if !isDir("new/n two") {
		t.Error("mkdir made no directory")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "new/a 3?.txt")); string(b) != "hello a\n" {
		t.Errorf("renamed file holds %q", b)
	}
}

func TestQuotaJSON(t *testing.T) {
	w := newWeb(t)
	w.ts.AddUser(t, "carol", "pw-carol", 1_000_000)
	os.MkdirAll(w.ts.Home("carol"), 0o755)
	os.WriteFile(filepath.Join(w.ts.Home("carol"), "f"), make([]byte, 1234), 0o644)
	for _, c := range []struct {
		user, pw string
		want     string
	}{
		{alex, alexPW, `{"used":0,"quota":-1,"free":-1}`},
		{"carol", "pw-carol", `{"used":1234,"quota":1000000,"free":998766}`},
	} {
		resp, body := w.basic(c.user, c.pw).do("GET", "/api/v1/quota", nil, nil)
		if resp.StatusCode != 200 || string(bytes.TrimSpace(body)) != c.want {
			t.Errorf("quota of %s: %d %s, want %s", c.user, resp.StatusCode, body, c.want)
		}
		// The native protocol says the same (ftpx quota --json).
		ctx := context.Background()
		nc, err := client.Dial(ctx, w.ts.Addr)
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.Auth(ctx, c.user, c.pw); err != nil {
			t.Fatal(err)
		}
		used, limit, err := nc.Quota(ctx)
		nc.Close()
		var q struct{ Used, Quota int64 }
		mustJSON(t, body, &q)
		if err != nil || used != q.Used || limit != q.Quota {
			t.Errorf("quota of %s: native %d %d (%v), web %s", c.user, used, limit, err, body)
		}
	}
}

func TestDownloadHeaders(t *testing.T) {
	w := newWeb(t)
	files := fixture(t, w.ts)
	a := w.login(alex, alexPW)
	for _, name := range []string{"sub/b.bin", "page.html", "a.txt"} {
		data := files[name]
		resp, body := a.do("GET", "/api/v1/files/"+name, nil, nil)
		sum := md5.Sum(data)
		base := filepath.Base(name)
		for k, want := range map[string]string{
			"Content-Type":           "application/octet-stream",
			"Content-Disposition":    `attachment; filename="` + base + `"; filename*=UTF-8''` + base,
			"X-Content-Type-Options": "nosniff",
			"Content-Length":         strconv.Itoa(len(data)),
			"Last-Modified":          fixtureTime.Format(http.TimeFormat),
			"Etag":                   `"` + md5hex(data) + `"`,
			"Content-Md5":            base64.StdEncoding.EncodeToString(sum[:]),
			"Accept-Ranges":          "bytes",
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("GET %s: %s %q, want %q", name, k, got, want)
			}
		}
		if csp := resp.Header.Get("Content-Security-Policy"); csp == "" || !bytes.Contains([]byte(csp), []byte("default-src 'none'")) {
			t.Errorf("GET %s: CSP %q", name, csp)
		}
		if resp.StatusCode != 200 || md5hex(body) != md5hex(data) {
			t.Errorf("GET %s: %d, %d bytes md5 %s, want %s", name, resp.StatusCode, len(body), md5hex(body), md5hex(data))
		}
		// HEAD: the same headers, no body.
		hresp, hbody := a.do("HEAD", "/api/v1/files/"+name, nil, nil)
		if hresp.StatusCode != 200 || len(hbody) != 0 || hresp.Header.Get("Etag") != resp.Header.Get("Etag") || hresp.Header.Get("Content-Length") != strconv.Itoa(len(data)) {
			t.Errorf("HEAD %s: %d %v", name, hresp.StatusCode, hresp.Header)
		}
		// A conditional GET with the ETag: 304.
		cresp, _ := a.do("GET", "/api/v1/files/"+name, nil, http.Header{"If-None-Match": {resp.Header.Get("Etag")}})
		if cresp.StatusCode != 304 {
			t.Errorf("GET %s If-None-Match: %d, want 304", name, cresp.StatusCode)
		}
	}
	// A Unicode name: an ASCII fallback and the UTF-8 name.
	resp, body := a.do("GET", "/api/v1/files/%C3%9Cn%C3%AF%20c%C3%B8de.txt", nil, nil)
	if cd := resp.Header.Get("Content-Disposition"); resp.StatusCode != 200 || string(body) != "unicode" ||
		cd != `attachment; filename="_n_ c_de.txt"; filename*=UTF-8''%C3%9Cn%C3%AF%20c%C3%B8de.txt` {
		t.Errorf("GET a Unicode name: %d %q, Content-Disposition %q", resp.StatusCode, body, cd)
	}

	// Range: a middle slice.
	data := files["sub/b.bin"]
	resp, body = a.do("GET", "/api/v1/files/sub/b.bin", nil, http.Header{"Range": {"bytes=1000-41999"}})
	if resp.StatusCode != 206 || !bytes.Equal(body, data[1000:42000]) || resp.Header.Get("Content-Range") != "bytes 1000-41999/100000" ||
		resp.Header.Get("Content-Length") != "41000" || resp.Header.Get("Content-Md5") != "" {
		t.Errorf("Range: %d, %d bytes, %v", resp.StatusCode, len(body), resp.Header)
	}
	resp, body = a.do("GET", "/api/v1/files/sub/b.bin", nil, http.Header{"Range": {"bytes=99990-"}})
	if resp.StatusCode != 206 || !bytes.Equal(body, data[99990:]) {
		t.Errorf("open Range: %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, _ = a.do("GET", "/api/v1/files/sub/b.bin", nil, http.Header{"Range": {"bytes=200000-"}})
	if resp.StatusCode != 416 {
		t.Errorf("Range past the end: %d, want 416", resp.StatusCode)
	}

	resp, body = a.do("GET", "/api/v1/files/missing.bin", nil, nil)
	wantErr(t, "GET missing", resp, body, 404, protocol.StatusNotExist)
	for _, d := range []string{"sub", "sub/", ""} {
		resp, body = a.do("GET", "/api/v1/files/"+d, nil, nil)
		wantErr(t, "GET the directory "+d, resp, body, 409, protocol.StatusIsDir)
	}
}

// TestCurlResumesACutDownload: curl -C - continues a download whose first
// part is in the output file, with a Range request.
func TestCurlResumesACutDownload(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl")
	}
	w := newWeb(t)
	data := randomBytes(3<<20 + 17)
	os.MkdirAll(w.ts.Home(alex), 0o755)
	os.WriteFile(filepath.Join(w.ts.Home(alex), "big.bin"), data, 0o644)
	out := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(out, data[:1<<20+5], 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(curl, "-sS", "-f", "-u", alex+":"+alexPW, "-C", "-", "-o", out, "-D", "-", w.base+"/api/v1/files/big.bin")
	head, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl -C -: %v\n%s", err, head)
	}
	got, _ := os.ReadFile(out)
	if md5hex(got) != md5hex(data) {
		t.Fatalf("resumed download: %d bytes md5 %s, want %d %s", len(got), md5hex(got), len(data), md5hex(data))
	}
	if !bytes.Contains(head, []byte("206 Partial Content")) || !bytes.Contains(head, []byte("Content-Range: bytes 1048581-")) {
		t.Fatalf("curl's answer head:\n%s", head)
	}
}

// TestDownloadNameSurvivesContentDisposition: the name a browser saves
// a file under is the file's, whatever characters it holds.
func TestDownloadNameSurvivesContentDisposition(t *testing.T) {
	w := newWeb(t)
	a := w.basic(alex, alexPW)
	os.MkdirAll(w.ts.Home(alex), 0o755)
	for _, name := range []string{
		"plain.txt", "a;b.txt", "x;filename*=UTF-8''evil.html", "it's (1).txt", "a,b=c&d+e!.bin",
		"Ünï cøde.txt", "日本語.pdf", "per%cent.txt", `quo"te.txt`, "star*.txt", "tab	less~.txt",
	} {
		if strings.ContainsAny(name, "\t") {
			continue
		}
		if err := os.WriteFile(filepath.Join(w.ts.Home(alex), name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
		resp, body := a.do("GET", "/api/v1/files/"+url.PathEscape(name), nil, nil)
		if resp.StatusCode != 200 || string(body) != name {
			t.Errorf("GET %q: %d %q", name, resp.StatusCode, body)
			continue
		}
		cd := resp.Header.Get("Content-Disposition")
		disp, params, err := mime.ParseMediaType(cd)
		if err != nil || disp != "attachment" || params["filename"] != name {
			t.Errorf("%q: Content-Disposition %q parses as %q %q (%v)", name, cd, disp, params, err)
		}
	}
}

// TestPermissionsAre403: a read-only user lists and downloads, and every
// change is 403 with nothing changed.
func TestPermissionsAre403(t *testing.T) {
	w := newWeb(t)
	w.ts.AddUserWith(t, "reader", "pw-reader", accounts.Unlimited, "perms = read")
	dir := w.ts.Home("reader")
	os.MkdirAll(filepath.Join(dir, "d"), 0o755)
	os.WriteFile(filepath.Join(dir, "f.txt"), []byte("read me"), 0o644)
	before := snapshot(t, dir)
	a := w.login("reader", "pw-reader")
	if resp, body := a.do("GET", "/api/v1/files/f.txt", nil, nil); resp.StatusCode != 200 || string(body) != "read me" {
		t.Fatalf("get: %d %q", resp.StatusCode, body)
	}
	if resp, _ := a.do("GET", "/api/v1/ls/", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("ls: %d", resp.StatusCode)
	}
	for _, c := range []struct{ method, path string }{
		{"POST", "/api/v1/mkdir/new"},
		{"POST", "/api/v1/rename/f.txt?to=g.txt"},
		{"DELETE", "/api/v1/files/f.txt"},
		{"DELETE", "/api/v1/files/d"},
		{"DELETE", "/api/v1/files/d?recursive=1"},
	} {
		resp, body := a.do(c.method, c.path, nil, nil)
		wantErr(t, "reader: "+c.method+" "+c.path, resp, body, 403, protocol.StatusPermission)
	}
	resp, body := a.do("POST", "/api/v1/uploads/", []byte("x"), tusHeader("Upload-Length", "1",
		"Upload-Metadata", metadata("/x", md5hex([]byte("x")), 0), "Content-Type", "application/offset+octet-stream"))
	wantErr(t, "reader: upload", resp, body, 403, protocol.StatusPermission)
	if after := snapshot(t, dir); after != before {
		t.Errorf("a read-only user changed the home:\n%s\nwas\n%s", after, before)
	}
}

// TestEveryAnswerCarriesCSP: the page, API answers, errors and refusals
// all carry the Content-Security-Policy and nosniff.
func TestEveryAnswerCarriesCSP(t *testing.T) {
	w := newWeb(t)
	const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	anon, a := w.client(), w.basic(alex, alexPW)
	for _, c := range []struct {
		ag           *agent
		method, path string
		hdr          http.Header
		code         int
	}{
		{anon, "GET", "/", nil, 200},
		{anon, "GET", "/api/v1/session", nil, 401},
		{anon, "OPTIONS", "/api/v1/uploads/", nil, 204},
		{anon, "GET", "/static/nothing.js", nil, 404},
		{a, "GET", "/api/v1/ls/", nil, 200},
		{a, "GET", "/api/v1/files/missing", nil, 404},
		{a, "GET", "/api/v1/nope", nil, 400},
		{a, "POST", "/api/v1/mkdir/x", http.Header{"Origin": {"http://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}, 403},
		{a, "POST", "/api/v1/uploads/", nil, 412},
	} {
		resp, body := c.ag.do(c.method, c.path, nil, c.hdr)
		if resp.StatusCode != c.code {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, resp.StatusCode, body, c.code)
		}
		if resp.Header.Get("Content-Security-Policy") != csp || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %s: CSP %q, X-Content-Type-Options %q", c.method, c.path, resp.Header.Get("Content-Security-Policy"), resp.Header.Get("X-Content-Type-Options"))
		}
	}
}
