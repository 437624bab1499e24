package home_test

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"ftpx/home"
	"ftpx/internal/faultfs"
)

const mib = 1 << 20

// spaceHome opens a home whose file system reports what faults says.
func spaceHome(t *testing.T, faults *faultfs.Faults, minFree int64) *home.Home {
	t.Helper()
	m, err := home.NewManager(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m.Wrap, m.MinFreeSpace = faults.Wrap, minFree
	h, err := m.Open("alice", home.Unlimited)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(); m.Close() })
	return h
}

func TestPutRefusedUpFrontWhenTheDiskCannotHoldIt(t *testing.T) {
	faults := faultfs.New()
	faults.SetSpace(home.Space{Free: 10 * mib, Total: 100 * mib})
	h := spaceHome(t, faults, 1*mib)

	_, err := h.BeginUpload("/big", home.Put{Size: 9*mib + 1})
	var se *home.SpaceError
	if !errors.Is(err, home.ErrNoSpace) || !errors.As(err, &se) || se.Need != 9*mib+1 || se.Avail != 9*mib {
		t.Fatalf("9 MiB + 1 with 10 MiB free and 1 MiB kept: %v", err)
	}
	a, err := h.BeginUpload("/a", home.Put{Size: 4 * mib})
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.BeginUpload("/b", home.Put{Size: 4 * mib})
	if err != nil {
		t.Fatal(err)
	}
	// Both still have everything to write: a third cannot be promised
	// what they will take, whatever a new statfs says.
	if _, err := h.BeginUpload("/c", home.Put{Size: 2 * mib}); !errors.Is(err, home.ErrNoSpace) {
		t.Fatalf("2 MiB while 8 of 9 are promised: %v", err)
	}
	// a writes 2 MiB: the disk has 8 free, a needs 2 more, b 4.
	if _, err := a.Write(make([]byte, 2*mib)); err != nil {
		t.Fatal(err)
	}
	faults.SetSpace(home.Space{Free: 8 * mib, Total: 100 * mib})
	if _, err := h.BeginUpload("/c", home.Put{Size: 2 * mib}); !errors.Is(err, home.ErrNoSpace) {
		t.Fatalf("2 MiB with 8 free, 6 promised and 1 kept: %v", err)
	}
	c, err := h.BeginUpload("/c", home.Put{Size: 1 * mib})
	if err != nil {
		t.Fatalf("1 MiB with 8 free, 6 promised and 1 kept: %v", err)
	}
	// Ended uploads promise nothing more.
	a.Abort()
	b.Abort()
	c.Abort()
	faults.SetSpace(home.Space{Free: 10 * mib, Total: 100 * mib})
	d, err := h.BeginUpload("/d", home.Put{Size: 9 * mib})
	if err != nil {
		t.Fatalf("9 MiB once the others ended: %v", err)
	}
	body := make([]byte, 9*mib)
	if _, err := d.Write(body); err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(body)
	if err := d.Commit(hex.EncodeToString(sum[:])); err != nil {
		t.Fatal(err)
	}
}

// TestSmallPutsKeepTheFreeSpace: a small put without a transfer id (every
// pipelined put) is written as an unnamed file in its directory; it is
// refused up front like any other when the disk cannot hold it and keep
// the reserve, and a wrapped file system (here the one that reports the
// space) takes the same unnamed-file path: nothing goes through
// PartialDir. (A real small disk: e2e TestPipelinedPutsKeepMinFreeSpace.)
func TestSmallPutsKeepTheFreeSpace(t *testing.T) {
	faults := faultfs.New()
	faults.SetSpace(home.Space{Free: 10 * mib, Total: 100 * mib})
	root := t.TempDir()
	m, err := home.NewManager(root)
	if err != nil {
		t.Fatal(err)
	}
	m.Wrap, m.MinFreeSpace = faults.Wrap, 9*mib+512<<10
	h, err := m.Open("alice", home.Unlimited)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { h.Close(); m.Close() }()
	if _, err := h.BeginUpload("/big", home.Put{Size: 600 << 10}); !errors.Is(err, home.ErrNoSpace) {
		t.Fatalf("a put of 600 KiB with 512 KiB free past the reserve: %v", err)
	}
	body := make([]byte, 400<<10)
	sum := md5.Sum(body)
	u, err := h.BeginUpload("/small", home.Put{Size: int64(len(body))})
	if err != nil {
		t.Fatal(err)
	}
	u.Write(body)
	if err := u.Commit(hex.EncodeToString(sum[:])); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "alice", home.PartialDir)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a small put went through %s: %v", home.PartialDir, err)
	}
}

func TestSmallPutsShareOneStatfs(t *testing.T) {
	faults := faultfs.New()
	faults.SetSpace(home.Space{Free: 1 << 40, Total: 1 << 41})
	h := spaceHome(t, faults, home.AutoMinFreeSpace)
	body := []byte("small")
	sum := md5.Sum(body)
	for range 200 {
		u, err := h.BeginUpload("/s", home.Put{Size: int64(len(body))})
		if err != nil {
			t.Fatal(err)
		}
		u.Write(body)
		if err := u.Commit(hex.EncodeToString(sum[:])); err != nil {
			t.Fatal(err)
		}
	}
	if n := faults.SpaceCalls(); n > 10 { // one a second at most; the loop takes well under 10 s
		t.Fatalf("%d statfs calls for 200 small puts", n)
	}
}

func TestDefaultReserveIsOnePercentAtMostOneGiB(t *testing.T) {
	for _, tc := range []struct {
		total, free, need int64
		ok                bool
	}{
		{100 * mib, 10 * mib, 9 * mib, true},      // keeps 1 MiB (1%)
		{100 * mib, 10 * mib, 9*mib + 1, false},   // would keep less
		{1 << 40, 2 << 30, 1 << 30, true},         // 1% of 1 TiB is 10 GiB: 1 GiB kept instead
		{1 << 40, 2 << 30, 1<<30 + 1, false},      //
		{-1, -1, 1 << 50, true},                   // a store that cannot tell never refuses
		{100 * mib, 0, 0, true},                   // an empty file always fits
		{100 * mib, 500 << 10, 600 << 10, false},  // below its reserve already
		{100 * mib, 2 * mib, 1*mib - 1024, true},  //
		{100 * mib, 2 * mib, 1*mib + 1024, false}, //
	} {
		faults := faultfs.New()
		faults.SetSpace(home.Space{Free: tc.free, Total: tc.total})
		h := spaceHome(t, faults, home.AutoMinFreeSpace)
		u, err := h.BeginUpload("/f", home.Put{Size: tc.need})
		if (err == nil) != tc.ok {
			t.Errorf("total %d free %d need %d: %v, want ok=%v", tc.total, tc.free, tc.need, err, tc.ok)
		}
		if u != nil {
			u.Abort()
		}
	}
}

// TestRealStatfs: the local FS reports its file system's real figures.
func TestRealStatfs(t *testing.T) {
	fsys, err := home.Dir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	sp, err := fsys.Space()
	if err != nil || sp.Total <= 0 || sp.Free < 0 || sp.Free > sp.Total {
		t.Fatalf("Space: %+v %v", sp, err)
	}
}
