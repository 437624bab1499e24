package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// Deltas through the real binaries: a file sent onto an older version of
// itself, put or get, alone or in a tree, carries only what changed, as
// the forwarder between client and server counts it.

// maxDeltaWire is what a delta of the edit in edited (1,000 bytes
// inserted, 64 KiB rewritten) may take on the wire for a 4 MiB file,
// signature included.
const maxDeltaWire = 200 << 10

// framing is what may cross the wire beside the bytes a transfer's sent
// counts: the greeting, the login, headers and answers, a tree listing.
const framing = 8 << 10

// checkDelta checks the one transfer line of a delta of a file of size
// bytes with the MD5 sum, and that the forwarder carried what its sent
// says, give or take the framing.
func checkDelta(t *testing.T, what string, l syncLine, size int64, sum string, up, down int64) {
	t.Helper()
	t.Logf("%s of %d bytes as a delta: sent %d; the forwarder carried %d up, %d down", what, size, l.Sent, up, down)
	if !l.Delta || l.Skipped || l.Size != size || l.MD5 != sum {
		t.Errorf("%s: %+v, want a delta of %d bytes with md5 %s", what, l, size, sum)
	}
	if l.Sent <= 0 || l.Sent >= maxDeltaWire {
		t.Errorf("%s: sent %d, want 0 < sent < %d", what, l.Sent, maxDeltaWire)
	}
	if total := up + down; total < l.Sent || total > l.Sent+framing {
		t.Errorf("%s: the forwarder carried %d bytes, sent says %d (want within %d above it)", what, total, l.Sent, framing)
	}
}

