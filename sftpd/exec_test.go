package sftpd_test

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"ftpx/accounts"

	"golang.org/x/crypto/ssh"
)

func TestMd5sumExecAnswersInMd5sumFormat(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited)
	c := dial(t, ts, addr)
	a, b := randomBytes(12, 200<<10), []byte("spaced out\n")
	c.sftp.Mkdir("/dir")
	c.put(t, "/a.bin", a)
	c.put(t, "/dir/my file.txt", b)

	out, stderr, status := execCommand(t, c.ssh, `md5sum a.bin '/dir/my file.txt' "dir/my file.txt"`)
	want := md5hex(a) + "  a.bin\n" + md5hex(b) + "  /dir/my file.txt\n" + md5hex(b) + "  dir/my file.txt\n"
	if status != 0 || out != want || stderr != "" {
		t.Errorf("md5sum of three paths: status %d, stdout %q, stderr %q; want 0, %q, \"\"", status, out, stderr, want)
	}

	// One missing among found ones: the others are answered, the status is 1.
	out, stderr, status = execCommand(t, c.ssh, "md5sum /a.bin /gone.bin /dir")
	if status != 1 || out != md5hex(a)+"  /a.bin\n" {
		t.Errorf("md5sum with a missing path and a directory: status %d, stdout %q; want 1 and a.bin's line", status, out)
	}
	if stderr != "md5sum: /gone.bin: No such file or directory\nmd5sum: /dir: Is a directory\n" {
		t.Errorf("md5sum stderr: %q", stderr)
	}

	// With no path it hashes standard input, as rclone's check does.
	s, err := c.ssh.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Stdin = strings.NewReader("hello")
	got, err := s.Output("md5sum")
	if err != nil || string(got) != md5hex([]byte("hello"))+"  -\n" {
		t.Errorf("md5sum of standard input: %q, %v; want %q", got, err, md5hex([]byte("hello"))+"  -\n")
	}
}

func TestExecOfAnythingButMd5sumRefused(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited)
	c := dial(t, ts, addr)
	c.put(t, "/f.txt", []byte("f\n"))
	for _, command := range []string{
		"ls", "ls /", "scp -t /", "scp -f /f.txt", "sh -c id", "id", "/bin/sh", "md5sumx /f.txt",
		"cat /f.txt", "rsync --server -e.Lsfx . /", "", "'md5sum /f.txt'",
	} {
		out, stderr, status := execCommand(t, c.ssh, command)
		if status == 0 || status == -1 {
			t.Errorf("exec %q: exit status %d (stdout %q, stderr %q); want a non-zero exit status", command, status, out, stderr)
		}
		if out != "" {
			t.Errorf("exec %q wrote %q to standard output", command, out)
		}
	}
	// A shell's separators are taken as words, never run.
	out, _, status := execCommand(t, c.ssh, "md5sum /f.txt; id")
	if status == 0 || strings.Contains(out, "uid=") {
		t.Errorf("md5sum /f.txt; id: status %d, stdout %q: a shell ran it", status, out)
	}
	out, _, _ = execCommand(t, c.ssh, "md5sum $(id) `id` /f.txt")
	if strings.Contains(out, "uid=") {
		t.Errorf("md5sum with substitutions: stdout %q: a shell ran them", out)
	}
}

func TestShellPtyAndOtherSubsystemsRefused(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited)
	c := dial(t, ts, addr)

	s, err := c.ssh.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RequestPty("xterm", 24, 80, ssh.TerminalModes{}); err == nil {
		t.Errorf("pty-req was granted")
	}
	if err := s.Shell(); err == nil {
		t.Errorf("shell was granted")
		s.Wait()
	}
	s.Close()

	s, err = c.ssh.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RequestSubsystem("scp"); err == nil {
		t.Errorf("subsystem scp was granted")
	}
	s.Close()

	// Requests on a channel whose sftp subsystem runs (a client asking
	// for a pty or a window change after it) are refused, by the
	// session's loop, and the subsystem goes on; the same on a second
	// such channel at once.
	for i := 0; i < 2; i++ {
		s, err = c.ssh.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.RequestSubsystem("sftp"); err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 20; j++ { // more than x/crypto/ssh buffers unread
			if ok, err := s.SendRequest("window-change", true, make([]byte, 16)); ok || err != nil {
				t.Fatalf("window-change on a running sftp channel: %v, %v; want refused", ok, err)
			}
		}
	}

	// The connection is still good for what is served.
	c.put(t, "/f.txt", []byte("f\n"))
	if out, want := md5sumOf(t, c.ssh, "/f.txt"), md5hex([]byte("f\n"))+"  /f.txt\n"; out != want {
		t.Errorf("md5sum after the refusals: %q, want %q", out, want)
	}
}

func TestPortForwardingRefused(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited)
	c := dial(t, ts, addr)

	// A local listener that the server must never connect to.
	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		if conn, err := target.Accept(); err == nil {
			accepted <- struct{}{}
			conn.Close()
		}
	}()

	fwd, err := c.ssh.Dial("tcp", target.Addr().String())
	var oce *ssh.OpenChannelError
	switch {
	case err == nil:
		fwd.Close()
		t.Errorf("a direct-tcpip channel to %s was opened", target.Addr())
	case !errors.As(err, &oce) || oce.Reason != ssh.Prohibited:
		t.Errorf("direct-tcpip: %v; want the channel rejected as administratively prohibited", err)
	}
	select {
	case <-accepted:
		t.Errorf("the server connected to %s for the client", target.Addr())
	case <-time.After(200 * time.Millisecond):
	}

	if l, err := c.ssh.Listen("tcp", "127.0.0.1:0"); err == nil {
		l.Close()
		t.Errorf("tcpip-forward (remote port forwarding) was granted")
	}
	if _, err := c.sftp.ReadDir("/"); err != nil {
		t.Errorf("sftp after the refusals: %v", err)
	}
}
