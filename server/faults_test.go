package server_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/home"
	"ftpx/internal/faultfs"
	"ftpx/protocol"
	"ftpx/server"

	"github.com/google/uuid"
)

// faultyServer starts a server whose homes fail as faults plans.
func faultyServer(t *testing.T, faults *faultfs.Faults) *ftpxtest.Server {
	t.Helper()
	ts := ftpxtest.NewServer(t, func(s *server.Server) { s.Homes.Wrap = faults.Wrap })
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	return ts
}

// usable checks that the session still answers, and still stores a file.
func usable(t *testing.T, rc *raw, ts *ftpxtest.Server) {
	t.Helper()
	if resp := rc.do(protocol.Request{Action: "pwd"}); resp.Status != protocol.StatusOK {
		t.Fatalf("pwd after the failure: %d %s", resp.Status, resp.Msg)
	}
	body := []byte("still serving")
	if resp := rc.put("after.txt", body, md5hex(body)); resp.Status != protocol.StatusMD5OK {
		t.Fatalf("put after the failure: %d %s", resp.Status, resp.Msg)
	}
	if got, _ := os.ReadFile(filepath.Join(ts.Home("alex"), "after.txt")); !bytes.Equal(got, body) {
		t.Fatalf("after.txt holds %q", got)
	}
	if resp := rc.do(protocol.Request{Action: "rm", Filename: "after.txt"}); resp.Status != protocol.StatusOK {
		t.Fatalf("rm after.txt: %d %s", resp.Status, resp.Msg)
	}
}

// partials returns the names in the user's partial directory.
func partials(t *testing.T, ts *ftpxtest.Server, user string) []string {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(ts.Home(user), ".ftpx-partial"))
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestDiskFaultsAnsweredWithTheirCode makes each step of a put fail in
// turn, with an I/O error and with a full disk: the client gets 272 or
// 286 (mid-body: at once, while it still sends), nothing appears under the
// name, an old file there is untouched, and the session goes on.
func TestDiskFaultsAnsweredWithTheirCode(t *testing.T) {
	for _, tc := range []struct {
		name string
		plan faultfs.Plan
		want protocol.Status
		kept bool // the partial stays, to resume
	}{
		{"write EIO", faultfs.Plan{Op: faultfs.Write, N: 2, Err: syscall.EIO}, protocol.StatusServerError, false},
		{"write ENOSPC", faultfs.Plan{Op: faultfs.Write, N: 2, Err: syscall.ENOSPC}, protocol.StatusNoSpace, true},
		{"first write EDQUOT", faultfs.Plan{Op: faultfs.Write, N: 1, Err: syscall.EDQUOT}, protocol.StatusNoSpace, false}, // nothing held: nothing kept
		{"short write then ENOSPC", faultfs.Plan{Op: faultfs.Write, N: 3, Err: syscall.ENOSPC, Short: true}, protocol.StatusNoSpace, true},
		{"short write without error", faultfs.Plan{Op: faultfs.Write, N: 2, Short: true}, protocol.StatusServerError, false},
		{"sync EIO", faultfs.Plan{Op: faultfs.Sync, N: 1, Err: syscall.EIO}, protocol.StatusServerError, false},
		{"sync ENOSPC", faultfs.Plan{Op: faultfs.Sync, N: 1, Err: syscall.ENOSPC}, protocol.StatusNoSpace, false},
		{"rename EIO", faultfs.Plan{Op: faultfs.Rename, N: 1, Err: syscall.EIO}, protocol.StatusServerError, false},
		{"rename ENOSPC", faultfs.Plan{Op: faultfs.Rename, N: 1, Err: syscall.ENOSPC}, protocol.StatusNoSpace, false},
		{"create ENOSPC", faultfs.Plan{Op: faultfs.Create, N: 1, Err: syscall.ENOSPC}, protocol.StatusNoSpace, false},
		// An object store that stopped answering for a while: what it
		// took stays, to resume once it is back.
		{"write: store unavailable", faultfs.Plan{Op: faultfs.Write, N: 2, Err: home.ErrUnavailable}, protocol.StatusUnavailable, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			faults := faultfs.New()
			ts := faultyServer(t, faults)
			old := []byte("the old content")
			target := filepath.Join(ts.Home("alex"), "f.bin")
			rc := login(t, ts, "alex", "pw-alex")
			if resp := rc.put("f.bin", old, md5hex(old)); resp.Status != protocol.StatusMD5OK {
				t.Fatalf("first put: %d %s", resp.Status, resp.Msg)
			}
			faults.Set(tc.plan)
			body := randomBytes(t, 3<<20+123)
			id := uuid.NewString()
			resp := rc.do(protocol.Request{Action: "put", Filename: "f.bin", SizeField: protocol.Int64(int64(len(body))), Transfer: id})
			if resp.Status == protocol.StatusReadyToSend {
				// A client that does not watch for the early answer sends
				// everything and finds it where it expects the 258.
				rc.sendBytes(body)
				rc.send(protocol.Request{MD5: md5hex(body)})
				resp = rc.read()
			}
			if resp.Status != tc.want {
				t.Fatalf("put: %d %s, want %d", resp.Status, resp.Msg, tc.want)
			}
			if faults.Fired() != 1 {
				t.Fatalf("%d faults fired, want 1", faults.Fired())
			}
			faults.Set()
			if got, _ := os.ReadFile(target); !bytes.Equal(got, old) {
				t.Fatalf("f.bin holds %d bytes, want the old %d", len(got), len(old))
			}
			bp := breakpoint(t, rc, "f.bin", id)
			if held := bp.Offset > 0; held != tc.kept {
				t.Fatalf("breakpoint after %s: offset %d (%s); kept %v, want %v; partials %v", tc.name, bp.Offset, bp.Msg, held, tc.kept, partials(t, ts, "alex"))
			}
			if !tc.kept && len(partials(t, ts, "alex")) != 0 {
				t.Fatalf("partials left: %v", partials(t, ts, "alex"))
			}
			usable(t, rc, ts)
			if tc.kept { // resumable once the disk has room
				resp := rc.do(protocol.Request{Action: "put", Filename: "f.bin", SizeField: protocol.Int64(int64(len(body))), Transfer: id, Offset: bp.Offset})
				if resp.Status != protocol.StatusReadyToSend || bp.MD5 != md5hex(body[:bp.Offset]) {
					t.Fatalf("resume at %d: %d %s", bp.Offset, resp.Status, resp.Msg)
				}
				rc.sendBytes(body[bp.Offset:])
				rc.send(protocol.Request{MD5: md5hex(body)})
				if resp := rc.read(); resp.Status != protocol.StatusMD5OK {
					t.Fatalf("resumed put: %d %s", resp.Status, resp.Msg)
				}
				if got, _ := os.ReadFile(target); !bytes.Equal(got, body) {
					t.Fatal("the resumed file differs")
				}
			}
			if resp := rc.do(protocol.Request{Action: "quota"}); resp.Used == nil || !tc.kept && *resp.Used != int64(len(old)) || tc.kept && *resp.Used != int64(len(body)) {
				t.Fatalf("quota used %d after %s (%d %s)", *resp.Used, tc.name, resp.Status, resp.Msg)
			}
		})
	}
}

