package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A streamed put ("stream": true) sends a body whose size is not known
// up front (standard input) as chunks: each a 4-byte big-endian length L,
// 1 to MaxChunk, then L bytes; a length of 0 ends the body.

// MaxChunk bounds one chunk of a streamed body, so that a reader never
// waits on more than that before it can act (answer, stop).
const MaxChunk = 1 << 20

// ErrChunkLimit is the end of a ChunkReader's bound (Limit): the body is
// longer than its reader was willing to read.
var ErrChunkLimit = errors.New("chunked body longer than its limit")

// ChunkReader reads the body of a streamed put: Read returns the chunks'
// bytes, then io.EOF at the end chunk. A length over MaxChunk is ErrFormat
// (the stream is lost: nothing says where the next frame starts); a
// stream that ends before the end chunk is io.ErrUnexpectedEOF. Errors
// stick: every later Read returns the same one.
type ChunkReader struct {
	r     io.Reader
	left  int64 // bytes of the current chunk still to read
	limit int64 // body bytes Read may still return; negative: no bound
	err   error
}

// NewChunkReader returns a ChunkReader of the body that r holds next,
// with no bound on its length.
func NewChunkReader(r io.Reader) *ChunkReader { return &ChunkReader{r: r, limit: -1} }

// Limit bounds what Read returns from now on to n more body bytes: past
// them it fails with ErrChunkLimit. Negative: no bound.
func (c *ChunkReader) Limit(n int64) { c.limit = n }

func (c *ChunkReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.left == 0 {
		if c.err = c.next(); c.err != nil {
			return 0, c.err
		}
	}
	if c.limit == 0 {
		c.err = fmt.Errorf("%w (%d bytes still in its chunk)", ErrChunkLimit, c.left)
		return 0, c.err
	}
	want := min(int64(len(p)), c.left)
	if c.limit > 0 {
		want = min(want, c.limit)
	}
	n, err := c.r.Read(p[:want])
	c.left -= int64(n)
	if c.limit > 0 {
		c.limit -= int64(n)
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF // inside a chunk
	}
	if err != nil {
		c.err = err
	}
	return n, err
}

// next reads the length of the next chunk: io.EOF at the end chunk.
func (c *ChunkReader) next() error {
	var prefix [4]byte
	if _, err := io.ReadFull(c.r, prefix[:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // no end chunk
		}
		return err
	}
	n := binary.BigEndian.Uint32(prefix[:])
	switch {
	case n == 0:
		return io.EOF
	case n > MaxChunk:
		return fmt.Errorf("%w: a chunk of %d bytes, at most %d", ErrFormat, n, MaxChunk)
	}
	c.left = int64(n)
	return nil
}

// ChunkWriter writes the body of a streamed put: every Write as one or
// more chunks of at most MaxChunk bytes, each with its length in the same
// Write to w; Close writes the end chunk (it does not close w).
type ChunkWriter struct {
	w   io.Writer
	buf []byte // a chunk's length and bytes, sent in one Write
}

// NewChunkWriter returns a ChunkWriter onto w.
func NewChunkWriter(w io.Writer) *ChunkWriter { return &ChunkWriter{w: w} }

func (c *ChunkWriter) Write(p []byte) (int, error) {
	var done int
	for len(p) > 0 {
		n := min(len(p), MaxChunk)
		c.buf = binary.BigEndian.AppendUint32(c.buf[:0], uint32(n))
		c.buf = append(c.buf, p[:n]...)
		if _, err := c.w.Write(c.buf); err != nil {
			return done, err
		}
		done += n
		p = p[n:]
	}
	return done, nil
}

// Close writes the end chunk.
func (c *ChunkWriter) Close() error {
	_, err := c.w.Write([]byte{0, 0, 0, 0})
	return err
}
