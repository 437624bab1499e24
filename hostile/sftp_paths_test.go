package hostile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// The SFTP jail under attack: every path-taking request of SFTP v3 (and
// the OpenSSH extensions, and exec md5sum), sent by hand with paths that
// climb out, name outside files, go through symlinks planted out of the
// home, or hold bytes no name may hold.

// spKind is what the server must answer an attack path with.
type spKind int

const (
	spAny      spKind = iota // any answer, as long as nothing outside is touched (.. is clamped at the home's root)
	spBad                    // NUL, control bytes, backslash, a name or path too long, not UTF-8: PERMISSION_DENIED
	spReserved               // the reserved .ftpx-partial: PERMISSION_DENIED
	spLink                   // through a symlink that leads outside: refused, whatever the code
)

func (k spKind) String() string { return [...]string{"any", "bad", "reserved", "link"}[k] }

type sftpAttack struct {
	path string
	kind spKind
}

func sftpAttacks(a *arena) []sftpAttack {
	var out []sftpAttack
	add := func(k spKind, ps ...string) {
		for _, p := range ps {
			out = append(out, sftpAttack{p, k})
		}
	}
	add(spAny, "", ".", "/", "..", "../", "/..", "../..", "../../outside/secret.txt", "../../../../../../../etc/passwd",
		"/../../outside/sub/deep.txt", "a/../../..", "a/b/../../../../outside", "../"+victim+"/secret.txt",
		"./../"+attacker+"/../"+victim+"/secret.txt", "~/../"+victim, "....//....//outside", "/etc/passwd", "/etc/shadow",
		"//etc//passwd", "/proc/self/environ", "/dev/zero", a.outside+"/secret.txt", filepath.Join(a.top, "root", victim, "secret.txt"),
		"absfile", "relfile", "bobfile", "dangling", "danglingrel", "abs", "slash", "loop1",
		"top.txt\x00../../outside/secret.txt") // the request server cleans it to /outside/secret.txt: no NUL is left
	add(spLink, "abs/secret.txt", "rel/secret.txt", "chain1/secret.txt", "bobhome/secret.txt", "a/b/up/secret.txt",
		"sneaky/secret.txt", "etc/passwd", "slash/etc/passwd", "abs/sub/deep.txt", "abs/new.txt", "abs/newdir/x",
		"rel/sub", "slash"+a.outside+"/secret.txt", "self/abs/secret.txt")
	add(spBad, "\x00", "a\x00b", "/etc/passwd\x00", strings.Repeat("A", 64<<10),
		"a/"+strings.Repeat("B", 300), strings.Repeat("a/", 2100)+"x", "ctl\x01name", `back\slash`, `..\..\outside\secret.txt`,
		"bad\xff\xfeutf8")
	add(spReserved, ".ftpx-partial", "/.ftpx-partial/x", "a/../.ftpx-partial", ".ftpx-partial/new")
	return out
}

// sftpPathAction is one path-taking request; follow finishes what a
// success opened (reads, writes, lists, closes).
type sftpPathAction struct {
	name      string
	build     func(c *sftpChan, p string) *pkt
	anyAnswer bool // realpath (only a name) and statvfs (the home's quota and space): any answer is fine
	target    bool // the path is a symlink's target, never resolved: any refusal is fine
}

