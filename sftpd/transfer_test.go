package sftpd_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"ftpx/accounts"

	"github.com/pkg/sftp"
)

// chunk is the size of one SFTP write, as OpenSSH and pkg/sftp send them.
const chunk = 32 << 10

func TestPutThenGetKeepsBytesAndMd5sumAnswersStoredMD5(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited)
	// Concurrent writes: 64 requests in flight, which the request server
	// runs on several goroutines, so some reach the server out of order.
	c := dial(t, ts, addr, sftp.UseConcurrentWrites(true))
	data := randomBytes(1, 3<<20)
	c.put(t, "/f.bin", data)

	got := c.get(t, "/f.bin")
	if !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes (md5 %s), want %d (md5 %s)", len(got), md5hex(got), len(data), md5hex(data))
	}
	if disk := fileMD5(t, filepath.Join(ts.Home(user), "f.bin")); disk != md5hex(data) {
		t.Errorf("on disk: md5 %s, want %s", disk, md5hex(data))
	}
	if fi, err := c.sftp.Stat("/f.bin"); err != nil || fi.Size() != int64(len(data)) || !fi.Mode().IsRegular() {
		t.Errorf("stat: %v, %v; want a regular file of %d bytes", fi, err, len(data))
	}
	if out, want := md5sumOf(t, c.ssh, "/f.bin"), md5hex(data)+"  /f.bin\n"; out != want {
		t.Errorf("md5sum: got %q, want %q", out, want)
	}
}

