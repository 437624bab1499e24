package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ftpx/protocol"
)

// The get -r tests: a real server for resume and quota, and fakeServer for
// servers that lie about the tree.

// treeFixture writes, in the user's home on the server, a tree of 60 small
// files in two directories around three 6 MiB ones, with an empty
// directory and names with spaces and unicode, and returns the MD5 of
// every file by its path in the home.
func treeFixture(t *testing.T, home string) map[string]string {
	t.Helper()
	r := seeded(t, 12)
	sums := map[string]string{}
	write := func(name string, n int64) {
		p := filepath.Join(home, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		sums[name] = writeSeeded(t, p, n, r)
	}
	for i := range 30 {
		write(fmt.Sprintf("tree/a small/f%02d.txt", i), int64(100+i*37))
		write(fmt.Sprintf("tree/c-ünï/f%02d.txt", i), int64(4096+i))
	}
	for i := range 3 {
		write(fmt.Sprintf("tree/b-big/%d.bin", i), 6*mib+int64(i))
	}
	os.MkdirAll(filepath.Join(home, "tree", "d", "empty"), 0o755)
	return sums
}

// checkTree compares the files under local with sums (paths under
// "tree/"), and fails on any other file there (a partial left behind).
func checkTree(t *testing.T, local string, sums map[string]string) {
	t.Helper()
	n := 0
	filepath.Walk(local, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(local, p)
		want, ok := sums["tree/"+filepath.ToSlash(rel)]
		if !ok {
			t.Errorf("unexpected local file %s", rel)
			return nil
		}
		if got := md5File(t, p); got != want {
			t.Errorf("%s: md5 %s, want %s", rel, got, want)
		}
		n++
		return nil
	})
	if n != len(sums) {
		t.Errorf("%d files under %s, want %d", n, local, len(sums))
	}
	if fi, err := os.Stat(filepath.Join(local, "d", "empty")); err != nil || !fi.IsDir() {
		t.Errorf("the empty directory: %v", err)
	}
}

// TestGetRecursiveResumesAfterAKill kills a get -r in the middle of one of
// its big files, leaves a stray partial as a killed pipelined batch would,
// and runs the same command again: it lands where the first run did (not
// in LOCAL/tree, though LOCAL now exists), skips what was done, resumes
// the cut file, and ends with every file verified and nothing left over.
func TestGetRecursiveResumesAfterAKill(t *testing.T) {
	d, work, env := resumeSetup(t)
	sums := treeFixture(t, filepath.Join(d.root, "alex"))
	out := filepath.Join(work, "out")

	b := startFtpx(t, work, env, "--limit-rate", "16MB", "get", "-r", "tree", "out")
	waitUntil(t, 30*time.Second, "a checkpoint of a big file", func() bool {
		for _, r := range stateRecords(t, work) {
			if off, _ := r["offset"].(float64); r["direction"] == "get" && off > 0 {
				return true
			}
		}
		return false
	})
	b.kill()
	journal, _ := filepath.Glob(filepath.Join(work, ".state", "batches", "get-*.jsonl"))
	if len(journal) != 1 {
		t.Fatalf("journals after the kill: %q", journal)
	}
	stray := filepath.Join(out, "c-ünï", ".f00.txt.ftpx-part-3f2504e0-4f89-41d3-9a0c-0305e82c3301")
	os.MkdirAll(filepath.Dir(stray), 0o755)
	os.WriteFile(stray, []byte("half"), 0o644)

	stdout, errOut, code := ftpx(t, work, env, "--json", "get", "-r", "tree", "out")
	if code != 0 {
		t.Fatalf("rerun: exit %d: %s", code, errOut)
	}
	skipped, resumed := 0, 0
	results := parseResults(t, stdout)
	for _, r := range results {
		// A file the first run finished has the server's size and mtime:
		// sync skips it (no md5: it was not read), checkTree verifies it.
		if r.Action != "get" || r.MD5 != sums[r.Remote] && !(r.Skipped && r.MD5 == "") {
			t.Errorf("result %+v: want action get and the md5 of %s", r, r.Remote)
		}
		switch {
		case r.Sent == 0 && r.Offset == r.Size:
			skipped++
		case r.Offset > 0:
			resumed++
		}
	}
	if len(results) != len(sums) || skipped == 0 || resumed != 1 {
		t.Errorf("%d results (%d files), %d skipped, %d resumed; want every file, some skipped, one resumed:\n%s\n%s", len(results), len(sums), skipped, resumed, stdout, errOut)
	}
	checkTree(t, out, sums)
	if _, err := os.Stat(filepath.Join(out, "tree")); err == nil {
		t.Error("the rerun landed in out/tree: cp's rule was applied again")
	}
	if recs := stateRecords(t, work); len(recs) != 0 {
		t.Errorf("resume records left: %v", recs)
	}
	if journal, _ := filepath.Glob(filepath.Join(work, ".state", "batches", "*")); len(journal) != 0 {
		t.Errorf("journal left: %q", journal)
	}
	// Run again, the batch being finished: cp's rule, out/tree.
	if _, errOut, code := ftpx(t, work, env, "get", "-r", "tree", "out"); code != 0 {
		t.Fatalf("third run: exit %d %s", code, errOut)
	}
	checkTree(t, filepath.Join(out, "tree"), sums)
}

