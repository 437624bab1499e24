package home

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestManagerCreatesRootAndHome(t *testing.T) {
	root := filepath.Join(t.TempDir(), "data", "homes")
	m, err := NewManager(root)
	if err != nil {
		t.Fatal(err)
	}
	h, err := m.Open("bob", Unlimited)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, dir := range []string{root, filepath.Join(root, "bob")} {
		fi, err := os.Stat(dir)
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v, %v", dir, fi.Mode(), err)
		}
	}
}

func TestManagerUsageFromExistingFiles(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "alice", "a"), "12345")
	writeFile(t, filepath.Join(root, "alice", "d", "b"), "123")
	writeFile(t, filepath.Join(root, "alice", PartialDir, "old-partial"), "12")
	os.Symlink("/etc/passwd", filepath.Join(root, "alice", "link"))
	m, _ := NewManager(root)
	h, err := m.Open("alice", 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if used, reserved, limit := h.Quota(); used != 10 || reserved != 0 || limit != 1000 {
		t.Errorf("quota = %d, %d, %d; want 10, 0, 1000", used, reserved, limit)
	}
}

func TestManagerAccountSharedThenDropped(t *testing.T) {
	root := t.TempDir()
	m, _ := NewManager(root)
	m.linger = 0
	h1, err := m.Open("alice", 100)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := m.Open("alice", 200) // a reloaded accounts file
	if err != nil {
		t.Fatal(err)
	}
	if _, _, limit := h1.Quota(); limit != 200 {
		t.Errorf("limit seen by the first home = %d after the second Open", limit)
	}
	if err := put(h1, "/x", []byte("1234"), md5hex([]byte("1234"))); err != nil {
		t.Fatal(err)
	}
	if used, _, _ := h2.Quota(); used != 4 {
		t.Errorf("second home sees used %d, want 4", used)
	}
	// Changed behind the server's back: not seen while a home is open...
	writeFile(t, filepath.Join(root, "alice", "y"), "123456")
	h1.Close()
	h1.Close() // idempotent
	h3, err := m.Open("alice", 200)
	if err != nil {
		t.Fatal(err)
	}
	if used, _, _ := h3.Quota(); used != 4 {
		t.Errorf("account recomputed while a home was open: used %d", used)
	}
	h2.Close()
	h3.Close()
	// ...and recomputed once the last one closed.
	h4, err := m.Open("alice", Unlimited)
	if err != nil {
		t.Fatal(err)
	}
	defer h4.Close()
	if used, _, limit := h4.Quota(); used != 10 || limit != Unlimited {
		t.Errorf("after the last close: used %d, limit %d; want 10, unlimited", used, limit)
	}
	if len(m.users) != 1 {
		t.Errorf("%d accounts kept, want 1", len(m.users))
	}

	// Another user has an account of their own.
	hb, err := m.Open("bob", 5)
	if err != nil {
		t.Fatal(err)
	}
	if used, _, _ := hb.Quota(); used != 0 {
		t.Errorf("bob uses %d", used)
	}
	hb.Close()
	if len(m.users) != 1 {
		t.Errorf("%d accounts kept after bob left, want 1", len(m.users))
	}
}

