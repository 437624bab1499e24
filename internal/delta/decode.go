package delta

import (
	"errors"
	"fmt"
	"io"

	"ftpx/protocol"
)

// Reader is what a delta stream is read from: its instructions a byte at a
// time, its literals in runs, and never a byte past the END (a
// *bufio.Reader, or a server's connection reader).
type Reader interface {
	io.Reader
	io.ByteReader
}

// Instr is one instruction of a delta stream.
type Instr struct {
	Op    byte // protocol.DeltaEnd, protocol.DeltaCopy or protocol.DeltaData
	First int  // COPY: the first block
	Count int  // COPY: how many blocks, at least 1
	Len   int  // DATA: how many literal bytes follow, 1..protocol.MaxDeltaLiteral
}

// Decoder reads a delta stream one instruction at a time and checks each
// against the limits before returning it: a COPY must lie within the
// basis's blocks, a DATA must announce 1..protocol.MaxDeltaLiteral bytes.
// It reads from r exactly the stream's bytes, never past END, so the
// connection that shares r stays in step; reading a DATA's bytes goes
// through the Decoder's Read, and Next skips what was left unread.
type Decoder struct {
	r      Reader
	blocks int
	left   int  // unread literal bytes of the current DATA
	ended  bool // END was read
}

// NewDecoder returns a Decoder for a stream against a basis of blocks
// blocks (none when blocks is negative).
func NewDecoder(r Reader, blocks int) *Decoder {
	return &Decoder{r: r, blocks: max(blocks, 0)}
}

var errVarint = fmt.Errorf("delta: varint longer than 64 bits: %w", ErrFormat)

// Next returns the next instruction, after skipping any bytes of the
// previous DATA that were not read. Once END has been returned, Next
// returns io.EOF. A stream that stops before END is io.ErrUnexpectedEOF;
// an invalid instruction wraps ErrFormat.
func (d *Decoder) Next() (Instr, error) {
	if d.ended {
		return Instr{}, io.EOF
	}
	if d.left > 0 {
		n, err := io.CopyN(io.Discard, d.r, int64(d.left))
		d.left -= int(n)
		if err != nil {
			return Instr{}, unexpected(err)
		}
	}
	op, err := d.r.ReadByte()
	if err != nil {
		return Instr{}, unexpected(err)
	}
	switch op {
	case protocol.DeltaEnd:
		d.ended = true
		return Instr{Op: op}, nil
	case protocol.DeltaCopy:
		first, err := d.uvarint()
		if err != nil {
			return Instr{}, err
		}
		count, err := d.uvarint()
		if err != nil {
			return Instr{}, err
		}
		// Checked as unsigned so that no conversion can wrap.
		if count == 0 || first >= uint64(d.blocks) || count > uint64(d.blocks)-first {
			return Instr{}, fmt.Errorf("delta: copy of %d blocks from block %d of %d: %w", count, first, d.blocks, ErrFormat)
		}
		return Instr{Op: op, First: int(first), Count: int(count)}, nil
	case protocol.DeltaData:
		n, err := d.uvarint()
		if err != nil {
			return Instr{}, err
		}
		if n == 0 || n > protocol.MaxDeltaLiteral {
			return Instr{}, fmt.Errorf("delta: data of %d bytes: %w", n, ErrFormat)
		}
		d.left = int(n)
		return Instr{Op: op, Len: int(n)}, nil
	}
	return Instr{}, fmt.Errorf("delta: opcode %#x: %w", op, ErrFormat)
}

// Read reads the literal bytes of the current DATA instruction; it
// returns io.EOF when they are all read (or the instruction is not DATA).
func (d *Decoder) Read(p []byte) (int, error) {
	if d.left == 0 {
		return 0, io.EOF
	}
	if len(p) > d.left {
		p = p[:d.left]
	}
	n, err := d.r.Read(p)
	d.left -= n
	if err != nil && (d.left > 0 || n == 0) {
		return n, unexpected(err)
	}
	return n, nil
}

// Drain reads and discards the rest of the stream up to and including
// END: a server that refused a delta still has to get past it.
func (d *Decoder) Drain() error {
	for {
		in, err := d.Next()
		if err != nil {
			return err
		}
		if in.Op == protocol.DeltaEnd {
			return nil
		}
	}
}

// uvarint reads an unsigned varint byte by byte: unlike
// binary.ReadUvarint it tells an overlong one (ErrFormat) from a stream
// cut in its middle (io.ErrUnexpectedEOF).
func (d *Decoder) uvarint() (uint64, error) {
	var x uint64
	for shift := uint(0); shift < 64; shift += 7 {
		c, err := d.r.ReadByte()
		if err != nil {
			return 0, unexpected(err)
		}
		if c < 0x80 {
			if shift == 63 && c > 1 {
				return 0, errVarint
			}
			return x | uint64(c)<<shift, nil
		}
		x |= uint64(c&0x7f) << shift
	}
	return 0, errVarint
}

// unexpected turns the end of the input, which can only come too early
// inside a stream, into io.ErrUnexpectedEOF; other read errors pass as
// they are.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return fmt.Errorf("delta: reading delta: %w", err)
}
