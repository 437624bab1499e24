package e2e

import (
	"crypto/md5"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ftpx/protocol"
)

// hostileServer lists names that try to leave the target directory or
// drive the terminal, and answers a get of any of them with a body whose
// size and md5 are right.
func hostileServer(t *testing.T, names []string) string {
	body := []byte("owned\n")
	hello := protocol.Response{Status: protocol.StatusReady, Msg: "ready", Welcome: "hi\x1b]0;evil title\x07"}
	return fakeServer(t, hello, func(c net.Conn, req *protocol.Request) bool {
		switch req.Action {
		case "ls":
			var es []protocol.Entry
			for _, n := range names {
				es = append(es, protocol.Entry{Name: n, Size: int64(len(body))})
			}
			protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusOK, Msg: "ok", Path: "/", Entries: es})
		default:
			answerGet(c, req, body)
		}
		return true
	})
}

// answerGet answers a get with body, its size and md5 in the 257, and any
// other request with 256.
func answerGet(c net.Conn, req *protocol.Request, body []byte) {
	if req.Action != "get" {
		protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusNotExist, Msg: "no"})
		return
	}
	protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusReadyToSend, Msg: "ready",
		Size: protocol.Int64(int64(len(body))), MD5: md5hex(body)})
	c.Write(body)
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func TestHostileServerNamesStayInTarget(t *testing.T) {
	evil := []string{"../escape", "../../escape2", "/abs-escape", "a/../../escape3", "..", ".", "sub/dir", `back\slash`,
		"term\x1b[2J\x1b[31mred", "nl\nname", "ok.txt"}
	addr := hostileServer(t, evil)
	work := t.TempDir()
	target := filepath.Join(work, "in", "target")
	os.MkdirAll(target, 0o755)
	env := []string{"FTPX_SERVER=" + addr, "FTPX_USER=u", "FTPX_PASSWORD=p"}

	out, _, code := ftpx(t, work, env, "ls")
	if code != 0 || strings.ContainsAny(out, "\x1b\x07") {
		t.Fatalf("ls: exit %d, raw control characters in %q", code, out)
	}
	if !strings.Contains(out, `\x1b`) && !strings.Contains(out, `\u001b`) {
		t.Fatalf("ls does not show the escape sequence escaped: %q", out)
	}
	_, errOut, _ := ftpx(t, work, env, "shell", "-c", "get * in/target")
	if strings.ContainsAny(errOut, "\x1b\x07") {
		t.Fatalf("raw control characters on stderr: %q", errOut)
	}
	// Nothing may be written outside in/target; only the plain name is.
	filepath.Walk(work, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && !strings.HasPrefix(p, target+string(filepath.Separator)) && !strings.Contains(p, ".state") {
			t.Errorf("written outside the target: %s", p)
		}
		return nil
	})
	if b, err := os.ReadFile(filepath.Join(target, "ok.txt")); err != nil || string(b) != "owned\n" {
		t.Fatalf("ok.txt: %q %v", b, err)
	}
	// One-shot gets take the local name from the path the user typed,
	// never from the server.
	if _, errOut, code := ftpx(t, work, env, "get", "../x", "in/target/"); code != 0 {
		t.Fatalf("get ../x in/target/: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(work, "in", "x")); err == nil {
		t.Fatal("get ../x wrote outside the target")
	}
	if b, _ := os.ReadFile(filepath.Join(target, "x")); string(b) != "owned\n" {
		t.Fatalf("in/target/x: %q", b)
	}
}