func TestWritesOutOfOrderWithin16MiBAreAssembled(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited)
	c := dial(t, ts, addr)
	data := randomBytes(2, 4<<20+1234) // 129 writes, the last one short
	n := (len(data) + chunk - 1) / chunk

	f, err := c.sftp.Create("/shuffled.bin")
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range rand.New(rand.NewPCG(2, 3)).Perm(n) {
		off := i * chunk
		p := data[off:min(off+chunk, len(data))]
		if w, err := f.WriteAt(p, int64(off)); err != nil || w != len(p) {
			t.Fatalf("write of %d bytes at %d: wrote %d, %v", len(p), off, w, err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	disk, err := os.ReadFile(filepath.Join(ts.Home(user), "shuffled.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(disk, data) {
		t.Fatalf("on disk: %d bytes, md5 %s; want %d, md5 %s", len(disk), md5hex(disk), len(data), md5hex(data))
	}
	if out, want := md5sumOf(t, c.ssh, "/shuffled.bin"), md5hex(data)+"  /shuffled.bin\n"; out != want {
		t.Errorf("md5sum: got %q, want %q (the MD5 stored must be the file's, not the order of arrival's)", out, want)
	}
	if held := partialBytes(t, ts.Home(user)); held != 0 {
		t.Errorf("%d bytes left in partials", held)
	}
}

func TestWriteMoreThan16MiBAheadFailsAndNothingIsNamed(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited)
	c := dial(t, ts, addr)
	p := randomBytes(3, chunk)

	f, err := c.sftp.Create("/sparse.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(p, 0); err != nil {
		t.Fatalf("first write: %v", err)
	}
	// The contiguous data ends at 32 KiB; this write starts 16 MiB + 1
	// byte past that.
	far := int64(chunk + 16<<20 + 1)
	_, err = f.WriteAt(p, far)
	wantCode(t, "write 16 MiB + 1 past the contiguous data", err, fxFailure)
	cerr := f.Close()
	if cerr == nil {
		t.Errorf("close of an upload with a refused write succeeded")
	}

	if _, err := os.Lstat(filepath.Join(ts.Home(user), "sparse.bin")); !os.IsNotExist(err) {
		t.Errorf("sparse.bin is on disk after a refused upload (lstat: %v)", err)
	}
	_, err = c.sftp.Open("/sparse.bin")
	wantCode(t, "open the refused upload for reading", err, fxNoSuchFile)
	infos, err := c.sftp.ReadDir("/")
	if err != nil {
		t.Fatal(err)
	}
	for _, fi := range infos {
		t.Errorf("listed after a refused upload: %s (%d bytes)", fi.Name(), fi.Size())
	}
}

func TestWritesHeldBehindAGapBoundedAt16MiB(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited)
	c := dial(t, ts, addr)
	p := randomBytes(13, chunk)

	// The first 32 KiB never come: every later write is held. 512 of
	// them are 16 MiB; the 513th is one too many.
	f, err := c.sftp.Create("/gap.bin")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 16<<20/chunk; i++ {
		if _, err := f.WriteAt(p, int64(i*chunk)); err != nil {
			t.Fatalf("write %d held behind the gap (%d bytes held): %v", i, (i-1)*chunk, err)
		}
	}
	_, err = f.WriteAt(p, int64((16<<20/chunk+1)*chunk))
	wantCode(t, "a write past 16 MiB held behind a gap", err, fxFailure)
	if err := f.Close(); err == nil {
		t.Errorf("close of an upload with a gap succeeded")
	}
	if _, err := os.Lstat(filepath.Join(ts.Home(user), "gap.bin")); !os.IsNotExist(err) {
		t.Errorf("gap.bin is on disk (lstat: %v)", err)
	}
	if held := partialBytes(t, ts.Home(user)); held != 0 {
		t.Errorf("partials hold %d bytes of an upload that got nothing in order", held)
	}
}

// cutUpload uploads data[:n] to name in order on a connection of its own,
// then closes that connection's TCP socket under it, as a network failure
// would, and waits until the server holds the n bytes for the name (a
// stat of the name reports them).
func cutUpload(t *testing.T, c *conn, name string, data []byte, n int, other *conn) {
	t.Helper()
	f, err := c.sftp.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	// Sequential writes: each returns once the server has taken it.
	if w, err := f.WriteAt(data[:n], 0); err != nil || w != n {
		t.Fatalf("write of the first %d bytes: wrote %d, %v", n, w, err)
	}
	c.tcp.Close()
	waitFor(t, name+" held at "+strconv.Itoa(n), func() bool {
		fi, err := other.sftp.Stat(name)
		return err == nil && fi.Size() == int64(n)
	})
}

func TestCutUploadResumes(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited)
	h := ts.Home(user)
	data := randomBytes(4, 4<<20+777)
	half := 2 << 20

	t.Run("reopen without O_TRUNC continues at the held offset", func(t *testing.T) {
		c := dial(t, ts, addr)
		cutUpload(t, dial(t, ts, addr), "/big.bin", data, half, c)
		if _, err := os.Lstat(filepath.Join(h, "big.bin")); !os.IsNotExist(err) {
			t.Errorf("a cut upload is on disk under its name (lstat: %v)", err)
		}
		if held := partialBytes(t, h); held != int64(half) {
			t.Errorf("partials hold %d bytes, want %d", held, half)
		}

		fi, err := c.sftp.Stat("/big.bin")
		if err != nil {
			t.Fatal(err)
		}
		f, err := c.sftp.OpenFile("/big.bin", os.O_WRONLY|os.O_CREATE)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt(data[fi.Size():], fi.Size()); err != nil {
			t.Fatalf("write the rest at %d: %v", fi.Size(), err)
		}
		if err := f.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		if got := c.get(t, "/big.bin"); md5hex(got) != md5hex(data) {
			t.Errorf("resumed file: %d bytes, md5 %s; want %d, md5 %s", len(got), md5hex(got), len(data), md5hex(data))
		}
		if out, want := md5sumOf(t, c.ssh, "/big.bin"), md5hex(data)+"  /big.bin\n"; out != want {
			t.Errorf("md5sum: got %q, want %q", out, want)
		}
		if held := partialBytes(t, h); held != 0 {
			t.Errorf("%d bytes left in partials after the resume", held)
		}
	})

	t.Run("a fresh O_TRUNC upload after a cut starts over", func(t *testing.T) {
		c := dial(t, ts, addr)
		cutUpload(t, dial(t, ts, addr), "/again.bin", data, half, c)
		other := randomBytes(5, 1<<20+3)
		c.put(t, "/again.bin", other)
		if got := c.get(t, "/again.bin"); !bytes.Equal(got, other) {
			t.Errorf("after the O_TRUNC upload: %d bytes, md5 %s; want %d, md5 %s", len(got), md5hex(got), len(other), md5hex(other))
		}
		if out, want := md5sumOf(t, c.ssh, "/again.bin"), md5hex(other)+"  /again.bin\n"; out != want {
			t.Errorf("md5sum: got %q, want %q", out, want)
		}
		if held := partialBytes(t, h); held != 0 {
			t.Errorf("%d bytes left in partials: the cut upload's bytes were not dropped", held)
		}
	})

	t.Run("a rewrite from offset 0 without O_TRUNC starts over", func(t *testing.T) {
		c := dial(t, ts, addr)
		cutUpload(t, dial(t, ts, addr), "/rewrite.bin", data, half, c)
		other := randomBytes(6, 3<<20+5)
		f, err := c.sftp.OpenFile("/rewrite.bin", os.O_WRONLY|os.O_CREATE)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt(other, 0); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if got := c.get(t, "/rewrite.bin"); !bytes.Equal(got, other) {
			t.Errorf("after the rewrite: %d bytes, md5 %s; want %d, md5 %s", len(got), md5hex(got), len(other), md5hex(other))
		}
		if out, want := md5sumOf(t, c.ssh, "/rewrite.bin"), md5hex(other)+"  /rewrite.bin\n"; out != want {
			t.Errorf("md5sum: got %q, want %q", out, want)
		}
	})
}

