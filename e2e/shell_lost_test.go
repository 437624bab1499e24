package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer a test may read while a process writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestBatchStopsWithExit3WhenTheConnectionIsLost(t *testing.T) {
	d, work, env := shellSetup(t, "")
	cmd := exec.Command(filepath.Join(binDir, "ftpx"), "--retries", "1", "--retry-delay", "10ms", "shell")
	cmd.Dir = work
	cmd.Env = append(append(os.Environ(), "FTPX_STATE_DIR="+filepath.Join(work, ".state")), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	var errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdin.Write([]byte("pwd\n"))
	waitUntil(t, 20*time.Second, "the first line", func() bool { return strings.Contains(out.String(), "/\n") })
	d.cmd.Process.Kill()
	d.cmd.Wait()
	stdin.Write([]byte("ls\nmkdir never\n"))
	stdin.Close()
	err = cmd.Wait()
	ee, _ := err.(*exec.ExitError)
	// A line for the retry, then the one that stops the script: both name
	// the script's line.
	lines := strings.Split(strings.TrimSuffix(errOut.String(), "\n"), "\n")
	if ee == nil || ee.ExitCode() != 3 || len(lines) != 2 || !strings.HasPrefix(lines[0], "ftpx: line 2: ls: ") || !strings.HasSuffix(lines[0], "; retry 1 of 1 in 10ms") ||
		!strings.HasPrefix(lines[1], "ftpx: line 2: ls: ") || !strings.HasSuffix(lines[1], "(gave up after 1 retries)") {
		t.Fatalf("exit %v, stderr %q", err, errOut.String())
	}
}

func TestShellOffersToReconnect(t *testing.T) {
	d, work, env := shellSetup(t, "")
	ftpx(t, work, env, "mkdir", "kept")
	term := startTerminal(t, work, env, "--retries", "0", "shell")
	prompt := "alex@" + d.addr + ":/> "
	addr := d.addr
	term.expect(prompt)

	d.cmd.Process.Kill()
	d.cmd.Wait()
	term.send("ls\r")
	term.expect("ls: ")
	term.expect("connection lost; reconnect? [Y/n] ")
	d = startDaemonAt(t, d.root, addr, d.accounts)
	term.send("\r")
	term.expect("reconnected")
	term.expect(prompt)
	term.send("ls\r")
	if out := term.expect(prompt); !strings.Contains(out, "kept/\r\n") {
		t.Fatalf("ls after reconnecting: %q", out)
	}

	// Declining ends the shell with status 3.
	d.cmd.Process.Kill()
	d.cmd.Wait()
	term.send("pwd\r")
	term.expect("connection lost; reconnect? [Y/n] ")
	term.send("n\r")
	<-term.done
	err := term.cmd.Wait()
	if ee, _ := err.(*exec.ExitError); ee == nil || ee.ExitCode() != 3 {
		t.Fatalf("declining to reconnect: %v, want exit status 3", err)
	}
}
