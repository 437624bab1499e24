package server_test

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/home"
	"ftpx/protocol"
	"ftpx/server"

	"github.com/google/uuid"
)

// putCut starts a resumable put, sends only the first n body bytes and
// drops the connection.
func putCut(t *testing.T, ts *ftpxtest.Server, name, transfer string, body []byte, offset, n int) {
	t.Helper()
	rc := login(t, ts, "alex", "pw-alex")
	resp := rc.do(protocol.Request{Action: "put", Filename: name, SizeField: protocol.Int64(int64(len(body))), Transfer: transfer, Offset: int64(offset)})
	if resp.Status != protocol.StatusReadyToSend {
		t.Fatalf("put at %d: %d %s", offset, resp.Status, resp.Msg)
	}
	rc.sendBytes(body[offset : offset+n])
	rc.conn.Close()
}

// breakpoint asks until the server has noticed the cut (it answers busy
// meanwhile) and returns its answer.
func breakpoint(t *testing.T, rc *raw, name, transfer string) protocol.Response {
	t.Helper()
	return rc.do(protocol.Request{Action: "breakpoint", Filename: name, Transfer: transfer})
}

func prefixMD5(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func TestResumedPutVerifiesWholeFile(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	body := randomBytes(t, 3<<20+17)
	id := uuid.NewString()
	putCut(t, ts, "big.bin", id, body, 0, 1<<20+5)

	rc := login(t, ts, "alex", "pw-alex")
	bp := breakpoint(t, rc, "big.bin", id)
	if bp.Status != protocol.StatusOK || bp.Offset != 1<<20+5 || *bp.Size != int64(len(body)) || bp.MD5 != prefixMD5(body[:bp.Offset]) {
		t.Fatalf("breakpoint: %d %s offset %d md5 %s", bp.Status, bp.Msg, bp.Offset, bp.MD5)
	}
	if _, err := os.Stat(filepath.Join(ts.Home("alex"), "big.bin")); !os.IsNotExist(err) {
		t.Fatal("an incomplete file is under its final name")
	}
	if resp := rc.do(protocol.Request{Action: "ls"}); len(resp.Entries) != 0 {
		t.Fatalf("ls shows the partial: %+v", resp.Entries)
	}
	// A second cut, then the rest.
	rc.conn.Close()
	putCut(t, ts, "big.bin", id, body, int(bp.Offset), 1<<20)
	rc = login(t, ts, "alex", "pw-alex")
	bp = breakpoint(t, rc, "big.bin", id)
	if bp.Offset != 2<<20+5 || bp.MD5 != prefixMD5(body[:bp.Offset]) {
		t.Fatalf("second breakpoint: offset %d", bp.Offset)
	}
	resp := rc.do(protocol.Request{Action: "put", Filename: "big.bin", SizeField: protocol.Int64(int64(len(body))), Transfer: id, Offset: bp.Offset})
	if resp.Status != protocol.StatusReadyToSend || resp.Offset != bp.Offset {
		t.Fatalf("resume: %d %s", resp.Status, resp.Msg)
	}
	rc.sendBytes(body[bp.Offset:])
	rc.send(protocol.Request{MD5: md5hex(body)})
	if resp := rc.read(); resp.Status != protocol.StatusMD5OK {
		t.Fatalf("resumed put: %d %s", resp.Status, resp.Msg)
	}
	if got, _ := os.ReadFile(filepath.Join(ts.Home("alex"), "big.bin")); !bytes.Equal(got, body) {
		t.Fatal("stored file differs")
	}
	assertNoPartials(t, ts.Home("alex"))
	if bp := breakpoint(t, rc, "big.bin", id); bp.Offset != 0 {
		t.Fatalf("breakpoint after completion: %d", bp.Offset)
	}
}

func TestResumeRefusals(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	ts.AddUser(t, "bob", "pw-bob", accounts.Unlimited)
	body := randomBytes(t, 100_000)
	id := uuid.NewString()
	putCut(t, ts, "f.bin", id, body, 0, 40_000)
	rc := login(t, ts, "alex", "pw-alex")
	if bp := breakpoint(t, rc, "f.bin", id); bp.Offset != 40_000 {
		t.Fatalf("breakpoint %d", bp.Offset)
	}
	size := protocol.Int64(int64(len(body)))
	for _, tc := range []struct {
		name string
		req  protocol.Request
		want protocol.Status
	}{
		{"negative offset", protocol.Request{Filename: "f.bin", SizeField: size, Transfer: id, Offset: -1}, protocol.StatusBadOffset},
		{"past the end", protocol.Request{Filename: "f.bin", SizeField: size, Transfer: id, Offset: 100_001}, protocol.StatusBadOffset},
		{"more than held", protocol.Request{Filename: "f.bin", SizeField: size, Transfer: id, Offset: 50_000}, protocol.StatusBadOffset},
		{"less than held", protocol.Request{Filename: "f.bin", SizeField: size, Transfer: id, Offset: 10_000}, protocol.StatusBadOffset},
		{"other name", protocol.Request{Filename: "g.bin", SizeField: size, Transfer: id, Offset: 40_000}, protocol.StatusBadOffset},
		{"other size", protocol.Request{Filename: "f.bin", SizeField: protocol.Int64(99_999), Transfer: id, Offset: 40_000}, protocol.StatusBadOffset},
		{"offset without transfer", protocol.Request{Filename: "f.bin", SizeField: size, Offset: 40_000}, protocol.StatusBadOffset},
		{"unknown transfer", protocol.Request{Filename: "f.bin", SizeField: size, Transfer: uuid.NewString(), Offset: 40_000}, protocol.StatusBadOffset},
		{"transfer not a uuid", protocol.Request{Filename: "f.bin", SizeField: size, Transfer: "../../etc/passwd", Offset: 40_000}, protocol.StatusBadFormat},
	} {
		tc.req.Action = "put"
		if resp := rc.do(tc.req); resp.Status != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.Status, resp.Msg, tc.want)
		}
	}
	// Nothing was lost by the refusals.
	if bp := breakpoint(t, rc, "f.bin", id); bp.Offset != 40_000 || bp.MD5 != prefixMD5(body[:40_000]) {
		t.Fatalf("breakpoint after refusals: %d", bp.Offset)
	}
	bob := login(t, ts, "bob", "pw-bob")
	if bp := breakpoint(t, bob, "f.bin", id); bp.Status != protocol.StatusForeignTransfer {
		t.Fatalf("bob's breakpoint on alex's transfer: %d %s", bp.Status, bp.Msg)
	}
	if resp := bob.do(protocol.Request{Action: "put", Filename: "f.bin", SizeField: size, Transfer: id, Offset: 40_000}); resp.Status != protocol.StatusForeignTransfer {
		t.Fatalf("bob resuming alex's transfer: %d %s", resp.Status, resp.Msg)
	}
	if resp, _, _ := rc.getAt("f.bin", -5, ""); resp.Status != protocol.StatusNotExist {
		t.Fatalf("get of a file only held as a partial: %d", resp.Status)
	}
}

