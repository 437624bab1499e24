package ftpd_test

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"ftpx/accounts"
	"ftpx/ftpd"
	"ftpx/ftpxtest"
	"ftpx/server"
)

func TestJailEscapesRefused550(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited, nil)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("secret"), 0o644)
	h := ts.Home("alex")
	os.MkdirAll(filepath.Join(h, "sub"), 0o755)
	// Links planted on disk: to a directory outside, to a file outside,
	// and a relative one climbing out.
	os.Symlink(outside, filepath.Join(h, "out"))
	os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(h, "secret-link"))
	os.Symlink("../../../../../../"+outside, filepath.Join(h, "sub", "up"))
	out := python(t, addr, `
f = connect()
for p in ["../secret.txt", "/../secret.txt", "sub/../../secret.txt", "out/secret.txt", "secret-link",
          "sub/up/secret.txt", "/etc/passwd", "../../../../etc/passwd", ".ftpx-partial/x", "sub/../.ftpx-partial"]:
    check("retr " + p, code(get, f, p), "550")
    check("size " + p, code(f.size, p), "550")
    check("xmd5 " + p, code(f.sendcmd, "XMD5 " + p), "550")
for p in ["/..", "out", "sub/up", "../alex", "/etc"]:
    check("cwd " + p, code(f.cwd, p), "550")
# CDUP at the root stays there (250), as a chrooted server does; ftplib's
# cwd('..') sends CDUP.
check("cdup at the root", code(f.sendcmd, "CDUP"), "250")
check("cwd .. at the root", code(f.cwd, ".."), "250")
check("pwd still /", f.pwd(), "/")
check("cwd sub", code(f.cwd, "sub"), "250")
check("cdup from sub", code(f.sendcmd, "CDUP"), "250")
check("pwd / again", f.pwd(), "/")
check("list out", code(f.retrlines, "LIST out", print), "550")
check("mlsd out", code(lambda: list(f.mlsd("out"))), "550")
check("stor through a link", code(f.storbinary, "STOR out/new.txt", io.BytesIO(b"x")), "550")
check("stor above", code(f.storbinary, "STOR ../new.txt", io.BytesIO(b"x")), "550")
check("mkd through a link", code(f.mkd, "out/d"), "550")
check("dele through a link", code(f.delete, "out/secret.txt"), "550")
check("rename out", code(f.rename, "sub", "../sub"), "550")
check("bad name", code(f.storbinary, "STOR a\\b", io.BytesIO(b"x")), "553")
names = f.nlst()
check("links listed as names only", sorted(names), ["out", "secret-link", "sub"])
print("ok")
`)
	if strings.TrimSpace(out) != "ok" {
		t.Fatal(out)
	}
	if _, err := os.Stat(filepath.Join(outside, "new.txt")); err == nil {
		t.Fatal("a file was written outside the home")
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Fatalf("outside changed: %v", ents)
	}
}

func TestPermissionsRefused550(t *testing.T) {
	team := t.TempDir()
	os.WriteFile(filepath.Join(team, "plan.txt"), []byte("the plan"), 0o644)
	ts, addr := setup(t, accounts.Unlimited, []string{"perms = read", "folder.team = " + team + " read,write"})
	os.MkdirAll(ts.Home("alex"), 0o700)
	os.WriteFile(filepath.Join(ts.Home("alex"), "mine.txt"), []byte("mine"), 0o644)
	python(t, addr, `
f = connect()
check("retr allowed", get(f, "mine.txt"), b"mine")
check("stor refused", code(f.storbinary, "STOR new.txt", io.BytesIO(b"x")), "550")
check("mkd refused", code(f.mkd, "d"), "550")
check("dele refused", code(f.delete, "mine.txt"), "550")
check("rename refused", code(f.rename, "mine.txt", "m.txt"), "550")
check("folder listed", "team" in f.nlst(), True)
check("folder read", get(f, "team/plan.txt"), b"the plan")
check("folder write", code(f.storbinary, "STOR team/new.txt", io.BytesIO(b"new")), "226")
check("folder replace needs modify", code(f.storbinary, "STOR team/plan.txt", io.BytesIO(b"x")), "550")
check("folder dele needs modify", code(f.delete, "team/plan.txt"), "550")
facts = dict(f.mlsd("team"))
check("perm facts", facts["plan.txt"]["perm"], "r")
check("plan unchanged", get(f, "team/plan.txt"), b"the plan")
print("ok")
`)
	if b, _ := os.ReadFile(filepath.Join(team, "new.txt")); string(b) != "new" {
		t.Fatal("the folder upload is not in the folder's directory")
	}
}

