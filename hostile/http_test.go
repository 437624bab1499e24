package hostile

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The web front end (package webd) under attack: every attack path of the
// corpus through every route that takes a path, raw request lines no
// client library would send, and tus upload ids that are paths.

// webArena is the arena with its web front end started.
type webArena struct {
	*arena
	base   string // http://127.0.0.1:PORT
	client *http.Client
}

func newWebArena(t *testing.T, a *arena) *webArena {
	t.Helper()
	w := &webArena{arena: a, base: a.ts.StartHTTP(t), client: &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	t.Cleanup(w.client.CloseIdleConnections)
	return w
}

// webAnswer is an answer with its body read (and checked by the guard).
type webAnswer struct {
	code   int
	header http.Header
	body   []byte
}

// do sends a request as user (HTTP Basic) and reads the whole answer;
// hdr is pairs of header names and values.
func (w *webArena) do(t testing.TB, method, target, user, pw string, body io.Reader, hdr ...string) webAnswer {
	t.Helper()
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	req.SetBasicAuth(user, pw)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := w.client.Do(req)
	if err != nil {
		t.Fatalf("%s %.200s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	w.g.check(fmt.Sprintf("%s %.100s", method, target), b)
	for k, vs := range resp.Header {
		w.g.check(fmt.Sprintf("%s %.100s header %s", method, target, k), []byte(strings.Join(vs, "\n")))
	}
	return webAnswer{code: resp.StatusCode, header: resp.Header, body: b}
}

// webRoute is one route that takes a path, tried with an attack path p
// (the path's value as the server must see it).
type webRoute struct {
	name string
	run  func(t testing.TB, w *webArena, p string) webAnswer
}

// seg is p as one URL path segment: every byte the server must see,
// slashes and dots included, percent-encoded, so that no dot segment is
// left for net/http's ServeMux to clean (it redirects those) and the
// handler sees p whole.
func seg(p string) string { return strings.ReplaceAll(url.PathEscape(p), ".", "%2E") }

var webRoutes = []webRoute{
	{"ls", func(t testing.TB, w *webArena, p string) webAnswer {
		return w.do(t, "GET", w.base+"/api/v1/ls/"+seg(p), attacker, attackerPW, nil)
	}},
	{"get", func(t testing.TB, w *webArena, p string) webAnswer {
		return w.do(t, "GET", w.base+"/api/v1/files/"+seg(p), attacker, attackerPW, nil)
	}},
	{"tus create", func(t testing.TB, w *webArena, p string) webAnswer {
		meta := "path " + base64.StdEncoding.EncodeToString([]byte(p)) + ",md5 " + base64.StdEncoding.EncodeToString([]byte(md5hex(putBody)))
		return w.do(t, "POST", w.base+"/api/v1/uploads/", attacker, attackerPW, strings.NewReader(string(putBody)),
			"Tus-Resumable", "1.0.0", "Upload-Length", strconv.Itoa(len(putBody)), "Upload-Metadata", meta,
			"Content-Type", "application/offset+octet-stream")
	}},
	{"mkdir", func(t testing.TB, w *webArena, p string) webAnswer {
		return w.do(t, "POST", w.base+"/api/v1/mkdir/"+seg(p), attacker, attackerPW, nil)
	}},
	{"mv from", func(t testing.TB, w *webArena, p string) webAnswer {
		return w.do(t, "POST", w.base+"/api/v1/rename/"+seg(p)+"?to=%2Fmvdst.txt", attacker, attackerPW, nil)
	}},
	{"mv to", func(t testing.TB, w *webArena, p string) webAnswer {
		return w.do(t, "POST", w.base+"/api/v1/rename/mvsrc.txt?to="+url.QueryEscape(p), attacker, attackerPW, nil)
	}},
	{"rm", func(t testing.TB, w *webArena, p string) webAnswer {
		return w.do(t, "DELETE", w.base+"/api/v1/files/"+seg(p), attacker, attackerPW, nil)
	}},
	{"rm -r", func(t testing.TB, w *webArena, p string) webAnswer {
		return w.do(t, "DELETE", w.base+"/api/v1/files/"+seg(p)+"?recursive=1", attacker, attackerPW, nil)
	}},
	{"mkdir -p", func(t testing.TB, w *webArena, p string) webAnswer {
		return w.do(t, "POST", w.base+"/api/v1/mkdir/"+seg(p)+"?parents=1", attacker, attackerPW, nil)
	}},
}

// webWant is the HTTP status a route must answer for a path of kind k,
// or 0 when any answer but 500 will do (as long as nothing leaves the
// home).
func webWant(k kind, route string) int {
	switch k {
	case kOutside, kReserved:
		return http.StatusForbidden
	case kBadPath:
		return http.StatusBadRequest
	case kAbsent:
		if route == "mkdir -p" {
			return http.StatusCreated // made inside the home
		}
		return http.StatusNotFound
	}
	return 0
}

// TestHTTPAttackPaths tries every attack path of the corpus, percent-
// encoded into one segment (so the handler sees it whole), with every
// route that takes a path, on a fresh copy of the home each time: the
// refusal its kind wants, no byte from outside the home in any answer,
// nothing outside changed, and the victim still served.
func TestHTTPAttackPaths(t *testing.T) {
	w := newWebArena(t, newArena(t))
	byKind := map[kind]map[int]int{}
	paths := corpus()
	for _, p := range paths {
		var s string
		if err := json.Unmarshal(p.wire, &s); err != nil {
			t.Fatalf("%s: %v", p.label, err)
		}
		w.reset(t)
		for _, r := range webRoutes {
			a := r.run(t, w, s)
			if byKind[p.kind] == nil {
				byKind[p.kind] = map[int]int{}
			}
			byKind[p.kind][a.code]++
			switch want := webWant(p.kind, r.name); {
			case a.code >= 500:
				t.Errorf("%s %s (%s): %d %s", r.name, p.label, p.kind, a.code, a.body)
			case want != 0 && a.code != want:
				t.Errorf("%s %s (%s): %d %s, want %d", r.name, p.label, p.kind, a.code, a.body, want)
			}
		}
		w.escapes(t, p.label)
		if a := w.do(t, "GET", w.base+"/api/v1/files/secret.txt", victim, victimPW, nil); a.code != 200 || string(a.body) != bobSecret {
			t.Fatalf("the victim's download after %s: %d", p.label, a.code)
		}
		w.g.takeLeaks() // the victim's own secret, read by the victim
	}
	if n := panics(w.ts); n > 0 {
		t.Errorf("%d handler panics in the server log", n)
	}
	t.Logf("%d paths x %d routes; HTTP answers by kind of path: %v", len(paths), len(webRoutes), byKind)
}

// rawRequest sends one request line and headers as written (no client
// library cleaning or encoding them) and reads the answer.
func (w *webArena) rawRequest(t *testing.T, method, target, user, pw string) webAnswer {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(w.base, "http://"), ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(ioTimeout))
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pw))
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", method, target, auth)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	w.g.check(method+" "+target, b)
	w.g.check(method+" "+target+" Location", []byte(resp.Header.Get("Location")))
	return webAnswer{code: resp.StatusCode, header: resp.Header, body: b}
}

