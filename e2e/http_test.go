package e2e

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// entryJSON is one entry of GET /api/v1/ls (and ftpx ls --json).
type entryJSON struct {
	Name  string `json:"name"`
	Size  int64  `json:"size"`
	IsDir bool   `json:"is_dir"`
	MTime string `json:"mtime"`
}

// TestHTTPCurlAndNativeClientShareOneHome: the daemon serves the web
// front end on --http-listen 127.0.0.1:0 and logs its address; curl lists
// the home, uploads by tus in two PATCHes (HEAD between) a file that ftpx
// get fetches with the same MD5; a file put by ftpx is saved by curl -O
// -J under the name its Content-Disposition gives, and curl -C - resumes
// it from half; the quota counts each file once.
func TestHTTPCurlAndNativeClientShareOneHome(t *testing.T) {
	needCurl(t)
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "alex", "pw one", "100MB")
	d := startDaemon(t, accounts, "--http-listen", "127.0.0.1:0")
	base := d.webURL(t)
	if m := regexp.MustCompile(`http_addr=(127\.0\.0\.1:\d+) url=http://127\.0\.0\.1:(\d+)/`).FindStringSubmatch(d.logText()); m == nil || !strings.HasSuffix(m[1], ":"+m[2]) || m[2] == "0" {
		t.Fatalf("the log does not name the HTTP address and its URL:\n%s", d.logText())
	}
	work := t.TempDir()
	env := []string{"FTPX_SERVER=" + d.addr, "FTPX_USER=alex", "FTPX_PASSWORD=pw one"}
	auth := []string{"-u", "alex:pw one"}

	a := curlDo(t, work, append(auth, base+"/api/v1/ls/")...)
	if a.exit != 0 || a.code != 200 || strings.TrimSpace(a.body) != "[]" || a.header.Get("Content-Type") != "application/json" {
		t.Fatalf("curl ls of the empty home: exit %d, %d %q %v %s", a.exit, a.code, a.body, a.header, a.stderr)
	}

	// tus by hand with curl: creation, two PATCHes, HEAD between.
	const size, cut = 3*mib + 123, mib + 7
	data := randomBytes(seeded(t, 7001), size)
	sum := md5Bytes(data)
	os.WriteFile(filepath.Join(work, "part1"), data[:cut], 0o644)
	os.WriteFile(filepath.Join(work, "part2"), data[cut:], 0o644)
	const mtime = 1700000000
	tusH := []string{"-H", "Tus-Resumable: 1.0.0"}
	a = curlDo(t, work, append(append(auth, tusH...), "-X", "POST", "-H", "Upload-Length: "+strconv.Itoa(size),
		"-H", "Upload-Metadata: "+tusMetadata("/up.bin", sum, mtime), base+"/api/v1/uploads/")...)
	loc := a.header.Get("Location")
	if a.code != 201 || !regexp.MustCompile(`^/api/v1/uploads/[0-9a-f-]{36}$`).MatchString(loc) || a.header.Get("Upload-Offset") != "0" || a.header.Get("Tus-Resumable") != "1.0.0" {
		t.Fatalf("tus creation with curl: %d %v %s %s", a.code, a.header, a.body, a.stderr)
	}
	upload := base + loc
	patch := func(offset int, file string) curlAnswer {
		return curlDo(t, work, append(append(auth, tusH...), "-X", "PATCH", "-H", "Content-Type: application/offset+octet-stream",
			"-H", "Upload-Offset: "+strconv.Itoa(offset), "--data-binary", "@"+file, upload)...)
	}
	if a = patch(0, "part1"); a.code != 204 || a.header.Get("Upload-Offset") != strconv.Itoa(cut) {
		t.Fatalf("first PATCH: %d %v %s", a.code, a.header, a.body)
	}
	a = curlDo(t, work, append(append(auth, tusH...), "-I", upload)...)
	if a.code != 200 || a.header.Get("Upload-Offset") != strconv.Itoa(cut) || a.header.Get("Upload-Length") != strconv.Itoa(size) || a.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("HEAD between the PATCHes: %d %v", a.code, a.header)
	}
	if used := quotaJSON(t, work, env); used != cut {
		t.Fatalf("quota used %d with the upload held at %d", used, cut)
	}
	if a = patch(cut+1, "part2"); a.code != 409 || a.header.Get("Upload-Offset") != strconv.Itoa(cut) {
		t.Fatalf("PATCH at a wrong offset: %d %v %s, want 409 naming %d", a.code, a.header, a.body, cut)
	}
	if a = patch(cut, "part2"); a.code != 204 || a.header.Get("Upload-Offset") != strconv.Itoa(size) {
		t.Fatalf("last PATCH: %d %v %s", a.code, a.header, a.body)
	}
	if a = curlDo(t, work, append(append(auth, tusH...), "-I", upload)...); a.code != 404 {
		t.Fatalf("HEAD of a finished upload: %d, want 404", a.code)
	}
	out, errOut, code := ftpx(t, work, env, "--json", "get", "up.bin")
	if res := onlyResult(t, out); code != 0 || res.MD5 != sum || md5File(t, filepath.Join(work, "up.bin")) != sum {
		t.Fatalf("ftpx get of the tus upload: exit %d %+v %s", code, res, errOut)
	}
	if fi, err := os.Stat(filepath.Join(d.root, "alex", "up.bin")); err != nil || fi.ModTime().Unix() != mtime {
		t.Fatalf("the tus upload's mtime: %v %v, want %d", fi.ModTime(), err, mtime)
	}

	// ftpx put, then curl -O -J: saved under the Content-Disposition name
	// (the URL's last segment is percent-encoded), MD5 as sent.
	const name = "report 2026.bin"
	putSum := writeSeeded(t, filepath.Join(work, name), 5*mib+1, seeded(t, 7002))
	if _, errOut, code := ftpx(t, work, env, "put", name); code != 0 {
		t.Fatalf("ftpx put: exit %d %s", code, errOut)
	}
	dl := filepath.Join(work, "dl")
	os.Mkdir(dl, 0o755)
	fileURL := base + "/api/v1/files/report%202026.bin"
	a = curlDo(t, dl, append(auth, "-O", "-J", "-w", "%{http_code}", fileURL)...)
	rawSum, _ := base64.StdEncoding.DecodeString(a.header.Get("Content-MD5"))
	if a.exit != 0 || a.code != 200 || md5File(t, filepath.Join(dl, name)) != putSum || strings.TrimSpace(a.body) != "200" {
		t.Fatalf("curl -O -J: exit %d, %d %v %s", a.exit, a.code, a.header, a.stderr)
	}
	if hex.EncodeToString(rawSum) != putSum || a.header.Get("Etag") != `"`+putSum+`"` || a.header.Get("Content-Length") != strconv.Itoa(5*mib+1) || a.header.Get("Last-Modified") == "" {
		t.Fatalf("download headers: %v", a.header)
	}
	if ents, _ := os.ReadDir(dl); len(ents) != 1 {
		t.Fatalf("curl -O -J saved %d files, want 1 named %q", len(ents), name)
	}

	// curl -C - resumes a download cut in half.
	local := filepath.Join(dl, name)
	if err := os.Truncate(local, (5*mib+1)/2); err != nil {
		t.Fatal(err)
	}
	a = curlDo(t, dl, append(auth, "-C", "-", "-o", name, "-w", "%{http_code} %{size_download}", fileURL)...)
	if a.exit != 0 || a.code != 206 || strings.TrimSpace(a.body) != "206 "+strconv.Itoa(5*mib+1-(5*mib+1)/2) || md5File(t, local) != putSum {
		t.Fatalf("curl -C -: exit %d, %d %q %s; md5 %s, want %s", a.exit, a.code, a.body, a.stderr, md5File(t, local), putSum)
	}

	var ents []entryJSON
	a = curlDo(t, work, append(auth, base+"/api/v1/ls/")...)
	if json.Unmarshal([]byte(a.body), &ents) != nil || len(ents) != 2 || ents[0] != (entryJSON{Name: name, Size: 5*mib + 1, MTime: ents[0].MTime}) ||
		ents[1].Name != "up.bin" || ents[1].Size != size || ents[1].MTime != time.Unix(mtime, 0).UTC().Format(time.RFC3339) {
		t.Fatalf("curl ls: %s", a.body)
	}
	if used := quotaJSON(t, work, env); used != size+5*mib+1 {
		t.Fatalf("quota used %d, want %d (each file once)", used, size+5*mib+1)
	}
	a = curlDo(t, work, "-u", "alex:wrong", base+"/api/v1/ls/")
	var e struct {
		Error  string
		Status int
	}
	if a.code != 401 || json.Unmarshal([]byte(a.body), &e) != nil || e.Status != 253 {
		t.Fatalf("a wrong password: %d %s", a.code, a.body)
	}
}

