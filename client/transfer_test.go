package client_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ftpx/client"
	"ftpx/client/internal/fake"
	"ftpx/protocol"
)

// connect dials the fake and logs in as its demo user.
func connect(t *testing.T, s *fake.Server) *client.Client {
	t.Helper()
	ctx := context.Background()
	c, err := client.Dial(ctx, s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Auth(ctx, "demo", "secret"); err != nil {
		t.Fatal(err)
	}
	return c
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(n)})
	r.Read(b)
	return b
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func TestPutGetRoundTrip(t *testing.T) {
	for _, inHeader := range []bool{false, true} {
		for _, size := range []int{0, 1, 64<<10 - 1, 5 << 20} {
			s := fake.Start(t, func(s *fake.Server) { s.MD5InHeader = inHeader })
			c := connect(t, s)
			ctx := context.Background()
			dir := t.TempDir()
			data := randomBytes(size)
			src := filepath.Join(dir, "src.bin")
			if err := os.WriteFile(src, data, 0o644); err != nil {
				t.Fatal(err)
			}

			res, err := c.Put(ctx, src, "up.bin", nil)
			if err != nil {
				t.Fatalf("put %d bytes: %v", size, err)
			}
			if res.Size != int64(size) || res.Sent != int64(size) || res.MD5 != md5hex(data) || res.Action != "put" {
				t.Fatalf("put result %+v", res)
			}
			stored, _ := s.File("up.bin")
			if !bytes.Equal(stored, data) {
				t.Fatalf("server stored %d bytes, want %d", len(stored), size)
			}

			dst := filepath.Join(dir, "down.bin")
			res, err = c.Get(ctx, "up.bin", dst, nil)
			if err != nil {
				t.Fatalf("get %d bytes (md5 in header %v): %v", size, inHeader, err)
			}
			got, err := os.ReadFile(dst)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != size || md5hex(got) != md5hex(data) || res.MD5 != md5hex(data) || res.Size != int64(size) {
				t.Fatalf("get: %d bytes md5 %s, result %+v; want %d bytes md5 %s", len(got), md5hex(got), res, size, md5hex(data))
			}
			assertNoPartials(t, dir)
		}
	}
}

type countingProgress struct {
	size, offset, n int64
	finished        bool
}

func (p *countingProgress) Start(size, offset int64) { p.size, p.offset = size, offset }
func (p *countingProgress) Add(n int)                { p.n += int64(n) }
func (p *countingProgress) Finish(error)             { p.finished = true }

// resumedProgress checks what a resumed transfer told its Progress: the
// offset it resumed at, then only the bytes it moved.
func resumedProgress(t *testing.T, p *countingProgress, res client.Result) {
	t.Helper()
	if p.size != res.Size || p.offset != res.Offset || p.offset == 0 || p.n != res.Sent || !p.finished {
		t.Errorf("progress %+v; want size %d, offset %d, %d bytes added, finished", *p, res.Size, res.Offset, res.Sent)
	}
}

func TestProgressSeesEveryByte(t *testing.T) {
	s := fake.Start(t)
	c := connect(t, s)
	data := randomBytes(1<<20 + 3)
	src := filepath.Join(t.TempDir(), "f")
	os.WriteFile(src, data, 0o644)
	var up, down countingProgress
	if _, err := c.Put(context.Background(), src, "f", &up); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(context.Background(), "f", src+".back", &down); err != nil {
		t.Fatal(err)
	}
	for _, p := range []countingProgress{up, down} {
		if p.size != int64(len(data)) || p.n != p.size || !p.finished {
			t.Fatalf("progress %+v, want %d bytes and finished", p, len(data))
		}
	}
}

func assertNoPartials(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".ftpx-part-") {
			t.Errorf("partial left behind: %s", e.Name())
		}
	}
}

