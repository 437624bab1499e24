package client_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/client"
	"ftpx/client/internal/fake"
	"ftpx/ftpxtest"
)

// remoteFixture is the remote tree of the get -r tests: docs/ holds a
// nested tree with an empty directory and names with spaces and unicode.
var remoteFixture = map[string]string{
	"docs/a.txt":               "A",
	"docs/sub/b.txt":           "BB",
	"docs/sub/deep/c d.txt":    "CCC",
	"docs/ünï/cödé – ✓.txt":    "unicode",
	"docs/with space/file one": "1",
	"f.txt":                    "F",
}

var remoteEmptyDirs = []string{"docs/empty", "docs/sub/deep/empty too"}

// treeServer serves the fixture from the in-memory fake (which has no
// tree action: the client lists directory by directory) or from a real
// server (the tree action), and returns a logged-in client.
func treeServer(t *testing.T, real bool, files map[string]string, dirs []string) *client.Client {
	t.Helper()
	ctx := context.Background()
	var addr, user, pw string
	if real {
		ts := ftpxtest.NewServer(t)
		ts.AddUser(t, "alex", "pw", accounts.Unlimited)
		home := ts.Home("alex")
		for name, body := range files {
			os.MkdirAll(filepath.Join(home, filepath.Dir(name)), 0o755)
			if err := os.WriteFile(filepath.Join(home, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for _, d := range dirs {
			os.MkdirAll(filepath.Join(home, d), 0o755)
		}
		addr, user, pw = ts.Addr, "alex", "pw"
	} else {
		s := fake.Start(t)
		for name, body := range files {
			if d := filepath.Dir(name); d != "." {
				s.Mkdir(d)
			}
			s.WriteFile(name, []byte(body))
		}
		for _, d := range dirs {
			s.Mkdir(d)
		}
		addr, user, pw = s.Addr, "demo", "secret"
	}
	c, err := client.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Auth(ctx, user, pw); err != nil {
		t.Fatal(err)
	}
	return c
}

// localState returns every file under dir as "path=content" and every
// directory as "path/", sorted.
func localState(t *testing.T, dir string) []string {
	t.Helper()
	var got []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel := filepath.ToSlash(must(filepath.Rel(dir, p)))
		switch {
		case d.IsDir():
			got = append(got, rel+"/")
		case d.Type()&fs.ModeSymlink != 0:
			got = append(got, rel+"@")
		default:
			b, _ := os.ReadFile(p)
			got = append(got, rel+"="+string(b))
		}
		return nil
	})
	sort.Strings(got)
	return got
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// fixtureAt returns the local state of docs/ copied to at ("" for the
// working directory itself).
func fixtureAt(at string) []string {
	var out []string
	if at != "" {
		for p := at; p != "."; p = filepath.Dir(p) {
			out = append(out, p+"/")
		}
		at += "/"
	}
	for name, body := range remoteFixture {
		if rest, ok := strings.CutPrefix(name, "docs/"); ok {
			out = append(out, at+rest+"="+body)
			for d := filepath.Dir(rest); d != "."; d = filepath.Dir(d) {
				out = append(out, at+d+"/")
			}
		}
	}
	for _, d := range remoteEmptyDirs {
		out = append(out, at+strings.TrimPrefix(d, "docs/")+"/")
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestGetRecursiveDestinationsFollowCp(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cwd      string // remote directory to cd into first
		remotes  []string
		local    string
		to       string
		plain    bool     // without -r
		want     []string // the local state afterwards, have/keep apart
		wantExit int
	}{
		{name: "get -r DIR", remotes: []string{"docs"}, want: fixtureAt("docs")},
		{name: "get -r DIR/", remotes: []string{"docs/"}, want: fixtureAt("docs")},
		{name: "get -r DIR NEW/DEEP", remotes: []string{"docs"}, local: "new/deep", want: fixtureAt("new/deep")},
		{name: "get -r DIR EXISTING", remotes: []string{"docs"}, local: "have", want: fixtureAt("have/docs")},
		{name: "get -r . from the remote cwd", cwd: "docs", remotes: []string{"."}, want: fixtureAt("docs")},
		{name: "get -r / LOCAL", remotes: []string{"/"}, local: "home", want: append(fixtureAt("home/docs"), "home/f.txt=F")},
		{name: "get -r / without LOCAL", remotes: []string{"/"}, wantExit: 2},
		{name: "get -r FILE", remotes: []string{"f.txt"}, want: []string{"f.txt=F"}},
		{name: "get -r FILE EXISTING", remotes: []string{"docs/a.txt"}, local: "have", want: []string{"have/a.txt=A"}},
		{name: "get -r --to NEW DIR FILE", remotes: []string{"docs", "f.txt"}, to: "to/x", want: append(fixtureAt("to/x/docs"), "to/x/f.txt=F")},
		{name: "get -r DIR FILE EXISTING", remotes: []string{"docs", "f.txt"}, local: "have", want: append(fixtureAt("have/docs"), "have/f.txt=F")},
		{name: "get -r missing", remotes: []string{"missing"}, wantExit: 1},
		{name: "get -r goes on after a missing one", remotes: []string{"missing", "f.txt"}, to: "d", want: []string{"d/", "d/f.txt=F"}, wantExit: 1},
		{name: "get DIR without -r", remotes: []string{"docs"}, plain: true, wantExit: 1},
	} {
		for _, real := range []bool{false, true} {
			name := tc.name + " (ls per directory)"
			if real {
				name = tc.name + " (tree)"
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				t.Chdir(dir)
				os.MkdirAll("have", 0o755)
				os.WriteFile("have/keep", []byte("k"), 0o644)
				c := treeServer(t, real, remoteFixture, remoteEmptyDirs)
				ctx := context.Background()
				if tc.cwd != "" {
					if _, err := c.Cd(ctx, tc.cwd); err != nil {
						t.Fatal(err)
					}
				}
				var done []client.Result
				err := c.GetPaths(ctx, tc.remotes, tc.local, client.TransferOptions{Recursive: !tc.plain, To: tc.to,
					Done: func(r client.Result) { done = append(done, r) }})
				if tc.plain && (err == nil || !strings.Contains(err.Error(), "get docs: 268 is a directory (use -r)")) {
					t.Errorf("get DIR: %v", err)
				}
				if got := client.ExitCode(err); got != tc.wantExit {
					t.Fatalf("exit %d (%v), want %d", got, err, tc.wantExit)
				}
				if tc.name == "get -r missing" && !strings.Contains(err.Error(), "get missing: 256 file does not exist") {
					t.Errorf("missing: %v", err)
				}
				mine := func(s string) bool { return s == "have/" || s == "have/keep=k" }
				got := slices.DeleteFunc(localState(t, dir), mine)
				tc.want = slices.DeleteFunc(tc.want, mine)
				if !slices.Equal(got, tc.want) {
					t.Errorf("local state:\n got %q\nwant %q", got, tc.want)
				}
				files := 0
				for _, w := range tc.want {
					if strings.Contains(w, "=") {
						files++
					}
				}
				if len(done) != files {
					t.Errorf("%d results for %d files", len(done), files)
				}
				for _, r := range done {
					b, err := os.ReadFile(r.Local)
					if sum := md5.Sum(b); err != nil || r.MD5 != hex.EncodeToString(sum[:]) || r.Size != int64(len(b)) {
						t.Errorf("result %+v: local file %q %v", r, b, err)
					}
				}
			})
		}
	}
}

// TestGetRecursiveWideAndBigFiles gets a tree of 700 small files in 30
// directories and three files too big to pipeline, and checks every byte.
func TestGetRecursiveWideAndBigFiles(t *testing.T) {
	files := map[string]string{}
	for i := range 700 {
		files[fmt.Sprintf("wide/d%02d/f%03d.bin", i%30, i)] = string(randomBytes(100 + i))
	}
	for i := range 3 {
		files[fmt.Sprintf("wide/big/%d.bin", i)] = string(randomBytes(1<<20 + 1000*i + 1))
	}
	// pipelined, but too big to wait in memory for the writing goroutine
	for i, size := range []int{64<<10 + 1, 300 << 10, 1 << 20} {
		files[fmt.Sprintf("wide/mid/%d.bin", i)] = string(randomBytes(size))
	}
	for _, real := range []bool{false, true} {
		t.Run(fmt.Sprint("real=", real), func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			c := treeServer(t, real, files, nil)
			var progress []string
			n := 0
			err := c.GetPaths(context.Background(), []string{"wide"}, "", client.TransferOptions{Recursive: true,
				Done:     func(client.Result) { n++ },
				Progress: func(remote string) client.Progress { progress = append(progress, remote); return nil }})
			if err != nil {
				t.Fatal(err)
			}
			for name, body := range files {
				if b, err := os.ReadFile(name); err != nil || string(b) != body {
					t.Fatalf("%s: %d bytes, %v", name, len(b), err)
				}
			}
			slices.Sort(progress)
			if n != len(files) || !slices.Equal(progress, []string{"wide/big/0.bin", "wide/big/1.bin", "wide/big/2.bin"}) {
				t.Errorf("%d results; progress bars for %q (the big files only)", n, progress)
			}
			leftovers, _ := filepath.Glob(filepath.Join(dir, "wide", "*", ".*"))
			if len(leftovers) != 0 {
				t.Errorf("partial files left: %q", leftovers)
			}
		})
	}
}

// TestGetRecursiveNeverFollowsLocalSymlinks gets a tree into a directory
// that already holds a symlink named like a remote subdirectory and one
// named like a remote file, both pointing outside: nothing is written
// through them.
func TestGetRecursiveNeverFollowsLocalSymlinks(t *testing.T) {
	for _, real := range []bool{false, true} {
		t.Run(fmt.Sprint("real=", real), func(t *testing.T) {
			dir, outside := t.TempDir(), t.TempDir()
			t.Chdir(dir)
			os.WriteFile(filepath.Join(outside, "a.txt"), []byte("precious"), 0o644)
			os.MkdirAll("docs", 0o755)
			if err := os.Symlink(outside, "docs/sub"); err != nil {
				t.Skip("no symlinks:", err)
			}
			os.Symlink(filepath.Join(outside, "a.txt"), "docs/a.txt")
			c := treeServer(t, real, remoteFixture, remoteEmptyDirs)
			err := c.GetPaths(context.Background(), []string{"docs"}, "", client.TransferOptions{Recursive: true})
			if client.ExitCode(err) != client.ExitFailure || !strings.Contains(err.Error(), "get docs/sub: a symbolic link is in the way; not followed") {
				t.Fatalf("err %v", err)
			}
			if got := localState(t, outside); !slices.Equal(got, []string{"a.txt=precious"}) {
				t.Errorf("outside the target: %q", got)
			}
			if fi, err := os.Lstat("docs/a.txt"); err != nil || !fi.Mode().IsRegular() {
				t.Errorf("docs/a.txt (a symlink before): %v %v", fi.Mode(), err)
			}
			if b, _ := os.ReadFile("docs/ünï/cödé – ✓.txt"); string(b) != "unicode" {
				t.Errorf("the rest of the tree: %q", b)
			}
			// The symlinked target itself, named by the user, is followed.
			os.Symlink(outside, "link")
			if err := c.GetPaths(context.Background(), []string{"docs/sub/b.txt"}, "link", client.TransferOptions{Recursive: true}); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(filepath.Join(outside, "b.txt")); string(b) != "BB" {
				t.Errorf("into a LOCAL that is a symlink to a directory: %q", b)
			}
			// So is the top of a tree: ./sub, or the LOCAL the home lands in.
			sub, whole := t.TempDir(), t.TempDir()
			os.Symlink(sub, "sub")
			os.Symlink(whole, "whole")
			if err := c.GetPaths(context.Background(), []string{"docs/sub"}, "", client.TransferOptions{Recursive: true}); err != nil {
				t.Fatal(err)
			}
			if err := c.GetPaths(context.Background(), []string{"/"}, "whole", client.TransferOptions{Recursive: true}); err != nil {
				t.Fatal(err)
			}
			if got := localState(t, sub); !slices.Equal(got, []string{"b.txt=BB", "deep/", "deep/c d.txt=CCC", "deep/empty too/"}) {
				t.Errorf("get -r docs/sub into a symlink ./sub: %q", got)
			}
			if b, _ := os.ReadFile(filepath.Join(whole, "f.txt")); string(b) != "F" {
				t.Errorf("get -r / into a symlink LOCAL: %q", b)
			}
		})
	}
}

// TestGetRecursiveDirectoryInTheWayOfAFile gets a wide tree of small
// files (pipelined) where one name is a local directory: that file fails
// with its name, every other one is got, the directory is untouched and
// no unnamed or partial file is left.
func TestGetRecursiveDirectoryInTheWayOfAFile(t *testing.T) {
	files := map[string]string{}
	for i := range 300 {
		files[fmt.Sprintf("w/f%03d", i)] = fmt.Sprint("body ", i)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	os.MkdirAll("w/f150/inside", 0o755)
	c := treeServer(t, true, files, nil)
	n := 0
	err := c.GetPaths(context.Background(), []string{"w"}, "", client.TransferOptions{Recursive: true,
		Done: func(client.Result) { n++ }})
	if client.ExitCode(err) != 1 || !strings.Contains(err.Error(), "w/f150") {
		t.Fatalf("err %v (exit %d)", err, client.ExitCode(err))
	}
	if n != len(files)-1 {
		t.Errorf("%d files done, want %d", n, len(files)-1)
	}
	for name, body := range files {
		if name == "w/f150" {
			continue
		}
		if b, err := os.ReadFile(name); err != nil || string(b) != body {
			t.Fatalf("%s: %q, %v", name, b, err)
		}
	}
	if fi, err := os.Stat("w/f150/inside"); err != nil || !fi.IsDir() {
		t.Errorf("the directory in the way: %v", err)
	}
	if got := localState(t, dir); len(got) != len(files)-1+3 {
		t.Errorf("%d entries under the target, want %d: leftovers?", len(got), len(files)-1+3)
	}
}

func TestGetRecursiveFileInTheWayOfADirectory(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.MkdirAll("docs", 0o755)
	os.WriteFile("docs/sub", []byte("a file"), 0o644)
	c := treeServer(t, true, remoteFixture, remoteEmptyDirs)
	err := c.GetPaths(context.Background(), []string{"docs"}, "", client.TransferOptions{Recursive: true})
	var se *client.StatusError
	if client.ExitCode(err) != 1 || errors.As(err, &se) || !strings.Contains(err.Error(), "get docs/sub: a file is in the way of a directory") {
		t.Fatalf("err %v", err)
	}
	if b, _ := os.ReadFile("docs/sub"); string(b) != "a file" {
		t.Errorf("docs/sub: %q", b)
	}
	if b, _ := os.ReadFile("docs/a.txt"); string(b) != "A" {
		t.Errorf("docs/a.txt: %q", b)
	}
}

// TestGetRecursiveRerunSkipsOnlyWhatIsStillTheSame runs a get -r that
// fails on one name (so its journal stays), changes one file on the
// server (same size, other bytes) and one local copy, and runs it again:
// only the unchanged files are skipped, the two changed ones are got
// again.
func TestGetRecursiveRerunSkipsOnlyWhatIsStillTheSame(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw", accounts.Unlimited)
	home := ts.Home("alex")
	os.MkdirAll(filepath.Join(home, "t"), 0o755)
	for _, n := range []string{"a.txt", "b.txt", "c.txt", `bad\name`} {
		os.WriteFile(filepath.Join(home, "t", n), []byte("first "+n), 0o644)
	}
	ctx := context.Background()
	c, err := client.Connect(ctx, client.Config{Addr: ts.Addr, User: "alex", Password: "pw", Records: &client.Records{Dir: filepath.Join(dir, ".state")}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	get := func() map[string]client.Result {
		got := map[string]client.Result{}
		err := c.GetPaths(ctx, []string{"t"}, "", client.TransferOptions{Recursive: true, Done: func(r client.Result) { got[r.Remote] = r }})
		if err == nil || !strings.Contains(err.Error(), `get t/bad\name: refused name from the server`) {
			t.Fatalf("err %v", err)
		}
		return got
	}
	if got := get(); len(got) != 3 {
		t.Fatalf("first run: %v", got)
	}
	os.WriteFile(filepath.Join(home, "t", "b.txt"), []byte("other b.txt"), 0o644)
	os.Chtimes(filepath.Join(dir, "t", "c.txt"), time.Now(), time.Now().Add(-time.Hour))
	got := get()
	if r := got["t/a.txt"]; r.Sent != 0 || r.Offset != r.Size {
		t.Errorf("a.txt (unchanged) not skipped: %+v", r)
	}
	for _, n := range []string{"b.txt", "c.txt"} {
		if r := got["t/"+n]; r.Sent == 0 {
			t.Errorf("%s (changed) skipped: %+v", n, r)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "t", "b.txt")); string(b) != "other b.txt" {
		t.Errorf("b.txt: %q", b)
	}
}
