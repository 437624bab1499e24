package e2e

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"ftpx/internal/miniotest"
)

// TestBrowserUploadResumesOnObjectStore runs the web client on a home in
// MinIO: an upload cut by the network is held by the store in whole
// parts, and the page, after a reload, goes on from the offset the server
// reports, which may be less than what the browser had sent.
func TestBrowserUploadResumesOnObjectStore(t *testing.T) {
	s := s3ServersWith(t, miniotest.Shared(t), 1, "", filepath.Join(t.TempDir(), "accounts.ini"), "--http-listen", "127.0.0.1:0")
	d := s.daemons[0]
	ws := &webServer{d: d, direct: "http://" + waitHTTPAddr(t, d), user: "alex", password: "pw"}
	sw := newNetSwitch(t, strings.TrimPrefix(ws.direct, "http://"))
	big := filepath.Join(t.TempDir(), "big.bin")
	mtime := time.Date(2019, 9, 8, 7, 6, 5, 0, time.UTC)
	const size = 32 << 20
	sum := writeDated(t, big, size, mtime)

	b := newTab(t)
	b.login("http://"+sw.addr(), ws.user, ws.password)
	sw.setRate(4 << 20)
	b.do("choose big.bin", chromedp.SetUploadFiles(chromedp.ID("file-input"), []string{big}))
	b.wait("over half sent", `(p => p && p.closest('li').dataset.state === 'uploading' && p.value > p.max * 0.6)(document.querySelector(`+q(uploadLine("big.bin")+" progress")+`))`)
	sw.setDown(true)
	b.wait("the upload interrupted", `document.querySelector(`+q(uploadLine("big.bin")+`[data-state="interrupted"]`)+`)`)
	b.shot("interrupted")
	saved := b.savedUploads()
	if len(saved) != 1 {
		t.Fatalf("the page keeps %d uploads to resume: %v", len(saved), saved)
	}
	held := ws.uploadOffset(t, saved[0])
	if held <= 0 || held >= size {
		t.Fatalf("the server holds %d bytes of %d (the store: %d)", held, size, s.held(t))
	}
	if inStore := s.held(t); inStore != held {
		t.Errorf("HEAD says %d bytes, the store's state %d", held, inStore)
	}
	t.Logf("the store holds %d bytes of %d after the cut", held, size)

	sw.setRate(0)
	sw.setDown(false)
	b.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("app")))
	b.do("choose big.bin again", chromedp.SetUploadFiles(chromedp.ID("file-input"), []string{big}))
	b.wait("big.bin done", `document.querySelector(`+q(uploadLine("big.bin")+`[data-state="done"]`)+`) && document.querySelector(`+q(row("big.bin"))+`)`)
	if got := b.str(`document.querySelector(` + q(uploadLine("big.bin")) + `).dataset.offset`); got != strconv.FormatInt(held, 10) {
		t.Errorf("the upload resumed from %s, the server held %d", got, held)
	}
	b.shot("resumed")
	if got := s.stored(t)["big.bin"]; got != size {
		t.Errorf("the store holds big.bin with %d bytes, want %d", got, size)
	}

	// What the store holds reads back with the file's MD5.
	req, _ := http.NewRequest(http.MethodGet, ws.direct+"/api/v1/files/big.bin", nil)
	req.SetBasicAuth(ws.user, ws.password)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	h := md5.New()
	if _, err := io.Copy(h, res.Body); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET big.bin: %s %v", res.Status, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		t.Errorf("big.bin reads back with MD5 %s, want %s", got, sum)
	}
	if raw, _ := base64.StdEncoding.DecodeString(res.Header.Get("Content-MD5")); hex.EncodeToString(raw) != sum {
		t.Errorf("Content-MD5 %q, want the MD5 %s", res.Header.Get("Content-MD5"), sum)
	}
	if lm, err := http.ParseTime(res.Header.Get("Last-Modified")); err != nil || !lm.Equal(mtime) {
		t.Errorf("Last-Modified %q, want %v", res.Header.Get("Last-Modified"), mtime)
	}
}
