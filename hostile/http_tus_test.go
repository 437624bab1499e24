package hostile

import (
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// tus requests that lie: about the protocol, the length, the metadata,
// the offset, the body's length and its MD5, and the quota.

// tusMeta is an Upload-Metadata value of path and md5.
func tusMeta(path, md5 string) string {
	return "path " + base64.StdEncoding.EncodeToString([]byte(path)) + ",md5 " + base64.StdEncoding.EncodeToString([]byte(md5))
}

// tusCreate creates an upload as user and returns its location, or fails.
func (w *webArena) tusCreate(t *testing.T, user, pw, path string, data []byte) string {
	t.Helper()
	a := w.do(t, "POST", w.base+"/api/v1/uploads/", user, pw, nil, "Tus-Resumable", "1.0.0",
		"Upload-Length", strconv.Itoa(len(data)), "Upload-Metadata", tusMeta(path, md5hex(data)))
	if a.code != 201 {
		t.Fatalf("tus creation of %s: %d %s", path, a.code, a.body)
	}
	return a.header.Get("Location")
}

// tusPatch sends body at offset to the upload at loc as user.
func (w *webArena) tusPatch(t *testing.T, user, pw, loc string, offset int, body io.Reader, hdr ...string) webAnswer {
	t.Helper()
	return w.do(t, "PATCH", w.base+loc, user, pw, body, append([]string{"Tus-Resumable", "1.0.0",
		"Content-Type", "application/offset+octet-stream", "Upload-Offset", strconv.Itoa(offset)}, hdr...)...)
}

// TestHTTPTusHeaderAbuse: creations and PATCHes with lying or malformed
// headers are refused with their own status and create nothing.
func TestHTTPTusHeaderAbuse(t *testing.T) {
	w := newWebArena(t, newArena(t))
	sum := md5hex([]byte("0123456789"))
	good := tusMeta("/f.bin", sum)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name string
		hdr  []string
		want int
	}{
		{"no Tus-Resumable", []string{"Upload-Length", "10", "Upload-Metadata", good}, http.StatusPreconditionFailed},
		{"Tus-Resumable 0.2.2", []string{"Tus-Resumable", "0.2.2", "Upload-Length", "10", "Upload-Metadata", good}, http.StatusPreconditionFailed},
		{"no Upload-Length", []string{"Tus-Resumable", "1.0.0", "Upload-Metadata", good}, 400},
		{"Upload-Length -1", []string{"Tus-Resumable", "1.0.0", "Upload-Length", "-1", "Upload-Metadata", good}, 400},
		{"Upload-Length 1e3", []string{"Tus-Resumable", "1.0.0", "Upload-Length", "1e3", "Upload-Metadata", good}, 400},
		{"Upload-Length 2^64", []string{"Tus-Resumable", "1.0.0", "Upload-Length", "18446744073709551616", "Upload-Metadata", good}, 400},
		{"Upload-Length 2^62", []string{"Tus-Resumable", "1.0.0", "Upload-Length", strconv.FormatInt(1<<62, 10), "Upload-Metadata", good}, http.StatusInsufficientStorage},
		{"Upload-Defer-Length", []string{"Tus-Resumable", "1.0.0", "Upload-Defer-Length", "1", "Upload-Metadata", good}, 400},
		{"no metadata", []string{"Tus-Resumable", "1.0.0", "Upload-Length", "10"}, 400},
		{"no path", []string{"Tus-Resumable", "1.0.0", "Upload-Length", "10", "Upload-Metadata", "md5 " + b64(sum)}, 400},
		{"no md5", []string{"Tus-Resumable", "1.0.0", "Upload-Length", "10", "Upload-Metadata", "path " + b64("/f.bin")}, 400},
		{"md5 of 31 digits", []string{"Tus-Resumable", "1.0.0", "Upload-Length", "10", "Upload-Metadata", tusMeta("/f.bin", sum[:31])}, 400},
		{"md5 not hex", []string{"Tus-Resumable", "1.0.0", "Upload-Length", "10", "Upload-Metadata", tusMeta("/f.bin", strings.Repeat("g", 32))}, 400},
		{"path not base64", []string{"Tus-Resumable", "1.0.0", "Upload-Length", "10", "Upload-Metadata", "path /f.bin,md5 " + b64(sum)}, 400},
		{"path twice", []string{"Tus-Resumable", "1.0.0", "Upload-Length", "10", "Upload-Metadata", good + ",path " + b64("/../x")}, 400},
		{"mtime negative", []string{"Tus-Resumable", "1.0.0", "Upload-Length", "10", "Upload-Metadata", good + ",mtime " + b64("-5")}, 400},
		{"mtime not a number", []string{"Tus-Resumable", "1.0.0", "Upload-Length", "10", "Upload-Metadata", good + ",mtime " + b64("yesterday")}, 400},
		{"path outside", []string{"Tus-Resumable", "1.0.0", "Upload-Length", "10", "Upload-Metadata", tusMeta("/../../outside/x", sum)}, 403},
		{"path in the partial directory", []string{"Tus-Resumable", "1.0.0", "Upload-Length", "10", "Upload-Metadata", tusMeta("/.ftpx-partial/x", sum)}, 403},
		{"parent missing", []string{"Tus-Resumable", "1.0.0", "Upload-Length", "10", "Upload-Metadata", tusMeta("/no/such/dir/f.bin", sum)}, 404},
		{"path a directory", []string{"Tus-Resumable", "1.0.0", "Upload-Length", "10", "Upload-Metadata", tusMeta("/a", sum)}, 409},
	} {
		w.reset(t)
		a := w.do(t, "POST", w.base+"/api/v1/uploads/", attacker, attackerPW, nil, tc.hdr...)
		if a.code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, a.code, a.body, tc.want)
		}
		if left := partialsIn(w.home); len(left) != 0 {
			t.Errorf("%s: partials made: %v", tc.name, left)
		}
		w.escapes(t, tc.name)
	}

	// PATCHes that lie.
	w.reset(t)
	data := []byte("0123456789")
	loc := w.tusCreate(t, attacker, attackerPW, "/f.bin", data)
	for _, tc := range []struct {
		name   string
		offset string
		ctype  string
		body   string
		want   int
	}{
		{"wrong Content-Type", "0", "application/octet-stream", "0123", http.StatusUnsupportedMediaType},
		{"offset -1", "-1", "", "0123", 400},
		{"offset not a number", "zero", "", "0123", 400},
		{"offset past what is held", "4", "", "4567", http.StatusConflict},
	} {
		ctype := tc.ctype
		if ctype == "" {
			ctype = "application/offset+octet-stream"
		}
		a := w.do(t, "PATCH", w.base+loc, attacker, attackerPW, strings.NewReader(tc.body),
			"Tus-Resumable", "1.0.0", "Content-Type", ctype, "Upload-Offset", tc.offset)
		if a.code != tc.want {
			t.Errorf("PATCH with %s: %d %s, want %d", tc.name, a.code, a.body, tc.want)
		}
	}
	if a := w.do(t, "HEAD", w.base+loc, attacker, attackerPW, nil, "Tus-Resumable", "1.0.0"); a.code != 200 || a.header.Get("Upload-Offset") != "0" {
		t.Fatalf("HEAD after the lying PATCHes: %d %v", a.code, a.header)
	}
	// A body that runs past Upload-Length: refused, the upload given up,
	// nothing placed.
	if a := w.tusPatch(t, attacker, attackerPW, loc, 0, strings.NewReader("0123456789ABCDEF")); a.code != 400 {
		t.Errorf("a body past Upload-Length: %d %s, want 400", a.code, a.body)
	}
	if a := w.do(t, "GET", w.base+"/api/v1/files/f.bin", attacker, attackerPW, nil); a.code != 404 {
		t.Errorf("f.bin after a body past its length: %d %q, want 404", a.code, a.body)
	}
	// The right length, the wrong bytes: 460, nothing stored, gone.
	loc = w.tusCreate(t, attacker, attackerPW, "/f.bin", data)
	if a := w.tusPatch(t, attacker, attackerPW, loc, 0, strings.NewReader("9876543210")); a.code != 460 {
		t.Errorf("bytes that do not match the MD5: %d %s, want 460", a.code, a.body)
	}
	if a := w.do(t, "HEAD", w.base+loc, attacker, attackerPW, nil, "Tus-Resumable", "1.0.0"); a.code != 404 {
		t.Errorf("HEAD after 460: %d, want 404", a.code)
	}
	if a := w.do(t, "GET", w.base+"/api/v1/files/f.bin", attacker, attackerPW, nil); a.code != 404 {
		t.Errorf("f.bin after 460: %d, want 404", a.code)
	}
	// A chunked body (no Content-Length) with the right bytes: placed.
	loc = w.tusCreate(t, attacker, attackerPW, "/f.bin", data)
	if a := w.tusPatch(t, attacker, attackerPW, loc, 0, io.MultiReader(strings.NewReader("01234"), strings.NewReader("56789"))); a.code != 204 || a.header.Get("Upload-Offset") != "10" {
		t.Errorf("a chunked PATCH: %d %v %s", a.code, a.header, a.body)
	}
	if left := partialsIn(w.home); len(left) != 0 {
		t.Errorf("partials left: %v", left)
	}
	w.escapes(t, "lying PATCHes")
}

