package server

import (
	"io"
	"sync"
)

// connReader is a session's buffered reader. It holds a buffer only while
// bytes are in it: a session waiting for its next request (most of a
// server's connections, most of the time) blocks on a one-byte read into
// an array of its own and takes a buffer from a pool once that byte has
// come, as net/http's server does. Reads bigger than the buffer bypass
// it once it is empty, so bodies go straight into their destination.
type connReader struct {
	src  io.Reader
	bp   *[]byte // from readBufs, or nil when empty
	buf  []byte  // *bp
	r, w int     // buf[r:w] holds unread bytes
	one  [1]byte
	has  bool // one holds a byte read while idle, before buf's bytes
}

// readBufSize is the buffer a busy session reads through: a pipelined
// stream of small files is read many files at a time.
const readBufSize = 64 << 10

var readBufs = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

func newConnReader(src io.Reader) *connReader { return &connReader{src: src} }

// Buffered returns the number of bytes that can be read without reading
// from the connection.
func (b *connReader) Buffered() int {
	n := b.w - b.r
	if b.has {
		n++
	}
	return n
}

// WaitIdle blocks until the connection has a byte to read, holding no
// buffer meanwhile; it returns at once when bytes are buffered.
func (b *connReader) WaitIdle() error {
	if b.Buffered() > 0 {
		return nil
	}
	for {
		n, err := b.src.Read(b.one[:])
		if n == 1 {
			b.has = true
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Peek1 reports whether a byte can be read, reading from the connection
// when none is buffered (under whatever deadline it has).
func (b *connReader) Peek1() error {
	if b.Buffered() > 0 {
		return nil
	}
	return b.fill()
}

func (b *connReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.has {
		p[0], b.has = b.one[0], false
		if len(p) == 1 || b.r == b.w {
			return 1, nil
		}
		n := copy(p[1:], b.buf[b.r:b.w])
		b.consume(n)
		return n + 1, nil
	}
	if b.r == b.w {
		if len(p) >= readBufSize {
			return b.src.Read(p)
		}
		if err := b.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, b.buf[b.r:b.w])
	b.consume(n)
	return n, nil
}

// fill reads into an empty buffer, taking one from the pool; it returns
// the buffer when nothing came.
func (b *connReader) fill() error {
	if b.bp == nil {
		b.bp = readBufs.Get().(*[]byte)
		b.buf = *b.bp
	}
	n, err := b.src.Read(b.buf)
	b.r, b.w = 0, n
	if n > 0 {
		return nil
	}
	b.release()
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// consume marks n bytes read and gives the buffer back once it is empty.
func (b *connReader) consume(n int) {
	b.r += n
	if b.r == b.w {
		b.release()
	}
}

func (b *connReader) release() {
	if b.bp != nil {
		readBufs.Put(b.bp)
		b.bp, b.buf, b.r, b.w = nil, nil, 0, 0
	}
}

// ReadByte reads one byte through the buffer: a delta's instructions are
// read a byte at a time without reading past their end.
func (b *connReader) ReadByte() (byte, error) {
	var p [1]byte
	if _, err := io.ReadFull(b, p[:]); err != nil {
		return 0, err
	}
	return p[0], nil
}