func TestAnonymousReadOnly(t *testing.T) {
	pub := t.TempDir()
	os.WriteFile(filepath.Join(pub, "readme.txt"), []byte("public"), 0o644)
	_, addr := setup(t, accounts.Unlimited, nil, func(s *server.Server) {
		s.SetLive(server.Live{AnonymousRoot: pub, AnonymousMaxConns: 1})
	})
	python(t, addr, `
f = ftplib.FTP()
f.connect(host, port, timeout=30)
check("anonymous login", f.login()[:3], "230")  # ftplib's anonymous / anonymous@
check("list", f.nlst(), ["readme.txt"])
check("retr", get(f, "readme.txt"), b"public")
check("stor", code(f.storbinary, "STOR x.txt", io.BytesIO(b"x")), "550")
check("mkd", code(f.mkd, "d"), "550")
check("dele", code(f.delete, "readme.txt"), "550")
second = ftplib.FTP()
second.connect(host, port, timeout=30)
check("anonymous_max_conns", code(second.login), "530")
print("ok")
`)
	if ents, _ := os.ReadDir(pub); len(ents) != 1 {
		t.Fatalf("the anonymous root changed: %v", ents)
	}
}

func TestBounceRefused(t *testing.T) {
	_, addr := setup(t, accounts.Unlimited, nil)
	rc, _, _ := dialRaw(t, addr)
	rc.login("alex", "pw")
	// A listener of our own on the peer address: PORT to it works (active
	// mode); PORT or EPRT anywhere else is refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p := l.Addr().(*net.TCPAddr).Port
	for _, line := range []string{
		"PORT 127,0,0,2," + strconv.Itoa(p>>8) + "," + strconv.Itoa(p&0xff),
		"PORT 10,1,2,3,0,21",
		"EPRT |1|127.0.0.2|" + strconv.Itoa(p) + "|",
		"EPRT |2|::1|" + strconv.Itoa(p) + "|",
		"PORT 127,0,0,1,0,25", // a privileged port of the right address
	} {
		if code, text := rc.cmd(line); code != 504 {
			t.Errorf("%s: %d %s, want 504", line, code, text)
		}
	}
	for _, line := range []string{"PORT 1,2,3", "PORT 300,0,0,1,1,1", "EPRT |3|x|1|", "EPRT"} {
		if code, _ := rc.cmd(line); code != 501 {
			t.Errorf("%s: %d, want 501", line, code)
		}
	}
	if code, text := rc.cmd("PORT 127,0,0,1," + strconv.Itoa(p>>8) + "," + strconv.Itoa(p&0xff)); code != 200 {
		t.Fatalf("PORT to the peer: %d %s", code, text)
	}
	if code, text := rc.cmd("LIST"); code != 150 {
		t.Fatalf("LIST: %d %s", code, text)
	}
	d, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if code, text := rc.read(); code != 226 {
		t.Fatalf("LIST over PORT: %d %s", code, text)
	}
	// ftplib in active mode (PORT to its own address) works too.
	python(t, addr, `
f = connect()
f.set_pasv(False)
check("active stor", code(f.storbinary, "STOR a.txt", io.BytesIO(b"active")), "226")
check("active retr", get(f, "a.txt"), b"active")
print("ok")
`)
}

