// Package hometest checks that an implementation of home.FS behaves as
// the local one does, through the interface alone, so that one table of
// tests runs over every implementation (the local directory, the object
// store): what the server sees must not depend on which one it talks to.
package hometest

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"testing"
	"time"

	"ftpx/home"
)

// Write puts data at name through fsys's partial files, as an upload
// would: towards the final name on an object store, else a partial file
// renamed into place.
func Write(t *testing.T, fsys home.FS, name, data string) {
	t.Helper()
	id := "w" + hex.EncodeToString([]byte(name))[:min(32, 2*len(name))]
	if err := write(fsys, id, name, data); err != nil {
		t.Fatalf("write %s: %v", name, err)
	}
}

func write(fsys home.FS, id, name, data string) error {
	sum := md5.Sum([]byte(data))
	s, t, err := fsys.Upload(id, name, home.UploadOptions{Size: int64(len(data)), Resumable: true, Durable: true})
	if err != nil {
		return err
	}
	if _, err := io.WriteString(s, data); err != nil {
		s.Abort()
		return err
	}
	if err := s.Finish(true); err != nil {
		s.Abort()
		return err
	}
	for try := 0; ; try++ {
		_, err = s.Place(t, hex.EncodeToString(sum[:]), true)
		if !errors.Is(err, home.ErrChanged) || try == 3 {
			break
		}
		if t, err = s.Target(); err != nil {
			break
		}
	}
	if err != nil {
		s.Abort()
	}
	return err
}

// wantErr fails unless err wraps want.
func wantErr(t *testing.T, err, want error, what string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got %v, want %v", what, err, want)
	}
}

