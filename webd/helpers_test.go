package webd_test

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/protocol"
)

// The users of most tests.
const (
	alex, alexPW = "alex", "pw-alex"
	bob, bobPW   = "bob", "pw-bob"
)

// web is a test's view of a running server's HTTP front end.
type web struct {
	t    testing.TB
	ts   *ftpxtest.Server
	base string // http://127.0.0.1:PORT
}

// newWeb starts a server with alex and bob (no quota) and its HTTP front end.
func newWeb(t testing.TB, opts ...ftpxtest.Option) *web {
	t.Helper()
	ts := ftpxtest.NewServer(t, opts...)
	ts.AddUser(t, alex, alexPW, accounts.Unlimited)
	ts.AddUser(t, bob, bobPW, accounts.Unlimited)
	return &web{t: t, ts: ts, base: ts.StartHTTP(t)}
}

// agent is one HTTP client: a session cookie of its own (after login) or
// HTTP Basic credentials.
type agent struct {
	w          *web
	hc         *http.Client
	user, pass string // Basic auth when set
	csrf       string // sent as X-CSRF-Token when set
}

// client returns an agent with an empty cookie jar and no credentials.
func (w *web) client() *agent {
	jar, _ := cookiejar.New(nil)
	return &agent{w: w, hc: &http.Client{Jar: jar, Timeout: 60 * time.Second}}
}

// basic returns an agent using HTTP Basic auth.
func (w *web) basic(user, pass string) *agent {
	a := w.client()
	a.user, a.pass = user, pass
	return a
}

// login returns an agent logged in by the page's login call, with its CSRF token.
func (w *web) login(user, pass string) *agent {
	w.t.Helper()
	a := w.client()
	resp, body := a.do("POST", "/api/v1/login", jsonBody(map[string]string{"user": user, "password": pass}), nil)
	if resp.StatusCode != http.StatusOK {
		w.t.Fatalf("login %s: %d %s", user, resp.StatusCode, body)
	}
	var s struct{ User, CSRF string }
	mustJSON(w.t, body, &s)
	if s.User != user || len(s.CSRF) < 32 {
		w.t.Fatalf("login answer %s", body)
	}
	a.csrf = s.CSRF
	return a
}

func jsonBody(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// do sends a request to the server and returns the answer and its whole body.
func (a *agent) do(method, path string, body []byte, hdr http.Header) (*http.Response, []byte) {
	a.w.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, a.w.base+path, rd)
	if err != nil {
		a.w.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if a.user != "" {
		req.SetBasicAuth(a.user, a.pass)
	}
	if a.csrf != "" && req.Header.Get("X-CSRF-Token") == "" {
		req.Header.Set("X-CSRF-Token", a.csrf)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		a.w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.w.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp, b
}

// apiErr is the body of an error answer.
type apiErr struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

// wantErr checks an error answer: its HTTP code and a JSON body with a
// message and a protocol status (st, when not 0).
func wantErr(t testing.TB, what string, resp *http.Response, body []byte, code int, st protocol.Status) {
	t.Helper()
	if resp.StatusCode != code {
		t.Errorf("%s: HTTP %d %s, want %d", what, resp.StatusCode, body, code)
		return
	}
	if resp.Request.Method == http.MethodHead {
		return
	}
	var e apiErr
	if err := json.Unmarshal(body, &e); err != nil || e.Error == "" || e.Status == 0 {
		t.Errorf("%s: body %q is not a JSON error", what, body)
		return
	}
	if st != 0 && e.Status != int(st) {
		t.Errorf("%s: status %d (%s), want %d", what, e.Status, e.Error, st)
	}
}

func mustJSON(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("not JSON: %q: %v", b, err)
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// tusHeader is the header of a tus request, with more pairs.
func tusHeader(kv ...string) http.Header {
	h := http.Header{"Tus-Resumable": {"1.0.0"}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// metadata is an Upload-Metadata value.
func metadata(path, sum string, mtime int64) string {
	m := "path " + b64(path) + ",md5 " + b64(sum)
	if mtime != 0 {
		m += ",mtime " + b64(strconv.FormatInt(mtime, 10))
	}
	return m
}

// create creates an upload of data to path and returns its URL path
// (/api/v1/uploads/ID).
func (a *agent) create(path string, data []byte, mtime int64) string {
	a.w.t.Helper()
	resp, body := a.do("POST", "/api/v1/uploads/", nil, tusHeader("Upload-Length", strconv.Itoa(len(data)),
		"Upload-Metadata", metadata(path, md5hex(data), mtime)))
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Upload-Offset") != "0" {
		a.w.t.Fatalf("create %s: %d %s, Upload-Offset %q", path, resp.StatusCode, body, resp.Header.Get("Upload-Offset"))
	}
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "/api/v1/uploads/") || len(loc) != len("/api/v1/uploads/")+36 {
		a.w.t.Fatalf("create: Location %q", loc)
	}
	return loc
}

// patch sends chunk at offset and returns the answer.
func (a *agent) patch(loc string, offset int64, chunk []byte) (*http.Response, []byte) {
	a.w.t.Helper()
	return a.do("PATCH", loc, chunk, tusHeader("Content-Type", "application/offset+octet-stream",
		"Upload-Offset", strconv.FormatInt(offset, 10)))
}

// head returns the answer to a tus HEAD.
func (a *agent) head(loc string) *http.Response {
	a.w.t.Helper()
	resp, _ := a.do("HEAD", loc, nil, tusHeader())
	return resp
}

// offsetOf reads Upload-Offset.
func offsetOf(t testing.TB, resp *http.Response) int64 {
	t.Helper()
	n, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil {
		t.Fatalf("Upload-Offset %q (HTTP %d)", resp.Header.Get("Upload-Offset"), resp.StatusCode)
	}
	return n
}

// rawRequest writes a request head and part of its body on a connection
// of its own, then closes it: a client cut off mid-body. It waits a little
// for the server to read what was sent (reading until the server closes
// or 2 seconds pass).
func rawRequest(t testing.TB, addr, head string, body []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(append([]byte(head), body...)); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	io.Copy(io.Discard, bufio.NewReader(c))
	c.Close()
}

// hostOf is the host:port of a base URL.
func hostOf(base string) string {
	return strings.TrimPrefix(strings.TrimPrefix(base, "http://"), "https://")
}

// waitFor polls cond until it holds or 10 seconds pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// mergeHeader sets src's fields in dst and returns it.
func mergeHeader(dst, src http.Header) http.Header {
	for k, v := range src {
		dst[k] = v
	}
	return dst
}

// basicToken is the credentials of an Authorization: Basic header.
func basicToken(user, pw string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pw))
}
