package webd_test

import (
	"bufio"
	"bytes"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Secrets outside alex's home; no answer may carry a byte of them.
const (
	outsideSecret = "OUTSIDE-SECRET-7f3a91"
	bobSecret     = "BOB-SECRET-2c84d0"
)

// raw sends one request with the exact request-target given (no
// cleaning or escaping by a client) and returns the answer and its body.
func raw(t *testing.T, base, method, target string, hdr map[string]string, body []byte) (*http.Response, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", hostOf(base))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: " + hostOf(base) + "\r\nConnection: close\r\n")
	for k, v := range hdr {
		b.WriteString(k + ": " + v + "\r\n")
	}
	if body != nil {
		b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	}
	b.WriteString("\r\n")
	c.Write(append([]byte(b.String()), body...))
	req, _ := http.NewRequest(method, base, nil)
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	rb, _ := io.ReadAll(resp.Body)
	return resp, rb
}

// snapshot lists every file under root with its size and content hash.
func snapshot(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if strings.Contains(rel, ".ftpx-partial") {
			return nil
		}
		l := rel + " " + d.Type().String()
		if d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			l += " " + md5hex(b)
		}
		lines = append(lines, l)
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestJail sends paths that try to leave the home with every path-taking
// call: no answer carries a byte of a file outside the home, nothing
// outside it changes, and each is refused with 400, 403 or 404 (or, for
// a path the router cleans, a redirect that stays on the server).
func TestJail(t *testing.T) {
	w := newWeb(t)
	root := w.ts.Root
	mine := w.ts.Home(alex)
	for _, d := range []string{mine + "/sub", w.ts.Home(bob)} {
		os.MkdirAll(d, 0o755)
	}
	os.WriteFile(filepath.Join(root, "outside.txt"), []byte(outsideSecret), 0o644)
	os.WriteFile(filepath.Join(w.ts.Home(bob), "secret.txt"), []byte(bobSecret), 0o644)
	outDir := t.TempDir()
	os.WriteFile(filepath.Join(outDir, "passwd"), []byte(outsideSecret), 0o644)
	auth := map[string]string{"Authorization": "Basic " + basicToken(alex, alexPW)}
	// reset puts alex's home back as it was.
	reset := func() {
		t.Helper()
		if err := os.RemoveAll(mine); err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(mine+"/sub", 0o755)
		os.WriteFile(filepath.Join(mine, "sub", "in.txt"), []byte("inside"), 0o644)
		os.Symlink(outDir, filepath.Join(mine, "link"))
		os.Symlink(filepath.Join(outDir, "passwd"), filepath.Join(mine, "flink"))
		os.Symlink("../bob", filepath.Join(mine, "rlink"))
	}
	reset()
	// outside is everything but alex's home.
	outside := func() string {
		return snapshot(t, w.ts.Home(bob)) + "\n" + snapshot(t, outDir) + "\n" + func() string {
			b, _ := os.ReadFile(filepath.Join(root, "outside.txt"))
			return string(b)
		}()
	}
	before := outside()

	// escape: the path leaves the home (or names the outside through a
	// symlink) and must be refused; the others are odd names inside the
	// home, which the calls may serve or make.
	paths := []struct {
		p      string
		escape bool
	}{
		{"../outside.txt", true}, {"../../outside.txt", true}, {"../bob/secret.txt", true},
		{"%2e%2e/outside.txt", true}, {"%2E%2E%2Foutside.txt", true}, {"%2e%2e%2f%2e%2e%2foutside.txt", true},
		{"..%2F..%2Foutside.txt", true}, {"..%2Fbob%2Fsecret.txt", true}, {"sub%2F..%2F..%2Foutside.txt", true},
		{"..%5C..%5Coutside.txt", true}, {"..\\..\\outside.txt", true},
		{"sub%00/../../outside.txt", true}, {"in.txt%00.html", true}, {"%00", true},
		{"link/passwd", true}, {"flink/x", true}, {"rlink/secret.txt", true}, {"link%2Fpasswd", true},
		{"..%c0%af..%c0%afoutside.txt", true}, {"%c0%ae%c0%ae/outside.txt", true},
		{"%252e%252e/outside.txt", false}, {"%252e%252e%252foutside.txt", false},
		{"....//outside.txt", false}, {"..;/outside.txt", false}, {"/..;/outside.txt", false}, {"sub/..;/..;/outside.txt", false},
		{"/etc/passwd", false}, {"//etc/passwd", false}, {"%2Fetc%2Fpasswd", false}, {"link", false}, {"rlink", false}, {"flink", false},
	}
	var counts = map[int]int{}
	for _, pc := range paths {
		p := pc.p
		for _, c := range []struct{ method, prefix, query string }{
			{"GET", "/api/v1/files/", ""},
			{"GET", "/api/v1/ls/", ""},
			{"DELETE", "/api/v1/files/", ""},
			{"DELETE", "/api/v1/files/", "?recursive=1"},
			{"POST", "/api/v1/mkdir/", ""},
			{"POST", "/api/v1/mkdir/", "?parents=1"},
			{"POST", "/api/v1/rename/", "?to=/stolen.txt"},
		} {
			reset()
			target := c.prefix + p + c.query
			resp, body := raw(t, w.base, c.method, target, auth, nil)
			counts[resp.StatusCode]++
			if bytes.Contains(body, []byte(outsideSecret)) || bytes.Contains(body, []byte(bobSecret)) {
				t.Errorf("ESCAPE: %s %s answered a secret: %d %q", c.method, target, resp.StatusCode, body)
			}
			if now := outside(); now != before {
				t.Fatalf("ESCAPE: %s %s changed the outside:\n%s\nwas\n%s", c.method, target, now, before)
			}
			switch resp.StatusCode {
			case 400, 403, 404:
				wantErr(t, c.method+" "+target, resp, body, resp.StatusCode, 0)
			case 301, 307, 308:
				loc := resp.Header.Get("Location")
				if strings.Contains(loc, "://") || strings.HasPrefix(loc, "//") {
					t.Errorf("%s %s: redirect off the server: %q", c.method, target, loc)
				}
			default:
				if pc.escape {
					t.Errorf("%s %s: %d %q, want 400, 403 or 404", c.method, target, resp.StatusCode, body)
				} else {
					t.Logf("inside name: %s %s: %d %s", c.method, target, resp.StatusCode, bytes.TrimSpace(body))
				}
			}
		}
	}
	reset()
	// rename to a path leaving the home, and tus metadata paths.
	for _, to := range []string{"../../x", "..%2F..%2Fx", "%2e%2e%2fx", "/../x", "..%5Cx", "x%00", "link/x", "rlink/x"} {
		resp, body := raw(t, w.base, "POST", "/api/v1/rename/sub/in.txt?to="+to, auth, nil)
		counts[resp.StatusCode]++
		if resp.StatusCode != 400 && resp.StatusCode != 403 && resp.StatusCode != 404 {
			t.Errorf("rename ?to=%s: %d %s", to, resp.StatusCode, body)
		}
	}
	for _, p := range []string{"../../x", "../outside.txt", "/../bob/secret.txt", "..\\x", "x\x00y", "link/x", "rlink/x", "flink"} {
		data := []byte("evil")
		h := map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "4", "Content-Type": "application/offset+octet-stream",
			"Upload-Metadata": metadata(p, md5hex(data), 0), "Authorization": auth["Authorization"]}
		resp, body := raw(t, w.base, "POST", "/api/v1/uploads/", h, data)
		counts[resp.StatusCode]++
		if resp.StatusCode != 400 && resp.StatusCode != 403 && resp.StatusCode != 404 {
			t.Errorf("tus upload to %q: %d %s", p, resp.StatusCode, body)
		}
	}
	if after := outside(); after != before {
		t.Errorf("the outside changed:\nbefore\n%s\nafter\n%s", before, after)
	}
	if b, err := os.ReadFile(filepath.Join(mine, "sub", "in.txt")); string(b) != "inside" {
		t.Errorf("sub/in.txt: %q %v", b, err)
	}
	t.Logf("answers by code: %v", counts)
}
