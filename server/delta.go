package server

import (
	"bufio"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"sync"
	"time"

	"ftpx/home"
	"ftpx/internal/delta"
	"ftpx/protocol"
)

// A file sent onto an older version of itself travels as a delta
// (PROTOCOL.md, "Deltas"). For a put, the client asks for the signature of
// the server's file (handleSignature), then sends a put whose body is a
// delta against it (putDelta): the upload is built from the old file's
// blocks and the literal bytes, by the same Upload (partial, MD5, quota,
// resume) as any put. For a get, the client sends the signature of its own
// file after the request, and the answer's body is a delta against it
// (getDelta). A put's delta reads the basis as it was when the signature
// was made: the put names its size and mtime, and a basis changed since is
// refused (288) before the body.

// handleSignature answers the block sums of a file: 260 with "delta" (the
// basis: its block size, blocks, size and mtime), then the sums, computed
// as they go out. It needs read permission: the sums tell about the
// content.
func (c *session) handleSignature(req *protocol.Request) error {
	start := time.Now()
	name, f, fi, err := c.openToRead(req)
	if err != nil {
		return c.fail(req, err)
	}
	defer f.Close()
	block := delta.BlockSize(fi.Size())
	if block == 0 {
		return c.reply(req, protocol.StatusBadSize, "invalid size (too big for a delta)")
	}
	mtime := fi.ModTime().UTC()
	d := protocol.Delta{Block: block, Blocks: int((fi.Size() + int64(block) - 1) / int64(block)), BasisSize: fi.Size(), BasisMTime: &mtime}
	if err := c.send(protocol.Response{ID: req.ID, Status: protocol.StatusOK, Msg: protocol.StatusOK.String(), Path: name, Delta: &d}); err != nil {
		return err
	}
	if err := c.out.Flush(); err != nil {
		return err
	}
	w := bufio.NewWriterSize(progressWriter{c.conn, c.conn.SetWriteDeadline, c.srv.transferTimeout()}, 64<<10)
	if err := delta.SignTo(w, f, fi.Size(), block); err != nil {
		// The sums were promised and cannot all come: the stream is lost.
		c.log.Warn("signature failed", "id", req.ID, "path", name, "err", err.Error())
		return fmt.Errorf("signature %s: %w", name, err)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	c.log.Info("signature done", "id", req.ID, "path", name, "blocks", d.Blocks, "seconds", secondsSince(start))
	return nil
}

// basis is the old version of a file a delta is built on, open for the
// whole put: replaced meanwhile, it is still read as it was.
type basis struct {
	f    home.File
	at   io.ReaderAt
	d    protocol.Delta
	size int64
}

// openBasis opens the file at name as the basis a put's delta describes:
// the same size and mtime as the signature said (else errBasisChanged), a
// block size and count within the limits (else a format error). It needs
// read permission on name, as the signature did.
func (c *session) openBasis(name string, d *protocol.Delta) (*basis, error) {
	if !d.Valid() || d.BasisMTime == nil {
		return nil, fmt.Errorf("put %s: delta %+v: %w", name, *d, protocol.ErrFormat)
	}
	if err := c.home.Allowed(name, home.PermRead); err != nil {
		return nil, err
	}
	f, err := c.home.FS.Open(name)
	if errors.Is(err, home.ErrNotExist) {
		return nil, fmt.Errorf("put %s: %w", name, errBasisChanged)
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
	case fi.Size() != d.BasisSize || !fi.ModTime().Equal(*d.BasisMTime):
		err = fmt.Errorf("put %s: %w", name, errBasisChanged)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &basis{f: f, at: readerAt(f), d: *d, size: fi.Size()}, nil
}

func (b *basis) Close() error { return b.f.Close() }

// errBasisChanged: the file a delta was built against is no longer the
// one at the name (288): the client sends the file whole.
var errBasisChanged = errors.New("delta basis changed")

// readerAt reads a home.File at offsets: through its own ReadAt (a local
// file), else by seeking (an object store's file, which reads a range per
// seek: a delta's copies mostly go forward, so they cost few requests).
func readerAt(f home.File) io.ReaderAt {
	if ra, ok := f.(io.ReaderAt); ok {
		return ra
	}
	if s, ok := f.(io.ReadSeeker); ok {
		return &seekReaderAt{r: s}
	}
	return &seekReaderAt{r: nil}
}

type seekReaderAt struct {
	mu  sync.Mutex
	r   io.ReadSeeker
	pos int64
}

func (s *seekReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if s.r == nil {
		return 0, errors.ErrUnsupported
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if off != s.pos {
		if _, err := s.r.Seek(off, io.SeekStart); err != nil {
			return 0, err
		}
		s.pos = off
	}
	n, err := io.ReadFull(s.r, p)
	s.pos += int64(n)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

// deltaReader reads a delta from the session's connection, moving the
// read deadline forward before a read that waits for the network.
type deltaReader struct {
	r       *connReader
	setDL   func(time.Time) error
	timeout time.Duration
	n       int64 // bytes read: the delta's size on the wire
}

func (d *deltaReader) Read(p []byte) (int, error) {
	if d.r.Buffered() == 0 {
		d.setDL(time.Now().Add(d.timeout))
	}
	n, err := d.r.Read(p)
	d.n += int64(n)
	return n, err
}

func (d *deltaReader) ReadByte() (byte, error) {
	if d.r.Buffered() == 0 {
		d.setDL(time.Now().Add(d.timeout))
	}
	b, err := d.r.ReadByte()
	if err == nil {
		d.n++
	}
	return b, err
}

// receiveDelta builds the rest of up (want bytes) from the delta body on
// the connection and the basis. The upload hashes and writes on
// goroutines of their own while the delta is read and applied. It returns
// the bytes written, the delta's bytes on the wire, and: nil; the
// upload's own write error (the delta is then read to its end, so the
// stream stays in step); a format error (the stream is lost); or the
// connection's.
func (c *session) receiveDelta(up *home.Upload, b *basis, want int64) (written, wire int64, err error) {
	r := &deltaReader{r: c.r, setDL: c.conn.SetReadDeadline, timeout: c.srv.transferTimeout()}
	dec := delta.NewDecoder(r, b.d.Blocks)
	pr, pw := io.Pipe()
	applied := make(chan error, 1)
	go func() {
		_, err := delta.ApplyFrom(pw, dec, b.at, b.size, b.d.Block, want)
		pw.CloseWithError(err)
		applied <- err
	}()
	written, werr := up.Receive(pr)
	pr.CloseWithError(errUploadStopped) // a failed write stops the applying goroutine
	aerr := <-applied
	switch {
	case werr == nil && aerr == nil:
		return written, r.n, nil
	case aerr != nil && !errors.Is(aerr, errUploadStopped):
		return written, r.n, aerr // the delta's own fault, or the connection's
	}
	// The upload failed to write: read the rest of the delta and drop it.
	if derr := dec.Drain(); derr != nil {
		return written, r.n, derr
	}
	return written, r.n, &uploadError{werr}
}

// errUploadStopped ends the goroutine applying a delta whose upload failed.
var errUploadStopped = errors.New("the upload stopped")

// uploadError is the write error of an upload whose delta body was read
// to its end: the session goes on.
type uploadError struct{ err error }

func (e *uploadError) Error() string { return e.err.Error() }
func (e *uploadError) Unwrap() error { return e.err }

// sendDelta sends the file from r (its size-offset bytes from offset) as
// a delta against sig, hashing it into h (nil: its MD5 is known), through
// a buffer of its own straight to the connection. It returns the bytes
// of the file read and of the delta sent.
func (c *session) sendDelta(r io.Reader, sig *delta.Signature, h hash.Hash) (delta.Stats, int64, error) {
	if err := c.out.Flush(); err != nil {
		return delta.Stats{}, 0, err
	}
	cw := &wireCounter{w: progressWriter{c.conn, c.conn.SetWriteDeadline, c.srv.transferTimeout()}}
	w := bufio.NewWriterSize(cw, 256<<10)
	st, err := delta.Diff(w, r, sig, delta.Options{Hash: h})
	if err == nil {
		err = w.Flush()
	}
	return st, cw.n, err
}

// wireCounter counts what it passes on.
type wireCounter struct {
	w io.Writer
	n int64
}

func (c *wireCounter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// maxSearchBlock bounds the block size of a client's signature that a get
// searches the file for. The search holds two blocks of the file (and
// the signature, and two literals): with 16 MiB blocks a signature of 12
// bytes would make a session hold 32 MiB for as long as its client takes
// to read the answer. A get with bigger blocks is answered whole, as any
// get may be. delta.BlockSize picks 1 MiB or less for a basis of up to
// 256 GiB; the sessions' searches then hold about 10 MiB each at most.
const maxSearchBlock = 1 << 20

// readSignature reads the signature that follows a get asking for a delta
// (at most MaxDeltaBlocks sums). A header that does not describe one ends
// the session: what follows it cannot be told apart from the next request.
func (c *session) readSignature(req *protocol.Request) (*delta.Signature, error) {
	d := *req.Delta
	if !d.Valid() {
		c.reply(req, protocol.StatusBadFormat, "invalid delta: block size, blocks and basis size do not agree, or pass the limits")
		return nil, fmt.Errorf("get: delta %+v: %w", d, protocol.ErrFormat)
	}
	sig, err := delta.ReadSignature(&deltaReader{r: c.r, setDL: c.conn.SetReadDeadline, timeout: c.srv.transferTimeout()}, d)
	if err != nil {
		return nil, fmt.Errorf("get: signature: %w", err)
	}
	return sig, nil
}

// logDelta writes the line of a transfer sent as a delta.
func (c *session) logDelta(msg string, req *protocol.Request, name string, n, wire int64, start time.Time, sum string, st protocol.Status, err error) {
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelWarn
	}
	c.logTransfer(level, msg, req, name, n, start, sum, st, err, "delta", true, "wire_bytes", wire)
}
