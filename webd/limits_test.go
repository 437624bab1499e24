package webd_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/protocol"
	"ftpx/server"
)

// nativeAuth logs in over a new native connection and returns the status.
func nativeAuth(t *testing.T, addr, user, pw string) protocol.Status {
	t.Helper()
	c, r, _ := ftpxtest.DialNative(t, addr)
	defer c.Close()
	return ftpxtest.NativeAuth(t, c, r, user, pw)
}

func banSoon(s *server.Server) {
	s.MaxLoginFailures = 2
	s.LoginDelay = time.Millisecond
}

// webLogin posts a login and returns the HTTP code and the body.
func webLogin(w *web, user, pw string) (*http.Response, []byte) {
	return w.client().do("POST", "/api/v1/login", jsonBody(map[string]string{"user": user, "password": pw}), nil)
}

func TestFailedWebLoginsBanTheAddressForNative(t *testing.T) {
	w := newWeb(t, banSoon)
	for range 2 {
		resp, body := webLogin(w, alex, "wrong")
		wantErr(t, "wrong web login", resp, body, 401, protocol.StatusWrongLogin)
	}
	resp, body := webLogin(w, alex, alexPW)
	wantErr(t, "right web login from a banned address", resp, body, 401, protocol.StatusBanned)
	if !strings.Contains(string(body), "until") || resp.Header.Get("Retry-After") == "" {
		t.Errorf("ban answer: %s, Retry-After %q", body, resp.Header.Get("Retry-After"))
	}
	resp, body = w.basic(alex, alexPW).do("GET", "/api/v1/ls/", nil, nil)
	wantErr(t, "Basic auth from a banned address", resp, body, 401, protocol.StatusBanned)
	if st := nativeAuth(t, w.ts.Addr, alex, alexPW); st != protocol.StatusBanned {
		t.Fatalf("native auth from the address banned through the web: %d, want %d", st, protocol.StatusBanned)
	}
}

func TestFailedNativeLoginsBanTheAddressForWeb(t *testing.T) {
	w := newWeb(t, banSoon)
	for range 2 {
		if st := nativeAuth(t, w.ts.Addr, alex, "wrong"); st != protocol.StatusWrongLogin {
			t.Fatalf("wrong native login: %d", st)
		}
	}
	resp, body := webLogin(w, alex, alexPW)
	wantErr(t, "web login from the address banned through the native protocol", resp, body, 401, protocol.StatusBanned)
	if len(resp.Cookies()) != 0 {
		t.Error("a banned login set a cookie")
	}
	// Failed Basic logins count too: a fresh server, Basic then native.
	w2 := newWeb(t, banSoon)
	for range 2 {
		resp, body := w2.basic(alex, "wrong").do("GET", "/api/v1/quota", nil, nil)
		wantErr(t, "wrong Basic password", resp, body, 401, protocol.StatusWrongLogin)
	}
	if st := nativeAuth(t, w2.ts.Addr, alex, alexPW); st != protocol.StatusBanned {
		t.Fatalf("native auth after failed Basic logins: %d, want %d", st, protocol.StatusBanned)
	}
}

// dialHTTP opens a connection to the web front end and sends a GET of
// /api/v1/session on it; it returns the connection and the first line of
// the answer.
func dialHTTP(t *testing.T, base string) (net.Conn, string) {
	t.Helper()
	c, err := net.Dial("tcp", hostOf(base))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /api/v1/session HTTP/1.1\r\nHost: x\r\n\r\n")
	r := bufio.NewReader(c)
	line, _ := r.ReadString('\n')
	// Read the rest of that answer's head, and its body when it says
	// Connection: close.
	hd, _ := readHead(r)
	if strings.Contains(hd, "Connection: close") {
		rest, _ := io.ReadAll(r)
		return c, strings.TrimSpace(line) + "\n" + hd + string(rest)
	}
	return c, strings.TrimSpace(line)
}

func readHead(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		l, err := r.ReadString('\n')
		b.WriteString(l)
		if err != nil || l == "\r\n" {
			return b.String(), err
		}
	}
}

