package delta

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"testing"

	"ftpx/protocol"
)

func TestRoundTrip(t *testing.T) {
	const mib = 1 << 20
	r4 := randBytes(1, 4*mib)
	small := randBytes(2, 300*1024)
	zeros := make([]byte, 1*mib)
	zerosChanged := bytes.Clone(zeros)
	for _, at := range []int{0, 4095, 300000, 777777, mib - 1} {
		zerosChanged[at] = 0x42
	}
	other := randBytes(3, 1*mib+123)
	tail := randBytes(4, 500) // the basis's short last block
	basisTail := cat(randBytes(5, 10*1024), tail)

	for _, c := range []struct {
		name          string
		basis, target []byte
		block         int // 0: BlockSize(len(basis))
	}{
		{"identical", r4, r4, 0},
		{"identical small blocks", small, small, 16},
		{"empty basis", nil, small, 0},
		{"empty target", small, nil, 0},
		{"both empty", nil, nil, 0},
		{"target shorter than a block", small, small[5000:5500], 0},
		{"target a block's prefix", small, small[:700], 0},
		{"basis shorter than a block", small[:700], small[:700], 0},
		{"basis shorter than a block, target longer", small[:700], cat(small[:700], small[:700], small[:5]), 0},
		{"change at start", r4, cat([]byte("xyz"), r4[3:]), 0},
		{"change in middle", r4, cat(r4[:2*mib], []byte("changed"), r4[2*mib+7:]), 0},
		{"change at end", r4, cat(r4[:len(r4)-3], []byte("xyz")), 0},
		{"1000 bytes inserted near start", r4, cat(r4[:100], randBytes(6, 1000), r4[100:]), 0},
		{"bytes deleted", r4, cat(r4[:12345], r4[12345+777:]), 0},
		{"block-aligned change", r4, cat(r4[:4096], randBytes(7, 2048), r4[4096+2048:]), 0},
		{"unaligned change", r4, cat(r4[:4097], randBytes(8, 3000), r4[4097+3000:]), 0},
		{"appended", small, cat(small, randBytes(9, 5000)), 0},
		{"truncated", small, small[:len(small)-5000], 0},
		{"blocks reordered", small, cat(small[200*1024:], small[:200*1024]), 0},
		{"zeros with a few changes", zeros, zerosChanged, 0},
		{"zeros to zeros", zeros, zeros[:mib-100], 0},
		{"random to unrelated random", r4[:mib], other, 0},
		{"short last block at the end", basisTail, cat(randBytes(10, 333), basisTail), 0},
		{"short last block alone", basisTail, cat(tail, tail), 0},
		{"tiny blocks with inserts", small[:20000], cat(small[:3], small[7:9000], []byte{1, 2, 3}, small[9000:]), 7},
		{"block of one byte", small[:3000], cat(small[1000:2000], small[:1000]), 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			block := c.block
			if block == 0 {
				block = BlockSize(int64(len(c.basis)))
			}
			roundTrip(t, c.basis, c.target, block)
		})
	}
}

// TestShortLastBlockOnlyAtEnd: the basis's short last block appears at
// the start and at the end of the target; only the end may be a COPY of
// it, because only there does its length fit.
func TestShortLastBlockOnlyAtEnd(t *testing.T) {
	tail := randBytes(11, 500)
	basis := cat(randBytes(12, 3*1024), tail)
	target := cat(tail, randBytes(13, 2000), tail)
	block := protocol.MinDeltaBlock
	stream, st := roundTrip(t, basis, target, block)
	last := ceilDivInt(len(basis), block) - 1
	instrs := decodeAll(t, stream, last+1)
	var copies []Instr
	for _, in := range instrs {
		if in.Op == protocol.DeltaCopy {
			copies = append(copies, in)
		}
	}
	if len(copies) != 1 || copies[0].First != last || copies[0].Count != 1 {
		t.Fatalf("copies %+v, want only the last block %d", copies, last)
	}
	if instrs[len(instrs)-2].Op != protocol.DeltaCopy {
		t.Fatalf("the COPY of the last block is not the last instruction: %+v", instrs)
	}
	if st.Copied != 500 {
		t.Fatalf("copied %d bytes, want 500", st.Copied)
	}
}

// TestIdenticalIsOneCopy: an unchanged file is a single COPY of every
// block, whatever the block size.
func TestIdenticalIsOneCopy(t *testing.T) {
	data := randBytes(14, 1<<20+77)
	for _, block := range []int{1024, 4096, 1 << 20, 2 << 20} {
		stream, st := roundTrip(t, data, data, block)
		blocks := ceilDivInt(len(data), block)
		want := []Instr{{Op: protocol.DeltaCopy, First: 0, Count: blocks}, {Op: protocol.DeltaEnd}}
		if got := decodeAll(t, stream, blocks); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("block %d: stream %+v, want %+v", block, got, want)
		}
		if st.Literal != 0 || st.Ops != 1 {
			t.Fatalf("block %d: stats %+v", block, st)
		}
	}
}

