package server

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"time"

	"ftpx/home"
	"ftpx/internal/delta"
	"ftpx/internal/xfer"
	"ftpx/protocol"
)

// bufSize is the chunk size of body copies; bufs pools the buffers so an
// idle connection holds none and a transfer allocates none.
const bufSize = 256 << 10

var bufs = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// handleGet sends a file: 257 with its size, the body, then a frame with
// the MD5 computed while sending.
func (c *session) handleGet(req *protocol.Request) error {
	start := time.Now()
	var sig *delta.Signature
	if req.Delta != nil { // the signature follows the header: read it whatever the answer
		var err error
		if sig, err = c.readSignature(req); err != nil {
			return err
		}
	}
	name, f, fi, err := c.openToRead(req)
	if err != nil {
		return c.fail(req, err)
	}
	defer f.Close()
	size, offset := fi.Size(), req.Offset
	if offset < 0 || offset > size {
		return c.fail(req, fmt.Errorf("get %s: offset %d of %d: %w", name, offset, size, home.ErrBadOffset))
	}
	// A resumed get hashes the prefix the client holds (reading it once, as
	// part of the one pass over the file) and checks it against the
	// client's before sending the rest.
	h := md5.New()
	if offset > 0 {
		if _, err := c.copyBody(h, f, offset, func(time.Time) error { return nil }); err != nil {
			return c.fail(req, fmt.Errorf("get %s: read: %w", name, err))
		}
		if req.MD5 != "" && !strings.EqualFold(req.MD5, hex.EncodeToString(h.Sum(nil))) {
			return c.fail(req, fmt.Errorf("get %s: prefix of %d bytes: %w", name, offset, home.ErrPrefix))
		}
	}
	mtime := fi.ModTime().UTC() // whole: the client keeps it as it is
	ready := protocol.Response{ID: req.ID, Status: protocol.StatusReadyToSend, Msg: protocol.StatusReadyToSend.String(), Size: protocol.Int64(size), Offset: offset, MTime: &mtime}
	if sig != nil && sig.Block <= maxSearchBlock {
		return c.getDelta(req, name, f, fi, ready, h, sig, start)
	}
	if known := c.home.KnownSum(fi); known != "" && offset == 0 {
		// The digest is known: announce it and let the kernel move the
		// bytes (sendfile); the client hashes what it receives.
		ready.MD5 = known
		if size <= smallBody {
			// Read into what goes out with the header: no sendfile, and
			// many small gets share a write.
			c.send(ready)
			if _, err := c.out.ReadIn(f, int(size)); err != nil {
				return c.brokenGet(req, name, 0, start, err)
			}
			c.logTransfer(slog.LevelInfo, "get done", req, name, size, start, known, protocol.StatusOK, nil)
			return nil
		}
		c.send(ready)
		if err := c.out.Flush(); err != nil {
			return err
		}
		n, err := c.sendFile(f, size)
		if err != nil {
			c.logTransfer(slog.LevelWarn, "get failed", req, name, n, start, known, protocol.StatusServerError, err)
			return fmt.Errorf("get %s: %w", name, err)
		}
		c.logTransfer(slog.LevelInfo, "get done", req, name, n, start, known, protocol.StatusOK, nil)
		return nil
	}
	c.send(ready)
	var n int64
	if size-offset <= smallBody {
		b, err := c.out.ReadIn(f, int(size-offset))
		if err != nil {
			return c.brokenGet(req, name, 0, start, err)
		}
		h.Write(b)
		n = int64(len(b))
	} else {
		if err := c.out.Flush(); err != nil {
			return err
		}
		// The file is read ahead while the last chunk goes out and the
		// one before is hashed, each on its own goroutine.
		res, err := xfer.Copy(progressWriter{c.conn, c.conn.SetWriteDeadline, c.srv.transferTimeout()}, f, size-offset, xfer.Options{Hash: h})
		if n = res.Written; err != nil {
			return c.brokenGet(req, name, n, start, err)
		}
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if after, err := f.Stat(); err == nil && after.Size() == size && after.ModTime().Equal(fi.ModTime()) {
		c.home.RememberSum(after, sum)
	}
	c.logTransfer(slog.LevelInfo, "get done", req, name, n, start, sum, protocol.StatusOK, nil)
	return c.send(protocol.Response{ID: req.ID, Status: protocol.StatusOK, Msg: "md5", MD5: sum, Size: protocol.Int64(size)})
}

// getDelta sends the rest of the file f (from ready.Offset, the prefix
// hashed into h already) as a delta against the client's signature: 257
// saying so, the delta, and the MD5 frame unless the 257 could carry it.
func (c *session) getDelta(req *protocol.Request, name string, f home.File, fi fs.FileInfo, ready protocol.Response, h hash.Hash, sig *delta.Signature, start time.Time) error {
	ready.Delta = req.Delta
	hashing := h
	if known := c.home.KnownSum(fi); known != "" {
		ready.MD5, hashing = known, nil
	}
	if err := c.send(ready); err != nil {
		return err
	}
	st, wire, err := c.sendDelta(f, sig, hashing)
	if err != nil {
		c.logDelta("get failed", req, name, st.Copied+st.Literal, wire, start, "", protocol.StatusServerError, err)
		return fmt.Errorf("get %s: delta: %w", name, err) // the delta was promised: the stream is lost
	}
	sum := ready.MD5
	if hashing != nil {
		sum = hex.EncodeToString(h.Sum(nil))
		if after, err := f.Stat(); err == nil && after.Size() == fi.Size() && after.ModTime().Equal(fi.ModTime()) {
			c.home.RememberSum(after, sum)
		}
	}
	c.logDelta("get done", req, name, st.Copied+st.Literal, wire, start, sum, protocol.StatusOK, nil)
	if hashing == nil {
		return nil
	}
	return c.send(protocol.Response{ID: req.ID, Status: protocol.StatusOK, Msg: "md5", MD5: sum, Size: ready.Size})
}

// openToRead opens the file a request names ("filename"), which the
// session must be allowed to read, and describes it.
func (c *session) openToRead(req *protocol.Request) (string, home.File, fs.FileInfo, error) {
	name, err := c.resolveFilename(req)
	if err == nil {
		err = c.home.Allowed(name, home.PermRead)
	}
	if err != nil {
		return name, nil, nil, err
	}
	f, err := c.home.FS.Open(name)
	if err != nil {
		return name, nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return name, nil, nil, err
	}
	return name, f, fi, nil
}

// smallBody is the largest get body read into the session's output
// buffer, to go out with its header (and its neighbours, when gets are
// pipelined) rather than by sendfile or the pipelined copy.
const smallBody = outBufSize / 2

// brokenGet ends a get whose body could not be sent whole after its 257:
// the client has been promised size bytes, the stream cannot be put back
// in step, so the session ends.
func (c *session) brokenGet(req *protocol.Request, name string, n int64, start time.Time, err error) error {
	c.logTransfer(slog.LevelWarn, "get failed", req, name, n, start, "", protocol.StatusServerError, err)
	return fmt.Errorf("get %s: %w", name, err)
}

// sendChunk is how much one sendfile call moves between deadline updates,
// and minRate the slowest peer a chunk waits for (on top of the timeout).
const (
	sendChunk = 1 << 20
	minRate   = 4 << 10 // bytes per second
)

// sendFile copies n bytes of f to the connection with io.CopyN, which hands
// an *os.File to a *net.TCPConn through sendfile, in chunks so that the
// write deadline moves forward as the transfer goes.
func (c *session) sendFile(f io.Reader, n int64) (int64, error) {
	var done int64
	for done < n {
		c.conn.SetWriteDeadline(time.Now().Add(c.srv.transferTimeout() + sendChunk/minRate*time.Second))
		m, err := io.CopyN(c.conn, f, min(sendChunk, n-done))
		done += m
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF // the file shrank
			}
			return done, err
		}
	}
	return done, nil
}

