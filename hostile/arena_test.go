package hostile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/protocol"
)

// The arena: a server with an attacker and a victim, files outside every
// home that must never be read or touched, and the guard that watches
// every answer for them.

const (
	attacker   = "mallory"
	attackerPW = "pw-mallory"
	victim     = "bob"
	victimPW   = "pw-bob"
	// The neighbour does the well-behaved round trips that show other
	// connections are unaffected; the quota user has a 1 MiB quota. Their
	// homes change legitimately, so the snapshot leaves them out.
	neighbour   = "carol"
	neighbourPW = "pw-carol"
	quotaUser   = "quentin"
	quotaPW     = "pw-quentin"
	quotaLimit  = 1 << 20

	outsideSecret = "OUTSIDE-SECRET-5b0c1e9d: the content of a file outside every home\n"
	deepSecret    = "OUTSIDE-DEEP-SECRET-77a2f0\n"
	bobSecret     = "BOB-SECRET-c4d1e8: the victim's private file\n"
	insideA       = "inside-a: a file in the attacker's home\n"
	insideTop     = "inside-top\n"
	insideMvsrc   = "inside-mvsrc\n"

	// transferID is the uuid the path attacks give breakpoint.
	transferID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
)

type arena struct {
	ts      *ftpxtest.Server
	g       *guard
	top     string // the directory holding the server root, the accounts file and outside/
	outside string // top/outside: a directory outside every home
	home    string // the attacker's home on disk
	before  treeState
	passwd  os.FileInfo // the real /etc/passwd, if any
	skip    []string    // homes left out of the snapshot
}

// newArena starts a server with the attacker and the victim logged in
// once (so both homes exist), plants the outside files and the victim's
// secret, and takes the snapshot that every check compares with.
func newArena(t *testing.T, opts ...ftpxtest.Option) *arena {
	t.Helper()
	ts := ftpxtest.NewServer(t, opts...)
	ts.AddUser(t, attacker, attackerPW, accounts.Unlimited)
	ts.AddUser(t, victim, victimPW, accounts.Unlimited)
	ts.AddUser(t, neighbour, neighbourPW, accounts.Unlimited)
	ts.AddUser(t, quotaUser, quotaPW, quotaLimit)
	a := &arena{ts: ts, g: &guard{}, top: filepath.Dir(ts.Root), home: ts.Home(attacker)}
	a.skip = []string{a.home, ts.Home(neighbour), ts.Home(quotaUser)}
	a.outside = filepath.Join(a.top, "outside")
	mustWrite(t, filepath.Join(a.outside, "secret.txt"), outsideSecret)
	mustWrite(t, filepath.Join(a.outside, "sub", "deep.txt"), deepSecret)
	for _, u := range [][2]string{{attacker, attackerPW}, {victim, victimPW}, {neighbour, neighbourPW}, {quotaUser, quotaPW}} {
		rc, err := loginE(ts.Addr, u[0], u[1], nil)
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	mustWrite(t, filepath.Join(ts.Home(victim), "secret.txt"), bobSecret)

	a.g.add("the outside secret", []byte("OUTSIDE-SECRET-5b0c1e9d"))
	a.g.add("the outside deep secret", []byte("OUTSIDE-DEEP-SECRET-77a2f0"))
	a.g.add("the victim's secret", []byte("BOB-SECRET-c4d1e8"))
	a.g.add("the server's own path", []byte(a.top))
	if b, err := os.ReadFile("/etc/passwd"); err == nil && len(b) > 0 {
		first, _, _ := strings.Cut(string(b), "\n")
		if len(first) >= 8 {
			a.g.add("the real /etc/passwd", []byte(first))
		}
		a.passwd, _ = os.Stat("/etc/passwd")
	}
	a.reset(t)
	a.before = snapshot(t, a.top, a.skip...)
	return a
}

// reset puts the attacker's home back to its fixture: a/b/c, a/f.txt,
// top.txt and mvsrc.txt (the source of mv attacks on "to").
func (a *arena) reset(t testing.TB) {
	t.Helper()
	emptyDir(t, a.home)
	if err := os.MkdirAll(filepath.Join(a.home, "a", "b", "c"), 0o755); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(a.home, "a", "f.txt"), insideA)
	mustWrite(t, filepath.Join(a.home, "top.txt"), insideTop)
	mustWrite(t, filepath.Join(a.home, "mvsrc.txt"), insideMvsrc)
}

