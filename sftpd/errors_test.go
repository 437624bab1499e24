package sftpd_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/home"
)

func TestMissingFileIsNoSuchFile(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited)
	c := dial(t, ts, addr)

	_, err := c.sftp.Open("/nope.txt")
	wantCode(t, "open a missing file", err, fxNoSuchFile)
	if !os.IsNotExist(err) {
		t.Errorf("open a missing file: os.IsNotExist(%v) is false", err)
	}
	_, err = c.sftp.Stat("/nope.txt")
	wantCode(t, "stat a missing file", err, fxNoSuchFile)
	_, err = c.sftp.Lstat("/no/such/dir/f")
	wantCode(t, "lstat under a missing directory", err, fxNoSuchFile)
	_, err = c.sftp.ReadDir("/nodir")
	wantCode(t, "list a missing directory", err, fxNoSuchFile)
	wantCode(t, "remove a missing file", c.sftp.Remove("/nope.txt"), fxNoSuchFile)
	wantCode(t, "rmdir a missing directory", c.sftp.RemoveDirectory("/nodir"), fxNoSuchFile)
	wantCode(t, "rename a missing file", c.sftp.Rename("/nope.txt", "/other.txt"), fxNoSuchFile)
	_, err = c.sftp.Create("/nodir/f.txt")
	wantCode(t, "create under a missing directory", err, fxNoSuchFile)

	out, stderr, status := execCommand(t, c.ssh, "md5sum /nope.txt")
	if status != 1 || out != "" || stderr != "md5sum: /nope.txt: No such file or directory\n" {
		t.Errorf("md5sum of a missing file: status %d, stdout %q, stderr %q; want 1, \"\", md5sum's message", status, out, stderr)
	}
}

