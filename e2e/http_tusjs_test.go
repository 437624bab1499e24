package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"ftpx/internal/miniotest"
)

// tus-js-client, the tus project's own client, against the web front end
// of the real daemon: on a local home, and on a MinIO home where a cut
// upload resumes through the other of two servers.

var tusJS struct {
	once sync.Once
	dir  string // holds node_modules/tus-js-client
	err  string // why it is not there
}

// needTusJS installs tus-js-client 4 from npm once for the package (under
// binDir, removed by TestMain) and returns its node_modules directory; it
// skips the test when node or npm is missing or the install fails.
func needTusJS(t *testing.T) string {
	t.Helper()
	for _, cmd := range []string{"node", "npm"} {
		if _, err := exec.LookPath(cmd); err != nil {
			t.Skipf("%s is not installed", cmd)
		}
	}
	tusJS.once.Do(func() {
		dir := filepath.Join(binDir, "tusjs")
		os.MkdirAll(dir, 0o755)
		cmd := exec.Command("npm", "install", "--no-audit", "--no-fund", "tus-js-client@4")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			tusJS.err = "npm install tus-js-client@4: " + err.Error() + "\n" + string(out)
			return
		}
		tusJS.dir = filepath.Join(dir, "node_modules")
	})
	if tusJS.dir == "" {
		t.Skip(tusJS.err)
	}
	return tusJS.dir
}

// pacedProxy forwards connections to the web front end at base
// (http://HOST:PORT) through a net switch that passes what clients send
// at rate bytes a second, and returns its URL. An upload through it is
// slow enough for tus-js-client's progress (reported at most every
// 100 ms) to abort it part-way through a chunk.
func pacedProxy(t *testing.T, base string, rate int64) string {
	t.Helper()
	sw := newNetSwitch(t, strings.TrimPrefix(base, "http://"))
	sw.setRate(rate)
	return "http://" + sw.addr()
}

// tusJSResult is what testdata/tus_upload.js prints.
type tusJSResult struct {
	URL       string  `json:"url"`
	ResumedAt int64   `json:"resumed_at"`
	Patches   []int64 `json:"patches"`
}

// runTusJS uploads file to remote through the tus endpoint of base as
// alex:pw, with the file's MD5 and mtime; abortAt > 0 aborts the first
// upload after that many bytes and resumes it at resumeBase (the same
// server when "").
func runTusJS(t *testing.T, modules, file, base, remote, sum string, mtime int64, abortAt int64, resumeBase string) tusJSResult {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("testdata", "tus_upload.js"))
	if err != nil {
		t.Fatal(err)
	}
	args := []string{script, file, base + "/api/v1/uploads/"}
	if abortAt > 0 {
		args = append(args, strconv.FormatInt(abortAt, 10))
		if resumeBase != "" {
			args = append(args, resumeBase+"/api/v1/uploads/")
		}
	}
	cmd := exec.Command("node", args...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules, "TUS_USER=alex", "TUS_PASSWORD=pw",
		"TUS_PATH="+remote, "TUS_MD5="+sum, "TUS_MTIME="+strconv.FormatInt(mtime, 10))
	out, errOut, code := runCmd(t, cmd)
	var res tusJSResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res.Patches) == 0 {
		t.Fatalf("node tus_upload.js %s: exit %d %q %s", remote, code, out, errOut)
	}
	t.Logf("tus-js-client %s: %s", remote, out)
	return res
}

