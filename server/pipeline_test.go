package server_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/protocol"
)

// sendNoWait writes a pipelined put: header and body, no waiting.
func (rc *raw) sendNoWait(id, name string, body []byte, sum string) {
	rc.t.Helper()
	rc.send(protocol.Request{ID: id, Action: "put", Filename: name, SizeField: protocol.Int64(int64(len(body))), MD5: sum, NoWait: true})
	rc.sendBytes(body)
}

func TestPipelinedPutsAnsweredInOrder(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", 200_000)
	rc := login(t, ts, "alex", "pw-alex")
	const n = 120
	bodies := make([][]byte, n)
	want := make([]protocol.Status, n)
	go func() { // writes while the test reads, as a real client would
		for i := range n {
			bodies[i] = []byte(fmt.Sprintf("file %03d %s", i, bytes.Repeat([]byte{byte(i)}, 1000)))
			name, sum := fmt.Sprintf("f%03d", i), md5hex(bodies[i])
			switch i {
			case 7:
				sum = md5hex([]byte("a lie"))
			case 50:
				name = "../outside"
			case 90:
				bodies[i] = make([]byte, 300_000) // over the quota
				sum = md5hex(bodies[i])
			}
			rc.sendNoWait(fmt.Sprint(i), name, bodies[i], sum)
		}
		rc.send(protocol.Request{ID: "last", Action: "pwd"})
	}()
	for i := range n {
		want[i] = protocol.StatusMD5OK
	}
	want[7], want[50], want[90] = protocol.StatusMD5Mismatch, protocol.StatusPermission, protocol.StatusQuota
	for i := range n {
		resp := rc.read()
		if resp.ID != fmt.Sprint(i) || resp.Status != want[i] {
			t.Fatalf("answer %d: id %q status %d %s, want %d", i, resp.ID, resp.Status, resp.Msg, want[i])
		}
	}
	if resp := rc.read(); resp.ID != "last" || resp.Path != "/" {
		t.Fatalf("pwd after the batch: %+v", resp)
	}
	for i := range n {
		got, err := os.ReadFile(filepath.Join(ts.Home("alex"), fmt.Sprintf("f%03d", i)))
		stored := err == nil && bytes.Equal(got, bodies[i])
		if stored != (want[i] == protocol.StatusMD5OK) {
			t.Fatalf("f%03d stored %v, answer %d", i, stored, want[i])
		}
	}
	assertNoPartials(t, ts.Home("alex"))
}

func TestPipelinedPutOverSizeLimitEndsSession(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	rc := login(t, ts, "alex", "pw-alex")
	rc.send(protocol.Request{Action: "put", Filename: "big", SizeField: protocol.Int64(protocol.MaxNoWaitSize + 1), MD5: md5hex(nil), NoWait: true})
	if resp := rc.read(); resp.Status != protocol.StatusBadSize || !rc.closedByServer() {
		t.Fatalf("oversized nowait put: %d", resp.Status)
	}
}

// BenchmarkPipelinedSmallFiles puts 4 KiB files pipelined over one
// connection, each verified and on disk before it is answered; it reports
// files/s.
func BenchmarkPipelinedSmallFiles(b *testing.B) {
	ts := ftpxtest.NewServer(b)
	ts.AddUser(b, "bench", "pw", accounts.Unlimited)
	rc := login(b, ts, "bench", "pw")
	body := randomBytes(b, 4096)
	sum := md5hex(body)
	dir := 0
	b.ResetTimer()
	for b.Loop() {
		const files = 1000
		dir++
		d := fmt.Sprintf("d%d", dir) // fresh directories: see issue 8 on this file system
		rc.do(protocol.Request{Action: "mkdir", Filename: d})
		go func() {
			for i := range files {
				rc.sendNoWait("", fmt.Sprintf("%s/f%04d", d, i), body, sum)
			}
		}()
		for range files {
			if resp := rc.read(); resp.Status != protocol.StatusMD5OK {
				b.Fatalf("put: %d %s", resp.Status, resp.Msg)
			}
		}
	}
	b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "files/s")
}
