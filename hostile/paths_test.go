package hostile

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"ftpx/protocol"
)

// kind is what the server must answer an attack path with.
type kind int

const (
	kOutside  kind = iota // ".." above the home: 263 from every action
	kReserved             // the reserved .ftpx-partial in any position: 263
	kBadPath              // NUL, control bytes, backslash, too long: 273
	kAbsent               // a name that does not exist in the home (an absolute path such as /etc/passwd): 256
	kInside               // a strange but legal name: anything, as long as it stays inside
)

func (k kind) String() string {
	return [...]string{"outside", "reserved", "bad path", "absent", "inside"}[k]
}

// want is the status an action must answer for a path of kind k, or 0
// when any answer will do (as long as nothing leaves the home).
func (k kind) want(action string) protocol.Status {
	switch k {
	case kOutside, kReserved:
		return protocol.StatusPermission
	case kBadPath:
		return protocol.StatusBadPath
	case kAbsent:
		switch action {
		case "breakpoint", "mkdir -p":
			return protocol.StatusOK // nothing held; a directory made inside the home
		}
		return protocol.StatusNotExist
	}
	return 0
}

// attackPath is one entry of the corpus: wire is the JSON string literal
// sent as is (so it may hold raw bytes no encoder would produce).
type attackPath struct {
	label string
	wire  json.RawMessage
	kind  kind
}

func ap(s string, k kind) attackPath {
	return attackPath{label: fmt.Sprintf("%q", s), wire: jsonOf(s), kind: k}
}

// rawAP is a hand-made JSON string literal: escapes written by hand, or
// raw bytes that are not UTF-8.
func rawAP(literal string, k kind) attackPath {
	return attackPath{label: "raw " + fmt.Sprintf("%q", literal), wire: json.RawMessage(literal), kind: k}
}

// judge checks the answer to an action on the attack path: the refusal
// its kind wants, and never a generic 272.
func (p attackPath) judge(t *testing.T, action string, resp protocol.Response) {
	t.Helper()
	switch want := p.kind.want(action); {
	case resp.Status == protocol.StatusServerError:
		t.Errorf("%s %s (%s): 272 server error", action, p.label, p.kind)
	case want != 0 && resp.Status != want:
		t.Errorf("%s %s (%s): %d %s, want %d", action, p.label, p.kind, resp.Status, resp.Msg, want)
	}
}