func TestGetWithWrongMD5KeepsNothing(t *testing.T) {
	for _, inHeader := range []bool{false, true} {
		s := fake.Start(t, func(s *fake.Server) { s.LieMD5, s.MD5InHeader = true, inHeader })
		s.WriteFile("f.txt", []byte("the server's bytes"))
		c := connect(t, s)
		dir := t.TempDir()

		fresh := filepath.Join(dir, "fresh.txt")
		_, err := c.Get(context.Background(), "f.txt", fresh, nil)
		if code := client.ExitCode(err); code != client.ExitMD5 {
			t.Fatalf("get with a lying server: err %v, exit %d, want 6", err, code)
		}
		if _, err := os.Stat(fresh); !os.IsNotExist(err) {
			t.Fatalf("a file was left under the final name: %v", err)
		}

		old := filepath.Join(dir, "old.txt")
		os.WriteFile(old, []byte("keep me"), 0o644)
		_, err = c.Get(context.Background(), "f.txt", old, nil)
		if client.ExitCode(err) != client.ExitMD5 {
			t.Fatalf("second get: %v", err)
		}
		if b, _ := os.ReadFile(old); string(b) != "keep me" {
			t.Fatalf("existing local file changed to %q", b)
		}
		assertNoPartials(t, dir)

		// The connection is still in step after a mismatch.
		if _, err := c.Pwd(context.Background()); err != nil {
			t.Fatalf("pwd after mismatch: %v", err)
		}
	}
}

func TestGetMissingRemoteLeavesNothing(t *testing.T) {
	s := fake.Start(t)
	c := connect(t, s)
	dir := t.TempDir()
	_, err := c.Get(context.Background(), "nope.txt", filepath.Join(dir, "nope.txt"), nil)
	var se *client.StatusError
	if !errorAs(err, &se) || se.Status != protocol.StatusNotExist || client.ExitCode(err) != 1 {
		t.Fatalf("err %v, want 256 and exit 1", err)
	}
	if got := err.Error(); got != "get nope.txt: 256 file does not exist" {
		t.Fatalf("error text %q", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left %v", entries)
	}
}

func TestPutOverQuotaRefusedBeforeBody(t *testing.T) {
	s := fake.Start(t, func(s *fake.Server) { s.Quota, s.CloseAfterRefusal = 1<<10, true })
	c := connect(t, s)
	src := filepath.Join(t.TempDir(), "big.iso")
	os.WriteFile(src, randomBytes(1<<20), 0o644)

	_, err := c.Put(context.Background(), src, "big.iso", nil)
	if code := client.ExitCode(err); code != client.ExitQuota {
		t.Fatalf("err %v, exit %d, want 5", err, code)
	}
	if !strings.HasPrefix(err.Error(), "put big.iso: 264 quota exceeded") {
		t.Fatalf("error text %q", err)
	}
	s.Close() // waits for the fake to finish watching the connection
	if n := s.Stray(); n != 0 {
		t.Fatalf("the client sent %d bytes after the refusal", n)
	}
	if _, ok := s.File("big.iso"); ok {
		t.Fatal("the refused file was stored")
	}
}

func TestPutRefusalKeepsConnectionUsable(t *testing.T) {
	s := fake.Start(t, func(s *fake.Server) { s.Quota = 10 })
	c := connect(t, s)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "big"), make([]byte, 100), 0o644)
	os.WriteFile(filepath.Join(dir, "small"), []byte("ok"), 0o644)
	if _, err := c.Put(context.Background(), filepath.Join(dir, "big"), "big", nil); client.ExitCode(err) != 5 {
		t.Fatalf("big: %v", err)
	}
	if _, err := c.Put(context.Background(), filepath.Join(dir, "small"), "small", nil); err != nil {
		t.Fatalf("small after a refusal: %v", err)
	}
}

func TestCancelledGetLeavesNoPartial(t *testing.T) {
	s := fake.Start(t)
	s.WriteFile("f", []byte("data"))
	c := connect(t, s)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Get(ctx, "f", filepath.Join(dir, "f"), nil); err == nil {
		t.Fatal("get with a cancelled context succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left %v", entries)
	}
}

func TestServerGivingUpMidPutExits3(t *testing.T) {
	for _, size := range []int{100 << 10, 8 << 20} {
		s := fake.Start(t, func(s *fake.Server) { s.GiveUpPut = 64 << 10 })
		c := connect(t, s)
		src := filepath.Join(t.TempDir(), "f")
		os.WriteFile(src, randomBytes(size), 0o644)
		_, err := c.Put(context.Background(), src, "f", nil)
		if code := client.ExitCode(err); code != client.ExitConnection {
			t.Fatalf("%d bytes: err %v, exit %d, want 3", size, err, code)
		}
		t.Logf("%d bytes: %v", size, err)
		if _, err := c.Pwd(context.Background()); err == nil {
			t.Fatal("the connection is still used after the server gave up")
		}
	}
}