func TestManagerBadUserRefused(t *testing.T) {
	root := t.TempDir()
	m, _ := NewManager(root)
	for _, user := range []string{"", ".", "..", ".hidden", "a/b", "../x", `a\b`, "a\x00b", strings.Repeat("a", 256)} {
		if h, err := m.Open(user, Unlimited); !errors.Is(err, ErrBadPath) {
			if h != nil {
				h.Close()
			}
			t.Errorf("Open(%q): %v, want ErrBadPath", user, err)
		}
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 0 {
		t.Errorf("refused names created %d entries", len(entries))
	}
}

// TestManagerAccountLingers: a local account outlives its last home for a
// while, so that the next login does not walk the tree again (what was
// written behind the server's back meanwhile is not seen); then it goes,
// and the next login counts the disk.
func TestManagerAccountLingers(t *testing.T) {
	root := t.TempDir()
	m, _ := NewManager(root)
	m.linger = 200 * time.Millisecond
	h, err := m.Open("alice", Unlimited)
	if err != nil {
		t.Fatal(err)
	}
	if err := put(h, "/x", []byte("1234"), md5hex([]byte("1234"))); err != nil {
		t.Fatal(err)
	}
	h.Close()
	writeFile(t, filepath.Join(root, "alice", "y"), "123456")
	h, err = m.Open("alice", Unlimited)
	if err != nil {
		t.Fatal(err)
	}
	if used, _, _ := h.Quota(); used != 4 {
		t.Errorf("reopened within the linger: used %d, want the kept 4", used)
	}
	h.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m.mu.Lock()
		n := len(m.users)
		m.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the account outlived its linger")
		}
		time.Sleep(10 * time.Millisecond)
	}
	h, err = m.Open("alice", Unlimited)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if used, _, _ := h.Quota(); used != 10 {
		t.Errorf("after the linger: used %d, want 10 (counted from the disk)", used)
	}
}

// TestManagerConcurrentOpenClose: sessions of one user open and close
// their homes at the same time (run with -race): each sees the one shared
// account, and when all are closed the account is gone or lingering, with
// no reference left behind.
func TestManagerConcurrentOpenClose(t *testing.T) {
	for _, linger := range []time.Duration{0, time.Hour} {
		root := t.TempDir()
		m, _ := NewManager(root)
		m.linger = linger
		writeFile(t, filepath.Join(root, "alice", "seed"), "12345")
		const sessions, rounds = 8, 50
		var wg sync.WaitGroup
		errs := make(chan error, sessions)
		for range sessions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range rounds {
					h, err := m.Open("alice", Unlimited)
					if err != nil {
						errs <- err
						return
					}
					if used, _, _ := h.Quota(); used != 5 {
						errs <- fmt.Errorf("linger %v: used %d, want 5", linger, used)
					}
					h.Close()
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		m.mu.Lock()
		u := m.users["alice"]
		switch {
		case linger == 0 && u != nil:
			t.Errorf("linger 0: the account outlived its last home (refs %d)", u.refs)
		case linger > 0 && (u == nil || u.refs != 0 || u.idle == nil):
			t.Errorf("linger %v: want the account kept idle with no reference, got %+v", linger, u)
		}
		if u != nil && u.idle != nil {
			u.idle.Stop()
		}
		m.mu.Unlock()
	}
}

// TestManagerLingeringAccountSeesPartialsRemoved: the operator's `partials
// rm` works on the disk behind the server; a login while the account
// lingers sees the partials' directory changed and counts the tree again,
// where other changes behind the server's back wait for the linger.
func TestManagerLingeringAccountSeesPartialsRemoved(t *testing.T) {
	root := t.TempDir()
	m, _ := NewManager(root)
	m.linger = time.Hour
	writeFile(t, filepath.Join(root, "alice", PartialDir, "t1"), "1234567890")
	writeFile(t, filepath.Join(root, "alice", "kept"), "123")
	// An hour old: the removal below changes it however coarse the clock.
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(root, "alice", PartialDir), old, old)
	usedAfterOpen := func() int64 {
		h, err := m.Open("alice", Unlimited)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		used, _, _ := h.Quota()
		return used
	}
	if used := usedAfterOpen(); used != 13 {
		t.Fatalf("first login: used %d, want 13 (10 held in a partial + 3)", used)
	}
	writeFile(t, filepath.Join(root, "alice", "behind"), "12345")
	if used := usedAfterOpen(); used != 13 {
		t.Fatalf("lingering: used %d, want the kept 13 (a file written behind the server is not seen yet)", used)
	}
	if err := os.Remove(filepath.Join(root, "alice", PartialDir, "t1")); err != nil {
		t.Fatal(err)
	}
	if used := usedAfterOpen(); used != 8 {
		t.Fatalf("after the partial was removed behind the server: used %d, want 8 (counted again)", used)
	}
}
