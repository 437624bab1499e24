package home

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// newDir makes a home directory under a fresh temp dir and returns the
// temp dir, the home's path and its FS.
func newDir(t *testing.T) (tmp, dir string, fsys FS) {
	t.Helper()
	tmp = t.TempDir()
	dir = filepath.Join(tmp, "home")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	fsys, err := Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Close() })
	return tmp, dir, fsys
}

// wantErr fails unless err wraps want and its message keeps the server's
// own paths (anything under tmp) to itself.
func wantErr(t *testing.T, tmp string, err, want error, what string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got %v, want %v", what, err, want)
		return
	}
	if strings.Contains(err.Error(), tmp) {
		t.Errorf("%s: error %q shows the server's path", what, err)
	}
}

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// snapshot returns every path under dir with its contents (or "dir",
// or "-> target"), to prove nothing outside a home changed.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := make(map[string]string)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			m[p] = "-> " + target
			return err
		case d.IsDir():
			m[p] = "dir"
		default:
			b, err := os.ReadFile(p)
			m[p] = string(b)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFSBasics(t *testing.T) {
	tmp, dir, fsys := newDir(t)
	writeFile(t, filepath.Join(dir, "b.txt"), "hello")
	writeFile(t, filepath.Join(dir, "a", "x"), "12345678")

	if err := fsys.Mkdir("/c/d/e", true); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Mkdir("/c/d/e", true); err != nil {
		t.Fatalf("mkdir -p of an existing dir: %v", err)
	}
	wantErr(t, tmp, fsys.Mkdir("/c", false), ErrExists, "mkdir existing")
	wantErr(t, tmp, fsys.Mkdir("/q/r", false), ErrNotExist, "mkdir without parent")
	wantErr(t, tmp, fsys.Mkdir("/b.txt/r", true), ErrNotDir, "mkdir -p under a file")

	infos, err := fsys.ReadDir("/")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, fi := range infos {
		names = append(names, fi.Name())
	}
	if got := strings.Join(names, " "); got != "a b.txt c" {
		t.Errorf("ls / = %q", got)
	}
	if infos[1].Size() != 5 || infos[1].IsDir() || !infos[0].IsDir() {
		t.Errorf("ls /: b.txt size %d, a dir %v", infos[1].Size(), infos[0].IsDir())
	}
	_, err = fsys.ReadDir("/b.txt")
	wantErr(t, tmp, err, ErrNotDir, "ls a file")
	_, err = fsys.ReadDir("/nope")
	wantErr(t, tmp, err, ErrNotExist, "ls missing")

	f, err := fsys.Open("/a/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "12345678" {
		t.Errorf("get /a/x = %q", b)
	}
	_, err = fsys.Open("/a")
	wantErr(t, tmp, err, ErrIsDir, "get a dir")
	_, err = fsys.Open("/nope")
	wantErr(t, tmp, err, ErrNotExist, "get missing")
	_, err = fsys.Open("/b.txt/x")
	wantErr(t, tmp, err, ErrNotDir, "get under a file")
	_, err = fsys.Stat("/a/../b.txt")
	wantErr(t, tmp, err, ErrBadPath, "unclean name")
	_, err = fsys.Stat("b.txt")
	wantErr(t, tmp, err, ErrBadPath, "relative name")
	_, err = fsys.Stat("/" + PartialDir)
	wantErr(t, tmp, err, ErrPermission, "stat PartialDir")

	if err := fsys.Rename("/b.txt", "/c/b2.txt"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, tmp, fsys.Rename("/c/b2.txt", "/a"), ErrExists, "mv a file onto a dir")
	wantErr(t, tmp, fsys.Rename("/nope", "/x"), ErrNotExist, "mv missing")
	wantErr(t, tmp, fsys.Rename("/", "/x"), ErrPermission, "mv the root")
	wantErr(t, tmp, fsys.Remove("/"), ErrPermission, "rm the root")
	wantErr(t, tmp, fsys.Remove("/nope"), ErrNotExist, "rm missing")
	if err := fsys.Remove("/a"); err == nil || errors.Is(err, ErrExists) || strings.Contains(err.Error(), tmp) {
		t.Errorf("rm a non-empty dir: %v", err)
	}
	if err := fsys.Remove("/c/b2.txt"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "c", "b2.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("rm left the file: %v", err)
	}

	sink, _, err := fsys.Upload("p1", "/a/x", UploadOptions{Size: 3, Resumable: true})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(sink, "abc")
	if n, err := fsys.Usage(); err != nil || n != 8+3 {
		t.Errorf("usage = %d, %v; want 11", n, err)
	}
	infos, _ = fsys.ReadDir("/")
	for _, fi := range infos {
		if fi.Name() == PartialDir {
			t.Errorf("ls / shows %s", PartialDir)
		}
	}
	for _, o := range []UploadOptions{{Size: 3, Resumable: true}, {Size: 3}} {
		wantErr(t, tmp, upload(fsys, "p2", "/a", o), ErrIsDir, "put onto a dir")
		wantErr(t, tmp, upload(fsys, "p2", "/q/r", o), ErrNotExist, "put without parent")
	}
	_, _, err = fsys.Upload("../x", "/r", UploadOptions{Size: 3, Resumable: true})
	wantErr(t, tmp, err, ErrBadPath, "partial id with a slash")
	if err := sink.Finish(true); err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Place(Target{}, "", true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a", "x")); string(b) != "abc" {
		t.Errorf("after commit /a/x = %q", b)
	}
	wantErr(t, tmp, fsys.RemovePartial("p1"), ErrNotExist, "remove a committed partial")
}

