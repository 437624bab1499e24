package ftpd_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ftpx/accounts"
	"ftpx/home"
)

// partialBytes sums the data files under a home's partial directory.
func partialBytes(t *testing.T, dir string) int64 {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(dir, home.PartialDir))
	var n int64
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && !strings.HasSuffix(e.Name(), ".state") && !strings.HasSuffix(e.Name(), ".tmp") {
			n += fi.Size()
		}
	}
	return n
}

func TestAbortedStorResumesWithRestStorAndAppe(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited, nil)
	data := randomBytes(3<<20 + 12345)
	src := writeTemp(t, "src.bin", data)
	out := python(t, addr, `
data = open(os.environ["SRC"], "rb").read()
cut = 1 << 20
f = connect()
f.voidcmd("TYPE I")
# STOR cut short by ABOR: 426 for the STOR, 226 for the ABOR
conn = f.transfercmd("STOR big.bin")
conn.sendall(data[:cut])
wait_partial(cut)  # the server has written what was sent
resp = f.abort()
check("abort reply", resp[:3], "426")
check("abor's own reply", f.voidresp()[:3], "226")
conn.close()
held = f.size("big.bin")
check("held", held, cut)
check("not listed", f.nlst(), [])
check("not gettable", code(get, f, "big.bin"), "550")
# REST must be what is held
check("rest wrong", code(f.storbinary, "STOR big.bin", io.BytesIO(data[held+1:]), rest=held+1), "554")
check("still held", f.size("big.bin"), held)
check("rest+stor", code(f.storbinary, "STOR big.bin", io.BytesIO(data[held:]), rest=held), "226")
check("whole", md5(get(f, "big.bin")), md5(data))
check("xmd5", f.sendcmd("XMD5 big.bin"), "250 " + md5(data))

# Cut by the control connection going away, then APPE from SIZE
conn = f.transfercmd("STOR second.bin")
conn.sendall(data[:2 * cut])
wait_partial(2 * cut)
f.close()
f = connect()
for i in range(1000):  # until the server has seen the control connection go
    if code(f.size, "second.bin") != "550":
        break
    time.sleep(0.02)
conn.close()
held = f.size("second.bin")
check("held after the cut", held, 2 * cut)
check("appe", code(f.storbinary, "APPE second.bin", io.BytesIO(data[held:])), "226")
check("second whole", md5(get(f, "second.bin")), md5(data))

# APPE onto a complete file appends for real
check("appe onto file", code(f.storbinary, "APPE second.bin", io.BytesIO(b"tail")), "226")
check("appended", md5(get(f, "second.bin")), md5(data + b"tail"))
# REST at the end of a complete file appends too
check("rest at end", code(f.storbinary, "STOR second.bin", io.BytesIO(b"more"), rest=len(data) + 4), "226")
check("appended again", md5(get(f, "second.bin")), md5(data + b"tailmore"))
# REST + RETR
check("rest retr", get(f, "big.bin", rest=len(data) - 100) == data[-100:], True)
check("rest retr at end", get(f, "big.bin", rest=len(data)), b"")
check("rest retr past end", code(get, f, "big.bin", rest=len(data) + 1), "554")
f.quit()
print("ok")
`, "SRC="+src, "PARTIALS="+filepath.Join(ts.Home("alex"), home.PartialDir))
	if strings.TrimSpace(out) != "ok" {
		t.Fatal(out)
	}
	if n := partialBytes(t, ts.Home("alex")); n != 0 {
		t.Errorf("%d bytes of partials left after the resumed uploads", n)
	}
}

func TestHalfUploadNeverListed(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited, nil)
	data := randomBytes(1 << 20)
	src := writeTemp(t, "src.bin", data)
	python(t, addr, `
data = open(os.environ["SRC"], "rb").read()
up = connect()
up.voidcmd("TYPE I")
conn = up.transfercmd("STOR half.bin")
conn.sendall(data[:len(data)//2])
look = connect()
for i in range(20):
    check("nlst during the upload", look.nlst(), [])
    check("mlsd during the upload", [n for n, _ in look.mlsd()], [])
    check("mlst during the upload", code(look.sendcmd, "MLST half.bin"), "550")
    check("retr during the upload", code(get, look, "half.bin"), "550")
conn.sendall(data[len(data)//2:])
conn.close()
check("stor", up.voidresp()[:3], "226")
check("listed once done", look.nlst(), ["half.bin"])
check("content", md5(get(look, "half.bin")), md5(data))
print("ok")
`, "SRC="+src)
	if got, _ := os.ReadFile(filepath.Join(ts.Home("alex"), "half.bin")); !bytes.Equal(got, data) {
		t.Fatal("the file on disk differs")
	}
}

