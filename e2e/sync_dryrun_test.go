package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// --dry-run and the sync flags in the shell, through the real binaries.

// dryRunFixture puts tree (three small files, a 100 KiB one, a file where
// the server will hold a directory) to /d, then changes both sides: on the
// server an extra file and a directory in the way of the small file; in
// the local tree one file changed, one new, the big one edited.
func dryRunFixture(t *testing.T, s *syncSetup) {
	t.Helper()
	r := seeded(t, 51)
	tree := filepath.Join(s.work, "tree")
	base := time.Date(2022, 2, 2, 2, 2, 2, 0, time.UTC)
	big := randomBytes(r, 200<<10)
	for _, name := range []string{"same.txt", "changed.txt", "sub/same2.txt", "big.bin", "flop.txt"} {
		b := randomBytes(r, 300)
		if name == "big.bin" {
			b = big
		}
		writeBytes(t, filepath.Join(tree, filepath.FromSlash(name)), b)
		setMTime(t, filepath.Join(tree, filepath.FromSlash(name)), base)
	}
	s.mustRun(t, "put", "-r", "--to", "/d", "tree")
	writeRandom(t, filepath.Join(s.work, "x.bin"), 500)
	s.mustRun(t, "put", "x.bin", "/d/tree/gone.txt")
	s.mustRun(t, "rm", "/d/tree/flop.txt")
	s.mustRun(t, "mkdir", "-p", "/d/tree/flop.txt/in")

	writeBytes(t, filepath.Join(tree, "changed.txt"), randomBytes(r, 300))
	writeBytes(t, filepath.Join(tree, "sub", "new.txt"), randomBytes(r, 300))
	writeBytes(t, filepath.Join(tree, "big.bin"), edited(r, big, 100))
}

// sortedLines returns the lines of out, sorted.
func sortedLines(out string) []string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	slices.Sort(lines)
	return lines
}

