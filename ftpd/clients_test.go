package ftpd_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"ftpx/accounts"
	"ftpx/ftpxtest"
)

func TestCurlPutGetListEveryDataMode(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited, nil)
	data := randomBytes(2<<20 + 3)
	src := writeTemp(t, "src.bin", data)
	base := "ftp://alex:pw@" + addr
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"epsv", nil},
		{"pasv", []string{"--disable-epsv"}},
		{"port", []string{"--ftp-port", "127.0.0.1", "--disable-eprt"}},
		{"eprt", []string{"--ftp-port", "127.0.0.1"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			name := "up-" + mode.name + ".bin"
			if _, code := curl(t, append(mode.args, "--ftp-create-dirs", "-T", src, base+"/d/"+name)...); code != 0 {
				t.Fatalf("curl -T: exit %d", code)
			}
			if b, _ := os.ReadFile(filepath.Join(ts.Home("alex"), "d", name)); !bytes.Equal(b, data) {
				t.Fatal("uploaded bytes differ")
			}
			out, code := curl(t, append(mode.args, base+"/d/"+name)...)
			if code != 0 || md5hex([]byte(out)) != md5hex(data) {
				t.Fatalf("curl get: exit %d, md5 %s", code, md5hex([]byte(out)))
			}
			out, code = curl(t, append(mode.args, base+"/d/")...)
			if code != 0 || !strings.Contains(out, name) {
				t.Fatalf("curl list: exit %d %q", code, out)
			}
			out, code = curl(t, append(mode.args, "-l", base+"/d/")...)
			if code != 0 || !strings.Contains(out, name+"\n") || strings.Contains(out, "-rw") {
				t.Fatalf("curl -l (NLST): exit %d %q", code, out)
			}
		})
	}
	// -Q sends commands before the transfer: DELE through curl.
	if _, code := curl(t, "-Q", "DELE d/up-epsv.bin", base+"/"); code != 0 {
		t.Fatal("curl -Q DELE")
	}
	if _, err := os.Stat(filepath.Join(ts.Home("alex"), "d", "up-epsv.bin")); !os.IsNotExist(err) {
		t.Fatal("DELE through curl left the file")
	}
	// Wrong password: curl's exit status 67 (login denied).
	if _, code := curl(t, "ftp://alex:nope@"+addr+"/"); code != 67 {
		t.Fatalf("curl with a wrong password: exit %d, want 67", code)
	}
}

func TestCurlResumesAnInterruptedUpload(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited, nil)
	data := randomBytes(3 << 20)
	src := writeTemp(t, "src.bin", data)
	cutUpload(t, ts, addr, src, "big.bin", 1<<20)
	// curl -C - asks SIZE (the bytes held) and sends the rest with APPE.
	waitFor(t, "the cut upload to be held", func() bool {
		out, code := curl(t, "-I", "ftp://alex:pw@"+addr+"/big.bin")
		return code == 0 && strings.Contains(out, fmt.Sprintf("Content-Length: %d", 1<<20))
	})
	if _, code := curl(t, "-C", "-", "-T", src, "ftp://alex:pw@"+addr+"/big.bin"); code != 0 {
		t.Fatalf("curl -C - -T: exit %d", code)
	}
	if b, _ := os.ReadFile(filepath.Join(ts.Home("alex"), "big.bin")); !bytes.Equal(b, data) {
		t.Fatalf("resumed upload differs (%d bytes)", len(b))
	}
}

func TestCurlOverQuota552(t *testing.T) {
	ts, addr := setup(t, 100_000, nil)
	src := writeTemp(t, "src.bin", randomBytes(300_000))
	// curl's exit status 70 is its name for 552: "remote disk full".
	if _, code := curl(t, "-T", src, "ftp://alex:pw@"+addr+"/big.bin"); code != 70 {
		t.Fatalf("curl -T over quota: exit %d, want 70 (552 exceeded storage allocation)", code)
	}
	if out, _ := curl(t, "-l", "ftp://alex:pw@"+addr+"/"); strings.Contains(out, "big.bin") {
		t.Fatal("a refused upload is listed")
	}
	if !strings.Contains(ts.Log(), "code=552") {
		t.Error("the log has no 552")
	}
	// 16 MB past the quota: the server reads and drops the rest of the
	// body before it answers, so curl reads 552, not a reset connection.
	huge := writeTemp(t, "huge.bin", randomBytes(17_000_000))
	if out, code := curl(t, "-T", huge, "ftp://alex:pw@"+addr+"/huge.bin"); code != 70 {
		t.Fatalf("curl -T 16 MB over the quota: exit %d, want 70 (552)\n%s", code, out)
	}
	if used, _, _ := quotaOf(t, ts, "alex"); used != 0 {
		t.Errorf("%d bytes counted after two refused uploads", used)
	}
}