func TestStorOverQuotaRefused552AndNothingListed(t *testing.T) {
	ts, addr := setup(t, 200_000, nil)
	python(t, addr, `
f = connect()
check("over quota", code(f.storbinary, "STOR big.bin", io.BytesIO(os.urandom(300_000))), "552")
check("not listed", f.nlst(), [])
check("fits", code(f.storbinary, "STOR small.bin", io.BytesIO(os.urandom(150_000))), "226")
check("the rest does not", code(f.storbinary, "STOR more.bin", io.BytesIO(os.urandom(60_000))), "552")
check("replacing needs only the growth", code(f.storbinary, "STOR small.bin", io.BytesIO(os.urandom(190_000))), "226")
check("listed", f.nlst(), ["small.bin"])
# 16 MB past the quota: 552 for the STOR itself, and the next reply is the
# next command's (ftplib reads them in step).
check("far over quota", code(f.storbinary, "STOR huge.bin", io.BytesIO(os.urandom(16_200_000))), "552")
check("in step after it", f.pwd(), "/")
check("still listed alone", f.nlst(), ["small.bin"])
print("ok")
`)
	used, _, _ := quotaOf(t, ts, "alex")
	if disk := diskUsage(t, ts.Home("alex")); disk > 200_000 || used > 200_000 {
		t.Fatalf("disk %d, counted %d, quota 200000", disk, used)
	}
}

func TestConcurrentStorsNeverPassQuota(t *testing.T) {
	const quota = 1_000_000
	ts, addr := setup(t, quota, nil)
	out := python(t, addr, `
codes = []
def one(i):
    f = connect()
    codes.append(code(f.storbinary, "STOR f%d.bin" % i, io.BytesIO(os.urandom(300_000)), blocksize=16384))
    f.close()
threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
print(" ".join(sorted(codes)))
`)
	codes := strings.Fields(out)
	ok := 0
	for _, c := range codes {
		switch c {
		case "226":
			ok++
		case "552":
		default:
			t.Fatalf("codes %v", codes)
		}
	}
	disk := diskUsage(t, ts.Home("alex"))
	if disk > quota || ok == 0 || ok > 3 {
		t.Fatalf("%d stored, %d bytes on disk of %d (codes %v)", ok, disk, quota, codes)
	}
	t.Logf("%d of 8 stored, %d bytes on disk (quota %d): %v", ok, disk, quota, codes)
}

// diskUsage sums the regular files under dir, partials included.
func diskUsage(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && !strings.HasSuffix(p, ".state") {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// quotaOf opens the user's home as a session would and reads its quota.
func quotaOf(t *testing.T, ts interface{ Home(string) string }, user string) (int64, int64, int64) {
	t.Helper()
	m, err := home.NewManager(filepath.Dir(ts.Home(user)))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	h, err := m.Open(user, home.Unlimited)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	return h.Quota()
}

func TestRetrFromRestOffsetWithCurl(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited, nil)
	data := randomBytes(500_000)
	os.MkdirAll(ts.Home("alex"), 0o700)
	if err := os.WriteFile(filepath.Join(ts.Home("alex"), "f.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	url := "ftp://alex:pw@" + addr + "/f.bin"
	out, code := curl(t, "-C", "123456", url)
	if code != 0 || out != string(data[123456:]) {
		t.Fatalf("curl -C 123456: exit %d, %d bytes", code, len(out))
	}
	part := writeTemp(t, "part.bin", data[:200_000])
	if _, code := curl(t, "-C", "-", "-o", part, url); code != 0 {
		t.Fatalf("curl -C - -o: exit %d", code)
	}
	if got, _ := os.ReadFile(part); !bytes.Equal(got, data) {
		t.Fatalf("resumed download differs (%d bytes)", len(got))
	}
}

func TestControlClosedFirstIsAnInterruption(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited, nil)
	data := randomBytes(3 << 20)
	src := writeTemp(t, "src.bin", data)
	// A client that goes away closes its control connection and then its
	// data connection, at once: the data ended, but not normally, so the
	// upload is kept to resume and never stored under its name.
	python(t, addr, `
data = open(os.environ["SRC"], "rb").read()
for i in range(5):
    name = "gone%d.bin" % i
    f = connect()
    f.voidcmd("TYPE I")
    conn = f.transfercmd("STOR " + name)
    conn.sendall(data[:1 << 20])
    wait_partial(1 << 20)
    f.close()
    conn.close()
    g = connect()
    for j in range(1000):  # until the server has settled it
        if code(g.size, name) != "550":
            break
        time.sleep(0.02)
    check("held " + name, g.size(name), 1 << 20)
    check("not stored " + name, code(g.sendcmd, "MLST " + name), "550")
    check("dropped by STOR of nothing", code(g.storbinary, "STOR " + name, io.BytesIO(b"")), "226")
    g.delete(name)
    g.close()
print("ok")
`, "SRC="+src, "PARTIALS="+filepath.Join(ts.Home("alex"), home.PartialDir))
}
