package e2e

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ftpx/internal/miniotest"

	"github.com/google/uuid"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Modification times through FTP with lftp, against the real daemon:
// mirror -R keeps a tree's times on the server (lftp sends MFMT after
// each STOR, since FEAT lists it), mirror keeps the server's times
// locally (from MLSD's modify facts), and a second mirror -R of the
// unchanged tree sends nothing, lftp comparing sizes and times. The
// server runs in one time zone and lftp in another, neither UTC, so that
// a time read or written in local time shows.

// lftpTree is the tree mirrored: old times, one with a fraction of a
// second (MFMT carries whole seconds, and lftp compares to the second),
// an empty file, a name with a space, a file of several S3 parts.
var lftpTree = []struct {
	name  string
	size  int
	mtime time.Time
}{
	{"a.txt", 1000, time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)},
	{"frac.bin", 3000, time.Date(2015, 6, 7, 8, 9, 10, 75e7, time.UTC)},
	{"sub/b.bin", 300_000, time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)},
	{"sub/empty", 0, time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)},
	{"sub/big.bin", 11<<20 + 7, time.Date(2005, 5, 5, 5, 5, 5, 0, time.UTC)},
	{"sub/deeper/with space.txt", 17, time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC)},
}

// lftpTZ is lftp's time zone, the server's being serverTZ.
const (
	lftpTZ   = "Asia/Kolkata"     // +05:30
	serverTZ = "America/New_York" // -05:00 or -04:00
)

// lftp runs an lftp script as alex against the FTP front end at addr, in
// lftpTZ, and returns its output; lftp failing fails the test. Without
// lftp (Debian's package: apt-get install lftp) the test is skipped.
func lftp(t *testing.T, addr, script string) string {
	t.Helper()
	bin, err := exec.LookPath("lftp")
	if err != nil {
		t.Skip("lftp is not installed (apt-get install lftp); skipping the lftp test")
	}
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "-c", "set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 30; set ftp:ssl-allow no; open -u alex,pw -p "+
		port+" "+host+"; "+script)
	cmd.Env = append(os.Environ(), "TZ="+lftpTZ)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("lftp %s: %v\n%s", script, err, out)
	}
	return string(out)
}

// transferred is the number of files lftp -v says it sent or got.
func transferred(out string) int { return strings.Count(out, "Transferring file") }

