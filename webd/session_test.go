package webd_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/protocol"
	"ftpx/server"
	"ftpx/webd"
)

// sessionCookie returns the ftpx_session cookie an answer sets.
func sessionCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == "ftpx_session" {
			return c
		}
	}
	t.Fatalf("no ftpx_session cookie in %v", resp.Header["Set-Cookie"])
	return nil
}

func TestLoginCookieSessionLogout(t *testing.T) {
	w := newWeb(t)
	a := w.client()
	resp, body := a.do("POST", "/api/v1/login", jsonBody(map[string]string{"user": alex, "password": alexPW}), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	var s struct{ User, CSRF string }
	mustJSON(t, body, &s)
	if s.User != alex || len(s.CSRF) != 43 {
		t.Fatalf("login answer %s", body)
	}
	c := sessionCookie(t, resp)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure || len(c.Value) != 43 {
		t.Fatalf("cookie over plain HTTP: %+v (raw %q)", c, resp.Header.Get("Set-Cookie"))
	}
	resp, body = a.do("GET", "/api/v1/session", nil, nil)
	var s2 struct{ User, CSRF string }
	mustJSON(t, body, &s2)
	if resp.StatusCode != 200 || s2 != s {
		t.Fatalf("session: %d %s, want %+v", resp.StatusCode, body, s)
	}
	// Logout needs the CSRF token too.
	resp, body = a.do("POST", "/api/v1/logout", nil, nil)
	wantErr(t, "logout without the CSRF token", resp, body, 403, protocol.StatusPermission)
	if resp, _ := a.do("GET", "/api/v1/session", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("session after a refused logout: %d", resp.StatusCode)
	}
	old := c.Value
	a.csrf = s.CSRF
	resp, body = a.do("POST", "/api/v1/logout", nil, nil)
	if resp.StatusCode != 204 {
		t.Fatalf("logout: %d %s", resp.StatusCode, body)
	}
	if c := sessionCookie(t, resp); c.Value != "" || c.MaxAge >= 0 {
		t.Fatalf("logout's cookie does not clear: %q", resp.Header.Get("Set-Cookie"))
	}
	resp, body = a.do("GET", "/api/v1/session", nil, nil)
	wantErr(t, "session after logout", resp, body, 401, protocol.StatusNotLoggedIn)
	// The old token is dead on the server, not only in the jar.
	b := w.client()
	hdr := http.Header{"Cookie": {"ftpx_session=" + old}}
	for _, p := range []string{"/api/v1/session", "/api/v1/ls/"} {
		resp, body = b.do("GET", p, nil, hdr)
		wantErr(t, p+" with the logged-out cookie", resp, body, 401, 0)
	}
}

func TestWrongPasswordIs401WithoutCookie(t *testing.T) {
	w := newWeb(t)
	for _, cr := range []map[string]string{
		{"user": alex, "password": "wrong"},
		{"user": "nobody", "password": "x"},
	} {
		a := w.client()
		resp, body := a.do("POST", "/api/v1/login", jsonBody(cr), nil)
		wantErr(t, "login "+cr["user"], resp, body, 401, protocol.StatusWrongLogin)
		var e apiErr
		mustJSON(t, body, &e)
		if e.Error != "wrong username or password" || e.Status != 253 {
			t.Errorf("wrong login answer %s", body)
		}
		if len(resp.Cookies()) != 0 {
			t.Errorf("a wrong login sets cookies: %v", resp.Header["Set-Cookie"])
		}
	}
	resp, body := w.client().do("GET", "/api/v1/ls/", nil, nil)
	wantErr(t, "ls without login", resp, body, 401, protocol.StatusNotLoggedIn)
	if resp.Header.Get("WWW-Authenticate") == "" {
		t.Error("an API client without credentials is not challenged")
	}
	resp, body = w.basic(alex, "wrong").do("GET", "/api/v1/ls/", nil, nil)
	wantErr(t, "ls with a wrong Basic password", resp, body, 401, protocol.StatusWrongLogin)
}

func TestSecureCookieOverTLS(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, alex, alexPW, accounts.Unlimited)
	dir := t.TempDir()
	cert, err := server.AutoCert(dir)
	if err != nil {
		t.Fatal(err)
	}
	ws := &webd.Server{Core: ts.Server, TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ws.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ws.Shutdown(ctx)
		if err := <-done; !errors.Is(err, webd.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	pem, err := os.ReadFile(filepath.Join(dir, server.AutoCertDir, "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("cert.pem holds no certificate")
	}
	jar, _ := cookiejar.New(nil)
	w := &web{t: t, ts: ts, base: "https://" + l.Addr().String()}
	a := &agent{w: w, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
	resp, body := a.do("POST", "/api/v1/login", jsonBody(map[string]string{"user": alex, "password": alexPW}), nil)
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("login over HTTPS: %d %s", resp.StatusCode, body)
	}
	c := sessionCookie(t, resp)
	if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
		t.Fatalf("cookie over HTTPS: %q", resp.Header.Get("Set-Cookie"))
	}
	if resp, body := a.do("GET", "/api/v1/session", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("session over HTTPS: %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS over HTTPS")
	}
	// A plain HTTP server refuses a listener off loopback.
	pl, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	if err := (&webd.Server{Core: ts.Server}).Serve(pl); !errors.Is(err, webd.ErrPlainNotLoopback) {
		t.Errorf("plain HTTP on every address: %v, want ErrPlainNotLoopback", err)
	}
}

// TestCSRF: a state-changing request authenticated by the cookie needs the
// session's token; without it (or with another) nothing changes.
func TestCSRF(t *testing.T) {
	w := newWeb(t)
	a := w.login(alex, alexPW)
	home := w.ts.Home(alex)
	os.WriteFile(filepath.Join(home, "keep.txt"), []byte("keep"), 0o644)
	token := a.csrf
	cases := []struct {
		method, path string
		hdr          http.Header
	}{
		{"POST", "/api/v1/mkdir/newdir", nil},
		{"POST", "/api/v1/rename/keep.txt?to=moved.txt", nil},
		{"DELETE", "/api/v1/files/keep.txt", nil},
		{"POST", "/api/v1/uploads/", tusHeader("Upload-Length", "4", "Upload-Metadata", metadata("/up.txt", md5hex([]byte("data")), 0))},
		{"PATCH", "/api/v1/uploads/0b0f2c4e-6a59-4a8f-9d8e-1f2a3b4c5d6e", tusHeader("Content-Type", "application/offset+octet-stream", "Upload-Offset", "0")},
		{"DELETE", "/api/v1/uploads/0b0f2c4e-6a59-4a8f-9d8e-1f2a3b4c5d6e", tusHeader()},
	}
	for _, bad := range []string{"", "wrong-token"} {
		for _, c := range cases {
			h := http.Header{}
			for k, v := range c.hdr {
				h[k] = v
			}
			a.csrf = ""
			if bad != "" {
				h.Set("X-CSRF-Token", bad)
			}
			resp, body := a.do(c.method, c.path, nil, h)
			wantErr(t, c.method+" "+c.path+" with CSRF token "+bad, resp, body, 403, protocol.StatusPermission)
		}
	}
	entries, _ := os.ReadDir(home)
	if len(entries) != 1 || entries[0].Name() != "keep.txt" {
		t.Fatalf("requests without the CSRF token changed the home: %v", entries)
	}
	a.csrf = token
	if resp, body := a.do("POST", "/api/v1/mkdir/newdir", nil, nil); resp.StatusCode != 201 {
		t.Fatalf("mkdir with the token: %d %s", resp.StatusCode, body)
	}
	if resp, body := a.do("POST", "/api/v1/rename/keep.txt?to=moved.txt", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("rename with the token: %d %s", resp.StatusCode, body)
	}
	if resp, body := a.do("DELETE", "/api/v1/files/moved.txt", nil, nil); resp.StatusCode != 204 {
		t.Fatalf("delete with the token: %d %s", resp.StatusCode, body)
	}
	if fi, err := os.Stat(filepath.Join(home, "newdir")); err != nil || !fi.IsDir() {
		t.Fatal("mkdir with the token did not make the directory")
	}
	if _, err := os.Stat(filepath.Join(home, "moved.txt")); !os.IsNotExist(err) {
		t.Fatal("delete with the token did not delete")
	}
	// Another session's token is not this one's.
	other := w.login(alex, alexPW)
	a.csrf = other.csrf
	resp, body := a.do("POST", "/api/v1/mkdir/other", nil, nil)
	wantErr(t, "mkdir with another session's token", resp, body, 403, protocol.StatusPermission)
}

// TestCrossOriginRefused: a browser's cross-site request that changes
// something is refused even when it carries Basic credentials.
func TestCrossOriginRefused(t *testing.T) {
	w := newWeb(t)
	home := w.ts.Home(alex)
	os.MkdirAll(home, 0o755)
	os.WriteFile(filepath.Join(home, "keep.txt"), []byte("keep"), 0o644)
	a := w.basic(alex, alexPW)
	evil := http.Header{"Origin": {"http://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}
	for _, c := range []struct{ method, path string }{
		{"POST", "/api/v1/mkdir/evil"},
		{"POST", "/api/v1/rename/keep.txt?to=evil.txt"},
		{"DELETE", "/api/v1/files/keep.txt"},
		{"POST", "/api/v1/login"},
	} {
		resp, body := a.do(c.method, c.path, nil, evil)
		wantErr(t, "cross-site "+c.method+" "+c.path, resp, body, 403, 0)
	}
	h := tusHeader("Upload-Length", "4", "Upload-Metadata", metadata("/evil.txt", md5hex([]byte("evil")), 0),
		"Content-Type", "application/offset+octet-stream", "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site")
	resp, body := a.do("POST", "/api/v1/uploads/", []byte("evil"), h)
	wantErr(t, "cross-site tus creation", resp, body, 403, 0)
	// Origin alone (an older browser) is enough too.
	resp, body = a.do("POST", "/api/v1/mkdir/evil2", nil, http.Header{"Origin": {"http://evil.example"}})
	wantErr(t, "mkdir with a foreign Origin", resp, body, 403, 0)
	entries, _ := os.ReadDir(home)
	if len(entries) != 1 || entries[0].Name() != "keep.txt" {
		t.Fatalf("cross-origin requests changed the home: %v", entries)
	}
	// The same requests from the page's own origin work.
	same := http.Header{"Origin": {w.base}, "Sec-Fetch-Site": {"same-origin"}}
	if resp, body := a.do("POST", "/api/v1/mkdir/ok", nil, same); resp.StatusCode != 201 {
		t.Fatalf("same-origin mkdir: %d %s", resp.StatusCode, body)
	}
}

func TestSessionEndsAfterIdleTimeout(t *testing.T) {
	w := newWeb(t, func(s *server.Server) { s.IdleTimeout = 300 * time.Millisecond })
	a := w.login(alex, alexPW)
	if resp, _ := a.do("GET", "/api/v1/ls/", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("ls at once: %d", resp.StatusCode)
	}
	time.Sleep(700 * time.Millisecond)
	resp, body := a.do("GET", "/api/v1/ls/", nil, nil)
	wantErr(t, "ls after the idle timeout", resp, body, 401, protocol.StatusNotLoggedIn)
	resp, body = a.do("GET", "/api/v1/session", nil, nil)
	wantErr(t, "session after the idle timeout", resp, body, 401, protocol.StatusNotLoggedIn)
	// Basic auth has no session to lose.
	if resp, _ := w.basic(alex, alexPW).do("GET", "/api/v1/ls/", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("Basic ls: %d", resp.StatusCode)
	}
}

func TestRemovedUserSessionIs401(t *testing.T) {
	w := newWeb(t)
	a := w.login(alex, alexPW)
	b := w.login(bob, bobPW)
	if resp, _ := a.do("GET", "/api/v1/ls/", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("ls: %d", resp.StatusCode)
	}
	dropAccount(t, w, alex)
	for _, p := range []string{"/api/v1/session", "/api/v1/ls/", "/api/v1/quota"} {
		resp, body := a.do("GET", p, nil, nil)
		wantErr(t, p+" of a removed user", resp, body, 401, 0)
	}
	resp, body := a.do("POST", "/api/v1/mkdir/x", nil, nil)
	wantErr(t, "mkdir of a removed user", resp, body, 401, 0)
	if _, err := os.Stat(filepath.Join(w.ts.Home(alex), "x")); err == nil {
		t.Fatal("a removed user made a directory")
	}
	if resp, _ := b.do("GET", "/api/v1/ls/", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("another user's session: %d", resp.StatusCode)
	}
}

// TestLoginBodies: the page's JSON, and a plain form's fields; anything
// else is 401 with status 252 and no cookie.
func TestLoginBodies(t *testing.T) {
	w := newWeb(t)
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	for _, c := range []struct {
		name string
		body string
		hdr  http.Header
		code int
	}{
		{"JSON", `{"user":"alex","password":"pw-alex"}`, http.Header{"Content-Type": {"application/json"}}, 200},
		{"JSON without a type", `{"user":"alex","password":"pw-alex"}`, nil, 200},
		{"form", "user=alex&password=pw-alex", form, 200},
		{"form with charset", "user=alex&password=pw%2Dalex", http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=UTF-8"}}, 200},
		{"form, wrong password", "user=alex&password=nope", form, 401},
		{"form without user", "password=pw-alex", form, 401},
		{"empty password", `{"user":"alex","password":""}`, nil, 401},
		{"garbage", "garbage", nil, 401},
		{"empty", "", nil, 401},
		{"too long", `{"user":"alex","password":"` + strings.Repeat("x", 5000) + `"}`, nil, 401},
	} {
		resp, body := w.client().do("POST", "/api/v1/login", []byte(c.body), c.hdr)
		if resp.StatusCode != c.code {
			t.Errorf("%s: %d %s, want %d", c.name, resp.StatusCode, body, c.code)
			continue
		}
		if c.code != 200 {
			wantErr(t, c.name, resp, body, c.code, 0)
			if len(resp.Cookies()) != 0 {
				t.Errorf("%s: a refused login sets a cookie", c.name)
			}
			continue
		}
		var s struct{ User, CSRF string }
		mustJSON(t, body, &s)
		if s.User != alex || sessionCookie(t, resp).Value == "" {
			t.Errorf("%s: %s", c.name, body)
		}
	}
}

// TestAnonymousReadsOnly: with an anonymous root, "anonymous" logs in
// with any password (page or Basic), reads, and changes nothing.
func TestAnonymousReadsOnly(t *testing.T) {
	pub := t.TempDir()
	os.WriteFile(filepath.Join(pub, "readme.txt"), []byte("public"), 0o644)
	w := newWeb(t, func(s *server.Server) { s.AnonymousRoot = pub })
	a := w.login(server.AnonymousUser, "guest@example")
	if resp, body := a.do("GET", "/api/v1/session", nil, nil); resp.StatusCode != 200 || !strings.Contains(string(body), `"user":"anonymous"`) {
		t.Fatalf("session: %d %s", resp.StatusCode, body)
	}
	for _, ag := range []*agent{a, w.basic(server.AnonymousUser, "x")} {
		if resp, body := ag.do("GET", "/api/v1/files/readme.txt", nil, nil); resp.StatusCode != 200 || string(body) != "public" {
			t.Errorf("anonymous get: %d %q", resp.StatusCode, body)
		}
		resp, body := ag.do("POST", "/api/v1/mkdir/new", nil, nil)
		wantErr(t, "anonymous mkdir", resp, body, 403, protocol.StatusPermission)
		resp, body = ag.do("DELETE", "/api/v1/files/readme.txt", nil, nil)
		wantErr(t, "anonymous delete", resp, body, 403, protocol.StatusPermission)
		resp, body = ag.do("POST", "/api/v1/uploads/", nil, tusHeader("Upload-Length", "1", "Upload-Metadata", metadata("/x", md5hex([]byte("x")), 0)))
		wantErr(t, "anonymous upload", resp, body, 403, protocol.StatusPermission)
	}
	entries, _ := os.ReadDir(pub)
	if len(entries) != 1 {
		t.Errorf("the anonymous root changed: %v", entries)
	}
	// Anonymous access turned off: the session ends.
	w.ts.SetLive(server.Live{})
	resp, body := a.do("GET", "/api/v1/session", nil, nil)
	wantErr(t, "anonymous session once anonymous access is off", resp, body, 401, 0)
}

// TestPasswordChangeEndsSessions: a web session outlives its login, so
// it ends when its user's password changes (another user's goes on);
// the new password logs in again.
func TestPasswordChangeEndsSessions(t *testing.T) {
	w := newWeb(t)
	a := w.login(alex, alexPW)
	b := w.login(bob, bobPW)
	dropAccount(t, w, alex)
	w.ts.AddUser(t, alex, "a-new-password", accounts.Unlimited)
	resp, body := a.do("GET", "/api/v1/session", nil, nil)
	wantErr(t, "the session after a password change", resp, body, 401, 0)
	if resp, _ := b.do("GET", "/api/v1/ls/", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("another user's session: %d", resp.StatusCode)
	}
	a = w.login(alex, "a-new-password")
	if resp, _ := a.do("GET", "/api/v1/ls/", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("ls after logging in with the new password: %d", resp.StatusCode)
	}
}

// dropAccount removes user's section from the accounts file, keeping
// every other byte (the other users' hashes), and reloads it.
func dropAccount(t *testing.T, w *web, user string) {
	t.Helper()
	b, err := os.ReadFile(w.ts.Accounts)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	in := false
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if strings.HasPrefix(line, "[") {
			in = strings.TrimSpace(line) == "["+user+"]"
		}
		if !in {
			kept = append(kept, line)
		}
	}
	if err := os.WriteFile(w.ts.Accounts, []byte(strings.Join(kept, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := w.ts.Server.Accounts.Reload(); err != nil {
		t.Fatal(err)
	}
}

// TestLongRequestKeepsItsSession: a request that runs past the idle
// timeout (an upload's PATCH) counts as use until it ends: the session is
// alive after it.
func TestLongRequestKeepsItsSession(t *testing.T) {
	w := newWeb(t, func(s *server.Server) { s.IdleTimeout = 300 * time.Millisecond })
	a := w.login(alex, alexPW)
	data := randomBytes(64 << 10)
	loc := a.create("/slow.bin", data, 0)
	pr, pw := io.Pipe()
	go func() { // the body over about a second, past the idle timeout
		for i := 0; i < len(data); i += 8 << 10 {
			pw.Write(data[i : i+8<<10])
			time.Sleep(130 * time.Millisecond)
		}
		pw.Close()
	}()
	req, err := http.NewRequest("PATCH", w.base+loc, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(data))
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", "0")
	req.Header.Set("X-CSRF-Token", a.csrf)
	resp, err := a.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("slow PATCH: %d", resp.StatusCode)
	}
	if resp, body := a.do("GET", "/api/v1/session", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("the session after a PATCH longer than the idle timeout: %d %s", resp.StatusCode, body)
	}
}