// TestHTTPTusJSClientLocalHome: tus-js-client uploads 20 MiB in 8 MiB
// PATCHes with path, md5 and mtime; then an upload aborted after 6 MiB is
// resumed by a new tus.Upload given its URL, from an offset past 0. Both
// land with their MD5 and mtime.
func TestHTTPTusJSClientLocalHome(t *testing.T) {
	modules := needTusJS(t)
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "alex", "pw", "")
	d := startDaemon(t, accounts, "--http-listen", "127.0.0.1:0")
	base := d.webURL(t)
	work := t.TempDir()
	const size, mtime = 20 * mib, 1699999999
	sum := writeSeeded(t, filepath.Join(work, "js.bin"), size, seeded(t, 7201))

	res := runTusJS(t, modules, filepath.Join(work, "js.bin"), base, "/whole.bin", sum, mtime, 0, "")
	if res.ResumedAt != 0 || len(res.Patches) != 3 || res.Patches[1] != 8*mib || res.Patches[2] != 16*mib {
		t.Errorf("one run: PATCHes at %v, want 0, 8 MiB, 16 MiB", res.Patches)
	}
	// The aborted run goes through a proxy at 8 MiB/s, the resumed one
	// straight to the server.
	slow := pacedProxy(t, base, 8*mib)
	res = runTusJS(t, modules, filepath.Join(work, "js.bin"), slow, "/resumed.bin", sum, mtime, 6*mib, base)
	if res.ResumedAt <= 0 || res.ResumedAt >= 8*mib {
		t.Errorf("the resumed run began at %d, want past 0 and within the aborted 8 MiB chunk", res.ResumedAt)
	}
	for _, name := range []string{"whole.bin", "resumed.bin"} {
		p := filepath.Join(d.root, "alex", name)
		if got := md5File(t, p); got != sum {
			t.Errorf("%s: md5 %s, want %s", name, got, sum)
		}
		if fi, err := os.Stat(p); err != nil || fi.ModTime().Unix() != mtime {
			t.Errorf("%s: mtime %v %v, want %d", name, fi.ModTime(), err, mtime)
		}
	}
	if left := partialsOnServer(filepath.Join(d.root, "alex")); len(left) != 0 {
		t.Errorf("partials left: %v", left)
	}
}

// TestHTTPTusJSClientS3ResumesThroughTheOtherServer: two daemons on one
// MinIO home; tus-js-client's upload through the first is aborted after
// 6 MiB and resumed through the second, from the whole parts the store
// kept; the file is stored whole and verified.
func TestHTTPTusJSClientS3ResumesThroughTheOtherServer(t *testing.T) {
	modules := needTusJS(t)
	s := s3ServersWith(t, miniotest.Shared(t), 2, "", filepath.Join(t.TempDir(), "accounts.ini"), "--http-listen", "127.0.0.1:0")
	first, second := s.daemons[0].webURL(t), s.daemons[1].webURL(t)
	work := t.TempDir()
	const size, mtime = 20 * mib, 1699999998
	sum := writeSeeded(t, filepath.Join(work, "js.bin"), size, seeded(t, 7202))

	// Through a proxy at 8 MiB/s to the first server, aborted at 9 MiB:
	// in the second PATCH, after the first has left a whole part (5 MiB)
	// in the store; resumed straight through the second server.
	slow := pacedProxy(t, first, 8*mib)
	res := runTusJS(t, modules, filepath.Join(work, "js.bin"), slow, "/s3js.bin", sum, mtime, 9*mib, second)
	if res.ResumedAt < 5*mib || res.ResumedAt%(5*mib) != 0 {
		t.Errorf("the run through the second server began at %d, want whole parts of 5 MiB past 0\nfirst server:\n%s\nsecond server:\n%s",
			res.ResumedAt, lastLogLines(s.daemons[0], 15), lastLogLines(s.daemons[1], 15))
	}
	if got := s.stored(t); got["s3js.bin"] != size {
		t.Fatalf("the store holds %v", got)
	}
	down := t.TempDir()
	out, errOut, code := ftpx(t, down, s.env(s.daemons[0].addr), "--json", "get", "s3js.bin")
	if r := onlyResult(t, out); code != 0 || r.MD5 != sum || md5File(t, filepath.Join(down, "s3js.bin")) != sum {
		t.Fatalf("ftpx get of the resumed upload: exit %d %+v %s", code, r, errOut)
	}
	if fi, err := os.Stat(filepath.Join(down, "s3js.bin")); err != nil || fi.ModTime().Unix() != mtime {
		t.Errorf("the resumed upload's mtime, as ftpx get kept it: %v %v, want %d", fi.ModTime(), err, mtime)
	}
	if held := s.held(t); held != 0 {
		t.Errorf("the store still holds %d bytes of partials", held)
	}
}