// handlePut receives a file into a partial upload and puts it in place
// only once the MD5 of what arrived equals the client's. Every refusal
// comes before 257, so no body byte is read for a refused put.
func (c *session) handlePut(req *protocol.Request) error {
	if req.Stream {
		return c.handleStreamPut(req)
	}
	if req.NoWait {
		return c.handleNoWaitPut(req)
	}
	start := time.Now()
	name, err := c.resolveFilename(req)
	if err != nil {
		return c.fail(req, err)
	}
	size, ok := req.Size()
	switch {
	case !ok:
		return c.fail(req, fmt.Errorf("put %s: %w: no size", name, errBadSize))
	case size < 0:
		return c.fail(req, fmt.Errorf("put %s: %w: %d", name, errBadSize, size))
	}
	var b *basis
	if req.Delta != nil {
		if b, err = c.openBasis(name, req.Delta); err != nil {
			return c.fail(req, err)
		}
		defer b.Close()
	}
	up, err := c.home.BeginUpload(name, home.Put{Size: size, Transfer: req.Transfer, Offset: req.Offset, MTime: mtimeOf(req)})
	if err != nil {
		return c.refusePut(req, name, "need "+protocol.HumanSize(size-req.Offset), start, err)
	}
	defer up.Abort() // a no-op once committed or suspended
	if err := c.send(protocol.Response{ID: req.ID, Status: protocol.StatusReadyToSend, Msg: protocol.StatusReadyToSend.String(), Offset: up.Offset()}); err != nil {
		up.Suspend()
		return err
	}
	var n, wire int64
	if b != nil {
		n, wire, err = c.receiveDelta(up, b, size-up.Offset())
		var ue *uploadError
		switch {
		case errors.As(err, &ue):
			return c.storageFailed(req, up, name, 0, start, ue.err)
		case errors.Is(err, delta.ErrFormat):
			up.Suspend() // what was built before the garbage is good: a resumable put keeps it
			c.logDelta("put failed", req, name, n, wire, start, "", protocol.StatusBadFormat, err)
			c.reply(req, protocol.StatusBadFormat, "malformed delta: "+err.Error())
			return fmt.Errorf("put %s: %w", name, err)
		}
	} else {
		body := &bodyReader{r: progressReader{c.r, c.conn.SetReadDeadline, c.srv.transferTimeout()}}
		n, err = up.Receive(body)
		if err != nil && body.err == nil {
			return c.storageFailed(req, up, name, size-up.Offset()-body.n, start, err)
		}
	}
	if err != nil {
		// Cut off: a put with a transfer id keeps what arrived, to resume.
		if serr := up.Suspend(); serr != nil {
			c.log.Error("put: suspend failed", "id", req.ID, "path", name, "err", serr)
		}
		c.logTransfer(slog.LevelWarn, "put interrupted", req, name, n, start, "", statusFor(err), err, "transfer", req.Transfer, "held", up.Offset()+up.Written())
		return fmt.Errorf("put %s: body: %w", name, err)
	}
	if placed, err := c.commitPut(req, up, name, n, start); !placed {
		return err
	}
	if b != nil {
		c.logDelta("put done", req, name, n, wire, start, up.Sum(), protocol.StatusMD5OK, nil)
	} else {
		c.logTransfer(slog.LevelInfo, "put done", req, name, n, start, up.Sum(), protocol.StatusMD5OK, nil)
	}
	return c.send(protocol.Response{ID: req.ID, Status: protocol.StatusMD5OK, Msg: protocol.StatusMD5OK.String(), MD5: up.Sum(), Size: protocol.Int64(size)})
}

