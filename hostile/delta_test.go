package hostile

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/protocol"
	"ftpx/server"
)

// Deltas (protocol/delta.go) add two bodies a client writes and the
// server parses: a put's delta stream, and the signature that follows a
// get asking for a delta. These tests send them malformed, oversized,
// slow and amplifying, and check after each that the server answered as
// documented, kept the old file whole, left no partial or quota behind,
// and served a neighbour meanwhile.

const (
	basisName = "basis.bin"
	basisSize = 1 << 20 // BlockSize gives 1 KiB blocks: 1024 of them
	// deltaTimeout is the servers' transfer timeout: a stalled delta or
	// signature is dropped after it.
	deltaTimeout = time.Second
	// The write-only user's home holds a file it may replace but not read.
	writeOnly   = "wanda"
	writeOnlyPW = "pw-wanda"
)

// deltaArena is the arena with a short transfer timeout, a basis file in
// the attacker's home, and a write-only user with a file of its own.
type deltaArena struct {
	*arena
	basis []byte
}

func newDeltaArena(t *testing.T, opts ...ftpxtest.Option) *deltaArena {
	t.Helper()
	opts = append([]ftpxtest.Option{func(s *server.Server) {
		s.TransferTimeout = deltaTimeout
		s.IdleTimeout = 30 * time.Second
	}}, opts...)
	a := &deltaArena{arena: newArena(t, opts...)}
	a.ts.AddUserWith(t, writeOnly, writeOnlyPW, accounts.Unlimited, "perms = write,modify")
	rc := login(t, a.ts, writeOnly, writeOnlyPW, nil)
	rc.Close()
	mustWrite(t, filepath.Join(a.ts.Home(writeOnly), basisName), string(pseudoRandom(7, basisSize)))
	a.skip = append(a.skip, a.ts.Home(writeOnly))
	a.basis = pseudoRandom(1, basisSize)
	a.resetBasis(t)
	a.before = snapshot(t, a.top, a.skip...)
	return a
}

// resetBasis puts the attacker's home back to its fixture and the basis
// file in it.
func (a *deltaArena) resetBasis(t testing.TB) {
	t.Helper()
	a.reset(t)
	if err := os.WriteFile(filepath.Join(a.home, basisName), a.basis, 0o644); err != nil {
		t.Fatal(err)
	}
}

