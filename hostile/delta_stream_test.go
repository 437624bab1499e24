package hostile

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ftpx/protocol"
)

// Delta streams: the body of a put that carries a delta, instructions
// against the basis the server described. They are sent malformed, cut,
// stalled and amplifying.

// beginDelta asks for the basis's signature and sends a put of size bytes
// carrying it, plus extra keys; it fails the test unless the answer is
// 257.
func (a *deltaArena) beginDelta(t *testing.T, rc *rawConn, size int64, kv ...any) {
	t.Helper()
	sig, err := rc.signature(basisName)
	if err != nil || sig.Status != protocol.StatusOK {
		t.Fatalf("signature: %+v %v", sig, err)
	}
	resp, err := rc.do(putDeltaHeader(basisName, size, deltaJSON(*sig.Delta), kv...))
	if err != nil || resp.Status != protocol.StatusReadyToSend {
		t.Fatalf("put with a delta: %+v %v, want 257", resp, err)
	}
}

// tenBytes is a varint of ten bytes whose last one overflows 64 bits, and
// elevenBytes one that never ends within the ten a uint64 may take.
var (
	tenBytes    = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}
	elevenBytes = []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}
)

// TestDeltaPutStreamAbuse: put bodies that are malformed delta streams
// against the basis (1024 blocks of 1 KiB). A malformed stream is
// answered 250 and the session ends; one cut or stalled ends the session
// (after the transfer timeout); a wrong md5 frame is 265 as for any put.
// After each the basis is whole, nothing else appeared, no partial or
// quota is held (or only a resumable partial, which cancel drops), and a
// neighbour is served.
func TestDeltaPutStreamAbuse(t *testing.T) {
	a := newDeltaArena(t)
	const blocks = basisSize / 1024
	const tid = "0d3c2b1a-5f4e-4a6b-9c8d-7e6f5a4b3c2d"
	lit := pseudoRandom(3, 4000)
	type outcome int
	const (
		refused  outcome = iota // 250, then the server closes
		dropped                 // no answer: the server ends the session on its own
		answered                // the status, and the session goes on
	)
	for _, tc := range []struct {
		name     string
		size     int64
		s        stream
		trailer  []byte // written after the stream
		transfer bool   // a resumable put: what it built is held, and cancelled after
		cut      bool   // the client closes after the stream
		want     protocol.Status
		how      outcome
	}{
		{name: "opcode 0x03", size: basisSize, s: stream{}.raw(0x03), want: protocol.StatusBadFormat},
		{name: "opcode 0xff after a copy", size: basisSize, s: stream{}.copy(0, 10).raw(0xff), want: protocol.StatusBadFormat},
		{name: "opcode 0x80 (a varint's continuation)", size: basisSize, s: stream{}.raw(0x80, 0x01), want: protocol.StatusBadFormat},
		{name: "copy from the block past the last", size: basisSize, s: stream{}.copy(blocks, 1), want: protocol.StatusBadFormat},
		{name: "copy running past the last block", size: basisSize, s: stream{}.copy(1000, 25), want: protocol.StatusBadFormat},
		{name: "copy of 2^63 blocks from 2^63 (wraps to 0)", size: basisSize, s: stream{}.copy(1<<63, 1<<63), want: protocol.StatusBadFormat},
		{name: "copy of 2^64-1 blocks from 1", size: basisSize, s: stream{}.copy(1, math.MaxUint64), want: protocol.StatusBadFormat},
		{name: "copy of 0 blocks", size: basisSize, s: stream{}.copy(5, 0), want: protocol.StatusBadFormat},
		{name: "data of 0 bytes", size: basisSize, s: stream{}.raw(protocol.DeltaData, 0), want: protocol.StatusBadFormat},
		{name: "data of 1 MiB + 1 (announced only)", size: 4 << 20, s: binary.AppendUvarint(stream{}.raw(protocol.DeltaData), protocol.MaxDeltaLiteral+1), want: protocol.StatusBadFormat},
		{name: "data of 2^64-1", size: basisSize, s: binary.AppendUvarint(stream{}.raw(protocol.DeltaData), math.MaxUint64), want: protocol.StatusBadFormat},
		{name: "varint of 11 bytes", size: basisSize, s: stream{}.raw(protocol.DeltaCopy).raw(elevenBytes...), want: protocol.StatusBadFormat},
		{name: "varint of 10 bytes past 64 bits", size: basisSize, s: stream{}.raw(protocol.DeltaData).raw(tenBytes...), want: protocol.StatusBadFormat},
		{name: "copy writing past the size", size: 1000, s: stream{}.copy(0, 1), want: protocol.StatusBadFormat},
		{name: "data writing past the size", size: 10, s: stream{}.data(lit[:11]), want: protocol.StatusBadFormat},
		{name: "copy past the size after the whole basis", size: basisSize, s: stream{}.copy(0, blocks).copy(0, 1), want: protocol.StatusBadFormat},
		{name: "end before the size", size: basisSize, s: stream{}.copy(0, 10).end(), want: protocol.StatusBadFormat},
		{name: "end at once", size: basisSize, s: stream{}.end(), want: protocol.StatusBadFormat},
		{name: "end one byte short", size: basisSize + 1, s: stream{}.copy(0, blocks).end(), want: protocol.StatusBadFormat},
		{name: "garbage after 512 KiB, resumable", size: basisSize, s: stream{}.copy(0, 512).raw(0x07), transfer: true, want: protocol.StatusBadFormat},

		{name: "cut in a copy's varint", size: basisSize, s: stream{}.copy(0, 10).raw(protocol.DeltaCopy, 0x85), cut: true, how: dropped},
		{name: "cut in a data's bytes", size: basisSize, s: stream{}.data(lit)[:2000], cut: true, how: dropped},
		{name: "cut after 512 KiB, resumable", size: basisSize, s: stream{}.copy(0, 512).raw(protocol.DeltaCopy), transfer: true, cut: true, how: dropped},
		{name: "cut after the end, before the md5 frame", size: basisSize, s: stream{}.copy(0, blocks).end(), cut: true, how: dropped},
		{name: "stalled in a copy's varint", size: basisSize, s: stream{}.copy(0, 10).raw(protocol.DeltaCopy, 0x85), how: dropped},
		{name: "stalled in a data's bytes", size: basisSize, s: stream{}.data(lit)[:2000], how: dropped},
		{name: "stalled with the whole size written, no end", size: basisSize, s: stream{}.copy(0, blocks), how: dropped},

		{name: "md5 frame of another file", size: basisSize, s: stream{}.copy(1, blocks-1).data(lit[:1024]).end(),
			trailer: frame(obj("md5", md5hex(lit))), want: protocol.StatusMD5Mismatch, how: answered},
		{name: "abandoned after the end", size: basisSize, s: stream{}.copy(0, blocks).end(),
			trailer: frame(obj("abandon", true)), want: protocol.StatusOK, how: answered},
		{name: "a request where the md5 frame goes", size: basisSize, s: stream{}.copy(0, blocks).end(),
			trailer: frame(obj("action", "pwd")), want: protocol.StatusBadFormat, how: answered},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := a.state(t)
			rc := login(t, a.ts, attacker, attackerPW, a.g)
			var kv []any
			if tc.transfer {
				kv = []any{"transfer", tid}
			}
			a.beginDelta(t, rc, tc.size, kv...)
			start := time.Now()
			if err := rc.write(append(tc.s, tc.trailer...)); err != nil {
				t.Fatalf("write: %v", err)
			}
			switch tc.how {
			case refused:
				resp, _, err := rc.read()
				if err != nil || resp.Status != tc.want {
					t.Errorf("%+v %v, want %d", resp, err, tc.want)
				}
				if !rc.closedByServer(5 * time.Second) {
					t.Errorf("left open after %d", resp.Status)
				}
			case dropped:
				if tc.cut {
					rc.Close()
					break
				}
				if !rc.closedByServer(10 * deltaTimeout) {
					t.Fatalf("a stalled delta is not dropped")
				}
				t.Logf("dropped after %.1f s (transfer timeout %v)", time.Since(start).Seconds(), deltaTimeout)
			case answered:
				resp, _, err := rc.read()
				if err != nil || resp.Status != tc.want {
					t.Errorf("%+v %v, want %d", resp, err, tc.want)
				}
				inSync(t, rc)
			}
			if tc.transfer {
				a.cancelHeld(t, tid)
			}
			a.unharmed(t, before)
		})
	}
	// The same encoding, well formed, is stored: the cases above fail for
	// what they break, not for how this test spells a stream.
	t.Run("well formed", func(t *testing.T) {
		rc := login(t, a.ts, attacker, attackerPW, a.g)
		want := append(append(append([]byte{}, a.basis[:10*1024]...), lit...), a.basis[11*1024:]...)
		a.beginDelta(t, rc, int64(len(want)))
		rc.write(stream{}.copy(0, 10).data(lit).copy(11, blocks-11).end())
		rc.send(obj("md5", md5hex(want)))
		if resp, _, err := rc.read(); err != nil || resp.Status != protocol.StatusMD5OK {
			t.Fatalf("%+v %v, want 258", resp, err)
		}
		if b, err := os.ReadFile(filepath.Join(a.home, basisName)); err != nil || md5hex(b) != md5hex(want) {
			t.Errorf("stored %d bytes, md5 %s, want %s (%v)", len(b), md5hex(b), md5hex(want), err)
		}
		a.resetBasis(t)
	})
	a.escapes(t, "delta put streams")
}

