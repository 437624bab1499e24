package delta

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"ftpx/protocol"
)

// Signature is the block sums of a basis: Weak[i] and Strong[i] are the
// sums of block i, bytes [i*Block, min((i+1)*Block, Size)).
type Signature struct {
	Block  int
	Size   int64 // the basis's size
	Weak   []uint32
	Strong []uint64
}

// Blocks is the number of blocks, the last possibly short.
func (s *Signature) Blocks() int { return len(s.Weak) }

// Delta is the header that describes s on the wire.
func (s *Signature) Delta() protocol.Delta {
	return protocol.Delta{Block: s.Block, Blocks: s.Blocks(), BasisSize: s.Size}
}

// signBatch is how many bytes Sign reads at a time (rounded to whole
// blocks): enough to amortise a read, small enough to stay in cache.
const signBatch = 1 << 20

// Sign reads exactly size bytes of the basis from r (fewer is
// io.ErrUnexpectedEOF) and returns their signature. The block size must
// make a valid protocol.Delta for size (BlockSize chooses one).
func Sign(r io.Reader, size int64, block int) (*Signature, error) {
	if _, err := checkWire(size, block); err != nil {
		return nil, err
	}
	return sign(r, size, block)
}

// sign is Sign for any block size countBlocks accepts.
func sign(r io.Reader, size int64, block int) (*Signature, error) {
	n, err := countBlocks(size, block)
	if err != nil {
		return nil, err
	}
	s := &Signature{Block: block, Size: size, Weak: make([]uint32, n), Strong: make([]uint64, n)}
	i := 0
	err = signBlocks(r, size, block, func(p []byte) error {
		s.Weak[i], s.Strong[i] = weakSum(p), strongSum(p)
		i++
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// SignTo is Sign that writes each block's sums to w as they are known
// (a batch of blocks at a time) instead of keeping them, so that a
// signature of a huge basis streams in constant memory.
func SignTo(w io.Writer, r io.Reader, size int64, block int) error {
	if _, err := checkWire(size, block); err != nil {
		return err
	}
	return signTo(w, r, size, block)
}

func signTo(w io.Writer, r io.Reader, size int64, block int) error {
	if _, err := countBlocks(size, block); err != nil {
		return err
	}
	out := make([]byte, 0, sumsPerWrite*protocol.DeltaSumSize)
	flush := func() error {
		if _, err := w.Write(out); err != nil {
			return fmt.Errorf("delta: writing signature: %w", err)
		}
		out = out[:0]
		return nil
	}
	err := signBlocks(r, size, block, func(p []byte) error {
		out = appendSums(out, weakSum(p), strongSum(p))
		if len(out) == cap(out) {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(out) > 0 {
		return flush()
	}
	return nil
}

// signBlocks reads exactly size bytes from r, a batch at a time, and
// calls each with every block in order (the last one possibly short).
// After the last block of a batch it has returned, so the batch's
// buffer is reused.
func signBlocks(r io.Reader, size int64, block int, each func(p []byte) error) error {
	batch := int64(max(signBatch/block, 1)) * int64(block)
	buf := make([]byte, min(batch, size))
	for done := int64(0); done < size; {
		chunk := buf[:min(int64(len(buf)), size-done)]
		if _, err := io.ReadFull(r, chunk); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("delta: reading basis at %d of %d bytes: %w", done, size, err)
		}
		done += int64(len(chunk))
		for len(chunk) > 0 {
			p := chunk[:min(block, len(chunk))]
			if err := each(p); err != nil {
				return err
			}
			chunk = chunk[len(p):]
		}
	}
	return nil
}

// sumsPerWrite is how many blocks' sums WriteTo and SignTo put in one
// write.
const sumsPerWrite = 4096

func appendSums(b []byte, weak uint32, strong uint64) []byte {
	b = binary.BigEndian.AppendUint32(b, weak)
	return binary.BigEndian.AppendUint64(b, strong)
}

// WriteTo writes the signature body: each block's weak sum (4 bytes) and
// strong sum (8 bytes), big-endian.
func (s *Signature) WriteTo(w io.Writer) (int64, error) {
	var total int64
	out := make([]byte, 0, min(s.Blocks(), sumsPerWrite)*protocol.DeltaSumSize)
	for i := 0; i < s.Blocks(); {
		out = out[:0]
		for ; i < s.Blocks() && len(out) < cap(out); i++ {
			out = appendSums(out, s.Weak[i], s.Strong[i])
		}
		n, err := w.Write(out)
		total += int64(n)
		if err != nil {
			return total, fmt.Errorf("delta: writing signature: %w", err)
		}
	}
	return total, nil
}

// ReadSignature reads the signature body d announces from r: exactly
// d.SignatureBytes() bytes, no more. It refuses a d that is not Valid
// before allocating anything, and allocates only what d announces (at
// most protocol.MaxDeltaBlocks sums). A body cut short is
// io.ErrUnexpectedEOF.
func ReadSignature(r io.Reader, d protocol.Delta) (*Signature, error) {
	if !d.Valid() {
		return nil, errGeometry
	}
	s := &Signature{Block: d.Block, Size: d.BasisSize, Weak: make([]uint32, d.Blocks), Strong: make([]uint64, d.Blocks)}
	buf := make([]byte, min(d.Blocks, sumsPerWrite)*protocol.DeltaSumSize)
	for i := 0; i < d.Blocks; {
		chunk := buf[:min(d.Blocks-i, sumsPerWrite)*protocol.DeltaSumSize]
		if _, err := io.ReadFull(r, chunk); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("delta: reading signature at block %d of %d: %w", i, d.Blocks, err)
		}
		for ; len(chunk) > 0; i++ {
			s.Weak[i] = binary.BigEndian.Uint32(chunk)
			s.Strong[i] = binary.BigEndian.Uint64(chunk[4:])
			chunk = chunk[protocol.DeltaSumSize:]
		}
	}
	return s, nil
}

// check reports whether s is consistent enough for Diff to index it
// without going out of bounds: a signature built by hand may not be.
func (s *Signature) check() error {
	n, err := countBlocks(s.Size, s.Block)
	if err != nil {
		return err
	}
	if len(s.Weak) != n || len(s.Strong) != n {
		return fmt.Errorf("delta: signature of %d weak and %d strong sums for %d blocks: %w", len(s.Weak), len(s.Strong), n, ErrFormat)
	}
	return nil
}
