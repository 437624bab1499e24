package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mountTmpfs mounts a tmpfs of the given size ("20m") on a fresh directory
// and unmounts it when the test ends; without the right to mount (not
// root) the test is skipped.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "small-disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		t.Skipf("cannot mount a %s tmpfs (%v): the disk-full tests need root", size, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			syscall.Unmount(dir, syscall.MNT_DETACH) // something still holds it: let go lazily
		}
	})
	return dir
}

// freeBytes returns what an unprivileged writer may still add to the file
// system holding dir.
func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// fill writes a file of zeros at path until it leaves about keep bytes
// free on its file system, and returns its size.
func fill(t *testing.T, path string, keep int64) int64 {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := max(freeBytes(t, filepath.Dir(path))-keep, 0)
	if _, err := f.Write(make([]byte, n)); err != nil {
		t.Fatalf("filling the disk: %v", err)
	}
	return n
}

// quotaJSON runs ftpx quota --json and returns the used bytes.
func quotaJSON(t *testing.T, work string, env []string) int64 {
	t.Helper()
	out, errOut, code := ftpx(t, work, env, "quota", "--json")
	var q struct{ Used int64 }
	if code != 0 || json.Unmarshal([]byte(out), &q) != nil {
		t.Fatalf("quota --json: exit %d %q %s", code, out, errOut)
	}
	return q.Used
}

// diskSetup starts a server whose data root is a tmpfs of the given size,
// with the users alex (quota as given, "" for none) and bob.
func diskSetup(t *testing.T, size, quota string, extra ...string) (*daemon, string, []string) {
	t.Helper()
	root := mountTmpfs(t, size)
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "alex", "pw", quota)
	addUser(t, accounts, "bob", "pw-bob", "")
	d := startDaemonAt(t, root, "127.0.0.1:0", accounts, extra...)
	return d, t.TempDir(), []string{"FTPX_SERVER=" + d.addr, "FTPX_USER=alex", "FTPX_PASSWORD=pw"}
}

var noSpaceLine = regexp.MustCompile(`^ftpx: put big\.bin: 286 insufficient storage on the server \(the disk filled up after [0-9.]+MB of 12\.0MB; put the file again to resume once space is freed\)\n$`)

