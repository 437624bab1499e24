package e2e

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
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
	ws := &webServer{d: d, direct: d.webURL(t), user: "alex", password: "pw"}
	sw := ws.behindSwitch(t)
	big := filepath.Join(t.TempDir(), "big.bin")
	mtime := time.Date(2019, 9, 8, 7, 6, 5, 0, time.UTC)
	const size = 32 << 20
	sum := writeDated(t, big, size, mtime)

	b := newTab(t)
	b.login("http://"+sw.addr(), ws.user, ws.password)
	sw.setRate(4 << 20)
	b.choose("choose big.bin", big)
	b.waitSending("over half sent", "big.bin", `p.value > p.max * 0.6`)
	sw.setDown(true)
	b.waitUpload("the upload interrupted", "big.bin", "interrupted")
	b.shot("interrupted")
	held := ws.uploadOffset(t, b.savedUpload())
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
	b.choose("choose big.bin again", big)
	b.waitUploaded("big.bin")
	if got := b.offsetShown("big.bin"); got != strconv.FormatInt(held, 10) {
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
