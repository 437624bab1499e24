package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestBrowserOverHTTPS runs the web client over HTTPS with the server's own
// certificate (--tls auto), which the browser is told to accept: the login
// form gives a session cookie that is Secure, HttpOnly and SameSite=Strict
// (the page's script cannot read it), and a file chosen with the picker is
// stored with its MD5 and mtime.
func TestBrowserOverHTTPS(t *testing.T) {
	ws := startWebServer(t, "", "--tls", "auto")
	if !strings.HasPrefix(ws.direct, "https://") {
		t.Fatalf("with --tls auto the web client is at %s", ws.direct)
	}
	src := filepath.Join(t.TempDir(), "small.bin")
	mtime := time.Date(2020, 3, 4, 5, 6, 7, 0, time.UTC)
	sum := writeDated(t, src, 70001, mtime)

	b := newTab(t, chromedp.Flag("ignore-certificate-errors", true))
	b.login(ws.direct, ws.user, ws.password)
	if got := b.str(`location.protocol`); got != "https:" {
		t.Fatalf("the page is served over %q", got)
	}
	b.shot("logged-in")

	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{ws.direct + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	var session *network.Cookie
	for _, c := range res.Cookies {
		t.Logf("cookie %s: secure %v, httpOnly %v, sameSite %q, path %q", c.Name, c.Secure, c.HTTPOnly, c.SameSite, c.Path)
		if c.Name == "ftpx_session" {
			session = c
		}
	}
	if session == nil {
		t.Fatalf("no ftpx_session cookie after the login (%d cookies)", len(res.Cookies))
	}
	if session.Value == "" || !session.Secure || !session.HTTPOnly || session.SameSite != network.CookieSameSiteStrict {
		t.Errorf("ftpx_session: value %d bytes, Secure %v, HttpOnly %v, SameSite %q; want a value, Secure, HttpOnly, Strict",
			len(session.Value), session.Secure, session.HTTPOnly, session.SameSite)
	}
	if got := b.str(`document.cookie`); strings.Contains(got, "ftpx_session") {
		t.Errorf("the page's script reads the session cookie: %q", got)
	}

	b.choose("choose small.bin", src)
	b.waitUploaded("small.bin")
	checkStored(t, filepath.Join(ws.home, "small.bin"), sum, mtime)
	if got := b.text(row("small.bin") + " td.size"); got != sizeText(70001) {
		t.Errorf("small.bin's size reads %q, want %q", got, sizeText(70001))
	}
	b.checkNoneSaved()
	b.shot("uploaded")
}