func pseudoRandom(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// signature asks for the signature of name and reads it whole: the
// header a put's delta echoes.
func (rc *rawConn) signature(name string) (protocol.Response, error) {
	resp, err := rc.do(obj("action", "signature", "filename", name))
	if err != nil || resp.Status != protocol.StatusOK {
		return resp, err
	}
	if resp.Delta == nil || !resp.Delta.Valid() || resp.Delta.BasisMTime == nil {
		return resp, fmt.Errorf("signature answer without a valid delta: %+v", resp)
	}
	_, err = rc.readBody(resp.Delta.SignatureBytes())
	return resp, err
}

// deltaJSON spells a delta header, with the basis's mtime when it has one.
func deltaJSON(d protocol.Delta) []byte {
	kv := []any{"block", d.Block, "blocks", d.Blocks, "basis_size", d.BasisSize}
	if d.BasisMTime != nil {
		kv = append(kv, "basis_mtime", *d.BasisMTime)
	}
	return obj(kv...)
}

// putDeltaHeader is a put of size bytes whose body is a delta described
// by d (raw JSON), plus extra keys.
func putDeltaHeader(name string, size int64, d []byte, kv ...any) []byte {
	return obj(append([]any{"action", "put", "filename", name, "size", size, "delta", jsonRaw(string(d))}, kv...)...)
}

// stream builds a delta body instruction by instruction.
type stream []byte

func (s stream) copy(first, count uint64) stream {
	s = append(s, protocol.DeltaCopy)
	return binary.AppendUvarint(binary.AppendUvarint(s, first), count)
}

func (s stream) data(b []byte) stream {
	s = binary.AppendUvarint(append(s, protocol.DeltaData), uint64(len(b)))
	return append(s, b...)
}

func (s stream) end() stream { return append(s, protocol.DeltaEnd) }

// raw appends bytes as they are.
func (s stream) raw(b ...byte) stream { return append(s, b...) }

// homeState is what a failed delta must leave as it was: the names in the
// attacker's home, the basis's bytes and mtime, and the quota's "used".
type homeState struct {
	names []string
	basis string // md5 and mtime
	used  int64
}

func (a *deltaArena) state(t testing.TB) homeState {
	t.Helper()
	var st homeState
	filepath.WalkDir(a.home, func(p string, d os.DirEntry, err error) error {
		if err == nil && p != a.home {
			rel, _ := filepath.Rel(a.home, p)
			if !strings.HasPrefix(rel, ".ftpx-partial") {
				st.names = append(st.names, rel)
			}
		}
		return nil
	})
	sort.Strings(st.names)
	b, err := os.ReadFile(filepath.Join(a.home, basisName))
	fi, serr := os.Stat(filepath.Join(a.home, basisName))
	if err != nil || serr != nil {
		t.Fatalf("the basis is gone: %v %v", err, serr)
	}
	st.basis = md5hex(b) + " " + fi.ModTime().String()
	rc, err := loginE(a.ts.Addr, attacker, attackerPW, nil)
	if err != nil {
		t.Fatalf("quota: %v", err)
	}
	defer rc.Close()
	resp, err := rc.do(obj("action", "quota"))
	if err != nil || resp.Used == nil {
		t.Fatalf("quota: %+v %v", resp, err)
	}
	st.used = *resp.Used
	return st
}

// unharmed checks, once the server has had time to end what a case
// started, that the home is as before (no new name, the basis intact),
// that no partial is held and the quota is back where it was, that the
// server logged no panic, and that a neighbour is served.
func (a *deltaArena) unharmed(t *testing.T, before homeState) {
	t.Helper()
	var now homeState
	settled := waitFor(10*time.Second, func() bool {
		now = a.state(t)
		return partialCount(a.home) == 0 && now.used == before.used
	})
	if !settled {
		t.Errorf("partials held: %d, quota used %d -> %d", partialCount(a.home), before.used, now.used)
	}
	if now.basis != before.basis {
		t.Errorf("the basis changed: %s -> %s", before.basis, now.basis)
	}
	if strings.Join(now.names, " ") != strings.Join(before.names, " ") {
		t.Errorf("the home's names changed: %v -> %v", before.names, now.names)
	}
	if n := panics(a.ts); n > 0 {
		t.Fatalf("%d handler panics in the server log", n)
	}
	roundTrip(t, a.ts, neighbour, neighbourPW, "neighbour.txt")
}

// inSync checks that the connection goes on: a pwd gets its own answer.
func inSync(t *testing.T, rc *rawConn) {
	t.Helper()
	if resp, err := rc.do(obj("action", "pwd", "id", "sync")); err != nil || resp.Status != protocol.StatusOK || resp.ID != "sync" {
		t.Errorf("the connection does not go on in step: %+v %v", resp, err)
	}
}

// TestDeltaPutHeaderAbuse: puts whose delta header does not describe the
// basis on the server. Each is refused before its body, with the
// connection still in step.
func TestDeltaPutHeaderAbuse(t *testing.T) {
	a := newDeltaArena(t)
	rc := login(t, a.ts, attacker, attackerPW, a.g)
	sig, err := rc.signature(basisName)
	if err != nil || sig.Status != protocol.StatusOK {
		t.Fatalf("signature: %+v %v", sig, err)
	}
	good := *sig.Delta
	t.Logf("the basis's signature: %d blocks of %d bytes", good.Blocks, good.Block)
	with := func(f func(d *protocol.Delta)) []byte {
		d := good
		f(&d)
		return deltaJSON(d)
	}
	mtime := *good.BasisMTime
	raw := func(s string) []byte {
		return []byte(strings.ReplaceAll(s, "MTIME", mtime.Format(time.RFC3339Nano)))
	}
	for _, tc := range []struct {
		name string
		d    []byte
		file string // default the basis
		want protocol.Status
	}{
		{"blocks disagree with basis_size", with(func(d *protocol.Delta) { d.Blocks = 5 }), "", protocol.StatusBadFormat},
		{"block disagrees with blocks", with(func(d *protocol.Delta) { d.Block = 2048 }), "", protocol.StatusBadFormat},
		{"basis_size disagrees with blocks", with(func(d *protocol.Delta) { d.BasisSize = 10 << 20 }), "", protocol.StatusBadFormat},
		{"block below the minimum", with(func(d *protocol.Delta) { d.Block, d.Blocks = 512, 2048 }), "", protocol.StatusBadFormat},
		{"block of 0", with(func(d *protocol.Delta) { d.Block, d.Blocks = 0, 0 }), "", protocol.StatusBadFormat},
		{"block above the maximum", with(func(d *protocol.Delta) { d.Block, d.Blocks = protocol.MaxDeltaBlock+1, 1 }), "", protocol.StatusBadFormat},
		{"blocks above MaxDeltaBlocks", with(func(d *protocol.Delta) {
			d.Block, d.Blocks, d.BasisSize = protocol.MinDeltaBlock, protocol.MaxDeltaBlocks+1, (protocol.MaxDeltaBlocks+1)*protocol.MinDeltaBlock
		}), "", protocol.StatusBadFormat},
		{"negative block", with(func(d *protocol.Delta) { d.Block = -1024 }), "", protocol.StatusBadFormat},
		{"negative blocks", with(func(d *protocol.Delta) { d.Blocks = -1024 }), "", protocol.StatusBadFormat},
		{"negative basis_size", with(func(d *protocol.Delta) { d.BasisSize, d.Blocks = -basisSize, -1024 }), "", protocol.StatusBadFormat},
		{"basis_size 2^63-1", with(func(d *protocol.Delta) { d.BasisSize = math.MaxInt64 }), "", protocol.StatusBadFormat},
		{"block 2^63-1", with(func(d *protocol.Delta) { d.Block = math.MaxInt64 }), "", protocol.StatusBadFormat},
		{"no basis_mtime", with(func(d *protocol.Delta) { d.BasisMTime = nil }), "", protocol.StatusBadFormat},
		{"block a string", raw(`{"block":"1024","blocks":1024,"basis_size":1048576,"basis_mtime":"MTIME"}`), "", protocol.StatusBadFormat},
		{"block a fraction", raw(`{"block":1024.5,"blocks":1024,"basis_size":1048576,"basis_mtime":"MTIME"}`), "", protocol.StatusBadFormat},
		{"blocks 2^64", raw(`{"block":1024,"blocks":18446744073709551616,"basis_size":1048576,"basis_mtime":"MTIME"}`), "", protocol.StatusBadFormat},
		{"basis_mtime not a time", raw(`{"block":1024,"blocks":1024,"basis_size":1048576,"basis_mtime":"yesterday"}`), "", protocol.StatusBadFormat},
		{"delta an array", []byte(`[1024,1024,1048576]`), "", protocol.StatusBadFormat},
		{"delta empty", []byte(`{}`), "", protocol.StatusBadFormat},
		{"basis_mtime one nanosecond off", with(func(d *protocol.Delta) { m := mtime.Add(time.Nanosecond); d.BasisMTime = &m }), "", protocol.StatusBasisChanged},
		{"basis_mtime of another year", with(func(d *protocol.Delta) { m := mtime.AddDate(-1, 0, 0); d.BasisMTime = &m }), "", protocol.StatusBasisChanged},
		{"basis_size off by one block", with(func(d *protocol.Delta) { d.BasisSize, d.Blocks = basisSize+1024, 1025 }), "", protocol.StatusBasisChanged},
		{"basis_size off by one byte", with(func(d *protocol.Delta) { d.BasisSize, d.Blocks = basisSize-1, 1024 }), "", protocol.StatusBasisChanged},
		{"onto a file that does not exist", deltaJSON(good), "nothere.bin", protocol.StatusBasisChanged},
		{"onto a directory", deltaJSON(good), "a", protocol.StatusIsDir},
		{"onto the victim's file", deltaJSON(good), "../" + victim + "/secret.txt", protocol.StatusPermission},
		{"onto a file outside every home", deltaJSON(good), "../../outside/secret.txt", protocol.StatusPermission},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := a.state(t)
			file := tc.file
			if file == "" {
				file = basisName
			}
			resp, err := rc.do(putDeltaHeader(file, basisSize, tc.d))
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			if resp.Status != tc.want {
				t.Errorf("%d %s, want %d", resp.Status, resp.Msg, tc.want)
			}
			if resp.Status == protocol.StatusReadyToSend { // resync: the body is owed
				rc.Close()
				rc = login(t, a.ts, attacker, attackerPW, a.g)
			}
			inSync(t, rc)
			a.unharmed(t, before)
		})
	}

	// A user who may replace a file but not read it gets no signature of
	// it and sends no delta onto it.
	t.Run("write-only home", func(t *testing.T) {
		w := login(t, a.ts, writeOnly, writeOnlyPW, a.g)
		if resp, err := w.do(obj("action", "signature", "filename", basisName)); err != nil || resp.Status != protocol.StatusPermission {
			t.Errorf("signature: %+v %v, want 263", resp, err)
		}
		fi, err := os.Stat(filepath.Join(a.ts.Home(writeOnly), basisName))
		if err != nil {
			t.Fatal(err)
		}
		m := fi.ModTime()
		d := protocol.Delta{Block: 1024, Blocks: 1024, BasisSize: basisSize, BasisMTime: &m}
		if resp, err := w.do(putDeltaHeader(basisName, basisSize, deltaJSON(d))); err != nil || resp.Status != protocol.StatusPermission {
			t.Errorf("put with a delta: %+v %v, want 263", resp, err)
		}
		inSync(t, w)
		// The same put whole is allowed: write and modify.
		if resp, err := w.putSimple(basisName, []byte("replaced whole")); err != nil || resp.Status != protocol.StatusMD5OK {
			t.Errorf("a whole put: %+v %v", resp, err)
		}
	})
	if n := panics(a.ts); n > 0 {
		t.Errorf("%d handler panics", n)
	}
	a.escapes(t, "delta put headers")
}

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