func TestSymlinkOutsideHomeRefused(t *testing.T) {
	tmp, dir, fsys := newDir(t)
	outside := filepath.Join(tmp, "outside")
	writeFile(t, filepath.Join(outside, "secret"), "top secret")
	writeFile(t, filepath.Join(dir, "sub", "file"), "inside!")
	for link, target := range map[string]string{
		"abs":       outside,
		"abs_file":  filepath.Join(outside, "secret"),
		"rel":       "../outside",
		"rel_file":  "../../outside/secret",
		"sub/deep":  "../../outside",
		"dangling":  "nothing-here",
		"in_file":   "sub/file",
		"in_dir":    "sub",
		"sub/upref": "../sub/file",
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	// rel_file sits at the home root, so make it really reach outside.
	os.Remove(filepath.Join(dir, "rel_file"))
	os.Symlink("../outside/secret", filepath.Join(dir, "rel_file"))
	before := snapshot(t, outside)

	outFiles := []string{"/abs_file", "/rel_file", "/abs/secret", "/rel/secret", "/sub/deep/secret"}
	outDirs := []string{"/abs", "/rel", "/sub/deep"}
	for _, name := range outFiles {
		_, err := fsys.Stat(name)
		wantErr(t, tmp, err, ErrOutside, "stat "+name)
		f, err := fsys.Open(name)
		if f != nil {
			f.Close()
		}
		wantErr(t, tmp, err, ErrOutside, "get "+name)

		for _, o := range []UploadOptions{{Size: 11, Resumable: true}, {Size: 11}} {
			wantErr(t, tmp, upload(fsys, "c1", name, o), ErrOutside, "put onto "+name)
		}
	}
	for _, name := range outDirs {
		_, err := fsys.ReadDir(name)
		wantErr(t, tmp, err, ErrOutside, "ls "+name)
		wantErr(t, tmp, fsys.Mkdir(name+"/new", false), ErrOutside, "mkdir under "+name)
		wantErr(t, tmp, fsys.Mkdir(name+"/new/deeper", true), ErrOutside, "mkdir -p under "+name)
		wantErr(t, tmp, fsys.Rename("/sub/file", name+"/moved"), ErrOutside, "mv into "+name)
		wantErr(t, tmp, fsys.Remove(name+"/secret"), ErrOutside, "rm under "+name)
	}

	// A partial planted as a symlink out of the home is not written through.
	if err := os.MkdirAll(filepath.Join(dir, PartialDir), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, PartialDir, "planted")); err != nil {
		t.Fatal(err)
	}
	_, _, err := fsys.Upload("planted", "/new", UploadOptions{Size: 1, Resumable: true})
	wantErr(t, tmp, err, ErrOutside, "create a partial planted as a link out")
	// And so is the partial directory itself.
	os.RemoveAll(filepath.Join(dir, PartialDir))
	if err := os.Symlink(outside, filepath.Join(dir, PartialDir)); err != nil {
		t.Fatal(err)
	}
	_, _, err = fsys.Upload("new", "/new", UploadOptions{Size: 1, Resumable: true})
	wantErr(t, tmp, err, ErrOutside, "create a partial in a PartialDir linked out")
	os.Remove(filepath.Join(dir, PartialDir))

	if after := snapshot(t, outside); len(after) != len(before) || after[filepath.Join(outside, "secret")] != "top secret" {
		t.Errorf("outside changed: %v -> %v", before, after)
	}

	// Symlinks that stay inside work.
	fi, err := fsys.Stat("/in_file")
	if err != nil || fi.Size() != 7 {
		t.Fatalf("stat /in_file: %v, %v", fi, err)
	}
	for _, name := range []string{"/in_file", "/sub/upref", "/in_dir/file"} {
		f, err := fsys.Open(name)
		if err != nil {
			t.Fatalf("get %s: %v", name, err)
		}
		b, _ := io.ReadAll(f)
		f.Close()
		if string(b) != "inside!" {
			t.Errorf("get %s = %q", name, b)
		}
	}
	if infos, err := fsys.ReadDir("/in_dir"); err != nil || len(infos) != 3 {
		t.Errorf("ls /in_dir: %d entries, %v", len(infos), err)
	}

	// The listing shows inside links as their targets and the others as
	// empty non-directories.
	infos, err := fsys.ReadDir("/")
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]fs.FileInfo)
	for _, fi := range infos {
		got[fi.Name()] = fi
	}
	if fi := got["in_file"]; fi == nil || fi.Size() != 7 || !fi.Mode().IsRegular() {
		t.Errorf("ls: in_file = %v", fi)
	}
	if fi := got["in_dir"]; fi == nil || !fi.IsDir() {
		t.Errorf("ls: in_dir = %v", fi)
	}
	for _, name := range []string{"abs", "abs_file", "rel", "rel_file", "dangling"} {
		if fi := got[name]; fi == nil || fi.IsDir() || fi.Size() != 0 {
			t.Errorf("ls: %s = %v", name, fi)
		}
	}

	// Usage counts only regular files inside, not what links point at.
	if n, err := fsys.Usage(); err != nil || n != 7 {
		t.Errorf("usage = %d, %v; want 7", n, err)
	}
}

// upload puts o.Size bytes at name through fsys's sink, as Upload would,
// and returns the refusal, whether at the start (a named partial measures
// the name) or at the place (a small upload does not: its link finds what
// is there, and the name is measured then).
func upload(fsys FS, id, name string, o UploadOptions) error {
	s, t, err := fsys.Upload(id, name, o)
	if err != nil {
		return err
	}
	defer s.Abort()
	if _, err := s.Write(make([]byte, o.Size)); err != nil {
		return err
	}
	if err := s.Finish(false); err != nil {
		return err
	}
	for try := 0; try < 3; try++ {
		if _, err = s.Place(t, "", false); !errors.Is(err, ErrChanged) {
			return err
		}
		if t, err = s.Target(); err != nil {
			return err
		}
	}
	return err
}
