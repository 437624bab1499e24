package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// terminal is an ftpx process on a pseudo-terminal, and what it wrote.
type terminal struct {
	t    *testing.T
	pty  *os.File
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	seen int // expect looks after this offset
	done chan struct{}
}

func startTerminal(t *testing.T, dir string, env []string, args ...string) *terminal {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "ftpx"), args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "TERM=xterm", "FTPX_STATE_DIR="+filepath.Join(dir, ".state")), env...)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	term := &terminal{t: t, pty: f, cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(term.done)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			term.mu.Lock()
			term.out.Write(buf[:n])
			term.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		f.Close()
		<-term.done
	})
	return term
}

func (term *terminal) send(s string) {
	term.t.Helper()
	if _, err := term.pty.Write([]byte(s)); err != nil {
		term.t.Fatal(err)
	}
}

// expect waits until the output since the last expectation holds want,
// and returns that output.
func (term *terminal) expect(want string) string {
	term.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		term.mu.Lock()
		out := term.out.String()[term.seen:]
		if i := strings.Index(out, want); i >= 0 {
			term.seen += i + len(want)
			term.mu.Unlock()
			return out[:i+len(want)]
		}
		term.mu.Unlock()
		if time.Now().After(deadline) {
			term.t.Fatalf("timed out waiting for %q; the terminal shows:\n%s", want, out)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestInteractiveShellOnATerminal(t *testing.T) {
	d, work, env := shellSetup(t, "")
	const size = 3 << 20
	local := t.TempDir()
	sum := writeRandom(t, filepath.Join(local, "big.bin"), size)
	smallSum := writeRandom(t, filepath.Join(local, "small.bin"), 1000)
	if _, errOut, code := ftpx(t, local, env, "shell", "-c", "mkdir subdir; put big.bin; mkdir subdir/empty; put small.bin subdir/"); code != 0 {
		t.Fatal(errOut)
	}

	term := startTerminal(t, work, env, "--limit-rate", "1MB", "shell")
	prompt := func(dir string) string { return "alex@" + d.addr + ":" + dir + "> " }
	term.expect(prompt("/"))

	term.send("ls\r")
	if out := term.expect(prompt("/")); !strings.Contains(out, "big.bin\r\n") || !strings.Contains(out, "subdir/\r\n") {
		t.Fatalf("ls printed %q", out)
	}

	// Tab completes a remote name; cd changes the prompt; pwd agrees.
	term.send("cd su\t")
	term.expect("subdir/")
	term.send("\r")
	term.expect(prompt("/subdir"))
	term.send("pwd\r")
	if out := term.expect(prompt("/subdir")); !strings.Contains(out, "/subdir\r\n") {
		t.Fatalf("pwd printed %q", out)
	}

	// Ctrl-C during a rate-limited get returns to the prompt, keeping the
	// transfer resumable.
	term.send("cd ..\r")
	term.expect(prompt("/"))
	term.send("get big.bin\r")
	waitUntil(t, 20*time.Second, "part of the get", func() bool { n, _ := localPartial(work, "big.bin"); return n > 0 })
	term.send("\x03")
	term.expect("get big.bin: interrupted")
	term.expect(prompt("/"))
	if recordOffset(t, work, "get") <= 0 {
		t.Fatal("no resume point after Ctrl-C")
	}
	if exists(filepath.Join(work, "big.bin")) {
		t.Fatal("an interrupted get left a file under its name")
	}

	// Running it again resumes.
	term.send("get --json big.bin\r")
	out := term.expect(prompt("/"))
	i := strings.Index(out, `{"action":"get"`)
	if i < 0 {
		t.Fatalf("no result line in %q", out)
	}
	var r result
	if err := json.Unmarshal([]byte(out[i:i+strings.Index(out[i:], "}")+1]), &r); err != nil {
		t.Fatal(err)
	}
	if r.Offset <= 0 || r.Offset+r.Sent != size || r.MD5 != sum {
		t.Errorf("resumed get: %+v", r)
	}
	if md5File(t, filepath.Join(work, "big.bin")) != sum {
		t.Fatal("resumed file differs")
	}

	// An error is one line and the session goes on.
	term.send("get missing.txt\r")
	if out := term.expect(prompt("/")); !strings.Contains(out, "get missing.txt: 256 file does not exist\r\n") {
		t.Errorf("error line: %q", out)
	}

	// get -r copies a tree, its empty directory included.
	term.send("get -r subdir\r")
	term.expect(prompt("/"))
	if got := md5File(t, filepath.Join(work, "subdir", "small.bin")); got != smallSum {
		t.Errorf("get -r subdir: small.bin %s, want %s", got, smallSum)
	}
	if !exists(filepath.Join(work, "subdir", "empty")) {
		t.Error("get -r subdir: no empty directory")
	}

	term.send("quit\r")
	select {
	case <-term.done:
	case <-time.After(20 * time.Second):
		t.Fatal("quit did not end the shell")
	}
	if err := term.cmd.Wait(); err != nil {
		t.Fatalf("quit: %v", err)
	}
	if h, _ := os.ReadFile(filepath.Join(work, ".state", "history")); !strings.Contains(string(h), "cd subdir/") {
		t.Errorf("history: %q", h)
	}
}
