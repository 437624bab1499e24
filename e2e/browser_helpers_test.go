package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// The browser tests drive the web client in a real Chromium (headless,
// through the DevTools protocol) against a real ftpx-server serving it
// with --http-listen. They skip where no Chromium is installed.

// webServer is an ftpx-server serving the web client, with one user.
type webServer struct {
	d              *daemon
	direct         string // http://127.0.0.1:PORT, the server itself
	user, password string
	home           string // the user's home on disk (a local root)
}

var httpAddrRE = regexp.MustCompile(`\bhttp_addr=(127\.0\.0\.1:\d+)`)

// startWebServer runs ftpx-server with the web front end on a free port,
// for the user "web" with quota (as `user add --quota` takes it; "" for
// none), with the extra flags.
func startWebServer(t *testing.T, quota string, extra ...string) *webServer {
	t.Helper()
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	ws := &webServer{user: "web", password: "web pass 1"}
	addUser(t, accounts, ws.user, ws.password, quota)
	ws.d = startDaemon(t, accounts, append([]string{"--http-listen", "127.0.0.1:0"}, extra...)...)
	ws.home = filepath.Join(ws.d.root, ws.user)
	ws.direct = "http://" + waitHTTPAddr(t, ws.d)
	return ws
}

// waitHTTPAddr returns the address the daemon logs for its web front end.
func waitHTTPAddr(t *testing.T, d *daemon) string {
	t.Helper()
	for range 300 {
		if m := httpAddrRE.FindStringSubmatch(d.logText()); m != nil {
			return m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the server did not log http_addr:\n%s", d.logText())
	return ""
}

// uploadOffset asks the server (HTTP Basic, tus HEAD) how many bytes of
// the upload at path (/api/v1/uploads/ID) it holds; -1 when it has none.
func (ws *webServer) uploadOffset(t *testing.T, path string) int64 {
	t.Helper()
	for range 30 {
		req, err := http.NewRequest(http.MethodHead, ws.direct+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(ws.user, ws.password)
		req.Header.Set("Tus-Resumable", "1.0.0")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		switch res.StatusCode {
		case http.StatusOK:
			n, err := strconv.ParseInt(res.Header.Get("Upload-Offset"), 10, 64)
			if err != nil {
				t.Fatalf("HEAD %s: Upload-Offset %q", path, res.Header.Get("Upload-Offset"))
			}
			return n
		case http.StatusNotFound:
			return -1
		case http.StatusLocked: // the cut PATCH is still being put away
			time.Sleep(time.Second)
			continue
		}
		t.Fatalf("HEAD %s: %s", path, res.Status)
	}
	t.Fatalf("HEAD %s: still locked after 30 s", path)
	return 0
}

// tab is one browser (its own profile) with one tab, for one test.
type tab struct {
	t     *testing.T
	ctx   context.Context
	shots string // where the screenshots go
	n     int    // screenshots taken
}

// chromium finds the browser: $FTPX_CHROMIUM, else chromium on $PATH.
func chromium() (string, error) {
	if p := os.Getenv("FTPX_CHROMIUM"); p != "" {
		return p, nil
	}
	var err error
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		var p string
		if p, err = exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", err
}

// newTab starts a headless Chromium with a fresh profile; it is stopped
// when the test ends. Screenshots go under $FTPX_ARTEFACTS (default: the
// test's temporary directory), in a folder named after the test.
func newTab(t *testing.T) *tab {
	t.Helper()
	path, err := chromium()
	if err != nil {
		t.Skipf("no Chromium to run the web client in (install chromium or set FTPX_CHROMIUM): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 800),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start %s: %v", path, err)
	}
	watchConsole(t, ctx)
	dir := os.Getenv("FTPX_ARTEFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	b := &tab{t: t, ctx: ctx, shots: filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_"))}
	if err := os.MkdirAll(b.shots, 0o755); err != nil {
		t.Fatal(err)
	}
	return b
}

// watchConsole fails the test, when it ends, if the page threw an
// exception or the browser blocked something by the Content-Security-
// Policy. (Failed requests while a test cuts the network are expected.)
func watchConsole(t *testing.T, ctx context.Context) {
	var mu sync.Mutex
	var problems []string
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
				mu.Lock()
				problems = append(problems, fmt.Sprintf("%s:%d: %s", m.URL, m.Line+1, m))
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { // before the browser stops: cleanups run last first
		mu.Lock()
		defer mu.Unlock()
		for _, p := range problems {
			t.Errorf("the page's console: %s", p)
		}
	})
}

// shot saves a screenshot of the whole page as NN-name.png.
func (b *tab) shot(name string) {
	b.n++
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.n, name)), buf, 0o644); err != nil {
		b.t.Log(err)
	}
}

// do runs steps; a failure is fatal, after a screenshot.
func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.fail(what, err)
	}
}

// wait waits until the JavaScript expression is true in the page.
func (b *tab) wait(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Minute)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingTimeout(100*time.Second), chromedp.WithPollingInterval(25*time.Millisecond)))
	if err != nil {
		b.fail("wait for "+what, err)
	}
}

// fail ends the test with a screenshot and what the page shows.
func (b *tab) fail(what string, err error) {
	b.t.Helper()
	b.shot("failed")
	page, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`JSON.stringify({
		message: (document.querySelector('#message') || {}).textContent,
		login: (document.querySelector('#login-error') || {}).textContent,
		uploads: Array.from(document.querySelectorAll('li.upload')).map(l =>
			[l.dataset.name, l.dataset.state, l.dataset.offset, l.querySelector('.state').textContent].join(' | ')),
	})`))
	b.t.Fatalf("%s: %v\npage: %s", what, err, page)
}

// str evaluates a JavaScript expression (awaited when a promise) to a string.
func (b *tab) str(expr string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fail(expr, err)
	}
	return s
}

// text returns an element's textContent.
func (b *tab) text(selector string) string {
	b.t.Helper()
	return b.str(`document.querySelector(` + strconv.Quote(selector) + `).textContent`)
}

// login opens the page at base and logs in through the form.
func (b *tab) login(base, user, password string) {
	b.t.Helper()
	b.do("open the page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("login-form")))
	b.do("log in",
		chromedp.SendKeys(chromedp.ID("login-user"), user),
		chromedp.SendKeys(chromedp.ID("login-password"), password),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("app")))
}

// row is the CSS selector of the listing's row for name.
func row(name string) string { return `#listing tbody tr[data-name=` + strconv.Quote(name) + `]` }

// uploadLine is the CSS selector of the upload line for name.
func uploadLine(name string) string {
	return `#uploads li.upload[data-name=` + strconv.Quote(name) + `]`
}

// q quotes a selector for JavaScript.
func q(selector string) string { return strconv.Quote(selector) }

// downloadsTo lets the browser save downloads in dir, under their GUIDs.
func (b *tab) downloadsTo(dir string) {
	b.t.Helper()
	_, err := chromedp.CallBrowser(b.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: new(true)})
	if err != nil {
		b.t.Fatal(err)
	}
}

// download clicks the selected link and returns the path of the file the
// browser saved.
func (b *tab) download(dir, selector string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	b.do("click "+selector, chromedp.Click(chromedp.CSS(selector)))
	for ev, err := range progress {
		if err != nil {
			b.fail("download "+selector, err)
		}
		switch ev.State {
		case browser.DownloadProgressStateCompleted:
			return filepath.Join(dir, ev.GUID)
		case browser.DownloadProgressStateCanceled:
			b.fail("download "+selector, fmt.Errorf("the browser cancelled it"))
		}
	}
	return ""
}