// TestHTTPRawURLsStayInTheHome sends request targets as an attacker
// writes them by hand: dot segments plain, percent-encoded, double-
// encoded and overlong, backslashes, NUL, the partial directory; to every
// route. None is served with success, none leaks or changes anything
// outside, none is a server error.
func TestHTTPRawURLsStayInTheHome(t *testing.T) {
	w := newWebArena(t, newArena(t))
	targets := []string{
		"../../outside/secret.txt", "..%2f..%2foutside%2fsecret.txt", "%2e%2e/%2e%2e/outside/secret.txt",
		"%2e%2e%2f%2e%2e%2foutside%2fsecret.txt", "%2E%2E%2F%2E%2E%2Foutside%2Fsecret.txt",
		".%2e/.%2e/outside/secret.txt", "..%2F..%2F..%2F..%2Fetc%2Fpasswd", "../bob/secret.txt",
		"..%2fbob%2fsecret.txt", "%2e%2e%2fbob%2fsecret.txt", "a/../../bob/secret.txt", "a%2f..%2f..%2fbob%2fsecret.txt",
		"..%5c..%5coutside%5csecret.txt", `..\..\outside\secret.txt`, "..%00/secret.txt", "secret.txt%00.jpg",
		"%00", ".ftpx-partial", ".ftpx-partial/" + transferID, "%2eftpx-partial", "a/..%2f.ftpx-partial",
		"a/%2e%2e/.ftpx-partial/" + transferID + ".state", "%2e%2e%2f%2e%2e%2f" + strings.Repeat("%2e%2e%2f", 50) + "etc%2fpasswd",
		"%c0%ae%c0%ae/%c0%ae%c0%ae/outside/secret.txt",
		"//..//..//outside//secret.txt", strings.Repeat("x", 300), strings.Repeat("a%2f", 3000) + "x",
	}
	// Encoded twice: decoded once, a literal name inside the home, which
	// mkdir -p, mkdir and mv may make.
	const twice = "%252e%252e%252f%252e%252e%252foutside%252fsecret.txt"
	targets = append(targets, twice)
	routes := []struct{ method, prefix, suffix string }{
		{"GET", "/api/v1/ls/", ""}, {"GET", "/api/v1/files/", ""}, {"HEAD", "/api/v1/files/", ""},
		{"DELETE", "/api/v1/files/", ""}, {"DELETE", "/api/v1/files/", "?recursive=1"},
		{"POST", "/api/v1/mkdir/", ""}, {"POST", "/api/v1/mkdir/", "?parents=1"},
		{"POST", "/api/v1/rename/", "?to=/mvdst.txt"}, {"POST", "/api/v1/rename/mvsrc.txt?to=", ""},
		{"GET", "/static/", ""}, {"GET", "/", ""},
	}
	codes := map[int]int{}
	for _, tg := range targets {
		w.reset(t)
		for _, r := range routes {
			a := w.rawRequest(t, r.method, r.prefix+tg+r.suffix, attacker, attackerPW)
			codes[a.code]++
			made := r.method == "POST" && (r.suffix == "?parents=1" || tg == twice)
			if a.code >= 500 || a.code < 300 && !made {
				t.Errorf("%s %s%s%s: %d %.200s", r.method, r.prefix, tg, r.suffix, a.code, a.body)
			}
		}
		w.escapes(t, tg)
	}
	if n := panics(w.ts); n > 0 {
		t.Errorf("%d handler panics in the server log", n)
	}
	t.Logf("%d raw targets x %d routes: answers %v", len(targets), len(routes), codes)
}

