package ftpd_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ftpx/accounts"
	"ftpx/server"
)

func TestFtplibEveryCommand(t *testing.T) {
	ts, addr := setup(t, accounts.Unlimited, nil, func(s *server.Server) {
		s.SetLive(server.Live{Welcome: "Team files.\n200 lines may look like codes", Goodbye: "See you."})
	})
	data := randomBytes(300_001)
	src := writeTemp(t, "src.bin", data)
	out := python(t, addr, `
f = ftplib.FTP()
welcome = f.connect(host, port, timeout=30)
check("welcome", "Team files." in welcome and welcome.startswith("220"), True)
check("command before login", code(f.pwd), "530")
check("wrong password", code(f.login, "alex", "nope"), "530")
f.login("alex", "pw")
check("syst", f.sendcmd("SYST"), "215 UNIX Type: L8")
feat = f.sendcmd("FEAT")
for want in ["UTF8", "MLST type*;size*;modify*;perm*;", "EPSV", "REST STREAM", "SIZE", "MDTM", "XMD5", "HASH MD5*"]:
    check("feat " + want, want in feat, True)
check("opts utf8", code(f.sendcmd, "OPTS UTF8 ON"), "200")
check("opts hash", f.sendcmd("OPTS HASH MD5"), "200 MD5")
check("type", code(f.sendcmd, "TYPE I"), "200")
check("mode", code(f.sendcmd, "MODE S"), "200")
check("stru", code(f.sendcmd, "STRU F"), "200")
check("mode b", code(f.sendcmd, "MODE B"), "504")
check("noop", code(f.sendcmd, "NOOP"), "200")
check("pwd", f.pwd(), "/")
check("mkd", f.mkd("dir é"), "/dir é")
f.cwd("dir é")
check("pwd in dir", f.pwd(), "/dir é")
data = open(os.environ["SRC"], "rb").read()
check("stor", code(f.storbinary, "STOR f.bin", io.BytesIO(data)), "226")
check("size", f.size("f.bin"), len(data))
check("mdtm", code(f.sendcmd, "MDTM f.bin"), "213")
check("xmd5", f.sendcmd("XMD5 f.bin"), "250 " + md5(data))
check("hash", f.sendcmd("HASH f.bin"), "213 MD5 0-%d %s /dir é/f.bin" % (len(data), md5(data)))
check("retr", get(f, "f.bin") == data, True)
check("retr abs", get(f, "/dir é/f.bin") == data, True)
check("nlst", f.nlst(), ["f.bin"])
lines = []
f.retrlines("LIST", lines.append)
check("list", len(lines) == 1 and lines[0].startswith("-rw-r--r--") and lines[0].endswith(" f.bin") and (" %d " % len(data)) in lines[0], True)
facts = dict(f.mlsd())
check("mlsd", facts["f.bin"]["type"] == "file" and facts["f.bin"]["size"] == str(len(data)) and "r" in facts["f.bin"]["perm"], True)
mlst = f.sendcmd("MLST f.bin")
check("mlst", mlst.startswith("250") and "type=file;size=%d;" % len(data) in mlst, True)
check("stat file", "f.bin" in f.sendcmd("STAT f.bin"), True)
check("stat", f.sendcmd("STAT").startswith("211"), True)
check("rnfr/rnto", code(f.rename, "f.bin", "g.bin"), "250")
check("old name gone", code(f.size, "f.bin"), "550")
check("size of a dir", code(f.size, "/dir é"), "550")
check("dele", code(f.delete, "g.bin"), "250")
check("dele again", code(f.delete, "g.bin"), "550")
check("retr missing", code(get, f, "g.bin"), "550")
check("cdup", code(f.sendcmd, "CDUP"), "250")
check("pwd after cdup", f.pwd(), "/")
check("rmd", code(f.rmd, "dir é"), "250")
check("cwd missing", code(f.cwd, "dir é"), "550")
check("abor idle", code(f.sendcmd, "ABOR"), "226")
check("unknown", code(f.sendcmd, "SITE CHMOD 644 x"), "502")
check("help", code(f.sendcmd, "HELP"), "214")
bye = f.quit()
check("quit", bye.startswith("221") and "See you." in bye, True)
print("ok")
`, "SRC="+src)
	if strings.TrimSpace(out) != "ok" {
		t.Fatalf("script: %s", out)
	}
	if entries, _ := os.ReadDir(ts.Home("alex")); len(entries) > 1 {
		t.Errorf("left in the home: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(ts.Home("alex"), "g.bin")); !os.IsNotExist(err) {
		t.Error("g.bin still on disk after DELE")
	}
}