// TestDeltaSignatureAbuse: the signature action on what may not be read,
// is not a file, or is too big for a delta; each refused with its code,
// the session in step.
func TestDeltaSignatureAbuse(t *testing.T) {
	a := newDeltaArena(t)
	zeros(t, a.home, "toobig.bin", int64(protocol.MaxDeltaBlocks)*protocol.MaxDeltaBlock+1)
	defer os.Remove(filepath.Join(a.home, "toobig.bin"))
	rc := login(t, a.ts, attacker, attackerPW, a.g)
	for _, tc := range []struct {
		name string
		hdr  []byte
		want protocol.Status
	}{
		{"the victim's file", obj("action", "signature", "filename", "../"+victim+"/secret.txt"), protocol.StatusPermission},
		{"a file outside every home", obj("action", "signature", "filename", "../../outside/secret.txt"), protocol.StatusPermission},
		{"a file that does not exist", obj("action", "signature", "filename", "nothere.bin"), protocol.StatusNotExist},
		{"a directory", obj("action", "signature", "filename", "a"), protocol.StatusIsDir},
		{"no filename", obj("action", "signature"), protocol.StatusNoFilename},
		{"a filename with a NUL", obj("action", "signature", "filename", "basis.bin\x00x"), protocol.StatusBadPath},
		{"a file over 4 TiB (sparse)", obj("action", "signature", "filename", "toobig.bin"), protocol.StatusBadSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if resp, err := rc.do(tc.hdr); err != nil || resp.Status != tc.want || resp.Delta != nil {
				t.Errorf("%+v %v, want %d", resp, err, tc.want)
			}
			inSync(t, rc)
		})
	}
	t.Run("before auth", func(t *testing.T) {
		rc := dial(t, a.ts.Addr, a.g)
		if resp, err := rc.do(obj("action", "signature", "filename", basisName)); err != nil || resp.Status != protocol.StatusNotLoggedIn {
			t.Errorf("%+v %v, want 262", resp, err)
		}
	})
	if n := panics(a.ts); n > 0 {
		t.Errorf("%d handler panics", n)
	}
	a.escapes(t, "signature requests")
}

