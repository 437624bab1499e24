// Package xfer moves the body of one transfer. Copy takes bytes from a
// reader to a writer through a few large, block-aligned buffers while a
// second goroutine writes and a third hashes, so that the MD5 - the
// slowest part of a verified transfer - runs on its own core and never
// waits for the network or the disk. The hash always covers exactly a
// prefix of what was written: a copy cut off anywhere leaves a digest
// state that matches the bytes in place, so the transfer can resume.
//
// WritebackWriter starts the disk writing each stretch of a big file as
// soon as it is complete, so the final sync has little left to do.
//
// xfer knows nothing of ftpx's protocol or homes; home/ (the server's
// uploads) and client/ (gets and puts) both use it.
package xfer

import (
	"errors"
	"hash"
	"io"
	"sync"
	"unsafe"
)

// ChunkSize is the size of each buffer, and Buffers how many a copy has
// in flight: one being filled, one being written, one being hashed and
// one spare to absorb jitter.
const (
	ChunkSize = 1 << 20
	Buffers   = 4
	// Align is the alignment of the buffers: a page.
	Align = 4096
)

// Options are the hooks of one Copy. Every field may be left zero.
type Options struct {
	// Hash is fed every byte written to dst, in order, on its own
	// goroutine.
	Hash hash.Hash
	// Chunk, when positive and smaller than ChunkSize, caps every read
	// (a rate-limited transfer moves small chunks).
	Chunk int
	// AfterRead runs on the calling goroutine after each read of n > 0
	// bytes (a short last read too), as they go to be written; an error
	// from it ends the copy (a rate limiter's wait, a cancelled context).
	AfterRead func(n int) error
	// AfterWrite runs on the writing goroutine after each write of n > 0
	// bytes.
	AfterWrite func(n int)
	// AfterHash runs on the hashing goroutine after each chunk is hashed,
	// with the count of bytes hashed so far: Hash then holds the digest
	// state of exactly that prefix (a checkpoint may save it).
	AfterHash func(hashed int64)
}

// Result counts what a Copy moved. Hashed equals Written unless no Hash
// was given.
type Result struct {
	Read, Written, Hashed int64
}

// Error is a failure of one side of a copy. Unwrap gives the reader's or
// writer's own error (io.ErrUnexpectedEOF for a reader that ended early).
type Error struct {
	Write bool // the writer failed; else the reader (or AfterRead)
	Err   error
}

