package e2e

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Sync (CONTRACT.md, "Sync: only what changed") through the real
// binaries: mtimes kept both ways, reruns that carry no bodies, what
// changed and only that, --delete, --dry-run and the shell. Deltas are in
// sync_delta_test.go, the object store in sync_s3_test.go.

// mtimeTree writes a tree whose files have old, distinct mtimes, some
// with a fraction of a second, one file above the size that goes
// pipelined, an empty one and a name with spaces and accents, and returns the mtime of each by its path under root.
func mtimeTree(t *testing.T, root string) map[string]time.Time {
	t.Helper()
	r := seeded(t, 21)
	want := map[string]time.Time{
		"a.txt":            time.Date(2001, 2, 3, 4, 5, 6, 123456789, time.UTC),
		"whole.txt":        time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC),
		"sub/b.bin":        time.Date(2010, 6, 15, 12, 0, 0, 500000000, time.UTC),
		"sub/deep/c.txt":   time.Date(2015, 1, 1, 0, 0, 0, 1, time.UTC),
		"sub/deep/big.bin": time.Date(2020, 7, 8, 9, 10, 11, 999999999, time.UTC),
		"sub/ünï cödé.txt": time.Date(1980, 1, 1, 0, 0, 1, 0, time.UTC),
		"empty.txt":        time.Date(2003, 3, 3, 3, 3, 3, 300, time.UTC),
	}
	for _, name := range slices.Sorted(maps.Keys(want)) { // in one order: the same bytes every run
		mtime := want[name]
		n := 1000 + len(name)*100
		switch name {
		case "sub/deep/big.bin":
			n = 3 * mib // above the pipelined size: one put, one get of its own
		case "empty.txt":
			n = 0
		}
		p := filepath.Join(root, filepath.FromSlash(name))
		writeBytes(t, p, randomBytes(r, n))
		setMTime(t, p, mtime)
	}
	return want
}

// checkMTimes fails the test unless every file of want under root has
// exactly its mtime.
func checkMTimes(t *testing.T, what, root string, want map[string]time.Time) {
	t.Helper()
	for name, mtime := range want {
		if got := mtimeOf(t, filepath.Join(root, filepath.FromSlash(name))); !got.Equal(mtime) {
			t.Errorf("%s: %s has mtime %s, want %s", what, name, got.UTC().Format(time.RFC3339Nano), mtime.Format(time.RFC3339Nano))
		}
	}
}

func TestSyncKeepsMTimesBothWays(t *testing.T) {
	s := newSyncSetup(t, "")
	want := mtimeTree(t, filepath.Join(s.work, "tree"))
	one := time.Date(2005, 5, 5, 5, 5, 5, 5, time.UTC)
	writeRandom(t, filepath.Join(s.work, "one.bin"), 70_000)
	setMTime(t, filepath.Join(s.work, "one.bin"), one)

	s.mustRun(t, "put", "-r", "--to", "/up", "tree")
	s.mustRun(t, "put", "one.bin", "/up/one.bin")
	checkMTimes(t, "on the server's disk", filepath.Join(s.home, "up", "tree"), want)
	checkMTimes(t, "on the server's disk", filepath.Join(s.home, "up"), map[string]time.Time{"one.bin": one})

	// ls --json shows them, to the second at least.
	listed := lsJSON(t, s.work, s.env, "/up/tree/sub/deep")
	for name, mtime := range map[string]time.Time{"c.txt": want["sub/deep/c.txt"], "big.bin": want["sub/deep/big.bin"]} {
		if got := listed[name]; got.Unix() != mtime.Unix() {
			t.Errorf("ls --json: %s has mtime %s, want %s", name, got, mtime)
		}
	}
	if got := lsJSON(t, s.work, s.env, "/up")["one.bin"]; got.Unix() != one.Unix() {
		t.Errorf("ls --json: one.bin has mtime %s, want %s", got, one)
	}

	// get -r and get restore them exactly, in a fresh directory.
	fresh := filepath.Join(s.work, "fresh")
	s.mustRun(t, "get", "-r", "--to", "fresh", "/up/tree")
	checkMTimes(t, "after get -r", filepath.Join(fresh, "tree"), want)
	s.mustRun(t, "get", "/up/one.bin", "fresh/one.bin")
	checkMTimes(t, "after get", fresh, map[string]time.Time{"one.bin": one})
}

