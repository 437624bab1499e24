package hostile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"ftpx/protocol"
)

// A get asking for a delta carries the client's signature right after its
// header: blocks*12 bytes the server reads (and holds) before it answers,
// and searches the file for while it sends it. These tests send
// signatures that lie about their size, never end, or come where nothing
// reads them (delta_cost_test.go: ones built to be slow, and many at
// once).

// sigBody is a signature body of n sums.
func sigBody(n int, weak func(i int) uint32, strong func(i int) uint64) []byte {
	b := make([]byte, 0, n*protocol.DeltaSumSize)
	for i := range n {
		b = binary.BigEndian.AppendUint32(b, weak(i))
		b = binary.BigEndian.AppendUint64(b, strong(i))
	}
	return b
}

// randomSums are sums that match nothing: what a basis unrelated to the
// file has.
func randomSums(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x516))
	return sigBody(n, func(int) uint32 { return r.Uint32() }, func(int) uint64 { return r.Uint64() })
}

func getDeltaHeader(name string, d protocol.Delta, kv ...any) []byte {
	return obj(append([]any{"action", "get", "filename", name, "delta", jsonRaw(string(deltaJSON(d)))}, kv...)...)
}

// deltaAnswer is what a get answered with a delta brought back.
type deltaAnswer struct {
	built, wire int64 // the bytes the stream builds, and its own
	ops         int
	md5         string // from the 257 or the md5 frame
}

// readDelta reads the body of a get answered with a delta against d, up to
// its END, then the md5 frame unless the 257 carried the md5. Literals are
// read and dropped.
func (rc *rawConn) readDelta(ready protocol.Response, d protocol.Delta) (deltaAnswer, error) {
	var ans deltaAnswer
	cr := &countingReader{r: rc.r}
	for {
		rc.c.SetReadDeadline(time.Now().Add(ioTimeout))
		op, err := cr.ReadByte()
		if err != nil {
			return ans, err
		}
		ans.ops++
		switch op {
		case protocol.DeltaEnd:
			ans.wire = cr.n
			ans.md5 = ready.MD5
			if ans.md5 == "" {
				trailer, _, err := rc.read()
				if err != nil {
					return ans, err
				}
				ans.md5 = trailer.MD5
			}
			return ans, nil
		case protocol.DeltaCopy:
			first, err1 := binary.ReadUvarint(cr)
			count, err2 := binary.ReadUvarint(cr)
			if err := errors.Join(err1, err2); err != nil {
				return ans, err
			}
			ans.built += min(int64(first+count)*int64(d.Block), d.BasisSize) - int64(first)*int64(d.Block)
		case protocol.DeltaData:
			n, err := binary.ReadUvarint(cr)
			if err != nil {
				return ans, err
			}
			if _, err := io.CopyN(io.Discard, cr, int64(n)); err != nil {
				return ans, err
			}
			ans.built += int64(n)
		default:
			return ans, fmt.Errorf("the server sent opcode %#x", op)
		}
	}
}

