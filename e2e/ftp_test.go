package e2e

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var ftpAddrRE = regexp.MustCompile(`ftp_addr=(127\.0\.0\.1:\d+)`)

// ftpAddr waits for the daemon to log the FTP front end's address.
func (d *daemon) ftpAddr(t *testing.T) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := ftpAddrRE.FindStringSubmatch(d.logText()); m != nil {
			return m[1]
		}
	}
	t.Fatalf("no ftp_addr in the log:\n%s", d.logText())
	return ""
}

func curlFTP(t *testing.T, args ...string) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	out, err := exec.Command("curl", append([]string{"-sS", "--max-time", "60"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestFTPAndNativeServeTheSameFiles runs the real daemon with
// --ftp-listen: a file put by curl over FTP is got by the ftpx client,
// verified by MD5, and the other way round; the metrics count both with
// their protocol label.
func TestFTPAndNativeServeTheSameFiles(t *testing.T) {
	dir := t.TempDir()
	accounts := filepath.Join(dir, "accounts.ini")
	addUser(t, accounts, "alex", "pw", "")
	metrics := freePort(t)
	d := startDaemon(t, accounts, "--ftp-listen", "127.0.0.1:0", "--ftp-passive-ports", "40000-40999",
		"--config", writeFile(t, filepath.Join(dir, "ftpx.ini"), "metrics_listen = "+metrics+"\nwelcome = Hello FTP\n"))
	ftpAddr := d.ftpAddr(t)
	if ftpAddr == d.addr {
		t.Fatal("FTP on the native port")
	}
	env := []string{"FTPX_SERVER=" + d.addr, "FTPX_USER=alex", "FTPX_PASSWORD=pw"}

	// FTP in, native out.
	src := filepath.Join(dir, "by-ftp.bin")
	sum := writeRandom(t, src, 3<<20+5)
	curlFTP(t, "-T", src, "ftp://alex:pw@"+ftpAddr+"/by-ftp.bin")
	if out, errOut, code := ftpx(t, dir, env, "--json", "get", "by-ftp.bin", "got-native.bin"); code != 0 {
		t.Fatalf("ftpx get of an FTP upload: %d %s %s", code, out, errOut)
	} else if !strings.Contains(out, `"md5":"`+sum+`"`) {
		t.Fatalf("ftpx get: md5 not %s: %s", sum, out)
	}
	if got := md5File(t, filepath.Join(dir, "got-native.bin")); got != sum {
		t.Fatalf("native copy of the FTP upload: %s, want %s", got, sum)
	}

	// Native in, FTP out.
	src2 := filepath.Join(dir, "by-native.bin")
	sum2 := writeRandom(t, src2, 2<<20+9)
	if out, errOut, code := ftpx(t, dir, env, "put", src2); code != 0 {
		t.Fatalf("ftpx put: %d %s %s", code, out, errOut)
	}
	got := filepath.Join(dir, "got-ftp.bin")
	curlFTP(t, "-o", got, "ftp://alex:pw@"+ftpAddr+"/by-native.bin")
	if md5File(t, got) != sum2 {
		t.Fatal("FTP copy of the native upload differs")
	}
	// The native stat's MD5 is the one the FTP upload was remembered with.
	if out, _, code := ftpx(t, dir, env, "stat", "--json", "by-ftp.bin"); code != 0 || !strings.Contains(out, sum) {
		t.Fatalf("ftpx stat of the FTP upload: %d %s", code, out)
	}

	res, err := http.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for _, want := range []string{
		`ftpx_transfers_total{direction="put",protocol="ftp",result="ok"} 1`,
		`ftpx_transfers_total{direction="get",protocol="ftp",result="ok"} 1`,
		`ftpx_transfers_total{direction="put",protocol="ftpx",result="ok"} 1`,
		`ftpx_auth_total{protocol="ftp",result="ok"} 2`,
		`ftpx_connections_total{protocol="ftp",result="accepted"} 2`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
	if !strings.Contains(d.logText(), "protocol=ftp") {
		t.Error("the FTP sessions are not logged with protocol=ftp")
	}
	if _, err := os.Stat(filepath.Join(d.root, "alex", "by-ftp.bin")); err != nil {
		t.Fatal(err)
	}
}
