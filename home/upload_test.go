package home

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/google/uuid"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// newHome opens user "alice" with limit under a fresh manager root.
func newHome(t *testing.T, limit int64) (root string, m *Manager, h *Home) {
	t.Helper()
	root = t.TempDir()
	m, err := NewManager(root)
	if err != nil {
		t.Fatal(err)
	}
	m.linger = 0 // each Open after the last close counts the disk again
	h, err = m.Open("alice", limit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return root, m, h
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// put uploads data to name in chunks and commits it with want.
func put(h *Home, name string, data []byte, want string) error {
	u, err := h.BeginUpload(name, Put{Size: int64(len(data))})
	if err != nil {
		return err
	}
	for p := data; len(p) > 0; {
		n := min(len(p), 1000)
		if _, err := u.Write(p[:n]); err != nil {
			u.Abort()
			return err
		}
		p = p[n:]
	}
	return u.Commit(want)
}

// partials returns the names left in the home's PartialDir.
func partials(t *testing.T, home string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(home, PartialDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// diskUsage sums the regular files under dir as the OS sees them.
func diskUsage(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if d.Type().IsRegular() {
			fi, _ := d.Info()
			n += fi.Size()
		}
		return nil
	})
	return n
}

func TestUploadCommit(t *testing.T) {
	root, _, h := newHome(t, Unlimited)
	home := filepath.Join(root, "alice")
	data := bytes.Repeat([]byte("0123456789abcdef"), 10000)
	if err := put(h, "/f.bin", data, strings.ToUpper(md5hex(data))); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(home, "f.bin")); !bytes.Equal(b, data) {
		t.Fatalf("stored %d bytes, md5 %s; want %d, %s", len(b), md5hex(b), len(data), md5hex(data))
	}
	if p := partials(t, home); len(p) != 0 {
		t.Errorf("partials left: %v", p)
	}
	if used, reserved, limit := h.Quota(); used != int64(len(data)) || reserved != 0 || limit != Unlimited {
		t.Errorf("quota = %d, %d, %d", used, reserved, limit)
	}
}

func TestUploadSumAndWritten(t *testing.T) {
	_, _, h := newHome(t, Unlimited)
	u, err := h.BeginUpload("/x", Put{Size: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Abort()
	u.Write([]byte("ab"))
	if u.Written() != 2 || u.Sum() != md5hex([]byte("ab")) {
		t.Errorf("after 2 bytes: written %d, sum %s", u.Written(), u.Sum())
	}
}

func TestUploadMD5MismatchKeepsOldFile(t *testing.T) {
	root, _, h := newHome(t, Unlimited)
	home := filepath.Join(root, "alice")
	for _, name := range []string{"/new", "/old"} {
		if name == "/old" {
			if err := put(h, name, []byte("old contents"), md5hex([]byte("old contents"))); err != nil {
				t.Fatal(err)
			}
		}
		usedBefore, _, _ := h.Quota()
		err := put(h, name, []byte("new contents"), md5hex([]byte("something else")))
		if !errors.Is(err, ErrMD5) {
			t.Fatalf("put %s with a wrong md5: %v", name, err)
		}
		b, err := os.ReadFile(filepath.Join(home, name))
		switch name {
		case "/new":
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s exists after a failed put: %q, %v", name, b, err)
			}
		case "/old":
			if string(b) != "old contents" {
				t.Errorf("%s = %q after a failed put", name, b)
			}
		}
		if p := partials(t, home); len(p) != 0 {
			t.Errorf("partials left: %v", p)
		}
		if used, reserved, _ := h.Quota(); used != usedBefore || reserved != 0 {
			t.Errorf("quota after a failed put: used %d (was %d), reserved %d", used, usedBefore, reserved)
		}
	}
}

func TestUploadShortBodyRefused(t *testing.T) {
	root, _, h := newHome(t, 100)
	u, err := h.BeginUpload("/short", Put{Size: 10})
	if err != nil {
		t.Fatal(err)
	}
	u.Write([]byte("12345"))
	if err := u.Commit(md5hex([]byte("12345"))); !errors.Is(err, ErrSize) {
		t.Fatalf("commit of 5 of 10 bytes: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "alice", "short")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("short body stored: %v", err)
	}
	if p := partials(t, filepath.Join(root, "alice")); len(p) != 0 {
		t.Errorf("partials left: %v", p)
	}
	if used, reserved, _ := h.Quota(); used != 0 || reserved != 0 {
		t.Errorf("quota = %d, %d", used, reserved)
	}
	if err := u.Abort(); err != nil {
		t.Errorf("abort after a failed commit: %v", err)
	}
}

func TestUploadLongBodyRefused(t *testing.T) {
	root, _, h := newHome(t, Unlimited)
	u, err := h.BeginUpload("/long", Put{Size: 4, Transfer: uuid.NewString()}) // resumable: a named partial
	if err != nil {
		t.Fatal(err)
	}
	defer u.Abort()
	if n, err := u.Write([]byte("abc")); n != 3 || err != nil {
		t.Fatalf("write 3 of 4: %d, %v", n, err)
	}
	n, err := u.Write([]byte("defgh"))
	if n != 1 || !errors.Is(err, ErrSize) {
		t.Fatalf("write past the size: %d, %v", n, err)
	}
	if n, err := u.Write([]byte("x")); n != 0 || !errors.Is(err, ErrSize) {
		t.Fatalf("write at the size: %d, %v", n, err)
	}
	p := partials(t, filepath.Join(root, "alice"))
	if len(p) != 2 || p[1] != p[0]+stateSuffix { // the data, and the state saved at once
		t.Fatalf("partials: %v", p)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "alice", PartialDir, p[0])); string(b) != "abcd" {
		t.Errorf("partial holds %q", b)
	}
	if u.Written() != 4 || u.Sum() != md5hex([]byte("abcd")) {
		t.Errorf("written %d, sum %s", u.Written(), u.Sum())
	}
}

func TestUploadOverQuotaCreatesNothing(t *testing.T) {
	root, _, h := newHome(t, 10)
	if err := put(h, "/a", []byte("123456"), md5hex([]byte("123456"))); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, root)
	if _, err := h.BeginUpload("/b", Put{Size: 5}); !errors.Is(err, ErrQuota) {
		t.Fatalf("put of 5 bytes with 6 of 10 used: %v", err)
	}
	// Replacing a file counts only what it adds.
	if _, err := h.BeginUpload("/a", Put{Size: 11}); !errors.Is(err, ErrQuota) {
		t.Fatalf("replace of 6 bytes by 11 with 6 of 10 used: %v", err)
	}
	if after := snapshot(t, root); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a refused put changed the tree:\n%v\n%v", before, after)
	}
	if used, reserved, _ := h.Quota(); used != 6 || reserved != 0 {
		t.Errorf("quota = %d, %d", used, reserved)
	}
	if err := put(h, "/c", []byte("1234"), md5hex([]byte("1234"))); err != nil {
		t.Errorf("put of exactly what is left: %v", err)
	}
	if err := put(h, "/d", nil, md5hex(nil)); err != nil {
		t.Errorf("empty put at the limit: %v", err)
	}
}

