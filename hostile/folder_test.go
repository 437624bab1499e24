package hostile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"ftpx/accounts"
	"ftpx/protocol"
)

// The folder case: the attacker's home mounts top/team as /shared with
// every permission, and the folder holds symlinks planted out of it. The
// jail must hold inside the folder exactly as in the home: nothing outside
// the folder (the outside files, the victim's home, the attacker's own
// home) is read or changed through it.

const (
	folderUser = "mfold"
	folderPW   = "pw-mfold"
	teamDoc    = "team-doc\n"
)

// resetTeam puts the folder back to its fixture: doc.txt, sub/, and the
// planted links.
func resetTeam(t testing.TB, a *arena, team string) {
	t.Helper()
	emptyDir(t, team)
	mustWrite(t, filepath.Join(team, "doc.txt"), teamDoc)
	mustWrite(t, filepath.Join(team, "sub", "f.txt"), teamDoc)
	for link, target := range map[string]string{
		"abs":     a.outside,                                 // an absolute outside directory
		"absfile": filepath.Join(a.outside, "secret.txt"),    // an absolute outside file
		"rel":     "../outside",                              // relative, out of the folder
		"bobhome": filepath.Join(a.top, "root", victim),      // into a user's home
		"home":    "../root/" + folderUser,                   // into the attacker's own home: still outside the folder
		"chain":   "sub/../rel",                              // inside, then out
		"sneaky":  "sub/../../team/../outside/../outside",    // climbs out and back and out
		"etc":     "/etc",                                    // the system
		"partial": filepath.Join(team, "..", "root", victim), // spelled through the folder's own path
	} {
		if err := os.Symlink(target, filepath.Join(team, link)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestJailHoldsInsideFolder(t *testing.T) {
	a := newArena(t)
	team := filepath.Join(a.top, "team")
	os.Mkdir(team, 0o755)
	a.ts.AddUserWith(t, folderUser, folderPW, accounts.Unlimited, "folder.shared = "+team+" read,write,modify")
	rc := login(t, a.ts, folderUser, folderPW, a.g)
	a.skip = append(a.skip, team, a.ts.Home(folderUser))
	resetTeam(t, a, team)
	a.before = snapshot(t, a.top, a.skip...)

	// Refused outright: lexically out of the home, or the reserved name.
	lexical := []string{"/shared/../..", "/shared/../../outside/secret.txt", "shared/../../" + victim + "/secret.txt",
		"/shared/.ftpx-partial", "/shared/.ftpx-partial/x", "/shared/sub/../../.."}
	var c tally
	for _, p := range lexical {
		c.paths++
		for _, act := range pathActions {
			resp, err := act.run(rc, jsonOf(p))
			if err != nil {
				t.Fatalf("%s %q: connection broken: %v", act.name, p, err)
			}
			c.add(resp.Status)
			c.escapes += a.escapes(t, act.name+" "+p)
			if resp.Status != protocol.StatusPermission {
				t.Errorf("%s %q: %d %s, want 263", act.name, p, resp.Status, resp.Msg)
			}
		}
	}

	// Through (and onto) the planted links.
	var attacks []linkAttack
	for _, l := range []string{"abs", "rel", "bobhome", "home", "chain", "sneaky"} {
		attacks = append(attacks,
			linkAttack{path: "/shared/" + l, onto: true},
			linkAttack{path: "/shared/" + l + "/secret.txt"},
			linkAttack{path: "/shared/" + l + "/new.txt"},
			linkAttack{path: "/shared/" + l + "/sub/deep.txt"},
			linkAttack{path: "/shared/" + l + "/top.txt"},
		)
	}
	for _, l := range []string{"absfile", "etc", "partial"} {
		attacks = append(attacks, linkAttack{path: "/shared/" + l, onto: true}, linkAttack{path: "/shared/" + l + "/x"})
	}
	attacks = append(attacks, linkAttack{path: "/shared/etc/passwd"}, linkAttack{path: "/shared/partial/secret.txt"})
	for _, la := range attacks {
		c.paths++
		echo := jsonOf(la.path)
		a.g.setEcho(echo[1 : len(echo)-1])
		for _, act := range pathActions {
			run := act.run
			if act.name == "mv to" { // from inside the folder: from the home it would be a cross-folder move
				run = func(rc *rawConn, p json.RawMessage) (protocol.Response, error) {
					return rc.do(obj("action", "mv", "filename", "/shared/doc.txt", "to", p))
				}
			}
			resp, err := run(rc, jsonOf(la.path))
			if err != nil {
				t.Fatalf("%s %q: connection broken: %v", act.name, la.path, err)
			}
			c.add(resp.Status)
			c.escapes += a.escapes(t, act.name+" "+la.path)
			want := protocol.StatusPermission
			switch {
			case act.name == "breakpoint":
				want = protocol.StatusOK // nothing held: no file is touched
			case la.onto && (act.name == "rm" || act.name == "rm -r"):
				want = protocol.StatusOK // removes the link itself
			case la.onto && act.name == "mkdir":
				want = protocol.StatusExists
			case la.onto && act.name == "mkdir -p":
				want = 0
			}
			if want != 0 && resp.Status != want {
				t.Errorf("%s %q: %d %s, want %d", act.name, la.path, resp.Status, resp.Msg, want)
			}
			if success(resp.Status) {
				resetTeam(t, a, team)
			}
		}
	}
	// The folder still works, inside.
	if resp, err := rc.putSimple("/shared/sub/ok.txt", []byte("ok")); err != nil || resp.Status != protocol.StatusMD5OK {
		t.Errorf("a put inside the folder: %+v %v", resp, err)
	}
	if g, err := rc.get(obj("action", "get", "filename", "/shared/doc.txt")); err != nil || string(g.body) != teamDoc {
		t.Errorf("a get inside the folder: %q %v", g.body, err)
	}
	if n := panics(a.ts); n > 0 {
		t.Errorf("%d handler panics in the server log", n)
	}
	c.log(t, "folder attack paths")
}