// TestHTTPTusIDsAreNotPaths: the victim holds a tus upload; the attacker
// asks HEAD, PATCH and DELETE of the victim's id and of ids that are
// paths (dot segments, encoded, towards the victim's partial, the state
// file, NUL, overlong). None is served, nothing outside the attacker's
// home changes, and the victim's upload then completes from where it was.
func TestHTTPTusIDsAreNotPaths(t *testing.T) {
	w := newWebArena(t, newArena(t))
	data := []byte(strings.Repeat("victim's upload ", 10))
	tusHdr := []string{"Tus-Resumable", "1.0.0"}
	meta := "path " + base64.StdEncoding.EncodeToString([]byte("/up.bin")) + ",md5 " + base64.StdEncoding.EncodeToString([]byte(md5hex(data)))
	a := w.do(t, "POST", w.base+"/api/v1/uploads/", victim, victimPW, nil, append(tusHdr, "Upload-Length", strconv.Itoa(len(data)), "Upload-Metadata", meta)...)
	loc := a.header.Get("Location")
	if a.code != 201 || !strings.HasPrefix(loc, "/api/v1/uploads/") {
		t.Fatalf("the victim's tus creation: %d %v %s", a.code, a.header, a.body)
	}
	id := strings.TrimPrefix(loc, "/api/v1/uploads/")
	patch := func(user, pw, target string, off int, body []byte) webAnswer {
		return w.do(t, "PATCH", w.base+target, user, pw, strings.NewReader(string(body)),
			append(tusHdr, "Content-Type", "application/offset+octet-stream", "Upload-Offset", strconv.Itoa(off))...)
	}
	if a = patch(victim, victimPW, loc, 0, data[:40]); a.code != 204 || a.header.Get("Upload-Offset") != "40" {
		t.Fatalf("the victim's first PATCH: %d %v %s", a.code, a.header, a.body)
	}
	w.before = snapshot(t, w.top, w.skip...)

	ids := []string{id, strings.ToUpper(id), id + ".state", "..", "%2e%2e", ".", "%2e", "..%2f..%2f" + victim + "%2f.ftpx-partial%2f" + id,
		"%2e%2e%2f%2e%2e%2f" + victim + "%2f%2eftpx-partial%2f" + id, "..%2f..%2f" + victim + "%2f.ftpx-partial%2f" + id + ".state",
		".ftpx-partial", "%2eftpx-partial%2f" + id, "%00", id + "%00", "..%5c..%5c" + victim, strings.Repeat("a", 5000),
		"..%2f..%2f..%2f..%2foutside%2fsecret.txt", "3f2504e0-4f89-41d3-9a0c-0305e82c3301"}
	codes := map[int]int{}
	for _, bad := range ids {
		target := "/api/v1/uploads/" + bad
		for _, a := range []webAnswer{
			w.do(t, "HEAD", w.base+target, attacker, attackerPW, nil, tusHdr...),
			patch(attacker, attackerPW, target, 40, []byte("x")),
			w.do(t, "DELETE", w.base+target, attacker, attackerPW, nil, tusHdr...),
		} {
			codes[a.code]++
			if a.code < 300 || a.code >= 500 || a.code == http.StatusLocked {
				t.Errorf("upload id %.80q: %d %v %s", bad, a.code, a.header, a.body)
			}
		}
		w.escapes(t, "upload id "+bad)
	}
	t.Logf("%d ids x HEAD, PATCH, DELETE: answers %v", len(ids), codes)
	if a = w.do(t, "HEAD", w.base+loc, victim, victimPW, nil, tusHdr...); a.code != 200 || a.header.Get("Upload-Offset") != "40" {
		t.Fatalf("the victim's HEAD after the attacks: %d %v", a.code, a.header)
	}
	if a = patch(victim, victimPW, loc, 40, data[40:]); a.code != 204 || a.header.Get("Upload-Offset") != strconv.Itoa(len(data)) {
		t.Fatalf("the victim's last PATCH: %d %v %s", a.code, a.header, a.body)
	}
	if a = w.do(t, "GET", w.base+"/api/v1/files/up.bin", victim, victimPW, nil); a.code != 200 || string(a.body) != string(data) {
		t.Fatalf("the victim's upload: %d %q", a.code, a.body)
	}
	if n := panics(w.ts); n > 0 {
		t.Errorf("%d handler panics in the server log", n)
	}
}

