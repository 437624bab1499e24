package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// lsFixture writes a small tree in the home, every name with one mtime:
//
//	a.txt (10 B)  big.bin (1.5 MiB)  empty/  sub/b.txt (2,048 B)  sub/deeper/c.txt (3 B)
//
// and returns that mtime as ls shows it.
func lsFixture(t *testing.T, home string) string {
	t.Helper()
	files := map[string]int{"a.txt": 10, "big.bin": 1_572_864, "sub/b.txt": 2048, "sub/deeper/c.txt": 3}
	for name, n := range files {
		p := filepath.Join(home, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		writeRandom(t, p, n)
	}
	os.MkdirAll(filepath.Join(home, "empty"), 0o755)
	mtime := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, name := range []string{"a.txt", "big.bin", "empty", "sub/b.txt", "sub/deeper/c.txt", "sub/deeper", "sub"} {
		if err := os.Chtimes(filepath.Join(home, name), mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	return mtime.Local().Format("2006-01-02 15:04")
}

// lsOut runs ftpx with args and fails unless it exits 0.
func lsOut(t *testing.T, work string, env []string, args ...string) string {
	t.Helper()
	out, errOut, code := ftpx(t, work, env, args...)
	if code != 0 || errOut != "" {
		t.Fatalf("ftpx %q: exit %d, stderr %q", args, code, errOut)
	}
	return out
}

// The CLI's ls and the shell's are one: the same flags, the same lines.
func TestLsIsTheSameInTheCLIAndTheShell(t *testing.T) {
	d, work, env := shellSetup(t, "")
	when := lsFixture(t, filepath.Join(d.root, "alex"))
	long := fmt.Sprintf("-           10 %[1]s a.txt\n-      1572864 %[1]s big.bin\nd            0 %[1]s empty\nd            0 %[1]s sub\n", when)
	human := fmt.Sprintf("-      10B %[1]s a.txt\n-    1.5MB %[1]s big.bin\nd       0B %[1]s empty\nd       0B %[1]s sub\n", when)

	// The CLI's ls is long by default; -l changes nothing.
	for _, args := range [][]string{{"ls"}, {"ls", "-l"}, {"ls", "-l", "/"}} {
		if out := lsOut(t, work, env, args...); out != long {
			t.Errorf("ftpx %q:\n%s\nwant:\n%s", args, out, long)
		}
	}
	for _, args := range [][]string{{"ls", "-lh"}, {"ls", "-l", "-h"}, {"ls", "-h"}} {
		if out := lsOut(t, work, env, args...); out != human {
			t.Errorf("ftpx %q:\n%s\nwant:\n%s", args, out, human)
		}
	}
	// The shell's (a batch on stdin): names by default, the CLI's lines
	// with -l and -lh.
	out, errOut, code := ftpxStdin(t, work, env, "ls\nls -l\nls -lh\n", "shell")
	if code != 0 || out != "a.txt\nbig.bin\nempty/\nsub/\n"+long+human {
		t.Errorf("shell: exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, errOut, out, "a.txt\nbig.bin\nempty/\nsub/\n"+long+human)
	}
}

func TestLsRecursive(t *testing.T) {
	d, work, env := shellSetup(t, "")
	when := lsFixture(t, filepath.Join(d.root, "alex"))

	// As GNU ls -R: each directory under a "PATH:" line, a blank line
	// between, a directory before what it holds.
	names := ".:\na.txt\nbig.bin\nempty/\nsub/\n\n./empty:\n\n./sub:\nb.txt\ndeeper/\n\n./sub/deeper:\nc.txt\n"
	if out, errOut, code := ftpxStdin(t, work, env, "ls -R\n", "shell"); code != 0 || out != names {
		t.Errorf("shell ls -R: exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, errOut, out, names)
	}
	long := fmt.Sprintf("sub:\n-    2.0KB %[1]s b.txt\nd       0B %[1]s deeper\n\nsub/deeper:\n-       3B %[1]s c.txt\n", when)
	for _, args := range [][]string{{"ls", "-hR", "sub"}, {"ls", "-R", "-h", "sub"}, {"ls", "-lhR", "sub"}} {
		if out := lsOut(t, work, env, args...); out != long {
			t.Errorf("ftpx %q:\n%s\nwant:\n%s", args, out, long)
		}
	}
	if out, _, code := ftpxStdin(t, work, env, "ls -lhR sub\n", "shell"); code != 0 || out != long {
		t.Errorf("shell ls -lhR sub:\n%s\nwant:\n%s", out, long)
	}
	// A file is listed alone.
	if out := lsOut(t, work, env, "ls", "-R", "sub/b.txt"); out != fmt.Sprintf("-         2048 %s b.txt\n", when) {
		t.Errorf("ls -R of a file: %q", out)
	}

	// --json -R: one array, names relative to the listed directory.
	var entries []struct {
		Name  string    `json:"name"`
		Size  int64     `json:"size"`
		IsDir bool      `json:"is_dir"`
		MTime time.Time `json:"mtime"`
	}
	out := lsOut(t, work, env, "ls", "--json", "-R")
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("ls --json -R: %v: %q", err, out)
	}
	var got []string
	for _, e := range entries {
		got = append(got, fmt.Sprintf("%s %d %v %s", e.Name, e.Size, e.IsDir, e.MTime.UTC().Format(time.RFC3339)))
	}
	want := []string{"a.txt 10 false", "big.bin 1572864 false", "empty 0 true", "sub 0 true", "sub/b.txt 2048 false",
		"sub/deeper 0 true", "sub/deeper/c.txt 3 false"}
	for i := range want {
		want[i] += " 2026-03-04T05:06:07Z"
	}
	if !slices.Equal(got, want) {
		t.Errorf("ls --json -R:\n%q\nwant\n%q", got, want)
	}
}

func TestLsUnknownFlagIsAUsageError(t *testing.T) {
	_, work, env := shellSetup(t, "")
	for _, args := range [][]string{{"ls", "-x"}, {"ls", "-lx"}, {"ls", "--bogus"}} {
		_, errOut, code := ftpx(t, work, env, args...)
		if code != 2 || !strings.HasPrefix(errOut, "ftpx: ls: unknown flag -") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("ftpx %q: exit %d, stderr %q", args, code, errOut)
		}
	}
	_, errOut, code := ftpxStdin(t, work, env, "ls -x\n", "shell")
	if code != 2 || !strings.HasPrefix(errOut, "ftpx: line 1: ls -x: ls: unknown flag -x") {
		t.Errorf("shell ls -x: exit %d, stderr %q", code, errOut)
	}
}
