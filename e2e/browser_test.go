package e2e

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// sizeText is the page's way of writing a size: B below 1 KB, else one
// decimal in KB, MB, GB or TB (powers of 1024).
func sizeText(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n) / 1024
	units := []string{"KB", "MB", "GB", "TB"}
	i := 0
	for i < len(units)-1 && v >= 1023.95 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// quotaText is what #quota says for the user's usage, asked of the API.
func (ws *webServer) quotaText(t *testing.T) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ws.direct+"/api/v1/quota", nil)
	req.SetBasicAuth(ws.user, ws.password)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var q struct{ Used, Quota int64 }
	if err := json.NewDecoder(res.Body).Decode(&q); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/quota: %s %v", res.Status, err)
	}
	if q.Quota < 0 {
		return sizeText(q.Used) + " used"
	}
	return sizeText(q.Used) + " used of " + sizeText(q.Quota)
}

// pattern is n bytes the page can make too: byte i is i*7+3.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

func md5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// writeDated writes n random bytes to path with the given mtime, and
// returns their MD5.
func writeDated(t *testing.T, path string, n int, mtime time.Time) string {
	t.Helper()
	sum := writeRandom(t, path, n)
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	return sum
}

// checkStored fails unless the home holds name with the MD5 and mtime.
func checkStored(t *testing.T, path, sum string, mtime time.Time) {
	t.Helper()
	if got := md5File(t, path); got != sum {
		t.Errorf("%s: MD5 %s, want %s", path, got, sum)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(mtime.Truncate(time.Second)) {
		t.Errorf("%s: mtime %v, want %v", path, fi.ModTime(), mtime.Truncate(time.Second))
	}
}

// savedUploads is what the page keeps in localStorage to resume uploads:
// their URLs.
func (b *tab) savedUploads() []string {
	s := b.str(`Object.keys(localStorage).filter(k => k.startsWith('ftpx.upload ')).map(k => JSON.parse(localStorage.getItem(k)).url).join(' ')`)
	return strings.Fields(s)
}

func TestBrowserLogInBrowseAndManage(t *testing.T) {
	ws := startWebServer(t, "1GB")
	when := time.Date(2024, 2, 3, 4, 5, 6, 0, time.Local)
	if err := os.MkdirAll(filepath.Join(ws.home, "docs", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws.home, "a.txt"), []byte("hello world\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(filepath.Join(ws.home, "a.txt"), when, when)
	innerSum := writeDated(t, filepath.Join(ws.home, "docs", "inner.bin"), 1536<<10, when)
	writeDated(t, filepath.Join(ws.home, "docs", "sub", "deep.txt"), 100, when)

	b := newTab(t)
	b.do("open the page", chromedp.Navigate(ws.direct+"/"), chromedp.WaitVisible(chromedp.ID("login-form")))
	b.shot("login")

	// A wrong password leaves the form up, saying so.
	b.do("log in with a wrong password",
		chromedp.SendKeys(chromedp.ID("login-user"), ws.user),
		chromedp.SendKeys(chromedp.ID("login-password"), "not the password"),
		chromedp.Click(chromedp.ID("login-submit")))
	b.wait("the login error", `document.querySelector('#login-error').textContent !== ''`)
	if got := b.text("#login-error"); got != "wrong username or password" {
		t.Errorf("#login-error says %q", got)
	}
	if b.str(`String(document.querySelector('#app').hidden && !document.querySelector('#login').hidden)`) != "true" {
		t.Error("after a wrong password the files are shown, or the form is hidden")
	}
	b.shot("wrong-password")

	b.do("log in", chromedp.SendKeys(chromedp.ID("login-password"), ws.password), chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("app")))
	b.wait("the listing", `document.querySelector(`+q(row("a.txt"))+`) && document.querySelector(`+q(row("docs"))+`)`)
	b.wait("the quota", `document.querySelector('#quota').textContent !== ''`)
	if got := b.text("#whoami"); got != ws.user {
		t.Errorf("#whoami says %q, want %q", got, ws.user)
	}
	if got, want := b.text("#quota"), ws.quotaText(t); got != want {
		t.Errorf("#quota says %q, want %q", got, want)
	}
	if b.str(`String(document.querySelector('#login').hidden)`) != "true" {
		t.Error("the login form is still shown")
	}
	for _, c := range []struct{ name, dir, size, mtime string }{
		{"a.txt", "", "12 B", when.Format("2006-01-02 15:04")},
		{"docs", "1", "-", ""},
	} {
		sel := q(row(c.name))
		got := b.str(`(r => [r.dataset.dir || '', r.querySelector('td.size').textContent, r.querySelector('td.mtime').textContent].join('|'))(document.querySelector(` + sel + `))`)
		parts := strings.Split(got, "|")
		if parts[0] != c.dir || parts[1] != c.size || c.mtime != "" && parts[2] != c.mtime {
			t.Errorf("row %s: data-dir %q, size %q, mtime %q; want %q, %q, %q", c.name, parts[0], parts[1], parts[2], c.dir, c.size, c.mtime)
		}
	}
	if got := b.str(`String(document.querySelectorAll(` + q(row("docs")+" a.download") + `).length)`); got != "0" {
		t.Errorf("a directory has %s download links", got)
	}
	b.shot("listing")

	// Into docs, then docs/sub, and back by the breadcrumb.
	b.do("open docs", chromedp.Click(chromedp.CSS(row("docs")+" a.open")))
	b.wait("docs' listing", `document.querySelector(`+q(row("inner.bin"))+`) && document.querySelector(`+q(row("sub")+`[data-dir="1"]`)+`)`)
	if got := b.text(row("inner.bin") + " td.size"); got != "1.5 MB" {
		t.Errorf("inner.bin's size reads %q, want 1.5 MB", got)
	}
	b.do("open sub", chromedp.Click(chromedp.CSS(row("sub")+" a.open")))
	b.wait("sub's listing", `document.querySelector(`+q(row("deep.txt"))+`)`)
	if got := b.str(`Array.from(document.querySelectorAll('#path a.crumb')).map(a => a.dataset.path).join(' ')`); got != "/ /docs /docs/sub" {
		t.Errorf("the breadcrumb holds %q", got)
	}
	b.shot("sub")
	b.do("back to docs", chromedp.Click(chromedp.CSS(`#path a.crumb[data-path="/docs"]`)))
	b.wait("docs' listing again", `document.querySelector(`+q(row("inner.bin"))+`) && !document.querySelector(`+q(row("deep.txt"))+`)`)

	// Download inner.bin by its link: the browser saves the same bytes.
	if got := b.str(`document.querySelector(` + q(row("inner.bin")+" a.download") + `).getAttribute('href')`); got != "/api/v1/files/docs/inner.bin" {
		t.Errorf("inner.bin's download link is %q", got)
	}
	dl := t.TempDir()
	b.downloadsTo(dl)
	if got := md5File(t, b.download(dl, row("inner.bin")+" a.download")); got != innerSum {
		t.Errorf("the downloaded inner.bin has MD5 %s, want %s", got, innerSum)
	}
	b.do("home by the breadcrumb", chromedp.Click(chromedp.CSS(`#path a.crumb[data-path="/"]`)))
	b.wait("the home's listing", `document.querySelector(`+q(row("a.txt"))+`) && !document.querySelector(`+q(row("inner.bin"))+`)`)

	// New folder; the same name again is refused on the page.
	b.do("new folder", chromedp.SendKeys(chromedp.ID("mkdir-name"), "new folder"), chromedp.Click(chromedp.ID("mkdir-submit")))
	b.wait("the new folder's row", `document.querySelector(`+q(row("new folder")+`[data-dir="1"]`)+`)`)
	if fi, err := os.Stat(filepath.Join(ws.home, "new folder")); err != nil || !fi.IsDir() {
		t.Errorf("new folder on disk: %v", err)
	}
	b.do("the same folder again", chromedp.SendKeys(chromedp.ID("mkdir-name"), "new folder"), chromedp.Click(chromedp.ID("mkdir-submit")))
	b.wait("the error", `document.querySelector('#message').textContent !== ''`)
	b.shot("mkdir-exists")
	t.Logf("a second mkdir says: %s", b.text("#message"))

	// Rename: Escape cancels, Enter renames (and clears the last error).
	b.do("rename, then Escape", chromedp.Click(chromedp.CSS(row("a.txt")+" button.rename")),
		chromedp.WaitVisible(chromedp.CSS(row("a.txt")+" input.rename-input")),
		chromedp.SendKeys(chromedp.CSS("input.rename-input"), "\x1b"))
	b.wait("the rename cancelled", `!document.querySelector('input.rename-input') && document.querySelector(`+q(row("a.txt"))+`)`)
	b.do("rename", chromedp.Click(chromedp.CSS(row("a.txt")+" button.rename")),
		chromedp.WaitVisible(chromedp.CSS(row("a.txt")+" input.rename-input")))
	if got := b.str(`document.querySelector('input.rename-input').value`); got != "a.txt" {
		t.Errorf("the rename field holds %q", got)
	}
	b.shot("rename")
	b.do("type the new name", chromedp.SetValue(chromedp.CSS("input.rename-input"), "b c.txt"),
		chromedp.SendKeys(chromedp.CSS("input.rename-input"), "\r"))
	b.wait("the renamed row", `document.querySelector(`+q(row("b c.txt"))+`) && !document.querySelector(`+q(row("a.txt"))+`)`)
	if got, err := os.ReadFile(filepath.Join(ws.home, "b c.txt")); err != nil || string(got) != "hello world\n" {
		t.Errorf("b c.txt on disk: %q %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(ws.home, "a.txt")); !os.IsNotExist(err) {
		t.Errorf("a.txt is still on disk: %v", err)
	}
	if got := b.text("#message"); got != "" {
		t.Errorf("#message still says %q after a rename that worked", got)
	}

	// Delete asks once more on the page; a directory goes with its tree.
	for _, name := range []string{"b c.txt", "docs"} {
		b.do("delete "+name, chromedp.Click(chromedp.CSS(row(name)+" button.delete")),
			chromedp.WaitVisible(chromedp.CSS(row(name)+" button.delete-confirm")))
		if got := b.text(row(name) + " button.delete-confirm"); got != "really delete?" {
			t.Errorf("the confirmation reads %q", got)
		}
		if _, err := os.Stat(filepath.Join(ws.home, name)); err != nil {
			t.Errorf("%s went before the confirmation: %v", name, err)
		}
		b.shot("delete-" + name)
		b.do("really delete "+name, chromedp.Click(chromedp.CSS(row(name)+" button.delete-confirm")))
		b.wait(name+" gone", `!document.querySelector(`+q(row(name))+`)`)
		if _, err := os.Stat(filepath.Join(ws.home, name)); !os.IsNotExist(err) {
			t.Errorf("%s is still on disk: %v", name, err)
		}
	}
	b.wait("the quota after the deletes", `document.querySelector('#quota').textContent === `+strconv.Quote(ws.quotaText(t)))

	b.do("log out", chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("login-form")))
	if got := b.str(`fetch('/api/v1/session').then(r => String(r.status))`); got != "401" {
		t.Errorf("after logout GET /api/v1/session answers %s", got)
	}
	b.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("login-form")))
	if b.str(`String(document.querySelector('#app').hidden)`) != "true" {
		t.Error("after logout and a reload the files are shown")
	}
	b.shot("logged-out")
}

