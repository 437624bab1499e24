package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// localNames lists the names in dir, sorted, but for the client's state
// directory.
func localNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Name() != ".state" {
			names = append(names, e.Name())
		}
	}
	return names
}

// One-shot get and rm expand remote patterns (quoted for the local shell)
// as the shell does, with the shell's line when nothing matches.
func TestOneShotGetAndRmExpandRemotePatterns(t *testing.T) {
	d, work, env := shellSetup(t, "")
	home := filepath.Join(d.root, "alex")
	os.MkdirAll(filepath.Join(home, "dir.log"), 0o755) // a directory matches only with -r
	sums := map[string]string{}
	for _, name := range []string{"a.log", "b.log", "c.log", "notes.txt", "x.tmp", "y.tmp", "star*.txt", "starX.txt"} {
		sums[name] = writeRandom(t, filepath.Join(home, name), 5000+len(sums))
	}

	down := filepath.Join(work, "down")
	os.Mkdir(down, 0o755)
	if _, errOut, code := ftpx(t, down, env, "get", "*.log"); code != 0 {
		t.Fatalf("get *.log: exit %d: %s", code, errOut)
	}
	if got := localNames(t, down); !slices.Equal(got, []string{"a.log", "b.log", "c.log"}) {
		t.Fatalf("get *.log got %q", got)
	}
	for _, name := range []string{"a.log", "b.log", "c.log"} {
		if md5File(t, filepath.Join(down, name)) != sums[name] {
			t.Errorf("%s: MD5 differs", name)
		}
	}
	// --to, and a backslash that makes the * literal.
	if _, errOut, code := ftpx(t, work, env, "get", "--to", "to", "b.*", `star\*.txt`); code != 0 {
		t.Fatalf("get --to: exit %d: %s", code, errOut)
	}
	if got := localNames(t, filepath.Join(work, "to")); !slices.Equal(got, []string{"b.log", "star*.txt"}) {
		t.Fatalf("get --to to b.* star\\*.txt got %q", got)
	}

	if _, errOut, code := ftpx(t, work, env, "rm", "*.tmp"); code != 0 {
		t.Fatalf("rm *.tmp: exit %d: %s", code, errOut)
	}
	if got := localNames(t, home); !slices.Equal(got, []string{"a.log", "b.log", "c.log", "dir.log", "notes.txt", "star*.txt", "starX.txt"}) {
		t.Fatalf("after rm *.tmp the home holds %q", got)
	}

	// No match: exit 1 and the shell's line, nothing done.
	for _, tc := range []struct{ args []string }{
		{[]string{"get", "*.zip"}}, {[]string{"rm", "*.tmp"}}, {[]string{"get", "--to", "none", "*.log", "*.zip"}},
	} {
		_, errOut, code := ftpx(t, down, env, tc.args...)
		want := "ftpx: " + tc.args[0] + " " + tc.args[len(tc.args)-1] + ": 256 no remote file matches\n"
		if code != 1 || errOut != want {
			t.Errorf("ftpx %q: exit %d, stderr %q; want 1, %q", tc.args, code, errOut, want)
		}
	}
	if exists(filepath.Join(down, "none")) {
		t.Error("a get with a pattern that matches nothing got the other one's files")
	}
	_, errOut, code := ftpx(t, work, env, "shell", "-c", "get *.zip")
	if code != 1 || errOut != "ftpx: line 1: get *.zip: 256 no remote file matches\n" {
		t.Errorf("shell get *.zip: exit %d, stderr %q", code, errOut)
	}
}
