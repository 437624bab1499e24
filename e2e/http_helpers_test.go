package e2e

import (
	"bufio"
	"encoding/base64"
	"io"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The web front end through the real binaries: the daemon's HTTP
// address, curl, and tus requests made by hand.

// httpAddrRE finds the web front end's address and URL in the log.
var httpAddrRE = regexp.MustCompile(`\bhttp_addr=(\S+) url=(\S+)`)

// webURL waits for the daemon to log its web front end and returns the
// URL it names, without the trailing slash.
func (d *daemon) webURL(t *testing.T) string {
	t.Helper()
	var m []string
	waitUntil(t, 20*time.Second, "the http_addr line", func() bool {
		m = httpAddrRE.FindStringSubmatch(d.logText())
		return m != nil
	})
	return strings.TrimSuffix(m[2], "/")
}

// needCurl skips the test when curl is missing.
func needCurl(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
}

// curlAnswer is what curl printed: the last answer's status and headers
// (after any 100 Continue) and its body.
type curlAnswer struct {
	code   int
	header http.Header
	body   string
	stderr string
	exit   int
}

// curlDo runs curl -sS with args (in dir), keeping the answer's headers
// apart from its body (a body sent with -o goes where args say).
func curlDo(t *testing.T, dir string, args ...string) curlAnswer {
	t.Helper()
	hdrs := filepath.Join(t.TempDir(), "headers")
	cmd := exec.Command("curl", append([]string{"-sS", "-D", hdrs}, args...)...)
	cmd.Dir = dir
	out, errOut, exit := runCmd(t, cmd)
	a := curlAnswer{body: out, stderr: errOut, exit: exit, header: http.Header{}}
	b, _ := os.ReadFile(hdrs)
	blocks := strings.Split(strings.TrimSpace(strings.ReplaceAll(string(b), "\r\n", "\n")), "\n\n")
	last := blocks[len(blocks)-1]
	r := textproto.NewReader(bufio.NewReader(strings.NewReader(last + "\n\n")))
	status, err := r.ReadLine()
	if err != nil {
		return a
	}
	if f := strings.Fields(status); len(f) >= 2 {
		a.code, _ = strconv.Atoi(f[1])
	}
	if h, err := r.ReadMIMEHeader(); err == nil || err == io.EOF {
		a.header = http.Header(h)
	}
	return a
}

// tusMetadata is an Upload-Metadata value: path, md5 and, when not 0,
// mtime (Unix seconds).
func tusMetadata(path, md5 string, mtime int64) string {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	v := "path " + b64(path) + ",md5 " + b64(md5)
	if mtime != 0 {
		v += ",mtime " + b64(strconv.FormatInt(mtime, 10))
	}
	return v
}

// tusRequest is a tus request with Basic auth and Tus-Resumable.
func tusRequest(t *testing.T, method, url, user, password string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, password)
	req.Header.Set("Tus-Resumable", "1.0.0")
	if method == http.MethodPatch {
		req.Header.Set("Content-Type", "application/offset+octet-stream")
	}
	return req
}

// tusDo sends req and returns the answer with its body read.
func tusDo(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// tusCreate creates an upload of size bytes to path and returns its URL.
func tusCreate(t *testing.T, base, user, password, path string, size int64, md5 string) string {
	t.Helper()
	req := tusRequest(t, http.MethodPost, base+"/api/v1/uploads/", user, password, nil)
	req.Header.Set("Upload-Length", strconv.FormatInt(size, 10))
	req.Header.Set("Upload-Metadata", tusMetadata(path, md5, 0))
	resp, body := tusDo(t, req)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusCreated || !strings.HasPrefix(loc, "/api/v1/uploads/") {
		t.Fatalf("tus POST %s: %d %q %s", path, resp.StatusCode, loc, body)
	}
	return base + loc
}

// tusOffset asks HEAD how much of the upload at url the server holds;
// it returns the status and Upload-Offset (-1 when absent).
func tusOffset(t *testing.T, url, user, password string) (int, int64) {
	t.Helper()
	resp, _ := tusDo(t, tusRequest(t, http.MethodHead, url, user, password, nil))
	off, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil {
		off = -1
	}
	return resp.StatusCode, off
}

// tusPatch sends data at offset and returns the status, the offset the
// server then holds (-1 when absent) and the body.
func tusPatch(t *testing.T, url, user, password string, offset int64, data []byte) (int, int64, string) {
	t.Helper()
	req := tusRequest(t, http.MethodPatch, url, user, password, strings.NewReader(string(data)))
	req.Header.Set("Upload-Offset", strconv.FormatInt(offset, 10))
	resp, body := tusDo(t, req)
	off, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil {
		off = -1
	}
	return resp.StatusCode, off, body
}