func TestPassivePortFromTheRangeOnTheControlAddress(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw", accounts.Unlimited)
	// A range of two free ports.
	var ports []int
	for len(ports) == 0 {
		l1, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l1.Addr().(*net.TCPAddr).Port
		if l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+1)); err == nil {
			l2.Close()
			ports = []int{p, p + 1}
		}
		l1.Close()
	}
	addr := ts.StartFTP(t, func(s *ftpd.Server) { s.PassiveMin, s.PassiveMax = ports[0], ports[1] })
	rc, _, _ := dialRaw(t, addr)
	rc.login("alex", "pw")
	for range 4 {
		code, text := rc.cmd("PASV")
		if code != 227 {
			t.Fatalf("PASV: %d %s", code, text)
		}
		f := strings.Split(text[strings.Index(text, "(")+1:strings.Index(text, ")")], ",")
		p1, _ := strconv.Atoi(f[4])
		p2, _ := strconv.Atoi(f[5])
		if got := p1<<8 | p2; got != ports[0] && got != ports[1] || strings.Join(f[:4], ".") != "127.0.0.1" {
			t.Fatalf("PASV gave %v, want 127.0.0.1 and a port of %v", f, ports)
		}
	}
}

func TestFTPSExplicitWithFtplibAndCurl(t *testing.T) {
	opt, ca := withTLS(t, false)
	ts, addr := setup(t, accounts.Unlimited, nil, opt)
	data := randomBytes(1<<20 + 7)
	src := writeTemp(t, "src.bin", data)
	python(t, addr, `
data = open(os.environ["SRC"], "rb").read()
f = ftplib.FTP_TLS(context=context())
f.connect(host, port, timeout=30)
check("auth tls", f.auth()[:3], "234")
f.login("alex", "pw")
check("pbsz", f.voidcmd("PBSZ 0")[:3], "200")
check("prot p", f.prot_p()[:3], "200")
check("stor over tls", code(f.storbinary, "STOR s.bin", io.BytesIO(data)), "226")
check("retr over tls", md5(get(f, "s.bin")), md5(data))
check("list over tls", f.nlst(), ["s.bin"])
check("prot c", f.prot_c()[:3], "200")
check("retr in clear", md5(get(f, "s.bin")), md5(data))
print("ok")
`, "SRC="+src, "FTP_CA="+ca)
	got := filepath.Join(t.TempDir(), "got.bin")
	if _, code := curl(t, "--ssl-reqd", "--cacert", ca, "-o", got, "ftp://alex:pw@"+addr+"/s.bin"); code != 0 {
		t.Fatalf("curl --ssl-reqd: exit %d", code)
	}
	if b, _ := os.ReadFile(got); md5hex(b) != md5hex(data) {
		t.Fatal("curl's FTPS download differs")
	}
	if _, code := curl(t, "--ssl-reqd", "--cacert", ca, "-T", src, "ftp://alex:pw@"+addr+"/c.bin"); code != 0 {
		t.Fatalf("curl --ssl-reqd -T: exit %d", code)
	}
	if b, _ := os.ReadFile(filepath.Join(ts.Home("alex"), "c.bin")); md5hex(b) != md5hex(data) {
		t.Fatal("curl's FTPS upload differs")
	}
}

func TestRequireTLSRefusesPlainLogin(t *testing.T) {
	opt, ca := withTLS(t, true)
	_, addr := setup(t, accounts.Unlimited, nil, opt)
	rc, _, _ := dialRaw(t, addr)
	if code, _ := rc.cmd("USER alex"); code != 530 {
		t.Fatalf("USER before AUTH TLS: %d, want 530", code)
	}
	if code, _ := rc.cmd("PASS pw"); code/100 != 5 {
		t.Fatalf("PASS before AUTH TLS: %d, want 5xx", code)
	}
	python(t, addr, `
f = ftplib.FTP()
f.connect(host, port, timeout=30)
check("plain login", code(f.login, "alex", "pw"), "530")
f = ftplib.FTP_TLS(context=context())
f.connect(host, port, timeout=30)
f.login("alex", "pw")   # ftplib sends AUTH TLS first
check("clear data refused", code(f.nlst), "521")
check("prot c refused", code(f.prot_c), "534")
f.prot_p()
check("protected data", f.nlst(), [])
print("ok")
`, "FTP_CA="+ca)
	if _, code := curl(t, "ftp://alex:pw@"+addr+"/"); code == 0 {
		t.Fatal("curl logged in over plaintext with require_tls")
	}
	if out, code := curl(t, "--ssl-reqd", "--cacert", ca, "ftp://alex:pw@"+addr+"/"); code != 0 {
		t.Fatalf("curl --ssl-reqd with require_tls: exit %d %s", code, out)
	}
}