// TestHTTPTusUploadHeldIsAPartial: a tus upload held half-way is one of
// the partials ftpx-server partials list shows, and ftpx quota --json
// counts its bytes; given up by DELETE, it leaves both.
func TestHTTPTusUploadHeldIsAPartial(t *testing.T) {
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "alex", "pw", "")
	d := startDaemon(t, accounts, "--http-listen", "127.0.0.1:0")
	base := d.webURL(t)
	work := t.TempDir()
	env := []string{"FTPX_SERVER=" + d.addr, "FTPX_USER=alex", "FTPX_PASSWORD=pw"}
	writeRandom(t, filepath.Join(work, "small.bin"), 100_000)
	if _, errOut, code := ftpx(t, work, env, "put", "small.bin"); code != 0 {
		t.Fatal(errOut)
	}
	data := randomBytes(seeded(t, 7003), 8*mib)
	upload := tusCreate(t, base, "alex", "pw", "/held.bin", int64(len(data)), md5Bytes(data))
	id := upload[strings.LastIndex(upload, "/")+1:]
	const half = 3*mib + 5
	if code, off, body := tusPatch(t, upload, "alex", "pw", 0, data[:half]); code != 204 || off != half {
		t.Fatalf("PATCH of the first part: %d %d %s", code, off, body)
	}
	out, code := serverCmd(t, "partials", "list", "--root", d.root, "--accounts", accounts)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "USER") || !strings.Contains(lines[1], "alex") ||
		!strings.Contains(lines[1], id) || !strings.Contains(lines[1], "/held.bin (of 8MB)") {
		t.Fatalf("partials list with a tus upload held: exit %d\n%s", code, out)
	}
	if used := quotaJSON(t, work, env); used != 100_000+half {
		t.Fatalf("quota used %d, want %d (the file and the held upload)", used, 100_000+half)
	}
	if resp, body := tusDo(t, tusRequest(t, http.MethodDelete, upload, "alex", "pw", nil)); resp.StatusCode != 204 {
		t.Fatalf("DELETE of the upload: %d %s", resp.StatusCode, body)
	}
	if code, _ := tusOffset(t, upload, "alex", "pw"); code != 404 {
		t.Fatalf("HEAD after DELETE: %d, want 404", code)
	}
	if out, _ := serverCmd(t, "partials", "list", "--root", d.root, "--accounts", accounts); strings.Contains(out, id) {
		t.Fatalf("partials list after DELETE:\n%s", out)
	}
	if used := quotaJSON(t, work, env); used != 100_000 {
		t.Fatalf("quota used %d after DELETE, want 100000", used)
	}
}