// escapes checks that nothing outside the attacker's home changed and
// that no answer carried a forbidden byte string; it reports each escape
// as a test error and returns how many it found.
func (a *arena) escapes(t testing.TB, what string) int {
	t.Helper()
	n := 0
	for _, l := range a.g.takeLeaks() {
		t.Errorf("ESCAPE (%s): %s", what, l)
		n++
	}
	if d := a.before.diff(snapshot(t, a.top, a.skip...)); len(d) > 0 {
		t.Errorf("ESCAPE (%s): outside the home: %s", what, strings.Join(d, "; "))
		n++
	}
	if a.passwd != nil {
		if fi, err := os.Stat("/etc/passwd"); err != nil || fi.Size() != a.passwd.Size() || !fi.ModTime().Equal(a.passwd.ModTime()) {
			t.Errorf("ESCAPE (%s): the real /etc/passwd changed", what)
			n++
		}
	}
	return n
}

// An action is one path-taking request, tried with an attack path.
type action struct {
	name string
	run  func(rc *rawConn, p json.RawMessage) (protocol.Response, error)
}

var putBody = []byte("hostile put body\n")

// pathActions are every path-taking action and field of the protocol.
// They run in this order for each attack path; cd, which may succeed and
// move the session, goes back to "/" itself, and mkdir -p (which makes
// missing names exist) comes last.
var pathActions = []action{
	{"stat", func(rc *rawConn, p json.RawMessage) (protocol.Response, error) {
		return rc.do(obj("action", "stat", "filename", p, "checksum", true))
	}},
	{"ls", func(rc *rawConn, p json.RawMessage) (protocol.Response, error) {
		return rc.do(obj("action", "ls", "path", p))
	}},
	{"get", func(rc *rawConn, p json.RawMessage) (protocol.Response, error) {
		g, err := rc.get(obj("action", "get", "filename", p))
		return g.resp, err
	}},
	{"breakpoint", func(rc *rawConn, p json.RawMessage) (protocol.Response, error) {
		return rc.do(obj("action", "breakpoint", "filename", p, "transfer", transferID))
	}},
	{"put", func(rc *rawConn, p json.RawMessage) (protocol.Response, error) {
		first, last, err := rc.put(obj("action", "put", "filename", p, "size", len(putBody)), putBody, true)
		if first.Status != protocol.StatusReadyToSend {
			return first, err
		}
		return last, err
	}},
	{"mkdir", func(rc *rawConn, p json.RawMessage) (protocol.Response, error) {
		return rc.do(obj("action", "mkdir", "filename", p))
	}},
	{"mv from", func(rc *rawConn, p json.RawMessage) (protocol.Response, error) {
		return rc.do(obj("action", "mv", "filename", p, "to", "/mvdst.txt"))
	}},
	{"mv to", func(rc *rawConn, p json.RawMessage) (protocol.Response, error) {
		return rc.do(obj("action", "mv", "filename", "/mvsrc.txt", "to", p))
	}},
	{"rm", func(rc *rawConn, p json.RawMessage) (protocol.Response, error) {
		return rc.do(obj("action", "rm", "filename", p))
	}},
	{"rm -r", func(rc *rawConn, p json.RawMessage) (protocol.Response, error) {
		return rc.do(obj("action", "rm", "filename", p, "recursive", true))
	}},
	{"cd", func(rc *rawConn, p json.RawMessage) (protocol.Response, error) {
		resp, err := rc.do(obj("action", "cd", "path", p))
		if err == nil && resp.Status == protocol.StatusDirChanged {
			var back protocol.Response
			if back, err = rc.do(obj("action", "cd", "path", "/")); err == nil && back.Status != protocol.StatusDirChanged {
				err = errString("cd / after a successful cd: " + back.Status.String())
			}
		}
		return resp, err
	}},
	{"mkdir -p", func(rc *rawConn, p json.RawMessage) (protocol.Response, error) {
		return rc.do(obj("action", "mkdir", "filename", p, "parents", true))
	}},
}

type errString string

func (e errString) Error() string { return string(e) }

// success reports whether st is a success answer.
func success(st protocol.Status) bool {
	switch st {
	case protocol.StatusReadyToSend, protocol.StatusMD5OK, protocol.StatusDirChanged, protocol.StatusOK:
		return true
	}
	return false
}

// tally counts requests and the kinds of refusal.
type tally struct {
	paths, requests, refusals, generic, escapes int
}

func (c *tally) add(st protocol.Status) {
	c.requests++
	if !success(st) {
		c.refusals++
		if st == protocol.StatusServerError {
			c.generic++
		}
	}
}

func (c *tally) log(t *testing.T, what string) {
	t.Helper()
	pct := 100.0
	if c.refusals > 0 {
		pct = 100 * float64(c.refusals-c.generic) / float64(c.refusals)
	}
	t.Logf("%s: %d tried (%d requests), escapes: %d, specific-code refusals: %.1f%% (generic 272: %d)",
		what, c.paths, c.requests, c.escapes, pct, c.generic)
}
