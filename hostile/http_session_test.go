package hostile

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Sessions under attack: forged cookies, missing and stolen CSRF tokens,
// requests from other sites, a cookie used after logout, and an uploaded
// page that must never run in the client's origin.

// webLogin logs user in and returns the session cookie and CSRF token.
func (w *webArena) webLogin(t *testing.T, user, pw string) (*http.Cookie, string) {
	t.Helper()
	resp, err := w.client.Post(w.base+"/api/v1/login", "application/json", strings.NewReader(`{"user":"`+user+`","password":"`+pw+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct{ User, CSRF string }
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || resp.StatusCode != 200 || s.CSRF == "" {
		t.Fatalf("login %s: %d %v", user, resp.StatusCode, err)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "ftpx_session" {
			return c, s.CSRF
		}
	}
	t.Fatalf("login %s: no session cookie", user)
	return nil, ""
}

// withCookie sends a request with a session cookie (no Basic auth) and
// the headers in hdr (pairs).
func (w *webArena) withCookie(t *testing.T, method, path string, c *http.Cookie, hdr ...string) webAnswer {
	t.Helper()
	req, err := http.NewRequest(method, w.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c != nil {
		req.AddCookie(c)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := w.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	w.g.check(method+" "+path, []byte(b.String()))
	return webAnswer{code: resp.StatusCode, header: resp.Header, body: []byte(b.String())}
}

// TestHTTPSessionAbuse: state-changing requests on a session need its own
// CSRF token and the same origin; a forged or ended cookie is no session;
// and nothing the attacker does with the victim's token reaches the
// victim's home.
func TestHTTPSessionAbuse(t *testing.T) {
	w := newWebArena(t, newArena(t))
	mine, token := w.webLogin(t, attacker, attackerPW)
	bobs, bobToken := w.webLogin(t, victim, victimPW)
	for _, tc := range []struct {
		name   string
		cookie *http.Cookie
		hdr    []string
		want   int
	}{
		{"no cookie, no Basic", nil, nil, 401},
		{"a forged cookie", &http.Cookie{Name: "ftpx_session", Value: strings.Repeat("A", 43)}, []string{"X-CSRF-Token", token}, 401},
		{"an empty cookie", &http.Cookie{Name: "ftpx_session", Value: ""}, nil, 401},
		{"a cookie of 4 KiB", &http.Cookie{Name: "ftpx_session", Value: strings.Repeat("B", 4096)}, nil, 401},
		{"no CSRF token", mine, nil, 403},
		{"an empty CSRF token", mine, []string{"X-CSRF-Token", ""}, 403},
		{"the victim's CSRF token", mine, []string{"X-CSRF-Token", bobToken}, 403},
		{"the token as the cookie", &http.Cookie{Name: "ftpx_session", Value: token}, []string{"X-CSRF-Token", token}, 401},
		{"a request from another site", mine, []string{"X-CSRF-Token", token, "Sec-Fetch-Site", "cross-site"}, 403},
		{"an Origin of another site", mine, []string{"X-CSRF-Token", token, "Origin", "https://evil.example"}, 403},
		{"the victim's cookie with the attacker's token", bobs, []string{"X-CSRF-Token", token}, 403},
	} {
		w.reset(t)
		a := w.withCookie(t, "POST", "/api/v1/mkdir/made", tc.cookie, tc.hdr...)
		var e struct {
			Error  string
			Status int
		}
		if a.code != tc.want || json.Unmarshal(a.body, &e) != nil || e.Error == "" || e.Status == 0 || a.header.Get("Content-Type") != "application/json" {
			t.Errorf("mkdir with %s: %d %q %s, want %d and a JSON error", tc.name, a.code, a.header.Get("Content-Type"), a.body, tc.want)
		}
		d := w.withCookie(t, "DELETE", "/api/v1/files/secret.txt", tc.cookie, tc.hdr...)
		if d.code < 400 {
			t.Errorf("DELETE secret.txt with %s: %d", tc.name, d.code)
		}
		w.escapes(t, tc.name)
	}
	// The right token: served, in the attacker's own home.
	if a := w.withCookie(t, "POST", "/api/v1/mkdir/made", mine, "X-CSRF-Token", token, "Sec-Fetch-Site", "same-origin"); a.code != 201 {
		t.Fatalf("mkdir with the session's own token: %d %s", a.code, a.body)
	}
	// Logout ends the session: the cookie is no session after.
	if a := w.withCookie(t, "POST", "/api/v1/logout", mine, "X-CSRF-Token", token); a.code != 204 || !strings.Contains(a.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("logout: %d %v", a.code, a.header)
	}
	if a := w.withCookie(t, "GET", "/api/v1/session", mine); a.code != 401 {
		t.Fatalf("the session after logout: %d %s", a.code, a.body)
	}
	if a := w.withCookie(t, "GET", "/api/v1/ls/", mine); a.code != 401 {
		t.Fatalf("ls with the cookie after logout: %d %s", a.code, a.body)
	}
	if a := w.withCookie(t, "GET", "/api/v1/session", bobs); a.code != 200 {
		t.Fatalf("the victim's session after the attacker's logout: %d", a.code)
	}
}

// TestHTTPUploadedPageNeverRuns: a page the attacker uploads is sent to
// whoever downloads it as an attachment of an opaque type, not to be
// sniffed, under a policy that runs no script and allows no framing.
func TestHTTPUploadedPageNeverRuns(t *testing.T) {
	w := newWebArena(t, newArena(t))
	page := `<html><script>fetch("/api/v1/files/secret.txt")</script></html>`
	mustWrite(t, w.home+"/evil.html", page)
	mustWrite(t, w.home+"/evil.svg", `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)
	for _, name := range []string{"evil.html", "evil.svg"} {
		a := w.do(t, "GET", w.base+"/api/v1/files/"+name, attacker, attackerPW, nil)
		h := a.header
		if a.code != 200 || h.Get("Content-Type") != "application/octet-stream" || !strings.HasPrefix(h.Get("Content-Disposition"), "attachment;") ||
			h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") ||
			!strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("GET %s: %d %v", name, a.code, h)
		}
	}
	// A name that would break out of the Content-Disposition header.
	mustWrite(t, w.home+"/a\";x=\"y.html", page)
	a := w.do(t, "GET", w.base+"/api/v1/files/"+seg("a\";x=\"y.html"), attacker, attackerPW, nil)
	if cd := a.header.Get("Content-Disposition"); a.code != 200 || strings.Count(cd, `"`) != 2 || !strings.HasPrefix(cd, "attachment;") {
		t.Errorf("Content-Disposition of a name with quotes: %d %q", a.code, cd)
	}
}
