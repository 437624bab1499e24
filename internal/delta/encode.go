package delta

import (
	"encoding/binary"
	"fmt"
	"io"

	"ftpx/protocol"
)

// encodeBuffer is the Encoder's buffer for instruction headers and short
// literals; longer literals go to the writer straight from the caller's
// slice, uncopied.
const encodeBuffer = 8 << 10

// Encoder writes a delta stream. It merges a COPY that continues the
// previous one into a single instruction, cuts literals into DATA
// instructions of at most protocol.MaxDeltaLiteral bytes, and batches
// small instructions into few writes. After the first write error every
// call returns that error.
type Encoder struct {
	w           io.Writer
	buf         []byte
	first, runs int // the pending COPY, when runs > 0
	ops         int
	err         error
}

// NewEncoder returns an Encoder writing to w. Nothing reaches w before
// End unless the Encoder's buffer fills or a long literal is written.
func NewEncoder(w io.Writer) *Encoder {
	return &Encoder{w: w, buf: make([]byte, 0, encodeBuffer)}
}

// Copy adds blocks first..first+count-1 of the basis. It is written
// lazily, so that the next Copy can extend it.
func (e *Encoder) Copy(first, count int) error {
	if e.err != nil {
		return e.err
	}
	if first < 0 || count < 1 {
		return fmt.Errorf("delta: copy of %d blocks from block %d: %w", count, first, ErrFormat)
	}
	if e.runs > 0 && e.first+e.runs == first {
		e.runs += count
		return nil
	}
	e.flushCopy()
	e.first, e.runs = first, count
	return e.err
}

// Data adds p as literal bytes (none when p is empty).
func (e *Encoder) Data(p []byte) error {
	e.flushCopy()
	for len(p) > 0 && e.err == nil {
		chunk := p[:min(len(p), protocol.MaxDeltaLiteral)]
		p = p[len(chunk):]
		e.reserve(1 + binary.MaxVarintLen64)
		e.buf = append(e.buf, protocol.DeltaData)
		e.buf = binary.AppendUvarint(e.buf, uint64(len(chunk)))
		e.ops++
		if len(chunk) <= cap(e.buf)-len(e.buf) {
			e.buf = append(e.buf, chunk...)
			continue
		}
		e.flush()
		e.write(chunk)
	}
	return e.err
}

// End writes the END instruction and everything still buffered.
func (e *Encoder) End() error {
	e.flushCopy()
	e.reserve(1)
	e.buf = append(e.buf, protocol.DeltaEnd)
	e.flush()
	return e.err
}

// Ops is the number of COPY and DATA instructions written so far (or
// pending), not counting END.
func (e *Encoder) Ops() int {
	if e.runs > 0 {
		return e.ops + 1
	}
	return e.ops
}

func (e *Encoder) flushCopy() {
	if e.runs == 0 {
		return
	}
	e.reserve(1 + 2*binary.MaxVarintLen64)
	e.buf = append(e.buf, protocol.DeltaCopy)
	e.buf = binary.AppendUvarint(e.buf, uint64(e.first))
	e.buf = binary.AppendUvarint(e.buf, uint64(e.runs))
	e.ops++
	e.runs = 0
}

// reserve makes room for n more bytes in the buffer.
func (e *Encoder) reserve(n int) {
	if cap(e.buf)-len(e.buf) < n {
		e.flush()
	}
}

func (e *Encoder) flush() {
	e.write(e.buf)
	e.buf = e.buf[:0]
}

func (e *Encoder) write(p []byte) {
	if e.err != nil || len(p) == 0 {
		return
	}
	if _, err := e.w.Write(p); err != nil {
		e.err = fmt.Errorf("delta: writing delta: %w", err)
	}
}
