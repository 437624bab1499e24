package ftpd_test

import (
	"io"
	"strings"
	"syscall"
	"testing"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/internal/faultfs"
	"ftpx/server"
)

// TestStorOnAFullDisk452: a disk that fills up under a STOR is 452 (not
// 426), what arrived is kept to resume, and the session goes on.
func TestStorOnAFullDisk452(t *testing.T) {
	faults := faultfs.New(faultfs.Plan{Op: faultfs.Write, N: 2, Err: syscall.ENOSPC})
	ts, addr := setup(t, accounts.Unlimited, nil, ftpxtest.Option(func(s *server.Server) { s.Homes.Wrap = faults.Wrap }))
	rc, _, _ := dialRaw(t, addr)
	rc.login("alex", "pw")
	rc.cmd("TYPE I")
	data := rc.pasv()
	if code, text := rc.cmd("STOR big.bin"); code != 150 && code != 125 {
		t.Fatalf("STOR: %d %s", code, text)
	}
	io.Copy(data, io.LimitReader(zeros{}, 5<<20)) // the server stops reading once its disk is full
	data.Close()
	if code, text := rc.read(); code != 452 || !strings.Contains(text, "kept") {
		t.Fatalf("STOR on a full disk: %d %s, want 452", code, text)
	}
	if held := partialBytes(t, ts.Home("alex")); held <= 0 {
		t.Fatalf("the partial was not kept (%d bytes)", held)
	}
	if code, text := rc.cmd("PWD"); code != 257 {
		t.Fatalf("PWD after the 452: %d %s", code, text)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
