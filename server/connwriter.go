package server

import (
	"io"
	"sync"
	"time"
)

// connWriter gathers what a session sends - answers, small bodies - and
// writes it to the connection in one go when the session is about to
// wait for the client (the session's reader flushes it before every read
// from the network), before a big body goes out directly, or when it
// holds outBufSize bytes. A pipelined stream of small requests then costs
// a few writes a window instead of one or three a request. Like
// connReader it holds a pooled buffer only while bytes are waiting. It is
// safe for the session and the goroutine committing its pipelined puts
// (pipeline.go), which take turns: only one of them sends at a time.
type connWriter struct {
	mu      sync.Mutex
	dst     io.Writer
	timeout func() time.Duration // the transfer timeout, for each flush
	setDL   func(time.Time) error
	bp      *[]byte
	n       int
	err     error // the first write failure: every later call returns it
}

const outBufSize = 64 << 10

var writeBufs = sync.Pool{New: func() any { b := make([]byte, outBufSize); return &b }}

// Write buffers p, or, when it does not fit, flushes and writes it
// directly.
func (w *connWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	if w.n+len(p) > outBufSize {
		if err := w.flush(); err != nil {
			return 0, err
		}
		if len(p) > outBufSize/2 {
			return w.direct(p)
		}
	}
	if w.bp == nil {
		w.bp = writeBufs.Get().(*[]byte)
	}
	w.n += copy((*w.bp)[w.n:], p)
	return len(p), nil
}

// ReadIn reads exactly n bytes from r into the buffer (n at most
// outBufSize/2) and returns them, so a small file goes from the disk to
// the buffer with one read and out with the next flush. The slice is
// valid until the next call on w.
func (w *connWriter) ReadIn(r io.Reader, n int) ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return nil, w.err
	}
	if w.n+n > outBufSize {
		if err := w.flush(); err != nil {
			return nil, err
		}
	}
	if w.bp == nil {
		w.bp = writeBufs.Get().(*[]byte)
	}
	b := (*w.bp)[w.n : w.n+n]
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err // nothing was added to what goes out
	}
	w.n += n
	return b, nil
}

// Flush writes what is buffered, within the transfer timeout, and gives
// the buffer back.
func (w *connWriter) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flush()
}

func (w *connWriter) flush() error {
	if w.err != nil || w.n == 0 {
		return w.err
	}
	_, err := w.direct((*w.bp)[:w.n])
	w.n = 0
	writeBufs.Put(w.bp)
	w.bp = nil
	return err
}

func (w *connWriter) direct(p []byte) (int, error) {
	n, err := progressWriter{w.dst, w.setDL, w.timeout()}.Write(p) // the deadline moves with each piece
	if err != nil {
		w.err = err
	}
	return n, err
}

// fail makes every later call fail with err, what is buffered dropped.
func (w *connWriter) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
	if w.bp != nil {
		writeBufs.Put(w.bp)
		w.bp, w.n = nil, 0
	}
}

// flushingReader flushes a session's output before every read from the
// network, so an answer never waits behind a read that waits for it. A
// write that failed before - the session's, or one of the goroutine
// committing its pipelined puts - fails the read too: a client that no
// longer reads its answers is dropped, however much it goes on sending.
type flushingReader struct {
	r   io.Reader
	out *connWriter
}

func (f flushingReader) Read(p []byte) (int, error) {
	if err := f.out.Flush(); err != nil { // nothing to do but return w.err when empty
		return 0, err
	}
	return f.r.Read(p)
}
