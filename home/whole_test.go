package home

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Small uploads are unnamed files linked in place: nothing ever appears in
// PartialDir, and an upload that never commits (a server that died) leaves
// nothing at all on disk.
func TestSmallUploadsLeaveNothingBehind(t *testing.T) {
	root, _, h := newHome(t, Unlimited)
	dir := filepath.Join(root, "alice")
	data := []byte("small and whole")
	if err := put(h, "/a.txt", data, md5hex(data)); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "a.txt")); !bytes.Equal(got, data) {
		t.Fatalf("a.txt = %q", got)
	}
	u, err := h.BeginUpload("/b.txt", Put{Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	ws, ok := u.sink.(*wholeSink)
	if !ok {
		t.Skip("this file system has no O_TMPFILE: uploads use partials")
	}
	u.Write(data)
	ws.w.discard() // the process dies: its descriptors close
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "a.txt" {
		t.Fatalf("the home holds %v", ents)
	}
	if used, reserved, _ := h.Quota(); used != int64(len(data)) || reserved != int64(len(data)) {
		t.Fatalf("used %d reserved %d", used, reserved) // the reservation lives until the session ends
	}
}

// Replacing through the whole-file path keeps CommitPartial's rules: a
// file or a symlink to a file inside is replaced (the link itself, as
// rename does), a symlink leaving the home or to a directory is refused
// and nothing changes.
func TestSmallUploadReplaces(t *testing.T) {
	root, m, h := newHome(t, Unlimited)
	dir := filepath.Join(root, "alice")
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("keep"), 0o644)
	os.WriteFile(filepath.Join(dir, "old"), []byte("old content"), 0o644)
	os.WriteFile(filepath.Join(dir, "target"), []byte("target"), 0o644)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	os.Symlink("target", filepath.Join(dir, "in-link"))
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "out-link"))
	os.Symlink("sub", filepath.Join(dir, "dir-link"))
	h.Close()
	h, err := m.Open("alice", Unlimited) // counts what the test wrote
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	data := []byte("new")

	if err := put(h, "/old", data, md5hex(data)); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "old")); !bytes.Equal(got, data) {
		t.Fatalf("old = %q", got)
	}
	if err := put(h, "/in-link", data, md5hex(data)); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(filepath.Join(dir, "in-link")); !fi.Mode().IsRegular() {
		t.Fatalf("in-link is %v, want the new file in its place", fi.Mode())
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "target")); string(got) != "target" {
		t.Fatalf("the link's target changed: %q", got)
	}
	if err := put(h, "/out-link", data, md5hex(data)); !errors.Is(err, ErrOutside) {
		t.Fatalf("put over a link out of the home: %v, want ErrOutside", err)
	}
	if err := put(h, "/dir-link", data, md5hex(data)); !errors.Is(err, ErrIsDir) {
		t.Fatalf("put over a link to a directory: %v, want ErrIsDir", err)
	}
	if got, _ := os.ReadFile(filepath.Join(outside, "secret")); string(got) != "keep" {
		t.Fatalf("outside file changed: %q", got)
	}
	if p := partials(t, dir); len(p) != 0 {
		t.Fatalf("partials left: %v", p)
	}
	usageMatchesDisk(t, h, dir)
}

// A file system that cannot make unnamed files takes the partial path.
func TestSmallUploadFallsBackToPartials(t *testing.T) {
	root, _, h := newHome(t, Unlimited)
	h.mounts[0].fs.(*dirFS).noWhole.Store(true)
	data := []byte("through a partial")
	u, err := h.BeginUpload("/p.txt", Put{Size: int64(len(data))})
	if _, whole := u.sink.(*wholeSink); err != nil || whole {
		t.Fatalf("begin: %v, whole %v", err, whole)
	}
	u.Write(data)
	if p := partials(t, filepath.Join(root, "alice")); len(p) != 1 {
		t.Fatalf("partials: %v", p)
	}
	if err := u.Commit(md5hex(data)); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "alice", "p.txt")); !bytes.Equal(got, data) {
		t.Fatalf("p.txt = %q", got)
	}
}

// Where a descriptor cannot be linked (no /proc), the bytes are copied to
// the name instead.
func TestWholeFileCopyOut(t *testing.T) {
	_, _, h := newHome(t, Unlimited)
	d := h.mounts[0].fs.(*dirFS)
	s, _, err := d.openWhole("/c.txt", time.Time{})
	if errors.Is(err, errNoWhole) {
		t.Skip("no O_TMPFILE here")
	}
	if err != nil {
		t.Fatal(err)
	}
	w := s.(*wholeSink).w
	defer w.discard()
	w.f.Write([]byte("copied out"))
	if err := copyOut(w, w.dfd(), "c.txt"); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Fstatat(w.dfd(), "c.txt", &st, 0); err != nil || st.Size != 10 {
		t.Fatalf("c.txt: %v, %d bytes", err, st.Size)
	}
}

// A batch of small uploads commits them all, each under its name.
func TestCommitBatchOfWholeFiles(t *testing.T) {
	root, _, h := newHome(t, Unlimited)
	os.Mkdir(filepath.Join(root, "alice", "d"), 0o755)
	var ups []*Upload
	var wants []string
	for i := range 20 {
		data := bytes.Repeat([]byte{byte('a' + i)}, 100+i)
		u, err := h.BeginUpload("/d/f"+string(rune('a'+i)), Put{Size: int64(len(data))})
		if err != nil {
			t.Fatal(err)
		}
		u.Write(data)
		ups = append(ups, u)
		want := md5hex(data)
		if i == 7 {
			want = md5hex([]byte("wrong"))
		}
		wants = append(wants, want)
	}
	errs := h.CommitBatch(ups, wants)
	for i, err := range errs {
		_, serr := os.Stat(filepath.Join(root, "alice", "d", "f"+string(rune('a'+i))))
		switch {
		case i == 7 && (!errors.Is(err, ErrMD5) || serr == nil):
			t.Fatalf("file %d: %v, stat %v: want a mismatch and no file", i, err, serr)
		case i != 7 && (err != nil || serr != nil):
			t.Fatalf("file %d: %v, stat %v", i, err, serr)
		}
	}
	usageMatchesDisk(t, h, filepath.Join(root, "alice"))
}

// TestSmallUploadWhoseNameAppearedMeanwhile: a small upload measured its
// name as free when it began; another upload put a file there before it
// was placed. The link fails, the name is measured again, and the file
// replaces the one that appeared, counted as a replacement: the quota
// counts the disk.
func TestSmallUploadWhoseNameAppearedMeanwhile(t *testing.T) {
	root, _, h := newHome(t, Unlimited)
	data := []byte("first")
	u, err := h.BeginUpload("/r", Put{Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := u.sink.(*wholeSink); !ok {
		t.Skip("this file system has no O_TMPFILE: uploads use partials")
	}
	u.Write(data)
	other := []byte("the other one")
	if err := put(h, "/r", other, md5hex(other)); err != nil {
		t.Fatal(err)
	}
	if err := u.Commit(md5hex(data)); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "alice", "r")); !bytes.Equal(got, data) {
		t.Fatalf("r = %q, want the upload placed last", got)
	}
	usageMatchesDisk(t, h, filepath.Join(root, "alice"))
}