// TestDeltaSignatureAbandoned: a client that asks for the signature of a
// big file and leaves at once. The server reads and hashes the file until
// a write of the sums fails, which is some batches of 4096 sums in (64 KiB
// of sums are buffered before the first write): with the 64 KiB blocks of
// 4 GiB, 512 MiB are read and hashed before the first write, for a
// request of 50 bytes (and a client that stays gets the whole file
// signed at the speed of the disk and the hash, whatever it reads). This
// logs what it cost and checks that it ends.
func TestDeltaSignatureAbandoned(t *testing.T) {
	const size = 4 << 30 // sparse
	a := newDeltaArena(t)
	zeros(t, a.home, "big.bin", size)
	rc := login(t, a.ts, attacker, attackerPW, a.g)
	cpu, start := cpuTime(), time.Now()
	resp, err := rc.do(obj("action", "signature", "filename", "big.bin"))
	if err != nil || resp.Status != protocol.StatusOK || resp.Delta == nil {
		t.Fatalf("%+v %v", resp, err)
	}
	rc.Close()
	ended := waitFor(2*time.Minute, func() bool {
		l := a.ts.Log()
		return strings.Contains(l, `msg="signature failed"`) || strings.Contains(l, `msg="signature done"`)
	})
	used := cpuTime() - cpu
	t.Logf("a signature of %d GiB in %d blocks of %d bytes, its client gone at once: the server went on for %.1f s (%.1f s of CPU)",
		size>>30, resp.Delta.Blocks, resp.Delta.Block, time.Since(start).Seconds(), used.Seconds())
	if !ended {
		t.Fatalf("the server is still signing after 2 minutes")
	}
	roundTrip(t, a.ts, neighbour, neighbourPW, "neighbour.txt")
}

