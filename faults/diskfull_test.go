package faults

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/client"
	"ftpx/ftpxtest"
	"ftpx/internal/faultfs"
	"ftpx/protocol"
	"ftpx/server"
)

// faultyServer starts a server whose disk fails as faults plans, with the
// user alex (password pw).
func faultyServer(t *testing.T, faults *faultfs.Faults) *ftpxtest.Server {
	t.Helper()
	ts := ftpxtest.NewServer(t, func(s *server.Server) { s.Homes.Wrap = faults.Wrap })
	ts.AddUser(t, "alex", "pw", accounts.Unlimited)
	return ts
}

// connect logs in as alex with resume points under state, quick retries
// and the given rate cap.
func connect(t *testing.T, ts *ftpxtest.Server, state string, rate int64) *client.Client {
	t.Helper()
	c, err := client.Connect(context.Background(), client.Config{Addr: ts.Addr, User: "alex", Password: "pw",
		Retry:     client.RetryPolicy{Retries: 5, Delay: 10 * time.Millisecond},
		RateLimit: rate, Records: &client.Records{Dir: state}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// writeRandom writes n seeded random bytes to path and returns their MD5.
func writeRandom(t *testing.T, path string, n int) string {
	t.Helper()
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(n), byte(n >> 8)}).Read(b)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func md5File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// TestDiskFullMidPutStopsAtOnceKeepsTheResumePoint: the server's disk
// fills up under a big put. The client is told 286 while it still sends,
// stops sending, does not retry, exits 1 and keeps its resume point; the
// connection is replaced for what comes next; once there is room again,
// the same put resumes where the server stopped and the file is whole.
func TestDiskFullMidPutStopsAtOnceKeepsTheResumePoint(t *testing.T) {
	faults := faultfs.New(faultfs.Plan{Op: faultfs.Write, N: 3, Err: syscall.ENOSPC})
	ts := faultyServer(t, faults)
	work, state := t.TempDir(), t.TempDir()
	src := filepath.Join(work, "big.bin")
	const size = 32 << 20
	sum := writeRandom(t, src, size)
	c := connect(t, ts, state, 4<<20) // 8 s for the whole file: the refusal comes after 2 MiB

	ctx := context.Background()
	res, err := c.Put(ctx, src, "big.bin", nil)
	var se *client.StatusError
	if !errors.As(err, &se) || se.Status != protocol.StatusNoSpace || client.ExitCode(err) != client.ExitFailure || client.Retryable(err) {
		t.Fatalf("put on a full disk: %v (exit %d)", err, client.ExitCode(err))
	}
	if !strings.Contains(err.Error(), "put big.bin: 286 insufficient storage on the server (the disk filled up after") {
		t.Fatalf("message: %q", err)
	}
	if res.Sent >= size {
		t.Fatalf("sent all %d bytes after the server said its disk was full", res.Sent)
	}
	if n := strings.Count(ts.Log(), `msg="put failed"`); n != 1 {
		t.Fatalf("%d failed puts in the server log, want 1 (no retries)", n)
	}
	recs, _, _ := (&client.Records{Dir: state}).List()
	if len(recs) != 1 || recs[0].Direction != "put" {
		t.Fatalf("resume records after 286: %+v", recs)
	}
	// The same client goes on (on a new connection).
	if _, err := c.Ls(ctx, "/"); err != nil {
		t.Fatalf("ls after the 286: %v", err)
	}

	faults.Set() // space freed
	c.Close()
	c = connect(t, ts, state, 0) // another run of ftpx, at full speed
	res, err = c.Put(ctx, src, "big.bin", nil)
	if err != nil || res.Offset == 0 || res.MD5 != sum {
		t.Fatalf("put again once there is room: %+v %v", res, err)
	}
	if got := md5File(t, filepath.Join(ts.Home("alex"), "big.bin")); got != sum {
		t.Fatalf("stored md5 %s, want %s", got, sum)
	}
	if recs, _, _ := (&client.Records{Dir: state}).List(); len(recs) != 0 {
		t.Fatalf("records left after the resumed put: %d", len(recs))
	}
}

// TestIOErrorMidPutIsServerErrorNotRetried: an I/O error is 272, exit 1,
// no retry, and the partial goes (its bytes cannot be trusted).
func TestIOErrorMidPutIsServerErrorNotRetried(t *testing.T) {
	faults := faultfs.New(faultfs.Plan{Op: faultfs.Write, N: 2, Err: syscall.EIO})
	ts := faultyServer(t, faults)
	work, state := t.TempDir(), t.TempDir()
	src := filepath.Join(work, "f.bin")
	writeRandom(t, src, 5<<20)
	c := connect(t, ts, state, 0)
	_, err := c.Put(context.Background(), src, "f.bin", nil)
	var se *client.StatusError
	if !errors.As(err, &se) || se.Status != protocol.StatusServerError || client.ExitCode(err) != 1 {
		t.Fatalf("put with an I/O error: %v", err)
	}
	if n := strings.Count(ts.Log(), `msg="put failed"`); n != 1 {
		t.Fatalf("%d failed puts, want 1", n)
	}
	if recs, _, _ := (&client.Records{Dir: state}).List(); len(recs) != 0 {
		t.Fatalf("a resume record kept after 272: %d", len(recs))
	}
	ents, _ := os.ReadDir(filepath.Join(ts.Home("alex"), ".ftpx-partial"))
	if _, err := os.Stat(filepath.Join(ts.Home("alex"), "f.bin")); !os.IsNotExist(err) || len(ents) != 0 {
		t.Fatalf("after 272: final name %v, %d partial files", err, len(ents))
	}
}
