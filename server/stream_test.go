package server_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/internal/faultfs"
	"ftpx/protocol"
)

// sendChunks sends body as chunks of at most size bytes (no end chunk).
func (rc *raw) sendChunks(body []byte, size int) {
	rc.t.Helper()
	w := protocol.NewChunkWriter(rc.conn)
	for p := body; len(p) > 0; p = p[min(size, len(p)):] {
		if _, err := w.Write(p[:min(size, len(p))]); err != nil {
			rc.t.Fatalf("send chunk: %v", err)
		}
	}
}

// endChunks sends the end chunk and the md5 frame.
func (rc *raw) endChunks(trailer protocol.Request) {
	rc.t.Helper()
	rc.sendBytes([]byte{0, 0, 0, 0})
	rc.send(trailer)
}

// streamPut sends a streamed put of body in chunks of at most size bytes,
// with the md5 frame sum, and returns the answer (or the refusal).
func (rc *raw) streamPut(name string, body []byte, size int, sum string) protocol.Response {
	rc.t.Helper()
	resp := rc.do(protocol.Request{Action: "put", Filename: name, Stream: true})
	if resp.Status != protocol.StatusReadyToSend {
		return resp
	}
	rc.sendChunks(body, size)
	rc.endChunks(protocol.Request{MD5: sum})
	return rc.read()
}