func TestMaxConnsPerIPCountsHTTPAndNative(t *testing.T) {
	w := newWeb(t, func(s *server.Server) { s.MaxConnsPerIP = 2 })
	_, one := dialHTTP(t, w.base)
	_, two := dialHTTP(t, w.base)
	if !strings.HasPrefix(one, "HTTP/1.1 401") || !strings.HasPrefix(two, "HTTP/1.1 401") {
		t.Fatalf("two connections: %q, %q", one, two)
	}
	c, three := dialHTTP(t, w.base)
	if !strings.HasPrefix(three, "HTTP/1.1 503") || !strings.Contains(three, `"status":270`) {
		t.Fatalf("third HTTP connection from one address: %q", three)
	}
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the refused connection is not closed: %v", err)
	}
	if _, _, hello := ftpxtest.DialNative(t, w.ts.Addr); hello.Status != protocol.StatusTooManyConns {
		t.Fatalf("a native connection beside two HTTP ones: greeting %d, want %d", hello.Status, protocol.StatusTooManyConns)
	}

	// The native protocol's connections count in the web's limit.
	w2 := newWeb(t, func(s *server.Server) { s.MaxConnsPerIP = 2 })
	if _, _, hello := ftpxtest.DialNative(t, w2.ts.Addr); hello.Status != protocol.StatusReady {
		t.Fatalf("native greeting %d", hello.Status)
	}
	if _, one := dialHTTP(t, w2.base); !strings.HasPrefix(one, "HTTP/1.1 401") {
		t.Fatalf("HTTP beside one native connection: %q", one)
	}
	if _, two := dialHTTP(t, w2.base); !strings.HasPrefix(two, "HTTP/1.1 503") {
		t.Fatalf("HTTP beside a native and an HTTP connection: %q, want 503", two)
	}
}

// TestStalledBodyIsDropped: a client that sends a request's head and
// never the whole body is cut after the transfer timeout, as a native one
// is, rather than holding a connection (and its count) for ever.
func TestStalledBodyIsDropped(t *testing.T) {
	w := newWeb(t, func(s *server.Server) { s.TransferTimeout = 300 * time.Millisecond })
	auth := "Authorization: Basic " + basicToken(alex, alexPW) + "\r\n"
	for _, head := range []string{
		"POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user\":",
		"POST /api/v1/mkdir/stalled HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 1000\r\n\r\nabc",
		"DELETE /api/v1/files/nothing HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 1000\r\n\r\nabc",
	} {
		c, err := net.Dial("tcp", hostOf(w.base))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, head)
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		got, err := io.ReadAll(c)
		if err != nil {
			t.Errorf("%q: the server kept the connection: %v (read %q)", strings.SplitN(head, "\r\n", 2)[0], err, got)
		}
	}
}

// TestMaxSessionsCountsWebRequests: a web session costs nothing while
// idle; a request counts against max_sessions while it runs, with the
// native sessions, and is told 503 (Retry-After) when the user has none
// left. The session stays.
func TestMaxSessionsCountsWebRequests(t *testing.T) {
	w := newWeb(t)
	w.ts.AddUserWith(t, "carol", "pw-carol", accounts.Unlimited, "max_sessions = 1")
	a := w.login("carol", "pw-carol")
	c, r, _ := ftpxtest.DialNative(t, w.ts.Addr)
	if err := protocol.WriteFrame(c, protocol.Request{Action: "auth", Username: "carol", Password: "pw-carol"}); err != nil {
		t.Fatal(err)
	}
	if resp, err := protocol.ReadResponse(r, protocol.MaxResponseHeader); err != nil || resp.Status != protocol.StatusLoggedIn {
		t.Fatalf("native login beside an idle web session: %v %v", resp, err)
	}
	resp, body := a.do("GET", "/api/v1/ls/", nil, nil)
	wantErr(t, "a web request while the native session is open", resp, body, 503, protocol.StatusTooManySessions)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	c.Close()
	waitFor(t, "the native session to end", func() bool {
		resp, _ := a.do("GET", "/api/v1/ls/", nil, nil)
		return resp.StatusCode == 200
	})
}

// TestStalledReaderIsDropped: a client that asks for a big listing and
// never reads the answer is cut off once a write has waited the transfer
// timeout, and its request lets go of the user's only session.
func TestStalledReaderIsDropped(t *testing.T) {
	w := newWeb(t, func(s *server.Server) { s.TransferTimeout = 500 * time.Millisecond })
	w.ts.AddUserWith(t, "carol", "pw-carol", accounts.Unlimited, "max_sessions = 1")
	dir := filepath.Join(w.ts.Home("carol"), "many")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("n", 100)
	for i := range 60_000 { // a listing of about 9 MB: more than the socket buffers hold
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%05d", long, i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	c, err := d.Dial("tcp", hostOf(w.base))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /api/v1/ls/many HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\n\r\n", basicToken("carol", "pw-carol"))
	carol := w.basic("carol", "pw-carol")
	var code int
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, _ := carol.do("GET", "/api/v1/quota", nil, nil)
		if code = resp.StatusCode; code == 200 {
			break
		}
	}
	if code != 200 {
		t.Fatalf("carol's other request while a stalled listing holds her session: %d after 20 s", code)
	}
}