// mtimeOf is the modification time a put asks the file to keep; zero
// (the time it is stored) when it gives none.
func mtimeOf(req *protocol.Request) time.Time {
	if req.MTime == nil {
		return time.Time{}
	}
	return *req.MTime
}

// readTrailer reads the {"md5":HEX} frame that follows a put body.
func (c *session) readTrailer() (*protocol.Request, error) {
	return c.readTrailerBy(time.Now().Add(c.srv.transferTimeout()))
}

// readTrailerBy is readTrailer with the frame due by deadline.
func (c *session) readTrailerBy(deadline time.Time) (*protocol.Request, error) {
	c.conn.SetReadDeadline(deadline)
	t, err := protocol.ReadRequest(c.r, c.srv.maxHeader())
	if err != nil {
		return nil, err
	}
	if t.Action != "" || t.MD5 == "" && !t.Abandon {
		return nil, fmt.Errorf("%w: expected the md5 frame after the body", protocol.ErrFormat)
	}
	return t, nil
}

// copyBody copies exactly n bytes from src to dst through a pooled buffer.
// setDeadline is the connection's read or write deadline: it moves forward
// before every read from src (a put) or every piece written to dst (a
// get), so a peer is dropped once it moves nothing for the transfer
// timeout, however long the whole transfer takes and however slow (a
// rate-limited client) it is. It returns the bytes copied.
func (c *session) copyBody(dst io.Writer, src io.Reader, n int64, setDeadline func(time.Time) error) (int64, error) {
	bp := bufs.Get().(*[]byte)
	defer bufs.Put(bp)
	buf := *bp
	timeout := c.srv.transferTimeout()
	src = progressReader{src, setDeadline, timeout}
	dst = progressWriter{dst, setDeadline, timeout}
	var done int64
	for done < n {
		chunk := buf[:min(int64(len(buf)), n-done)]
		r, err := io.ReadFull(src, chunk)
		if r > 0 {
			w, werr := dst.Write(chunk[:r])
			done += int64(w)
			if werr != nil {
				return done, werr
			}
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return done, err
		}
	}
	return done, nil
}

// progressReader moves a deadline forward before each Read.
type progressReader struct {
	r           io.Reader
	setDeadline func(time.Time) error
	timeout     time.Duration
}

func (p progressReader) Read(b []byte) (int, error) {
	p.setDeadline(time.Now().Add(p.timeout))
	return p.r.Read(b)
}

// writePiece bounds one write under one deadline: a peer reading at 1 KiB/s
// still moves a piece within the default 60 s.
const writePiece = 64 << 10

// progressWriter writes in pieces, moving a deadline forward before each.
type progressWriter struct {
	w           io.Writer
	setDeadline func(time.Time) error
	timeout     time.Duration
}

func (p progressWriter) Write(b []byte) (int, error) {
	var done int
	for done < len(b) {
		p.setDeadline(time.Now().Add(p.timeout))
		n, err := p.w.Write(b[done:min(len(b), done+writePiece)])
		done += n
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// logTransfer writes the one line every transfer gets.
func (c *session) logTransfer(level slog.Level, msg string, req *protocol.Request, name string, n int64, start time.Time, sum string, st protocol.Status, err error, extra ...any) {
	attrs := []any{"id", req.ID, "path", name, "bytes", n, "seconds", secondsSince(start), "md5", sum, "status", int(st)}
	if req.Offset != 0 {
		attrs = append(attrs, "offset", req.Offset)
	}
	if req.Stream {
		attrs = append(attrs, "stream", true)
	}
	if err != nil {
		attrs = append(attrs, "err", err.Error())
	}
	attrs = append(attrs, extra...)
	c.log.Log(context.Background(), level, msg, attrs...)
	c.srv.Metrics.transfer(req.Action, n, time.Since(start), st)
}