type countingReader struct {
	r interface {
		io.Reader
		io.ByteReader
	}
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// TestDeltaGetSignatureAbuse: gets whose delta header does not describe a
// signature are refused before a byte of it is read, and the session
// ends (what follows cannot be told from the next request); a signature
// cut short or stalled ends the session; a whole signature for a get
// that is then refused leaves the session in step.
func TestDeltaGetSignatureAbuse(t *testing.T) {
	a := newDeltaArena(t)
	kib := func(blocks int, size int64) protocol.Delta {
		return protocol.Delta{Block: 1024, Blocks: blocks, BasisSize: size}
	}
	for _, tc := range []struct {
		name string
		d    protocol.Delta
	}{
		{"blocks MaxDeltaBlocks+1", kib(protocol.MaxDeltaBlocks+1, (protocol.MaxDeltaBlocks+1)*1024)},
		{"blocks disagree with basis_size", kib(10, basisSize)},
		{"block below the minimum", protocol.Delta{Block: 512, Blocks: 2048, BasisSize: basisSize}},
		{"block above the maximum", protocol.Delta{Block: protocol.MaxDeltaBlock + 1, Blocks: 1, BasisSize: basisSize}},
		{"negative blocks and basis_size", kib(-1, -1024)},
		{"negative block", protocol.Delta{Block: -1024, Blocks: 0, BasisSize: 0}},
		{"all zero", protocol.Delta{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := a.state(t)
			rc := login(t, a.ts, attacker, attackerPW, a.g)
			// The header alone: the answer must not wait for a body.
			resp, err := rc.do(getDeltaHeader(basisName, tc.d))
			if err != nil || resp.Status != protocol.StatusBadFormat {
				t.Errorf("%+v %v, want 250", resp, err)
			}
			if !rc.closedByServer(5 * time.Second) {
				t.Errorf("left open: what follows would be read as requests")
			}
			a.unharmed(t, before)
		})
	}

	d := kib(basisSize/1024, basisSize)
	sums := randomSums(d.Blocks, 1)
	t.Run("signature cut short, then closed", func(t *testing.T) {
		before := a.state(t)
		rc := login(t, a.ts, attacker, attackerPW, a.g)
		rc.write(append(frame(getDeltaHeader(basisName, d)), sums[:len(sums)/2]...))
		rc.Close()
		a.unharmed(t, before)
	})
	t.Run("signature cut short, stalled", func(t *testing.T) {
		before := a.state(t)
		rc := login(t, a.ts, attacker, attackerPW, a.g)
		start := time.Now()
		rc.write(append(frame(getDeltaHeader(basisName, d)), sums[:len(sums)-1]...))
		if !rc.closedByServer(10 * deltaTimeout) {
			t.Fatalf("a stalled signature is not dropped")
		}
		t.Logf("dropped after %.1f s (transfer timeout %v)", time.Since(start).Seconds(), deltaTimeout)
		a.unharmed(t, before)
	})

	// The whole signature is read even for a get that is then refused.
	for _, tc := range []struct {
		name, user, pw, file string
		kv                   []any
		want                 protocol.Status
	}{
		{"of the victim's file", attacker, attackerPW, "../" + victim + "/secret.txt", nil, protocol.StatusPermission},
		{"of a file outside every home", attacker, attackerPW, "../../outside/secret.txt", nil, protocol.StatusPermission},
		{"of a file that does not exist", attacker, attackerPW, "nothere.bin", nil, protocol.StatusNotExist},
		{"of a directory", attacker, attackerPW, "a", nil, protocol.StatusIsDir},
		{"from past the end", attacker, attackerPW, basisName, []any{"offset", basisSize + 1}, protocol.StatusBadOffset},
		{"of a file the user may not read", writeOnly, writeOnlyPW, basisName, nil, protocol.StatusPermission},
	} {
		t.Run("refused get "+tc.name, func(t *testing.T) {
			before := a.state(t)
			rc := login(t, a.ts, tc.user, tc.pw, a.g)
			rc.write(append(frame(getDeltaHeader(tc.file, d, tc.kv...)), sums...))
			if resp, _, err := rc.read(); err != nil || resp.Status != tc.want {
				t.Errorf("%+v %v, want %d", resp, err, tc.want)
			}
			inSync(t, rc)
			a.unharmed(t, before)
		})
	}

	// Before auth nothing reads the signature: 262, and the signature's
	// bytes are read as the next frame. Here its first four bytes are a
	// length over the limit: 271, and the server closes.
	t.Run("before auth", func(t *testing.T) {
		before := a.state(t)
		rc := dial(t, a.ts.Addr, a.g)
		one := protocol.Delta{Block: 1024, Blocks: 1, BasisSize: 1000}
		rc.write(append(frame(getDeltaHeader(basisName, one)), sigBody(1, func(int) uint32 { return 0xffffffff }, func(int) uint64 { return 0 })...))
		got := rc.statusesUntilClosed()
		t.Logf("a get with a delta before auth: answered %s, then closed", strings.Join(got, ", "))
		if len(got) == 0 || got[0] != "262" {
			t.Errorf("answers %v, want 262 first", got)
		}
		a.unharmed(t, before)
	})

	// A header that does not decode (a string for a number) is answered
	// 250 as any such frame, and the session goes on: nothing knows a
	// signature follows, and its bytes are read as the next frame.
	t.Run("a delta that does not decode", func(t *testing.T) {
		before := a.state(t)
		rc := login(t, a.ts, attacker, attackerPW, a.g)
		hdr := obj("action", "get", "filename", basisName, "delta", jsonRaw(`{"block":"1024","blocks":1,"basis_size":1000}`))
		rc.write(append(frame(hdr), sigBody(1, func(int) uint32 { return 0xffffffff }, func(int) uint64 { return 0 })...))
		got := rc.statusesUntilClosed()
		t.Logf("a get whose delta does not decode: answered %s, then closed", strings.Join(got, ", "))
		if len(got) == 0 || got[0] != "250" {
			t.Errorf("answers %v, want 250 first", got)
		}
		a.unharmed(t, before)
	})

	// Searching for blocks of 16 MiB would hold 32 MiB: the server answers
	// whole instead.
	t.Run("blocks over 1 MiB answered whole", func(t *testing.T) {
		rc := login(t, a.ts, attacker, attackerPW, a.g)
		big := protocol.Delta{Block: protocol.MaxDeltaBlock, Blocks: 1, BasisSize: protocol.MaxDeltaBlock}
		rc.write(append(frame(getDeltaHeader(basisName, big)), randomSums(1, 4)...))
		ready, _, err := rc.read()
		if err != nil || ready.Status != protocol.StatusReadyToSend || ready.Delta != nil || ready.Size == nil || *ready.Size != basisSize {
			t.Fatalf("%+v %v, want 257 without a delta", ready, err)
		}
		body, err := rc.readBody(basisSize)
		if err != nil || md5hex(body) != md5hex(a.basis) {
			t.Fatalf("the body: %v", err)
		}
		if ready.MD5 == "" {
			if trailer, _, err := rc.read(); err != nil || trailer.MD5 != md5hex(a.basis) {
				t.Fatalf("md5 frame: %+v %v", trailer, err)
			}
		}
		inSync(t, rc)
	})

	// The server's own sums of the file, sent back: the answer copies it
	// whole, in a few bytes.
	t.Run("well formed", func(t *testing.T) {
		rc := login(t, a.ts, attacker, attackerPW, a.g)
		resp, err := rc.do(obj("action", "signature", "filename", basisName))
		if err != nil || resp.Status != protocol.StatusOK {
			t.Fatalf("signature: %+v %v", resp, err)
		}
		own, err := rc.readBody(resp.Delta.SignatureBytes())
		if err != nil {
			t.Fatal(err)
		}
		rc.write(append(frame(getDeltaHeader(basisName, *resp.Delta)), own...))
		ready, _, err := rc.read()
		if err != nil || ready.Status != protocol.StatusReadyToSend || ready.Delta == nil {
			t.Fatalf("get: %+v %v, want 257 with a delta", ready, err)
		}
		ans, err := rc.readDelta(ready, *resp.Delta)
		if err != nil || ans.built != basisSize || ans.md5 != md5hex(a.basis) {
			t.Fatalf("the delta built %d bytes with md5 %s (%v), want %d with %s", ans.built, ans.md5, err, basisSize, md5hex(a.basis))
		}
		t.Logf("the file against its own signature: %d bytes on the wire, %d instructions", ans.wire, ans.ops)
		inSync(t, rc)
	})
	a.escapes(t, "delta get signatures")
}