// manySmall writes n files of size bytes under root, in four
// directories.
func manySmall(t *testing.T, root string, n, size int) {
	t.Helper()
	r := seeded(t, 22)
	base := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	for i := range n {
		p := filepath.Join(root, fmt.Sprintf("d%d", i%4), fmt.Sprintf("f%03d.dat", i))
		writeBytes(t, p, randomBytes(r, size))
		setMTime(t, p, base.Add(time.Duration(i)*time.Second+time.Duration(i)*time.Millisecond))
	}
}

func TestSyncRerunOfAnUnchangedTreeSendsNoBodies(t *testing.T) {
	s := newSyncSetup(t, "")
	const files, size = 200, 4096
	manySmall(t, filepath.Join(s.work, "tree"), files, size)

	out := s.mustRun(t, "--json", "put", "-r", "--to", "/backup", "tree")
	sent, skipped, _ := split(syncLines(t, out), remoteOf, "/")
	if len(sent) != files || len(skipped) != 0 {
		t.Fatalf("first put -r: %d sent, %d skipped, want %d sent", len(sent), len(skipped), files)
	}
	up, down := s.lb.carried(t)
	t.Logf("first put -r of %d x %d bytes: %d bytes up, %d down", files, size, up, down)

	for _, action := range []string{"put", "get"} {
		args := []string{"--json", "put", "-r", "--to", "/backup", "tree"}
		if action == "get" {
			args = []string{"--json", "get", "-r", "--to", "local", "/backup/tree"}
			s.mustRun(t, args...) // the first get -r, whole
			s.lb.carried(t)
		}
		mark := s.logMark(t)
		out := s.mustRun(t, args...)
		lines := syncLines(t, out)
		if len(lines) != files {
			t.Fatalf("rerun of %s -r: %d lines, want %d: %s", action, len(lines), files, out)
		}
		for _, l := range lines {
			if !l.Skipped || l.Action != action || l.Sent != 0 {
				t.Errorf("rerun of %s -r: %+v, want skipped with nothing sent", action, l)
			}
		}
		up, down := s.lb.carried(t)
		t.Logf("rerun of %s -r of %d x %d bytes: %d bytes up, %d down (%.1f%% of the tree)",
			action, files, size, up, down, 100*float64(up+down)/float64(files*size))
		if up+down >= files*size/4 {
			t.Errorf("rerun of %s -r moved %d bytes, want < %d (no bodies)", action, up+down, files*size/4)
		}
		if log := s.logSince(t, mark); countDone(log, "put")+countDone(log, "get") != 0 {
			t.Errorf("rerun of %s -r: the server transferred files:\n%s", action, log)
		}
	}
	sameSnapshot(t, "the tree got back", snapshot(t, filepath.Join(s.work, "tree")), snapshot(t, filepath.Join(s.work, "local", "tree")))
}

// countDone counts the transfers a server log records as done.
func countDone(log, action string) int {
	return strings.Count(log, `msg="`+action+` done"`)
}

