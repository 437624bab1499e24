package home

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// walkAll returns "REL kind" for every name Walk meets, in order: kind is
// "d" or "f", or the skip reason, or "err:" and the error.
func walkAll(t *testing.T, h *Home, name string) ([]string, error) {
	t.Helper()
	var got []string
	err := h.Walk(name, func(w Walked) error {
		kind := "f"
		switch {
		case w.Err != nil:
			kind = "err:" + w.Err.Error()
		case w.Skip != "":
			kind = w.Skip
		case w.Info.IsDir():
			kind = "d"
		}
		got = append(got, w.Rel+" "+kind)
		return nil
	})
	return got, err
}

func TestWalkListsTheTreeInOrderWithoutLeaving(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	home := filepath.Join(root, "alice")
	writeFile(t, filepath.Join(outside, "secret"), "secret")
	writeFile(t, filepath.Join(home, "a", "b", "c.txt"), "c")
	writeFile(t, filepath.Join(home, "a", "z.txt"), "z")
	writeFile(t, filepath.Join(home, "top.txt"), "top")
	writeFile(t, filepath.Join(home, PartialDir, "p"), "partial")
	writeFile(t, filepath.Join(home, "a", "b", "ünï cödé"), "u")
	os.Mkdir(filepath.Join(home, "empty"), 0o755)
	os.Symlink(outside, filepath.Join(home, "a", "out"))               // leaves the home
	os.Symlink("../..", filepath.Join(home, "a", "b", "up"))           // the home itself: a loop
	os.Symlink("b", filepath.Join(home, "a", "same"))                  // inside: followed
	os.Symlink("missing", filepath.Join(home, "dangling"))             // dangles
	os.WriteFile(filepath.Join(home, "bad\\name"), []byte("x"), 0o644) // cannot be requested
	syscall.Mkfifo(filepath.Join(home, "fifo"), 0o644)
	m, _ := NewManager(root)
	h, err := m.Open("alice", Unlimited)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()

	got, err := walkAll(t, h, "/")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"a d",
		"a/b d",
		"a/b/c.txt f",
		"a/b/up loop",
		"a/b/ünï cödé f",
		"a/out link",
		"a/same d",
		"a/same/c.txt f",
		"a/same/up loop",
		"a/same/ünï cödé f",
		"a/z.txt f",
		`bad\name err:resolve "bad\\name": byte 0x5c: no backslash in names: invalid path`,
		"dangling link",
		"empty d",
		"fifo special",
		"top.txt f",
	}
	if !slices.Equal(got, want) {
		t.Errorf("walk /:\n got %q\nwant %q", got, want)
	}
	for _, g := range got {
		if strings.Contains(g, "secret") || strings.Contains(g, PartialDir) {
			t.Errorf("walk shows %q", g)
		}
	}

	got, err = walkAll(t, h, "/a/b")
	if err != nil || !slices.Equal(got, []string{"c.txt f", "up d", "up/a d", "up/a/b loop", "up/a/out link", "up/a/same loop", "up/a/z.txt f",
		`up/bad\name err:resolve "bad\\name": byte 0x5c: no backslash in names: invalid path`, "up/dangling link", "up/empty d", "up/fifo special", "up/top.txt f", "ünï cödé f"}) {
		t.Errorf("walk /a/b: %q %v", got, err)
	}
	for name, kind := range map[string]error{"/top.txt": ErrNotDir, "/nothing": ErrNotExist, "/a/out": ErrOutside} {
		if _, err := walkAll(t, h, name); !errors.Is(err, kind) {
			t.Errorf("walk %s: %v, want %v", name, err, kind)
		}
	}
	stop := errors.New("stop")
	n := 0
	if err := h.Walk("/", func(Walked) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("a callback's error: %v after %d calls", err, n)
	}
}

func TestWalkNeedsReadOnEachFolder(t *testing.T) {
	root, team, locked := t.TempDir(), t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(team, "doc.txt"), "doc")
	writeFile(t, filepath.Join(locked, "private.txt"), "private")
	writeFile(t, filepath.Join(root, "alice", "mine.txt"), "mine")
	m, _ := NewManager(root)
	h := openWith(t, m, "alice", Spec{Quota: Unlimited, Folders: []Folder{
		{Name: "team", Dir: team, Perms: PermRead},
		{Name: "drop", Dir: locked, Perms: PermWrite},
	}})
	got, err := walkAll(t, h, "/")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0] != "drop err:/drop: needs read: permission denied" || got[1] != "mine.txt f" || got[2] != "team d" || got[3] != "team/doc.txt f" {
		t.Errorf("walk / with a write-only folder: %q", got)
	}
	if _, err := walkAll(t, h, "/drop"); !errors.Is(err, ErrPermission) {
		t.Errorf("walk of the write-only folder itself: %v", err)
	}
}
