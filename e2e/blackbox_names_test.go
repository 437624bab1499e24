package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The black-box pass: what a careless or hostile user meets, through the
// two binaries. Each test names the cases; each case checks the message,
// the exit status, and that nothing was lost or left behind.

// want checks an exit status and the whole of stderr.
func want(t *testing.T, what string, code int, stderr string, wantCode int, wantErr string) {
	t.Helper()
	if code != wantCode || stderr != wantErr {
		t.Errorf("%s: exit %d, stderr %q; want exit %d, stderr %q", what, code, stderr, wantCode, wantErr)
	}
}

// lsNames returns the names ls --json lists in dir.
func lsNames(t *testing.T, work string, env []string, dir string) []string {
	t.Helper()
	out, errOut, code := ftpx(t, work, env, "ls", "--json", dir)
	var entries []struct{ Name string }
	if code != 0 || json.Unmarshal([]byte(out), &entries) != nil {
		t.Fatalf("ls --json %s: exit %d %q %s", dir, code, out, errOut)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
	}
	return names
}

// TestOddNames: names with spaces, a leading dash, unicode, a trailing
// space, "...", 255 bytes go there and back unchanged; control
// characters, 256 bytes, "." and ".." are refused with the reason.
func TestOddNames(t *testing.T) {
	d, work, env := shellSetup(t, "")
	long := strings.Repeat("n", 255)
	for _, name := range []string{"with space.txt", "-lead.txt", "ünï €.txt", "trail ", "...", long} {
		sum := writeRandom(t, filepath.Join(work, name), 1000+len(name))
		if _, errOut, code := ftpx(t, work, env, "put", "--", name); code != 0 {
			t.Errorf("put %q: exit %d %s", name, code, errOut)
			continue
		}
		if got := md5File(t, filepath.Join(d.root, "alex", name)); got != sum {
			t.Errorf("%q stored with md5 %s", name, got)
		}
		back := filepath.Join(work, "back")
		os.MkdirAll(back, 0o755)
		if _, errOut, code := ftpx(t, work, env, "get", "--to", "back", "--", name); code != 0 || md5File(t, filepath.Join(back, name)) != sum {
			t.Errorf("get %q back: exit %d %s", name, code, errOut)
		}
	}
	names := lsNames(t, work, env, "/")
	for _, name := range []string{"with space.txt", "-lead.txt", "ünï €.txt", "trail ", "...", long} {
		if !strings.Contains(strings.Join(names, "\x00")+"\x00", name+"\x00") {
			t.Errorf("ls --json lacks %q: %q", name, names)
		}
	}
	out, _, _ := ftpx(t, work, env, "ls")
	if !strings.Contains(out, ` "trail "`+"\n") {
		t.Errorf("ls shows a trailing space unquoted:\n%s", out)
	}

	writeRandom(t, filepath.Join(work, "f"), 10)
	os.WriteFile(filepath.Join(work, "new\nline"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(work, "tab\tname"), []byte("x"), 0o644)
	_, errOut, code := ftpx(t, work, env, "put", "new\nline")
	want(t, "put of a name with a newline", code, errOut, 1, "ftpx: put \"new\\nline\": 273 invalid path (no control characters in names)\n")
	_, errOut, code = ftpx(t, work, env, "put", "tab\tname")
	want(t, "put of a name with a tab", code, errOut, 1, "ftpx: put \"tab\\tname\": 273 invalid path (no control characters in names)\n")
	_, errOut, code = ftpx(t, work, env, "put", "f", strings.Repeat("n", 256))
	want(t, "put to a 256-byte name", code, errOut, 1, "ftpx: put "+strings.Repeat("n", 256)+": 273 invalid path (a name is at most 255 bytes)\n")
	_, errOut, code = ftpx(t, work, env, "put", "f", "..")
	want(t, "put to ..", code, errOut, 1, "ftpx: put ..: 263 permission denied (the path leaves the home)\n")
	_, errOut, code = ftpx(t, work, env, "put", "f", "../x")
	want(t, "put to ../x", code, errOut, 1, "ftpx: put ../x: 263 permission denied (the path leaves the home)\n")
	_, errOut, code = ftpx(t, work, env, "put", ".")
	want(t, "put of .", code, errOut, 1, "ftpx: put .: is a directory (use -r)\n")
	_, errOut, code = ftpx(t, work, env, "put", "-lead.txt")
	want(t, "put -lead.txt without --", code, errOut, 2, "ftpx: flag provided but not defined: -lead.txt (a name that starts with - goes after --, or as ./NAME)\n")
	if _, errOut, code := ftpx(t, work, env, "put", "f", "."); code != 0 {
		t.Errorf("put f .: exit %d %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(d.root, "alex", "f")); err != nil {
		t.Errorf("put f . did not land as f: %v", err)
	}
	if heldOnServer(d.root, "alex") != 0 {
		t.Error("a refused put left a partial")
	}
}

// TestSizes: an empty file goes and comes back; a sparse 5 GB file
// against a 1 GB quota is refused before a byte is sent.
func TestSizes(t *testing.T) {
	d, work, env := shellSetup(t, "1GB")
	os.WriteFile(filepath.Join(work, "empty"), nil, 0o644)
	out, errOut, code := ftpx(t, work, env, "--json", "put", "empty")
	if res := onlyResult(t, out); code != 0 || res.Size != 0 || res.MD5 != "d41d8cd98f00b204e9800998ecf8427e" {
		t.Fatalf("put of an empty file: exit %d %+v %s", code, res, errOut)
	}
	if _, errOut, code := ftpx(t, work, env, "get", "empty", "empty.back"); code != 0 {
		t.Fatalf("get of an empty file: exit %d %s", code, errOut)
	}
	if fi, err := os.Stat(filepath.Join(work, "empty.back")); err != nil || fi.Size() != 0 {
		t.Fatalf("empty.back: %v", err)
	}

	sparse := filepath.Join(work, "sparse")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(5 << 30); err != nil { // a hole: no disk written
		t.Fatal(err)
	}
	f.Close()
	start := time.Now()
	_, errOut, code = ftpx(t, work, env, "put", "sparse")
	want(t, "put of a sparse 5 GB file over a 1 GB quota", code, errOut, 5, "ftpx: put sparse: 264 quota exceeded (need 5.0GB, 0B of 1.0GB used)\n")
	t.Logf("refused in %v", time.Since(start))
	if heldOnServer(d.root, "alex") != 0 || len(stateRecords(t, work)) != 0 {
		t.Error("the refused put left a partial or a resume record")
	}
}

// TestSourceChangesWhilePut: a file that grows, is rewritten or shrinks
// while it is put is given up, nothing stored, nothing held, no resume
// point; one deleted meanwhile still goes whole (it was open).
func TestSourceChangesWhilePut(t *testing.T) {
	d, work, env := shellSetup(t, "")
	r := seeded(t, 1515)
	change := func(name string, size int64, do func(path string)) (string, int) {
		t.Helper()
		p := filepath.Join(work, name)
		writeSeeded(t, p, size, r)
		b := startFtpx(t, work, env, "--limit-rate", "4MB", "put", name)
		waitUntil(t, 30*time.Second, "the put to be under way", func() bool { return heldOnServer(d.root, "alex") >= 1*mib })
		do(p)
		code := b.exited(t, 60*time.Second)
		return b.err.String(), code
	}
	errOut, code := change("grow", 8*mib, func(p string) {
		f, _ := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		f.Write(make([]byte, 4*mib))
		f.Close()
	})
	want(t, "a file growing while it is put", code, errOut, 1, "ftpx: put grow: the file changed while it was sent (its size went from 8388608 to 12582912 bytes); nothing was stored: put it again\n")
	errOut, code = change("rewrite", 8*mib, func(p string) {
		f, _ := os.OpenFile(p, os.O_WRONLY, 0)
		f.WriteAt([]byte("rewritten"), 100)
		f.Close()
		os.Chtimes(p, time.Now().Add(time.Hour), time.Now().Add(time.Hour))
	})
	want(t, "a file rewritten while it is put", code, errOut, 1, "ftpx: put rewrite: the file changed while it was sent (it was modified); nothing was stored: put it again\n")
	errOut, code = change("shrink", 8*mib, func(p string) { os.Truncate(p, 1*mib) })
	want(t, "a file shrinking while it is put", code, errOut, 1, "ftpx: put shrink: the file changed while it was sent (it shrank from 8388608 bytes); nothing was stored: put it again\n")
	for _, name := range []string{"grow", "rewrite", "shrink"} {
		if _, err := os.Stat(filepath.Join(d.root, "alex", name)); !os.IsNotExist(err) {
			t.Errorf("%s is stored: %v", name, err)
		}
	}
	waitUntil(t, 10*time.Second, "no partial held", func() bool { return heldOnServer(d.root, "alex") == 0 })
	if n := len(stateRecords(t, work)); n != 0 {
		t.Errorf("%d resume records left", n)
	}

	var sum string
	errOut, code = change("deleted", 8*mib, func(p string) {
		sum = md5File(t, p)
		os.Remove(p)
	})
	want(t, "a file deleted while it is put", code, errOut, 0, "")
	if got := md5File(t, filepath.Join(d.root, "alex", "deleted")); got != sum {
		t.Errorf("the deleted file was stored with md5 %s, want %s", got, sum)
	}
	if used := quotaJSON(t, work, env); used != 8*mib {
		t.Errorf("quota used %d, want %d", used, 8*mib)
	}
}
