package hostile

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ftpx/protocol"
	"ftpx/server"
)

// Greedy web clients: huge headers, slow bodies, headers that never end,
// login floods and request floods. Each must end without harming the
// others, and leave nothing running behind it.

// clientFrom is an HTTP client whose connections come from 127.0.0.host
// (0: the default address).
func clientFrom(host byte, conns int) *http.Client {
	d := &net.Dialer{Timeout: ioTimeout}
	if host != 0 {
		d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, host)}
	}
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		DialContext: d.DialContext, MaxConnsPerHost: conns, MaxIdleConnsPerHost: conns,
	}}
}

// served checks that user gets their quota over the web from 127.0.0.host.
func (w *webArena) served(t *testing.T, host byte, user, pw string) {
	t.Helper()
	c := clientFrom(host, 1)
	defer c.CloseIdleConnections()
	req, _ := http.NewRequest("GET", w.base+"/api/v1/quota", nil)
	req.SetBasicAuth(user, pw)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s from 127.0.0.%d: %v", user, host, err)
	}
	defer resp.Body.Close()
	var q struct{ Used, Quota, Free *int64 }
	if err := json.NewDecoder(resp.Body).Decode(&q); resp.StatusCode != 200 || err != nil || q.Used == nil {
		t.Fatalf("%s's quota from 127.0.0.%d: %d %v", user, host, resp.StatusCode, err)
	}
}

