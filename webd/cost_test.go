package webd_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"testing"

	"ftpx/server"
)

// TestIdleSessionsCostNoGoroutines logs in 2,000 web sessions and checks
// that, their connections closed, the server keeps no goroutine for them
// and a few hundred bytes each.
func TestIdleSessionsCostNoGoroutines(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000 logins")
	}
	const n = 2000
	// The test server's log is kept in memory: discard it here, so that
	// what is measured is the sessions.
	w := newWeb(t, func(s *server.Server) { s.Logger = slog.New(slog.DiscardHandler) })
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	hc := &http.Client{Transport: tr}
	body := jsonBody(map[string]string{"user": alex, "password": alexPW})
	login := func() string {
		resp, err := hc.Post(w.base+"/api/v1/login", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Error(err)
			return ""
		}
		resp.Body.Close()
		for _, c := range resp.Cookies() {
			if c.Name == "ftpx_session" {
				return c.Value
			}
		}
		t.Errorf("login: %d, no cookie", resp.StatusCode)
		return ""
	}
	works := func(token string) bool {
		req, _ := http.NewRequest("GET", w.base+"/api/v1/session", nil)
		req.AddCookie(&http.Cookie{Name: "ftpx_session", Value: token})
		resp, err := hc.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}
	settle := func() (goroutines int, heap uint64) {
		hc.CloseIdleConnections()
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return runtime.NumGoroutine(), ms.HeapAlloc
	}
	warm := login() // the first login's one-time costs (the home, pools)
	tokens := make([]string, n)
	g0, h0 := settle()
	var wg sync.WaitGroup
	for k := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := k; i < n; i += 4 {
				tokens[i] = login()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	var g1 int
	var h1 uint64
	waitFor(t, "the server's connection goroutines to end", func() bool {
		g1, h1 = settle()
		return g1 <= g0+2
	})
	perSession := (int64(h1) - int64(h0)) / n
	t.Logf("%d sessions: goroutines %d -> %d; heap %d -> %d bytes, %d bytes per session (the test's own copy of each 43-byte token included)",
		n, g0, g1, h0, h1, perSession)
	if perSession > 4096 {
		t.Errorf("%d bytes of heap per idle session, want at most 4096", perSession)
	}
	for _, tok := range []string{warm, tokens[0], tokens[n/2], tokens[n-1]} {
		if !works(tok) {
			t.Errorf("session %.8s... no longer works", tok)
		}
	}
	runtime.KeepAlive(tokens)
}
