package home

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// stream writes data to s in chunks of at most chunk bytes.
func stream(s *Stream, data []byte, chunk int) error {
	for p := data; len(p) > 0; {
		n := min(len(p), chunk)
		if _, err := s.Write(p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

func TestStreamCommitsWhatArrived(t *testing.T) {
	root, _, h := newHome(t, 1<<30)
	dir := filepath.Join(root, "alice")
	data := randomData(5<<20 + 17) // big writes go through the parallel hasher
	s, err := h.BeginStream("/f", uuid.NewString(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream(s, data, 256<<10); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "f")); !bytes.Equal(got, data) || s.Sum() != md5hex(data) {
		t.Fatal("content or sum differs")
	}
	if p := partials(t, dir); len(p) != 0 {
		t.Fatalf("left behind: %v", p)
	}
	fi, _ := h.FS.Stat("/f")
	if h.KnownSum(fi) != md5hex(data) {
		t.Error("the committed stream's MD5 is not remembered")
	}
	usageMatchesDisk(t, h, dir)
}

// TestStreamCommitMD5 places the file with the mtime it began with only
// when the sender's MD5 matches; a wrong one stores nothing and frees
// what was written.
func TestStreamCommitMD5(t *testing.T) {
	root, _, h := newHome(t, 1<<30)
	dir := filepath.Join(root, "alice")
	data := randomData(300_001)
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 600, time.UTC)
	s, err := h.BeginStreamAt("/f", uuid.NewString(), 0, mtime)
	if err != nil {
		t.Fatal(err)
	}
	stream(s, data, 65536)
	if err := s.CommitMD5(md5hex(nil)); !errors.Is(err, ErrMD5) {
		t.Fatalf("CommitMD5 with a wrong sum: %v, want ErrMD5", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "f")); !os.IsNotExist(err) {
		t.Fatalf("a stream with a wrong MD5 is under its name: %v", err)
	}
	if p := partials(t, dir); len(p) != 0 {
		t.Fatalf("left behind: %v", p)
	}
	usageMatchesDisk(t, h, dir)

	s, err = h.BeginStreamAt("/f", uuid.NewString(), 0, mtime)
	if err != nil {
		t.Fatal(err)
	}
	stream(s, data, 65536)
	if err := s.CommitMD5(md5hex(data)); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "f"))
	if got, _ := os.ReadFile(filepath.Join(dir, "f")); err != nil || !bytes.Equal(got, data) || !fi.ModTime().Equal(mtime) {
		t.Fatalf("stored %d bytes with mtime %v (%v); want %d bytes, %v", len(got), fi.ModTime(), err, len(data), mtime)
	}
	usageMatchesDisk(t, h, dir)
}

func TestStreamSuspendThenResume(t *testing.T) {
	root, _, h := newHome(t, 1<<30)
	dir := filepath.Join(root, "alice")
	data := randomData(1<<20 + 999)
	id := uuid.NewString()
	s, err := h.BeginStream("/f", id, 0)
	if err != nil {
		t.Fatal(err)
	}
	stream(s, data[:300_001], 4096)
	if err := s.Suspend(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "f")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("suspended stream visible under its name")
	}
	usageMatchesDisk(t, h, dir)
	held, err := h.Breakpoint(id)
	if err != nil || held.Offset != 300_001 || held.Name != "/f" || held.PrefixMD5 != md5hex(data[:300_001]) {
		t.Fatalf("held %+v, %v", held, err)
	}
	// The same, asked by name, for a stream of the user's own id.
	sid := StreamID("alice", "/s")
	s2, err := h.BeginStream("/s", sid, 0)
	if err != nil {
		t.Fatal(err)
	}
	stream(s2, data[:1000], 100)
	if err := s2.Suspend(); err != nil {
		t.Fatal(err)
	}
	if held, err := h.StreamHeld("/s"); err != nil || held.Offset != 1000 || held.Name != "/s" {
		t.Errorf("StreamHeld(/s): %+v, %v; want 1000 bytes of /s", held, err)
	}
	if _, err := h.StreamHeld("/f"); !errors.Is(err, ErrNotExist) {
		t.Errorf("StreamHeld(/f), held under a transfer id of the native protocol: %v, want ErrNotExist", err)
	}
	for _, bad := range []int64{1, 300_000, 300_002} {
		if _, err := h.BeginStream("/f", id, bad); !errors.Is(err, ErrBadOffset) {
			t.Errorf("resume at %d of 300001: %v, want ErrBadOffset", bad, err)
		}
	}
	if _, err := h.BeginStream("/g", id, held.Offset); !errors.Is(err, ErrBadOffset) {
		t.Errorf("resume under another name: %v, want ErrBadOffset", err)
	}
	s, err = h.BeginStream("/f", id, held.Offset)
	if err != nil {
		t.Fatal(err)
	}
	stream(s, data[held.Offset:], 64<<10)
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "f")); !bytes.Equal(got, data) || s.Sum() != md5hex(data) {
		t.Fatal("resumed content or sum differs")
	}
	usageMatchesDisk(t, h, dir)
}

