package hostile

import (
	"encoding/binary"
	"fmt"
	"ftpx/internal/cputime"
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
	cpu, start := cputime.Self(), time.Now()
	resp, err := rc.do(obj("action", "signature", "filename", "big.bin"))
	if err != nil || resp.Status != protocol.StatusOK || resp.Delta == nil {
		t.Fatalf("%+v %v", resp, err)
	}
	rc.Close()
	ended := waitFor(2*time.Minute, func() bool {
		l := a.ts.Log()
		return strings.Contains(l, `msg="signature failed"`) || strings.Contains(l, `msg="signature done"`)
	})
	used := cputime.Self() - cpu
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