// TestGetRecursiveAtFullQuota: local writes take nothing from the remote
// quota, so a user whose quota is full gets everything.
func TestGetRecursiveAtFullQuota(t *testing.T) {
	_, work, env := shellSetup(t, "64KB")
	os.MkdirAll(filepath.Join(work, "full", "sub"), 0o755)
	sums := map[string]string{}
	for i := range 4 {
		name := fmt.Sprintf("full/sub/%d.bin", i)
		sums["tree/"+name] = writeRandom(t, filepath.Join(work, name), 16<<10)
	}
	if _, errOut, code := ftpx(t, work, env, "put", "-r", "full"); code != 0 {
		t.Fatalf("filling the quota: exit %d %s", code, errOut)
	}
	if out, _, _ := ftpx(t, work, env, "--json", "quota"); !strings.Contains(out, `"used":65536`) || !strings.Contains(out, `"quota":65536`) {
		t.Fatalf("quota not full: %s", out)
	}
	writeRandom(t, filepath.Join(work, "one.bin"), 1)
	if _, _, code := ftpx(t, work, env, "put", "one.bin"); code != 5 {
		t.Fatalf("a put at full quota: exit %d, want 5", code)
	}
	if _, errOut, code := ftpx(t, work, env, "get", "-r", "/", "copy"); code != 0 {
		t.Fatalf("get -r / at full quota: exit %d %s", code, errOut)
	}
	for name, sum := range sums {
		if got := md5File(t, filepath.Join(work, "copy", strings.TrimPrefix(name, "tree/"))); got != sum {
			t.Errorf("%s: %s, want %s", name, got, sum)
		}
	}
}

// TestShellGetRecursiveInABatch runs get -r from a script on stdin: the
// tree lands, and a missing path stops the script with 1 and the 256
// line naming it.
func TestShellGetRecursiveInABatch(t *testing.T) {
	d, work, env := shellSetup(t, "")
	sums := treeFixture(t, filepath.Join(d.root, "alex"))
	os.Mkdir(filepath.Join(work, "have"), 0o755)
	_, errOut, code := runScript(t, "stdin", work, env, "get -r tree have", "lcd have", "get -r --json tree/d", "get -r missing", "get -r tree")
	if code != 1 || !strings.Contains(errOut, "ftpx: line 4: get -r missing: get missing: 256 file does not exist") {
		t.Fatalf("exit %d, stderr %q; want 1 and the 256 line", code, errOut)
	}
	checkTree(t, filepath.Join(work, "have", "tree"), sums)
	if fi, err := os.Stat(filepath.Join(work, "have", "d", "empty")); err != nil || !fi.IsDir() {
		t.Errorf("get -r tree/d after lcd: %v", err)
	}
}

// liar is a server that lies about a tree. tree answers the tree action
// with frames (nil: 251, no such action); ls and stat answer the
// directory-by-directory listing; every get is answered with the same
// small body.
type liar struct {
	tree func(send func(entries []protocol.TreeEntry, more bool) error)
	ls   func(path string) ([]protocol.Entry, bool) // false: not a directory (ls describes a file)
}

func (l liar) start(t *testing.T) string {
	body := []byte("lie\n")
	hello := protocol.Response{Status: protocol.StatusReady, Msg: "ready", Version: "liar/2"}
	return fakeServer(t, hello, func(c net.Conn, req *protocol.Request) bool {
		ok := func(r protocol.Response) error {
			r.ID, r.Status, r.Msg = req.ID, protocol.StatusOK, "ok"
			return protocol.WriteFrame(c, r)
		}
		switch req.Action {
		case "tree":
			if l.tree == nil {
				protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusBadCommand, Msg: "no"})
				return true
			}
			l.tree(func(es []protocol.TreeEntry, more bool) error { return ok(protocol.Response{Tree: es, More: more}) })
		case "stat":
			_, isDir := l.ls(strings.TrimPrefix(req.Filename, "/"))
			ok(protocol.Response{Stat: &protocol.Entry{Name: "x", IsDir: isDir}})
		case "ls":
			es, _ := l.ls(strings.TrimPrefix(req.Path, "/"))
			ok(protocol.Response{Entries: es})
		default:
			answerGet(c, req, body)
		}
		return true
	})
}