// corpus returns the attack paths.
func corpus() []attackPath {
	var c []attackPath
	add := func(k kind, ps ...string) {
		for _, p := range ps {
			c = append(c, ap(p, k))
		}
	}
	// ".." in every position.
	add(kOutside, "..", "../", "../x", "../..", "../../..", "../../../../../../../../etc/passwd",
		"a/../..", "a/b/../../..", "a/b/c/../../../..", "/..", "/../", "/../x", "./../", "./..",
		"x/..//../y", "a/./../../x", "a//..//..//x", "../a/b", "../mallory/top.txt",
		"../bob/secret.txt", "/../bob/secret.txt", "../../outside/secret.txt", "/a/../../x",
		strings.Repeat("../", 20), ".././a", "..//", "/./../", "a/../../a", "../.", "..///",
		"./././../", "//../x", "a/b/../../../bob", "../"+strings.Repeat("a/", 100))
	// The same dots written as JSON escapes: decoded first, then refused.
	c = append(c,
		rawAP(`"\u002e\u002e/x"`, kOutside),
		rawAP(`"\u002E\u002E"`, kOutside),
		rawAP(`"..\u002f..\u002fetc"`, kOutside),
		rawAP(`"a\/..\/..\/x"`, kOutside),
	)
	// Absolute paths start at the home root: they must not exist there,
	// and the real files must never come back (the guard knows
	// /etc/passwd's first line).
	add(kAbsent, "/etc/passwd", "/etc/shadow", "/proc/self/environ", "/dev/zero", "/root/.ssh/id_rsa",
		"//etc/passwd", "/../../etc/passwd/..//../../etc/x/..", "/tmp/x")
	c[len(c)-2].kind = kOutside // ".." above the home before it comes back down
	// The reserved directory anywhere.
	add(kReserved, ".ftpx-partial", ".ftpx-partial/", "/.ftpx-partial", ".ftpx-partial/x",
		".ftpx-partial/"+transferID, ".ftpx-partial/"+transferID+".state", "a/.ftpx-partial",
		"a/.ftpx-partial/x", "./.ftpx-partial", "a/../.ftpx-partial", ".ftpx-partial/../a",
		"//.ftpx-partial//", "a/b/c/.ftpx-partial/..")
	add(kInside, ".FTPX-PARTIAL", ".ftpx-partial.", ".ftpx-partial ", "x.ftpx-partial")
	// NUL, newlines and other control bytes.
	add(kBadPath, "\x00", "a\x00b", "top.txt\x00.jpg", "a\x00/../../x", "..\x00", "../\x00",
		"a\nb", "\r\n", "top.txt\n", "a\tb", "\x1b[31mred", "\x7f", "x\x08y", "\x01", "a/\x1f/b")
	// Backslashes.
	add(kBadPath, `..\..\x`, `a\b`, `\`, `..\`, `\..\..\etc\passwd`, `a/..\..\x`, `\\server\share`)
	// URL encoding: literal names, allowed, inside.
	add(kInside, "%2e%2e/%2e%2e", "%2e%2e%2f%2e%2e%2fx", "..%2f..%2fetc%2fpasswd", "%252e%252e/x",
		"%c0%ae%c0%ae/x", "%00", "..%00")
	// Invalid UTF-8: a lone surrogate escape (decoded to U+FFFD) and raw
	// bytes that are not UTF-8 inside the JSON string. encoding/json makes
	// U+FFFD of them; whatever the name becomes, it stays inside.
	c = append(c,
		rawAP(`"\ud800"`, kInside),
		rawAP(`"a/\udfff/../x"`, kInside),
		rawAP("\"\xff\xfe\"", kInside),
		rawAP("\"a/\xc0\xaf\"", kInside),         // overlong '/'
		rawAP("\"\xc0\xae\xc0\xae/x\"", kInside), // overlong ".."
		rawAP("\"\xed\xa0\x80\"", kInside),       // an encoded surrogate
		rawAP("\"\xf8\x88\x80\x80\x80\"", kInside),
		rawAP("\"..\xff/..\"", kInside),
	)
	// Very long names and paths, deep paths.
	add(kInside, strings.Repeat("x", 255), strings.Repeat("é", 127), "a/"+strings.Repeat("y", 255),
		strings.Repeat("a/", 2000))
	add(kBadPath, strings.Repeat("x", 256), strings.Repeat("é", 128), "a/"+strings.Repeat("y", 256),
		strings.Repeat("x", 1000), strings.Repeat("a/", 2500), strings.Repeat("/", 5000),
		strings.Repeat("../", 1400), strings.Repeat("a/", 2049), strings.Repeat("x", 4096))
	// Tilde, doubled slashes, trailing slashes and dots.
	add(kInside, "~", "~/x", "~root/x", "~bob/secret.txt", "$HOME/x", "//", "a//b", "///a///f.txt",
		"a/", "a/.", "a/..", "a/b/", "a/b/.", "./", ".", "a/b/c/./././", "a.", "a..", "...", "....",
		". ", ".. ", " ..", "a/ ", "top.txt/", "top.txt/.", "top.txt/..", "")
	// Unicode lookalikes of dots and slashes, and other traps.
	add(kInside, "\u2024\u2024", "\u2024\u2024/\u2024\u2024/x", "\uff0e\uff0e/x", "..\u2215..\u2215x",
		"\u2025", "\ufe52\ufe52", "..\uff0f..", "..\u2044..", "..\u200b", "\u202e..", "\u0085..",
		"a\u2028b", "\u00a0..", "\ufeff..")
	return c
}

// TestAttackPaths tries every attack path of the corpus with every
// path-taking action, on a fresh copy of the home each time, and checks
// that the answer is the expected refusal, that no answer or body holds a
// byte from outside the home, that nothing outside changed, and that the
// victim's connection is still served.
func TestAttackPaths(t *testing.T) {
	a := newArena(t)
	rc := login(t, a.ts, attacker, attackerPW, a.g)
	bob := login(t, a.ts, victim, victimPW, a.g)
	var c tally
	byKind := map[kind]map[protocol.Status]int{}
	paths := corpus()
	if len(paths) < 100 {
		t.Fatalf("corpus of %d paths, want at least 100", len(paths))
	}
	for _, p := range paths {
		a.reset(t)
		c.paths++
		for _, act := range pathActions {
			resp, err := act.run(rc, p.wire)
			if err != nil {
				t.Fatalf("%s %s: connection broken: %v", act.name, p.label, err)
			}
			c.add(resp.Status)
			if byKind[p.kind] == nil {
				byKind[p.kind] = map[protocol.Status]int{}
			}
			byKind[p.kind][resp.Status]++
			p.judge(t, act.name, resp)
		}
		c.escapes += a.escapes(t, p.label)
		if resp, err := bob.do(obj("action", "stat", "filename", "secret.txt")); err != nil || resp.Status != protocol.StatusOK {
			t.Fatalf("victim's connection after %s: %d %v", p.label, resp.Status, err)
		}
	}
	// Control: an absolute path is the home's. A planted HOME/etc/passwd
	// is what get "/etc/passwd" returns.
	a.reset(t)
	mustWrite(t, filepath.Join(a.home, "etc", "passwd"), "home-etc-passwd\n")
	if g, err := rc.get(obj("action", "get", "filename", "/etc/passwd")); err != nil || string(g.body) != "home-etc-passwd\n" {
		t.Errorf("get /etc/passwd with HOME/etc/passwd planted: %d %q %v", g.resp.Status, g.body, err)
	}
	if n := panics(a.ts); n > 0 {
		t.Errorf("%d handler panics in the server log", n)
	}
	t.Logf("answers by kind of path: %v", byKind)
	c.log(t, "attack paths")
}
