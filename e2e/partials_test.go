package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serverCmd runs ftpx-server and returns its combined output and status.
func serverCmd(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(filepath.Join(binDir, "ftpx-server"), args...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// TestOperatorListsAndRemovesPartials: ftpx-server partials list shows
// every user's interrupted uploads; rm removes the chosen ones (by user,
// by id or its start, by age), leaving those written in the last minute.
func TestOperatorListsAndRemovesPartials(t *testing.T) {
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "alex", "pw", "")
	addUser(t, accounts, "bob", "pw-bob", "")
	d := startDaemon(t, accounts)
	work := t.TempDir()
	r := seeded(t, 1520)
	writeSeeded(t, filepath.Join(work, "a.bin"), 24*mib, r)
	writeSeeded(t, filepath.Join(work, "b.bin"), 24*mib, r)
	alex := []string{"FTPX_SERVER=" + d.addr, "FTPX_USER=alex", "FTPX_PASSWORD=pw"}
	bob := []string{"FTPX_SERVER=" + d.addr, "FTPX_USER=bob", "FTPX_PASSWORD=pw-bob"}
	killMidPut(t, d, work, alex, "a.bin", 2*mib)
	b := startFtpx(t, work, bob, "--limit-rate", "16MB", "put", "b.bin")
	waitUntil(t, 20*time.Second, "bob's put to be held", func() bool { return heldOnServer(d.root, "bob") >= 2*mib })
	b.kill()
	waitUntil(t, 20*time.Second, "both cuts noticed", func() bool { return strings.Count(d.logText(), `msg="put interrupted"`) == 2 })

	out, code := serverCmd(t, "partials", "list", "--root", d.root, "--accounts", accounts)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "USER") || !strings.Contains(out, "/a.bin (of 24MB)") || !strings.Contains(out, "/b.bin (of 24MB)") {
		t.Fatalf("partials list: exit %d\n%s", code, out)
	}
	var bobID string
	for _, l := range lines[1:] {
		if f := strings.Fields(l); f[0] == "bob" {
			bobID = f[1]
		}
	}

	out, code = serverCmd(t, "partials", "rm", "--root", d.root)
	if code != 1 || !strings.Contains(out, "name a USER or an ID, or give --older-than") {
		t.Fatalf("partials rm without a choice: exit %d %s", code, out)
	}
	out, code = serverCmd(t, "partials", "rm", "--root", d.root, "nobody")
	if code != 1 || !strings.Contains(out, `no user or transfer id "nobody"`) {
		t.Fatalf("partials rm of an unknown user: exit %d %s", code, out)
	}
	out, code = serverCmd(t, "partials", "rm", "--root", d.root, bobID[:8])
	if code != 0 || !strings.Contains(out, "skipped bob "+bobID+": written") {
		t.Fatalf("partials rm of a partial written just now: exit %d %s", code, out)
	}
	// An hour later, as far as the files say.
	old := time.Now().Add(-time.Hour)
	for _, user := range []string{"alex", "bob"} {
		ents, _ := os.ReadDir(filepath.Join(d.root, user, ".ftpx-partial"))
		for _, e := range ents {
			os.Chtimes(filepath.Join(d.root, user, ".ftpx-partial", e.Name()), old, old)
		}
	}
	out, code = serverCmd(t, "partials", "rm", "--root", d.root, "--older-than", "2h", "bob")
	if code != 0 || !strings.Contains(out, "0 removed") {
		t.Fatalf("partials rm --older-than 2h: exit %d %s", code, out)
	}
	out, code = serverCmd(t, "partials", "rm", "--root", d.root, bobID[:8])
	if code != 0 || !strings.Contains(out, "removed bob "+bobID+" /b.bin") || !strings.Contains(out, "1 removed") {
		t.Fatalf("partials rm ID: exit %d %s", code, out)
	}
	if heldOnServer(d.root, "bob") != 0 || heldOnServer(d.root, "alex") == 0 {
		t.Fatal("rm of bob's partial removed the wrong ones")
	}
	out, code = serverCmd(t, "partials", "rm", "--root", d.root, "--older-than", "30m")
	if code != 0 || !strings.Contains(out, "removed alex ") || heldOnServer(d.root, "alex") != 0 {
		t.Fatalf("partials rm --older-than 30m: exit %d %s", code, out)
	}
	// Once their sessions are gone, the server counts what is on disk.
	if used := quotaJSON(t, work, alex); used != 0 {
		t.Fatalf("alex's quota used %d after the operator removed the partial", used)
	}
}

// TestResumeCancelAll gives up every transfer of this server and user, a
// put (on the server) and a get (its local partial), and only those.
func TestResumeCancelAll(t *testing.T) {
	d, work, env := resumeSetup(t)
	r := seeded(t, 1521)
	writeSeeded(t, filepath.Join(work, "up.bin"), 24*mib, r)
	writeSeeded(t, filepath.Join(work, "down.bin"), 24*mib, r)
	if _, errOut, code := ftpx(t, work, env, "put", "down.bin", "remote.bin"); code != 0 {
		t.Fatal(errOut)
	}
	killMidPut(t, d, work, env, "up.bin", 2*mib)
	os.Mkdir(filepath.Join(work, "dl"), 0o755)
	killMidGet(t, filepath.Join(work, "dl"), env, "remote.bin")
	if n, _ := localPartial(filepath.Join(work, "dl"), "remote.bin"); n == 0 {
		t.Fatal("no local partial of the get")
	}
	// killMidGet ran in dl/, with its own state directory: move it over.
	recs, _ := filepath.Glob(filepath.Join(work, "dl", ".state", "*.json"))
	for _, f := range recs {
		os.Rename(f, filepath.Join(work, ".state", filepath.Base(f)))
	}
	if n := len(stateRecords(t, work)); n != 2 {
		t.Fatalf("%d records, want 2", n)
	}
	waitUntil(t, 20*time.Second, "the cut put noticed", func() bool { return strings.Contains(d.logText(), `msg="put interrupted"`) })
	out, errOut, code := ftpx(t, work, env, "resume", "--cancel-all")
	if code != 0 || !strings.Contains(out, "cancelled put /up.bin: ") || !strings.Contains(out, "cancelled get /remote.bin: its local partial file removed") {
		t.Fatalf("resume --cancel-all: exit %d %q %s", code, out, errOut)
	}
	if n, _ := localPartial(filepath.Join(work, "dl"), "remote.bin"); n != 0 || heldOnServer(d.root, "alex") != 0 || len(stateRecords(t, work)) != 0 {
		t.Fatal("something is left after --cancel-all")
	}
	if out, errOut, code := ftpx(t, work, env, "resume", "--cancel-all"); code != 0 || out != "" || errOut != "ftpx: resume: nothing to cancel\n" {
		t.Fatalf("second --cancel-all: exit %d %q %q", code, out, errOut)
	}
}