// TestDiffEfficiency: an insertion and a rewrite cost their own bytes
// plus at most a block or so at each edge, and the stream carries little
// beyond the literals.
func TestDiffEfficiency(t *testing.T) {
	basis := randBytes(15, 4<<20)
	inserted := randBytes(16, 1000)
	target := cat(basis[:100], inserted, basis[100:])
	mid := 2<<20 + 333
	copy(target[mid:mid+64<<10], randBytes(17, 64<<10))
	block := BlockSize(int64(len(basis)))
	stream, st := roundTrip(t, basis, target, block)
	if limit := int64(1000 + 64<<10 + 3*block); st.Literal > limit {
		t.Fatalf("literal %d bytes, want at most %d (block %d)", st.Literal, limit, block)
	}
	if int64(len(stream)) >= st.Literal+200 {
		t.Fatalf("stream %d bytes for %d literal bytes: more than 200 bytes of overhead", len(stream), st.Literal)
	}
	t.Logf("block %d: %d literal, %d copied, %d ops, stream %d bytes", block, st.Literal, st.Copied, st.Ops, len(stream))
}

// TestDiffLongLiteralsSplit: a target that matches nothing becomes DATA
// instructions of exactly MaxDeltaLiteral bytes but the last.
func TestDiffLongLiteralsSplit(t *testing.T) {
	basis := randBytes(18, 64<<10)
	target := randBytes(19, 3*protocol.MaxDeltaLiteral+5)
	for _, b := range [][]byte{basis, nil} {
		block := BlockSize(int64(len(b)))
		stream, st := roundTrip(t, b, target, block)
		instrs := decodeAll(t, stream, ceilDivInt(len(b), block))
		if len(instrs) != 5 || st.Literal != int64(len(target)) {
			t.Fatalf("%d instructions %+v, literal %d, for a target of %d", len(instrs), instrs, st.Literal, len(target))
		}
		for _, in := range instrs[:3] {
			if in.Op != protocol.DeltaData || in.Len != protocol.MaxDeltaLiteral {
				t.Fatalf("instruction %+v, want DATA of %d", in, protocol.MaxDeltaLiteral)
			}
		}
	}
}

// oneByteReader returns one byte per Read, the worst a connection does.
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func TestDiffSmallReadsAndHash(t *testing.T) {
	basis := randBytes(20, 200<<10)
	target := cat(basis[:50000], randBytes(21, 3000), basis[49000:])
	sig, err := Sign(bytes.NewReader(basis), int64(len(basis)), 1024)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if _, err := Diff(&want, bytes.NewReader(target), sig, Options{}); err != nil {
		t.Fatal(err)
	}
	h := md5.New()
	var got bytes.Buffer
	if _, err := Diff(&got, oneByteReader{bytes.NewReader(target)}, sig, Options{Hash: h}); err != nil {
		t.Fatal(err)
	}
	if sum := md5.Sum(target); !bytes.Equal(h.Sum(nil), sum[:]) {
		t.Fatalf("hash of what Diff read %x, target's %x", h.Sum(nil), sum)
	}
	rebuilt, err := applyBytes(t, basis, got.Bytes(), 1024, int64(len(target)))
	if err != nil || !bytes.Equal(rebuilt, target) {
		t.Fatalf("one-byte reads: apply %v, rebuilt equal %v", err, bytes.Equal(rebuilt, target))
	}
}

// TestDiffHashBigTarget feeds a target bigger than Diff's buffer, so the
// hash runs while the buffer is compacted and reused.
func TestDiffHashBigTarget(t *testing.T) {
	basis := randBytes(22, 1<<20)
	target := cat(randBytes(23, 5<<20), basis, randBytes(24, 3<<20))
	sig, err := Sign(bytes.NewReader(basis), int64(len(basis)), BlockSize(int64(len(basis))))
	if err != nil {
		t.Fatal(err)
	}
	h := md5.New()
	st, err := Diff(io.Discard, bytes.NewReader(target), sig, Options{Hash: h})
	if err != nil {
		t.Fatal(err)
	}
	if sum := md5.Sum(target); !bytes.Equal(h.Sum(nil), sum[:]) {
		t.Fatalf("hash %x, want %x", h.Sum(nil), sum)
	}
	if st.Copied != int64(len(basis)) {
		t.Fatalf("copied %d, want %d", st.Copied, len(basis))
	}
}

type failingWriter struct{ after int }

var errWrite = errors.New("disk on fire")

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.after < len(p) {
		return 0, errWrite
	}
	f.after -= len(p)
	return len(p), nil
}