// TestHTTPTusOneUploadOneWriter: while a PATCH is writing an upload, a
// HEAD and a second PATCH of it (at the same offset, from another
// connection) are answered 423 with Retry-After and write nothing; the
// first PATCH then completes the upload with its MD5.
func TestHTTPTusOneUploadOneWriter(t *testing.T) {
	w := newWebArena(t, newArena(t))
	data := []byte(strings.Repeat("one writer at a time. ", 200000)) // 4.4 MB: half of it is past any buffer
	tusHdr := []string{"Tus-Resumable", "1.0.0"}
	meta := "path " + base64.StdEncoding.EncodeToString([]byte("/one.bin")) + ",md5 " + base64.StdEncoding.EncodeToString([]byte(md5hex(data)))
	a := w.do(t, "POST", w.base+"/api/v1/uploads/", attacker, attackerPW, nil, append(tusHdr, "Upload-Length", strconv.Itoa(len(data)), "Upload-Metadata", meta)...)
	loc := a.header.Get("Location")
	if a.code != 201 {
		t.Fatalf("tus creation: %d %s", a.code, a.body)
	}
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(w.base, "http://"), ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "PATCH %s HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\nTus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: %d\r\n\r\n",
		loc, base64.StdEncoding.EncodeToString([]byte(attacker+":"+attackerPW)), len(data))
	half := len(data) / 2
	if _, err := c.Write(data[:half]); err != nil {
		t.Fatal(err)
	}
	partial := filepath.Join(w.home, ".ftpx-partial", strings.TrimPrefix(loc, "/api/v1/uploads/"))
	if !waitFor(10*time.Second, func() bool { fi, err := os.Stat(partial); return err == nil && fi.Size() > 0 }) {
		t.Fatal("the first PATCH's bytes do not reach the partial")
	}

	head := w.do(t, "HEAD", w.base+loc, attacker, attackerPW, nil, tusHdr...)
	second := w.do(t, "PATCH", w.base+loc, attacker, attackerPW, strings.NewReader(strings.Repeat("X", len(data))),
		append(tusHdr, "Content-Type", "application/offset+octet-stream", "Upload-Offset", "0")...)
	t.Logf("while the first PATCH writes: HEAD %d (Retry-After %q), a second PATCH %d %s", head.code, head.header.Get("Retry-After"), second.code, second.body)
	if head.code != http.StatusLocked || head.header.Get("Retry-After") == "" {
		t.Errorf("HEAD while a PATCH writes: %d %v, want 423 with Retry-After", head.code, head.header)
	}
	if second.code != http.StatusLocked && second.code != http.StatusConflict {
		t.Errorf("a second PATCH while the first writes: %d %s, want 423 or 409", second.code, second.body)
	}

	if _, err := c.Write(data[half:]); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 204 || resp.Header.Get("Upload-Offset") != strconv.Itoa(len(data)) {
		t.Fatalf("the first PATCH: %v %v", resp, err)
	}
	if a = w.do(t, "GET", w.base+"/api/v1/files/one.bin", attacker, attackerPW, nil); a.code != 200 || string(a.body) != string(data) {
		t.Fatalf("one.bin: %d, %d bytes, want the first PATCH's %d", a.code, len(a.body), len(data))
	}
}