// Sync (fsync@openssh.com) saves a resume point at every byte written so
// far, on disk before the commit: a server that dies after it resumes
// there.
func TestStreamSyncSavesAResumePointAtEveryByte(t *testing.T) {
	root, _, h := newHome(t, 1<<30)
	dir := filepath.Join(root, "alice")
	data := randomData(200_003)
	id := uuid.NewString()
	s, err := h.BeginStream("/f", id, 0)
	if err != nil {
		t.Fatal(err)
	}
	stream(s, data[:100_001], 4096)
	saved, err := s.Sync()
	if err != nil || saved != 100_001 {
		t.Fatalf("Sync after 100001 bytes: %d, %v", saved, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, PartialDir, id+stateSuffix))
	if err != nil {
		t.Fatalf("no saved state after Sync: %v", err)
	}
	var st ResumePoint
	if err := json.Unmarshal(b, &st); err != nil || st.Offset != 100_001 || st.Name != "/f" {
		t.Fatalf("saved state %+v, %v; want offset 100001 of /f", st, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, PartialDir, id)); err != nil || fi.Size() != 100_001 {
		t.Fatalf("partial data: %v, %v; want 100001 bytes", fi, err)
	}
	stream(s, data[100_001:], 4096)
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "f")); !bytes.Equal(got, data) || s.Sum() != md5hex(data) {
		t.Fatal("content or sum differs after a Sync in the middle")
	}
	if _, err := s.Sync(); err == nil {
		t.Error("Sync after the commit succeeded")
	}
	usageMatchesDisk(t, h, dir)
}

func TestStreamRefusedAtTheQuota(t *testing.T) {
	root, _, h := newHome(t, 100_000)
	dir := filepath.Join(root, "alice")
	if err := put(h, "/old", randomData(30_000), md5hex(nil)); err == nil {
		t.Fatal("a wrong md5 was accepted")
	}
	old := randomData(30_000)
	if err := put(h, "/old", old, md5hex(old)); err != nil {
		t.Fatal(err)
	}
	s, err := h.BeginStream("/new", uuid.NewString(), 0)
	if err != nil {
		t.Fatal(err)
	}
	err = stream(s, randomData(80_000), 10_000)
	if !errors.Is(err, ErrQuota) || s.Written() != 70_000 {
		t.Fatalf("past the quota: %v after %d bytes, want ErrQuota after 70000", err, s.Written())
	}
	s.Abort()
	if used, reserved, _ := h.Quota(); used != 30_000 || reserved != 0 {
		t.Fatalf("after the refusal: used %d reserved %d", used, reserved)
	}
	// Replacing a file needs room only for the growth.
	s, err = h.BeginStream("/old", uuid.NewString(), 0)
	if err != nil {
		t.Fatal(err)
	}
	bigger := randomData(100_000)
	if err := stream(s, bigger, 10_000); err != nil {
		t.Fatalf("replacing 30000 bytes by 100000 within 100000: %v", err)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "old")); !bytes.Equal(got, bigger) {
		t.Fatal("replaced content differs")
	}
	usageMatchesDisk(t, h, dir)
}

func TestConcurrentStreamsNeverPassQuota(t *testing.T) {
	const limit, each, n = 1 << 20, 300_000, 8
	root, _, h := newHome(t, limit)
	dir := filepath.Join(root, "alice")
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := h.BeginStream("/f"+string(rune('a'+i)), uuid.NewString(), 0)
			if err != nil {
				t.Error(err)
				return
			}
			if err := stream(s, randomData(each), 32<<10); err != nil {
				s.Abort()
				return
			}
			s.Commit()
		}()
	}
	wg.Wait()
	if used := diskUsage(t, dir); used > limit {
		t.Fatalf("%d bytes on disk, quota %d", used, limit)
	}
	usageMatchesDisk(t, h, dir)
}