// lsTimes is what ftpx ls --json says of the names in a remote directory.
func lsTimes(t *testing.T, work string, env []string, dir string) map[string]time.Time {
	t.Helper()
	out, errOut, code := ftpx(t, work, env, "ls", "--json", dir)
	var entries []struct {
		Name  string    `json:"name"`
		MTime time.Time `json:"mtime"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &entries) != nil {
		t.Fatalf("ls --json %s: exit %d %s %s", dir, code, out, errOut)
	}
	times := map[string]time.Time{}
	for _, e := range entries {
		times[e.Name] = e.MTime
	}
	return times
}

// lftpMirrorKeepsMtimes mirrors lftpTree up to "up" and back down
// through the FTP front end at ftpAddr, and checks the times at each
// step: in the server's store (stored), through ftpx ls --json and MDTM,
// and on the local disk. It returns the MD5s of the files, by name.
func lftpMirrorKeepsMtimes(t *testing.T, d *daemon, ftpAddr string, stored func(name string) time.Time) map[string]string {
	t.Helper()
	work := t.TempDir()
	env := []string{"FTPX_SERVER=" + d.addr, "FTPX_USER=alex", "FTPX_PASSWORD=pw"}
	tree := filepath.Join(work, "tree")
	content := map[string]string{}
	for _, f := range lftpTree {
		p := filepath.Join(tree, filepath.FromSlash(f.name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		content[f.name] = writeRandom(t, p, f.size)
		if err := os.Chtimes(p, f.mtime, f.mtime); err != nil {
			t.Fatal(err)
		}
	}
	// run runs lftp and waits for the server to have logged the end of
	// its session, and so every STOR of it: puts counts them.
	sessions := 0
	run := func(script string) string {
		out := lftp(t, ftpAddr, script)
		sessions++
		waitUntil(t, 10*time.Second, "the server to log the end of lftp's session", func() bool {
			return strings.Count(d.logText(), `msg="connection closed" protocol=ftp `) >= sessions
		})
		return out
	}
	puts := func() int { return strings.Count(d.logText(), `msg="put done" protocol=ftp `) }

	// Up: --no-perms, or lftp's SITE CHMOD (not served: 502) fails the mirror.
	out := run("mirror -R -v --no-perms " + tree + " up")
	if n := transferred(out); n != len(lftpTree) || puts() != len(lftpTree) {
		t.Fatalf("mirror -R: lftp sent %d files, the server stored %d; want %d\n%s", n, puts(), len(lftpTree), out)
	}
	var mdtm []string
	for _, f := range lftpTree {
		want := f.mtime.Truncate(time.Second)
		if got := stored("up/" + f.name); !got.Equal(want) {
			t.Errorf("up/%s: the server keeps %v, want %v", f.name, got, want)
		}
		if got := lsTimes(t, work, env, path.Dir("up/"+f.name))[path.Base(f.name)]; !got.Equal(want) {
			t.Errorf("up/%s: ftpx ls --json says %v, want %v", f.name, got, want)
		}
		mdtm = append(mdtm, `quote MDTM "up/`+f.name+`"`)
	}
	out = run(strings.Join(mdtm, "; "))
	for _, f := range lftpTree {
		if want := "213 " + f.mtime.UTC().Format("20060102150405") + "\n"; !strings.Contains(out, want) {
			t.Errorf("up/%s: MDTM did not answer %q:\n%s", f.name, want, out)
		}
	}

	// Down, into a directory that does not exist yet.
	down := filepath.Join(work, "down")
	out = run("mirror -v up " + down)
	if n := transferred(out); n != len(lftpTree) {
		t.Fatalf("mirror: lftp got %d files, want %d\n%s", n, len(lftpTree), out)
	}
	for _, f := range lftpTree {
		p := filepath.Join(down, filepath.FromSlash(f.name))
		if got, want := mtimeOf(t, p), f.mtime.Truncate(time.Second); !got.Equal(want) {
			t.Errorf("%s got by lftp mirror: mtime %v, want %v", f.name, got, want)
		}
		if md5File(t, p) != content[f.name] {
			t.Errorf("%s got by lftp mirror differs", f.name)
		}
	}

	// Up again, unchanged: nothing is sent, the times being the same.
	before := puts()
	if out := run("mirror -R -v --no-perms " + tree + " up"); transferred(out) != 0 || puts() != before {
		t.Fatalf("mirror -R of the unchanged tree: lftp sent %d files, the server stored %d\n%s", transferred(out), puts()-before, out)
	}
	// Only a newer time (the same bytes): that file alone is sent again.
	newer := time.Date(2021, 7, 8, 9, 10, 11, 0, time.UTC)
	os.Chtimes(filepath.Join(tree, "sub", "b.bin"), newer, newer)
	if out := run("mirror -R -v --no-perms " + tree + " up"); transferred(out) != 1 || puts() != before+1 ||
		!strings.Contains(out, "sub/b.bin") {
		t.Fatalf("mirror -R after one file's time changed: lftp sent %d files, the server stored %d\n%s", transferred(out), puts()-before, out)
	}
	if got := stored("up/sub/b.bin"); !got.Equal(newer) {
		t.Errorf("up/sub/b.bin after its time changed: the server keeps %v, want %v", got, newer)
	}
	return content
}

func TestLftpMirrorKeepsMtimesBothWays(t *testing.T) {
	t.Setenv("TZ", serverTZ) // the daemon's
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "alex", "pw", "")
	d := startDaemon(t, accounts, "--ftp-listen", "127.0.0.1:0")
	lftpMirrorKeepsMtimes(t, d, d.ftpAddr(t), func(name string) time.Time {
		return mtimeOf(t, filepath.Join(d.root, "alex", filepath.FromSlash(name)))
	})
}

func TestS3LftpMirrorAndMfmtKeepMtimes(t *testing.T) {
	srv := miniotest.Shared(t)
	srv.SetEnv(t) // the server inherits the credentials, never in argv
	t.Setenv("TZ", serverTZ)
	prefix := "m-" + uuid.NewString()[:8]
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "alex", "pw", "")
	d := startDaemonAt(t, "s3://"+s3Bucket+"/"+prefix, "127.0.0.1:0", accounts, "--s3-endpoint", srv.Endpoint,
		"--s3-part-size", "5MB", "--state-dir", t.TempDir(), "--ftp-listen", "127.0.0.1:0")
	ftpAddr := d.ftpAddr(t)
	mc, err := minio.New(srv.Addr, &minio.Options{Creds: credentials.NewStaticV4(miniotest.AccessKey, miniotest.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	// The time the store keeps: the object's Ftpx-Mtime metadata.
	stored := func(name string) time.Time {
		o, err := mc.StatObject(context.Background(), s3Bucket, prefix+"/alex/"+name, minio.StatObjectOptions{})
		if err != nil {
			t.Fatalf("stat %s in the store: %v", name, err)
		}
		mt, err := time.Parse(time.RFC3339Nano, o.UserMetadata["Ftpx-Mtime"])
		if err != nil {
			t.Fatalf("%s in the store: metadata %v", name, o.UserMetadata)
		}
		return mt
	}
	sums := lftpMirrorKeepsMtimes(t, d, ftpAddr, stored)

	// MFMT through lftp's quote: the time is set and shown, the bytes
	// and the stored MD5 stay.
	apr2003 := time.Date(2003, 4, 5, 6, 7, 8, 0, time.UTC)
	work := t.TempDir()
	env := []string{"FTPX_SERVER=" + d.addr, "FTPX_USER=alex", "FTPX_PASSWORD=pw"}
	out := lftp(t, ftpAddr, `quote MFMT 19991231235959.5 "up/sub/deeper/with space.txt"; quote MDTM "up/sub/deeper/with space.txt"; `+
		`quote MFMT 20030405060708 up/sub/big.bin; quote MDTM up/sub/big.bin; quote MFMT 2003 up/a.txt; quote MFMT 20030405060708 up/missing`)
	for _, want := range []string{
		"213 Modify=19991231235959; up/sub/deeper/with space.txt\n", "213 19991231235959\n",
		"213 Modify=20030405060708; up/sub/big.bin\n", "213 20030405060708\n",
		"501 ", "550 up/missing: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lftp quote: no %q in\n%s", want, out)
		}
	}
	if got := stored("up/sub/big.bin"); !got.Equal(apr2003) {
		t.Errorf("big.bin after MFMT: the store keeps %v, want %v", got, apr2003)
	}
	if got := lsTimes(t, work, env, "up/sub")["big.bin"]; !got.Equal(apr2003) {
		t.Errorf("big.bin after MFMT: ftpx ls --json says %v, want %v", got, apr2003)
	}
	if o, err := mc.StatObject(context.Background(), s3Bucket, prefix+"/alex/up/sub/big.bin", minio.StatObjectOptions{}); err != nil ||
		o.UserMetadata["Ftpx-Md5"] != sums["sub/big.bin"] {
		t.Errorf("big.bin after MFMT: the store keeps MD5 %q (%v), want %s", o.UserMetadata["Ftpx-Md5"], err, sums["sub/big.bin"])
	}
	out, errOut, code := ftpx(t, work, env, "--json", "get", "up/sub/big.bin", "big.bin")
	if res := onlyResult(t, out); code != 0 || res.MD5 != sums["sub/big.bin"] || md5File(t, filepath.Join(work, "big.bin")) != sums["sub/big.bin"] {
		t.Fatalf("get after MFMT: exit %d %s %s", code, out, errOut)
	}
	if got := mtimeOf(t, filepath.Join(work, "big.bin")); !got.Equal(apr2003) {
		t.Errorf("big.bin got after MFMT: mtime %v, want %v", got, apr2003)
	}
}
