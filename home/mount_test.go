package home

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// openWith opens user with spec under m, closed when the test ends.
func openWith(t *testing.T, m *Manager, user string, spec Spec) *Home {
	t.Helper()
	h, err := m.OpenSpec(user, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func TestFolderIsMountedAndJailed(t *testing.T) {
	root, team, outside := t.TempDir(), t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(team, "doc.txt"), []byte("team doc"), 0o644)
	os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644)
	os.Symlink(outside, filepath.Join(team, "out"))
	os.Mkdir(filepath.Join(root, "alice"), 0o700)
	os.WriteFile(filepath.Join(root, "alice", "shared"), []byte("shadowed"), 0o644)
	m, _ := NewManager(root)
	h := openWith(t, m, "alice", Spec{Quota: Unlimited, Folders: []Folder{{Name: "shared", Dir: team, Perms: PermAll}}})

	infos, err := h.FS.ReadDir("/")
	if err != nil || len(infos) != 1 || infos[0].Name() != "shared" || !infos[0].IsDir() {
		t.Fatalf("ls / = %v, %v; want the folder alone, as a directory", infos, err)
	}
	if fi, err := h.FS.Stat("/shared"); err != nil || !fi.IsDir() || fi.Name() != "shared" {
		t.Fatalf("stat /shared = %v, %v", fi, err)
	}
	f, err := h.FS.Open("/shared/doc.txt")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, p := range []string{"/shared/out/secret", "/shared/out"} {
		if _, err := h.FS.Open(p); !errors.Is(err, ErrOutside) && !errors.Is(err, ErrPermission) {
			t.Errorf("open %s through a link out of the folder: %v", p, err)
		}
	}
	if err := put(h, "/shared/new.txt", []byte("new"), md5hex([]byte("new"))); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(team, "new.txt")); string(b) != "new" {
		t.Fatalf("the put landed elsewhere: %q", b)
	}
	if err := put(h, "/shared/out/x", []byte("x"), md5hex([]byte("x"))); err == nil {
		t.Fatal("put through a link out of the folder succeeded")
	}
	if _, err := os.Stat(filepath.Join(outside, "x")); err == nil {
		t.Fatal("a file appeared outside")
	}
	if err := h.Rename("/shared/new.txt", "/new.txt"); !errors.Is(err, ErrCrossFolder) {
		t.Errorf("mv across folders: %v, want ErrCrossFolder", err)
	}
	if err := h.Rename("/shared/new.txt", "/shared/moved.txt"); err != nil {
		t.Errorf("mv inside the folder: %v", err)
	}
	for _, err := range []error{h.Remove("/shared", true), h.Remove("/shared", false), h.Rename("/shared", "/x")} {
		if !errors.Is(err, ErrPermission) {
			t.Errorf("rm/mv of the mount point: %v, want ErrPermission", err)
		}
	}
	if err := h.FS.Mkdir("/shared", true); err != nil {
		t.Errorf("mkdir -p of the mount point: %v", err)
	}
	if err := h.FS.Mkdir("/shared", false); !errors.Is(err, ErrExists) {
		t.Errorf("mkdir of the mount point: %v, want ErrExists", err)
	}
	if _, err := os.Stat(filepath.Join(root, "alice", PartialDir)); err == nil {
		if ents, _ := os.ReadDir(filepath.Join(root, "alice", PartialDir)); len(ents) > 0 {
			t.Errorf("partials of the folder went into the home: %v", ents)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(root, "alice", "shared")); string(b) != "shadowed" {
		t.Error("the shadowed file in the home changed")
	}
}