// hostileNames are what a lying server lists, each refused by the client.
var hostileNames = []string{"..", "../escape", "/abs-escape", "sub/../../escape2", `back\slash`, "nul\x00name",
	"term\x1b[2J\x1b]0;title\x07", "nl\nname", "cr\rname", strings.Repeat("x", 300)}

// getFromLiar runs get -r top LOCAL against a lying server, with a
// deadline: it must end. It returns stderr and the exit status, having
// checked that nothing was written outside LOCAL and that stderr holds no
// raw control character.
func getFromLiar(t *testing.T, addr, top string) (string, int) {
	t.Helper()
	work := t.TempDir()
	local := filepath.Join(work, "in", "target")
	os.MkdirAll(filepath.Dir(local), 0o755)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "ftpx"), "get", "-r", top, "in/target")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "FTPX_STATE_DIR="+filepath.Join(work, ".state"), "FTPX_SERVER="+addr, "FTPX_USER=u", "FTPX_PASSWORD=p")
	var errb strings.Builder
	cmd.Stderr = &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("get -r %s from a lying server did not end: %s", top, errb.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	filepath.Walk(work, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && !strings.HasPrefix(p, local+string(filepath.Separator)) && !strings.Contains(p, ".state") {
			t.Errorf("written outside the target: %s", p)
		}
		return nil
	})
	if strings.ContainsFunc(errb.String(), func(r rune) bool { return r < 0x20 && r != '\n' || r == 0x7f }) {
		t.Errorf("raw control characters on stderr: %q", errb.String())
	}
	return errb.String(), code
}

// TestGetRecursiveFromALyingServer lists hostile names through the tree
// action and through ls: each is refused on a line of its own, the honest
// names land, nothing leaves the target, and the command ends.
func TestGetRecursiveFromALyingServer(t *testing.T) {
	var entries []protocol.TreeEntry
	var listing []protocol.Entry
	for _, n := range hostileNames {
		entries = append(entries, protocol.TreeEntry{Path: n, Size: 4})
		listing = append(listing, protocol.Entry{Name: n, Size: 4})
	}
	entries = append(entries, protocol.TreeEntry{Path: "ok.txt", Size: 4}, protocol.TreeEntry{Path: "fakedir", IsDir: true},
		protocol.TreeEntry{Path: "fakedir/inner.txt", Size: 4}, protocol.TreeEntry{Path: "ok.txt/x", Size: 4})
	listing = append(listing, protocol.Entry{Name: "ok.txt", Size: 4}, protocol.Entry{Name: "fakedir", IsDir: true})

	for _, tc := range []struct {
		name string
		l    liar
	}{
		{"tree", liar{tree: func(send func([]protocol.TreeEntry, bool) error) {
			send(entries[:4], true) // over several frames
			send(entries[4:], false)
		}}},
		{"ls", liar{ls: func(p string) ([]protocol.Entry, bool) {
			switch p {
			case "top":
				return listing, true
			case "top/fakedir": // listed as a directory, but it is a file
				return []protocol.Entry{{Name: "fakedir", Size: 4}}, false
			}
			return nil, true
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errOut, code := getFromLiar(t, tc.l.start(t), "top")
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if code != 1 || len(lines) < len(hostileNames) {
				t.Fatalf("exit %d, %d lines: %s", code, len(lines), errOut)
			}
			for _, l := range lines {
				if !strings.HasPrefix(l, "ftpx: get ") {
					t.Errorf("line %q", l)
				}
			}
			t.Logf("stderr:\n%s", errOut)
		})
	}
}

// TestGetRecursiveEndsOnEndlessTrees: a server that repeats a name
// forever, or lists a tree deeper and deeper, is given up on (exit 1), and
// nothing is written outside the target.
func TestGetRecursiveEndsOnEndlessTrees(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    liar
	}{
		{"the same name forever", liar{tree: func(send func([]protocol.TreeEntry, bool) error) {
			for send([]protocol.TreeEntry{{Path: "again", Size: 4}}, true) == nil {
			}
		}}},
		{"deeper forever, tree", liar{tree: func(send func([]protocol.TreeEntry, bool) error) {
			p := "a"
			for send([]protocol.TreeEntry{{Path: p, IsDir: true}}, true) == nil {
				p += "/a"
			}
		}}},
		{"deeper forever, ls", liar{ls: func(string) ([]protocol.Entry, bool) {
			return []protocol.Entry{{Name: "a", IsDir: true}}, true
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			errOut, code := getFromLiar(t, tc.l.start(t), "top")
			if code != 1 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			t.Logf("ended in %v: %s", time.Since(start).Round(time.Millisecond), errOut)
		})
	}
}
