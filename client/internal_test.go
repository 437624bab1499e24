package client

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestFileHashSeeksToAnyPrefix(t *testing.T) {
	data := make([]byte, 5*snapEvery+12345)
	rand.NewChaCha8([32]byte{7}).Read(data)
	prefix := func(n int64) string { s := md5.Sum(data[:n]); return hex.EncodeToString(s[:]) }
	fh := newFileHash(bytes.NewReader(data))
	buf := make([]byte, 100<<10)
	for _, off := range []int64{3*snapEvery + 5, snapEvery - 1, 0, int64(len(data)), 2 * snapEvery, 17, 4*snapEvery + 1} {
		if err := fh.seek(off, buf); err != nil {
			t.Fatalf("seek %d: %v", off, err)
		}
		if fh.pos != off || fh.sum() != prefix(off) {
			t.Fatalf("at %d (pos %d): md5 %s, want %s", off, fh.pos, fh.sum(), prefix(off))
		}
	}
	// Reading on after a seek continues the same digest.
	for {
		n, err := fh.Read(buf)
		if n == 0 && err != nil {
			break
		}
	}
	if fh.pos != int64(len(data)) || fh.sum() != prefix(int64(len(data))) {
		t.Fatalf("whole file: pos %d md5 %s", fh.pos, fh.sum())
	}
	if err := fh.seek(int64(len(data))+1, buf); err == nil {
		t.Fatal("seek past the end succeeded")
	}
}

func TestLimiterHoldsTheRate(t *testing.T) {
	l := newLimiter(4 << 20)
	start := time.Now()
	for sent := 0; sent < 1<<20; sent += l.chunk() {
		if err := l.wait(context.Background(), l.chunk()); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 5*time.Second {
		t.Fatalf("1 MiB at 4 MiB/s took %v", d)
	}
	if newLimiter(0) != nil || newLimiter(-1) != nil {
		t.Fatal("a rate of 0 limits")
	}
	var none *limiter
	if none.wait(context.Background(), 1<<30) != nil || none.chunk() != bufSize {
		t.Fatal("a nil limiter limits")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := newLimiter(1).wait(ctx, 1000); err == nil {
		t.Fatal("wait ignored a cancelled context")
	}
}

// readSmall reads the file as it is now, whatever size the plan saw, and
// refuses one that grew past the pipelined limit.
func TestReadSmall(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name     string
		size     int // on disk
		planned  int64
		wantFail bool
	}{
		{"as planned", 4096, 4096, false},
		{"empty", 0, 0, false},
		{"grew a little", 9000, 4096, false},
		{"shrank", 100, 4096, false},
		{"grew past the limit", smallFile + 10, 4096, true},
		{"at the limit", smallFile, smallFile, false},
	} {
		p := filepath.Join(dir, tc.name)
		data := bytes.Repeat([]byte{7}, tc.size)
		os.WriteFile(p, data, 0o644)
		got, err := readSmall(p, tc.planned, nil)
		if tc.wantFail != (err != nil) || err == nil && !bytes.Equal(got, data) {
			t.Errorf("%s: %d bytes, %v", tc.name, len(got), err)
		}
	}
	if _, err := readSmall(filepath.Join(dir, "missing"), 1, nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}

// A verified download is named in one step: over nothing, over a file
// (replaced), over a symlink (the link replaced, its target untouched);
// nothing else is left in the directory.
func TestGotFilePlace(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "old"), []byte("old"), 0o644)
	os.WriteFile(filepath.Join(dir, "target"), []byte("target"), 0o644)
	os.Symlink("target", filepath.Join(dir, "link"))
	for _, name := range []string{"new", "old", "link"} {
		f, err := createUnnamed(dir)
		if err != nil {
			t.Skipf("no unnamed files here: %v", err)
		}
		f.Write([]byte("fresh " + name))
		g := gotFile{t: target{dest: filepath.Join(dir, name)}, f: f}
		if err := g.place(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != "fresh "+name {
			t.Fatalf("%s holds %q", name, b)
		}
	}
	if fi, _ := os.Lstat(filepath.Join(dir, "link")); !fi.Mode().IsRegular() {
		t.Fatal("the symlink was followed")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "target")); string(b) != "target" {
		t.Fatalf("target holds %q", b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 4 {
		t.Fatalf("the directory holds %d entries", len(ents))
	}
}