func TestPermissionsRefuseAndChangeNothing(t *testing.T) {
	root, team := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(team, "doc.txt"), []byte("team doc"), 0o644)
	m, _ := NewManager(root)
	reader := openWith(t, m, "reader", Spec{Quota: Unlimited, Folders: []Folder{{Name: "shared", Dir: team, Perms: PermRead}}})
	writer := openWith(t, m, "writer", Spec{Quota: Unlimited, Folders: []Folder{{Name: "shared", Dir: team, Perms: PermRead | PermWrite}}})
	data := []byte("other")
	for _, h := range []*Home{reader, writer} {
		if err := put(h, "/shared/doc.txt", data, md5hex(data)); !errors.Is(err, ErrPermission) {
			t.Errorf("%s: put over an existing file: %v, want ErrPermission", h.user, err)
		}
		if err := h.Remove("/shared/doc.txt", false); !errors.Is(err, ErrPermission) {
			t.Errorf("%s: rm: %v", h.user, err)
		}
		if err := h.Rename("/shared/doc.txt", "/shared/x"); !errors.Is(err, ErrPermission) {
			t.Errorf("%s: mv: %v", h.user, err)
		}
		if err := h.Allowed("/shared/doc.txt", PermRead); err != nil {
			t.Errorf("%s: read: %v", h.user, err)
		}
	}
	if err := put(reader, "/shared/new.txt", data, md5hex(data)); !errors.Is(err, ErrPermission) {
		t.Errorf("reader: put: %v", err)
	}
	if err := reader.Allowed("/shared/d", PermWrite); !errors.Is(err, ErrPermission) {
		t.Errorf("reader: write allowed: %v", err)
	}
	if err := put(writer, "/shared/new.txt", data, md5hex(data)); err != nil {
		t.Errorf("writer: put: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(team, "doc.txt")); string(b) != "team doc" {
		t.Errorf("doc.txt = %q", b)
	}
	ents, _ := os.ReadDir(team)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	names = slices.DeleteFunc(names, func(n string) bool { return n == PartialDir })
	if !slices.Equal(names, []string{"doc.txt", "new.txt"}) {
		t.Errorf("the folder holds %v", names)
	}
}

func TestFolderQuotaCountedApartAndShared(t *testing.T) {
	root, box := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(box, "old"), make([]byte, 10), 0o644)
	m, _ := NewManager(root)
	folder := Folder{Name: "box", Dir: box, Perms: PermAll, Quota: 100, OwnQuota: true}
	h1 := openWith(t, m, "u1", Spec{Quota: 50, Folders: []Folder{folder}})
	h2 := openWith(t, m, "u2", Spec{Quota: 50, Folders: []Folder{folder}})
	b60 := bytes.Repeat([]byte("x"), 60)
	if err := put(h1, "/box/a", b60, md5hex(b60)); err != nil {
		t.Fatalf("60 bytes into the folder's 100 (10 used): %v", err)
	}
	if used, _, limit := h1.QuotaAt("/box/a"); used != 70 || limit != 100 {
		t.Errorf("folder quota: %d of %d, want 70 of 100", used, limit)
	}
	if used, _, _ := h1.Quota(); used != 0 {
		t.Errorf("home quota counted the folder: %d", used)
	}
	if err := put(h2, "/box/b", b60, md5hex(b60)); !errors.Is(err, ErrQuota) {
		t.Errorf("another user's 60 bytes into the shared folder's last 30: %v, want ErrQuota", err)
	}
	b40 := b60[:40]
	if err := put(h2, "/b", b40, md5hex(b40)); err != nil {
		t.Errorf("40 bytes into u2's home: %v", err)
	}
	if err := h2.Remove("/box/a", false); err != nil {
		t.Fatal(err)
	}
	if used, _, _ := h1.QuotaAt("/box"); used != 10 {
		t.Errorf("after rm: folder used %d, want 10", used)
	}
}

func TestAnonymousIsReadOnly(t *testing.T) {
	root, pub := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(pub, "f"), []byte("public"), 0o644)
	m, _ := NewManager(root)
	h, err := m.OpenAnonymous(pub)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if f, err := h.FS.Open("/f"); err != nil {
		t.Fatal(err)
	} else {
		f.Close()
	}
	data := []byte("x")
	for what, err := range map[string]error{
		"put":      put(h, "/g", data, md5hex(data)),
		"rm":       h.Remove("/f", false),
		"mv":       h.Rename("/f", "/g"),
		"mkdir":    h.Allowed("/d", PermWrite),
		"fs mkdir": h.FS.Mkdir("/d", false),
	} {
		if !errors.Is(err, ErrPermission) {
			t.Errorf("%s: %v, want ErrPermission", what, err)
		}
	}
	ents, _ := os.ReadDir(pub)
	if len(ents) != 1 {
		t.Errorf("the anonymous root changed: %v", ents)
	}
	if ents, _ := os.ReadDir(root); len(ents) != 0 {
		t.Errorf("anonymous made a home: %v", ents)
	}
}