func TestSyncDryRunChangesNothing(t *testing.T) {
	s := newSyncSetup(t, "100MB")
	dryRunFixture(t, s)
	serverBefore, quotaBefore := snapshot(t, s.home), quotaJSON(t, s.work, s.env)
	stateBefore := snapshot(t, filepath.Join(s.work, ".state"))

	out := s.mustRun(t, "put", "-r", "-n", "--delete", "--to", "/d", "tree")
	want := []string{
		"would put tree/changed.txt -> /d/tree/changed.txt (300B)",
		"would put tree/sub/new.txt -> /d/tree/sub/new.txt (300B)",
		"would put tree/big.bin -> /d/tree/big.bin (200.1KB, as a delta)",
		"would put tree/flop.txt -> /d/tree/flop.txt (300B)",
		"would skip /d/tree/same.txt (unchanged)",
		"would skip /d/tree/sub/same2.txt (unchanged)",
		"would delete /d/tree/flop.txt",
		"would delete /d/tree/gone.txt",
	}
	slices.Sort(want)
	if got := sortedLines(out); !slices.Equal(got, want) {
		t.Errorf("put -r -n printed:\n%s\nwant (in any order):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	lines := syncLines(t, s.mustRun(t, "--json", "put", "-r", "-n", "--delete", "--to", "/d", "tree"))
	for _, l := range lines {
		if !l.DryRun {
			t.Errorf("put -r -n --json: %+v without dry_run", l)
		}
	}
	sent, skipped, deleted := split(lines, remoteOf, "/d/tree")
	sameList(t, "put -r -n --json: would put", sent, "changed.txt", "sub/new.txt", "big.bin", "flop.txt")
	sameList(t, "put -r -n --json: would skip", skipped, "same.txt", "sub/same2.txt")
	sameList(t, "put -r -n --json: would delete", deleted, "flop.txt", "gone.txt")

	// Into a directory that does not exist: it is not made.
	out = s.mustRun(t, "put", "-r", "--dry-run", "--to", "/new/dir", "tree")
	if n := strings.Count(out, "would put "); n != 6 || strings.Count(out, "\n") != 6 {
		t.Errorf("put -r -n into a new directory printed:\n%s\nwant 6 lines of would put", out)
	}
	sameSnapshot(t, "the server's home", serverBefore, snapshot(t, s.home))
	if q := quotaJSON(t, s.work, s.env); q != quotaBefore {
		t.Errorf("quota used %d after dry runs, %d before", q, quotaBefore)
	}
	// The real run does what the dry run said.
	real := syncLines(t, s.mustRun(t, "--json", "put", "-r", "--delete", "--to", "/d", "tree"))
	sameAsTheRealRun(t, "put -r --delete", lines, real, remoteOf, "/d/tree")

	// get -r -n: the local tree as it is now is the older side, with a
	// directory where the server has a file and a file where it has a
	// directory.
	s.mustRun(t, "put", "-r", "--to", "/d2", "tree") // the newer side
	writeBytes(t, filepath.Join(s.work, "tree", "local-only.txt"), []byte("extra"))
	os.Remove(filepath.Join(s.work, "tree", "flop.txt"))
	writeBytes(t, filepath.Join(s.work, "tree", "flop.txt", "in.txt"), []byte("in the way"))
	writeBytes(t, filepath.Join(s.work, "tree", "newdir"), []byte("in the way"))
	s.mustRun(t, "put", "x.bin", "/d2/tree/changed.txt")
	s.mustRun(t, "mkdir", "/d2/tree/newdir")
	s.mustRun(t, "put", "x.bin", "/d2/tree/newdir/x.bin")
	localBefore := snapshot(t, filepath.Join(s.work, "tree"))
	out = s.mustRun(t, "get", "-r", "-n", "--delete", "--to", ".", "/d2/tree")
	want = []string{
		"would get /d2/tree/changed.txt -> tree/changed.txt (500B)",
		"would get /d2/tree/flop.txt -> tree/flop.txt (300B)",
		"would get /d2/tree/newdir/x.bin -> tree/newdir/x.bin (500B)",
		"would skip tree/same.txt (unchanged)",
		"would skip tree/sub/same2.txt (unchanged)",
		"would skip tree/sub/new.txt (unchanged)",
		"would skip tree/big.bin (unchanged)",
		"would delete tree/local-only.txt",
		"would delete tree/flop.txt",
		"would delete tree/newdir",
	}
	slices.Sort(want)
	if got := sortedLines(out); !slices.Equal(got, want) {
		t.Errorf("get -r -n printed:\n%s\nwant (in any order):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	out = s.mustRun(t, "get", "-r", "-n", "--to", "fresh", "/d2/tree")
	if n := strings.Count(out, "would get "); n != 7 || exists(filepath.Join(s.work, "fresh")) {
		t.Errorf("get -r -n into a new directory: %d lines of would get, want 7, and no directory made:\n%s", n, out)
	}
	lines = syncLines(t, s.mustRun(t, "--json", "get", "-r", "-n", "--delete", "--to", ".", "/d2/tree"))
	sameSnapshot(t, "the local tree", localBefore, snapshot(t, filepath.Join(s.work, "tree")))
	sameSnapshot(t, "the state directory", stateBefore, snapshot(t, filepath.Join(s.work, ".state")))
	if recs := stateRecords(t, s.work); len(recs) != 0 {
		t.Errorf("dry runs left resume records: %v", recs)
	}
	real = syncLines(t, s.mustRun(t, "--json", "get", "-r", "--delete", "--to", ".", "/d2/tree"))
	sameAsTheRealRun(t, "get -r --delete", lines, real, localOf, "tree")
	sameSnapshot(t, "the local tree after get -r --delete", snapshot(t, filepath.Join(s.home, "d2", "tree")), snapshot(t, filepath.Join(s.work, "tree")))
}

// sameAsTheRealRun fails the test unless a dry run's --json lines name
// the same files sent, skipped and deleted as the real run's.
func sameAsTheRealRun(t *testing.T, what string, dry, real []syncLine, name func(syncLine) string, under string) {
	t.Helper()
	dSent, dSkipped, dDeleted := split(dry, name, under)
	rSent, rSkipped, rDeleted := split(real, name, under)
	sameList(t, what+": sent, the dry run said", rSent, dSent...)
	sameList(t, what+": skipped, the dry run said", rSkipped, dSkipped...)
	sameList(t, what+": deleted, the dry run said", rDeleted, dDeleted...)
}

func TestSyncFlagsInTheShell(t *testing.T) {
	s := newSyncSetup(t, "")
	r := seeded(t, 52)
	tree := filepath.Join(s.work, "tree")
	for _, name := range []string{"a.txt", "b.txt", "sub/c.txt"} {
		writeBytes(t, filepath.Join(tree, filepath.FromSlash(name)), randomBytes(r, 400))
	}
	s.mustRun(t, "put", "-r", "--to", "/b", "tree")
	writeRandom(t, filepath.Join(s.work, "x.bin"), 600)
	s.mustRun(t, "put", "x.bin", "/b/tree/extra.txt")
	s.mustRun(t, "get", "-r", "--to", "back", "/b/tree") // with extra.txt
	writeBytes(t, filepath.Join(tree, "a.txt"), randomBytes(r, 450))
	setMTime(t, filepath.Join(tree, "a.txt"), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	backBefore := snapshot(t, filepath.Join(s.work, "back"))

	script := "put -r --delete --json --to /b tree\nget -r -n --delete --to back /b/tree\n"
	out, errOut, code := ftpxStdin(t, s.work, s.env, script, "shell")
	if code != 0 {
		t.Fatalf("shell: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	jsonPart, textPart, _ := strings.Cut(out, "would ")
	sent, skipped, deleted := split(syncLines(t, jsonPart), remoteOf, "/b/tree")
	sameList(t, "put in the shell: sent", sent, "a.txt")
	sameList(t, "put in the shell: skipped", skipped, "b.txt", "sub/c.txt")
	sameList(t, "put in the shell: deleted", deleted, "extra.txt")
	want := []string{
		"would get /b/tree/a.txt -> back/tree/a.txt (450B)",
		"would skip back/tree/b.txt (unchanged)",
		"would skip back/tree/sub/c.txt (unchanged)",
		"would delete back/tree/extra.txt",
	}
	slices.Sort(want)
	if got := sortedLines("would " + textPart); !slices.Equal(got, want) {
		t.Errorf("get -r -n in the shell printed:\n%s\nwant (in any order):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if exists(filepath.Join(s.home, "b", "tree", "extra.txt")) {
		t.Error("put -r --delete in the shell left /b/tree/extra.txt")
	}
	sameSnapshot(t, "the local tree after get -r -n", backBefore, snapshot(t, filepath.Join(s.work, "back")))

	for _, cmd := range []string{"put", "get"} {
		help, errOut, code := ftpxStdin(t, s.work, s.env, "help "+cmd+"\n", "shell")
		if code != 0 {
			t.Fatalf("help %s: exit %d: %s", cmd, code, errOut)
		}
		for _, flag := range []string{"--delete", "--checksum", "--ignore-times", "--dry-run"} {
			if !strings.Contains(help, flag) {
				t.Errorf("help %s does not mention %s:\n%s", cmd, flag, help)
			}
		}
	}
}