// TestDiskFullMidUpload: the disk of a 20 MB server fills up (something
// else writes to it) while a 12 MB put runs. The client says 286 at once,
// exits 1 without retrying and keeps its resume point; the server keeps
// the partial and serves everyone meanwhile; once space is freed, the
// same put resumes and the file is whole.
func TestDiskFullMidUpload(t *testing.T) {
	d, work, env := diskSetup(t, "20m", "", "--min-free-space", "0")
	r := seeded(t, 15)
	sum := writeSeeded(t, filepath.Join(work, "big.bin"), 12*mib, r)

	b := startFtpx(t, work, env, "--limit-rate", "2MB", "put", "big.bin")
	waitUntil(t, 30*time.Second, "the server to hold 2 MiB of the put", func() bool { return heldOnServer(d.root, "alex") >= 2*mib })
	filler := filepath.Join(d.root, "filler.bin")
	fill(t, filler, 1*mib)
	if code := b.exited(t, 60*time.Second); code != 1 {
		t.Fatalf("put on a full disk: exit %d, want 1; stderr %q", code, b.err.String())
	}
	if !noSpaceLine.MatchString(b.err.String()) {
		t.Fatalf("stderr %q", b.err.String())
	}
	if n := strings.Count(d.logText(), `msg="put failed"`); n != 1 || strings.Contains(b.err.String(), "retries") {
		t.Fatalf("%d failed puts in the server log, want 1 (no retries); stderr %q", n, b.err.String())
	}
	held := heldOnServer(d.root, "alex")
	if held < 2*mib || held >= 12*mib {
		t.Fatalf("the server holds %d bytes of the put", held)
	}
	if _, err := os.Stat(filepath.Join(d.root, "alex", "big.bin")); !os.IsNotExist(err) {
		t.Fatalf("big.bin is under its name: %v", err)
	}

	// Others are served meanwhile: a listing, and a put that does not fit
	// refused up front, with the same code.
	bob := []string{"FTPX_SERVER=" + d.addr, "FTPX_USER=bob", "FTPX_PASSWORD=pw-bob"}
	if _, errOut, code := ftpx(t, work, bob, "ls"); code != 0 {
		t.Fatalf("bob's ls on a full disk: exit %d %s", code, errOut)
	}
	writeSeeded(t, filepath.Join(work, "two.bin"), 2*mib, r)
	if _, errOut, code := ftpx(t, work, bob, "put", "two.bin"); code != 1 || !strings.Contains(errOut, "ftpx: put two.bin: 286 insufficient storage on the server (need 2.0MB, ") {
		t.Fatalf("bob's put on a full disk: exit %d %q", code, errOut)
	}
	out, errOut, code := ftpx(t, work, env, "resume", "--list", "--json")
	var recs []struct {
		Remote     string
		ServerHeld *int64 `json:"server_held"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &recs) != nil || len(recs) != 1 || recs[0].Remote != "/big.bin" || recs[0].ServerHeld == nil || *recs[0].ServerHeld <= 0 {
		t.Fatalf("resume --list --json: exit %d %q %s", code, out, errOut)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = ftpx(t, work, env, "--json", "put", "big.bin")
	res := onlyResult(t, out)
	if code != 0 || res.Offset <= 0 || res.MD5 != sum {
		t.Fatalf("put again once space is freed: exit %d %+v %s", code, res, errOut)
	}
	if got := md5File(t, filepath.Join(d.root, "alex", "big.bin")); got != sum {
		t.Fatalf("stored md5 %s, want %s", got, sum)
	}
	if heldOnServer(d.root, "alex") != 0 || len(stateRecords(t, work)) != 0 {
		t.Fatal("a partial or a resume record is left after the resumed put")
	}
}

// TestPutRefusedUpFrontOnASmallDisk: a put larger than the disk's free
// space less its reserve is refused before a byte is sent.
func TestPutRefusedUpFrontOnASmallDisk(t *testing.T) {
	d, work, env := diskSetup(t, "20m", "")
	r := seeded(t, 16)
	writeSeeded(t, filepath.Join(work, "big.bin"), 25*mib, r)
	start := time.Now()
	_, errOut, code := ftpx(t, work, env, "put", "big.bin")
	if code != 1 || !regexp.MustCompile(`^ftpx: put big\.bin: 286 insufficient storage on the server \(need 25\.0MB, 19\.[0-9]MB free for uploads\)\n$`).MatchString(errOut) {
		t.Fatalf("put of 25 MB on a 20 MB disk: exit %d %q", code, errOut)
	}
	t.Logf("refused in %v", time.Since(start))
	if heldOnServer(d.root, "alex") != 0 || len(stateRecords(t, work)) != 0 {
		t.Fatal("a refused put left a partial or a resume record")
	}
	if !strings.Contains(d.logText(), `msg="put refused"`) || strings.Contains(d.logText(), `msg="put failed"`) {
		t.Fatalf("server log:\n%s", d.logText())
	}
	// The reserve: 1% of the disk by default. Just under what is left
	// fits; just over is refused.
	free := freeBytes(t, d.root) - 20*mib/100
	writeSeeded(t, filepath.Join(work, "fits.bin"), free-64<<10, r)
	if _, errOut, code := ftpx(t, work, env, "put", "fits.bin"); code != 0 {
		t.Fatalf("a put that fits: exit %d %s", code, errOut)
	}
	writeSeeded(t, filepath.Join(work, "over.bin"), freeBytes(t, d.root)-20*mib/100+64<<10, r)
	if _, errOut, code := ftpx(t, work, env, "put", "over.bin"); code != 1 || !strings.Contains(errOut, "286") {
		t.Fatalf("a put into the reserve: exit %d %s", code, errOut)
	}
}

// TestPipelinedPutsKeepMinFreeSpace: small files go pipelined, each an
// unnamed file in its directory; they are held to --min-free-space like
// any put. On a 20 MB disk that must keep 15 MB free, a put -r of 1,000
// files of 8 KiB stores what fits in the 5 MB above the reserve, refuses
// the rest with 286 (exit 1), and leaves the reserve free.
func TestPipelinedPutsKeepMinFreeSpace(t *testing.T) {
	d, work, env := diskSetup(t, "20m", "", "--min-free-space", "15MB")
	tree := filepath.Join(work, "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	r := seeded(t, 19)
	const n = 1000
	for i := range n {
		writeSeeded(t, filepath.Join(tree, fmt.Sprintf("f%04d", i)), 8<<10, r)
	}
	_, errOut, code := ftpx(t, work, env, "--quiet", "put", "-r", "tree")
	if code != 1 || !strings.Contains(errOut, "286 insufficient storage") {
		t.Fatalf("put -r of 8 MB onto 5 MB above the reserve: exit %d %.300s", code, errOut)
	}
	stored, _ := os.ReadDir(filepath.Join(d.root, "alex", "tree"))
	if len(stored) == 0 || len(stored) >= n {
		t.Fatalf("%d of %d files stored", len(stored), n)
	}
	if free := freeBytes(t, d.root); free < 15*mib-256<<10 {
		t.Fatalf("%d bytes left free, the reserve is %d (%d files stored)", free, 15*mib, len(stored))
	}
}

// TestCancelGivesTheQuotaBack: an interrupted put is held (and counted)
// until ftpx resume --cancel gives it up: the server's partial goes, the
// quota and the disk get the bytes back at once, the record goes.
func TestCancelGivesTheQuotaBack(t *testing.T) {
	d, work, env := diskSetup(t, "20m", "15MB")
	r := seeded(t, 17)
	writeSeeded(t, filepath.Join(work, "big.bin"), 12*mib, r)
	freeBefore := freeBytes(t, d.root)
	killMidPut(t, d, work, env, "big.bin", 3*mib)
	waitUntil(t, 20*time.Second, "the server to notice the cut", func() bool {
		return strings.Contains(d.logText(), `msg="put interrupted"`)
	})
	held := heldOnServer(d.root, "alex")
	if used := quotaJSON(t, work, env); used != held {
		t.Fatalf("quota used %d, the partial holds %d", used, held)
	}
	out, errOut, code := ftpx(t, work, env, "resume", "--list")
	recs := stateRecords(t, work)
	if code != 0 || len(recs) != 1 || !strings.Contains(out, "HELD") || !strings.Contains(out, " "+itoa(held)+" ") {
		t.Fatalf("resume --list: exit %d\n%s%s", code, out, errOut)
	}
	id := recs[0]["id"].(string)
	out, errOut, code = ftpx(t, work, env, "resume", "--cancel", id[:8])
	if code != 0 || !strings.HasPrefix(out, "cancelled put /big.bin: ") || !strings.Contains(out, "MB freed on the server") {
		t.Fatalf("resume --cancel: exit %d %q %s", code, out, errOut)
	}
	if used := quotaJSON(t, work, env); used != 0 {
		t.Fatalf("quota used %d after the cancel, want 0", used)
	}
	if heldOnServer(d.root, "alex") != 0 || len(stateRecords(t, work)) != 0 {
		t.Fatal("the partial or the record is left after the cancel")
	}
	if got := freeBytes(t, d.root); got < freeBefore-64<<10 {
		t.Fatalf("%d bytes free after the cancel, %d before the put", got, freeBefore)
	}
	if _, errOut, code := ftpx(t, work, env, "resume", "--cancel", id[:8]); code != 2 || !strings.Contains(errOut, "no recorded transfer") {
		t.Fatalf("second cancel: exit %d %q", code, errOut)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
