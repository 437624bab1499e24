package client_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ftpx/client"
	"ftpx/client/internal/fake"
)

// notices collects what a client says on its own.
type notices struct {
	mu   sync.Mutex
	msgs []string
}

func (n *notices) add(m string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.msgs = append(n.msgs, m)
}

func (n *notices) has(part string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, m := range n.msgs {
		if strings.Contains(m, part) {
			return true
		}
	}
	return false
}

// resumable connects to the fake with resume points under state and fast
// retries.
func resumable(t *testing.T, s *fake.Server, state string, retries int, n *notices) *client.Client {
	t.Helper()
	cfg := client.Config{Addr: s.Addr, User: "demo", Password: "secret",
		Retry:   client.RetryPolicy{Retries: retries, Delay: time.Millisecond},
		Records: &client.Records{Dir: state}}
	if n != nil {
		cfg.Notice = n.add
	}
	c, err := client.Connect(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func pendingRecords(t *testing.T, state string) int {
	t.Helper()
	recs, bad, err := (&client.Records{Dir: state}).List()
	if err != nil || len(bad) > 0 {
		t.Fatalf("records: %v %v", err, bad)
	}
	return len(recs)
}

func TestPutReconnectsAndResumesByItself(t *testing.T) {
	s := fake.Start(t, func(s *fake.Server) { s.CutEvery = 300 << 10; s.Busy = 2 })
	state := t.TempDir()
	c := resumable(t, s, state, 3, nil)
	data := randomBytes(2<<20 + 17)
	src := filepath.Join(t.TempDir(), "big.bin")
	os.WriteFile(src, data, 0o644)

	res, err := c.Put(context.Background(), src, "big.bin", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.File("big.bin"); !bytes.Equal(got, data) {
		t.Fatal("stored file differs")
	}
	// Sent counts what was written to the connections, some of which the
	// cuts lost; the fake received each byte once.
	if res.Offset != 0 || res.Sent < int64(len(data)) || res.MD5 != md5hex(data) {
		t.Fatalf("result %+v", res)
	}
	if s.Conns() < 7 || s.BodyBytes() != int64(len(data)) {
		t.Fatalf("%d connections, %d body bytes; want at least 7 and exactly the file", s.Conns(), s.BodyBytes())
	}
	if n := pendingRecords(t, state); n != 0 {
		t.Fatalf("%d records left after success", n)
	}
}

func TestGetReconnectsAndResumesByItself(t *testing.T) {
	for _, inHeader := range []bool{false, true} {
		s := fake.Start(t, func(s *fake.Server) { s.CutEvery = 300 << 10; s.MD5InHeader = inHeader })
		data := randomBytes(1<<20 + 5)
		s.WriteFile("big.bin", data)
		state, dir := t.TempDir(), t.TempDir()
		c := resumable(t, s, state, 3, nil)
		dst := filepath.Join(dir, "big.bin")
		res, err := c.Get(context.Background(), "big.bin", dst, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) || res.MD5 != md5hex(data) || res.Sent != int64(len(data)) {
			t.Fatalf("got %d bytes, result %+v", len(got), res)
		}
		if s.Conns() < 4 || s.BodyBytes() != int64(len(data)) {
			t.Fatalf("%d connections, %d body bytes", s.Conns(), s.BodyBytes())
		}
		assertNoPartials(t, dir)
		if n := pendingRecords(t, state); n != 0 {
			t.Fatalf("%d records left after success", n)
		}
	}
}

func TestRetriesRunOutExit3AndKeepResumePoint(t *testing.T) {
	s := fake.Start(t, func(s *fake.Server) { s.CutEvery = 64 << 10 })
	state := t.TempDir()
	c := resumable(t, s, state, 3, nil)
	s.StopAccepting()
	src := filepath.Join(t.TempDir(), "f")
	os.WriteFile(src, randomBytes(1<<20), 0o644)
	_, err := c.Put(context.Background(), src, "f", nil)
	if client.ExitCode(err) != client.ExitConnection || !strings.Contains(err.Error(), "gave up after 3 retries") {
		t.Fatalf("err %v (exit %d), want exit 3 after 3 retries", err, client.ExitCode(err))
	}
	if n := pendingRecords(t, state); n != 1 {
		t.Fatalf("%d records, want the interrupted put's", n)
	}
}

func TestRefusalsAreNotRetried(t *testing.T) {
	s := fake.Start(t, func(s *fake.Server) { s.Quota = 10 })
	c := resumable(t, s, t.TempDir(), 5, nil)
	src := filepath.Join(t.TempDir(), "f")
	os.WriteFile(src, randomBytes(100), 0o644)
	if _, err := c.Put(context.Background(), src, "f", nil); client.ExitCode(err) != client.ExitQuota {
		t.Fatalf("err %v", err)
	}
	if _, err := c.Get(context.Background(), "missing", filepath.Join(t.TempDir(), "m"), nil); client.ExitCode(err) != 1 {
		t.Fatalf("err %v", err)
	}
	if n := s.Conns(); n != 1 {
		t.Fatalf("%d connections: a refusal was retried", n)
	}
}

// interruptedPut leaves a put of data cut after cut bytes, with its resume
// point under state, as a client killed mid-way would.
func interruptedPut(t *testing.T, s *fake.Server, state, src, remote string, cut int64) {
	t.Helper()
	s.SetCutEvery(cut)
	c := resumable(t, s, state, 0, nil)
	if _, err := c.Put(context.Background(), src, remote, nil); client.ExitCode(err) != client.ExitConnection {
		t.Fatalf("interrupted put: %v", err)
	}
	s.SetCutEvery(0)
}

func TestPutRerunResumesFromServerPartial(t *testing.T) {
	s := fake.Start(t)
	state := t.TempDir()
	data := randomBytes(3 << 20)
	src := filepath.Join(t.TempDir(), "big.iso")
	os.WriteFile(src, data, 0o644)
	interruptedPut(t, s, state, src, "big.iso", 1<<20+123)
	if n := pendingRecords(t, state); n != 1 {
		t.Fatalf("%d records after the interruption", n)
	}

	var n notices
	var p countingProgress
	res, err := resumable(t, s, state, 0, &n).Put(context.Background(), src, "big.iso", &p)
	if err != nil {
		t.Fatal(err)
	}
	if res.Offset != 1<<20+123 || res.Sent != int64(len(data))-res.Offset || res.MD5 != md5hex(data) {
		t.Fatalf("result %+v", res)
	}
	resumedProgress(t, &p, res)
	if got, _ := s.File("big.iso"); !bytes.Equal(got, data) {
		t.Fatal("stored file differs")
	}
	if len(n.msgs) != 0 || pendingRecords(t, state) != 0 {
		t.Fatalf("notices %q, %d records", n.msgs, pendingRecords(t, state))
	}
}

func TestPutRerunStartsOverWhenSourceChanged(t *testing.T) {
	s := fake.Start(t)
	state := t.TempDir()
	src := filepath.Join(t.TempDir(), "big.iso")
	os.WriteFile(src, randomBytes(2<<20), 0o644)
	interruptedPut(t, s, state, src, "big.iso", 1<<20)

	changed := bytes.Repeat([]byte("new"), 1<<20)
	os.WriteFile(src, changed, 0o644)
	var n notices
	res, err := resumable(t, s, state, 0, &n).Put(context.Background(), src, "big.iso", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !n.has("put big.iso: source changed since the interrupted transfer; starting over") || res.Offset != 0 {
		t.Fatalf("notices %q, result %+v", n.msgs, res)
	}
	if got, _ := s.File("big.iso"); !bytes.Equal(got, changed) {
		t.Fatal("stored file is not the new one")
	}
}

func TestPutRerunStartsOverWhenServerPartialDiffers(t *testing.T) {
	s := fake.Start(t)
	state := t.TempDir()
	src := filepath.Join(t.TempDir(), "f")
	data := randomBytes(2 << 20)
	os.WriteFile(src, data, 0o644)
	fi, _ := os.Stat(src)
	interruptedPut(t, s, state, src, "f", 1<<20)

	// Same size and mtime, other bytes in the prefix the server holds.
	data[10] ^= 0xff
	os.WriteFile(src, data, 0o644)
	os.Chtimes(src, fi.ModTime(), fi.ModTime())
	var n notices
	res, err := resumable(t, s, state, 0, &n).Put(context.Background(), src, "f", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !n.has("differs from the local file; starting over") || res.Offset != 0 {
		t.Fatalf("notices %q, result %+v", n.msgs, res)
	}
	if got, _ := s.File("f"); !bytes.Equal(got, data) {
		t.Fatal("stored file differs")
	}
}

func TestCorruptRecordStartsOver(t *testing.T) {
	for _, damage := range []func([]byte) []byte{
		func(b []byte) []byte { return b[:len(b)/2] },                                        // truncated
		func(b []byte) []byte { return bytes.Replace(b, []byte(`"put"`), []byte(`"x"`), 1) }, // nonsense
		func([]byte) []byte { return nil },                                                   // empty
	} {
		s := fake.Start(t)
		state := t.TempDir()
		src := filepath.Join(t.TempDir(), "f")
		data := randomBytes(2 << 20)
		os.WriteFile(src, data, 0o644)
		interruptedPut(t, s, state, src, "f", 1<<20)
		files, _ := filepath.Glob(filepath.Join(state, "*.json"))
		if len(files) != 1 {
			t.Fatalf("record files %q", files)
		}
		b, _ := os.ReadFile(files[0])
		os.WriteFile(files[0], damage(b), 0o600)

		var n notices
		res, err := resumable(t, s, state, 0, &n).Put(context.Background(), src, "f", nil)
		if err != nil {
			t.Fatal(err)
		}
		if !n.has("resume record unreadable") || res.Offset != 0 {
			t.Fatalf("notices %q, result %+v", n.msgs, res)
		}
		if got, _ := s.File("f"); !bytes.Equal(got, data) {
			t.Fatal("stored file differs")
		}
		if pendingRecords(t, state) != 0 {
			t.Fatal("record left")
		}
	}
}

// interruptedGet leaves a get cut after cut bytes, with its partial and
// resume point, as a client killed mid-way would.
func interruptedGet(t *testing.T, s *fake.Server, state, remote, dst string, cut int64) {
	t.Helper()
	s.SetCutEvery(cut)
	c := resumable(t, s, state, 0, nil)
	if _, err := c.Get(context.Background(), remote, dst, nil); client.ExitCode(err) != client.ExitConnection {
		t.Fatalf("interrupted get: %v", err)
	}
	s.SetCutEvery(0)
	if _, err := os.Stat(dst); err == nil {
		t.Fatal("an interrupted get left a file under its final name")
	}
}

func TestGetRerunResumesFromSavedHashState(t *testing.T) {
	s := fake.Start(t)
	data := randomBytes(3<<20 + 1)
	s.WriteFile("big.bin", data)
	state, dir := t.TempDir(), t.TempDir()
	dst := filepath.Join(dir, "big.bin")
	interruptedGet(t, s, state, "big.bin", dst, 2<<20+7)

	var n notices
	var p countingProgress
	res, err := resumable(t, s, state, 0, &n).Get(context.Background(), "big.bin", dst, &p)
	if err != nil {
		t.Fatal(err)
	}
	if res.Offset != 2<<20+7 || res.Sent != int64(len(data))-res.Offset || res.MD5 != md5hex(data) {
		t.Fatalf("result %+v", res)
	}
	resumedProgress(t, &p, res)
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Fatal("downloaded file differs")
	}
	assertNoPartials(t, dir)
	if len(n.msgs) != 0 || pendingRecords(t, state) != 0 {
		t.Fatalf("notices %q", n.msgs)
	}
}

func TestGetRerunStartsOverWhenRemoteChanged(t *testing.T) {
	s := fake.Start(t)
	s.WriteFile("f", randomBytes(2<<20))
	state, dir := t.TempDir(), t.TempDir()
	dst := filepath.Join(dir, "f")
	interruptedGet(t, s, state, "f", dst, 1<<20)

	changed := bytes.Repeat([]byte("x"), 2<<20) // same size, later mtime
	s.WriteFile("f", changed)
	var n notices
	res, err := resumable(t, s, state, 0, &n).Get(context.Background(), "f", dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !n.has("get f: source changed since the interrupted transfer; starting over") || res.Offset != 0 {
		t.Fatalf("notices %q, result %+v", n.msgs, res)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, changed) {
		t.Fatal("downloaded file is not the new one")
	}
	assertNoPartials(t, dir)
}

func TestGetWithCorruptRecordOrMissingPartialStartsOver(t *testing.T) {
	for _, spoil := range []string{"record", "partial", "short partial"} {
		s := fake.Start(t)
		data := randomBytes(2 << 20)
		s.WriteFile("f", data)
		state, dir := t.TempDir(), t.TempDir()
		dst := filepath.Join(dir, "f")
		interruptedGet(t, s, state, "f", dst, 1<<20)
		parts, _ := filepath.Glob(filepath.Join(dir, ".f.ftpx-part-*"))
		records, _ := filepath.Glob(filepath.Join(state, "*.json"))
		if len(parts) != 1 || len(records) != 1 {
			t.Fatalf("partials %q, records %q", parts, records)
		}
		switch spoil {
		case "record":
			os.WriteFile(records[0], []byte(`{"version":1,"id":`), 0o600)
		case "partial":
			os.Remove(parts[0])
		case "short partial":
			os.Truncate(parts[0], 100)
		}
		var n notices
		res, err := resumable(t, s, state, 0, &n).Get(context.Background(), "f", dst, nil)
		if err != nil {
			t.Fatalf("%s: %v", spoil, err)
		}
		if len(n.msgs) != 1 || !strings.Contains(n.msgs[0], "starting over") || res.Offset != 0 {
			t.Fatalf("%s: notices %q, result %+v", spoil, n.msgs, res)
		}
		if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
			t.Fatalf("%s: downloaded file differs", spoil)
		}
		assertNoPartials(t, dir)
		if pendingRecords(t, state) != 0 {
			t.Fatalf("%s: record left", spoil)
		}
	}
}

func TestResumeAllFinishesRecordedTransfers(t *testing.T) {
	s := fake.Start(t)
	state, dir := t.TempDir(), t.TempDir()
	up := randomBytes(2 << 20)
	src := filepath.Join(dir, "up.bin")
	os.WriteFile(src, up, 0o644)
	down := randomBytes(2<<20 + 1)
	s.WriteFile("down.bin", down)
	interruptedPut(t, s, state, src, "up.bin", 1<<20)
	interruptedGet(t, s, state, "down.bin", filepath.Join(dir, "down.bin"), 1<<20)

	recs, others, bad, err := (&client.Records{Dir: state}).Pending(s.Addr, "demo")
	if err != nil || len(recs) != 2 || others != 0 || len(bad) != 0 {
		t.Fatalf("pending %v %d %v %v", recs, others, bad, err)
	}
	var done []client.Result
	err = resumable(t, s, state, 0, nil).ResumeAll(context.Background(), recs, client.TransferOptions{Done: func(r client.Result) { done = append(done, r) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 2 || done[0].Offset != 1<<20 || done[1].Offset != 1<<20 {
		t.Fatalf("results %+v", done)
	}
	if got, _ := s.File("up.bin"); !bytes.Equal(got, up) {
		t.Fatal("put differs")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "down.bin")); !bytes.Equal(got, down) {
		t.Fatal("get differs")
	}
	if pendingRecords(t, state) != 0 {
		t.Fatal("records left")
	}
}

func TestRateLimitBothWays(t *testing.T) {
	s := fake.Start(t)
	cfg := client.Config{Addr: s.Addr, User: "demo", Password: "secret", RateLimit: 4 << 20}
	c, err := client.Connect(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	src := filepath.Join(t.TempDir(), "f")
	os.WriteFile(src, randomBytes(1<<20), 0o644)
	start := time.Now()
	if _, err := c.Put(context.Background(), src, "f", nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("1 MiB put at 4 MiB/s took %v", d)
	}
	start = time.Now()
	if _, err := c.Get(context.Background(), "f", src+".back", nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("1 MiB get at 4 MiB/s took %v", d)
	}
}

func TestServerWithoutResumeStillWorks(t *testing.T) {
	s := fake.Start(t, func(s *fake.Server) { s.NoResume = true; s.CutEvery = 512 << 10 })
	c := resumable(t, s, t.TempDir(), 5, nil)
	data := randomBytes(1 << 20)
	src := filepath.Join(t.TempDir(), "f")
	os.WriteFile(src, data, 0o644)
	// Every attempt starts over and is cut half-way: no progress, so the
	// retries run out.
	if _, err := c.Put(context.Background(), src, "f", nil); client.ExitCode(err) != client.ExitConnection {
		t.Fatalf("err %v", err)
	}
	s.SetCutEvery(0)
	if _, err := c.Put(context.Background(), src, "f", nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.File("f"); !bytes.Equal(got, data) {
		t.Fatal("stored file differs")
	}
}

func TestInterruptedGetKeepsPartialAndResumePoint(t *testing.T) {
	s := fake.Start(t)
	data := randomBytes(2 << 20)
	s.WriteFile("f", data)
	state, dir := t.TempDir(), t.TempDir()
	cfg := client.Config{Addr: s.Addr, User: "demo", Password: "secret", RateLimit: 4 << 20,
		Records: &client.Records{Dir: state}}
	c, err := client.Connect(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.Get(ctx, "f", filepath.Join(dir, "f"), nil); err == nil {
		t.Fatal("get finished despite the deadline")
	}
	recs, _, _ := (&client.Records{Dir: state}).List()
	if len(recs) != 1 || recs[0].Offset <= 0 {
		t.Fatalf("records after an interrupted get: %+v", recs)
	}
	if fi, err := os.Stat(recs[0].Partial); err != nil || fi.Size() < recs[0].Offset {
		t.Fatalf("partial: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "f")); err == nil {
		t.Fatal("an incomplete file is under the final name")
	}
}