func TestBrowserUploadsByPickerAndDrop(t *testing.T) {
	ws := startWebServer(t, "1GB")
	if err := os.MkdirAll(filepath.Join(ws.home, "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	sw := newNetSwitch(t, strings.TrimPrefix(ws.direct, "http://"))
	src := t.TempDir()
	first, second := filepath.Join(src, "first.bin"), filepath.Join(src, "second é+%.bin")
	t1, t2 := time.Date(2023, 5, 6, 7, 8, 9, 0, time.UTC), time.Date(2022, 1, 2, 3, 4, 5, 0, time.UTC)
	sum1, sum2 := writeDated(t, first, 16<<20, t1), writeDated(t, second, 3<<20+7, t2)

	b := newTab(t)
	b.login("http://"+sw.addr(), ws.user, ws.password)
	b.do("open in", chromedp.Click(chromedp.CSS(row("in")+" a.open")))
	b.wait("in's listing", `document.querySelector('#path a.crumb[data-path="/in"]') && document.querySelector('#empty') && !document.querySelector('#empty').hidden`)

	// Two files chosen at once, sent one after the other; the first is
	// slowed so that its bar is seen moving.
	sw.setRate(4 << 20)
	b.do("choose two files", chromedp.SetUploadFiles(chromedp.ID("file-input"), []string{first, second}))
	bar := q(uploadLine("first.bin") + " progress")
	b.wait("first.bin under way", `(p => p && p.closest('li').dataset.state === 'uploading' && p.value > 0 && p.value < p.max)(document.querySelector(`+bar+`))`)
	if got := b.str(`document.querySelector(` + q(uploadLine("second é+%.bin")) + `).dataset.state`); got != "queued" {
		t.Errorf("while first.bin is sent, second's state is %q, want queued", got)
	}
	seen := b.str(`String(document.querySelector(` + bar + `).value)`)
	b.wait("the bar moving", `document.querySelector(`+bar+`).value > `+seen)
	b.shot("uploading")
	sw.setRate(0)
	for _, name := range []string{"first.bin", "second é+%.bin"} {
		b.wait(name+" done", `document.querySelector(`+q(uploadLine(name)+`[data-state="done"]`)+`) && document.querySelector(`+q(row(name))+`)`)
		if got := b.str(`document.querySelector(` + q(uploadLine(name)) + `).dataset.offset`); got != "0" {
			t.Errorf("%s: data-offset %s for a fresh upload", name, got)
		}
	}
	checkStored(t, filepath.Join(ws.home, "in", "first.bin"), sum1, t1)
	checkStored(t, filepath.Join(ws.home, "in", "second é+%.bin"), sum2, t2)
	if got := b.text(row("first.bin") + " td.size"); got != "16.0 MB" {
		t.Errorf("first.bin's size reads %q", got)
	}
	b.wait("the quota counting them", `document.querySelector('#quota').textContent === `+strconv.Quote(ws.quotaText(t)))
	b.shot("picked")

	// A drop on the zone: a File made in the page.
	b.do("drop a file", chromedp.Evaluate[chromedp.Void](`(() => {
		const b = new Uint8Array(1048581);
		for (let i = 0; i < b.length; i++) b[i] = (i * 7 + 3) & 255;
		const dt = new DataTransfer();
		dt.items.add(new File([b], 'dropped.bin', {lastModified: 1700000000123}));
		const zone = document.querySelector('#drop-zone');
		zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, bubbles: true, cancelable: true}));
		zone.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
	})()`))
	b.wait("dropped.bin done", `document.querySelector(`+q(uploadLine("dropped.bin")+`[data-state="done"]`)+`) && document.querySelector(`+q(row("dropped.bin"))+`)`)
	checkStored(t, filepath.Join(ws.home, "in", "dropped.bin"), md5Hex(pattern(1048581)), time.Unix(1700000000, 0))
	if left := b.savedUploads(); len(left) != 0 {
		t.Errorf("the page still keeps uploads to resume: %v", left)
	}
	b.shot("dropped")
}

func TestBrowserUploadResumesAfterNetworkCut(t *testing.T) {
	ws := startWebServer(t, "1GB")
	sw := newNetSwitch(t, strings.TrimPrefix(ws.direct, "http://"))
	src := t.TempDir()
	big := filepath.Join(src, "big.bin")
	mtime := time.Date(2021, 8, 9, 10, 11, 12, 0, time.UTC)
	const size = 24 << 20
	sum := writeDated(t, big, size, mtime)

	b := newTab(t)
	b.login("http://"+sw.addr(), ws.user, ws.password)
	sw.setRate(3 << 20)
	b.do("choose big.bin", chromedp.SetUploadFiles(chromedp.ID("file-input"), []string{big}))
	bar := q(uploadLine("big.bin") + " progress")
	b.wait("a third sent", `(p => p && p.closest('li').dataset.state === 'uploading' && p.value > p.max / 3)(document.querySelector(`+bar+`))`)
	b.shot("uploading")

	// The network goes: the page retries three times, then gives up.
	sw.setDown(true)
	b.wait("the upload interrupted", `document.querySelector(`+q(uploadLine("big.bin")+`[data-state="interrupted"]`)+`)`)
	if got := b.text(uploadLine("big.bin") + " .state"); got != "interrupted: choose the file again to resume" {
		t.Errorf("the interrupted upload says %q", got)
	}
	b.shot("interrupted")
	saved := b.savedUploads()
	if len(saved) != 1 {
		t.Fatalf("the page keeps %d uploads to resume: %v", len(saved), saved)
	}
	held := ws.uploadOffset(t, saved[0])
	if held <= 0 || held >= size {
		t.Fatalf("the server holds %d bytes of %d", held, size)
	}
	t.Logf("the server holds %d bytes of %d after the cut", held, size)

	// The network is back; after a reload the same file is chosen again,
	// and the upload goes on from where the server stopped.
	sw.setRate(0)
	sw.setDown(false)
	b.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("app")))
	b.do("choose big.bin again", chromedp.SetUploadFiles(chromedp.ID("file-input"), []string{big}))
	b.wait("the upload resumed", `(l => l && l.dataset.offset !== '0')(document.querySelector(`+q(uploadLine("big.bin"))+`))`)
	if got := b.str(`document.querySelector(` + q(uploadLine("big.bin")) + `).dataset.offset`); got != strconv.FormatInt(held, 10) {
		t.Errorf("the upload resumed from %s, the server held %d", got, held)
	}
	b.wait("big.bin done", `document.querySelector(`+q(uploadLine("big.bin")+`[data-state="done"]`)+`) && document.querySelector(`+q(row("big.bin"))+`)`)
	checkStored(t, filepath.Join(ws.home, "big.bin"), sum, mtime)
	if left := b.savedUploads(); len(left) != 0 {
		t.Errorf("the page still keeps uploads to resume: %v", left)
	}
	if got := ws.uploadOffset(t, saved[0]); got != -1 {
		t.Errorf("the finished upload still answers HEAD with %d", got)
	}
	b.shot("resumed")
}