// rawHTTP dials the web front end from 127.0.0.host.
func (w *webArena) rawHTTP(t *testing.T, host byte) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: ioTimeout}
	if host != 0 {
		d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, host)}
	}
	c, err := d.Dial("tcp", strings.TrimPrefix(w.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestHTTPHugeHeadersRefused: a header of 1 MiB, and 20,000 small ones,
// are refused with 431 or the connection is closed; the neighbour is
// served at once after each.
func TestHTTPHugeHeadersRefused(t *testing.T) {
	w := newWebArena(t, newArena(t))
	auth := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(attacker+":"+attackerPW)) + "\r\n"
	for _, tc := range []struct{ name, headers string }{
		{"one header of 1 MiB", "X-Big: " + strings.Repeat("a", 1<<20) + "\r\n"},
		{"a cookie of 1 MiB", "Cookie: ftpx_session=" + strings.Repeat("b", 1<<20) + "\r\n"},
		{"20000 headers", strings.Repeat("X-Many: 1\r\n", 20000)},
		{"tus metadata of 1 MiB", "Tus-Resumable: 1.0.0\r\nUpload-Length: 1\r\nUpload-Metadata: path " + strings.Repeat("L", 1<<20) + "\r\n"},
	} {
		c := w.rawHTTP(t, 0)
		go func() {
			fmt.Fprintf(c, "POST /api/v1/uploads/ HTTP/1.1\r\nHost: x\r\n%s%s\r\n", auth, tc.headers)
		}()
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		switch {
		case err == nil && resp.StatusCode == http.StatusRequestHeaderFieldsTooLarge:
			t.Logf("%s: %s", tc.name, resp.Status)
		case err == nil:
			t.Errorf("%s: %s, want 431 or the connection closed", tc.name, resp.Status)
		case isTimeout(err):
			t.Errorf("%s: the connection is neither answered nor closed", tc.name)
		default:
			t.Logf("%s: connection closed (%v)", tc.name, err)
		}
		c.Close()
		w.served(t, 40, neighbour, neighbourPW)
	}
	if n := panics(w.ts); n > 0 {
		t.Errorf("%d handler panics", n)
	}
}

// TestHTTPSlowPatchEndsAtTransferTimeout: a PATCH that sends its body a
// byte a second is ended by the transfer timeout (500 ms), long before
// its body would be; the server keeps what came, HEAD says so, and the
// upload completes from there.
func TestHTTPSlowPatchEndsAtTransferTimeout(t *testing.T) {
	w := newWebArena(t, newArena(t, func(s *server.Server) { s.TransferTimeout = 500 * time.Millisecond }))
	data := []byte(strings.Repeat("0123456789", 10))
	tusHdr := []string{"Tus-Resumable", "1.0.0"}
	meta := "path " + base64.StdEncoding.EncodeToString([]byte("/slow.bin")) + ",md5 " + base64.StdEncoding.EncodeToString([]byte(md5hex(data)))
	a := w.do(t, "POST", w.base+"/api/v1/uploads/", attacker, attackerPW, nil, append(tusHdr, "Upload-Length", "100", "Upload-Metadata", meta)...)
	loc := a.header.Get("Location")
	if a.code != 201 {
		t.Fatalf("tus creation: %d %s", a.code, a.body)
	}
	c := w.rawHTTP(t, 0)
	fmt.Fprintf(c, "PATCH %s HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\nTus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: 100\r\n\r\n",
		loc, base64.StdEncoding.EncodeToString([]byte(attacker+":"+attackerPW)))
	var sent atomic.Int64
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := range data {
			if _, err := c.Write(data[i : i+1]); err != nil {
				return
			}
			sent.Add(1)
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
		}
	}()
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	n := sent.Load()
	if err != nil {
		t.Fatalf("the slow PATCH after %d bytes: %v", n, err)
	}
	t.Logf("the slow PATCH: %s with Upload-Offset %s after %d of its 100 bytes", resp.Status, resp.Header.Get("Upload-Offset"), n)
	if n >= int64(len(data)) || resp.StatusCode >= 500 {
		t.Fatalf("the slow PATCH was not ended by the transfer timeout: %s after %d bytes", resp.Status, n)
	}
	var held int
	if !waitFor(10*time.Second, func() bool {
		a = w.do(t, "HEAD", w.base+loc, attacker, attackerPW, nil, tusHdr...)
		held, _ = strconv.Atoi(a.header.Get("Upload-Offset"))
		return a.code == 200
	}) || held < 0 || int64(held) > n {
		t.Fatalf("HEAD after the slow PATCH: %d, Upload-Offset %d (sent %d)", a.code, held, n)
	}
	a = w.do(t, "PATCH", w.base+loc, attacker, attackerPW, bytes.NewReader(data[held:]),
		append(tusHdr, "Content-Type", "application/offset+octet-stream", "Upload-Offset", strconv.Itoa(held))...)
	if a.code != 204 || a.header.Get("Upload-Offset") != "100" {
		t.Fatalf("the rest from %d: %d %v %s", held, a.code, a.header, a.body)
	}
	if a = w.do(t, "GET", w.base+"/api/v1/files/slow.bin", attacker, attackerPW, nil); a.code != 200 || !bytes.Equal(a.body, data) {
		t.Fatalf("slow.bin: %d %q", a.code, a.body)
	}
}

// TestHTTPSlowlorisClosed: twenty connections that send a header line a
// second and never end their headers are closed by the server's header
// timeout (webd's readHeaderTimeout, 10 s), long before they would end;
// the neighbour is served meanwhile.
func TestHTTPSlowlorisClosed(t *testing.T) {
	w := newWebArena(t, newArena(t))
	const conns, lines = 20, 40
	var wg sync.WaitGroup
	closedAfter := make(chan int, conns)
	for i := range conns {
		c := w.rawHTTP(t, loopback(i, 5))
		wg.Add(1)
		go func() {
			defer wg.Done()
			fmt.Fprintf(c, "GET /api/v1/quota HTTP/1.1\r\nHost: x\r\n")
			ended := make(chan struct{})
			go func() { io.Copy(io.Discard, c); close(ended) }()
			for n := range lines {
				select {
				case <-ended:
					closedAfter <- n
					return
				case <-time.After(time.Second):
				}
				if _, err := fmt.Fprintf(c, "X-Drip-%d: %d\r\n", n, n); err != nil {
					closedAfter <- n
					return
				}
			}
			closedAfter <- lines
		}()
	}
	time.Sleep(2 * time.Second)
	w.served(t, 60, neighbour, neighbourPW)
	wg.Wait()
	close(closedAfter)
	for n := range closedAfter {
		if n >= lines {
			t.Errorf("a connection dripping headers was still open after %d lines", n)
		}
	}
	w.served(t, 60, neighbour, neighbourPW)
}