func TestPutOffsetZeroStartsOver(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", 150_000)
	old := randomBytes(t, 100_000)
	id := uuid.NewString()
	putCut(t, ts, "f.bin", id, old, 0, 90_000)
	rc := login(t, ts, "alex", "pw-alex")
	breakpoint(t, rc, "f.bin", id) // waits for the server to settle the cut
	// The held 90 000 bytes count on the quota until they are discarded
	// by starting over; a new 100 000-byte upload then fits.
	body := randomBytes(t, 100_000)
	resp := rc.do(protocol.Request{Action: "put", Filename: "f.bin", SizeField: protocol.Int64(100_000), Transfer: id})
	if resp.Status != protocol.StatusReadyToSend {
		t.Fatalf("start over: %d %s", resp.Status, resp.Msg)
	}
	rc.sendBytes(body)
	rc.send(protocol.Request{MD5: md5hex(body)})
	if resp := rc.read(); resp.Status != protocol.StatusMD5OK {
		t.Fatalf("put: %d %s", resp.Status, resp.Msg)
	}
	ts.Homes.ExpirePartials(0) // nothing must be left to expire
	assertNoPartials(t, ts.Home("alex"))
}

func TestHeldBytesCountOnQuota(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", 100_000)
	body := randomBytes(t, 80_000)
	id := uuid.NewString()
	putCut(t, ts, "f.bin", id, body, 0, 60_000)
	rc := login(t, ts, "alex", "pw-alex")
	if bp := breakpoint(t, rc, "f.bin", id); bp.Offset != 60_000 { // waits until the server has settled the cut
		t.Fatalf("breakpoint %d", bp.Offset)
	}
	over, fits := randomBytes(t, 40_001), randomBytes(t, 40_000)
	if resp := rc.put("g.bin", over, md5hex(over)); resp.Status != protocol.StatusQuota {
		t.Fatalf("40 001 bytes with 60 000 held of 100 000: %d, want 264", resp.Status)
	}
	if resp := rc.put("g.bin", fits, md5hex(fits)); resp.Status != protocol.StatusMD5OK {
		t.Fatalf("40 000 bytes with 60 000 held of 100 000: %d %s", resp.Status, resp.Msg)
	}
}