func TestBrowserChangedFileFailsItsMD5AndNothingIsStored(t *testing.T) {
	ws := startWebServer(t, "1GB")
	sw := newNetSwitch(t, strings.TrimPrefix(ws.direct, "http://"))
	src := filepath.Join(t.TempDir(), "notes.bin")
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	const size = 12 << 20
	writeDated(t, src, size, mtime)

	b := newTab(t)
	b.login("http://"+sw.addr(), ws.user, ws.password)
	sw.setRate(2 << 20)
	b.do("choose notes.bin", chromedp.SetUploadFiles(chromedp.ID("file-input"), []string{src}))
	b.wait("a third sent", `(p => p && p.closest('li').dataset.state === 'uploading' && p.value > p.max / 3)(document.querySelector(`+q(uploadLine("notes.bin")+" progress")+`))`)
	sw.setDown(true)
	b.wait("the upload interrupted", `document.querySelector(`+q(uploadLine("notes.bin")+`[data-state="interrupted"]`)+`)`)
	saved := b.savedUploads()
	if len(saved) != 1 {
		t.Fatalf("the page keeps %d uploads to resume: %v", len(saved), saved)
	}
	held := ws.uploadOffset(t, saved[0])
	if held <= 0 || held >= size {
		t.Fatalf("the server holds %d bytes of %d", held, size)
	}

	// The file changes past what the server holds, with the same size and
	// mtime: the resumed upload no longer matches the MD5 it began with.
	f, err := os.OpenFile(src, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("changed"), size-100); err != nil {
		t.Fatal(err)
	}
	f.Close()
	os.Chtimes(src, mtime, mtime)
	sw.setRate(0)
	sw.setDown(false)
	b.do("choose notes.bin again", chromedp.SetUploadFiles(chromedp.ID("file-input"), []string{src}))
	failed := q(uploadLine("notes.bin") + `[data-state="failed"]`)
	b.wait("the upload failed", `document.querySelector(`+failed+`)`)
	b.shot("md5-mismatch")
	if got := b.text(uploadLine("notes.bin") + `[data-state="failed"] .state`); got != "failed: MD5 mismatch: nothing was stored" {
		t.Errorf("the failed upload says %q", got)
	}
	if got := b.str(`document.querySelector(` + failed + `).dataset.offset`); got != strconv.FormatInt(held, 10) {
		t.Errorf("the second try began at %s, the server held %d", got, held)
	}
	if _, err := os.Stat(filepath.Join(ws.home, "notes.bin")); !os.IsNotExist(err) {
		t.Errorf("notes.bin was stored: %v", err)
	}
	if left := b.savedUploads(); len(left) != 0 {
		t.Errorf("the page still keeps uploads to resume: %v", left)
	}
	if got := ws.uploadOffset(t, saved[0]); got != -1 {
		t.Errorf("the failed upload still answers HEAD with %d", got)
	}
	if got := b.text("#message"); !strings.Contains(got, "MD5 mismatch") {
		t.Errorf("#message says %q", got)
	}
}

