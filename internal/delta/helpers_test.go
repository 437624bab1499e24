package delta

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"ftpx/protocol"
)

// randBytes is n reproducible random bytes.
func randBytes(seed uint64, n int) []byte {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	p := make([]byte, n)
	rand.NewChaCha8(key).Read(p)
	return p
}

// cat joins byte slices into a new one.
func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// diffBytes signs basis with the given block size and diffs target
// against it, returning the stream. Block sizes below the protocol's
// minimum go through the unexported sign, so that small inputs reach the
// paths big files do.
func diffBytes(t testing.TB, basis, target []byte, block int) ([]byte, Stats) {
	t.Helper()
	var sig *Signature
	var err error
	if block >= protocol.MinDeltaBlock {
		sig, err = Sign(bytes.NewReader(basis), int64(len(basis)), block)
	} else {
		sig, err = sign(bytes.NewReader(basis), int64(len(basis)), block)
	}
	if err != nil {
		t.Fatalf("sign %d bytes, block %d: %v", len(basis), block, err)
	}
	var stream bytes.Buffer
	st, err := Diff(&stream, bytes.NewReader(target), sig, Options{})
	if err != nil {
		t.Fatalf("diff: %v", err)
	}
	return stream.Bytes(), st
}

// applyBytes applies stream to basis and returns what it wrote; it also
// checks that Apply read the whole stream and nothing after it.
func applyBytes(t testing.TB, basis, stream []byte, block int, want int64) ([]byte, error) {
	t.Helper()
	return applyThen(t, basis, stream, "NEXT", block, want)
}

// applyThen is applyBytes with the given bytes after the stream (none
// for a stream cut short).
func applyThen(t testing.TB, basis, stream []byte, sentinel string, block int, want int64) ([]byte, error) {
	t.Helper()
	r := bufio.NewReader(io.MultiReader(bytes.NewReader(stream), bytes.NewReader([]byte(sentinel))))
	var out bytes.Buffer
	var n int64
	var err error
	if block >= protocol.MinDeltaBlock {
		n, err = Apply(&out, r, bytes.NewReader(basis), int64(len(basis)), block, want)
	} else {
		n, err = apply(&out, r, bytes.NewReader(basis), int64(len(basis)), block, want)
	}
	if n != int64(out.Len()) {
		t.Fatalf("apply returned %d bytes written, wrote %d", n, out.Len())
	}
	if int64(out.Len()) > want {
		t.Fatalf("apply wrote %d bytes, more than the %d wanted", out.Len(), want)
	}
	if err == nil {
		rest, _ := io.ReadAll(r)
		if string(rest) != sentinel {
			t.Fatalf("after END the reader holds %q, want %q", rest, sentinel)
		}
	}
	return out.Bytes(), err
}

// roundTrip diffs and applies, and fails unless the result is target,
// byte for byte, and the stats add up.
func roundTrip(t testing.TB, basis, target []byte, block int) ([]byte, Stats) {
	t.Helper()
	stream, st := diffBytes(t, basis, target, block)
	got, err := applyBytes(t, basis, stream, block, int64(len(target)))
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if !bytes.Equal(got, target) {
		t.Fatalf("rebuilt %d bytes differ from the %d-byte target (first difference at %d)", len(got), len(target), firstDiff(got, target))
	}
	if st.Copied+st.Literal != int64(len(target)) {
		t.Fatalf("stats copied %d + literal %d != target %d", st.Copied, st.Literal, len(target))
	}
	instrs := decodeAll(t, stream, ceilDivInt(len(basis), block))
	if len(instrs)-1 != st.Ops {
		t.Fatalf("stats say %d ops, stream holds %d", st.Ops, len(instrs)-1)
	}
	return stream, st
}

func ceilDivInt(n, d int) int { return int(ceilDiv(int64(n), int64(d))) }

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// decodeAll decodes a whole valid stream into its instructions, END
// last.
func decodeAll(t testing.TB, stream []byte, blocks int) []Instr {
	t.Helper()
	dec := NewDecoder(bufio.NewReader(bytes.NewReader(stream)), blocks)
	var out []Instr
	for {
		in, err := dec.Next()
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		out = append(out, in)
		if in.Op == protocol.DeltaEnd {
			if _, err := dec.Next(); !errors.Is(err, io.EOF) {
				t.Fatalf("Next after END: %v, want io.EOF", err)
			}
			return out
		}
	}
}
