package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// ftpxUnprivileged runs the client as nobody when the tests run as root
// (root reads and writes past any file mode), else as the user running
// the tests. dir must be open to it.
func ftpxUnprivileged(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "ftpx"), args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "FTPX_STATE_DIR="+filepath.Join(dir, ".state")), env...)
	if os.Geteuid() == 0 {
		os.Chmod(binDir, 0o755)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), errb.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

// openDir returns a fresh directory anybody may use.
func openDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ftpx-open-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777)
	return dir
}

// TestLocalTrouble: an unreadable file, put -r over every kind of
// symlink, a get into a read-only directory, onto a full disk, over a
// local directory.
func TestLocalTrouble(t *testing.T) {
	d, work, env := shellSetup(t, "")
	open := openDir(t)
	os.WriteFile(filepath.Join(open, "unreadable"), []byte("secret"), 0o000)
	_, errOut, code := ftpxUnprivileged(t, open, env, "put", "unreadable")
	want(t, "put of an unreadable file", code, errOut, 1, "ftpx: put unreadable: permission denied\n")

	tree := filepath.Join(work, "tree")
	os.MkdirAll(filepath.Join(tree, "sub"), 0o755)
	os.WriteFile(filepath.Join(tree, "a"), []byte("a file"), 0o644)
	os.Symlink("../a", filepath.Join(tree, "sub", "link-to-file"))
	os.Symlink("sub", filepath.Join(tree, "link-to-dir"))
	os.Symlink("..", filepath.Join(tree, "sub", "up"))
	os.Symlink("nowhere", filepath.Join(tree, "dangling"))
	os.Symlink("loop2", filepath.Join(tree, "loop1"))
	os.Symlink("loop1", filepath.Join(tree, "loop2"))
	_, errOut, code = ftpx(t, work, env, "put", "-r", "tree")
	want(t, "put -r over symlinks", code, errOut, 0, "ftpx: warning: put tree/dangling: skipping dangling symlink\n"+
		"ftpx: warning: put tree/link-to-dir: skipping symlinked directory\n"+
		"ftpx: warning: put tree/loop1: skipping symlink loop\n"+
		"ftpx: warning: put tree/loop2: skipping symlink loop\n"+
		"ftpx: warning: put tree/sub/up: skipping symlinked directory\n")
	if b, err := os.ReadFile(filepath.Join(d.root, "alex", "tree", "sub", "link-to-file")); err != nil || string(b) != "a file" {
		t.Errorf("the link to a file was not put as its content: %q %v", b, err)
	}
	if names := lsNames(t, work, env, "tree"); strings.Join(names, " ") != "a sub" {
		t.Errorf("tree holds %q", names)
	}

	writeRandom(t, filepath.Join(work, "f"), 2*mib)
	ftpx(t, work, env, "put", "f")
	ro := filepath.Join(open, "ro")
	os.Mkdir(ro, 0o555)
	_, errOut, code = ftpxUnprivileged(t, open, env, "get", "f", "ro/f")
	want(t, "get into a read-only directory", code, errOut, 1, "ftpx: get ro/f: permission denied\n")

	os.Mkdir(filepath.Join(work, "f.dir"), 0o755)
	os.Mkdir(filepath.Join(work, "f.dir", "f"), 0o755)
	_, errOut, code = ftpx(t, filepath.Join(work, "f.dir"), env, "get", "f")
	want(t, "get over a local directory", code, errOut, 1, "ftpx: get f: a local directory is in the way (a file cannot replace it)\n")

	small := mountTmpfs(t, "1m")
	_, errOut, code = ftpx(t, work, env, "get", "f", small+"/")
	want(t, "get onto a full disk", code, errOut, 1, "ftpx: get "+small+"/f: no space left on device\n")
	if ents, _ := os.ReadDir(small); len(ents) != 0 {
		t.Errorf("the full disk keeps %d files", len(ents))
	}
}
