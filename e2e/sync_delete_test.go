package e2e

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// --delete through the real binaries: exactly the extras go, nothing
// outside the destination tree, nothing at all when the source could not
// be read whole, and on the local side links are removed as links and the
// client's own partial files stay.

// syncSource writes the local tree the --delete tests copy: files at
// three depths, an empty directory, a directory where the server will
// hold a file (flip) and a file where it will hold a directory (flop.txt).
func syncSource(t *testing.T, root string) {
	t.Helper()
	r := seeded(t, 41)
	for _, name := range []string{"keep.txt", "sub/keep2.txt", "sub/inner/keep3.txt", "flip/in.txt", "flop.txt"} {
		writeBytes(t, filepath.Join(root, filepath.FromSlash(name)), randomBytes(r, 700))
	}
	if err := os.MkdirAll(filepath.Join(root, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestSyncDeleteRemovesTheExtrasOfTheRemoteTree(t *testing.T) {
	s := newSyncSetup(t, "")
	syncSource(t, filepath.Join(s.work, "tree"))
	extras := filepath.Join(s.work, "extras")
	writeRandom(t, filepath.Join(s.work, "x.bin"), 900)
	for _, name := range []string{"olddir/a.txt", "olddir/deep/b.txt", "olddir/deep/c.txt", "flop.txt/d.txt"} {
		writeBytes(t, filepath.Join(extras, filepath.FromSlash(name)), []byte(name))
	}
	// The destination holds what the source has, plus extras; beside it
	// are names outside the tree that must stay.
	s.mustRun(t, "put", "-r", "--to", "/b", "tree")
	s.mustRun(t, "rm", "-r", "/b/tree/flip", "/b/tree/flop.txt")
	for _, put := range [][]string{
		{"put", "x.bin", "/b/tree/gone.txt"},
		{"put", "x.bin", "/b/tree/sub/gone2.txt"},
		{"put", "x.bin", "/b/tree/flip"},
		{"put", "x.bin", "/b/outside.txt"},
		{"put", "-r", "extras/olddir", "/b/tree/olddir"},
		{"put", "-r", "extras/flop.txt", "/b/tree/flop.txt"},
		{"put", "-r", "extras/olddir", "/b/other"},
		{"mkdir", "/b/tree/emptyextra"},
	} {
		s.mustRun(t, put...)
	}

	out := s.mustRun(t, "--json", "put", "-r", "--delete", "--to", "/b", "tree")
	_, _, deleted := split(syncLines(t, out), remoteOf, "/b/tree")
	sameList(t, "deleted", deleted, "gone.txt", "sub/gone2.txt", "flip", "flop.txt", "olddir", "emptyextra")
	want := names(snapshot(t, filepath.Join(s.work, "tree")))
	if got := names(snapshot(t, filepath.Join(s.home, "b", "tree"))); !slices.Equal(got, want) {
		t.Errorf("the remote tree holds %q, want %q", got, want)
	}
	sameSnapshot(t, "the remote tree", snapshot(t, filepath.Join(s.work, "tree")), snapshot(t, filepath.Join(s.home, "b", "tree")))
	for _, outside := range []string{"outside.txt", "other/a.txt", "other/deep/b.txt"} {
		if !exists(filepath.Join(s.home, "b", filepath.FromSlash(outside))) {
			t.Errorf("/b/%s, outside the tree, was removed", outside)
		}
	}
	if used, want := quotaJSON(t, s.work, s.env), sizeOf(t, filepath.Join(s.home, "b")); used != want {
		t.Errorf("quota used %d, want %d (what /b holds)", used, want)
	}
}

func TestSyncDeleteRemovesNothingWhenTheSourceIsUnreadable(t *testing.T) {
	s := newSyncSetup(t, "")
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		// Root reads a directory of mode 000 anyway: run the client as
		// nobody, to whom it is unreadable.
		cred = asNobody(t, s.work)
	}
	syncSource(t, filepath.Join(s.work, "tree"))
	s.mustRun(t, "put", "-r", "--to", "/b", "tree")
	writeRandom(t, filepath.Join(s.work, "x.bin"), 900)
	s.mustRun(t, "put", "x.bin", "/b/tree/gone.txt")
	s.mustRun(t, "put", "x.bin", "/b/tree/sub/gone2.txt")
	if cred != nil {
		chownTree(t, s.work, int(cred.Uid), int(cred.Gid))
	}
	locked := filepath.Join(s.work, "tree", "sub", "inner")
	if err := os.Chmod(locked, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(locked, 0o755) })
	before := snapshot(t, filepath.Join(s.home, "b"))

	out, errOut, code := ftpxAs(t, cred, s.work, s.env, "--json", "put", "-r", "--delete", "--to", "/b", "tree")
	if code != 1 {
		t.Fatalf("put -r --delete of a tree with an unreadable directory: exit %d, want 1\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if !strings.Contains(errOut, "not deleting anything") || !strings.Contains(errOut, "inner") {
		t.Errorf("stderr does not say that nothing was deleted, and why: %q", errOut)
	}
	if _, _, deleted := split(syncLines(t, out), remoteOf, "/b/tree"); len(deleted) != 0 {
		t.Errorf("deleted %q", deleted)
	}
	sameSnapshot(t, "the remote tree", before, snapshot(t, filepath.Join(s.home, "b")))
}

// asNobody prepares the client's working directory work, and the
// binaries, for a client run as the user nobody, and returns its
// credential; it skips the test when processes cannot be started so.
func asNobody(t *testing.T, work string) *syscall.Credential {
	t.Helper()
	cred := &syscall.Credential{Uid: 65534, Gid: 65534}
	cmd := exec.Command("true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if err := cmd.Run(); err != nil {
		t.Skipf("running as root, and cannot run a process as nobody to make a directory unreadable: %v", err)
	}
	for _, dir := range []string{binDir, filepath.Dir(work)} { // made 0700 by os.MkdirTemp
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(work, int(cred.Uid), int(cred.Gid)); err != nil {
		t.Fatal(err)
	}
	return cred
}

// chownTree gives every name under root to uid and gid.
func chownTree(t *testing.T, root string, uid, gid int) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// ftpxAs is ftpx run with the credential cred (nil: the test's own).
func ftpxAs(t *testing.T, cred *syscall.Credential, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	if cred == nil {
		return ftpx(t, dir, env, args...)
	}
	cmd := exec.Command(filepath.Join(binDir, "ftpx"), args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "FTPX_STATE_DIR="+filepath.Join(dir, ".state"), "HOME="+dir), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

func TestSyncDeleteRemovesTheExtrasOfTheLocalTree(t *testing.T) {
	s := newSyncSetup(t, "")
	syncSource(t, filepath.Join(s.work, "tree"))
	s.mustRun(t, "put", "-r", "--to", "/g", "tree")
	s.mustRun(t, "get", "-r", "--to", "local", "/g/tree")

	// Extras in the local tree: files, a tree, links to a file and to a
	// directory outside it, a stranger's file named like a partial; and
	// a partial file of this client's, which stays.
	local := filepath.Join(s.work, "local", "tree")
	outside := filepath.Join(s.work, "outside")
	writeBytes(t, filepath.Join(outside, "target.txt"), []byte("outside the tree"))
	writeBytes(t, filepath.Join(outside, "dir", "in.txt"), []byte("outside the tree too"))
	for _, name := range []string{"extra.txt", "sub/extra2.txt", "olddir/a/b.txt", "olddir/c.txt", ".x.ftpx-part-not-a-uuid"} {
		writeBytes(t, filepath.Join(local, filepath.FromSlash(name)), []byte(name))
	}
	own := filepath.Join(local, "sub", ".keep2.txt.ftpx-part-3f2504e0-4f89-41d3-9a0c-0305e82c3301")
	writeBytes(t, own, []byte("half a download"))
	for link, target := range map[string]string{"link-out": "../../outside/target.txt", "sub/dirlink": filepath.Join(outside, "dir")} {
		if err := os.Symlink(target, filepath.Join(local, filepath.FromSlash(link))); err != nil {
			t.Fatal(err)
		}
	}
	outsideBefore := snapshot(t, outside)

	out := s.mustRun(t, "--json", "get", "-r", "--delete", "--to", "local", "/g/tree")
	_, _, deleted := split(syncLines(t, out), localOf, filepath.Join("local", "tree"))
	sameList(t, "deleted", deleted, "extra.txt", "sub/extra2.txt", "olddir", "link-out", "sub/dirlink", ".x.ftpx-part-not-a-uuid")
	want := append(names(snapshot(t, filepath.Join(s.work, "tree"))), "sub/"+filepath.Base(own))
	slices.Sort(want)
	if got := names(snapshot(t, local)); !slices.Equal(got, want) {
		t.Errorf("the local tree holds %q, want %q", got, want)
	}
	sameSnapshot(t, "what the links pointed to", outsideBefore, snapshot(t, outside))
}