// TestHTTPPlainOnlyOnLoopback: plain HTTP on an address other machines
// reach is refused at start with a clear message; with --tls auto the
// same address serves HTTPS, which curl verifies with the certificate the
// server keeps, and plain HTTP there gets nothing.
func TestHTTPPlainOnlyOnLoopback(t *testing.T) {
	needCurl(t)
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "alex", "pw", "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "ftpx-server"), "--listen", "127.0.0.1:0",
		"--root", filepath.Join(t.TempDir(), "root"), "--accounts", accounts, "--http-listen", "0.0.0.0:0")
	out, errOut, code := runCmd(t, cmd)
	if code == 0 || ctx.Err() != nil || !strings.Contains(out+errOut, "plain HTTP is served on loopback addresses only") {
		t.Fatalf("plain HTTP on 0.0.0.0: exit %d (%v)\n%s%s", code, ctx.Err(), out, errOut)
	}
	t.Logf("plain HTTP on 0.0.0.0:0: exit %d: %s", code, strings.TrimSpace(out+errOut))

	d := startDaemon(t, accounts, "--tls", "auto", "--http-listen", "0.0.0.0:0")
	base := d.webURL(t)
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("with --tls auto the URL is %s", base)
	}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(base, "https://"))
	cert := filepath.Join(d.root, ".ftpx-tls", "cert.pem")
	a := curlDo(t, t.TempDir(), "--cacert", cert, "-u", "alex:pw", "https://127.0.0.1:"+port+"/api/v1/quota")
	var q struct{ Used, Quota, Free int64 }
	if a.exit != 0 || a.code != 200 || json.Unmarshal([]byte(a.body), &q) != nil || q.Quota != -1 || q.Free != -1 ||
		a.header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("curl --cacert over HTTPS: exit %d %d %q %v %s", a.exit, a.code, a.body, a.header, a.stderr)
	}
	// The session cookie is Secure over HTTPS.
	a = curlDo(t, t.TempDir(), "--cacert", cert, "-H", "Content-Type: application/json", "--data", `{"user":"alex","password":"pw"}`,
		"https://127.0.0.1:"+port+"/api/v1/login")
	if c := a.header.Get("Set-Cookie"); a.code != 200 || !strings.Contains(c, "ftpx_session=") || !strings.Contains(c, "Secure") || !strings.Contains(c, "HttpOnly") {
		t.Fatalf("login over HTTPS: %d %q", a.code, c)
	}
	if a = curlDo(t, t.TempDir(), "-u", "alex:pw", "http://127.0.0.1:"+port+"/api/v1/quota"); a.code == 200 {
		t.Fatalf("plain HTTP to the HTTPS port answered 200: %s", a.body)
	}
}

