package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"ftpx/internal/miniotest"
)

// Sync on an object-store home (a real MinIO): mtimes kept in the objects'
// metadata, a rerun that carries no bodies, deltas both ways.

func TestS3SyncKeepsMTimesSkipsAndSendsDeltas(t *testing.T) {
	s := s3Servers(t, miniotest.Shared(t), 1, "")
	work := t.TempDir()
	env := s.env(s.lb.addr())
	run := func(dir string, args ...string) string {
		t.Helper()
		out, errOut, code := ftpx(t, dir, env, args...)
		if code != 0 {
			t.Fatalf("ftpx %q: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
		}
		return out
	}
	want := mtimeTree(t, filepath.Join(work, "tree"))
	r := seeded(t, 61)
	old := randomBytes(r, 4*mib+99)
	writeBytes(t, filepath.Join(work, "big.bin"), old)
	bigTime := time.Date(2011, 11, 11, 11, 11, 11, 111111111, time.UTC)
	setMTime(t, filepath.Join(work, "big.bin"), bigTime)

	run(work, "put", "-r", "--to", "/b", "tree")
	run(work, "put", "big.bin")
	s.lb.carried(t)

	// The store keeps each mtime, whole, in the object's metadata.
	home := s.prefix + "/alex/"
	for name, mtime := range map[string]time.Time{"b/tree/a.txt": want["a.txt"], "b/tree/sub/deep/big.bin": want["sub/deep/big.bin"], "big.bin": bigTime} {
		info, err := s.mc.StatObject(context.Background(), s3Bucket, home+name, minio.StatObjectOptions{})
		if err != nil {
			t.Fatalf("stat %s in the store: %v", name, err)
		}
		if got := info.UserMetadata["Ftpx-Mtime"]; got != mtime.Format(time.RFC3339Nano) {
			t.Errorf("%s: the object's mtime metadata is %q, want %s (metadata %v)", name, got, mtime.Format(time.RFC3339Nano), info.UserMetadata)
		}
	}
	if got := lsJSON(t, work, env, "/b/tree")["a.txt"]; got.Unix() != want["a.txt"].Unix() {
		t.Errorf("ls --json: a.txt has mtime %s, want %s", got, want["a.txt"])
	}
	fresh := t.TempDir()
	run(fresh, "get", "-r", "/b/tree")
	checkMTimes(t, "after get -r from the store", filepath.Join(fresh, "tree"), want)
	s.lb.carried(t)

	// A rerun of put -r carries no bodies.
	mark := len(quietLog(t, s.daemons[0]))
	lines := syncLines(t, run(work, "--json", "put", "-r", "--to", "/b", "tree"))
	up, down := s.lb.carried(t)
	t.Logf("rerun of put -r on the store: %d bytes up, %d down, for a tree of %d bytes", up, down, sizeOf(t, filepath.Join(work, "tree")))
	if len(lines) != len(want) {
		t.Errorf("rerun: %d lines, want %d", len(lines), len(want))
	}
	for _, l := range lines {
		if !l.Skipped {
			t.Errorf("rerun: %+v, want skipped", l)
		}
	}
	if up+down > 16<<10 {
		t.Errorf("rerun of put -r moved %d bytes, want < 16 KiB (no bodies)", up+down)
	}
	if n := countDone(quietLog(t, s.daemons[0])[mark:], "put"); n != 0 {
		t.Errorf("rerun: the server logged %d puts done", n)
	}

	// A delta put onto the stored version, then a delta get onto a local
	// copy of the old one.
	now := edited(r, old, 1000)
	sum := writeBytes(t, filepath.Join(work, "big.bin"), now)
	out := run(work, "--json", "put", "big.bin")
	up, down = s.lb.carried(t)
	checkDelta(t, "put onto the store", only(t, syncLines(t, out), "big.bin"), int64(len(now)), sum, up, down)
	if got := s.stored(t)["big.bin"]; got != int64(len(now)) {
		t.Errorf("the store holds big.bin of %d bytes, want %d", got, len(now))
	}
	writeBytes(t, filepath.Join(fresh, "big.bin"), old)
	out = run(fresh, "--json", "get", "big.bin")
	up, down = s.lb.carried(t)
	checkDelta(t, "get from the store", only(t, syncLines(t, out), "big.bin"), int64(len(now)), sum, up, down)
	if got := md5File(t, filepath.Join(fresh, "big.bin")); got != sum {
		t.Errorf("the got file has md5 %s, want %s", got, sum)
	}
	if got, want := mtimeOf(t, filepath.Join(fresh, "big.bin")), mtimeOf(t, filepath.Join(work, "big.bin")); !got.Equal(want) {
		t.Errorf("the got file has mtime %s, want %s", got, want)
	}
}
