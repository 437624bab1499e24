package e2e

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The sync tests (sync_test.go, sync_delta_test.go, sync_s3_test.go) run
// the client through a forwarder that counts the bytes each way, so that a
// test can tell names and times from file bodies on the wire.

// syncSetup is a server with the user alex, reached through a counting
// forwarder, and a working directory for the client.
type syncSetup struct {
	d    *daemon
	lb   *balancer
	work string
	env  []string // the client's environment: through the forwarder
	home string   // alex's home on the server's disk
	runs int      // client runs so far: each makes one connection
}

// newSyncSetup starts a server with alex (quota as user add takes it, ""
// for none) behind a counting forwarder.
func newSyncSetup(t *testing.T, quota string) *syncSetup {
	t.Helper()
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "alex", "pw", quota)
	d := startDaemon(t, accounts)
	lb := newBalancer(t, d.addr)
	return &syncSetup{d: d, lb: lb, work: t.TempDir(), home: filepath.Join(d.root, "alex"),
		env: []string{"FTPX_SERVER=" + lb.addr(), "FTPX_USER=alex", "FTPX_PASSWORD=pw"}}
}

// run runs the client in the working directory.
func (s *syncSetup) run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	s.runs++
	return ftpx(t, s.work, s.env, args...)
}

// mustRun runs the client and fails the test unless it exits 0.
func (s *syncSetup) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := s.run(t, args...)
	if code != 0 {
		t.Fatalf("ftpx %q: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
	}
	return out
}

// settled returns the server's log once it has the end of every
// connection the client made so far: the log comes through a pipe and may
// lag behind the client's exit.
func (s *syncSetup) settled(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l := s.d.logText()
		if strings.Count(l, `msg="connection closed"`) >= s.runs {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server logged the end of fewer than %d connections:\n%s", s.runs, l)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// quietLog returns d's log once it has not grown for 200 ms: what the
// runs before logged has come through the pipe.
func quietLog(t *testing.T, d *daemon) string {
	t.Helper()
	l, since := d.logText(), time.Now()
	for deadline := time.Now().Add(10 * time.Second); time.Since(since) < 200*time.Millisecond; {
		if time.Now().After(deadline) {
			t.Fatal("the server's log kept growing for 10 s")
		}
		time.Sleep(20 * time.Millisecond)
		if n := d.logText(); len(n) != len(l) {
			l, since = n, time.Now()
		}
	}
	return l
}

// logMark is where the server's log stands, once settled, before a run.
func (s *syncSetup) logMark(t *testing.T) int { return len(s.settled(t)) }

// logSince returns what the server logged after mark, once settled.
func (s *syncSetup) logSince(t *testing.T, mark int) string { return s.settled(t)[mark:] }

// syncLine is one line of "ftpx --json" for a transfer, a skip or a
// removal.
type syncLine struct {
	Action, Local, Remote, MD5, Error string
	Size, Offset, Sent                int64
	Skipped, Delta                    bool
	DryRun                            bool `json:"dry_run"`
}

// syncLines parses every line of out; each must be a JSON object.
func syncLines(t *testing.T, out string) []syncLine {
	t.Helper()
	var ls []syncLine
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var l syncLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("--json line %q: %v", line, err)
		}
		ls = append(ls, l)
	}
	return ls
}

// split sorts the transfer lines of a run into what was sent and what was
// skipped, and lists the removals, each by the path name gives it
// (Remote for a put's lines, Local for a get's), made relative to under.
func split(lines []syncLine, name func(syncLine) string, under string) (sent, skipped, deleted []string) {
	rel := func(p string) string {
		r, err := filepath.Rel(under, p)
		if err != nil {
			return p
		}
		return filepath.ToSlash(r)
	}
	for _, l := range lines {
		switch {
		case l.Action == "delete" && l.Remote != "":
			deleted = append(deleted, rel(l.Remote))
		case l.Action == "delete":
			deleted = append(deleted, rel(l.Local))
		case l.Skipped:
			skipped = append(skipped, rel(name(l)))
		default:
			sent = append(sent, rel(name(l)))
		}
	}
	slices.Sort(sent)
	slices.Sort(skipped)
	slices.Sort(deleted)
	return sent, skipped, deleted
}