func TestSyncSendsWhatChangedAndOnlyThat(t *testing.T) {
	s := newSyncSetup(t, "")
	r := seeded(t, 23)
	tree := filepath.Join(s.work, "tree")
	base := time.Date(2020, 1, 2, 3, 4, 5, 250000000, time.UTC)
	content := map[string][]byte{}
	for _, name := range []string{"same.txt", "samesec.txt", "newsec.txt", "grown.txt", "sub/touched.txt"} {
		content[name] = randomBytes(r, 3000)
		p := filepath.Join(tree, filepath.FromSlash(name))
		writeBytes(t, p, content[name])
		setMTime(t, p, base)
	}
	for _, dest := range []string{"/plain", "/sum", "/all"} {
		s.mustRun(t, "put", "-r", "--to", dest, "tree")
	}

	// samesec: new bytes, same size, an mtime in the same second (both
	// sides keep nanoseconds); newsec: the same in another second; grown:
	// appended to; touched: the same bytes, a new mtime.
	p := func(name string) string { return filepath.Join(tree, filepath.FromSlash(name)) }
	writeBytes(t, p("samesec.txt"), randomBytes(r, 3000))
	setMTime(t, p("samesec.txt"), base.Add(500*time.Millisecond))
	writeBytes(t, p("newsec.txt"), randomBytes(r, 3000))
	setMTime(t, p("newsec.txt"), base.Add(10*time.Second))
	writeBytes(t, p("grown.txt"), append(content["grown.txt"], "more"...))
	setMTime(t, p("grown.txt"), base.Add(20*time.Second))
	setMTime(t, p("sub/touched.txt"), base.Add(30*time.Second))

	for _, tc := range []struct {
		flags         []string
		dest          string
		sent, skipped []string
	}{
		{nil, "/plain", []string{"samesec.txt", "newsec.txt", "grown.txt", "sub/touched.txt"}, []string{"same.txt"}},
		{[]string{"--checksum"}, "/sum", []string{"samesec.txt", "newsec.txt", "grown.txt"}, []string{"same.txt", "sub/touched.txt"}},
		{[]string{"--ignore-times"}, "/all", []string{"same.txt", "samesec.txt", "newsec.txt", "grown.txt", "sub/touched.txt"}, nil},
	} {
		t.Run(strings.TrimPrefix(tc.dest, "/"), func(t *testing.T) {
			mark := s.logMark(t)
			args := append(append([]string{"--json", "put", "-r"}, tc.flags...), "--to", tc.dest, "tree")
			sent, skipped, _ := split(syncLines(t, s.mustRun(t, args...)), remoteOf, tc.dest+"/tree")
			sameList(t, "sent", sent, tc.sent...)
			sameList(t, "skipped", skipped, tc.skipped...)
			if n := countDone(s.logSince(t, mark), "put"); n != len(tc.sent) {
				t.Errorf("the server logged %d puts done, want %d", n, len(tc.sent))
			}
			for _, name := range tc.sent { // now the same bytes and mtime on both sides
				remote := filepath.Join(s.home, tc.dest, "tree", filepath.FromSlash(name))
				if md5File(t, remote) != md5File(t, p(name)) || !mtimeOf(t, remote).Equal(mtimeOf(t, p(name))) {
					t.Errorf("%s on the server: md5 or mtime differs from the local file", name)
				}
			}
		})
	}
	// --checksum left the touched file's old mtime on the server: a plain
	// rerun there sends it, and only it.
	sent, skipped, _ := split(syncLines(t, s.mustRun(t, "--json", "put", "-r", "--to", "/sum", "tree")), remoteOf, "/sum/tree")
	sameList(t, "sent after --checksum", sent, "sub/touched.txt")
	sameList(t, "skipped after --checksum", skipped, "same.txt", "samesec.txt", "newsec.txt", "grown.txt")

	// The same the other way: a local copy with one file touched and one
	// changed (same size, same mtime to the nanosecond, as a restored
	// backup could be).
	s.mustRun(t, "get", "-r", "--to", "back", "/plain/tree")
	back := func(name string) string { return filepath.Join(s.work, "back", "tree", filepath.FromSlash(name)) }
	setMTime(t, back("same.txt"), base.Add(time.Hour))
	mtime := mtimeOf(t, back("newsec.txt"))
	writeBytes(t, back("newsec.txt"), randomBytes(r, 3000))
	setMTime(t, back("newsec.txt"), mtime)
	got, skipped, _ := split(syncLines(t, s.mustRun(t, "--json", "get", "-r", "--checksum", "--to", "back", "/plain/tree")), localOf, filepath.Join("back", "tree"))
	sameList(t, "get -r --checksum: got", got, "newsec.txt")
	sameList(t, "get -r --checksum: skipped", skipped, "same.txt", "samesec.txt", "grown.txt", "sub/touched.txt")
	got, _, _ = split(syncLines(t, s.mustRun(t, "--json", "get", "-r", "--to", "back", "/plain/tree")), localOf, filepath.Join("back", "tree"))
	sameList(t, "get -r after --checksum: got", got, "same.txt")
	sameSnapshot(t, "the tree got back", snapshot(t, tree), snapshot(t, filepath.Join(s.work, "back", "tree")))
}
