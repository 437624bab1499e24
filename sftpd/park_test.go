package sftpd_test

import (
	"bytes"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/sftpd"
)

// shortPark makes request servers stop after d with nothing open, for
// one test.
func shortPark(t *testing.T, d time.Duration) {
	t.Cleanup(sftpd.SetParkAfter(d))
}

// requestServers counts the pkg/sftp request servers running in this
// process, and the sessions waiting for a request with none: parked ones
// on the goroutine that reads ahead, the one that served them gone.
func requestServers() (running, parked int) {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	dump := string(buf)
	parked = strings.Count(dump, "sftpd.(*stream).readAhead(")
	if strings.Contains(dump, "sftpd.(*stream).wait(") {
		parked = -1 // a goroutine that served requests still waits
	}
	return strings.Count(dump, "sftp.(*RequestServer).Serve("), parked
}

// An idle session's request server stops (with it a dozen goroutines),
// and the next request starts another: every kind of request still works
// after a pause, on handles opened after it and across it, and a session
// with a file open keeps its request server.
func TestIdleSessionsStopTheirRequestServer(t *testing.T) {
	shortPark(t, 50*time.Millisecond)
	ts, addr := setup(t, accounts.Unlimited)
	const n = 10
	var conns []*conn
	for i := 0; i < n; i++ {
		c := dial(t, ts, addr)
		if _, err := c.sftp.Stat("/"); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	waitFor(t, "the idle sessions' request servers to stop", func() bool {
		running, parked := requestServers()
		return running == 0 && parked == n
	})

	c := conns[0]
	data := randomBytes(30, 3<<20+5)
	c.put(t, "/a.bin", data)
	time.Sleep(200 * time.Millisecond)
	if fi, err := c.sftp.Stat("/a.bin"); err != nil || fi.Size() != int64(len(data)) {
		t.Fatalf("stat after a pause: %v, %v", fi, err)
	}
	if got := fileMD5(t, filepath.Join(ts.Home(user), "a.bin")); got != md5hex(data) {
		t.Fatalf("a.bin: md5 %s, want %s", got, md5hex(data))
	}
	// A handle open across a pause keeps the request server: the file is
	// written on after it and read back whole.
	f, err := c.sftp.Create("/b.bin")
	if err != nil {
		t.Fatal(err)
	}
	f.Write(data[:1<<20])
	time.Sleep(200 * time.Millisecond)
	if running, _ := requestServers(); running != 1 {
		t.Errorf("%d request servers running with a file open on one session, want 1", running)
	}
	f.Write(data[1<<20:])
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync after a pause with the file open: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	r, err := c.sftp.Open("/b.bin")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("b.bin read back after pauses: %d bytes, %v", len(got), err)
	}
	time.Sleep(200 * time.Millisecond)
	if names, err := c.sftp.ReadDir("/"); err != nil || len(names) != 2 {
		t.Fatalf("list after a pause: %v, %v", names, err)
	}
	// Every other session still answers after its pause.
	for i, c := range conns[1:] {
		if _, err := c.sftp.Stat("/a.bin"); err != nil {
			t.Errorf("session %d after its pause: %v", i+1, err)
		}
	}
	waitFor(t, "every request server to stop again", func() bool {
		running, parked := requestServers()
		return running == 0 && parked == n
	})
}
