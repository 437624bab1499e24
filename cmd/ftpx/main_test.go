package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var binary string

// TestMain builds ftpx once, so the tests run it as users and scripts do.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ftpx-cmd-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "ftpx")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		panic("go build: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// ftpx runs the binary with stdin from /dev/null and only the given
// environment (plus PATH and HOME), and returns its output and exit status.
func ftpx(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"bogus"},
		{"--no-such-flag", "ls"},
		{"ls", "--no-such-flag"},
		{"put", "-x", "f"},
		{"ls", "a", "b"},
		{"ls", "-x"},
		{"ls", "-lhRx"},
		{"get"},
		{"get", "a", "b", "c"},
		{"get", "--to"},
		{"get", "--to", "dir"},
		{"put"},
		{"put", "a", "b", "c"},
		{"put", "-r", "--to", "dir"},
		{"put", "-"},
		{"put", "-r", "-", "x"},
		{"put", "--to", "dir", "-"},
		{"put", "--to", "dir", "a", "-"},
		{"put", "--dry-run", "-", "x"},
		{"--password", "x", "ls"}, // secrets never travel in argv
		{"--limit-rate", "lots", "ls"},
		{"--retries", "-1", "ls"},
		{"--retry-delay", "soon", "ls"},
		{"resume", "extra"},
		{"mkdir"},
		{"mkdir", "-x", "a"},
		{"rm"},
		{"rm", "--force", "a"},
		{"mv", "a"},
		{"mv", "a", "b", "c"},
		{"stat"},
		{"quota", "extra"},
		{"df", "--bogus"},
		{"shell", "extra"},
		{"shell", "-c", "ls", "-f", "script"},
	} {
		_, stderr, code := ftpx(t, []string{"FTPX_USER=u", "FTPX_PASSWORD=p", "FTPX_SERVER=127.0.0.1:1"}, args...)
		if code != 2 {
			t.Errorf("ftpx %q: exit %d, want 2 (stderr %q)", args, code, stderr)
		}
		if lines := strings.Count(stderr, "\n"); lines != 1 || !strings.HasPrefix(stderr, "ftpx: ") {
			t.Errorf("ftpx %q: stderr %q, want one line starting with \"ftpx: \"", args, stderr)
		}
	}
}

// TestPutStdinNeedsARemoteName: put - has no name to give the file.
func TestPutStdinNeedsARemoteName(t *testing.T) {
	_, stderr, code := ftpx(t, []string{"FTPX_USER=u", "FTPX_PASSWORD=p", "FTPX_SERVER=127.0.0.1:1"}, "put", "-")
	if code != 2 || stderr != "ftpx: put -: name the remote file (put - REMOTE)\n" {
		t.Fatalf("put -: exit %d, stderr %q", code, stderr)
	}
}

func TestHelpDocumentsExitStatuses(t *testing.T) {
	stdout, _, code := ftpx(t, nil, "--help")
	if code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for _, want := range []string{
		"0  everything asked for succeeded",
		"1  a transfer or command failed",
		"2  usage error",
		"3  could not connect, or the connection was lost",
		"4  authentication failed",
		"5  quota exceeded",
		"6  MD5 verification failed",
		"first failure",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("--help does not say %q:\n%s", want, stdout)
		}
	}
}

func TestNoPasswordIsUsageError(t *testing.T) {
	// No FTPX_PASSWORD, no --password-stdin, stdin not a terminal: exit 2
	// before any connection is tried.
	_, stderr, code := ftpx(t, []string{"FTPX_USER=demo", "FTPX_SERVER=127.0.0.1:1"}, "ls")
	if code != 2 || !strings.Contains(stderr, "no password") {
		t.Fatalf("exit %d, stderr %q; want 2 and a line saying there is no password", code, stderr)
	}
	_, stderr, code = ftpx(t, []string{"FTPX_USER=demo", "FTPX_SERVER=127.0.0.1:1"}, "--password-stdin", "ls")
	if code != 2 || !strings.Contains(stderr, "no password") {
		t.Fatalf("--password-stdin with empty stdin: exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = ftpx(t, []string{"FTPX_SERVER=127.0.0.1:1", "FTPX_PASSWORD=p"}, "ls")
	if code != 2 || !strings.Contains(stderr, "no user") {
		t.Fatalf("no user: exit %d, stderr %q", code, stderr)
	}
}

func TestUnreachableServerExit3(t *testing.T) {
	_, stderr, code := ftpx(t, []string{"FTPX_USER=demo", "FTPX_PASSWORD=p", "FTPX_SERVER=127.0.0.1:1"}, "ls")
	if code != 3 || !strings.HasPrefix(stderr, "ftpx: connect 127.0.0.1:1") {
		t.Fatalf("exit %d, stderr %q; want 3", code, stderr)
	}
	// The flag wins over the environment.
	_, stderr, _ = ftpx(t, []string{"FTPX_USER=demo", "FTPX_PASSWORD=p", "FTPX_SERVER=127.0.0.1:1"}, "--server", "127.0.0.1:2", "ls")
	if !strings.Contains(stderr, "127.0.0.1:2") {
		t.Fatalf("--server did not win over FTPX_SERVER: %q", stderr)
	}
}

func TestResumeListWithNothingRecorded(t *testing.T) {
	stdout, stderr, code := ftpx(t, nil, "resume", "--list", "--json")
	if code != 0 || stdout != "[]\n" || stderr != "" {
		t.Fatalf("resume --list --json: exit %d, %q, %q", code, stdout, stderr)
	}
	stdout, stderr, code = ftpx(t, nil, "resume", "--list")
	if code != 0 || stdout != "" || stderr != "" {
		t.Fatalf("resume --list: exit %d, %q, %q", code, stdout, stderr)
	}
	// Nothing to resume: no connection, no password needed.
	_, stderr, code = ftpx(t, []string{"FTPX_USER=demo", "FTPX_SERVER=127.0.0.1:1"}, "resume")
	if code != 0 || !strings.Contains(stderr, "nothing to resume") {
		t.Fatalf("resume: exit %d, %q", code, stderr)
	}
}

func TestFileCommandsHelp(t *testing.T) {
	for _, name := range []string{"ls", "mkdir", "rm", "mv", "stat", "quota", "df"} {
		stdout, stderr, code := ftpx(t, nil, name, "--help")
		if code != 0 || !strings.HasPrefix(stdout, "usage: ") || stderr != "" {
			t.Errorf("ftpx %s --help: exit %d, %q, %q", name, code, stdout, stderr)
		}
	}
}

func TestShellScriptFileMissing(t *testing.T) {
	_, stderr, code := ftpx(t, []string{"FTPX_USER=u", "FTPX_PASSWORD=p", "FTPX_SERVER=127.0.0.1:1"}, "shell", "-f", "/nonexistent/script")
	if code != 1 || stderr != "ftpx: shell -f /nonexistent/script: no such file or directory\n" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// --version prints the release, the commit and the Go version, and exits 0.
func TestVersion(t *testing.T) {
	out, errOut, code := ftpx(t, nil, "--version")
	if code != 0 || errOut != "" || !regexp.MustCompile(`^ftpx version \d+\.\d+\.\d+ \(commit \S+, go1\.\d+\S*\)\n$`).MatchString(out) {
		t.Errorf("ftpx --version: exit %d, %q, stderr %q", code, out, errOut)
	}
}
