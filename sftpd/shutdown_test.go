package sftpd_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/sftpd"
)

// running is an sftpd.Server the test holds, built as ftpxtest.StartSFTP
// builds one, so that the test can call its Shutdown.
type running struct {
	srv  *sftpd.Server
	addr string
	done chan error // what Serve returned
}

func startSFTP(t *testing.T, ts *ftpxtest.Server) *running {
	t.Helper()
	key, err := sftpd.LoadHostKey("", ts.Root)
	if err != nil {
		t.Fatal(err)
	}
	r := &running{srv: &sftpd.Server{Core: ts.Server, HostKey: key, Logger: ts.Server.Logger}, done: make(chan error, 1)}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = l.Addr().String()
	go func() { r.done <- r.srv.Serve(l) }()
	t.Cleanup(func() {
		r.srv.Close()
		<-r.done
	})
	return r
}

// shutdown calls Shutdown with a context of d on its own goroutine and
// returns where its result will come, once Serve has returned (the
// listener is closed: Shutdown has begun).
func (r *running) shutdown(t *testing.T, d time.Duration) <-chan error {
	t.Helper()
	res := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		res <- r.srv.Shutdown(ctx)
	}()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		if !errors.Is(err, sftpd.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after Shutdown")
	}
	return res
}

func TestShutdownLetsAnUploadInProgressFinish(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, user, password, accounts.Unlimited)
	r := startSFTP(t, ts)
	idle := dial(t, ts, r.addr) // an SFTP session with no file open
	c := dial(t, ts, r.addr)
	data := randomBytes(30, 2<<20+3)
	half := 1 << 20

	f, err := c.sftp.Create("/up.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data[:half], 0); err != nil {
		t.Fatal(err)
	}
	res := r.shutdown(t, 20*time.Second)

	if _, _, err := dialSSH(t, ts, r.addr, user, password); err == nil {
		t.Errorf("a new connection was served after Shutdown began")
	}
	waitFor(t, "the idle session to be ended", func() bool {
		_, err := idle.sftp.Getwd()
		_, err2 := idle.sftp.Stat("/")
		return err != nil || err2 != nil
	})

	select {
	case err := <-res:
		t.Fatalf("Shutdown returned %v with an upload open", err)
	case <-time.After(100 * time.Millisecond):
	}
	if _, err := f.WriteAt(data[half:], int64(half)); err != nil {
		t.Fatalf("writing the rest after Shutdown began: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("close of the upload Shutdown waited for: %v; want the client told it succeeded", err)
	}
	wantShutdownDone(t, res, "last file was closed")
	if got := fileMD5(t, filepath.Join(ts.Home(user), "up.bin")); got != md5hex(data) {
		t.Errorf("up.bin after Shutdown: md5 %s, want %s", got, md5hex(data))
	}
	if held := partialBytes(t, ts.Home(user)); held != 0 {
		t.Errorf("%d bytes left in partials", held)
	}
}

func TestShutdownPastItsContextKeepsThePartialForResume(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, user, password, accounts.Unlimited)
	r := startSFTP(t, ts)
	c := dial(t, ts, r.addr)
	data := randomBytes(31, 3<<20+11)
	half := 1<<20 + 5

	f, err := c.sftp.Create("/cut.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data[:half], 0); err != nil {
		t.Fatal(err)
	}
	res := r.shutdown(t, 300*time.Millisecond)
	select {
	case err := <-res:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown past its context: %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return after its context ended")
	}
	// Shutdown has returned: what arrived is kept, not named.
	h := ts.Home(user)
	if held := partialBytes(t, h); held != int64(half) {
		t.Errorf("after Shutdown returned, partials hold %d bytes, want %d", held, half)
	}
	if _, err := os.Lstat(filepath.Join(h, "cut.bin")); !os.IsNotExist(err) {
		t.Errorf("cut.bin is under its name after Shutdown cut it (lstat: %v)", err)
	}
	if _, err := f.WriteAt(data[half:], int64(half)); err == nil {
		t.Errorf("a write after Shutdown closed the connection succeeded")
	}
	f.Close()

	// As after a restart: a new front end on the same root.
	r2 := startSFTP(t, ts)
	c2 := dial(t, ts, r2.addr)
	fi, err := c2.sftp.Stat("/cut.bin")
	if err != nil || fi.Size() != int64(half) {
		t.Fatalf("stat of the cut upload: %v, %v; want the %d bytes held", fi, err, half)
	}
	f, err = c2.sftp.OpenFile("/cut.bin", os.O_WRONLY|os.O_CREATE)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data[half:], int64(half)); err != nil {
		t.Fatalf("write the rest at %d: %v", half, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close of the resumed upload: %v", err)
	}
	if got := fileMD5(t, filepath.Join(h, "cut.bin")); got != md5hex(data) {
		t.Errorf("cut.bin after the resume: md5 %s, want %s", got, md5hex(data))
	}
	if out, want := md5sumOf(t, c2.ssh, "/cut.bin"), md5hex(data)+"  /cut.bin\n"; out != want {
		t.Errorf("md5sum after the resume: %q, want %q", out, want)
	}
}

func TestShutdownLetsADownloadInProgressFinish(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, user, password, accounts.Unlimited)
	r := startSFTP(t, ts)
	c := dial(t, ts, r.addr)
	data := randomBytes(32, 1<<20+9)
	c.put(t, "/down.bin", data)

	f, err := c.sftp.Open("/down.bin")
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(data))
	if _, err := f.ReadAt(got[:chunk], 0); err != nil {
		t.Fatal(err)
	}
	res := r.shutdown(t, 20*time.Second)
	if n, err := f.ReadAt(got[chunk:], chunk); n != len(data)-chunk {
		t.Fatalf("reading the rest after Shutdown began: %d bytes, %v", n, err)
	}
	if md5hex(got) != md5hex(data) {
		t.Errorf("download across Shutdown: md5 %s, want %s", md5hex(got), md5hex(data))
	}
	if err := f.Close(); err != nil {
		t.Errorf("close of the download Shutdown waited for: %v; want nil", err)
	}
	wantShutdownDone(t, res, "last file was closed")
}

func TestShutdownLetsARunningMd5sumFinish(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, user, password, accounts.Unlimited)
	r := startSFTP(t, ts)
	c := dial(t, ts, r.addr)

	// md5sum with no path hashes standard input: it runs until the
	// client closes it.
	s, err := c.ssh.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stdin, err := s.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	s.Stdout = &out
	if err := s.Start("md5sum"); err != nil {
		t.Fatal(err)
	}
	if _, err := stdin.Write([]byte("hello ")); err != nil {
		t.Fatal(err)
	}
	res := r.shutdown(t, 20*time.Second)
	if _, err := stdin.Write([]byte("world")); err != nil {
		t.Fatalf("stdin of a running md5sum after Shutdown began: %v", err)
	}
	stdin.Close()
	err = s.Wait()
	if want := md5hex([]byte("hello world")) + "  -\n"; out.String() != want || err != nil {
		t.Errorf("md5sum across Shutdown: %q, %v; want %q and exit status 0", out.String(), err, want)
	}
	wantShutdownDone(t, res, "command ended")
}

// wantShutdownDone waits for Shutdown's result on res: nil, within 10 s
// of what it waited for (after).
func wantShutdownDone(t *testing.T, res <-chan error, after string) {
	t.Helper()
	select {
	case err := <-res:
		if err != nil {
			t.Errorf("Shutdown: %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return after the " + after)
	}
}
