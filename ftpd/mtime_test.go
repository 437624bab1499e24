package ftpd_test

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/client"
	"ftpx/ftpxtest"
	"ftpx/home"
	"ftpx/internal/miniotest"
	"ftpx/protocol"
	"ftpx/server"
)

// Modification times through FTP: MFMT sets what MDTM, MLSD, MLST and the
// native protocol then show, and a native put's mtime is what FTP shows.

// Two old times, to the second.
var (
	jan2020 = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	feb2001 = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
)

// mtimeOf is a file's modification time on disk, or fails t.
func mtimeOf(t *testing.T, p string) time.Time {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime().UTC()
}

// nativeClient logs alex in over the native protocol.
func nativeClient(t *testing.T, addr string) *client.Client {
	t.Helper()
	c, err := client.Connect(context.Background(), client.Config{Addr: addr, User: "alex", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// nativeMTime is the time the native protocol's stat of name, and the ls
// of its directory, give it.
func nativeMTime(t *testing.T, c *client.Client, name string) time.Time {
	t.Helper()
	st, err := c.Stat(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := c.Ls(context.Background(), path.Dir("/"+name))
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ls, func(e protocol.Entry) bool { return e.Name == path.Base(name) })
	if i < 0 || !ls[i].MTime.Equal(st.MTime) {
		t.Fatalf("%s: stat says %v, ls %v", name, st.MTime, ls)
	}
	return st.MTime.UTC()
}

func TestMfmtSetsTheTimeMdtmAndMlsdShow(t *testing.T) {
	ro := t.TempDir()
	os.WriteFile(filepath.Join(ro, "plan.txt"), []byte("the plan"), 0o644)
	ts, addr := setup(t, accounts.Unlimited, []string{"folder.ro = " + ro + " read"})
	h := ts.Home("alex")
	os.MkdirAll(filepath.Join(h, "sub"), 0o755)
	os.WriteFile(filepath.Join(h, "f.txt"), []byte("hello"), 0o644)
	os.WriteFile(filepath.Join(h, "g.txt"), []byte("fraction"), 0o644)
	os.WriteFile(filepath.Join(h, "sub", "h.txt"), []byte("deeper"), 0o644)
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.txt")
	os.WriteFile(secret, []byte("secret"), 0o644)
	os.Chtimes(secret, feb2001, feb2001)
	os.Chtimes(filepath.Join(ro, "plan.txt"), feb2001, feb2001)
	os.Symlink(outside, filepath.Join(h, "out"))
	os.Symlink(secret, filepath.Join(h, "secret-link"))

	out := python(t, addr, `
f = ftplib.FTP()
f.connect(host, port, timeout=30)
check("mfmt before login", code(f.sendcmd, "MFMT 20200102030405 f.txt"), "530")
f.login("alex", "pw")
check("feat", "MFMT" in [l.strip() for l in f.sendcmd("FEAT").splitlines()], True)
check("mfmt", f.sendcmd("MFMT 20200102030405 f.txt"), "213 Modify=20200102030405; f.txt")
check("mdtm", f.sendcmd("MDTM f.txt"), "213 20200102030405")
facts = dict(f.mlsd())
check("mlsd modify", facts["f.txt"]["modify"], "20200102030405")
check("mlst", "modify=20200102030405;" in f.sendcmd("MLST f.txt"), True)
check("mfmt with a fraction", f.sendcmd("MFMT 20210304050607.5 g.txt"), "213 Modify=20210304050607; g.txt")
check("mdtm of the fraction", f.sendcmd("MDTM g.txt"), "213 20210304050607")
f.cwd("sub")
check("mfmt relative to the cwd", code(f.sendcmd, "MFMT 20190102030405 h.txt"), "213")
check("mfmt of a directory", code(f.sendcmd, "MFMT 20180102030405 /sub"), "213")
f.cwd("/")
check("mlsd of the directory", dict(f.mlsd())["sub"]["modify"], "20180102030405")
check("mlsd under it", dict(f.mlsd("sub"))["h.txt"]["modify"], "20190102030405")
for bad in ["2020 f.txt", "20201301000000 f.txt", "20200230000000 f.txt", "20200102250000 f.txt",
            "2020010203040x f.txt", "202001020304051 f.txt", "20200102030405. f.txt", "20200102030405.x f.txt",
            "20200102030405+0100 f.txt", "-2020102030405 f.txt", "2020-01-02T03:04:05Z f.txt",
            "16000101000000 f.txt", "99991231235959 f.txt", "20200102030405", "20200102030405 ",
            "f.txt"]:
    check("mfmt " + bad, code(f.sendcmd, "MFMT " + bad), "501")
check("mdtm after the bad ones", f.sendcmd("MDTM f.txt"), "213 20200102030405")
for p in ["missing.txt", "sub/missing.txt", "../secret.txt", "/../secret.txt", "sub/../../secret.txt",
          "out/secret.txt", "secret-link", ".ftpx-partial/x", "ro/plan.txt", "/", "ro"]:
    check("mfmt " + p, code(f.sendcmd, "MFMT 20220101000000 " + p), "550")
check("mdtm of the read-only file", f.sendcmd("MDTM ro/plan.txt"), "213 20010203040506")
print("ok")
`)
	if strings.TrimSpace(out) != "ok" {
		t.Fatalf("script: %s", out)
	}
	c := nativeClient(t, ts.Addr)
	for name, want := range map[string]time.Time{
		"f.txt":     jan2020,
		"g.txt":     time.Date(2021, 3, 4, 5, 6, 7, 5e8, time.UTC),
		"sub/h.txt": time.Date(2019, 1, 2, 3, 4, 5, 0, time.UTC),
		"sub":       time.Date(2018, 1, 2, 3, 4, 5, 0, time.UTC),
	} {
		if got := mtimeOf(t, filepath.Join(h, name)); !got.Equal(want) {
			t.Errorf("%s on disk: %v, want %v", name, got, want)
		}
		if got := nativeMTime(t, c, name); !got.Equal(want.Truncate(time.Second)) {
			t.Errorf("%s through the native protocol: %v, want %v", name, got, want)
		}
	}
	if got := mtimeOf(t, secret); !got.Equal(feb2001) {
		t.Errorf("the file outside the home changed: %v", got)
	}
	if got := mtimeOf(t, filepath.Join(ro, "plan.txt")); !got.Equal(feb2001) {
		t.Errorf("the read-only folder's file changed: %v", got)
	}
	if b, _ := os.ReadFile(filepath.Join(h, "f.txt")); string(b) != "hello" {
		t.Errorf("MFMT changed the bytes: %q", b)
	}
}

func TestMfmtRefusedToReadOnlyUsers(t *testing.T) {
	pub := t.TempDir()
	os.WriteFile(filepath.Join(pub, "readme.txt"), []byte("public"), 0o644)
	os.Chtimes(filepath.Join(pub, "readme.txt"), feb2001, feb2001)
	ts, addr := setup(t, accounts.Unlimited, nil, func(s *server.Server) {
		s.SetLive(server.Live{AnonymousRoot: pub})
	})
	ts.AddUserWith(t, "reader", "pw", accounts.Unlimited, "perms = read")
	os.MkdirAll(ts.Home("reader"), 0o755)
	os.WriteFile(filepath.Join(ts.Home("reader"), "mine.txt"), []byte("mine"), 0o644)
	os.Chtimes(filepath.Join(ts.Home("reader"), "mine.txt"), feb2001, feb2001)
	python(t, addr, `
f = ftplib.FTP()
f.connect(host, port, timeout=30)
f.login()
check("anonymous mfmt", code(f.sendcmd, "MFMT 20200102030405 readme.txt"), "550")
check("anonymous mdtm", f.sendcmd("MDTM readme.txt"), "213 20010203040506")
r = connect("reader", "pw")
check("read-only user's mfmt", code(r.sendcmd, "MFMT 20200102030405 mine.txt"), "550")
check("read-only user's mdtm", r.sendcmd("MDTM mine.txt"), "213 20010203040506")
`)
	if got := mtimeOf(t, filepath.Join(pub, "readme.txt")); !got.Equal(feb2001) {
		t.Errorf("the anonymous root's file changed: %v", got)
	}
	if got := mtimeOf(t, filepath.Join(ts.Home("reader"), "mine.txt")); !got.Equal(feb2001) {
		t.Errorf("the read-only user's file changed: %v", got)
	}
}

func TestNativePutMtimeShownByMdtmAndMlsd(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited, nil)
	src := writeTemp(t, "native.bin", randomBytes(100_001))
	os.Chtimes(src, jan2020, jan2020)
	if _, err := nativeClient(t, ts.Addr).Put(context.Background(), src, "native.bin", nil); err != nil {
		t.Fatal(err)
	}
	python(t, addr, `
f = connect()
check("mdtm", f.sendcmd("MDTM native.bin"), "213 20200102030405")
check("mlsd", dict(f.mlsd())["native.bin"]["modify"], "20200102030405")
check("mlst", "modify=20200102030405;" in f.sendcmd("MLST native.bin"), True)
`)
	if got := mtimeOf(t, filepath.Join(ts.Home("alex"), "native.bin")); !got.Equal(jan2020) {
		t.Errorf("on disk: %v, want %v", got, jan2020)
	}
}

// s3Homes keeps the homes in a bucket of a MinIO of the test's own, with
// the smallest parts, so that a file of a few MiB is a multipart object.
func s3Homes(t *testing.T) (ftpxtest.Option, *home.Manager) {
	t.Helper()
	srv := miniotest.Start(t, 1)
	srv.SetEnv(t)
	return ftpxtest.S3Homes(t, srv, "ftpx-test")
}

// storedMD5 is the MD5 the store keeps with a file of alex's home, "" for
// none.
func storedMD5(t *testing.T, m *home.Manager, name string) string {
	t.Helper()
	h, err := m.Open("alex", accounts.Unlimited)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	f, err := h.FS.Open(name) // as a get does
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := fi.Sys().(home.StoredSum); ok {
		return s.StoredMD5()
	}
	return ""
}

func TestMfmtOnAnObjectStoreHomeKeepsTheMD5(t *testing.T) {
	opt, homes := s3Homes(t)
	ts, addr := setup(t, accounts.Unlimited, nil, opt)
	small, big := randomBytes(10_001), randomBytes(11<<20+3) // one PUT; three parts
	src := writeTemp(t, "native.bin", randomBytes(100_003))
	os.Chtimes(src, jan2020, jan2020)
	c := nativeClient(t, ts.Addr)
	if _, err := c.Put(context.Background(), src, "native.bin", nil); err != nil {
		t.Fatal(err)
	}
	out := python(t, addr, `
small, big = open(os.environ["SMALL"], "rb").read(), open(os.environ["BIG"], "rb").read()
f = connect()
check("feat", "MFMT" in [l.strip() for l in f.sendcmd("FEAT").splitlines()], True)
check("stor small", code(f.storbinary, "STOR small.bin", io.BytesIO(small)), "226")
f.mkd("d")
check("stor big", code(f.storbinary, "STOR d/big.bin", io.BytesIO(big)), "226")
check("mfmt small", f.sendcmd("MFMT 20200102030405 small.bin"), "213 Modify=20200102030405; small.bin")
check("mfmt big", f.sendcmd("MFMT 20190203040506.25 d/big.bin"), "213 Modify=20190203040506; d/big.bin")
check("mdtm small", f.sendcmd("MDTM small.bin"), "213 20200102030405")
check("mdtm big", f.sendcmd("MDTM d/big.bin"), "213 20190203040506")
check("mdtm of the native put", f.sendcmd("MDTM native.bin"), "213 20200102030405")
facts = dict(f.mlsd())
check("mlsd small", facts["small.bin"]["modify"], "20200102030405")
check("mlsd native put", facts["native.bin"]["modify"], "20200102030405")
check("mlsd big", dict(f.mlsd("d"))["big.bin"]["modify"], "20190203040506")
check("mlst big", "modify=20190203040506;" in f.sendcmd("MLST d/big.bin"), True)
check("xmd5 small", f.sendcmd("XMD5 small.bin"), "250 " + md5(small))
check("xmd5 big", f.sendcmd("XMD5 d/big.bin"), "250 " + md5(big))
check("retr small", get(f, "small.bin") == small, True)
check("retr big", get(f, "d/big.bin") == big, True)
check("size big", f.size("d/big.bin"), len(big))
# A directory's time is its marker's, which the store keeps no time for:
# the reply says the time it has, not the one asked for.
kept = dict(f.mlsd())["d"]["modify"]
check("mfmt of a directory", f.sendcmd("MFMT 20180102030405 d"), "213 Modify=%s; d" % kept)
check("mdtm of the directory", f.sendcmd("MDTM d"), "213 " + kept)
check("mfmt missing", code(f.sendcmd, "MFMT 20200102030405 missing.bin"), "550")
check("mfmt above", code(f.sendcmd, "MFMT 20200102030405 ../small.bin"), "550")
check("mfmt bad", code(f.sendcmd, "MFMT 2020010203 small.bin"), "501")
check("mdtm after", f.sendcmd("MDTM small.bin"), "213 20200102030405")
print("ok")
`, "SMALL="+writeTemp(t, "small.bin", small), "BIG="+writeTemp(t, "big.bin", big))
	if strings.TrimSpace(out) != "ok" {
		t.Fatalf("script: %s", out)
	}
	for name, want := range map[string]struct {
		mtime time.Time
		md5   string
	}{
		"small.bin":  {jan2020, md5hex(small)},
		"d/big.bin":  {time.Date(2019, 2, 3, 4, 5, 6, 25e7, time.UTC), md5hex(big)},
		"native.bin": {jan2020, ""},
	} {
		if got := nativeMTime(t, c, name); !got.Equal(want.mtime.Truncate(time.Second)) {
			t.Errorf("%s through the native protocol: %v, want %v", name, got, want.mtime)
		}
		if want.md5 != "" && storedMD5(t, homes, "/"+name) != want.md5 {
			t.Errorf("%s: the store keeps MD5 %q after MFMT, want %s", name, storedMD5(t, homes, "/"+name), want.md5)
		}
	}
}