func TestRenameOntoExistingFailsPosixRenameReplaces(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited)
	c := dial(t, ts, addr)
	h := ts.Home(user)
	c.put(t, "/a.txt", []byte("file a\n"))
	c.put(t, "/b.txt", []byte("file b\n"))

	err := c.sftp.Rename("/a.txt", "/b.txt")
	wantCode(t, "rename onto an existing file (SFTP v3)", err, fxFailure)
	for name, want := range map[string]string{"a.txt": "file a\n", "b.txt": "file b\n"} {
		if b, err := os.ReadFile(filepath.Join(h, name)); err != nil || string(b) != want {
			t.Errorf("after the refused rename, %s = %q, %v; want %q", name, b, err, want)
		}
	}

	if err := c.sftp.PosixRename("/a.txt", "/b.txt"); err != nil {
		t.Fatalf("posix-rename onto an existing file: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(h, "b.txt")); err != nil || string(b) != "file a\n" {
		t.Errorf("after posix-rename, b.txt = %q, %v; want a's bytes", b, err)
	}
	if _, err := os.Lstat(filepath.Join(h, "a.txt")); !os.IsNotExist(err) {
		t.Errorf("a.txt still there after posix-rename (lstat: %v)", err)
	}
	if out, want := md5sumOf(t, c.ssh, "/b.txt"), md5hex([]byte("file a\n"))+"  /b.txt\n"; out != want {
		t.Errorf("md5sum of the renamed file: got %q, want %q", out, want)
	}

	if err := c.sftp.Rename("/b.txt", "/c.txt"); err != nil {
		t.Errorf("rename onto a free name: %v", err)
	}
	if got := names(t, h); len(got) != 1 || got[0] != "c.txt" {
		t.Errorf("home holds %q, want [c.txt]", got)
	}
}

func TestChtimesOnFinishedFileIsKept(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited)
	c := dial(t, ts, addr)
	h := ts.Home(user)
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)

	c.put(t, "/done.txt", []byte("finished\n"))
	if err := c.sftp.Chtimes("/done.txt", mtime, mtime); err != nil {
		t.Fatalf("chtimes: %v", err)
	}
	if fi, err := c.sftp.Stat("/done.txt"); err != nil || !fi.ModTime().Equal(mtime) {
		t.Errorf("stat after chtimes: %v, %v; want mtime %v", fi, err, mtime)
	}
	if fi, err := os.Stat(filepath.Join(h, "done.txt")); err != nil || !fi.ModTime().Equal(mtime) {
		t.Errorf("on disk after chtimes: %v, %v; want mtime %v", fi, err, mtime)
	}

	// As scp -p does: the times set while the file is still open for
	// writing are the ones it keeps once named.
	f, err := c.sftp.Create("/open.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("written while the time was set\n")); err != nil {
		t.Fatal(err)
	}
	if err := c.sftp.Chtimes("/open.txt", mtime, mtime); err != nil {
		t.Errorf("chtimes of a file open for writing: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(h, "open.txt")); err != nil || !fi.ModTime().Equal(mtime) {
		t.Errorf("on disk after a chtimes while open: %v, %v; want mtime %v", fi, err, mtime)
	}
	if fi, err := c.sftp.Stat("/open.txt"); err != nil || !fi.ModTime().Equal(mtime) {
		t.Errorf("stat after a chtimes while open: %v, %v; want mtime %v", fi, err, mtime)
	}
}
