package hostile

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ftpx/protocol"
)

// TestCancelAbuse: cancel gives up only the caller's own interrupted
// puts. Ids that are not uuids, paths, another user's transfer, a
// transfer still being uploaded, nothing held: each has its code, and
// nobody else's partial moves.
func TestCancelAbuse(t *testing.T) {
	a := newArena(t)
	carol := login(t, a.ts, neighbour, neighbourPW, a.g)
	const held = "6a1f4c2e-8b3d-4e5f-9a0b-1c2d3e4f5a6b"
	body := bytes.Repeat([]byte("carol's upload "), 70_000) // ~1 MiB
	hdr := obj("action", "put", "filename", "carol.bin", "size", len(body), "transfer", held)
	if resp, err := carol.do(hdr); err != nil || resp.Status != protocol.StatusReadyToSend {
		t.Fatalf("carol's put: %v %+v", err, resp)
	}
	carol.write(body[:300_000])
	carol.Close()
	carolPartial := filepath.Join(a.ts.Home(neighbour), ".ftpx-partial", held)
	if !waitFor(10*time.Second, func() bool { fi, err := os.Stat(carolPartial); return err == nil && fi.Size() == 300_000 }) {
		t.Fatal("carol's partial is not held")
	}

	anon := dial(t, a.ts.Addr, a.g)
	if resp, err := anon.do(obj("action", "cancel", "transfer", held)); err != nil || resp.Status != protocol.StatusNotLoggedIn {
		t.Fatalf("cancel before auth: %v %d", err, resp.Status)
	}
	rc := login(t, a.ts, attacker, attackerPW, a.g)
	for _, tc := range []struct {
		hdr  []byte
		want protocol.Status
	}{
		{obj("action", "cancel"), protocol.StatusBadFormat},
		{obj("action", "cancel", "transfer", ""), protocol.StatusBadFormat},
		{obj("action", "cancel", "transfer", "not-a-uuid"), protocol.StatusBadFormat},
		{obj("action", "cancel", "transfer", "../../../../outside/secret.txt"), protocol.StatusBadFormat},
		{obj("action", "cancel", "transfer", "../"+neighbour+"/.ftpx-partial/"+held), protocol.StatusBadFormat},
		{obj("action", "cancel", "transfer", "/etc/passwd"), protocol.StatusBadFormat},
		{obj("action", "cancel", "transfer", "urn:uuid:"+held), protocol.StatusBadFormat},
		{obj("action", "cancel", "transfer", "{"+held+"}"), protocol.StatusBadFormat},
		{obj("action", "cancel", "transfer", strings.ToUpper(held)), protocol.StatusNotExist}, // a uuid, not one held here or elsewhere under that name
		{obj("action", "cancel", "transfer", strings.Repeat("a", 5000)), protocol.StatusBadFormat},
		{obj("action", "cancel", "transfer", 42), protocol.StatusBadFormat},
		{obj("action", "cancel", "transfer", held), protocol.StatusForeignTransfer},
		{obj("action", "cancel", "transfer", transferID), protocol.StatusNotExist},
		{obj("action", "cancel", "filename", "carol.bin"), protocol.StatusBadFormat},
	} {
		resp, err := rc.do(tc.hdr)
		if err != nil {
			t.Fatalf("%s: %v", tc.hdr, err)
		}
		if resp.Status != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.hdr, resp.Status, resp.Msg, tc.want)
		}
	}
	if fi, err := os.Stat(carolPartial); err != nil || fi.Size() != 300_000 {
		t.Fatalf("carol's partial after the attacker's cancels: %v", err)
	}

	// Carol's own cancel of a put still running on another connection
	// waits, then says busy; once that connection is gone it goes through.
	const running = "7b2e5d3f-9c4e-4f60-8b1c-2d3e4f5a6b7c"
	up := login(t, a.ts, neighbour, neighbourPW, a.g)
	if resp, err := up.do(obj("action", "put", "filename", "run.bin", "size", len(body), "transfer", running)); err != nil || resp.Status != protocol.StatusReadyToSend {
		t.Fatalf("running put: %v %+v", err, resp)
	}
	up.write(body[:1000])
	c2 := login(t, a.ts, neighbour, neighbourPW, a.g)
	if resp, err := c2.do(obj("action", "cancel", "transfer", running)); err != nil || resp.Status != protocol.StatusTransferBusy {
		t.Fatalf("cancel of a running put: %v %d %s, want 280", err, resp.Status, resp.Msg)
	}
	up.Close()
	if !waitFor(10*time.Second, func() bool { return strings.Count(a.ts.Log(), `msg="put interrupted"`) == 2 }) {
		t.Fatal("the server did not notice the cut")
	}

	q0, _ := c2.do(obj("action", "quota"))
	resp, err := c2.do(obj("action", "cancel", "transfer", held))
	if err != nil || resp.Status != protocol.StatusOK || resp.Size == nil || *resp.Size != 300_000 {
		t.Fatalf("carol's cancel: %v %+v", err, resp)
	}
	q1, _ := c2.do(obj("action", "quota"))
	if *q0.Used-*q1.Used != 300_000 {
		t.Fatalf("quota used %d -> %d: the cancelled bytes did not leave it at once", *q0.Used, *q1.Used)
	}
	if _, err := os.Stat(carolPartial); !os.IsNotExist(err) {
		t.Fatalf("carol's partial is still there: %v", err)
	}
	if _, err := os.Stat(carolPartial + ".state"); !os.IsNotExist(err) {
		t.Fatalf("carol's partial state is still there: %v", err)
	}
	if resp, _ := c2.do(obj("action", "cancel", "transfer", held)); resp.Status != protocol.StatusNotExist {
		t.Fatalf("second cancel: %d, want 256", resp.Status)
	}
	if !waitFor(10*time.Second, func() bool {
		resp, _ := c2.do(obj("action", "cancel", "transfer", running))
		return resp.Status == protocol.StatusOK
	}) {
		t.Fatal("the cut put could not be cancelled once its connection was gone")
	}
	a.escapes(t, "cancel abuse")
}
