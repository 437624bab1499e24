package e2e

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRemoteTrouble: get of a directory, put over one, mkdir over a file,
// rm /, mv into itself or onto a file, cd into a file, "//" and "../.."
// paths.
func TestRemoteTrouble(t *testing.T) {
	d, work, env := shellSetup(t, "")
	run := func(args ...string) (string, int) {
		t.Helper()
		_, errOut, code := ftpx(t, work, env, args...)
		return errOut, code
	}
	ftpx(t, work, env, "mkdir", "-p", "dir/sub/empty")
	fsum := writeRandom(t, filepath.Join(work, "f"), 5000)
	gsum := writeRandom(t, filepath.Join(work, "g"), 7000)
	ftpx(t, work, env, "put", "f", "dir/sub/f")
	ftpx(t, work, env, "put", "f")
	ftpx(t, work, env, "put", "g")

	errOut, code := run("get", "dir")
	want(t, "get of a directory", code, errOut, 1, "ftpx: get dir: 268 is a directory (use -r)\n")
	errOut, code = run("get", "-r", "dir", "copy")
	want(t, "get -r of a directory", code, errOut, 0, "")
	if md5File(t, filepath.Join(work, "copy", "sub", "f")) != fsum {
		t.Error("get -r: copy/sub/f differs")
	}
	if fi, err := os.Stat(filepath.Join(work, "copy", "sub", "empty")); err != nil || !fi.IsDir() {
		t.Errorf("get -r: the empty directory is missing: %v", err)
	}

	os.Mkdir(filepath.Join(work, "x"), 0o755)
	os.WriteFile(filepath.Join(work, "x", "dir"), []byte("a file named like the remote directory"), 0o644)
	_, errOut, code = ftpx(t, filepath.Join(work, "x"), env, "put", "dir", "/dir/sub")
	want(t, "put of a file onto a directory (lands inside, as cp)", code, errOut, 0, "")
	_, errOut, code = ftpx(t, filepath.Join(work, "x"), env, "put", "dir", "/")
	want(t, "put of a file over a directory of its name", code, errOut, 1, "ftpx: put /dir: 268 is a directory (a file cannot replace a directory)\n")
	errOut, code = run("mkdir", "f")
	want(t, "mkdir over a file", code, errOut, 1, "ftpx: mkdir f: 269 already exists\n")
	errOut, code = run("rm", "/")
	want(t, "rm /", code, errOut, 1, "ftpx: rm /: 263 permission denied (the home itself cannot be removed)\n")
	errOut, code = run("rm", "-r", "/")
	want(t, "rm -r /", code, errOut, 1, "ftpx: rm /: 263 permission denied (the home itself cannot be removed)\n")
	errOut, code = run("mv", "dir", "dir/sub")
	want(t, "mv of a directory into itself", code, errOut, 1, "ftpx: mv dir: 263 permission denied (a directory cannot move into itself)\n")
	if md5File(t, filepath.Join(d.root, "alex", "g")) != gsum {
		t.Fatal("g is not as put")
	}
	errOut, code = run("mv", "f", "g")
	want(t, "mv onto a file (replaces it, as mv)", code, errOut, 0, "")
	if md5File(t, filepath.Join(d.root, "alex", "g")) != fsum {
		t.Error("mv f g: g is not f's content")
	}
	_, errOut, code = ftpxStdin(t, work, env, "cd g\n", "shell")
	want(t, "cd into a file", code, errOut, 1, "ftpx: line 1: cd g: 267 not a directory\n")
	if names := lsNames(t, work, env, "//"); strings.Join(names, " ") != "dir g" {
		t.Errorf("ls //: %q", names)
	}
	errOut, code = run("ls", "../..")
	want(t, "ls ../..", code, errOut, 1, "ftpx: ls ../..: 263 permission denied (the path leaves the home)\n")
	errOut, code = run("ls", "dir/../../x")
	want(t, "ls dir/../../x", code, errOut, 1, "ftpx: ls dir/../../x: 263 permission denied (the path leaves the home)\n")
	errOut, code = run("put", "f", "//dir//sub//h")
	want(t, "put to //dir//sub//h", code, errOut, 0, "")
	if md5File(t, filepath.Join(d.root, "alex", "dir", "sub", "h")) != fsum {
		t.Error("//dir//sub//h did not land at dir/sub/h")
	}
}

// TestRaces: two puts of one name at once leave exactly one of them, a
// get during a put of its name gets one whole version, a get survives an
// rm of its file, and after all of it quota --json equals what is on
// disk.
func TestRaces(t *testing.T) {
	d, work, env := shellSetup(t, "")
	r := seeded(t, 1516)
	a := writeSeeded(t, filepath.Join(work, "A"), 12*mib, r)
	b := writeSeeded(t, filepath.Join(work, "B"), 9*mib, r)
	stored := filepath.Join(d.root, "alex", "same.bin")
	for i := range 3 {
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for k, src := range []string{"A", "B"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, codes[k] = ftpx(t, work, env, "put", src, "same.bin")
			}()
		}
		wg.Wait()
		if got := md5File(t, stored); codes[0] != 0 || codes[1] != 0 || got != a && got != b {
			t.Fatalf("round %d: exits %v, same.bin md5 %s is neither A nor B", i, codes, got)
		}
	}

	for i := range 3 {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			ftpx(t, work, env, "put", []string{"A", "B"}[i%2], "same.bin")
		}()
		_, errOut, code := ftpx(t, work, env, "get", "same.bin", "got.bin")
		wg.Wait()
		if got := md5File(t, filepath.Join(work, "got.bin")); code != 0 || got != a && got != b {
			t.Fatalf("get during a put: exit %d %s, md5 %s", code, errOut, got)
		}
	}

	before := md5File(t, stored)
	g := startFtpx(t, work, env, "--limit-rate", "4MB", "get", "same.bin", "during-rm.bin")
	waitUntil(t, 30*time.Second, "the get to be under way", func() bool { n, _ := localPartial(work, "during-rm.bin"); return n > 0 })
	if _, errOut, code := ftpx(t, work, env, "rm", "same.bin"); code != 0 {
		t.Fatalf("rm during a get: exit %d %s", code, errOut)
	}
	if code := g.exited(t, 60*time.Second); code != 0 || md5File(t, filepath.Join(work, "during-rm.bin")) != before {
		t.Fatalf("get across an rm: exit %d %s", code, g.err.String())
	}

	if used, real := quotaJSON(t, work, env), onDisk(t, filepath.Join(d.root, "alex")); used != real {
		t.Fatalf("quota --json says %d used, the home holds %d", used, real)
	}
}

// onDisk sums what the quota counts in a home: regular files, partials
// included, their saved states not.
func onDisk(t *testing.T, home string) int64 {
	t.Helper()
	var n int64
	filepath.WalkDir(home, func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() && !strings.HasSuffix(p, ".state") && !strings.HasSuffix(p, ".state.tmp") {
			fi, _ := e.Info()
			n += fi.Size()
		}
		return nil
	})
	return n
}