func read(t *testing.T, fsys home.FS, name string) string {
	t.Helper()
	f, err := fsys.Open(name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return string(b)
}

func names(infos []fs.FileInfo) string {
	var n []string
	for _, fi := range infos {
		n = append(n, fi.Name())
	}
	return strings.Join(n, " ")
}

// TestFS runs the checks on a fresh, empty tree from open for each.
func TestFS(t *testing.T, open func(t *testing.T) home.FS) {
	t.Run("Basics", func(t *testing.T) { basics(t, open(t)) })
	t.Run("Partials", func(t *testing.T) { partials(t, open(t)) })
	t.Run("Trees", func(t *testing.T) { trees(t, open(t)) })
	t.Run("Seek", func(t *testing.T) { seek(t, open(t)) })
	t.Run("MTimes", func(t *testing.T) { mtimes(t, open(t)) })
}

// mtimes checks that an upload keeps the modification time it was opened
// with, small or not, resumable or not, and that Chtimes changes it:
// Stat, ReadDir and an open file all say so.
func mtimes(t *testing.T, fsys home.FS) {
	when := time.Date(2020, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	for i, o := range []home.UploadOptions{{Resumable: true}, {}} {
		name := fmt.Sprintf("/m%d", i)
		data := strings.Repeat("x", 10+i)
		o.Size, o.MTime = int64(len(data)), when.Add(time.Duration(i)*time.Hour)
		s, tg, err := fsys.Upload(fmt.Sprintf("mt%d", i), name, o)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(s, data)
		sum := md5.Sum([]byte(data))
		if err := s.Finish(true); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Place(tg, hex.EncodeToString(sum[:]), true); err != nil {
			t.Fatal(err)
		}
		checkMTime(t, fsys, name, o.MTime)
	}
	later := when.Add(48 * time.Hour)
	if err := fsys.Chtimes("/m0", later); err != nil {
		t.Fatal(err)
	}
	checkMTime(t, fsys, "/m0", later)
	if got := read(t, fsys, "/m0"); got != strings.Repeat("x", 10) {
		t.Errorf("after chtimes: %q", got)
	}
	wantErr(t, fsys.Chtimes("/nope", later), home.ErrNotExist, "chtimes of a missing file")
}

// checkMTime fails unless name's modification time, as Stat, ReadDir and
// the open file give it, is want (to the microsecond at least).
func checkMTime(t *testing.T, fsys home.FS, name string, want time.Time) {
	t.Helper()
	same := func(got time.Time) bool { return got.Truncate(time.Microsecond).Equal(want.Truncate(time.Microsecond)) }
	if fi, err := fsys.Stat(name); err != nil || !same(fi.ModTime()) {
		t.Errorf("stat %s: %v, %v; want %v", name, fi.ModTime(), err, want)
	}
	infos, err := fsys.ReadDir(path.Dir(name))
	for _, fi := range infos {
		if fi.Name() == path.Base(name) && !same(fi.ModTime()) {
			t.Errorf("ls %s: %v, %v; want %v", name, fi.ModTime(), err, want)
		}
	}
	f, err := fsys.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !same(fi.ModTime()) {
		t.Errorf("open %s: %v, %v; want %v", name, fi.ModTime(), err, want)
	}
}

// basics is the local FS's TestFSBasics, through the interface.
func basics(t *testing.T, fsys home.FS) {
	if infos, err := fsys.ReadDir("/"); err != nil || len(infos) != 0 {
		t.Fatalf("ls of an empty tree: %v, %v", names(infos), err)
	}
	if fi, err := fsys.Stat("/"); err != nil || !fi.IsDir() {
		t.Fatalf("stat /: %v, %v", fi, err)
	}
	if err := fsys.Mkdir("/a", false); err != nil {
		t.Fatal(err)
	}
	Write(t, fsys, "/b.txt", "hello")
	Write(t, fsys, "/a/x", "12345678")

	if err := fsys.Mkdir("/c/d/e", true); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Mkdir("/c/d/e", true); err != nil {
		t.Fatalf("mkdir -p of an existing dir: %v", err)
	}
	wantErr(t, fsys.Mkdir("/c", false), home.ErrExists, "mkdir existing")
	wantErr(t, fsys.Mkdir("/q/r", false), home.ErrNotExist, "mkdir without parent")
	wantErr(t, fsys.Mkdir("/b.txt/r", true), home.ErrNotDir, "mkdir -p under a file")

	infos, err := fsys.ReadDir("/")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(infos); got != "a b.txt c" {
		t.Errorf("ls / = %q", got)
	}
	if infos[1].Size() != 5 || infos[1].IsDir() || !infos[0].IsDir() {
		t.Errorf("ls /: b.txt size %d, a dir %v", infos[1].Size(), infos[0].IsDir())
	}
	_, err = fsys.ReadDir("/b.txt")
	wantErr(t, err, home.ErrNotDir, "ls a file")
	_, err = fsys.ReadDir("/nope")
	wantErr(t, err, home.ErrNotExist, "ls missing")

	if got := read(t, fsys, "/a/x"); got != "12345678" {
		t.Errorf("get /a/x = %q", got)
	}
	_, err = fsys.Open("/a")
	wantErr(t, err, home.ErrIsDir, "get a dir")
	_, err = fsys.Open("/nope")
	wantErr(t, err, home.ErrNotExist, "get missing")
	_, err = fsys.Open("/b.txt/x")
	wantErr(t, err, home.ErrNotDir, "get under a file")
	_, err = fsys.Stat("/a/../b.txt")
	wantErr(t, err, home.ErrBadPath, "unclean name")
	_, err = fsys.Stat("b.txt")
	wantErr(t, err, home.ErrBadPath, "relative name")
	_, err = fsys.Stat("/" + home.PartialDir)
	wantErr(t, err, home.ErrPermission, "stat PartialDir")
	_, err = fsys.Open("/" + home.PartialDir + "/x")
	wantErr(t, err, home.ErrPermission, "get in PartialDir")

	if err := fsys.Rename("/b.txt", "/c/b2.txt"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, fsys, "/c/b2.txt"); got != "hello" {
		t.Errorf("after mv: %q", got)
	}
	wantErr(t, fsys.Rename("/c/b2.txt", "/a"), home.ErrExists, "mv a file onto a dir")
	wantErr(t, fsys.Rename("/nope", "/x"), home.ErrNotExist, "mv missing")
	wantErr(t, fsys.Rename("/", "/x"), home.ErrPermission, "mv the root")
	wantErr(t, fsys.Rename("/c/b2.txt", "/q/r"), home.ErrNotExist, "mv into a missing dir")
	wantErr(t, fsys.Remove("/"), home.ErrPermission, "rm the root")
	wantErr(t, fsys.Remove("/nope"), home.ErrNotExist, "rm missing")
	wantErr(t, fsys.Remove("/a"), home.ErrNotEmpty, "rm a non-empty dir")
	if err := fsys.Remove("/c/b2.txt"); err != nil {
		t.Fatal(err)
	}
	_, err = fsys.Stat("/c/b2.txt")
	wantErr(t, err, home.ErrNotExist, "stat after rm")
	if err := fsys.Remove("/c/d/e"); err != nil {
		t.Fatalf("rm an empty dir: %v", err)
	}
	if infos, _ := fsys.ReadDir("/c/d"); len(infos) != 0 {
		t.Errorf("after rm /c/d/e: ls /c/d = %q", names(infos))
	}
}

// partials checks committing and removing partials, and that they stay
// out of sight.
func partials(t *testing.T, fsys home.FS) {
	if err := fsys.Mkdir("/a", false); err != nil {
		t.Fatal(err)
	}
	wantErr(t, write(fsys, "p1", "/q/r", "abc"), home.ErrNotExist, "commit without parent")
	fsys.RemovePartial("p1")
	wantErr(t, write(fsys, "p2", "/a", "abc"), home.ErrIsDir, "commit onto a dir")
	fsys.RemovePartial("p2")
	_, _, err := fsys.Upload("../x", "/x", home.UploadOptions{Size: 1, Resumable: true})
	wantErr(t, err, home.ErrBadPath, "partial id with a slash")
	if err := write(fsys, "p3", "/a/x", "abc"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, fsys, "/a/x"); got != "abc" {
		t.Errorf("after commit /a/x = %q", got)
	}
	wantErr(t, fsys.RemovePartial("p3"), home.ErrNotExist, "remove a committed partial")
	if err := write(fsys, "p4", "/a/x", "defg"); err != nil {
		t.Fatalf("replace: %v", err)
	}
	if got := read(t, fsys, "/a/x"); got != "defg" {
		t.Errorf("after replace /a/x = %q", got)
	}
	infos, _ := fsys.ReadDir("/")
	if got := names(infos); got != "a" {
		t.Errorf("ls / = %q: the partials show", got)
	}
	if n, err := fsys.Usage(); err != nil || n != 4 {
		t.Errorf("usage = %d, %v; want 4", n, err)
	}
}

// trees checks moving and removing whole directories.
func trees(t *testing.T, fsys home.FS) {
	if err := fsys.Mkdir("/d/e", true); err != nil {
		t.Fatal(err)
	}
	Write(t, fsys, "/d/one", "1")
	Write(t, fsys, "/d/e/two", "22")
	if err := fsys.Mkdir("/d/empty", false); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Rename("/d", "/m"); err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.Stat("/d"); !errors.Is(err, home.ErrNotExist) {
		t.Errorf("the old name stays: %v", err)
	}
	if got := read(t, fsys, "/m/e/two"); got != "22" {
		t.Errorf("moved file: %q", got)
	}
	if fi, err := fsys.Stat("/m/empty"); err != nil || !fi.IsDir() {
		t.Errorf("moved empty dir: %v", err)
	}
	freed, err := fsys.RemoveAll("/m")
	if err != nil || freed != 3 {
		t.Errorf("rm -r = %d, %v; want 3 bytes", freed, err)
	}
	if infos, _ := fsys.ReadDir("/"); len(infos) != 0 {
		t.Errorf("after rm -r: %q", names(infos))
	}
	_, err = fsys.RemoveAll("/m")
	wantErr(t, err, home.ErrNotExist, "rm -r missing")
}

// seek checks that a file opened for reading can start anywhere.
func seek(t *testing.T, fsys home.FS) {
	data := strings.Repeat("0123456789", 1000)
	Write(t, fsys, "/f", data)
	f, err := fsys.Open("/f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, ok := f.(io.Seeker)
	if !ok {
		t.Skip("not seekable")
	}
	if _, err := s.Seek(9995, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(f)
	if err != nil || string(b) != "56789" {
		t.Errorf("read from 9995: %q, %v", b, err)
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != 10000 {
		t.Errorf("stat of the open file: %v, %v", fi, err)
	}
}