func (e *Error) Error() string {
	if e.Write {
		return "write: " + e.Err.Error()
	}
	return "read: " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// IsWrite reports whether err is a Copy's writer failing.
func IsWrite(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Write
}

// Copy copies exactly n bytes from src to dst, or fewer when either
// fails: bytes read before a read error are still written and hashed, and
// a write error stops the reading. Hashing trails writing by a chunk or
// two, on another goroutine; when Copy returns every written byte is
// hashed and every goroutine it started has ended.
func Copy(dst io.Writer, src io.Reader, n int64, o Options) (Result, error) {
	chunk := int64(ChunkSize)
	if o.Chunk > 0 && int64(o.Chunk) < chunk {
		chunk = int64(o.Chunk)
	}
	if n <= chunk {
		return copySmall(dst, src, n, o)
	}
	r := getRing()
	defer putRing(r)
	p := &pipeline{dst: dst, o: o, free: r.free, write: make(chan piece, Buffers), hash: make(chan piece, Buffers)}
	p.wg.Add(2)
	go p.writer()
	go p.hasher()

	var res Result
	var rerr error
	for res.Read < n && rerr == nil && !p.failed() {
		buf := <-p.free
		m := min(chunk, n-res.Read)
		k, err := io.ReadFull(src, buf[:m])
		if k > 0 {
			res.Read += int64(k)
			p.write <- piece{buf, k}
			if o.AfterRead != nil {
				if aerr := o.AfterRead(k); err == nil {
					err = aerr
				}
			}
		} else {
			p.free <- buf
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			rerr = &Error{Err: err}
		}
	}
	close(p.write)
	p.wg.Wait()
	res.Written, res.Hashed = p.written, p.hashed
	if p.werr != nil {
		return res, p.werr // the writer failed first: reading stopped because of it
	}
	return res, rerr
}

// copySmall is Copy for a body of one chunk: no goroutine, no pipeline.
func copySmall(dst io.Writer, src io.Reader, n int64, o Options) (Result, error) {
	bp := small.Get().(*[]byte)
	defer small.Put(bp)
	var res Result
	for res.Read < n {
		m := min(int64(len(*bp)), n-res.Read)
		k, err := io.ReadFull(src, (*bp)[:m])
		res.Read += int64(k)
		if k > 0 {
			if o.AfterRead != nil {
				if aerr := o.AfterRead(k); err == nil {
					err = aerr
				}
			}
			w, werr := dst.Write((*bp)[:k])
			res.Written += int64(w)
			if w > 0 && o.AfterWrite != nil {
				o.AfterWrite(w)
			}
			if o.Hash != nil {
				o.Hash.Write((*bp)[:w])
				res.Hashed += int64(w)
				if o.AfterHash != nil {
					o.AfterHash(res.Hashed)
				}
			}
			if werr == nil && w < k {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return res, &Error{Write: true, Err: werr}
			}
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return res, &Error{Err: err}
		}
	}
	return res, nil
}

// smallSize is the buffer of copySmall: bodies of up to a chunk are read
// in pieces this big.
const smallSize = 256 << 10

var small = sync.Pool{New: func() any { b := make([]byte, smallSize); return &b }}

// piece is a buffer and how much of it holds data.
type piece struct {
	buf []byte
	n   int
}

// pipeline is the writing and hashing half of one Copy.
type pipeline struct {
	dst   io.Writer
	o     Options
	free  chan []byte // buffers ready to be filled
	write chan piece  // filled, to write; closed by Copy
	hash  chan piece  // written, to hash; closed by the writer
	wg    sync.WaitGroup

	mu   sync.Mutex
	werr error // under mu until wg.Wait

	written int64 // by the writer, read after wg.Wait
	hashed  int64 // by the hasher, read after wg.Wait
}

func (p *pipeline) failed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.werr != nil
}

// writer writes each filled piece and passes what it wrote on to be
// hashed; after a failure it only gives the buffers back.
func (p *pipeline) writer() {
	defer p.wg.Done()
	defer close(p.hash)
	for c := range p.write {
		if p.failed() {
			p.free <- c.buf
			continue
		}
		w, err := p.dst.Write(c.buf[:c.n])
		if err == nil && w < c.n {
			err = io.ErrShortWrite
		}
		if w > 0 {
			p.written += int64(w)
			if p.o.AfterWrite != nil {
				p.o.AfterWrite(w)
			}
			p.hash <- piece{c.buf, w}
		} else {
			p.free <- c.buf
		}
		if err != nil {
			p.mu.Lock()
			p.werr = &Error{Write: true, Err: err}
			p.mu.Unlock()
		}
	}
}

// hasher hashes each written piece, in order, and frees its buffer.
func (p *pipeline) hasher() {
	defer p.wg.Done()
	for c := range p.hash {
		if p.o.Hash != nil {
			p.o.Hash.Write(c.buf[:c.n])
			p.hashed += int64(c.n)
			if p.o.AfterHash != nil {
				p.o.AfterHash(p.hashed)
			}
		}
		p.free <- c.buf
	}
}

// ring is the buffers of one Copy, kept in a pool between copies so that
// a transfer allocates nothing, and an idle process holds none for long
// (the pool empties at garbage collections).
type ring struct {
	free chan []byte
}

var rings = sync.Pool{New: func() any {
	r := &ring{free: make(chan []byte, Buffers)}
	for range Buffers {
		r.free <- AlignedBuffer(ChunkSize)
	}
	return r
}}

func getRing() *ring  { return rings.Get().(*ring) }
func putRing(r *ring) { rings.Put(r) }

// AlignedBuffer returns a buffer of size bytes whose first byte is at an
// address that is a multiple of Align.
func AlignedBuffer(size int) []byte {
	b := make([]byte, size+Align)
	off := 0
	if r := alignOf(b); r != 0 {
		off = Align - r
	}
	return b[off : off+size : off+size]
}

// alignOf returns the address of b's first byte modulo Align.
func alignOf(b []byte) int {
	if cap(b) == 0 {
		return 0
	}
	return int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) % Align)
}
