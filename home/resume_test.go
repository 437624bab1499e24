package home

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
)

func randomData(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// usageMatchesDisk checks the quota's used bytes against what is on disk
// (state files excepted), with nothing reserved.
func usageMatchesDisk(t *testing.T, h *Home, dir string) {
	t.Helper()
	used, reserved, _ := h.Quota()
	var states int64
	matches, _ := filepath.Glob(filepath.Join(dir, PartialDir, "*"+stateSuffix))
	for _, m := range matches {
		fi, _ := os.Stat(m)
		states += fi.Size()
	}
	if disk := diskUsage(t, dir) - states; used != disk || reserved != 0 {
		t.Fatalf("used %d reserved %d, disk %d", used, reserved, disk)
	}
}

func TestSuspendThenResume(t *testing.T) {
	root, _, h := newHome(t, 1<<30)
	dir := filepath.Join(root, "alice")
	data := randomData(3 << 20)
	id := uuid.NewString()

	u, err := h.BeginUpload("/f", Put{Size: int64(len(data)), Transfer: id})
	if err != nil {
		t.Fatal(err)
	}
	u.Write(data[:1<<20+3])
	if err := u.Suspend(); err != nil {
		t.Fatal(err)
	}
	usageMatchesDisk(t, h, dir)
	held, err := h.Breakpoint(id)
	if err != nil || held.Offset != 1<<20+3 || held.Size != int64(len(data)) || held.Name != "/f" || held.PrefixMD5 != md5hex(data[:1<<20+3]) {
		t.Fatalf("held %+v, %v", held, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "f")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("suspended upload visible under its name")
	}

	u, err = h.BeginUpload("/f", Put{Size: int64(len(data)), Transfer: id, Offset: held.Offset})
	if err != nil {
		t.Fatal(err)
	}
	if u.Offset() != held.Offset {
		t.Fatalf("offset %d", u.Offset())
	}
	u.Write(data[held.Offset:])
	if err := u.Commit(md5hex(data)); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "f")); !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	if p := partials(t, dir); len(p) != 0 {
		t.Fatalf("left behind: %v", p)
	}
	usageMatchesDisk(t, h, dir)
}

func TestResumedMismatchDiscardsEverything(t *testing.T) {
	root, _, h := newHome(t, 1<<30)
	dir := filepath.Join(root, "alice")
	data := randomData(100_000)
	id := uuid.NewString()
	u, _ := h.BeginUpload("/f", Put{Size: 100_000, Transfer: id})
	u.Write(data[:50_000])
	u.Suspend()
	u, err := h.BeginUpload("/f", Put{Size: 100_000, Transfer: id, Offset: 50_000})
	if err != nil {
		t.Fatal(err)
	}
	u.Write(data[50_000:])
	if err := u.Commit(md5hex([]byte("other"))); !errors.Is(err, ErrMD5) {
		t.Fatalf("commit: %v, want ErrMD5", err)
	}
	if _, err := h.Breakpoint(id); !errors.Is(err, ErrNotExist) {
		t.Fatalf("breakpoint after a mismatch: %v", err)
	}
	usageMatchesDisk(t, h, dir)
}