func TestBrowserSessionEndShowsTheLoginForm(t *testing.T) {
	ws := startWebServer(t, "", "--idle-timeout", "2s")
	b := newTab(t)
	b.login(ws.direct, ws.user, ws.password)
	b.wait("the listing", `document.querySelector('#empty') && !document.querySelector('#empty').hidden`)
	time.Sleep(3 * time.Second) // the session's idle timeout passes
	b.do("new folder after the timeout", chromedp.SendKeys(chromedp.ID("mkdir-name"), "late"), chromedp.Click(chromedp.ID("mkdir-submit")))
	b.wait("the login form", `!document.querySelector('#login').hidden && document.querySelector('#app').hidden`)
	b.shot("session-ended")
	if got := b.text("#login-error"); got == "" {
		t.Error("the login form does not say why it is back")
	}
	if _, err := os.Stat(filepath.Join(ws.home, "late")); !os.IsNotExist(err) {
		t.Errorf("the folder was made without a session: %v", err)
	}
	b.do("log in again", chromedp.SendKeys(chromedp.ID("login-password"), ws.password), chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("app")))
	if got := b.text("#whoami"); got != ws.user {
		t.Errorf("#whoami says %q", got)
	}
}

func TestBrowserUploadWhoseLastAnswerIsLostEndsDone(t *testing.T) {
	ws := startWebServer(t, "")
	sw := newNetSwitch(t, strings.TrimPrefix(ws.direct, "http://"))
	src := filepath.Join(t.TempDir(), "answer.bin")
	mtime := time.Date(2018, 7, 6, 5, 4, 3, 0, time.UTC)
	sum := writeDated(t, src, 8<<20, mtime)

	b := newTab(t)
	b.login("http://"+sw.addr(), ws.user, ws.password)
	sw.setRate(4 << 20)
	b.do("choose answer.bin", chromedp.SetUploadFiles(chromedp.ID("file-input"), []string{src}))
	b.wait("half sent", `(p => p && p.closest('li').dataset.state === 'uploading' && p.value > p.max / 2)(document.querySelector(`+q(uploadLine("answer.bin")+" progress")+`))`)

	// The server stores the file, but its answer never reaches the page.
	sw.setMuted(true)
	for i := 0; !strings.Contains(ws.d.logText(), "put done"); i++ {
		if i == 600 {
			t.Fatalf("the server did not finish the upload:\n%s", ws.d.logText())
		}
		time.Sleep(50 * time.Millisecond)
	}
	sw.setDown(true)
	sw.setDown(false)
	sw.setMuted(false)
	b.wait("answer.bin settled", `(l => l.dataset.state === 'done' || l.dataset.state === 'failed')(document.querySelector(`+q(uploadLine("answer.bin"))+`))`)
	if got := b.text(uploadLine("answer.bin") + " .state"); got != "done" {
		t.Errorf("the upload whose answer was lost says %q", got)
	}
	checkStored(t, filepath.Join(ws.home, "answer.bin"), sum, mtime)
	if left := b.savedUploads(); len(left) != 0 {
		t.Errorf("the page still keeps uploads to resume: %v", left)
	}
	b.shot("done")
}