// TestDeltaAnonymousPutRefused: the anonymous tree may be read, so its
// files have signatures; a put with a delta onto one is still a put
// there, refused (263), and the file stays.
func TestDeltaAnonymousPutRefused(t *testing.T) {
	pub := t.TempDir()
	a := newDeltaArena(t, func(s *server.Server) { s.AnonymousRoot = pub })
	mustWrite(t, filepath.Join(pub, basisName), string(a.basis))
	rc, err := dialFrom(a.ts.Addr, 0, a.g)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if resp, err := rc.do(obj("action", "auth", "username", server.AnonymousUser, "password", "x")); err != nil || resp.Status != protocol.StatusLoggedIn {
		t.Fatalf("anonymous auth: %+v %v", resp, err)
	}
	sig, err := rc.signature(basisName)
	if err != nil || sig.Status != protocol.StatusOK {
		t.Fatalf("signature: %+v %v", sig, err)
	}
	if resp, err := rc.do(putDeltaHeader(basisName, basisSize, deltaJSON(*sig.Delta))); err != nil || resp.Status != protocol.StatusPermission {
		t.Errorf("put with a delta: %+v %v, want 263", resp, err)
	}
	inSync(t, rc)
	if b, err := os.ReadFile(filepath.Join(pub, basisName)); err != nil || md5hex(b) != md5hex(a.basis) {
		t.Errorf("the anonymous file changed: %v", err)
	}
	roundTrip(t, a.ts, neighbour, neighbourPW, "neighbour.txt")
}
