package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rclone's sftp backend against the SFTP front end, configured with
// environment variables only: copy up and down, and check, which
// verifies with md5sum run over ssh (answered from the stored MD5s).

// rcloneRemote is an rclone sftp remote named X on an SFTP front end.
type rcloneRemote struct {
	env    []string // the remote
	pinned []string // what rclone would otherwise detect
	dir    string
}

func newRclone(t *testing.T, f sftpFront, user, password string) *rcloneRemote {
	t.Helper()
	if _, err := exec.LookPath("rclone"); err != nil {
		t.Skip("skipped: rclone is not installed (Debian: apt-get install rclone; .ci/run installs it)")
	}
	needOpenSSH(t) // ssh-keyscan writes the known_hosts rclone checks the host key against
	obscured, err := exec.Command("rclone", "obscure", password).Output()
	if err != nil {
		t.Fatalf("rclone obscure: %v", err)
	}
	scan, err := exec.Command("ssh-keyscan", "-p", f.port, "127.0.0.1").Output()
	if err != nil || len(scan) == 0 {
		t.Fatalf("ssh-keyscan: %v", err)
	}
	dir := t.TempDir()
	knownHosts := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(knownHosts, scan, 0o600); err != nil {
		t.Fatal(err)
	}
	return &rcloneRemote{dir: dir, env: []string{
		"RCLONE_CONFIG=" + filepath.Join(dir, "rclone.conf"), // none: the remote is in the environment
		"RCLONE_CONFIG_X_TYPE=sftp",
		"RCLONE_CONFIG_X_HOST=127.0.0.1",
		"RCLONE_CONFIG_X_PORT=" + f.port,
		"RCLONE_CONFIG_X_USER=" + user,
		"RCLONE_CONFIG_X_PASS=" + strings.TrimSpace(string(obscured)),
		"RCLONE_CONFIG_X_KNOWN_HOSTS_FILE=" + knownHosts,
	}, pinned: []string{
		// What rclone would detect, pinned: rclone 1.60 probes the shell
		// and the hash commands lazily, and the files it hashes while the
		// probe runs get "hash unsupported" (a race in rclone, not the
		// server's; TestSFTPRcloneDetectsMD5sum runs the probe alone).
		"RCLONE_CONFIG_X_SHELL_TYPE=unix",
		"RCLONE_CONFIG_X_MD5SUM_COMMAND=md5sum",
		"RCLONE_CONFIG_X_SHA1SUM_COMMAND=none",
	}}
}

// run runs rclone, with the remote and extra variables in its
// environment, and returns its output (stdout, stderr) and exit status.
func (r *rcloneRemote) run(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command("rclone", args...)
	cmd.Dir = r.dir
	cmd.Env = append(append(os.Environ(), r.env...), env...)
	return runCmd(t, cmd)
}

// must runs rclone and fails the test unless it exits 0.
func (r *rcloneRemote) must(t *testing.T, args ...string) (string, string) {
	t.Helper()
	out, errOut, code := r.run(t, r.pinned, args...)
	if code != 0 {
		t.Fatalf("rclone %q: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
	}
	return out, errOut
}

// md5sums parses rclone md5sum's output into MD5s by path.
func md5sums(t *testing.T, out string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		m := md5sumLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("rclone md5sum line %q", line)
		}
		sums[m[2]] = m[1]
	}
	return sums
}

// filesOnly keeps the files of a tree description.
func filesOnly(tree map[string]string) map[string]string {
	files := map[string]string{}
	for p, s := range tree {
		if !strings.HasSuffix(p, "/") {
			files[p] = s
		}
	}
	return files
}

// execRE finds the commands the server ran in its log (slog quotes them).
var execRE = regexp.MustCompile(`msg=exec .*command=("(?:[^"\\]|\\.)*"|\S+)`)

// execedMD5sums returns the paths the server's log shows md5sum run on,
// as the shell words rclone sent (a backslash keeps the next byte).
func execedMD5sums(t *testing.T, log string) map[string]bool {
	t.Helper()
	paths := map[string]bool{}
	for _, m := range execRE.FindAllStringSubmatch(log, -1) {
		cmd := m[1]
		if strings.HasPrefix(cmd, `"`) {
			var err error
			if cmd, err = strconv.Unquote(cmd); err != nil {
				t.Fatalf("log value %s: %v", m[1], err)
			}
		}
		rest, ok := strings.CutPrefix(cmd, "md5sum ")
		if !ok {
			continue
		}
		var word strings.Builder
		for i := 0; i < len(rest); i++ {
			if rest[i] == '\\' && i+1 < len(rest) {
				i++
			}
			word.WriteByte(rest[i])
		}
		paths[word.String()] = true
	}
	return paths
}