// cancelHeld waits until the server holds the partial of the resumable put
// tid (what a delta built before it went wrong), then cancels it.
func (a *deltaArena) cancelHeld(t *testing.T, tid string) {
	t.Helper()
	rc := login(t, a.ts, attacker, attackerPW, a.g)
	var resp protocol.Response
	if !waitFor(10*time.Second, func() bool {
		resp, _ = rc.do(obj("action", "breakpoint", "filename", basisName, "transfer", tid))
		return resp.Status == protocol.StatusOK && resp.Offset > 0
	}) {
		t.Errorf("nothing held for a resumable delta put: %+v", resp)
		return
	}
	t.Logf("held for resuming: %d bytes", resp.Offset)
	if resp, err := rc.do(obj("action", "cancel", "transfer", tid)); err != nil || resp.Status != protocol.StatusOK {
		t.Errorf("cancel: %+v %v", resp, err)
	}
}

// TestDeltaPutAmplificationBounded: a delta of a few bytes can ask for
// gigabytes (COPY the whole basis, again and again). What it builds is
// bounded by the put's declared size, refused before a byte is written
// past it, and the declared size by the quota, refused before the body.
func TestDeltaPutAmplificationBounded(t *testing.T) {
	const (
		user, pw = "amplifier", "pw-amplifier"
		huge     = 1 << 30 // the basis: 1 GiB, sparse
		limit    = huge + huge/2
		block    = 32 << 10 // BlockSize's for 1 GiB
		blocks   = huge / block
		target   = 256 << 20
	)
	a := newDeltaArena(t)
	a.ts.AddUser(t, user, pw, limit)
	dir := a.ts.Home(user)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "huge.bin")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, huge); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	m := fi.ModTime()
	d := deltaJSON(protocol.Delta{Block: block, Blocks: blocks, BasisSize: huge, BasisMTime: &m})
	rc := login(t, a.ts, user, pw, a.g)
	used := func() int64 {
		t.Helper()
		resp, err := rc.do(obj("action", "quota"))
		if err != nil || resp.Used == nil {
			t.Fatalf("quota: %+v %v", resp, err)
		}
		return *resp.Used
	}
	if u := used(); u != huge {
		t.Fatalf("quota used %d, want the basis's %d", u, huge)
	}
	for _, size := range []int64{1 << 40, limit + 1} {
		if resp, err := rc.do(putDeltaHeader("huge.bin", size, d)); err != nil || resp.Status != protocol.StatusQuota {
			t.Errorf("a delta put of %d bytes with %d of quota: %+v %v, want 264", size, limit, resp, err)
		}
	}
	inSync(t, rc)

	// 100 bytes of COPY that would write 1 GiB each, into 256 MiB: the
	// first is refused whole.
	var amp stream
	for len(amp) < 100 {
		amp = amp.copy(0, blocks)
	}
	// 256 MiB copied, then one block more: refused after exactly the size.
	exact := stream{}.copy(0, target/block).copy(0, 1)
	for _, tc := range []struct {
		name  string
		s     stream
		built int64
	}{{"the whole basis, again and again", amp, 0}, {"the size, then one block more", exact, target}} {
		t.Run(tc.name, func(t *testing.T) {
			rc := login(t, a.ts, user, pw, a.g)
			if resp, err := rc.do(putDeltaHeader("huge.bin", target, d)); err != nil || resp.Status != protocol.StatusReadyToSend {
				t.Fatalf("put: %+v %v, want 257", resp, err)
			}
			failed := strings.Count(a.ts.Log(), `msg="put failed"`)
			rc.write(tc.s)
			if resp, _, err := rc.read(); err != nil || resp.Status != protocol.StatusBadFormat {
				t.Errorf("%+v %v, want 250", resp, err)
			}
			if !rc.closedByServer(5 * time.Second) {
				t.Errorf("left open after 250")
			}
			var line string
			waitFor(5*time.Second, func() bool {
				lines := strings.Split(a.ts.Log(), "\n")
				for _, l := range lines {
					if strings.Contains(l, `msg="put failed"`) {
						if failed--; failed < 0 {
							line = l
						}
					}
				}
				return line != ""
			})
			if !strings.Contains(line, fmt.Sprintf(" bytes=%d ", tc.built)) {
				t.Errorf("the put built other than %d bytes: %s", tc.built, line)
			}
			t.Logf("a delta of %d bytes on the wire built %d bytes of a %d-byte put, then was refused", len(tc.s), tc.built, target)
			if !waitFor(10*time.Second, func() bool { return partialCount(dir) == 0 && used() == huge }) {
				t.Errorf("after the refusal: %d partials, quota used %d, want none and %d", partialCount(dir), used(), huge)
			}
			if fi, err := os.Stat(path); err != nil || fi.Size() != huge || !fi.ModTime().Equal(m) {
				t.Errorf("the basis changed: %v", err)
			}
			roundTrip(t, a.ts, neighbour, neighbourPW, "neighbour.txt")
		})
	}
}

// TestDeltaNoWaitPutRefused: a pipelined put cannot carry a delta (its
// body could not be skipped): 250, and the session ends.
func TestDeltaNoWaitPutRefused(t *testing.T) {
	a := newDeltaArena(t)
	before := a.state(t)
	rc := login(t, a.ts, attacker, attackerPW, a.g)
	sig, err := rc.signature(basisName)
	if err != nil {
		t.Fatal(err)
	}
	// The header alone: the server refuses it before any body (a body
	// sent along would be unread when it closes, and the kernel would
	// reset the connection, maybe before the answer is read).
	hdr := putDeltaHeader(basisName, basisSize, deltaJSON(*sig.Delta), "nowait", true, "md5", md5hex(a.basis))
	if err := rc.write(frame(hdr)); err != nil {
		t.Fatal(err)
	}
	if resp, _, err := rc.read(); err != nil || resp.Status != protocol.StatusBadFormat {
		t.Errorf("nowait put with a delta: %+v %v, want 250", resp, err)
	}
	if !rc.closedByServer(5 * time.Second) {
		t.Errorf("left open")
	}
	a.unharmed(t, before)
}