// TestHTTPTusQuotaHeldByUploads: a user with a 1 MiB quota creates two
// uploads of 700 KB each; however they are sent, the home never holds
// more than its quota, and at most one is placed.
func TestHTTPTusQuotaHeldByUploads(t *testing.T) {
	w := newWebArena(t, newArena(t))
	one := []byte(strings.Repeat("1", 700_000))
	two := []byte(strings.Repeat("2", 700_000))
	locOne := w.tusCreate(t, quotaUser, quotaPW, "/one.bin", one)
	second := w.do(t, "POST", w.base+"/api/v1/uploads/", quotaUser, quotaPW, nil, "Tus-Resumable", "1.0.0",
		"Upload-Length", strconv.Itoa(len(two)), "Upload-Metadata", tusMeta("/two.bin", md5hex(two)))
	t.Logf("the second creation: %d %s", second.code, second.body)
	a := w.tusPatch(t, quotaUser, quotaPW, locOne, 0, strings.NewReader(string(one)))
	t.Logf("the first upload's PATCH: %d %s", a.code, a.body)
	if second.code == 201 {
		b := w.tusPatch(t, quotaUser, quotaPW, second.header.Get("Location"), 0, strings.NewReader(string(two)))
		t.Logf("the second upload's PATCH: %d %s", b.code, b.body)
		if a.code == 204 && b.code == 204 {
			t.Errorf("both uploads of 700 KB were placed under a quota of 1 MiB")
		}
	} else if second.code != http.StatusRequestEntityTooLarge {
		t.Errorf("the second creation: %d %s, want 201 or 413", second.code, second.body)
	}
	if used := homeUsage(t, w.ts.Home(quotaUser)); used > quotaLimit {
		t.Errorf("the home holds %d bytes, over its quota of %d", used, quotaLimit)
	}
	q := w.do(t, "GET", w.base+"/api/v1/quota", quotaUser, quotaPW, nil)
	t.Logf("quota: %s", q.body)
}

// partialsIn lists a home's partial directory.
func partialsIn(home string) []string {
	ents, _ := os.ReadDir(filepath.Join(home, ".ftpx-partial"))
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}