func TestBrowserUploadOverQuotaRefusedAtCreation(t *testing.T) {
	ws := startWebServer(t, "1MB")
	src := filepath.Join(t.TempDir(), "toobig.bin")
	writeRandom(t, src, 2<<20)

	b := newTab(t)
	b.login(ws.direct, ws.user, ws.password)
	b.do("choose toobig.bin", chromedp.SetUploadFiles(chromedp.ID("file-input"), []string{src}))
	b.wait("the upload failed", `document.querySelector(`+q(uploadLine("toobig.bin")+`[data-state="failed"]`)+`)`)
	b.shot("over-quota")
	got := b.text(uploadLine("toobig.bin") + " .state")
	if !strings.HasPrefix(got, "failed: ") || !strings.Contains(strings.ToLower(got), "quota") {
		t.Errorf("the refused upload says %q", got)
	}
	if msg := b.text("#message"); !strings.Contains(msg, "toobig.bin") {
		t.Errorf("#message says %q", msg)
	}
	if _, err := os.Stat(filepath.Join(ws.home, "toobig.bin")); !os.IsNotExist(err) {
		t.Errorf("toobig.bin was stored: %v", err)
	}
	if left := b.savedUploads(); len(left) != 0 {
		t.Errorf("the page keeps the refused upload to resume: %v", left)
	}
}

