package hostile

import (
	"path/filepath"
	"strings"
	"testing"

	"ftpx/protocol"
)

// treeOf sends a tree request and reads its frames to the last.
func treeOf(t *testing.T, rc *rawConn, p any) (protocol.Status, []protocol.TreeEntry) {
	t.Helper()
	if err := rc.send(obj("action", "tree", "path", p, "id", "tree-1")); err != nil {
		t.Fatal(err)
	}
	var all []protocol.TreeEntry
	for {
		resp, _, err := rc.read()
		if err != nil {
			t.Fatalf("tree %q: %v", p, err)
		}
		if resp.ID != "tree-1" {
			t.Fatalf("tree %q: a frame for %q", p, resp.ID)
		}
		all = append(all, resp.Tree...)
		if !resp.More {
			return resp.Status, all
		}
	}
}

// TestTreeNeverLeavesTheHome plants every symlink attack in the home and
// lists it whole, and through each attack path: no entry may come from
// outside the home (an outward link is listed as a link, never entered),
// loops end, and no answer holds an outside secret or the server's path.
func TestTreeNeverLeavesTheHome(t *testing.T) {
	a := newArena(t)
	a.reset(t)
	a.plantLinks(t)
	a.before = snapshot(t, a.top, a.skip...)
	rc := login(t, a.ts, attacker, attackerPW, a.g)

	st, entries := treeOf(t, rc, "/")
	if st != protocol.StatusOK {
		t.Fatalf("tree /: %d", st)
	}
	inward := map[string]bool{"self": true, "inlink": true, "chain2": false}
	kinds := map[string]string{}
	for _, e := range entries {
		first, rest, _ := strings.Cut(e.Path, "/")
		if rest != "" && !inward[first] && first != "a" {
			t.Errorf("tree / entered %s: %s", first, e.Path)
		}
		if strings.Contains(e.Path, "secret") || strings.Contains(e.Path, protocol.SkipLink+"/") {
			t.Errorf("tree / lists %q", e.Path)
		}
		if rest == "" {
			kinds[e.Path] = e.Skip
		}
	}
	for _, l := range []string{"abs", "absfile", "rel", "relfile", "bobhome", "bobfile", "chain1", "slash", "etc",
		"dangling", "danglingrel", "sneaky", "homeabs", "abspartial", "loop1", "loop2", "dev"} {
		if kinds[l] != protocol.SkipLink {
			t.Errorf("tree / shows %s with skip %q, want %q", l, kinds[l], protocol.SkipLink)
		}
	}
	if kinds["self"] != protocol.SkipLoop {
		t.Errorf("self (a link to the home): %q, want %q", kinds["self"], protocol.SkipLoop)
	}
	for _, la := range linkAttacks(a) {
		wire := jsonOf(la.path)
		echo := jsonOf("/" + la.path)
		a.g.setEcho(echo[1 : len(echo)-1])
		st, entries := treeOf(t, rc, wire)
		if st == protocol.StatusOK && !strings.HasPrefix(filepath.Clean(la.path), "self") {
			t.Errorf("tree %q: 260 with %d entries, want a refusal", la.path, len(entries))
		}
		a.escapes(t, "tree "+la.path)
	}
	a.g.setEcho(nil)
	if n := panics(a.ts); n > 0 {
		t.Errorf("%d handler panics in the server log", n)
	}
}