// TestHTTPLoginFloodBansTheAddress: 200 logins at once with wrong
// passwords from one address (those past max_conns_per_ip refused at
// once). The address is banned (401, status 282: a login refused),
// the right password from it too then; the server stays up, serving other
// addresses on the web and on the native front end.
func TestHTTPLoginFloodBansTheAddress(t *testing.T) {
	w := newWebArena(t, newArena(t, func(s *server.Server) { s.LoginDelay = time.Millisecond }))
	flood := clientFrom(0, 0)
	defer flood.CloseIdleConnections()
	const n = 200
	var mu sync.Mutex
	codes := map[string]int{}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"user":%q,"password":"wrong-%d"}`, attacker, i)
			resp, err := flood.Post(w.base+"/api/v1/login", "application/json", strings.NewReader(body))
			key := "closed" // refused at once (a 503 written before the request, which the client may not read)
			if err == nil {
				var e struct{ Status int }
				json.NewDecoder(resp.Body).Decode(&e)
				resp.Body.Close()
				key = fmt.Sprintf("%d/%d", resp.StatusCode, e.Status)
			}
			mu.Lock()
			codes[key]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	t.Logf("%d wrong logins at once: HTTP/protocol status %v", n, codes)
	if codes[fmt.Sprintf("401/%d", protocol.StatusBanned)] == 0 {
		t.Errorf("no login was refused for a ban: %v", codes)
	}
	for k := range codes {
		if k != "401/253" && k != fmt.Sprintf("401/%d", protocol.StatusBanned) && k != fmt.Sprintf("503/%d", protocol.StatusTooManyConns) && k != "closed" {
			t.Errorf("%d answers %s", codes[k], k)
		}
	}
	// The right password from the banned address: still banned.
	resp, err := flood.Post(w.base+"/api/v1/login", "application/json", strings.NewReader(fmt.Sprintf(`{"user":%q,"password":%q}`, attacker, attackerPW)))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the right password from the banned address: %v %v", resp, err)
	}
	resp.Body.Close()
	// Other addresses: the web, and the native front end.
	w.served(t, 70, neighbour, neighbourPW)
	rc, err := dialFrom(w.ts.Addr, 71, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if r, err := rc.do(obj("action", "auth", "username", neighbour, "password", neighbourPW)); err != nil || r.Status != protocol.StatusLoggedIn {
		t.Fatalf("a native login from another address after the flood: %d %v", r.Status, err)
	}
	if n := panics(w.ts); n > 0 {
		t.Errorf("%d handler panics", n)
	}
}

// TestHTTPManyRequestsFewConnections: 500 requests at once from one
// address over the 8 connections max_conns_per_ip allows all succeed; a
// 9th connection from it is refused (503) while the 8 are open; another
// address is served meanwhile; and once the connections close, the
// server's goroutines come back to their baseline.
func TestHTTPManyRequestsFewConnections(t *testing.T) {
	w := newWebArena(t, newArena(t, func(s *server.Server) { s.MaxConnsPerIP = 8 }))
	w.served(t, 80, neighbour, neighbourPW) // warm up
	w.client.CloseIdleConnections()
	runtime.GC()
	base := runtime.NumGoroutine()

	many := clientFrom(81, 8)
	const n = 500
	var wg sync.WaitGroup
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(context.Background(), "GET", w.base+"/api/v1/ls/a", nil)
			req.SetBasicAuth(attacker, attackerPW)
			resp, err := many.Do(req)
			if err == nil {
				var ents []protocol.Entry
				err = json.NewDecoder(resp.Body).Decode(&ents)
				resp.Body.Close()
				if err == nil && (resp.StatusCode != 200 || len(ents) != 2) {
					err = fmt.Errorf("%d %v", resp.StatusCode, ents)
				}
			}
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			ok.Add(1)
		}()
	}
	w.served(t, 82, neighbour, neighbourPW)
	wg.Wait()
	t.Logf("%d requests over 8 connections: %d ok, %d failed (%v)", n, ok.Load(), failed.Load(), firstErr.Load())
	if ok.Load() != n {
		t.Errorf("%d of %d requests failed: %v", failed.Load(), n, firstErr.Load())
	}
	// The 8 are open (idle, kept alive): a 9th from the same address is
	// refused.
	c := w.rawHTTP(t, 81)
	fmt.Fprintf(c, "GET /api/v1/quota HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a 9th connection from the address: %v %v, want 503", resp, err)
	}
	c.Close()
	during := runtime.NumGoroutine()
	if during <= base {
		t.Errorf("%d goroutines with 8 connections open, %d before: the count does not see them", during, base)
	}
	many.CloseIdleConnections()

	const tolerance = 5
	var g int
	if !waitFor(20*time.Second, func() bool {
		runtime.GC()
		g = runtime.NumGoroutine()
		return g <= base+tolerance
	}) {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines %d -> %d after the connections closed (+%d allowed):\n%s", base, g, tolerance, buf[:runtime.Stack(buf, true)])
	}
	t.Logf("goroutines %d before, %d with the 8 connections open, %d after", base, during, g)
}

// TestHTTPStalledBodiesEnd: requests whose body stops after its first
// byte, on every route that takes one (the login's, unauthenticated,
// included), hold their connection no longer than the transfer timeout
// (500 ms) allows: each connection is answered or closed, and closed,
// well before a client that never sends more would let it go.
func TestHTTPStalledBodiesEnd(t *testing.T) {
	w := newWebArena(t, newArena(t, func(s *server.Server) { s.TransferTimeout = 500 * time.Millisecond }))
	auth := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(attacker+":"+attackerPW)) + "\r\n"
	meta := "Tus-Resumable: 1.0.0\r\nUpload-Length: 100\r\nUpload-Metadata: path " + base64.StdEncoding.EncodeToString([]byte("/st.bin")) +
		",md5 " + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("0", 32))) + "\r\n"
	for _, tc := range []struct{ name, head string }{
		{"login", "POST /api/v1/login HTTP/1.1\r\nContent-Type: application/json\r\n"},
		{"login as a form", "POST /api/v1/login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"},
		{"logout", "POST /api/v1/logout HTTP/1.1\r\n"},
		{"mkdir", "POST /api/v1/mkdir/d HTTP/1.1\r\n" + auth},
		{"rename", "POST /api/v1/rename/top.txt?to=/t2.txt HTTP/1.1\r\n" + auth},
		{"rm", "DELETE /api/v1/files/top.txt HTTP/1.1\r\n" + auth},
		{"ls", "GET /api/v1/ls/ HTTP/1.1\r\n" + auth},
		{"tus create", "POST /api/v1/uploads/ HTTP/1.1\r\n" + auth + meta},
		{"tus create with a body", "POST /api/v1/uploads/ HTTP/1.1\r\nContent-Type: application/offset+octet-stream\r\n" + auth + meta},
		{"unknown route", "PUT /api/v1/nothing HTTP/1.1\r\n"},
		{"wrong password", "POST /api/v1/mkdir/e HTTP/1.1\r\nAuthorization: Basic eDp5\r\n"},
	} {
		w.reset(t)
		c := w.rawHTTP(t, 0)
		fmt.Fprintf(c, "%sHost: x\r\nContent-Length: 100\r\n\r\n{", tc.head)
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		start := time.Now()
		b, err := io.ReadAll(c)
		status, _, _ := strings.Cut(string(b), "\r\n")
		if err != nil {
			t.Errorf("%s with a stalled body: the connection is still open after %v (%v), having read %q", tc.name, time.Since(start).Round(time.Millisecond), err, status)
		} else {
			t.Logf("%s with a stalled body: %q, closed after %v", tc.name, status, time.Since(start).Round(time.Millisecond))
		}
		c.Close()
	}
	w.served(t, 90, neighbour, neighbourPW)
}