func TestBrowserUploadCancelledIsGivenUpOnTheServer(t *testing.T) {
	ws := startWebServer(t, "")
	sw := newNetSwitch(t, strings.TrimPrefix(ws.direct, "http://"))
	src := filepath.Join(t.TempDir(), "unwanted.bin")
	writeRandom(t, src, 16<<20)

	b := newTab(t)
	b.login("http://"+sw.addr(), ws.user, ws.password)
	sw.setRate(2 << 20)
	b.do("choose unwanted.bin", chromedp.SetUploadFiles(chromedp.ID("file-input"), []string{src}))
	b.wait("under way", `(p => p && p.closest('li').dataset.state === 'uploading' && p.value > 0 && p.value < p.max)(document.querySelector(`+q(uploadLine("unwanted.bin")+" progress")+`))`)
	saved := b.savedUploads()
	if len(saved) != 1 {
		t.Fatalf("the page keeps %d uploads to resume: %v", len(saved), saved)
	}
	b.do("cancel", chromedp.Click(chromedp.CSS(uploadLine("unwanted.bin")+" button.cancel")))
	b.wait("the upload cancelled", `document.querySelector(`+q(uploadLine("unwanted.bin")+`[data-state="failed"]`)+`)`)
	if got := b.text(uploadLine("unwanted.bin") + " .state"); got != "cancelled" {
		t.Errorf("the cancelled upload says %q", got)
	}
	sw.setRate(0)
	for i := 0; ws.uploadOffset(t, saved[0]) != -1; i++ { // the DELETE follows the click
		if i == 100 {
			t.Fatal("the server still holds the cancelled upload")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if left := b.savedUploads(); len(left) != 0 {
		t.Errorf("the page keeps the cancelled upload to resume: %v", left)
	}
	if _, err := os.Stat(filepath.Join(ws.home, "unwanted.bin")); !os.IsNotExist(err) {
		t.Errorf("unwanted.bin was stored: %v", err)
	}
}