func TestUploadReplaceNeedsOnlyTheGrowth(t *testing.T) {
	_, _, h := newHome(t, 10)
	six, ten := []byte("123456"), []byte("0123456789")
	if err := put(h, "/a", six, md5hex(six)); err != nil {
		t.Fatal(err)
	}
	if err := put(h, "/a", ten, md5hex(ten)); err != nil {
		t.Fatalf("replace of 6 bytes by 10 with 6 of 10 used: %v", err)
	}
	// The replaced file goes away during the upload: the new one no
	// longer fits, and the commit is refused, storing nothing.
	u, err := h.BeginUpload("/a", Put{Size: 10})
	if err != nil {
		t.Fatal(err)
	}
	u.Write(six)
	u.Write(six[:4])
	if err := h.Remove("/a", false); err != nil {
		t.Fatal(err)
	}
	if err := put(h, "/b", []byte("12345"), md5hex([]byte("12345"))); err != nil {
		t.Fatal(err)
	}
	if err := u.Commit(md5hex([]byte("1234561234"))); !errors.Is(err, ErrQuota) {
		t.Fatalf("commit after the replaced file went: %v, want ErrQuota", err)
	}
	if used, reserved, _ := h.Quota(); used != 5 || reserved != 0 {
		t.Errorf("quota = %d, %d; want 5, 0", used, reserved)
	}
}