// partialBytes is the size of the user's partial files together.
func partialBytes(t *testing.T, ts *ftpxtest.Server, user string) int64 {
	t.Helper()
	var n int64
	for _, name := range partials(t, ts, user) {
		if fi, err := os.Stat(filepath.Join(ts.Home(user), ".ftpx-partial", name)); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// quotaUsed is what the quota action reports as used.
func quotaUsed(t *testing.T, rc *raw) int64 {
	t.Helper()
	resp := rc.do(protocol.Request{Action: "quota"})
	if resp.Status != protocol.StatusOK || resp.Used == nil {
		t.Fatalf("quota: %d %s", resp.Status, resp.Msg)
	}
	return *resp.Used
}

func TestStreamedPutLandsWithItsMD5AndMTime(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	rc := login(t, ts, "alex", "pw-alex")
	body := randomBytes(t, 3<<20+1)
	mtime := time.Date(2021, 5, 6, 7, 8, 9, 0, time.UTC)
	resp := rc.do(protocol.Request{Action: "put", Filename: "big.bin", Stream: true, MTime: &mtime})
	if resp.Status != protocol.StatusReadyToSend {
		t.Fatalf("stream put: %d %s", resp.Status, resp.Msg)
	}
	rc.sendChunks(body[:100], 100) // a small chunk, then full ones and what is left
	rc.sendChunks(body[100:], protocol.MaxChunk)
	rc.endChunks(protocol.Request{MD5: md5hex(body)})
	resp = rc.read()
	if resp.Status != protocol.StatusMD5OK || resp.MD5 != md5hex(body) || resp.Size == nil || *resp.Size != int64(len(body)) {
		t.Fatalf("stream put: %d %s md5 %s size %s", resp.Status, resp.Msg, resp.MD5, ptrString(resp.Size))
	}
	fi, err := os.Stat(filepath.Join(ts.Home("alex"), "big.bin"))
	if got, _ := os.ReadFile(filepath.Join(ts.Home("alex"), "big.bin")); err != nil || !bytes.Equal(got, body) || !fi.ModTime().Equal(mtime) {
		t.Fatalf("stored %d bytes, mtime %v (%v); want %d bytes, %v", len(got), fi.ModTime(), err, len(body), mtime)
	}
	assertNoPartials(t, ts.Home("alex"))
	if used := quotaUsed(t, rc); used != int64(len(body)) {
		t.Fatalf("quota used %d, want %d", used, len(body))
	}
	if !strings.Contains(ts.Log(), `msg="put done"`) || !strings.Contains(ts.Log(), "stream=true") {
		t.Errorf("no put done line with stream=true in the log:\n%s", ts.Log())
	}
	// An empty body makes an empty file.
	if resp := rc.streamPut("empty", nil, 1, md5hex(nil)); resp.Status != protocol.StatusMD5OK || *resp.Size != 0 {
		t.Fatalf("empty stream put: %d %s", resp.Status, resp.Msg)
	}
	if fi, err := os.Stat(filepath.Join(ts.Home("alex"), "empty")); err != nil || fi.Size() != 0 {
		t.Fatalf("empty: %v %v", fi, err)
	}
}

func TestStreamedPutWrongMD5StoresNothing(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	rc := login(t, ts, "alex", "pw-alex")
	old := []byte("the old content")
	if resp := rc.put("f.bin", old, md5hex(old)); resp.Status != protocol.StatusMD5OK {
		t.Fatalf("put: %d %s", resp.Status, resp.Msg)
	}
	for _, name := range []string{"f.bin", "new.bin"} {
		body := randomBytes(t, 2<<20+5)
		if resp := rc.streamPut(name, body, 64<<10, md5hex(old)); resp.Status != protocol.StatusMD5Mismatch {
			t.Fatalf("stream put of %s with a wrong md5: %d %s, want 265", name, resp.Status, resp.Msg)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(ts.Home("alex"), "f.bin")); !bytes.Equal(got, old) {
		t.Fatalf("f.bin holds %d bytes, want the old %d", len(got), len(old))
	}
	if _, err := os.Stat(filepath.Join(ts.Home("alex"), "new.bin")); !os.IsNotExist(err) {
		t.Fatalf("new.bin is there after a wrong md5: %v", err)
	}
	assertNoPartials(t, ts.Home("alex"))
	if used := quotaUsed(t, rc); used != int64(len(old)) {
		t.Fatalf("quota used %d, want %d", used, len(old))
	}
}

// TestStreamedPutOverQuotaAnsweredMidBody: the 264 comes while the client
// is still sending (before its end chunk); the server drops the rest and
// the md5 frame, and the session serves the next request.
func TestStreamedPutOverQuotaAnsweredMidBody(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", 1<<20)
	rc := login(t, ts, "alex", "pw-alex")
	resp := rc.do(protocol.Request{Action: "put", Filename: "big.bin", Stream: true})
	if resp.Status != protocol.StatusReadyToSend {
		t.Fatalf("stream put: %d %s", resp.Status, resp.Msg)
	}
	body := randomBytes(t, 2<<20)
	rc.sendChunks(body, 256<<10)
	resp = rc.read() // the end chunk is not sent yet
	if resp.Status != protocol.StatusQuota || !strings.Contains(resp.Msg, "quota exceeded (stopped after") {
		t.Fatalf("mid-body over the quota: %d %s, want 264", resp.Status, resp.Msg)
	}
	rc.sendChunks(body, 256<<10) // more, then the end: read and dropped
	rc.endChunks(protocol.Request{MD5: md5hex(body)})
	if resp := rc.do(protocol.Request{Action: "pwd"}); resp.Status != protocol.StatusOK || resp.Path != "/" {
		t.Fatalf("pwd after the 264: %d %s", resp.Status, resp.Msg)
	}
	if resp := rc.do(protocol.Request{Action: "ls"}); resp.Status != protocol.StatusOK || len(resp.Entries) != 0 {
		t.Fatalf("ls after the 264: %d %+v", resp.Status, resp.Entries)
	}
	assertNoPartials(t, ts.Home("alex"))
	if used := quotaUsed(t, rc); used != 0 {
		t.Fatalf("quota used %d after a refused stream", used)
	}
	fits := randomBytes(t, 1<<20)
	if resp := rc.streamPut("fits.bin", fits, 300<<10, md5hex(fits)); resp.Status != protocol.StatusMD5OK {
		t.Fatalf("a stream of exactly the quota: %d %s", resp.Status, resp.Msg)
	}
}

// TestStreamedPutDiskFullAnsweredMidBody: a disk that fills up under a
// stream gets 286 at once; nothing is kept and the session goes on.
func TestStreamedPutDiskFullAnsweredMidBody(t *testing.T) {
	faults := faultfs.New()
	ts := faultyServer(t, faults)
	rc := login(t, ts, "alex", "pw-alex")
	faults.Set(faultfs.Plan{Op: faultfs.Write, N: 2, Err: syscall.ENOSPC})
	body := randomBytes(t, 3<<20)
	if resp := rc.streamPut("f.bin", body, 256<<10, md5hex(body)); resp.Status != protocol.StatusNoSpace || !strings.Contains(resp.Msg, "the disk filled up after") {
		t.Fatalf("stream onto a full disk: %d %s, want 286", resp.Status, resp.Msg)
	}
	faults.Set()
	if _, err := os.Stat(filepath.Join(ts.Home("alex"), "f.bin")); !os.IsNotExist(err) {
		t.Fatalf("f.bin is there: %v", err)
	}
	if ps := partials(t, ts, "alex"); len(ps) != 0 {
		t.Fatalf("partials left: %v", ps)
	}
	usable(t, rc, ts)
}

func TestStreamedPutRefusals(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	rc := login(t, ts, "alex", "pw-alex")
	for name, req := range map[string]protocol.Request{
		"size":      {SizeField: protocol.Int64(10)},
		"file_size": {FileSizeField: protocol.Int64(10)},
		"offset":    {Offset: 5},
		"transfer":  {Transfer: "6ba7b810-9dad-11d1-80b4-00c04fd430c8"},
		"md5":       {MD5: md5hex(nil)},
		"delta":     {Delta: &protocol.Delta{Block: 1024, Blocks: 1, BasisSize: 10}},
	} {
		req.Action, req.Filename, req.Stream = "put", "f.bin", true
		resp := rc.do(req)
		if resp.Status != protocol.StatusBadFormat || !strings.Contains(resp.Msg, "a streamed put takes no size") {
			t.Errorf("stream with %s: %d %s, want 250", name, resp.Status, resp.Msg)
		}
	}
	if resp := rc.do(protocol.Request{Action: "put", Filename: "missing/f.bin", Stream: true}); resp.Status != protocol.StatusNotExist {
		t.Errorf("stream into a missing directory: %d %s, want 256", resp.Status, resp.Msg)
	}
	if resp := rc.do(protocol.Request{Action: "put", Stream: true}); resp.Status != protocol.StatusNoFilename {
		t.Errorf("stream without a filename: %d %s, want 255", resp.Status, resp.Msg)
	}
	if resp := rc.do(protocol.Request{Action: "pwd"}); resp.Status != protocol.StatusOK {
		t.Fatalf("pwd after the refusals: %d %s", resp.Status, resp.Msg)
	}
	if _, err := os.Stat(filepath.Join(ts.Home("alex"), "f.bin")); !os.IsNotExist(err) {
		t.Fatalf("f.bin is there: %v", err)
	}
	// With nowait its body would follow at once, framed nobody knows how;
	// a pipelined put held before it is answered first.
	held := []byte("held")
	rc.sendNoWait("1", "held.txt", held, md5hex(held))
	rc.send(protocol.Request{ID: "2", Action: "put", Filename: "f.bin", Stream: true, NoWait: true, MD5: md5hex(nil)})
	if resp := rc.read(); resp.ID != "1" || resp.Status != protocol.StatusMD5OK {
		t.Errorf("the pipelined put before it: %s %d %s, want 1 258", resp.ID, resp.Status, resp.Msg)
	}
	if resp := rc.read(); resp.ID != "2" || resp.Status != protocol.StatusBadFormat {
		t.Errorf("stream with nowait: %s %d %s, want 2 250", resp.ID, resp.Status, resp.Msg)
	}
	if !rc.closedByServer() {
		t.Error("the session goes on after a streamed put with nowait")
	}
}

func TestStreamedPutAbandoned(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	rc := login(t, ts, "alex", "pw-alex")
	if resp := rc.do(protocol.Request{Action: "put", Filename: "f.bin", Stream: true}); resp.Status != protocol.StatusReadyToSend {
		t.Fatalf("stream put: %d %s", resp.Status, resp.Msg)
	}
	rc.sendChunks(randomBytes(t, 1<<20+3), 100<<10)
	rc.endChunks(protocol.Request{Abandon: true})
	if resp := rc.read(); resp.Status != protocol.StatusOK || !strings.Contains(resp.Msg, "abandoned") {
		t.Fatalf("abandon: %d %s, want 260", resp.Status, resp.Msg)
	}
	if _, err := os.Stat(filepath.Join(ts.Home("alex"), "f.bin")); !os.IsNotExist(err) {
		t.Fatalf("an abandoned stream is stored: %v", err)
	}
	assertNoPartials(t, ts.Home("alex"))
	if used := quotaUsed(t, rc); used != 0 {
		t.Fatalf("quota used %d after an abandoned stream", used)
	}
}

// TestStreamedPutCutOffKeepsNothing: a stream cannot be resumed, so a cut
// connection leaves no partial, and the quota it took is given back.
func TestStreamedPutCutOffKeepsNothing(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", 4<<20)
	rc := login(t, ts, "alex", "pw-alex")
	if resp := rc.do(protocol.Request{Action: "put", Filename: "f.bin", Stream: true}); resp.Status != protocol.StatusReadyToSend {
		t.Fatalf("stream put: %d %s", resp.Status, resp.Msg)
	}
	rc.sendChunks(randomBytes(t, 3<<20), 256<<10)
	rc.sendBytes(binary.BigEndian.AppendUint32(nil, 1000)) // and half a chunk
	rc.sendBytes(make([]byte, 500))
	next := login(t, ts, "alex", "pw-alex")
	waitFor(t, func() bool { return partialBytes(t, ts, "alex") >= 3<<20 }) // the server holds them
	rc.conn.Close()
	waitFor(t, func() bool { return len(partials(t, ts, "alex")) == 0 })
	if _, err := os.Stat(filepath.Join(ts.Home("alex"), "f.bin")); !os.IsNotExist(err) {
		t.Fatalf("a cut stream is stored: %v", err)
	}
	body := randomBytes(t, 4<<20)
	if resp := next.put("whole.bin", body, md5hex(body)); resp.Status != protocol.StatusMD5OK {
		t.Fatalf("a put of the whole quota after the cut stream: %d %s", resp.Status, resp.Msg)
	}
}

// TestStreamedPutChunkTooLong: a length over 1 MiB loses the stream: 250,
// and the session ends; nothing is kept.
func TestStreamedPutChunkTooLong(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	rc := login(t, ts, "alex", "pw-alex")
	if resp := rc.do(protocol.Request{Action: "put", Filename: "f.bin", Stream: true}); resp.Status != protocol.StatusReadyToSend {
		t.Fatalf("stream put: %d %s", resp.Status, resp.Msg)
	}
	rc.sendChunks(randomBytes(t, 1000), 1000)
	rc.sendBytes(binary.BigEndian.AppendUint32(nil, protocol.MaxChunk+1))
	if resp := rc.read(); resp.Status != protocol.StatusBadFormat {
		t.Fatalf("a chunk over 1 MiB: %d %s, want 250", resp.Status, resp.Msg)
	}
	if !rc.closedByServer() {
		t.Error("the session goes on after a malformed chunk")
	}
	waitFor(t, func() bool { return len(partials(t, ts, "alex")) == 0 })
	if _, err := os.Stat(filepath.Join(ts.Home("alex"), "f.bin")); !os.IsNotExist(err) {
		t.Fatalf("f.bin is there: %v", err)
	}
}
