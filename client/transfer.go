package client

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"ftpx/protocol"
)

// Result describes one finished transfer, as "ftpx --json" prints it.
type Result struct {
	Action  string  `json:"action"` // "get" or "put"
	Local   string  `json:"local"`
	Remote  string  `json:"remote"`
	Size    int64   `json:"size"`   // the whole file
	Offset  int64   `json:"offset"` // where this run started (0: resume is not implemented yet)
	Sent    int64   `json:"sent"`   // bytes moved by this run
	MD5     string  `json:"md5"`    // lower-case hex of the whole file
	Seconds float64 `json:"seconds"`
}

// Progress follows the body of one transfer. Start is called once the
// size is known, before the first byte; Add after every chunk; Finish once
// at the end, with nil on success. A nil Progress is allowed everywhere.
type Progress interface {
	Start(size int64)
	Add(n int)
	Finish(err error)
}

// bufSize is the chunk size of body copies.
const bufSize = 256 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// Put uploads the local regular file localPath to remote, reading it once
// and hashing it as it streams. The server stores it only once the MD5
// matches; a mismatch is a *StatusError with 265 (ExitCode 6), a refusal
// such as 264 (quota) is returned before any body byte is sent.
func (c *Client) Put(ctx context.Context, localPath, remote string, p Progress) (res Result, err error) {
	res = Result{Action: protocol.ActionPut, Local: localPath, Remote: remote}
	f, err := os.Open(localPath)
	if err != nil {
		return res, localError("put", localPath, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return res, localError("put", localPath, err)
	}
	if fi.IsDir() {
		return res, &opError{op: "put", path: localPath, err: errors.New("is a directory (use -r)")}
	}
	if !fi.Mode().IsRegular() {
		return res, &opError{op: "put", path: localPath, err: errors.New("not a regular file")}
	}
	size := fi.Size()
	res.Size = size

	start := time.Now()
	stop := c.watch(ctx)
	defer stop()
	id, err := c.send(ctx, "put", remote, &protocol.Request{Action: protocol.ActionPut, Filename: remote, SizeField: protocol.Int64(size)})
	if err != nil {
		return res, err
	}
	resp, err := c.readResponse(ctx, "put", remote, id)
	if err != nil {
		return res, err
	}
	if err := expect(resp, "put", remote, protocol.StatusReadyToSend); err != nil {
		return res, err // the server reads nothing more for this request
	}

	if p != nil {
		p.Start(size)
		defer func() { p.Finish(err) }()
	}
	h := md5.New()
	var hashed io.Writer = h
	if p != nil {
		hashed = io.MultiWriter(h, progressWriter{p})
	}
	buf := bufPool.Get().(*[]byte)
	n, err := io.CopyBuffer(c.rw, io.TeeReader(io.LimitReader(localReader{f}, size), hashed), *buf)
	bufPool.Put(buf)
	switch {
	case err != nil && isLocalReadError(err):
		// The server waits for bytes this client cannot send.
		return res, c.fail(ctx, "put", remote, nil, localError("read", localPath, err))
	case err != nil:
		return res, c.lostDuringPut(ctx, remote, id, err)
	case n < size:
		return res, c.fail(ctx, "put", remote, nil, fmt.Errorf("%s shrank from %d to %d bytes while it was sent", localPath, size, n))
	}
	res.MD5 = hex.EncodeToString(h.Sum(nil))
	res.Sent = n

	if err := protocol.WriteFrame(c.rw, protocol.Request{MD5: res.MD5}); err != nil {
		return res, c.fail(ctx, "put", remote, ErrConnection, err)
	}
	resp, err = c.readResponse(ctx, "put", remote, id)
	if err != nil {
		return res, err
	}
	if err := expect(resp, "put", remote, protocol.StatusMD5OK); err != nil {
		return res, err
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// Get downloads remote into localPath. The body goes to a hidden partial
// file beside localPath, hashed as it is written, and is renamed into place
// only when its MD5 equals the server's. On any failure the partial is
// removed and a file already at localPath is left as it was; an MD5
// mismatch is a *StatusError with 265 (ExitCode 6).
func (c *Client) Get(ctx context.Context, remote, localPath string, p Progress) (res Result, err error) {
	res = Result{Action: protocol.ActionGet, Local: localPath, Remote: remote}
	if fi, err := os.Stat(localPath); err == nil && fi.IsDir() {
		return res, &opError{op: "get", path: localPath, err: errors.New("is a directory")}
	}
	part, err := createPartial(localPath)
	if err != nil {
		return res, localError("get", localPath, err)
	}
	defer func() {
		if part != nil {
			part.Close()
			os.Remove(part.Name())
		}
	}()

	start := time.Now()
	stop := c.watch(ctx)
	defer stop()
	id, err := c.send(ctx, "get", remote, &protocol.Request{Action: protocol.ActionGet, Filename: remote})
	if err != nil {
		return res, err
	}
	resp, err := c.readResponse(ctx, "get", remote, id)
	if err != nil {
		return res, err
	}
	if err := expect(resp, "get", remote, protocol.StatusReadyToSend); err != nil {
		return res, err
	}
	if resp.Size == nil || *resp.Size < 0 || resp.Offset != 0 {
		return res, c.fail(ctx, "get", remote, ErrProtocol, errors.New("257 without a valid size, or with an offset not asked for"))
	}
	size, want := *resp.Size, resp.MD5
	res.Size = size

	if p != nil {
		p.Start(size)
		defer func() { p.Finish(err) }()
	}
	h := md5.New()
	dst := &stickyWriter{w: part}
	var w io.Writer = io.MultiWriter(dst, h)
	if p != nil {
		w = io.MultiWriter(dst, h, progressWriter{p})
	}
	buf := bufPool.Get().(*[]byte)
	n, err := io.CopyBuffer(w, io.LimitReader(c.br, size), *buf)
	bufPool.Put(buf)
	if err == nil && n < size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return res, c.fail(ctx, "get", remote, ErrConnection, err)
	}
	res.Sent = n

	if want == "" {
		trailer, err := c.readResponse(ctx, "get", remote, id)
		if err != nil {
			return res, err
		}
		if err := expect(trailer, "get", remote, protocol.StatusOK); err != nil {
			return res, err
		}
		if trailer.MD5 == "" {
			return res, c.fail(ctx, "get", remote, ErrProtocol, errors.New("md5 trailer without \"md5\""))
		}
		want = trailer.MD5
	}
	// The connection is in step again; what follows is local.
	if dst.err != nil {
		return res, localError("get", localPath, dst.err)
	}
	res.MD5 = hex.EncodeToString(h.Sum(nil))
	if !strings.EqualFold(want, res.MD5) {
		return res, &StatusError{Op: "get", Path: remote, Status: protocol.StatusMD5Mismatch,
			Msg: fmt.Sprintf("md5 mismatch (server said %.64s, received %s)", want, res.MD5)}
	}
	if err := part.Sync(); err != nil {
		return res, localError("get", localPath, err)
	}
	if err := part.Close(); err != nil {
		return res, localError("get", localPath, err)
	}
	if err := os.Rename(part.Name(), localPath); err != nil {
		return res, localError("get", localPath, err)
	}
	part = nil
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// lostDuringPut handles a write error in the middle of a put body. A
// server that gives up on an upload (timeout, shutdown, an I/O error)
// usually says why before it closes: that answer, when it comes quickly,
// is the better error. The connection is finished either way.
func (c *Client) lostDuringPut(ctx context.Context, remote, id string, werr error) error {
	if ctx.Err() == nil {
		c.rw.timeout = time.Second
		resp, err := protocol.ReadResponse(c.br, protocol.MaxResponseHeader)
		if err == nil && (resp.ID == "" || resp.ID == id) && resp.Status != protocol.StatusMD5OK {
			se := &StatusError{Op: "put", Path: remote, Status: resp.Status, Msg: resp.Msg}
			c.err = se
			c.conn.Close()
			return se
		}
	}
	return c.fail(ctx, "put", remote, ErrConnection, werr)
}

// createPartial creates the hidden file a get writes into, in the
// directory of localPath: ".NAME.ftpx-part-UUID".
func createPartial(localPath string) (*os.File, error) {
	dir, name := filepath.Split(localPath)
	if len(name) > 100 {
		name = name[:100]
	}
	return os.OpenFile(filepath.Join(dir, "."+name+".ftpx-part-"+uuid.NewString()), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
}

// localError reports a failure of the local file system under the
// operation and the local path, without repeating the path the
// *os.PathError already names.
func localError(op, path string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &opError{op: op, path: path, err: err}
}

// localReader marks the read errors of the local file in a put, to tell
// them from write errors on the connection.
type localReader struct{ r io.Reader }

func (l localReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if err != nil && err != io.EOF {
		err = localReadError{err}
	}
	return n, err
}

type localReadError struct{ error }

func (e localReadError) Unwrap() error { return e.error }

func isLocalReadError(err error) bool {
	var le localReadError
	return errors.As(err, &le)
}

// stickyWriter keeps the first write error and then discards the rest, so
// that a get whose local disk fails still reads the whole body and the
// connection stays usable.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err == nil {
		_, s.err = s.w.Write(p)
	}
	return len(p), nil
}

type progressWriter struct{ p Progress }

func (w progressWriter) Write(b []byte) (int, error) {
	w.p.Add(len(b))
	return len(b), nil
}