func TestInterruptedUploadExpires(t *testing.T) {
	ts := ftpxtest.NewServer(t, func(s *server.Server) { s.PartialMaxAge = time.Hour })
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	id := uuid.NewString()
	putCut(t, ts, "f.bin", id, randomBytes(t, 10_000), 0, 5_000)
	rc := login(t, ts, "alex", "pw-alex")
	if bp := breakpoint(t, rc, "f.bin", id); bp.Offset != 5_000 {
		t.Fatalf("breakpoint %d", bp.Offset)
	}
	if n, _, _ := ts.Homes.ExpirePartials(time.Hour); n != 0 {
		t.Fatalf("a fresh partial expired")
	}
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(filepath.Join(ts.Home("alex"), home.PartialDir, id), old, old)
	if n, bytes, _ := ts.Homes.ExpirePartials(time.Hour); n != 1 || bytes != 5_000 {
		t.Fatalf("expired %d partials of %d bytes, want 1 of 5000", n, bytes)
	}
	if bp := breakpoint(t, rc, "f.bin", id); bp.Offset != 0 {
		t.Fatalf("breakpoint after expiry: %d", bp.Offset)
	}
	assertNoPartials(t, ts.Home("alex"))
}

func TestResumedGet(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	rc := login(t, ts, "alex", "pw-alex")
	body := randomBytes(t, 1<<20)
	rc.put("f.bin", body, md5hex(body))
	const at = 300_000
	resp, rest, sum := rc.getAt("f.bin", at, prefixMD5(body[:at]))
	if resp.Status != protocol.StatusReadyToSend || resp.Offset != at || *resp.Size != int64(len(body)) || resp.MTime == nil {
		t.Fatalf("get at %d: %+v", at, resp)
	}
	if !bytes.Equal(rest, body[at:]) || sum != md5hex(body) {
		t.Fatalf("rest differs or md5 %s is not the whole file's", sum)
	}
	if resp, _, _ := rc.getAt("f.bin", at, prefixMD5([]byte("not the prefix"))); resp.Status != protocol.StatusPrefixMismatch {
		t.Fatalf("wrong prefix: %d, want 279", resp.Status)
	}
	for _, off := range []int64{-1, int64(len(body)) + 1} {
		if resp, _, _ := rc.getAt("f.bin", off, ""); resp.Status != protocol.StatusBadOffset {
			t.Fatalf("get at %d: %d, want 266", off, resp.Status)
		}
	}
	if resp, rest, sum := rc.getAt("f.bin", int64(len(body)), md5hex(body)); resp.Status != protocol.StatusReadyToSend || len(rest) != 0 || sum != md5hex(body) {
		t.Fatalf("get at the end: %d, %d bytes", resp.Status, len(rest))
	}
}

func TestServerRestartKeepsPartial(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	body := randomBytes(t, 3<<20)
	id, other := uuid.NewString(), uuid.NewString()
	putCut(t, ts, "f.bin", id, body, 0, 2<<20)
	putCut(t, ts, "g.bin", other, body, 0, 1<<20)
	rc := login(t, ts, "alex", "pw-alex")
	breakpoint(t, rc, "f.bin", id)
	breakpoint(t, rc, "g.bin", other)
	os.WriteFile(filepath.Join(ts.Home("alex"), home.PartialDir, other+".state"), []byte("{not json"), 0o644)

	ts2 := ts.Restart(t)
	rc2 := login(t, ts2, "alex", "pw-alex")
	if bp := breakpoint(t, rc2, "f.bin", id); bp.Offset != 2<<20 || bp.MD5 != prefixMD5(body[:2<<20]) {
		t.Fatalf("after a restart: offset %d", bp.Offset)
	}
	if bp := breakpoint(t, rc2, "g.bin", other); bp.Status != protocol.StatusOK || bp.Offset != 0 {
		t.Fatalf("a corrupt saved state must read as nothing held: %d offset %d", bp.Status, bp.Offset)
	}
	resp := rc2.do(protocol.Request{Action: "put", Filename: "f.bin", SizeField: protocol.Int64(int64(len(body))), Transfer: id, Offset: 2 << 20})
	if resp.Status != protocol.StatusReadyToSend {
		t.Fatalf("resume after restart: %d %s", resp.Status, resp.Msg)
	}
	rc2.sendBytes(body[2<<20:])
	rc2.send(protocol.Request{MD5: md5hex(body)})
	if resp := rc2.read(); resp.Status != protocol.StatusMD5OK {
		t.Fatalf("put: %d %s", resp.Status, resp.Msg)
	}
	assertNoPartials(t, ts2.Home("alex"))
}
