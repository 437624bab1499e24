package delta

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"ftpx/protocol"
)

func TestBlockSize(t *testing.T) {
	for _, c := range []struct {
		size int64
		want int
	}{
		{0, protocol.MinDeltaBlock},
		{1, protocol.MinDeltaBlock},
		{1 << 20, protocol.MinDeltaBlock},
		{1<<20 + 1, 1032},
		{4 << 20, 2048},
		{256 << 20, 16 << 10},
		{16 << 30, 128 << 10},
		{64 << 30, 256 << 10}, // 128 KiB would need 2^19 blocks
		{int64(protocol.MaxDeltaBlocks) * protocol.MaxDeltaBlock, protocol.MaxDeltaBlock},
		{int64(protocol.MaxDeltaBlocks)*protocol.MaxDeltaBlock + 1, 0},
		{-1, 0},
	} {
		if got := BlockSize(c.size); got != c.want {
			t.Errorf("BlockSize(%d) = %d, want %d", c.size, got, c.want)
		}
	}
	for size := int64(0); size <= int64(protocol.MaxDeltaBlocks)*protocol.MaxDeltaBlock; size = size*3 + 1 {
		block := BlockSize(size)
		d := protocol.Delta{Block: block, Blocks: int(ceilDiv(size, int64(block))), BasisSize: size}
		if !d.Valid() {
			t.Fatalf("BlockSize(%d) = %d: %+v not valid", size, block, d)
		}
	}
}

func TestSignMatchesSums(t *testing.T) {
	data := randBytes(40, 3<<20+5)
	for _, block := range []int{1024, 5000, 1 << 20, 4 << 20} {
		sig, err := Sign(bytes.NewReader(data), int64(len(data)), block)
		if err != nil {
			t.Fatal(err)
		}
		if sig.Blocks() != ceilDivInt(len(data), block) {
			t.Fatalf("block %d: %d blocks", block, sig.Blocks())
		}
		for i := range sig.Blocks() {
			p := data[i*block : min((i+1)*block, len(data))]
			if sig.Weak[i] != weakReference(p) || sig.Strong[i] != strongSum(p) {
				t.Fatalf("block %d of %d: sums differ", i, block)
			}
		}
		// SignTo writes what WriteTo writes, and ReadSignature reads it back.
		var streamed, written bytes.Buffer
		if err := SignTo(&streamed, bytes.NewReader(data), int64(len(data)), block); err != nil {
			t.Fatal(err)
		}
		if n, err := sig.WriteTo(&written); err != nil || n != int64(written.Len()) {
			t.Fatalf("WriteTo: %d, %v", n, err)
		}
		d := sig.Delta()
		if !bytes.Equal(streamed.Bytes(), written.Bytes()) || int64(written.Len()) != d.SignatureBytes() {
			t.Fatalf("block %d: SignTo and WriteTo differ (%d, %d bytes)", block, streamed.Len(), written.Len())
		}
		back, err := ReadSignature(&written, d)
		if err != nil {
			t.Fatal(err)
		}
		if back.Block != sig.Block || back.Size != sig.Size || !equalSums(back, sig) {
			t.Fatal("signature changed in a round trip")
		}
	}
}

func equalSums(a, b *Signature) bool {
	if a.Blocks() != b.Blocks() {
		return false
	}
	for i := range a.Weak {
		if a.Weak[i] != b.Weak[i] || a.Strong[i] != b.Strong[i] {
			return false
		}
	}
	return true
}

func TestSignShortReader(t *testing.T) {
	data := randBytes(41, 5000)
	for _, have := range []int{0, 1, 4999} {
		if _, err := Sign(bytes.NewReader(data[:have]), 5000, 1024); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%d of 5000 bytes: %v, want io.ErrUnexpectedEOF", have, err)
		}
	}
	// Sign reads exactly size bytes, no more.
	r := bytes.NewReader(data)
	if _, err := Sign(r, 3000, 1024); err != nil {
		t.Fatal(err)
	}
	if r.Len() != 2000 {
		t.Fatalf("Sign left %d bytes, want 2000", r.Len())
	}
	if _, err := Sign(r, 10, 100); !errors.Is(err, ErrFormat) {
		t.Fatalf("block 100: %v, want ErrFormat", err)
	}
}

// mustNotRead fails the test if anything reads it.
type mustNotRead struct{ t *testing.T }

func (m mustNotRead) Read([]byte) (int, error) {
	m.t.Fatal("read from the connection")
	return 0, nil
}

func TestReadSignatureRefusesBeforeAllocating(t *testing.T) {
	for _, d := range []protocol.Delta{
		{Block: 1024, Blocks: protocol.MaxDeltaBlocks + 1, BasisSize: int64(protocol.MaxDeltaBlocks+1) * 1024},
		{Block: 1024, Blocks: 5, BasisSize: 4096},
		{Block: 1024, Blocks: 4, BasisSize: 4097},
		{Block: 1024, Blocks: -1, BasisSize: 0},
		{Block: 1023, Blocks: 1, BasisSize: 1000},
		{Block: protocol.MaxDeltaBlock * 2, Blocks: 1, BasisSize: 1},
		{Block: 1024, Blocks: 1 << 40, BasisSize: 1 << 50},
		{Block: 1024, Blocks: 0, BasisSize: -5},
	} {
		var err error
		allocs := testing.AllocsPerRun(10, func() {
			_, err = ReadSignature(mustNotRead{t}, d)
		})
		if !errors.Is(err, ErrFormat) {
			t.Errorf("%+v: %v, want ErrFormat", d, err)
		}
		if allocs != 0 {
			t.Errorf("%+v: %v allocations before refusing", d, allocs)
		}
	}
}

func TestReadSignatureExact(t *testing.T) {
	data := randBytes(42, 10000)
	sig, err := Sign(bytes.NewReader(data), 10000, 1024)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	sig.WriteTo(&body)
	full := body.Bytes()
	r := bytes.NewReader(cat(full, []byte("trailer")))
	if _, err := ReadSignature(r, sig.Delta()); err != nil {
		t.Fatal(err)
	}
	if r.Len() != len("trailer") {
		t.Fatalf("ReadSignature left %d bytes, want %d", r.Len(), len("trailer"))
	}
	for _, cut := range []int{0, 1, 12, len(full) - 1} {
		if _, err := ReadSignature(bytes.NewReader(full[:cut]), sig.Delta()); !errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ErrFormat) {
			t.Errorf("cut at %d: %v, want io.ErrUnexpectedEOF", cut, err)
		}
	}
	empty, err := ReadSignature(mustNotRead{t}, protocol.Delta{Block: 1024})
	if err != nil || empty.Blocks() != 0 {
		t.Fatalf("empty basis: %v, %d blocks", err, empty.Blocks())
	}
}