// A server killed mid-upload leaves the data it wrote and the state of its
// last checkpoint; the next Breakpoint hashes what lies past the checkpoint
// and the upload resumes from the end of what reached the disk.
func TestCrashResumesFromWhatReachedTheDisk(t *testing.T) {
	for _, cut := range []int{100 << 10, 17<<20 + 1234} { // within the first second, through Write and through Receive
		root, m, h := newHome(t, Unlimited)
		dir := filepath.Join(root, "alice")
		data := randomData(20 << 20)
		id := uuid.NewString()
		u, _ := h.BeginUpload("/f", Put{Size: int64(len(data)), Transfer: id})
		if cut > 1<<20 {
			u.Receive(bytes.NewReader(data[:cut])) // its read error (EOF before the end) is the crash
		} else {
			u.Write(data[:cut])
		}
		u.sink.(*partialSink).close() // the process dies: no Suspend, no Abort
		m.unclaim("alice", id)
		h.Close()

		m2, _ := NewManager(root)
		h2, err := m2.Open("alice", Unlimited)
		if err != nil {
			t.Fatal(err)
		}
		defer h2.Close()
		held, err := h2.Breakpoint(id)
		if err != nil || held.Offset != int64(cut) || held.PrefixMD5 != md5hex(data[:cut]) {
			t.Fatalf("cut at %d: held %+v %v; want all of it", cut, held, err)
		}
		u, err = h2.BeginUpload("/f", Put{Size: int64(len(data)), Transfer: id, Offset: held.Offset})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := u.Receive(bytes.NewReader(data[held.Offset:])); err != nil || n != int64(len(data)-cut) {
			t.Fatalf("receive: %d, %v", n, err)
		}
		if err := u.Commit(md5hex(data)); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "f")); !bytes.Equal(got, data) {
			t.Fatal("the file differs")
		}
		usageMatchesDisk(t, h2, dir)
	}
}

func TestBreakpointRefusals(t *testing.T) {
	root, m, h := newHome(t, Unlimited)
	id := uuid.NewString()
	if _, err := h.Breakpoint("not-a-uuid"); !errors.Is(err, ErrBadTransfer) {
		t.Fatalf("bad id: %v", err)
	}
	if _, err := h.Breakpoint(id); !errors.Is(err, ErrNotExist) {
		t.Fatalf("unknown id: %v", err)
	}
	u, _ := h.BeginUpload("/f", Put{Size: 10, Transfer: id})
	u.Write([]byte("12345"))
	claimWait = 50 * time.Millisecond
	defer func() { claimWait = 3 * time.Second }()
	if _, err := h.Breakpoint(id); !errors.Is(err, ErrBusy) {
		t.Fatalf("in use: %v", err)
	}
	u.Suspend()
	bob, err := m.Open("bob", Unlimited)
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	if _, err := bob.Breakpoint(id); !errors.Is(err, ErrForeign) {
		t.Fatalf("another user's transfer: %v", err)
	}
	if _, err := bob.BeginUpload("/f", Put{Size: 10, Transfer: id, Offset: 5}); !errors.Is(err, ErrForeign) {
		t.Fatalf("resuming another user's transfer: %v", err)
	}
	_ = root
}

// A tus upload names its MD5 and mtime once, when it is created: the
// resume point keeps them for every later piece, on any server.
func TestResumePointKeepsWantAndMTime(t *testing.T) {
	root, _, h := newHome(t, 1<<30)
	data := randomData(2 << 20)
	id := uuid.NewString()
	want, mtime := md5hex(data), time.Unix(1700000000, 0)
	u, err := h.BeginUpload("/f", Put{Size: int64(len(data)), Transfer: id, MTime: mtime, Want: want})
	if err != nil {
		t.Fatal(err)
	}
	u.Write(data[:1<<20])
	if err := u.Suspend(); err != nil || u.Saved() != 1<<20 {
		t.Fatalf("suspend: saved %d, %v", u.Saved(), err)
	}
	held, err := h.Breakpoint(id)
	if err != nil || held.Want != want || !held.MTime.Equal(mtime) || held.Offset != 1<<20 {
		t.Fatalf("held %+v, %v", held, err)
	}
	u, err = h.BeginUpload(held.Name, Put{Size: held.Size, Transfer: id, Offset: held.Offset, MTime: held.MTime, Want: held.Want})
	if err != nil {
		t.Fatal(err)
	}
	u.Write(data[held.Offset:])
	if err := u.Commit(held.Want); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(root, "alice", "f"))
	if err != nil || fi.Size() != int64(len(data)) || !fi.ModTime().Equal(mtime) {
		t.Fatalf("placed %v, %v", fi, err)
	}
}
