package e2e

import (
	"crypto/md5"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ftpx/internal/miniotest"
)

// ftpxPiped runs the client with stdin a pipe fed from the file at path
// (what `cat FILE | ftpx ...` gives it: a pipe, not the file).
func ftpxPiped(t *testing.T, dir string, env []string, path string, args ...string) (string, string, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(filepath.Join(binDir, "ftpx"), args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "FTPX_STATE_DIR="+filepath.Join(dir, ".state")), env...)
	cmd.Stdin = struct{ io.Reader }{f} // not an *os.File: exec copies it through a pipe
	return runCmd(t, cmd)
}

// noPartialsOn reports whether user's home under root holds no partial
// upload.
func noPartialsOn(root, user string) bool {
	ents, _ := os.ReadDir(filepath.Join(root, user, ".ftpx-partial"))
	return len(ents) == 0
}

// TestPutStandardInput: put - REMOTE stores what comes through a pipe,
// verified by MD5, and --json prints the usual finished transfer; an
// empty input makes an empty file; without REMOTE it is a usage error.
func TestPutStandardInput(t *testing.T) {
	d, work, env := shellSetup(t, "")
	src := filepath.Join(work, "src.bin")
	sum := writeRandom(t, src, 5*mib+3)
	out, errOut, code := ftpxPiped(t, work, env, src, "--json", "put", "-", "remote.bin")
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil {
		t.Fatalf("put - remote.bin: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for k, want := range map[string]any{"action": "put", "local": "-", "remote": "remote.bin", "size": float64(5*mib + 3),
		"offset": float64(0), "sent": float64(5*mib + 3), "md5": sum} {
		if res[k] != want {
			t.Errorf("--json %s: %v, want %v (%s)", k, res[k], want, out)
		}
	}
	if _, ok := res["seconds"].(float64); !ok || len(res) != 8 {
		t.Errorf("--json object: %s", out)
	}
	down := t.TempDir()
	if _, errOut, code := ftpx(t, down, env, "get", "remote.bin"); code != 0 || md5File(t, filepath.Join(down, "remote.bin")) != sum {
		t.Fatalf("get remote.bin: exit %d %s, or another MD5", code, errOut)
	}
	if _, errOut, code := ftpxStdin(t, work, env, "", "put", "-", "empty"); code != 0 || errOut != "" {
		t.Fatalf("echo -n | ftpx put - empty: exit %d, stderr %q", code, errOut)
	}
	if fi, err := os.Stat(filepath.Join(d.root, "alex", "empty")); err != nil || fi.Size() != 0 {
		t.Fatalf("empty on the server: %v %v", fi, err)
	}
	// --password-stdin takes the first line; the file is what follows.
	noPassword := []string{env[0], env[1]}
	if _, errOut, code := ftpxStdin(t, work, noPassword, "pw\nline one\nline two\n", "--password-stdin", "put", "-", "lines.txt"); code != 0 {
		t.Fatalf("--password-stdin put -: exit %d, stderr %q", code, errOut)
	}
	if got, _ := os.ReadFile(filepath.Join(d.root, "alex", "lines.txt")); string(got) != "line one\nline two\n" {
		t.Errorf("lines.txt on the server: %q", got)
	}
	_, errOut, code = ftpx(t, work, env, "put", "-")
	if code != 2 || errOut != "ftpx: put -: name the remote file (put - REMOTE)\n" {
		t.Errorf("put - without REMOTE: exit %d, stderr %q", code, errOut)
	}
	if !noPartialsOn(d.root, "alex") {
		t.Error("partials left on the server")
	}
}

// TestPutStandardInputOverQuota: an input larger than the quota exits 5
// with one line naming the path and 264; nothing is stored, nothing held.
func TestPutStandardInputOverQuota(t *testing.T) {
	d, work, env := shellSetup(t, "1MB")
	src := filepath.Join(work, "big.bin")
	writeRandom(t, src, 3*mib)
	out, errOut, code := ftpxPiped(t, work, env, src, "put", "-", "big.bin")
	if code != 5 || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "ftpx: put big.bin: 264 quota exceeded") || out != "" {
		t.Fatalf("put - over the quota: exit %d, stdout %q, stderr %q; want 5 and one line", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(d.root, "alex", "big.bin")); !os.IsNotExist(err) {
		t.Errorf("big.bin is on the server: %v", err)
	}
	waitUntil(t, 10*time.Second, "the partial to go", func() bool { return noPartialsOn(d.root, "alex") })
	out, _, code = ftpxPiped(t, work, env, src, "--json", "put", "-", "big.bin")
	var f map[string]any
	if err := json.Unmarshal([]byte(out), &f); code != 5 || err != nil || f["action"] != "put" || f["remote"] != "big.bin" ||
		f["status"] != float64(264) || f["exit"] != float64(5) {
		t.Errorf("--json put - over the quota: exit %d, stdout %q", code, out)
	}
}

// TestPutStandardInputCtrlC: Ctrl-C exits 130 with a line saying that
// standard input cannot be resumed; the server keeps nothing.
func TestPutStandardInputCtrlC(t *testing.T) {
	d, work, env := shellSetup(t, "")
	put := startFtpxFed(t, work, env, "put", "-", "f.bin")
	waitUntil(t, 30*time.Second, "the put to be under way", func() bool { return heldOnServer(d.root, "alex") >= mib })
	put.cmd.Process.Signal(os.Interrupt)
	if code := put.exited(t, 20*time.Second); code != 130 || put.err.String() != "ftpx: interrupted; standard input cannot be resumed: nothing was stored\n" {
		t.Fatalf("put - after Ctrl-C: exit %d, stderr %q", code, put.err.String())
	}
	waitUntil(t, 10*time.Second, "the partial to go", func() bool { return noPartialsOn(d.root, "alex") })
	if _, err := os.Stat(filepath.Join(d.root, "alex", "f.bin")); !os.IsNotExist(err) {
		t.Errorf("f.bin is on the server: %v", err)
	}
}

// startFtpxFed starts the client with 1 MiB on its standard input, a
// pipe the test keeps open (an input that has more to come).
func startFtpxFed(t *testing.T, dir string, env []string, args ...string) *background {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	go w.Write(make([]byte, mib))
	b := &background{done: make(chan struct{}), started: time.Now()}
	b.cmd = exec.Command(filepath.Join(binDir, "ftpx"), args...)
	b.cmd.Dir, b.cmd.Stdin = dir, r
	b.cmd.Env = append(append(os.Environ(), "FTPX_STATE_DIR="+filepath.Join(dir, ".state")), env...)
	b.cmd.Stdout, b.cmd.Stderr = &b.out, &b.err
	err = b.cmd.Start()
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	go func() { b.cmd.Wait(); close(b.done) }()
	t.Cleanup(b.kill)
	return b
}

// TestS3PutStandardInput: a streamed put lands in an s3 home as in a
// local one, several parts or none.
func TestS3PutStandardInput(t *testing.T) {
	s := s3Servers(t, miniotest.Shared(t), 1, "")
	env := s.env(s.daemons[0].addr)
	work := t.TempDir()
	src := filepath.Join(work, "big.bin")
	sum := writeRandom(t, src, 12*mib+7)
	if _, errOut, code := ftpxPiped(t, work, env, src, "put", "-", "big.bin"); code != 0 {
		t.Fatalf("put - big.bin: exit %d %s", code, errOut)
	}
	if _, errOut, code := ftpxStdin(t, work, env, "", "put", "-", "empty"); code != 0 {
		t.Fatalf("put - empty: exit %d %s", code, errOut)
	}
	if got := s.stored(t); len(got) != 2 || got["big.bin"] != 12*mib+7 || got["empty"] != 0 {
		t.Fatalf("the store holds %v", got)
	}
	out, errOut, code := ftpx(t, work, env, "get", "big.bin", "-")
	if code != 0 || fmt.Sprintf("%x", md5.Sum([]byte(out))) != sum {
		t.Fatalf("get big.bin -: exit %d %s, or another MD5", code, errOut)
	}
	if n := s.held(t); n != 0 {
		t.Errorf("the store holds %d bytes of partial uploads", n)
	}
}