var sftpPathActions = []sftpPathAction{
	{name: "open read", build: func(c *sftpChan, p string) *pkt { return req(fxpOpen, c.id()).str(p).u32(pflagRead).noAttrs() }},
	{name: "open write", build: func(c *sftpChan, p string) *pkt {
		return req(fxpOpen, c.id()).str(p).u32(pflagWrite | pflagCreat | pflagTrunc).noAttrs()
	}},
	{name: "open append", build: func(c *sftpChan, p string) *pkt {
		return req(fxpOpen, c.id()).str(p).u32(pflagWrite | pflagAppend | pflagCreat).noAttrs()
	}},
	{name: "stat", build: func(c *sftpChan, p string) *pkt { return req(fxpStat, c.id()).str(p) }},
	{name: "lstat", build: func(c *sftpChan, p string) *pkt { return req(fxpLstat, c.id()).str(p) }},
	{name: "setstat mtime", build: func(c *sftpChan, p string) *pkt {
		return req(fxpSetstat, c.id()).str(p).u32(attrTimes).u32(1).u32(1)
	}},
	{name: "setstat size", build: func(c *sftpChan, p string) *pkt {
		return req(fxpSetstat, c.id()).str(p).u32(attrSize).u64(0)
	}},
	{name: "opendir", build: func(c *sftpChan, p string) *pkt { return req(fxpOpendir, c.id()).str(p) }},
	{name: "readlink", build: func(c *sftpChan, p string) *pkt { return req(fxpReadlink, c.id()).str(p) }},
	{name: "realpath", build: func(c *sftpChan, p string) *pkt { return req(fxpRealpath, c.id()).str(p) }, anyAnswer: true},
	{name: "statvfs", build: func(c *sftpChan, p string) *pkt {
		return req(fxpExtended, c.id()).str("statvfs@openssh.com").str(p)
	}, anyAnswer: true},
	{name: "symlink link", build: func(c *sftpChan, p string) *pkt { return req(fxpSymlink, c.id()).str(p).str("/top.txt") }},
	{name: "symlink target", build: func(c *sftpChan, p string) *pkt { return req(fxpSymlink, c.id()).str("/newlink").str(p) }, target: true},
	{name: "rename from", build: func(c *sftpChan, p string) *pkt { return req(fxpRename, c.id()).str(p).str("/mvdst.txt") }},
	{name: "rename to", build: func(c *sftpChan, p string) *pkt { return req(fxpRename, c.id()).str("/mvsrc.txt").str(p) }},
	{name: "posix-rename from", build: func(c *sftpChan, p string) *pkt {
		return req(fxpExtended, c.id()).str("posix-rename@openssh.com").str(p).str("/mvdst.txt")
	}},
	{name: "posix-rename to", build: func(c *sftpChan, p string) *pkt {
		return req(fxpExtended, c.id()).str("posix-rename@openssh.com").str("/mvsrc.txt").str(p)
	}},
	{name: "mkdir", build: func(c *sftpChan, p string) *pkt { return req(fxpMkdir, c.id()).str(p).noAttrs() }},
	{name: "remove", build: func(c *sftpChan, p string) *pkt { return req(fxpRemove, c.id()).str(p) }},
	{name: "rmdir", build: func(c *sftpChan, p string) *pkt { return req(fxpRmdir, c.id()).str(p) }},
}

// follow finishes a request that opened a handle: a read of what the
// file holds, a write, or a listing to the end; then a close. Every byte
// that comes back passes the guard.
func follow(c *sftpChan, action string, handle string) error {
	switch action {
	case "open read":
		if _, err := c.do(req(fxpRead, c.id()).str(handle).u64(0).u32(64 << 10)); err != nil {
			return err
		}
	case "open write", "open append":
		if _, err := c.do(req(fxpWrite, c.id()).str(handle).u64(0).str("written by mallory\n")); err != nil {
			return err
		}
	case "opendir":
		for range 100 {
			a, err := c.do(req(fxpReaddir, c.id()).str(handle))
			if err != nil {
				return err
			}
			if a.typ != fxpName {
				break
			}
		}
	}
	_, err := c.do(req(fxpClose, c.id()).str(handle))
	return err
}

// symlinksIn lists the symlinks under dir.
func symlinksIn(t *testing.T, dir string) map[string]bool {
	t.Helper()
	links := map[string]bool{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type()&fs.ModeSymlink != 0 {
			rel, _ := filepath.Rel(dir, p)
			links[rel] = true
		}
		return nil
	})
	return links
}