type failingReader struct {
	r   io.Reader
	err error
}

func (f failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

// TestDiffIOErrors: errors of the reader and writer come back as they
// are, never as ErrFormat.
func TestDiffIOErrors(t *testing.T) {
	basis := randBytes(25, 100<<10)
	target := randBytes(26, 3<<20)
	sig, err := Sign(bytes.NewReader(basis), int64(len(basis)), 1024)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Diff(&failingWriter{after: 1 << 20}, bytes.NewReader(target), sig, Options{})
	if !errors.Is(err, errWrite) || errors.Is(err, ErrFormat) {
		t.Fatalf("write error: %v", err)
	}
	_, err = Diff(io.Discard, failingReader{bytes.NewReader(target), io.ErrUnexpectedEOF}, sig, Options{Hash: md5.New()})
	if !errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ErrFormat) {
		t.Fatalf("read error: %v", err)
	}
}

func TestDiffRefusesInconsistentSignature(t *testing.T) {
	for _, sig := range []*Signature{
		{Block: 0, Size: 10},
		{Block: 1024, Size: 5000, Weak: make([]uint32, 5), Strong: make([]uint64, 4)},
		{Block: 1024, Size: 5000, Weak: make([]uint32, 4), Strong: make([]uint64, 4)},
		{Block: 1024, Size: -1},
	} {
		if _, err := Diff(io.Discard, bytes.NewReader(nil), sig, Options{}); !errors.Is(err, ErrFormat) {
			t.Errorf("%+v: %v, want ErrFormat", sig, err)
		}
	}
}

// countingReader yields n pseudo-random bytes without holding them.
type countingReader struct {
	n, seed uint64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n == 0 {
		return 0, io.EOF
	}
	p = p[:min(uint64(len(p)), c.n)]
	for i := range p {
		c.seed = c.seed*6364136223846793005 + 1442695040888963407
		p[i] = byte(c.seed >> 56)
	}
	c.n -= uint64(len(p))
	return len(p), nil
}

// TestDiffMemoryBounded diffs a 64 MiB target that matches nothing: what
// Diff allocates must not grow with the target.
func TestDiffMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB")
	}
	basis := randBytes(27, 1<<20)
	sig, err := Sign(bytes.NewReader(basis), int64(len(basis)), 1024)
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := Diff(io.Discard, &countingReader{n: 64 << 20, seed: 1}, sig, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	limit := int64(2*protocol.MaxDeltaLiteral + 4<<20) // buffers, index and encoder
	if per := allocs.AllocedBytesPerOp(); per > limit {
		t.Fatalf("Diff of 64 MiB allocated %d bytes, want at most %d", per, limit)
	}
}

// TestHostileSignatureBounded: a signature whose weak sums pass the
// filter at every window of the target, or match every window, with
// strong sums that never do, must not cost a lookup or a block's strong
// sum per target byte.
func TestHostileSignatureBounded(t *testing.T) {
	const block, blocks = 4096, 1000
	target := make([]byte, 16<<20)  // every window's weak sum is 0
	equal := make([]uint32, blocks) // all 0: every window matches them all
	// Weak sums that are not 0 but share its filter bit and bucket.
	x := newIndex(make([]uint32, blocks), make([]uint64, blocks), blocks) // for its geometry
	var colliding []uint32
	h0 := weakHash(0)
	for w := uint32(1); len(colliding) < 10; w++ {
		h := weakHash(w)
		if h>>filterBitShift == h0>>filterBitShift && h>>filterWordShift&x.wmask == h0>>filterWordShift&x.wmask && x.bucket(h) == x.bucket(h0) {
			colliding = append(colliding, w)
		}
	}
	for len(colliding) < blocks {
		colliding = append(colliding, colliding[len(colliding)%10])
	}
	for name, weak := range map[string][]uint32{"equal weak sums": equal, "colliding weak sums": colliding} {
		t.Run(name, func(t *testing.T) {
			sig := &Signature{Block: block, Size: block * blocks, Weak: weak, Strong: make([]uint64, blocks)}
			for i := range sig.Strong {
				sig.Strong[i] = uint64(i) + 1 // the sums of zeros are 0 and 0xc71c0011_1fc8e1ee
			}
			d := newDiffer(io.Discard, bytes.NewReader(target), sig)
			if err := d.run(); err != nil {
				t.Fatal(err)
			}
			if limit := int64(alarmRatio*len(target) + alarmSlack + 2*block + lookupCost); d.alarms > limit {
				t.Fatalf("false alarms cost %d bytes, want at most %d", d.alarms, limit)
			}
			if d.stats.Literal != int64(len(target)) {
				t.Fatalf("literal %d, want %d", d.stats.Literal, len(target))
			}
		})
	}
}
