package client_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"ftpx/accounts"
	"ftpx/client"
	"ftpx/client/internal/fake"
	"ftpx/ftpxtest"
)

// localTree makes, in a fresh directory that becomes the working
// directory: f.txt, tree/a.txt, tree/sub/b.txt and the empty tree/empty.
func localTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	for name, body := range map[string]string{"f.txt": "f", "tree/a.txt": "a", "tree/sub/b.txt": "b"} {
		os.MkdirAll(filepath.Dir(name), 0o755)
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir("tree/empty", 0o755)
	return dir
}

func TestPutDestinationsFollowCp(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cwd       string // remote directory to cd into first
		locals    []string
		remote    string
		opt       client.TransferOptions
		wantFiles []string
		wantDirs  []string // in addition to existing
		wantExit  int
	}{
		{name: "put FILE", locals: []string{"f.txt"}, wantFiles: []string{"f.txt"}},
		{name: "put FILE in remote cwd", cwd: "existing", locals: []string{"f.txt"}, wantFiles: []string{"existing/f.txt"}},
		{name: "put FILE NEWNAME", locals: []string{"f.txt"}, remote: "renamed.txt", wantFiles: []string{"renamed.txt"}},
		{name: "put FILE DIR", locals: []string{"f.txt"}, remote: "existing", wantFiles: []string{"existing/f.txt"}},
		{name: "put FILE DIR/", locals: []string{"f.txt"}, remote: "existing/", wantFiles: []string{"existing/f.txt"}},
		{name: "put FILE /", cwd: "existing", locals: []string{"f.txt"}, remote: "/", wantFiles: []string{"f.txt"}},
		{name: "put FILE EXISTINGFILE replaces it", locals: []string{"f.txt"}, remote: "old.txt"},
		{name: "put DIR without -r", locals: []string{"tree"}, wantExit: 1},
		{name: "put missing file", locals: []string{"missing.txt"}, wantExit: 1},
		{name: "put FILE into missing dir/", locals: []string{"f.txt"}, remote: "nodir/", wantExit: 1},
		{name: "put FILE EXISTINGFILE/ is not a directory", locals: []string{"f.txt"}, remote: "old.txt/", wantExit: 1},
		{name: "put A B into the remote cwd", cwd: "existing", locals: []string{"f.txt", "tree/a.txt"}, wantFiles: []string{"existing/a.txt", "existing/f.txt"}},
		{name: "put A B DIR", locals: []string{"f.txt", "tree/a.txt"}, remote: "existing", wantFiles: []string{"existing/a.txt", "existing/f.txt"}},
		{name: "put A B MISSING", locals: []string{"f.txt", "tree/a.txt"}, remote: "nodir", wantExit: 1},
		{
			name: "put -r DIR", locals: []string{"tree"}, opt: client.TransferOptions{Recursive: true},
			wantFiles: []string{"tree/a.txt", "tree/sub/b.txt"}, wantDirs: []string{"tree", "tree/empty", "tree/sub"},
		},
		{
			name: "put -r DIR NEW/DEEP", locals: []string{"tree"}, remote: "new/deep", opt: client.TransferOptions{Recursive: true},
			wantFiles: []string{"new/deep/a.txt", "new/deep/sub/b.txt"}, wantDirs: []string{"new", "new/deep", "new/deep/empty", "new/deep/sub"},
		},
		{
			name: "put -r DIR EXISTINGDIR", locals: []string{"tree"}, remote: "existing", opt: client.TransferOptions{Recursive: true},
			wantFiles: []string{"existing/tree/a.txt", "existing/tree/sub/b.txt"}, wantDirs: []string{"existing/tree", "existing/tree/empty", "existing/tree/sub"},
		},
		{
			name: "put -r --to NEWDIR FILE DIR", locals: []string{"f.txt", "tree"}, opt: client.TransferOptions{Recursive: true, To: "dest/x"},
			wantFiles: []string{"dest/x/f.txt", "dest/x/tree/a.txt", "dest/x/tree/sub/b.txt"},
			wantDirs:  []string{"dest", "dest/x", "dest/x/tree", "dest/x/tree/empty", "dest/x/tree/sub"},
		},
		{
			name: "put --to DIR goes on after failures, first one counts", locals: []string{"missing.txt", "tree", "f.txt"}, opt: client.TransferOptions{To: "existing"},
			wantFiles: []string{"existing/f.txt"}, wantExit: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			localTree(t)
			s := fake.Start(t)
			s.Mkdir("existing")
			s.WriteFile("old.txt", []byte("old"))
			c := connect(t, s)
			ctx := context.Background()
			if tc.cwd != "" {
				if _, err := c.Cd(ctx, tc.cwd); err != nil {
					t.Fatal(err)
				}
			}
			var done []string
			tc.opt.Done = func(r client.Result) { done = append(done, r.Remote) }
			err := c.PutPaths(ctx, tc.locals, tc.remote, tc.opt)
			if got := client.ExitCode(err); got != tc.wantExit {
				t.Fatalf("exit %d (%v), want %d", got, err, tc.wantExit)
			}
			want := append([]string{"old.txt"}, tc.wantFiles...)
			sort.Strings(want)
			if got := s.Files(); !slices.Equal(got, want) {
				t.Errorf("remote files %q, want %q", got, want)
			}
			wantDirs := append([]string{"existing"}, tc.wantDirs...)
			sort.Strings(wantDirs)
			if got := s.Dirs(); !slices.Equal(got, wantDirs) {
				t.Errorf("remote dirs %q, want %q", got, wantDirs)
			}
			if len(done) != len(tc.wantFiles) && tc.name != "put FILE EXISTINGFILE replaces it" {
				t.Errorf("Done called for %q", done)
			}
		})
	}
}