func TestWriteWithoutWritePermissionIsPermissionDenied(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUserWith(t, user, password, accounts.Unlimited, "perms = read")
	addr := ts.StartSFTP(t)
	h := ts.Home(user)
	if err := os.MkdirAll(filepath.Join(h, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h, "mine.txt"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := dial(t, ts, addr)

	if got := c.get(t, "/mine.txt"); string(got) != "mine\n" {
		t.Errorf("read with perms = read: %q", got)
	}
	_, err := c.sftp.Create("/new.txt")
	wantCode(t, "create with perms = read", err, fxPermissionDenied)
	_, err = c.sftp.OpenFile("/mine.txt", os.O_WRONLY|os.O_TRUNC)
	wantCode(t, "overwrite with perms = read", err, fxPermissionDenied)
	_, err = c.sftp.OpenFile("/mine.txt", os.O_WRONLY|os.O_APPEND)
	wantCode(t, "append with perms = read", err, fxPermissionDenied)
	wantCode(t, "mkdir with perms = read", c.sftp.Mkdir("/d"), fxPermissionDenied)
	wantCode(t, "remove with perms = read", c.sftp.Remove("/mine.txt"), fxPermissionDenied)
	wantCode(t, "rmdir with perms = read", c.sftp.RemoveDirectory("/dir"), fxPermissionDenied)
	wantCode(t, "rename with perms = read", c.sftp.Rename("/mine.txt", "/m.txt"), fxPermissionDenied)
	wantCode(t, "posix-rename with perms = read", c.sftp.PosixRename("/mine.txt", "/m.txt"), fxPermissionDenied)

	if got := names(t, h); strings.Join(got, " ") != "dir mine.txt" {
		t.Errorf("home holds %q after refused writes, want [dir mine.txt]", got)
	}
	if b, _ := os.ReadFile(filepath.Join(h, "mine.txt")); string(b) != "mine\n" {
		t.Errorf("mine.txt = %q after refused writes", b)
	}
}

func TestPutOverQuotaFailsAndGivesTheQuotaBack(t *testing.T) {
	const quota = 1 << 20
	ts, addr := setup(t, quota)
	c := dial(t, ts, addr)
	h := ts.Home(user)

	f, err := c.sftp.Create("/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	_, werr := f.ReadFrom(bytes.NewReader(randomBytes(7, quota+quota/2)))
	cerr := f.Close()
	wantCode(t, "write past the quota", werr, fxFailure)
	if werr == nil || !strings.Contains(werr.Error(), "quota exceeded") {
		t.Errorf("write past the quota: %v; want a message saying quota exceeded", werr)
	}
	if cerr != nil && !strings.Contains(cerr.Error(), "quota exceeded") {
		t.Errorf("close after the refused write: %v; want nil or quota exceeded", cerr)
	}

	_, err = c.sftp.Stat("/big.bin")
	wantCode(t, "stat the refused upload", err, fxNoSuchFile)
	if got := names(t, h); len(got) != 0 {
		t.Errorf("home holds %q after an upload past the quota, want nothing", got)
	}
	if held := partialBytes(t, h); held != 0 {
		t.Errorf("partials hold %d bytes after an upload past the quota", held)
	}
	vfs, err := c.sftp.StatVFS("/")
	if err != nil {
		t.Fatal(err)
	}
	if vfs.FreeSpace() != quota {
		t.Errorf("statvfs free = %d after the refused upload, want the whole quota %d", vfs.FreeSpace(), quota)
	}

	// The whole quota is there again: a file of exactly the quota fits.
	fits := randomBytes(8, quota)
	c.put(t, "/fits.bin", fits)
	if got := fileMD5(t, filepath.Join(h, "fits.bin")); got != md5hex(fits) {
		t.Errorf("fits.bin on disk: md5 %s, want %s", got, md5hex(fits))
	}
	// And it is full: one more byte does not.
	f, err = c.sftp.Create("/one.bin")
	if err != nil {
		t.Fatal(err)
	}
	_, werr = f.Write([]byte{1})
	f.Close()
	wantCode(t, "one byte past a full quota", werr, fxFailure)
	if _, err := os.Lstat(filepath.Join(h, "one.bin")); !os.IsNotExist(err) {
		t.Errorf("one.bin on disk past the quota (lstat: %v)", err)
	}
}

func TestStatVFSReportsTheQuota(t *testing.T) {
	const quota = 10 << 20
	const block = 4096
	ts, addr := setup(t, quota)
	c := dial(t, ts, addr)

	within := func(what string, got, want uint64) {
		t.Helper()
		if got+block < want || got > want+block {
			t.Errorf("%s = %d, want %d (within a block)", what, got, want)
		}
	}
	vfs, err := c.sftp.StatVFS("/")
	if err != nil {
		t.Fatal(err)
	}
	within("total, empty home", vfs.TotalSpace(), quota)
	within("free, empty home", vfs.FreeSpace(), quota)

	const used = 3 << 20
	c.put(t, "/f.bin", randomBytes(9, used))
	if vfs, err = c.sftp.StatVFS("/"); err != nil {
		t.Fatal(err)
	}
	within("total, 3 MiB used", vfs.TotalSpace(), quota)
	within("free, 3 MiB used", vfs.FreeSpace(), quota-used)
	if vfs.Bavail != vfs.Bfree {
		t.Errorf("bavail %d != bfree %d", vfs.Bavail, vfs.Bfree)
	}
}

// The contract names three OpenSSH extensions: posix-rename, statvfs and
// fsync. OpenSSH's sftp sends fsync@openssh.com for put -f.
func TestContractExtensionsAdvertisedAndServed(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited)
	c := dial(t, ts, addr)
	// The versions are OpenSSH's own (PROTOCOL, section 4).
	for ext, version := range map[string]string{"posix-rename@openssh.com": "1", "statvfs@openssh.com": "2", "fsync@openssh.com": "1"} {
		if v, ok := c.sftp.HasExtension(ext); !ok || v != version {
			t.Errorf("%s: advertised %v, version %q; want version %q", ext, ok, v, version)
		}
	}
	// hardlink is not advertised: links are refused.
	if _, ok := c.sftp.HasExtension("hardlink@openssh.com"); ok {
		t.Errorf("hardlink@openssh.com advertised")
	}

	data := randomBytes(10, 300<<10)
	f, err := c.sftp.Create("/synced.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data[:100<<10]); err != nil {
		t.Fatal(err)
	}
	err = f.Sync()
	wantCode(t, "fsync@openssh.com on an upload", err, fxOK)
	// What the sync covered is on disk with a resume point beside it.
	held := filepath.Join(ts.Home(user), home.PartialDir, home.StreamID(user, "/synced.bin"))
	if fi, err := os.Stat(held); err != nil || fi.Size() != 100<<10 {
		t.Errorf("partial after fsync: %v, %v; want the %d bytes written", fi, err, 100<<10)
	}
	if _, err := os.Stat(held + ".state"); err != nil {
		t.Errorf("no resume point saved by fsync: %v", err)
	}
	if _, err := f.Write(data[100<<10:]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := fileMD5(t, filepath.Join(ts.Home(user), "synced.bin")); got != md5hex(data) {
		t.Errorf("synced.bin on disk: md5 %s, want %s", got, md5hex(data))
	}
	// A handle that is not open (closed now) is refused.
	err = f.Sync()
	if err == nil {
		t.Errorf("fsync of a closed handle succeeded")
	}
	// A read handle syncs nothing and succeeds, as fsync(2) of a file open
	// for reading does.
	r, err := c.sftp.Open("/synced.bin")
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "fsync@openssh.com on a file open for reading", r.Sync(), fxOK)
	r.Close()
}
