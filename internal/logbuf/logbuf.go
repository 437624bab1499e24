// Package logbuf gathers a server's log lines into fewer writes: a burst
// of lines (a window of 512 pipelined puts logs 512 "put done" lines in a
// millisecond) goes out in one write, soon after its first line, instead
// of one write system call a line. Each Write is kept whole, so lines
// never interleave. A crash loses what was written in the last Delay.
package logbuf

import (
	"io"
	"sync"
	"time"
)

// Delay is how long a line may wait for others to go out with it.
const Delay = 2 * time.Millisecond

// flushAt is how much is held before it goes out without waiting.
const flushAt = 64 << 10

// Writer holds what is written for at most Delay, then writes it to W in
// one call. It is safe for concurrent use.
type Writer struct {
	w       io.Writer
	mu      sync.Mutex
	buf     []byte
	pending bool // a flush is scheduled
	err     error
}

// New returns a Writer in front of w.
func New(w io.Writer) *Writer { return &Writer{w: w} }

// Write keeps p to be written within Delay. It returns an error only when
// an earlier write to W failed.
func (b *Writer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	b.buf = append(b.buf, p...)
	switch {
	case len(b.buf) >= flushAt:
		b.flushLocked()
	case !b.pending:
		b.pending = true
		time.AfterFunc(Delay, func() { b.Flush() })
	}
	return len(p), nil
}

// Flush writes what is held now.
func (b *Writer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = false
	b.flushLocked()
	return b.err
}

func (b *Writer) flushLocked() {
	if len(b.buf) == 0 || b.err != nil {
		return
	}
	_, b.err = b.w.Write(b.buf)
	b.buf = b.buf[:0]
	if cap(b.buf) > 4*flushAt {
		b.buf = nil // after a flood, give the memory back
	}
}