func remoteOf(l syncLine) string { return l.Remote }
func localOf(l syncLine) string  { return l.Local }

// sameList fails the test unless got and want hold the same names.
func sameList(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: %q, want %q", what, got, want)
	}
}

// entryState is what a tree snapshot records of one name.
type entryState struct {
	Dir   bool
	Link  string // a symlink's target
	Size  int64
	MD5   string
	MTime time.Time
}

// snapshot records every name under root (symlinks not followed), by
// path relative to it: kind, size, MD5 and mtime of files, targets of
// links. A missing root is an empty snapshot.
func snapshot(t *testing.T, root string) map[string]entryState {
	t.Helper()
	snap := map[string]entryState{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root && os.IsNotExist(err) {
				return nil
			}
			t.Fatalf("snapshot %s: %v", p, err)
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := d.Info()
		if err != nil {
			t.Fatal(err)
		}
		e := entryState{Dir: d.IsDir()}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			e.Link, _ = os.Readlink(p)
		case d.Type().IsRegular():
			e.Size, e.MD5, e.MTime = fi.Size(), md5File(t, p), fi.ModTime()
		}
		snap[filepath.ToSlash(rel)] = e
		return nil
	})
	return snap
}

// sameSnapshot fails the test when two snapshots differ, naming each
// difference.
func sameSnapshot(t *testing.T, what string, before, after map[string]entryState) {
	t.Helper()
	for k, b := range before {
		if a, ok := after[k]; !ok {
			t.Errorf("%s: %s is gone", what, k)
		} else if a != b {
			t.Errorf("%s: %s changed: %+v -> %+v", what, k, b, a)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s: %s appeared", what, k)
		}
	}
}

// names lists the regular files, directories and links of a snapshot,
// directories with a trailing "/".
func names(snap map[string]entryState) []string {
	var list []string
	for k, e := range snap {
		switch {
		case k == ".":
		case e.Dir:
			list = append(list, k+"/")
		default:
			list = append(list, k)
		}
	}
	slices.Sort(list)
	return list
}

// setMTime sets a file's modification (and access) time.
func setMTime(t *testing.T, p string, mtime time.Time) {
	t.Helper()
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// mtimeOf is a file's modification time (symlinks not followed).
func mtimeOf(t *testing.T, p string) time.Time {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime()
}

// writeBytes writes b to p, making its directory, and returns its MD5.
func writeBytes(t *testing.T, p string, b []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return md5File(t, p)
}

// randomBytes returns n bytes drawn from r.
func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for k := 0; k < 8 && i+k < n; k++ {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	return b
}

// edited returns old with insert random bytes put in at 5,000 and the
// 64 KiB in the middle rewritten: an edit a delta finds wherever the
// bytes moved.
func edited(r *rand.Rand, old []byte, insert int) []byte {
	b := slices.Concat(old[:5000], randomBytes(r, insert), old[5000:])
	mid := len(b) / 2
	copy(b[mid:mid+64<<10], randomBytes(r, 64<<10))
	return b
}

// md5Bytes is the MD5 of b in lower-case hex.
func md5Bytes(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// partialsOnServer lists what is left in a home's .ftpx-partial.
func partialsOnServer(home string) []string {
	entries, _ := os.ReadDir(filepath.Join(home, ".ftpx-partial"))
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	return left
}

// lsJSON runs ftpx ls --json on a remote directory and returns its
// entries by name.
func lsJSON(t *testing.T, work string, env []string, dir string) map[string]time.Time {
	t.Helper()
	out, errOut, code := ftpx(t, work, env, "ls", "--json", dir)
	if code != 0 {
		t.Fatalf("ls --json %s: exit %d: %s", dir, code, errOut)
	}
	var entries []struct {
		Name  string
		MTime string
	}
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("ls --json %s: %v: %q", dir, err, out)
	}
	m := map[string]time.Time{}
	for _, e := range entries {
		mt, err := time.Parse(time.RFC3339, e.MTime)
		if err != nil {
			t.Fatalf("ls --json %s: %s: mtime %q: %v", dir, e.Name, e.MTime, err)
		}
		m[e.Name] = mt
	}
	return m
}