func TestUploadReplaceUpdatesUsageByDelta(t *testing.T) {
	root, _, h := newHome(t, 100)
	big, small := bytes.Repeat([]byte("x"), 40), []byte("tiny")
	if err := put(h, "/f", big, md5hex(big)); err != nil {
		t.Fatal(err)
	}
	if err := put(h, "/f", small, md5hex(small)); err != nil {
		t.Fatal(err)
	}
	if used, reserved, _ := h.Quota(); used != 4 || reserved != 0 {
		t.Errorf("after replacing 40 bytes by 4: used %d, reserved %d", used, reserved)
	}
	if err := put(h, "/f", big, md5hex(big)); err != nil {
		t.Fatal(err)
	}
	if used, _, _ := h.Quota(); used != 40 || used != diskUsage(t, filepath.Join(root, "alice")) {
		t.Errorf("after replacing 4 bytes by 40: used %d, on disk %d", used, diskUsage(t, filepath.Join(root, "alice")))
	}
}

// TestUploadChecksTheName: a name that cannot take a file is refused,
// and nothing stays reserved or created. A resumable upload is refused
// when it begins; a small one without a transfer id does not measure its
// name (a stat saved per pipelined file) and is refused at its commit.
func TestUploadChecksTheName(t *testing.T) {
	root, _, h := newHome(t, Unlimited)
	writeFile(t, filepath.Join(root, "alice", "file"), "x")
	os.Mkdir(filepath.Join(root, "alice", "dir"), 0o755)
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"/", ErrIsDir},
		{"/dir", ErrIsDir},
		{"/missing/x", ErrNotExist},
		{"/file/x", ErrNotDir},
	} {
		for _, transfer := range []string{uuid.NewString(), ""} {
			u, err := h.BeginUpload(tt.name, Put{Size: 1, Transfer: transfer})
			if err == nil {
				u.Write([]byte("y"))
				err = u.Commit(md5hex([]byte("y")))
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("put %s (transfer %q): %v, want %v", tt.name, transfer, err, tt.err)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(root, "alice", PartialDir)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused put created %s: %v", PartialDir, err)
	}
	if _, reserved, _ := h.Quota(); reserved != 0 {
		t.Errorf("reserved %d after refusals", reserved)
	}
}

func TestUploadCommitRacingDirectoryStoresNothing(t *testing.T) {
	root, _, h := newHome(t, Unlimited)
	u, err := h.BeginUpload("/x", Put{Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	u.Write([]byte("1"))
	os.Mkdir(filepath.Join(root, "alice", "x"), 0o755) // appears meanwhile
	if err := u.Commit(md5hex([]byte("1"))); !errors.Is(err, ErrIsDir) {
		t.Fatalf("commit onto a directory: %v", err)
	}
	if p := partials(t, filepath.Join(root, "alice")); len(p) != 0 {
		t.Errorf("partials left: %v", p)
	}
	if used, reserved, _ := h.Quota(); used != 0 || reserved != 0 {
		t.Errorf("quota = %d, %d", used, reserved)
	}
}

func TestUploadAbort(t *testing.T) {
	root, _, h := newHome(t, 100)
	u, err := h.BeginUpload("/x", Put{Size: 50})
	if err != nil {
		t.Fatal(err)
	}
	if _, reserved, _ := h.Quota(); reserved != 50 {
		t.Errorf("reserved %d during the upload", reserved)
	}
	u.Write([]byte("partial data"))
	for i := 0; i < 2; i++ {
		if err := u.Abort(); err != nil {
			t.Fatalf("abort %d: %v", i, err)
		}
	}
	if p := partials(t, filepath.Join(root, "alice")); len(p) != 0 {
		t.Errorf("partials left: %v", p)
	}
	if _, err := os.Stat(filepath.Join(root, "alice", "x")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("abort stored the file: %v", err)
	}
	if used, reserved, _ := h.Quota(); used != 0 || reserved != 0 {
		t.Errorf("quota = %d, %d", used, reserved)
	}
	if _, err := u.Write([]byte("more")); err == nil {
		t.Error("write after abort succeeded")
	}
	if err := u.Commit(md5hex(nil)); err == nil {
		t.Error("commit after abort succeeded")
	}

	// Abort after Commit changes nothing.
	u, _ = h.BeginUpload("/y", Put{Size: 2})
	u.Write([]byte("ok"))
	if err := u.Commit(md5hex([]byte("ok"))); err != nil {
		t.Fatal(err)
	}
	if err := u.Abort(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "alice", "y")); string(b) != "ok" {
		t.Errorf("abort after commit: /y = %q", b)
	}
	if used, reserved, _ := h.Quota(); used != 2 || reserved != 0 {
		t.Errorf("quota = %d, %d", used, reserved)
	}
}

// TestConcurrentUploadsNeverPassQuota runs 20 uploads through 3 homes of
// one user where only about half fit.
func TestConcurrentUploadsNeverPassQuota(t *testing.T) {
	const size, limit = 10_000, 105_000
	root, m, h0 := newHome(t, limit)
	homes := []*Home{h0}
	for i := 0; i < 2; i++ {
		h, err := m.Open("alice", limit)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		homes = append(homes, h)
	}
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		committed int64
		refused   int
	)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := homes[i%len(homes)]
			data := bytes.Repeat([]byte{byte(i)}, size)
			want := md5hex(data)
			if i%5 == 0 {
				want = md5hex(nil) // a failed transfer gives its reservation back
			}
			name := fmt.Sprintf("/f%02d", i)
			err := put(h, name, data, want)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				committed += size
			case errors.Is(err, ErrQuota):
				refused++
			case errors.Is(err, ErrMD5) && i%5 == 0:
			default:
				t.Errorf("put %s: %v", name, err)
			}
			if used, reserved, _ := h.Quota(); used+reserved > limit {
				t.Errorf("used %d + reserved %d > limit %d", used, reserved, limit)
			}
		}()
	}
	wg.Wait()
	if refused == 0 {
		t.Error("every upload fit: the test proves nothing")
	}
	onDisk := diskUsage(t, filepath.Join(root, "alice"))
	if committed > limit || committed != onDisk {
		t.Errorf("committed %d bytes, %d on disk, limit %d", committed, onDisk, limit)
	}
	for _, h := range homes {
		used, reserved, _ := h.Quota()
		if used != onDisk || reserved != 0 || used > limit {
			t.Errorf("quota: used %d, reserved %d; on disk %d, limit %d", used, reserved, onDisk, limit)
		}
	}
	t.Logf("committed %d bytes, %d refused, %d on disk", committed, refused, onDisk)
}

func BenchmarkUploadWrite(b *testing.B) {
	root := b.TempDir()
	m, _ := NewManager(root)
	h, err := m.Open("bench", Unlimited)
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	chunk := make([]byte, 256<<10)
	u, err := h.BeginUpload("/big", Put{Size: int64(b.N) * int64(len(chunk))})
	if err != nil {
		b.Fatal(err)
	}
	defer u.Abort()
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := u.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
}