// TestPipelinedPutsDiskFaults: a pipelined put whose write fails is
// answered in its turn and the batch goes on; a failed sync of the batch
// fails every put of the window and stores none.
func TestPipelinedPutsDiskFaults(t *testing.T) {
	faults := faultfs.New(faultfs.Plan{Op: faultfs.Write, N: 2, Err: syscall.ENOSPC})
	ts := faultyServer(t, faults)
	rc := login(t, ts, "alex", "pw-alex")
	const n = 4
	bodies := make([][]byte, n)
	for i := range n {
		bodies[i] = bytes.Repeat([]byte{byte('a' + i)}, 300<<10) // two writes each
		rc.sendNoWait(fmt.Sprint(i), fmt.Sprintf("p%d", i), bodies[i], md5hex(bodies[i]))
	}
	want := []protocol.Status{protocol.StatusNoSpace, protocol.StatusMD5OK, protocol.StatusMD5OK, protocol.StatusMD5OK}
	for i := range n {
		if resp := rc.read(); resp.ID != fmt.Sprint(i) || resp.Status != want[i] {
			t.Fatalf("answer %d: id %s %d %s, want %d", i, resp.ID, resp.Status, resp.Msg, want[i])
		}
	}
	if _, err := os.Stat(filepath.Join(ts.Home("alex"), "p0")); !os.IsNotExist(err) {
		t.Fatalf("p0 exists after its write failed: %v", err)
	}

	faults.Set(faultfs.Plan{Op: faultfs.SyncFS, N: 1, Err: syscall.EIO})
	rc.sendWindow("q", bodies)
	for i := range n {
		if resp := rc.read(); resp.Status != protocol.StatusServerError {
			t.Fatalf("answer %d after a failed syncfs: %d %s", i, resp.Status, resp.Msg)
		}
		if _, err := os.Stat(filepath.Join(ts.Home("alex"), fmt.Sprintf("q%d", i))); !os.IsNotExist(err) {
			t.Fatalf("q%d exists after the batch sync failed", i)
		}
	}
	if len(partials(t, ts, "alex")) != 0 {
		t.Fatalf("partials left: %v", partials(t, ts, "alex"))
	}
	usable(t, rc, ts)
}

// TestPanicCommittingPipelinedPutsEndsOnlyTheSession: a panic on the
// goroutine that commits a window of pipelined puts (here a planned one in
// the sync of the window) ends that session - its connection closes,
// nothing of the window is stored or left counted - and the server goes
// on serving: another session logs in and puts a file.
func TestPanicCommittingPipelinedPutsEndsOnlyTheSession(t *testing.T) {
	faults := faultfs.New(faultfs.Plan{Op: faultfs.SyncFS, N: 1, Panic: true})
	ts := faultyServer(t, faults)
	rc := login(t, ts, "alex", "pw-alex")
	bodies := [][]byte{[]byte("one"), []byte("two"), []byte("three")}
	rc.sendWindow("w", bodies)
	if !rc.closedByServer() {
		t.Fatal("the session went on after a panic committing its window")
	}
	for i := range bodies {
		if _, err := os.Stat(filepath.Join(ts.Home("alex"), fmt.Sprint("w", i))); !os.IsNotExist(err) {
			t.Fatalf("w%d exists after the commit panicked: %v", i, err)
		}
	}
	if !strings.Contains(ts.Log(), "panic committing pipelined puts") {
		t.Fatalf("the panic is not in the log:\n%s", ts.Log())
	}
	other := login(t, ts, "alex", "pw-alex")
	if resp := other.put("after", []byte("still up"), md5hex([]byte("still up"))); resp.Status != protocol.StatusMD5OK {
		t.Fatalf("put after the panic: %d %s", resp.Status, resp.Msg)
	}
	if resp := other.do(protocol.Request{Action: "quota"}); resp.Used == nil || *resp.Used != int64(len("still up")) {
		t.Fatalf("quota used after the panic: %v", resp.Used)
	}
}