// TestSFTPRcloneCopyAndCheckWithMD5sum: rclone copy of a tree up (the
// server's disk then holds the same files) and down (the same tree back),
// rclone check reports every file matching by MD5 (the server logs an
// exec of md5sum for each), rclone md5sum gives the local MD5s, a second
// copy transfers nothing (sizes and mtimes kept), and after one file is
// replaced over SFTP by other bytes of the same size, check finds exactly
// that difference.
func TestSFTPRcloneCopyAndCheckWithMD5sum(t *testing.T) {
	d, f := sftpDaemon(t)
	r := newRclone(t, f, "alex", sftpPassword)
	work := t.TempDir()
	tree := filepath.Join(work, "tree")
	want := sftpTree(t, tree, 9010)
	files := filesOnly(want)

	r.must(t, "copy", tree, "X:up")
	got := treeSums(t, filepath.Join(d.root, "alex", "up"))
	delete(want, "sub/empty dir/") // rclone copies files, not empty directories
	sameTree(t, "the tree on the server after rclone copy", got, want)

	mark := len(d.logText())
	out, errOut := r.must(t, "check", tree, "X:up")
	all := out + errOut
	if !strings.Contains(all, "0 differences found") || !strings.Contains(all, " 6 matching files") ||
		strings.Contains(all, "size-only") || strings.Contains(all, "no hashes in common") {
		t.Fatalf("rclone check did not match every file by hash:\n%s", all)
	}
	waitUntil(t, 10*time.Second, "an exec of md5sum by rclone check for each file in the server's log", func() bool {
		checked := execedMD5sums(t, d.logText()[mark:])
		for p := range files {
			if !checked["/up/"+p] {
				return false
			}
		}
		return true
	})

	out, _ = r.must(t, "md5sum", "X:up")
	sameTree(t, "rclone md5sum X:up", md5sums(t, out), files)

	out, errOut = r.must(t, "copy", "-v", tree, "X:up")
	if !strings.Contains(out+errOut, "There was nothing to transfer") {
		t.Errorf("a second rclone copy transferred again (sizes or mtimes not kept):\n%s%s", out, errOut)
	}

	down := filepath.Join(work, "down")
	r.must(t, "copy", "X:up", down)
	sameTree(t, "the tree got back by rclone copy", treeSums(t, down), want)

	// Other bytes of the same size, put over SFTP: check sees the new MD5.
	_, _, cl := goSFTP(t, f, "alex", sftpPassword)
	w, err := cl.Create("/up/sub/b.bin")
	if err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(filepath.Join(tree, "sub", "b.bin"))
	changed := append([]byte(nil), old...)
	changed[len(changed)/2] ^= 0xff
	if _, err := w.Write(changed); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := r.run(t, r.pinned, "check", tree, "X:up")
	all = out + errOut
	if code != 1 || !strings.Contains(all, "1 differences found") || !strings.Contains(all, "sub/b.bin") {
		t.Fatalf("rclone check after sub/b.bin changed: exit %d, want 1 naming it:\n%s", code, all)
	}
	if got := md5sums(t, r.mustOut(t, "md5sum", "X:up/sub"))["b.bin"]; got != md5hex(changed) {
		t.Errorf("rclone md5sum of the replaced file: %s, want %s", got, md5hex(changed))
	}
}

func (r *rcloneRemote) mustOut(t *testing.T, args ...string) string {
	t.Helper()
	out, _ := r.must(t, args...)
	return out
}

// TestSFTPRcloneDetectsMD5sum: without md5sum_command set, rclone probes
// the server (md5sum with the empty input on stdin, then sha1sum and the
// like, refused) and uses md5sum for a file's hash.
func TestSFTPRcloneDetectsMD5sum(t *testing.T) {
	d, f := sftpDaemon(t)
	r := newRclone(t, f, "alex", sftpPassword)
	if err := os.MkdirAll(filepath.Join(d.root, "alex"), 0o755); err != nil {
		t.Fatal(err)
	}
	sum := writeSeeded(t, filepath.Join(d.root, "alex", "one.bin"), 70_001, seeded(t, 9011))
	out, errOut, code := r.run(t, nil, "md5sum", "X:one.bin")
	if code != 0 || out != sum+"  one.bin\n" {
		t.Fatalf("rclone md5sum with detection: exit %d %q, want %s\n%s", code, out, sum, errOut)
	}
	waitUntil(t, 10*time.Second, "the probe and the md5sum in the log", func() bool {
		log := d.logText()
		return stdinProbeRE.MatchString(log) && strings.Contains(log, `command="md5sum /one.bin"`) &&
			strings.Contains(log, `msg="exec refused"`)
	})
}

// stdinProbeRE is rclone's probe in the log: md5sum with no argument.
var stdinProbeRE = regexp.MustCompile(`(?m)msg=exec .*command=md5sum$`)