// TestHTTPCurlSessionAsThePageUsesIt: the page's session through curl's
// cookie jar: login sets an HttpOnly, SameSite=Strict cookie and gives a
// CSRF token; a change without the token is refused (403), with it done;
// logout ends the session; and a session idle for longer than the
// server's idle timeout (2 s here) has ended.
func TestHTTPCurlSessionAsThePageUsesIt(t *testing.T) {
	needCurl(t)
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "alex", "pw", "")
	d := startDaemon(t, accounts, "--http-listen", "127.0.0.1:0", "--idle-timeout", "2s")
	base := d.webURL(t)
	work := t.TempDir()
	jar := filepath.Join(work, "jar")
	login := func() string {
		t.Helper()
		a := curlDo(t, work, "-c", jar, "-H", "Content-Type: application/json", "--data", `{"user":"alex","password":"pw"}`, base+"/api/v1/login")
		var s struct{ User, CSRF string }
		c := a.header.Get("Set-Cookie")
		if a.code != 200 || json.Unmarshal([]byte(a.body), &s) != nil || s.User != "alex" || s.CSRF == "" ||
			!strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Strict") || !strings.Contains(c, "Path=/") || strings.Contains(c, "Secure") {
			t.Fatalf("login: %d %q %s", a.code, c, a.body)
		}
		return s.CSRF
	}
	csrf := login()
	if a := curlDo(t, work, "-b", jar, base+"/api/v1/session"); a.code != 200 || !strings.Contains(a.body, `"csrf":"`+csrf+`"`) {
		t.Fatalf("session: %d %s", a.code, a.body)
	}
	if a := curlDo(t, work, "-b", jar, "-X", "POST", base+"/api/v1/mkdir/docs"); a.code != 403 {
		t.Fatalf("mkdir without the CSRF token: %d %s", a.code, a.body)
	}
	if a := curlDo(t, work, "-b", jar, "-X", "POST", "-H", "X-CSRF-Token: "+csrf, base+"/api/v1/mkdir/docs"); a.code != 201 || strings.TrimSpace(a.body) != `{"path":"/docs"}` {
		t.Fatalf("mkdir with the token: %d %s", a.code, a.body)
	}
	if a := curlDo(t, work, "-b", jar, "-X", "POST", "-H", "X-CSRF-Token: "+csrf, base+"/api/v1/rename/docs?to=%2Fpapers%20old"); a.code != 200 || strings.TrimSpace(a.body) != `{"path":"/papers old"}` {
		t.Fatalf("rename: %d %s", a.code, a.body)
	}
	if fi, err := os.Stat(filepath.Join(d.root, "alex", "papers old")); err != nil || !fi.IsDir() {
		t.Fatalf("the renamed directory: %v", err)
	}
	if a := curlDo(t, work, "-b", jar, "-X", "DELETE", "-H", "X-CSRF-Token: "+csrf, base+"/api/v1/files/papers%20old"); a.code != 204 {
		t.Fatalf("DELETE: %d %s", a.code, a.body)
	}
	if a := curlDo(t, work, "-b", jar, "-c", jar, "-X", "POST", "-H", "X-CSRF-Token: "+csrf, base+"/api/v1/logout"); a.code != 204 {
		t.Fatalf("logout: %d %s", a.code, a.body)
	}
	if a := curlDo(t, work, "-b", jar, base+"/api/v1/session"); a.code != 401 {
		t.Fatalf("the session after logout: %d %s", a.code, a.body)
	}
	// Idle for longer than the idle timeout: ended.
	login()
	if a := curlDo(t, work, "-b", jar, base+"/api/v1/ls/"); a.code != 200 {
		t.Fatalf("ls after logging in again: %d %s", a.code, a.body)
	}
	time.Sleep(3 * time.Second)
	if a := curlDo(t, work, "-b", jar, base+"/api/v1/ls/"); a.code != 401 {
		t.Fatalf("ls with a session idle for 3 s (idle timeout 2 s): %d %s", a.code, a.body)
	}
}