// TestSFTPRawPathsNeverLeaveHome sends every path-taking SFTP request
// (open for reading, writing and appending, stat, lstat, setstat, opendir,
// readlink, realpath, statvfs, symlink, rename, posix-rename, mkdir,
// remove, rmdir) with each attack path, on a home with symlinks planted
// out of it, reset before each request type; and exec md5sum with each.
// Nothing outside the home is read (no answer holds a secret, an outside
// file's MD5 or the server's own path), written, created or removed;
// bad names and the reserved directory are PERMISSION_DENIED; a path
// through an outward link is refused; no symlink is made; no panic; and
// another user is served afterwards.
func TestSFTPRawPathsNeverLeaveHome(t *testing.T) {
	a := newArena(t)
	addr := a.ts.StartSFTP(t)
	for name, secret := range map[string]string{"outside": outsideSecret, "deep": deepSecret, "victim's": bobSecret} {
		a.g.add("the MD5 of the "+name+" secret", []byte(md5hex([]byte(secret))))
	}
	a.before = snapshot(t, a.top, a.skip...) // with the host key StartSFTP made
	sc, err := sshLogin(addr, attacker, attackerPW)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	c, err := openSFTP(sc, a.g)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, err := c.init(3)
	if err != nil || v.typ != fxpVersion || v.version != 3 {
		t.Fatalf("INIT 3: %s %v", v, err)
	}

	attacks := sftpAttacks(a)
	var requests, refused, escapes int
	for _, act := range sftpPathActions {
		a.reset(t)
		a.plantLinks(t)
		planted := symlinksIn(t, a.home)
		for _, at := range attacks {
			a.g.setEcho(echoOf(a, at.path))
			ans, err := c.do(act.build(c, at.path))
			requests++
			if err != nil {
				t.Fatalf("%s %q: %v (the channel is gone: the server may have crashed)", act.name, truncated(at.path, 60), err)
			}
			if !ans.ok() {
				refused++
			}
			if ans.typ == fxpHandle {
				if err := follow(c, act.name, ans.handle); err != nil {
					t.Fatalf("%s %q, then its handle: %v", act.name, truncated(at.path, 60), err)
				}
			}
			a.g.setEcho(nil)
			if bytes.Contains(ans.raw, []byte(a.home)) {
				t.Errorf("ESCAPE (SFTP %s %q): the answer names the home's real path: %s", act.name, at.path, ans)
				escapes++
			}
			switch {
			case act.anyAnswer:
			case act.target:
				if ans.ok() {
					t.Errorf("%s %q: %s, want a refusal (no symlink is made)", act.name, truncated(at.path, 60), ans)
				}
			case at.kind == spBad || at.kind == spReserved:
				if ans.typ != fxpStatus || ans.code != fxPermissionDenied {
					t.Errorf("%s %q (%s): %s, want STATUS %d (permission denied)", act.name, truncated(at.path, 60), at.kind, ans, fxPermissionDenied)
				}
			case at.kind == spLink:
				if ans.ok() {
					t.Errorf("%s %q (through a link out of the home): %s, want a refusal", act.name, at.path, ans)
				}
			}
		}
		escapes += a.escapes(t, "SFTP "+act.name)
		for l := range symlinksIn(t, a.home) {
			if !planted[l] {
				t.Errorf("ESCAPE (SFTP %s): a symlink %s was made in the home", act.name, l)
				escapes++
			}
		}
		if fi, err := os.Stat(a.home); err != nil || !fi.IsDir() {
			t.Fatalf("the home is gone after %s: %v", act.name, err)
		}
	}

	// exec md5sum: the same paths, through the one command served.
	a.reset(t)
	a.plantLinks(t)
	for _, at := range attacks {
		a.g.setEcho(echoOf(a, at.path))
		out, code, err := execOn(sc, "md5sum '"+strings.ReplaceAll(at.path, "'", `'\''`)+"'")
		requests++
		if err != nil {
			t.Fatalf("exec md5sum %q: %v", truncated(at.path, 60), err)
		}
		a.g.check("exec md5sum output", out)
		if bytes.Contains(out, []byte(a.home)) {
			t.Errorf("ESCAPE (exec md5sum %q): the output names the home's real path: %q", at.path, out)
			escapes++
		}
		a.g.setEcho(nil)
		if code == 0 {
			t.Errorf("exec md5sum %q (%s): exit 0 with %q, want a refusal", truncated(at.path, 60), at.kind, truncated(string(out), 100))
		} else {
			refused++
		}
	}
	escapes += a.escapes(t, "exec md5sum")

	if n := panics(a.ts); n != 0 || strings.Contains(a.ts.Log(), "panic") {
		t.Errorf("the server logged %d panics", n)
	}
	sftpRoundTrip(t, addr, neighbour, neighbourPW, "after-paths.bin")
	t.Logf("SFTP path attacks: %d paths x %d request types + exec md5sum: %d requests, %d refused, %d escapes",
		len(attacks), len(sftpPathActions), requests, refused, escapes)
}

// echoOf is what the guard lets an answer to a request with path p hold:
// nothing, unless p names the server's own directories, which a message
// may then echo (p, or its parent); that the home's real path never
// shows is checked apart.
func echoOf(a *arena, p string) []byte {
	if strings.Contains(p, a.top) {
		return []byte(a.top)
	}
	return nil
}

// execOn runs an exec request on a new session channel of sc and returns
// what came back (stdout and stderr) and the exit status.
func execOn(sc *ssh.Client, cmd string) ([]byte, int, error) {
	s, err := sc.NewSession()
	if err != nil {
		return nil, 0, err
	}
	defer s.Close()
	var out, errOut bytes.Buffer
	s.Stdout, s.Stderr = &out, &errOut
	done := make(chan error, 1)
	go func() { done <- s.Run(cmd) }()
	select {
	case err = <-done:
	case <-time.After(sftpIOTimeout):
		return nil, 0, errors.New("no exit status in time")
	}
	both := append(out.Bytes(), errOut.Bytes()...)
	var ee *ssh.ExitError
	switch {
	case errors.As(err, &ee):
		return both, ee.ExitStatus(), nil
	case err != nil:
		return both, 0, err
	}
	return both, 0, nil
}