func TestLftpMirrorBothWaysAndFTPS(t *testing.T) {
	opt, ca := withTLS(t, false)
	ts, addr := setup(t, accounts.Unlimited, nil, opt)
	tree := t.TempDir()
	want := map[string][]byte{}
	for i := range 40 {
		name := fmt.Sprintf("sub%d/f%02d.bin", i%3, i)
		want[name] = randomBytes(4096 + i)
		os.MkdirAll(filepath.Join(tree, filepath.Dir(name)), 0o755)
		os.WriteFile(filepath.Join(tree, name), want[name], 0o644)
	}
	lftp(t, addr, "mirror -R "+tree+" up")
	for name, b := range want {
		if got, _ := os.ReadFile(filepath.Join(ts.Home("alex"), "up", name)); !bytes.Equal(got, b) {
			t.Fatalf("mirror -R: %s differs", name)
		}
	}
	down := filepath.Join(t.TempDir(), "down")
	lftp(t, addr, "mirror up "+down)
	for name, b := range want {
		if got, _ := os.ReadFile(filepath.Join(down, name)); !bytes.Equal(got, b) {
			t.Fatalf("mirror: %s differs", name)
		}
	}
	// FTPS with lftp: AUTH TLS, PROT P, the server's certificate.
	out := lftp(t, addr, "set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:ca-file "+ca+
		"; put "+filepath.Join(tree, "sub0", "f00.bin")+" -o tls.bin; cls -1")
	if !strings.Contains(out, "tls.bin") {
		t.Fatalf("lftp over TLS: %s", out)
	}
	if got, _ := os.ReadFile(filepath.Join(ts.Home("alex"), "tls.bin")); !bytes.Equal(got, want["sub0/f00.bin"]) {
		t.Fatal("lftp's FTPS upload differs")
	}
}

func TestLftpPutContinuesACutUpload(t *testing.T) {
	if _, err := exec.LookPath("lftp"); err != nil {
		t.Skip("lftp is not installed (apt-get install lftp); skipping the lftp test")
	}
	ts, addr := setup(t, accounts.Unlimited, nil)
	data := randomBytes(3 << 20)
	src := writeTemp(t, "big.bin", data)
	cutUpload(t, ts, addr, src, "big.bin", 1<<20)
	waitFor(t, "the cut upload to be held", func() bool {
		out, code := curl(t, "-I", "ftp://alex:pw@"+addr+"/big.bin")
		return code == 0 && strings.Contains(out, fmt.Sprintf("Content-Length: %d", 1<<20))
	})
	out := lftp(t, addr, "put -c "+src+" -o big.bin")
	if b, _ := os.ReadFile(filepath.Join(ts.Home("alex"), "big.bin")); !bytes.Equal(b, data) {
		t.Fatalf("lftp put -c: %d bytes, want %d\n%s", len(b), len(data), out)
	}
	if !strings.Contains(ts.Log(), `msg="put done"`) || !strings.Contains(ts.Log(), "offset=1048576") {
		t.Errorf("lftp did not resume from the 1048576 bytes held")
	}
}

// cutUpload has an ftplib client send the first n bytes of src as name,
// then close its control connection (the data connection after it, once
// the server holds the bytes): an upload cut off, kept to be resumed.
func cutUpload(t *testing.T, ts *ftpxtest.Server, addr, src, name string, n int) {
	t.Helper()
	python(t, addr, `
data = open(os.environ["SRC"], "rb").read()
name, n = os.environ["NAME"], int(os.environ["N"])
f = connect()
f.voidcmd("TYPE I")
conn = f.transfercmd("STOR " + name)
conn.sendall(data[:n])
wait_partial(n)
f.close()  # the control connection first: the upload is cut, not done
g = connect()
for i in range(1000):
    if code(g.size, name) != "550":
        break
    time.sleep(0.02)
conn.close()
`, "SRC="+src, "NAME="+name, "N="+strconv.Itoa(n), "PARTIALS="+filepath.Join(ts.Home("alex"), ".ftpx-partial"))
}
