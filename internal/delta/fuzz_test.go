package delta

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"

	"ftpx/protocol"
)

// FuzzApply feeds arbitrary streams to Apply against a small basis: it
// must never panic, never write more than want, read nothing past END,
// and fail only with ErrFormat or io.ErrUnexpectedEOF.
func FuzzApply(f *testing.F) {
	basis := randBytes(50, 3000) // blocks 0 and 1 of 1024, block 2 of 952
	f.Add(stream(cp, 0, 3, end), uint16(3000))
	f.Add(stream(data, 3, []byte("abc"), cp, 2, 1, data, 1, []byte("z"), end), uint16(956))
	f.Add(stream(cp, 1, 2, cp, 0, 1, end), uint16(3000))
	f.Add(stream(end), uint16(0))
	f.Add(stream(cp, 3, 1, end), uint16(10))
	f.Add(stream(data, protocol.MaxDeltaLiteral+1), uint16(10))
	f.Add(stream(cp, bytes.Repeat([]byte{0xff}, 11)), uint16(10))
	f.Add(stream(data, 5, []byte("hel")), uint16(5))
	f.Fuzz(func(t *testing.T, s []byte, want uint16) {
		r := bufio.NewReader(io.MultiReader(bytes.NewReader(s), bytes.NewReader([]byte("TAIL"))))
		var out bytes.Buffer
		n, err := Apply(&out, r, bytes.NewReader(basis), int64(len(basis)), 1024, int64(want))
		if n != int64(out.Len()) || n > int64(want) {
			t.Fatalf("returned %d, wrote %d, want at most %d", n, out.Len(), want)
		}
		switch {
		case err == nil:
			if n != int64(want) {
				t.Fatalf("success after %d of %d bytes", n, want)
			}
			// END was read, and nothing of what follows the stream.
			rest, _ := io.ReadAll(r)
			if !bytes.HasSuffix(rest, []byte("TAIL")) {
				t.Fatalf("read past END: %q left", rest)
			}
		case errors.Is(err, ErrFormat) != errors.Is(err, io.ErrUnexpectedEOF):
		default:
			t.Fatalf("error %v is neither ErrFormat nor io.ErrUnexpectedEOF, or both", err)
		}
	})
}

// FuzzReadSignature: any header and body. An invalid header is refused
// before the body is read; a valid one reads exactly its bytes, and what
// it reads writes back the same.
func FuzzReadSignature(f *testing.F) {
	sig, _ := Sign(bytes.NewReader(randBytes(51, 5000)), 5000, 1024)
	var body bytes.Buffer
	sig.WriteTo(&body)
	f.Add(1024, 5, int64(5000), body.Bytes())
	f.Add(1024, 5, int64(5000), body.Bytes()[:30])
	f.Add(1024, 0, int64(0), []byte{})
	f.Add(1024, protocol.MaxDeltaBlocks+1, int64(protocol.MaxDeltaBlocks+1)*1024, []byte{1, 2, 3})
	f.Add(1000, 5, int64(5000), body.Bytes())
	f.Add(1024, -1, int64(-1024), []byte{})
	f.Fuzz(func(t *testing.T, block, blocks int, size int64, b []byte) {
		d := protocol.Delta{Block: block, Blocks: blocks, BasisSize: size}
		r := bytes.NewReader(b)
		s, err := ReadSignature(r, d)
		need := d.SignatureBytes()
		switch {
		case !d.Valid():
			if !errors.Is(err, ErrFormat) || r.Len() != len(b) {
				t.Fatalf("invalid %+v: %v, read %d bytes", d, err, len(b)-r.Len())
			}
		case int64(len(b)) < need:
			if !errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ErrFormat) {
				t.Fatalf("%+v with %d of %d bytes: %v", d, len(b), need, err)
			}
		default:
			if err != nil {
				t.Fatalf("%+v: %v", d, err)
			}
			if int64(r.Len()) != int64(len(b))-need {
				t.Fatalf("read %d bytes, want %d", len(b)-r.Len(), need)
			}
			var again bytes.Buffer
			if _, err := s.WriteTo(&again); err != nil || !bytes.Equal(again.Bytes(), b[:need]) {
				t.Fatalf("rewritten body differs (%v)", err)
			}
		}
	})
}

// FuzzRoundTrip: for any basis and target, Apply(Diff(target)) is the
// target, with the fuzzed block size (small ones reach every path with
// small inputs) or the protocol's smallest. The target is also tried
// spliced into the middle of the basis, so that most blocks match.
// Blocks below 8 bytes, where most windows match something, are left to
// TestRoundTrip, and inputs past 4 KiB are skipped: both make each run
// slower, and the fuzzer runs a new input hundreds of times to minimise
// it (progress lines show 0 execs/sec meanwhile).
func FuzzRoundTrip(f *testing.F) {
	r := randBytes(52, 4000)
	f.Add(r[:2500], r[1500:], uint8(0))
	f.Add(r[:2000], cat(r[:100], []byte("inserted"), r[100:2000]), uint8(16))
	f.Add(r[:300], r[:300], uint8(7))
	f.Add([]byte{}, r[:100], uint8(1))
	f.Add(r[:100], []byte{}, uint8(1))
	f.Add(make([]byte, 2000), cat(make([]byte, 1000), []byte{1}, make([]byte, 1000)), uint8(32))
	f.Fuzz(func(t *testing.T, basis, target []byte, blockSel uint8) {
		if len(basis)+len(target) > 4<<10 {
			t.Skip("input too big to fuzz quickly")
		}
		block := protocol.MinDeltaBlock
		if blockSel != 0 {
			block = int(blockSel)%57 + 8
		}
		roundTrip(t, basis, target, block)
		half := len(basis) / 2
		roundTrip(t, basis, cat(basis[:half], target, basis[half:]), block)
	})
}
