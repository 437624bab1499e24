package server_test

import (
	"crypto/md5"
	"encoding/hex"
	"io"
	"testing"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/protocol"
)

// BenchmarkPut measures a verified upload over loopback: the server hashes
// and writes the partial, syncs and renames it.
func BenchmarkPut(b *testing.B) {
	const size = 64 << 20
	ts := ftpxtest.NewServer(b)
	ts.AddUser(b, "bench", "pw", accounts.Unlimited)
	rc := login(b, ts, "bench", "pw")
	body := randomBytes(b, size)
	sum := md5hex(body) // a real client hashes while it sends, on its own core
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		if resp := rc.put("big.bin", body, sum); resp.Status != protocol.StatusMD5OK {
			b.Fatalf("put: %d %s", resp.Status, resp.Msg)
		}
	}
}

// BenchmarkGet measures a verified download: the server hashes as it sends,
// the client hashes as it receives.
func BenchmarkGet(b *testing.B) {
	const size = 64 << 20
	ts := ftpxtest.NewServer(b)
	ts.AddUser(b, "bench", "pw", accounts.Unlimited)
	rc := login(b, ts, "bench", "pw")
	body := randomBytes(b, size)
	if resp := rc.put("big.bin", body, md5hex(body)); resp.Status != protocol.StatusMD5OK {
		b.Fatal(resp.Msg)
	}
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		resp := rc.do(protocol.Request{Action: "get", Filename: "big.bin"})
		if resp.Status != protocol.StatusReadyToSend {
			b.Fatal(resp.Msg)
		}
		h := md5.New()
		if _, err := io.CopyN(h, rc.r, *resp.Size); err != nil {
			b.Fatal(err)
		}
		want := resp.MD5
		if want == "" {
			want = rc.read().MD5
		}
		if want != hex.EncodeToString(h.Sum(nil)) {
			b.Fatal("md5 differs")
		}
	}
}
