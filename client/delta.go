package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"ftpx/internal/delta"
	"ftpx/protocol"
)

// A file sent onto an older version of itself goes as a delta (PROTOCOL.md,
// "Deltas"): only the regions the older version does not have cross the
// wire, found wherever bytes were changed, inserted or removed. A put asks
// the server for the signature of its file first; a get sends the
// signature of the local file with its request. Either way the result is
// verified by the whole file's MD5 and resumes like any transfer; Result
// says Delta, with Sent the bytes the delta took on the wire.

// wantsDelta reports whether a transfer of size bytes may go as a delta,
// given what is known of its destination.
func wantsDelta(b basis, size int64) bool {
	return b != basisNone && size >= protocol.MinDeltaSize
}

// signature asks the server for the signature of its file at the put's
// name. It returns nil (and the put goes whole from then on) when the
// server has no file there, refuses, or has no signatures.
func (j *putJob) signature(ctx context.Context) (*delta.Signature, error) {
	c := j.c
	resp, err := c.roundTrip1(ctx, "put", j.arg, &protocol.Request{Action: protocol.ActionSignature, Filename: j.arg})
	if err != nil {
		return nil, err
	}
	if resp.Status != protocol.StatusOK || resp.Delta == nil {
		j.basis = basisNone
		return nil, nil
	}
	if !resp.Delta.Valid() || resp.Delta.BasisMTime == nil {
		return nil, c.fail(ctx, "put", j.arg, ErrProtocol, fmt.Errorf("a signature of %+v", *resp.Delta))
	}
	sig, err := delta.ReadSignature(c.br, *resp.Delta)
	if err != nil {
		return nil, c.fail(ctx, "put", j.arg, ErrConnection, err)
	}
	j.res.Sent += resp.Delta.SignatureBytes() // it crossed the wire for this file too
	if !deltaWorth(j.res.Size, resp.Delta.BasisSize) {
		j.basis = basisNone
		return nil, nil
	}
	j.basisMTime = *resp.Delta.BasisMTime
	return sig, nil
}

// sendDelta sends the file from fh's position to its end as a delta
// against sig, hashing it on another goroutine as it goes; the progress
// counts the file's bytes, Sent the delta's.
func (j *putJob) sendDelta(ctx context.Context, sig *delta.Signature) error {
	c := j.c
	pos := j.fh.pos
	src := &progressReader{r: io.NewSectionReader(j.f, pos, j.res.Size-pos), p: j.p}
	cw := &deltaWriter{w: c.rw, ctx: ctx, lim: c.lim}
	bw := bufio.NewWriterSize(cw, 256<<10)
	_, err := delta.Diff(bw, src, sig, delta.Options{Hash: j.fh.h})
	if err == nil {
		err = bw.Flush()
	}
	j.res.Sent += cw.n
	j.res.Delta = true
	switch {
	case err == nil:
		j.fh.pos = j.res.Size
		return nil
	case errors.Is(err, cw.err) && cw.err != nil:
		return c.fail(ctx, "put", j.arg, ErrConnection, err)
	case ctx.Err() != nil:
		return c.fail(ctx, "put", j.arg, nil, err)
	}
	// The file could not be read: the stream cannot be finished.
	return c.fail(ctx, "put", j.arg, nil, localError("read", j.local, err))
}

// progressReader tells p of every byte read.
type progressReader struct {
	r io.Reader
	p Progress
}

func (r *progressReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if n > 0 && r.p != nil {
		r.p.Add(n)
	}
	return n, err
}

// deltaWriter writes a delta to the connection at the client's rate and
// counts its bytes; err is the connection's failure, if any.
type deltaWriter struct {
	w   io.Writer
	ctx context.Context
	lim *limiter
	n   int64
	err error
}

func (d *deltaWriter) Write(p []byte) (int, error) {
	if err := d.lim.wait(d.ctx, len(p)); err != nil {
		return 0, err
	}
	n, err := d.w.Write(p)
	d.n += int64(n)
	if err != nil {
		d.err = err
	}
	return n, err
}

// localBasis opens the local file a get replaces, when it may serve as the
// basis of a delta (a regular file of MinDeltaSize bytes or more, read
// through its own descriptor), and computes its signature. It returns
// nil, nil when there is none.
func (j *getJob) localBasis() (*os.File, *delta.Signature, error) {
	f, err := os.Open(j.local)
	if err != nil {
		return nil, nil, nil
	}
	fi, err := f.Stat()
	block := int(0)
	if err == nil && fi.Mode().IsRegular() && fi.Size() >= protocol.MinDeltaSize {
		block = delta.BlockSize(fi.Size())
	}
	if block == 0 {
		f.Close()
		return nil, nil, nil
	}
	sig, err := delta.Sign(bufio.NewReaderSize(f, 1<<20), fi.Size(), block)
	if err != nil {
		f.Close()
		return nil, nil, localError("get", j.local, err)
	}
	return f, sig, nil
}

// receiveDelta rebuilds the rest of the file (from pos to size) from the
// delta on the connection and the local basis into the partial file,
// hashing it as it is written, and saves resume points as it goes, as
// receive does. A local write failure is kept in werr while the delta is
// still read to its end, so the connection stays in step.
func (j *getJob) receiveDelta(ctx context.Context, size int64) error {
	c := j.c
	if _, err := j.part.Seek(j.pos, io.SeekStart); err != nil && j.werr == nil {
		j.werr = err
	}
	sw := &stickyWriter{w: j.part, failed: j.werr}
	start := j.pos
	var written int64
	out := &hashingWriter{w: sw, h: j.h, p: j.p, after: func(n int) {
		// What was written is in the partial file and in the hash.
		written += int64(n)
		if pos := start + written; j.due(pos) && sw.err() == nil {
			j.pos = pos
			j.checkpoint()
		}
	}}
	r := &countingByteReader{r: c.br}
	n, err := delta.Apply(out, r, j.basisFile, j.sig.Size, j.sig.Block, size-start)
	j.pos = start + n
	j.werr = sw.err()
	j.res.Sent += r.n
	j.res.Delta = true
	switch {
	case err == nil:
		return nil
	case errors.Is(err, delta.ErrFormat):
		return c.fail(ctx, "get", j.arg, ErrProtocol, err)
	case errors.Is(err, delta.ErrBasis):
		return c.fail(ctx, "get", j.arg, nil, localError("get", j.local, err))
	case ctx.Err() != nil:
		return c.fail(ctx, "get", j.arg, nil, err)
	}
	return c.fail(ctx, "get", j.arg, ErrConnection, err)
}

// hashingWriter writes to w, then hashes what was written and tells p,
// then after (when set).
type hashingWriter struct {
	w     io.Writer
	h     io.Writer
	p     Progress
	after func(n int)
}

func (h *hashingWriter) Write(b []byte) (int, error) {
	n, err := h.w.Write(b)
	h.h.Write(b[:n])
	if h.p != nil {
		h.p.Add(n)
	}
	if h.after != nil {
		h.after(n)
	}
	return n, err
}

// countingByteReader counts the bytes read through a bufio.Reader.
type countingByteReader struct {
	r *bufio.Reader
	n int64
}

func (c *countingByteReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingByteReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}