func TestPutReplacesExistingRemoteFile(t *testing.T) {
	localTree(t)
	s := fake.Start(t)
	s.WriteFile("old.txt", []byte("old"))
	c := connect(t, s)
	if err := c.PutPaths(context.Background(), []string{"f.txt"}, "old.txt", client.TransferOptions{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := s.File("old.txt"); string(b) != "f" {
		t.Fatalf("old.txt holds %q", b)
	}
}

func TestPutDirWithoutRecursiveSaysUseR(t *testing.T) {
	localTree(t)
	c := connect(t, fake.Start(t))
	err := c.PutPaths(context.Background(), []string{"tree"}, "", client.TransferOptions{})
	if err == nil || err.Error() != "put tree: is a directory (use -r)" || client.ExitCode(err) != 1 {
		t.Fatalf("err %v", err)
	}
}

func TestPutRecursiveFollowsFileLinksSkipsDirLinks(t *testing.T) {
	dir := localTree(t)
	if err := os.Symlink(filepath.Join(dir, "f.txt"), "tree/link.txt"); err != nil {
		t.Skip("no symlinks:", err)
	}
	os.Symlink(filepath.Join(dir, "tree"), "tree/loop") // would recurse forever if followed
	s := fake.Start(t)
	c := connect(t, s)
	var warnings []string
	err := c.PutPaths(context.Background(), []string{"tree"}, "", client.TransferOptions{
		Recursive: true,
		Warn:      func(m string) { warnings = append(warnings, m) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if b, ok := s.File("tree/link.txt"); !ok || string(b) != "f" {
		t.Errorf("symlinked file: %q %v", b, ok)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "loop") {
		t.Errorf("warnings %q", warnings)
	}
	for _, f := range s.Files() {
		if strings.Contains(f, "loop") {
			t.Errorf("followed the directory link: %s", f)
		}
	}
}

func TestPutPathsUsage(t *testing.T) {
	localTree(t)
	c := connect(t, fake.Start(t))
	ctx := context.Background()
	for _, tc := range []struct {
		locals []string
		remote string
		opt    client.TransferOptions
	}{
		{locals: nil},
		{locals: []string{"f.txt"}, remote: "x", opt: client.TransferOptions{To: "d"}},
	} {
		if err := c.PutPaths(ctx, tc.locals, tc.remote, tc.opt); client.ExitCode(err) != client.ExitUsage {
			t.Errorf("PutPaths(%q, %q, %+v) = %v, want a usage error", tc.locals, tc.remote, tc.opt, err)
		}
	}
}

func TestGetDestinationsFollowCp(t *testing.T) {
	for _, tc := range []struct {
		name     string
		remotes  []string
		local    string
		to       string
		want     []string // local files afterwards, besides have/keep
		wantExit int
	}{
		{name: "get REMOTE", remotes: []string{"docs/a.txt"}, want: []string{"a.txt"}},
		{name: "get REMOTE NEWNAME", remotes: []string{"docs/a.txt"}, local: "out.txt", want: []string{"out.txt"}},
		{name: "get REMOTE DIR", remotes: []string{"docs/a.txt"}, local: "have", want: []string{"have/a.txt"}},
		{name: "get REMOTE DIR/", remotes: []string{"b.txt"}, local: "have/", want: []string{"have/b.txt"}},
		{name: "get --to NEWDIR R S", remotes: []string{"docs/a.txt", "b.txt"}, to: "new/x", want: []string{"new/x/a.txt", "new/x/b.txt"}},
		{name: "get a directory", remotes: []string{"docs"}, wantExit: 1},
		{name: "get REMOTE FILE/ is not a directory", remotes: []string{"b.txt"}, local: "have/keep/", wantExit: 1},
		{name: "get R S into the cwd", remotes: []string{"docs/a.txt", "b.txt"}, want: []string{"a.txt", "b.txt"}},
		{name: "get R S DIR", remotes: []string{"docs/a.txt", "b.txt"}, local: "have", want: []string{"have/a.txt", "have/b.txt"}},
		{name: "get R S MISSING", remotes: []string{"docs/a.txt", "b.txt"}, local: "nodir", wantExit: 1},
		{name: "get /", remotes: []string{"/"}, wantExit: 1},
		{name: "get --to goes on after a failure", remotes: []string{"missing", "b.txt"}, to: "d", want: []string{"d/b.txt"}, wantExit: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			os.MkdirAll("have", 0o755)
			os.WriteFile("have/keep", []byte("k"), 0o644)
			s := fake.Start(t)
			s.Mkdir("docs")
			s.WriteFile("docs/a.txt", []byte("A"))
			s.WriteFile("b.txt", []byte("B"))
			c := connect(t, s)
			err := c.GetPaths(context.Background(), tc.remotes, tc.local, client.TransferOptions{To: tc.to})
			if got := client.ExitCode(err); got != tc.wantExit {
				t.Fatalf("exit %d (%v), want %d", got, err, tc.wantExit)
			}
			var got []string
			filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
				if !d.IsDir() && p != filepath.Join("have", "keep") {
					got = append(got, filepath.ToSlash(p))
				}
				return nil
			})
			sort.Strings(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("local files %q, want %q", got, tc.want)
			}
		})
	}
}

// TestPutRecursiveRerunLandsWhereTheFirstRunDid cuts a put -r DIR NEW off
// after its first file and runs it again: NEW exists by then, which by
// cp's rule would send the rerun to NEW/DIR, but the rerun lands where the
// first run did, in NEW, and skips the file done.
func TestPutRecursiveRerunLandsWhereTheFirstRunDid(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.MkdirAll("DIR", 0o755)
	for _, n := range []string{"a", "b", "c"} {
		os.WriteFile(filepath.Join("DIR", n), []byte("file "+n), 0o644)
	}
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw", accounts.Unlimited)
	cfg := client.Config{Addr: ts.Addr, User: "alex", Password: "pw", Records: &client.Records{Dir: filepath.Join(dir, ".state")}}
	put := func(ctx context.Context, done func(client.Result)) error {
		c, err := client.Connect(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.PutPaths(ctx, []string{"DIR"}, "NEW", client.TransferOptions{Recursive: true, Done: done})
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := put(ctx, func(client.Result) { cancel() }); err == nil {
		t.Fatal("the first run, cut off after one file, says nothing")
	}
	var sent []string
	if err := put(context.Background(), func(r client.Result) {
		if r.Sent > 0 {
			sent = append(sent, r.Remote)
		}
	}); err != nil {
		t.Fatal(err)
	}
	home := ts.Home("alex")
	for _, n := range []string{"a", "b", "c"} {
		if b, err := os.ReadFile(filepath.Join(home, "NEW", n)); err != nil || string(b) != "file "+n {
			t.Errorf("NEW/%s: %q, %v", n, b, err)
		}
	}
	if _, err := os.Stat(filepath.Join(home, "NEW", "DIR")); err == nil {
		t.Errorf("the rerun made NEW/DIR")
	}
	if len(sent) >= 3 {
		t.Errorf("the rerun sent every file again: %q", sent)
	}
}