// only returns the one line of a run whose remote path is remote.
func only(t *testing.T, lines []syncLine, remote string) syncLine {
	t.Helper()
	var found []syncLine
	for _, l := range lines {
		if l.Remote == remote {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one line for %s, got %+v", remote, lines)
	}
	return found[0]
}

func TestDeltaPutAndGetOfAnEditedFile(t *testing.T) {
	s := newSyncSetup(t, "100MB")
	r := seeded(t, 31)
	const size = 4*mib + 123
	old := randomBytes(r, size)
	local := filepath.Join(s.work, "big.bin")
	writeBytes(t, local, old)
	s.mustRun(t, "put", "big.bin")
	s.lb.carried(t)

	now := edited(r, old, 1000)
	sum := writeBytes(t, local, now)
	setMTime(t, local, time.Date(2025, 4, 5, 6, 7, 8, 90, time.UTC))
	out := s.mustRun(t, "--json", "put", "big.bin")
	up, down := s.lb.carried(t)
	checkDelta(t, "put", only(t, syncLines(t, out), "big.bin"), int64(len(now)), sum, up, down)
	stored := filepath.Join(s.home, "big.bin")
	if got := md5File(t, stored); got != sum {
		t.Errorf("the server's file has md5 %s, want %s", got, sum)
	}
	if !mtimeOf(t, stored).Equal(mtimeOf(t, local)) {
		t.Errorf("the server's file has mtime %s, want %s", mtimeOf(t, stored), mtimeOf(t, local))
	}
	if left := partialsOnServer(s.home); len(left) != 0 {
		t.Errorf("left under .ftpx-partial: %q", left)
	}
	if used := quotaJSON(t, s.work, s.env); used != int64(len(now)) {
		t.Errorf("quota used %d, want the new size %d", used, len(now))
	}
	s.lb.carried(t)

	// A get onto a local copy of the older version.
	down1 := filepath.Join(s.work, "down")
	writeBytes(t, filepath.Join(down1, "big.bin"), old)
	out, errOut, code := ftpx(t, down1, s.env, "--json", "get", "big.bin")
	if code != 0 {
		t.Fatalf("get: exit %d: %s", code, errOut)
	}
	up, down = s.lb.carried(t)
	checkDelta(t, "get", only(t, syncLines(t, out), "big.bin"), int64(len(now)), sum, up, down)
	got := filepath.Join(down1, "big.bin")
	if md5File(t, got) != sum || !mtimeOf(t, got).Equal(mtimeOf(t, stored)) {
		t.Errorf("the got file: md5 %s mtime %s, want %s and %s", md5File(t, got), mtimeOf(t, got), sum, mtimeOf(t, stored))
	}
	if n, _ := localPartial(down1, "big.bin"); n != 0 {
		t.Errorf("the get left its partial file")
	}
	if recs := stateRecords(t, down1); len(recs) != 0 {
		t.Errorf("a finished get left resume records: %v", recs)
	}
}

func TestDeltaInsideTrees(t *testing.T) {
	s := newSyncSetup(t, "100MB")
	r := seeded(t, 32)
	tree := filepath.Join(s.work, "tree")
	for i := range 20 {
		writeBytes(t, filepath.Join(tree, fmt.Sprintf("s%d", i%3), fmt.Sprintf("f%02d.txt", i)), randomBytes(r, 500+i*100))
	}
	old := randomBytes(r, 4*mib+7)
	writeBytes(t, filepath.Join(tree, "s1", "big.bin"), old)
	s.mustRun(t, "put", "-r", "--to", "/t", "tree")
	s.mustRun(t, "get", "-r", "--to", "down", "/t/tree") // the older version, locally
	s.lb.carried(t)

	now := edited(r, old, 1000)
	sum := writeBytes(t, filepath.Join(tree, "s1", "big.bin"), now)
	out := s.mustRun(t, "--json", "put", "-r", "--to", "/t", "tree")
	up, down := s.lb.carried(t)
	lines := syncLines(t, out)
	sent, skipped, _ := split(lines, remoteOf, "/t/tree")
	sameList(t, "sent", sent, "s1/big.bin")
	if len(skipped) != 20 {
		t.Errorf("put -r skipped %d files, want the 20 small ones", len(skipped))
	}
	checkDelta(t, "put -r", only(t, lines, "/t/tree/s1/big.bin"), int64(len(now)), sum, up, down)
	if got := md5File(t, filepath.Join(s.home, "t", "tree", "s1", "big.bin")); got != sum {
		t.Errorf("the server's file has md5 %s, want %s", got, sum)
	}
	if left := partialsOnServer(s.home); len(left) != 0 {
		t.Errorf("left under .ftpx-partial: %q", left)
	}
	if used, want := quotaJSON(t, s.work, s.env), sizeOf(t, tree); used != want {
		t.Errorf("quota used %d, want %d (the tree)", used, want)
	}
	s.lb.carried(t)

	out = s.mustRun(t, "--json", "get", "-r", "--to", "down", "/t/tree")
	up, down = s.lb.carried(t)
	lines = syncLines(t, out)
	sent, skipped, _ = split(lines, localOf, filepath.Join("down", "tree"))
	sameList(t, "got", sent, "s1/big.bin")
	if len(skipped) != 20 {
		t.Errorf("get -r skipped %d files, want the 20 small ones", len(skipped))
	}
	checkDelta(t, "get -r", only(t, lines, "/t/tree/s1/big.bin"), int64(len(now)), sum, up, down)
	sameSnapshot(t, "the tree got back", snapshot(t, tree), snapshot(t, filepath.Join(s.work, "down", "tree")))
}

// sizeOf is the bytes of the regular files under root.
func sizeOf(t *testing.T, root string) int64 {
	t.Helper()
	var n int64
	for _, e := range snapshot(t, root) {
		n += e.Size
	}
	return n
}

// mostlyNew returns a file that keeps the first MiB of old and has n-1 MiB
// of new bytes after it: a delta whose literals take seconds at a
// limited rate.
func mostlyNew(t *testing.T, seed uint64, old []byte, n int) []byte {
	t.Helper()
	r := seeded(t, seed)
	return append(append([]byte(nil), old[:mib]...), randomBytes(r, n-mib)...)
}

func TestDeltaPutResumesAfterAKill(t *testing.T) {
	s := newSyncSetup(t, "")
	r := seeded(t, 33)
	old := randomBytes(r, 8*mib)
	local := filepath.Join(s.work, "big.bin")
	writeBytes(t, local, old)
	s.mustRun(t, "put", "big.bin")

	now := mostlyNew(t, 34, old, 32*mib)
	sum := writeBytes(t, local, now)
	b := startFtpx(t, s.work, s.env, "--limit-rate", "8MB", "put", "big.bin")
	waitUntil(t, 20*time.Second, "the server to hold 4 MiB of the delta put", func() bool { return heldOnServer(s.d.root, "alex") >= 4*mib })
	b.kill()
	if got := md5File(t, filepath.Join(s.home, "big.bin")); got != md5Bytes(old) {
		t.Fatalf("the killed put changed the server's file (md5 %s)", got)
	}

	mark := s.logMark(t)
	out := s.mustRun(t, "--json", "put", "big.bin")
	l := only(t, syncLines(t, out), "big.bin")
	t.Logf("delta put resumed at %d of %d, sent %d", l.Offset, len(now), l.Sent)
	if !l.Delta || l.Offset <= 0 || l.MD5 != sum {
		t.Errorf("rerun: %+v, want a delta resumed at an offset > 0 with md5 %s", l, sum)
	}
	if rest := int64(len(now)) - l.Offset; l.Sent > rest+64<<10 {
		t.Errorf("rerun sent %d, more than the rest of the file from %d (%d) and a signature", l.Sent, l.Offset, rest)
	}
	if log := s.logSince(t, mark); !regexp.MustCompile(`msg="put done" .*path=/big\.bin .*offset=[1-9]`).MatchString(log) {
		t.Errorf("the server did not log a resumed put:\n%s", log)
	}
	if got := md5File(t, filepath.Join(s.home, "big.bin")); got != sum {
		t.Errorf("the server's file has md5 %s, want %s", got, sum)
	}
	if left := partialsOnServer(s.home); len(left) != 0 {
		t.Errorf("left under .ftpx-partial: %q", left)
	}
}

func TestDeltaGetResumesAfterAKill(t *testing.T) {
	s := newSyncSetup(t, "")
	r := seeded(t, 35)
	old := randomBytes(r, 8*mib)
	now := mostlyNew(t, 36, old, 32*mib)
	sum := writeBytes(t, filepath.Join(s.home, "big.bin"), now)
	down := filepath.Join(s.work, "down")
	writeBytes(t, filepath.Join(down, "big.bin"), old)

	b := startFtpx(t, down, s.env, "--limit-rate", "8MB", "get", "big.bin")
	waitUntil(t, 20*time.Second, "4 MiB in the get's partial file", func() bool {
		n, _ := localPartial(down, "big.bin")
		return n >= 4*mib
	})
	waitUntil(t, 20*time.Second, "a checkpoint of the delta get", func() bool { return recordOffset(t, down, "get") > 0 })
	b.kill()
	if got := md5File(t, filepath.Join(down, "big.bin")); got != md5Bytes(old) {
		t.Fatalf("the killed get changed the local file (md5 %s)", got)
	}

	out, errOut, code := ftpx(t, down, s.env, "--json", "get", "big.bin")
	if code != 0 {
		t.Fatalf("rerun: exit %d: %s", code, errOut)
	}
	l := only(t, syncLines(t, out), "big.bin")
	t.Logf("delta get resumed at %d of %d, sent %d", l.Offset, len(now), l.Sent)
	if !l.Delta || l.Offset <= 0 || l.MD5 != sum {
		t.Errorf("rerun: %+v, want a delta resumed at an offset > 0 with md5 %s", l, sum)
	}
	if got := md5File(t, filepath.Join(down, "big.bin")); got != sum {
		t.Errorf("the got file has md5 %s, want %s", got, sum)
	}
	if n, _ := localPartial(down, "big.bin"); n != 0 {
		t.Errorf("the get left its partial file")
	}
	if recs := stateRecords(t, down); len(recs) != 0 {
		t.Errorf("a finished get left resume records: %v", recs)
	}
}

// The same, inside trees: put -r and get -r cut off in the middle of the
// delta of their one big changed file, then run again, resume it.
func TestDeltaResumesInsideTrees(t *testing.T) {
	s := newSyncSetup(t, "")
	r := seeded(t, 37)
	old := randomBytes(r, 8*mib)
	big := filepath.Join(s.work, "tree", "big.bin")
	writeBytes(t, big, old)
	writeBytes(t, filepath.Join(s.work, "tree", "small.txt"), []byte("small"))
	s.mustRun(t, "put", "-r", "--to", "/t", "tree")
	s.mustRun(t, "get", "-r", "--to", "down", "/t/tree")

	now := mostlyNew(t, 38, old, 32*mib)
	sum := writeBytes(t, big, now)
	b := startFtpx(t, s.work, s.env, "--limit-rate", "8MB", "put", "-r", "--to", "/t", "tree")
	waitUntil(t, 20*time.Second, "the server to hold 4 MiB of the delta put", func() bool { return heldOnServer(s.d.root, "alex") >= 4*mib })
	b.kill()
	lines := syncLines(t, s.mustRun(t, "--json", "put", "-r", "--to", "/t", "tree"))
	l := only(t, lines, "/t/tree/big.bin")
	t.Logf("put -r: delta resumed at %d of %d, sent %d", l.Offset, len(now), l.Sent)
	if !l.Delta || l.Offset <= 0 || l.MD5 != sum || !only(t, lines, "/t/tree/small.txt").Skipped {
		t.Errorf("rerun of put -r: %+v, want a delta resumed at an offset > 0 with md5 %s, small.txt skipped", lines, sum)
	}
	if got := md5File(t, filepath.Join(s.home, "t", "tree", "big.bin")); got != sum {
		t.Errorf("the server's file has md5 %s, want %s", got, sum)
	}

	b = startFtpx(t, s.work, s.env, "--limit-rate", "8MB", "get", "-r", "--to", "down", "/t/tree")
	waitUntil(t, 20*time.Second, "a checkpoint of the delta get", func() bool { return recordOffset(t, s.work, "get") > 0 })
	b.kill()
	lines = syncLines(t, s.mustRun(t, "--json", "get", "-r", "--to", "down", "/t/tree"))
	l = only(t, lines, "/t/tree/big.bin")
	t.Logf("get -r: delta resumed at %d of %d, sent %d", l.Offset, len(now), l.Sent)
	if !l.Delta || l.Offset <= 0 || l.MD5 != sum || !only(t, lines, "/t/tree/small.txt").Skipped {
		t.Errorf("rerun of get -r: %+v, want a delta resumed at an offset > 0 with md5 %s, small.txt skipped", lines, sum)
	}
	sameSnapshot(t, "the tree got back", snapshot(t, filepath.Join(s.work, "tree")), snapshot(t, filepath.Join(s.work, "down", "tree")))
	if recs := stateRecords(t, s.work); len(recs) != 0 {
		t.Errorf("finished transfers left resume records: %v", recs)
	}
}