func TestAppendReplacesAtomically(t *testing.T) {
	root, _, h := newHome(t, 1<<30)
	dir := filepath.Join(root, "alice")
	head, tail := randomData(70_000), randomData(5_000)
	if err := put(h, "/f", head, md5hex(head)); err != nil {
		t.Fatal(err)
	}
	s, err := h.BeginAppend("/f", uuid.NewString())
	if err != nil {
		t.Fatal(err)
	}
	stream(s, tail, 1000)
	if got, _ := os.ReadFile(filepath.Join(dir, "f")); !bytes.Equal(got, head) {
		t.Fatal("the file changed before the append was committed")
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	whole := append(head, tail...)
	if got, _ := os.ReadFile(filepath.Join(dir, "f")); !bytes.Equal(got, whole) || s.Sum() != md5hex(whole) {
		t.Fatal("appended content or sum differs")
	}
	usageMatchesDisk(t, h, dir)

	// Onto nothing, an append is a plain upload.
	s, err = h.BeginAppend("/g", uuid.NewString())
	if err != nil {
		t.Fatal(err)
	}
	stream(s, tail, 1000)
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "g")); !bytes.Equal(got, tail) {
		t.Fatal("append onto nothing differs")
	}
}

func TestStreamChecksLikeAnUpload(t *testing.T) {
	_, m, _ := newHome(t, 1<<30)
	ro, err := m.OpenSpec("bob", Spec{Quota: Unlimited, Perms: PermRead})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.BeginStream("/f", uuid.NewString(), 0); !errors.Is(err, ErrPermission) {
		t.Errorf("stream without write: %v", err)
	}
	h, err := m.Open("carol", Unlimited)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := h.BeginStream("/missing/f", uuid.NewString(), 0); !errors.Is(err, ErrNotExist) {
		t.Errorf("stream into a missing directory: %v", err)
	}
	if _, err := h.BeginStream("/f", "", 0); !errors.Is(err, ErrBadTransfer) {
		t.Errorf("stream without a transfer id: %v", err)
	}
}

// failingReader gives data, then err instead of io.EOF.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data[:min(len(f.data), 100_000)])
	f.data = f.data[n:]
	return n, nil
}

func TestStreamReceive(t *testing.T) {
	root, _, h := newHome(t, 10<<20)
	dir := filepath.Join(root, "alice")
	data := randomData(3<<20 + 5)
	s, err := h.BeginStream("/r", uuid.NewString(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.Receive(bytes.NewReader(data)); err != nil || n != int64(len(data)) {
		t.Fatalf("receive: %d, %v", n, err)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "r")); !bytes.Equal(got, data) || s.Sum() != md5hex(data) {
		t.Fatal("received content or sum differs")
	}

	// Cut off by a reader error: what arrived is kept, and resumes.
	id := uuid.NewString()
	s, _ = h.BeginStream("/cut", id, 0)
	cut := errors.New("connection reset")
	if n, err := s.Receive(&failingReader{data: data[:2<<20+7], err: cut}); !errors.Is(err, cut) || n != 2<<20+7 {
		t.Fatalf("cut receive: %d, %v", n, err)
	}
	if err := s.Suspend(); err != nil {
		t.Fatal(err)
	}
	held, err := h.Breakpoint(id)
	if err != nil || held.Offset != 2<<20+7 || held.PrefixMD5 != md5hex(data[:2<<20+7]) {
		t.Fatalf("held %+v %v", held, err)
	}
	s, err = h.BeginStream("/cut", id, held.Offset)
	if err != nil {
		t.Fatal(err)
	}
	s.Receive(bytes.NewReader(data[held.Offset:]))
	if err := s.Commit(); err != nil || s.Sum() != md5hex(data) {
		t.Fatalf("resumed: %v", err)
	}
	usageMatchesDisk(t, h, dir)

	// Past the quota: refused, and nothing over it reaches the disk.
	s, _ = h.BeginStream("/big", uuid.NewString(), 0)
	if _, err := s.Receive(bytes.NewReader(randomData(6 << 20))); !errors.Is(err, ErrQuota) {
		t.Fatalf("over quota: %v", err)
	}
	if used, reserved, limit := h.Quota(); used+reserved > limit || diskUsage(t, dir) > limit {
		t.Fatalf("used %d reserved %d of %d; disk %d", used, reserved, limit, diskUsage(t, dir))
	}
	s.Abort()
	usageMatchesDisk(t, h, dir)
}
