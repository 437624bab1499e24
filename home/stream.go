package home

import (
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"ftpx/internal/xfer"

	"github.com/google/uuid"
)

// Stream is an upload whose size is not known up front, as an FTP STOR or
// APPE: it reserves quota as the bytes arrive (refusing with ErrQuota the
// moment the quota would be passed), and it ends by taking whatever
// arrived as the whole file. Underneath it is an Upload with a transfer
// id: the same hidden partial, the same saved MD5 state and the same
// commit by rename, so an interrupted Stream resumes (BeginStream with
// the offset Breakpoint reports) exactly like a native resumable put.
type Stream struct {
	u        *Upload
	replaces int64 // bytes of the file it replaces when it began: the first ones need no reservation
}

// streamSpace names the transfer ids of stream uploads: the id of one is
// the name-based UUID of its user and home path, so that an upload cut off
// and a later one of the same path by the same user, through FTP or SFTP,
// meet the same partial. (Its value is the one FTP uploads have had.)
var streamSpace = uuid.MustParse("6247d798-25d7-4e27-8522-71041228f880")

// StreamID returns the transfer id of user's stream uploads to name.
func StreamID(user, name string) string {
	return uuid.NewSHA1(streamSpace, []byte(user+"\x00"+name)).String()
}

// BeginStream starts or resumes a stream upload to name under the
// transfer id (a uuid). offset 0 starts over, discarding a partial held
// under the id; any other offset must equal what Breakpoint reports for
// it and name (else ErrBadOffset). The checks are BeginUpload's: write
// permission, modify to replace a file, the parent a directory.
func (h *Home) BeginStream(name, transfer string, offset int64) (*Stream, error) {
	return h.BeginStreamAt(name, transfer, offset, time.Time{})
}

// BeginStreamAt is BeginStream for a file placed with the modification
// time mtime (zero: the time it is placed), as a native put that gives
// one.
func (h *Home) BeginStreamAt(name, transfer string, offset int64, mtime time.Time) (*Stream, error) {
	if transfer == "" {
		return nil, fmt.Errorf("put %s: a stream needs a transfer id: %w", name, ErrBadTransfer)
	}
	// Declared as nothing more to send: a saved stream's state has its
	// size equal to its offset, and the stream grows the size as it goes.
	u, err := h.BeginUpload(name, Put{Size: offset, Transfer: transfer, Offset: offset, MTime: mtime, Stream: true})
	if err != nil {
		return nil, err
	}
	// Its first resume point is saved at the first checkpoint (a second
	// or 64 MiB in), not now: a small file never needs one.
	u.savedAt = time.Now()
	s := &Stream{u: u}
	if n, err := u.mt.lsize(u.in); err == nil {
		s.replaces = n
	}
	return s, nil
}

// BeginAppend starts a stream to name that begins with the content of the
// file now at name: an FTP APPE onto a complete file. The result replaces
// the file atomically at Commit, as any upload does; until then the file
// is unchanged. It needs write and modify; not read, since nothing is
// sent back.
func (h *Home) BeginAppend(name, transfer string) (*Stream, error) {
	s, err := h.BeginStream(name, transfer, 0)
	if err != nil {
		return nil, err
	}
	f, err := h.FS.Open(name)
	if errors.Is(err, ErrNotExist) {
		return s, nil // nothing to append to: a plain upload
	}
	if err == nil {
		_, err = io.CopyBuffer(s, onlyReader{f}, make([]byte, 256<<10))
		f.Close()
	}
	if err != nil {
		s.Abort()
		return nil, err
	}
	return s, nil
}

// onlyReader hides a file's other methods from io.CopyBuffer.
type onlyReader struct{ io.Reader }

// Write appends p to the partial, reserving on the quota what p adds
// beyond the size of the file being replaced first.
func (s *Stream) Write(p []byte) (int, error) {
	u := s.u
	if u.done {
		return u.Write(p) // the closed error
	}
	if err := s.reserve(u.written + int64(len(p))); err != nil {
		return 0, err
	}
	u.size += int64(len(p))
	n, err := u.Write(p)
	u.size -= int64(len(p) - n) // a short write: the size is what was written
	return n, err
}

// Receive copies r into the stream until r ends (io.EOF: the end of the
// file), through xfer's pipeline: reading, writing and hashing each on
// its own goroutine, resume points saved as it goes. The quota is reserved
// for each read's bytes before they are passed on; a read that would pass
// it is dropped and the copy ends with ErrQuota. It returns the bytes
// written; the error is nil at r's end, else r's own (a reset, a
// timeout), ErrQuota, or a write error wrapped like Write's. Every byte
// received before the error is written and hashed, so Suspend keeps it.
func (s *Stream) Receive(r io.Reader) (int64, error) {
	u := s.u
	if u.done {
		_, err := u.Write(nil) // the closed error
		return 0, err
	}
	start := u.base + u.written
	qr := &quotaReader{r: r, s: s, before: u.written}
	res, err := xfer.Copy(u.sink, qr, math.MaxInt64-start, xfer.Options{Hash: u.md5,
		AfterHash: func(hashed int64) {
			u.size = start + hashed // the saved state's size is what it holds
			u.checkpoint(start+hashed, false)
		}})
	u.written += res.Written
	u.size = u.base + u.written
	switch {
	case xfer.IsWrite(err):
		return res.Written, opErr("put", u.name, errors.Unwrap(err))
	case errors.Is(err, errEnd):
		return res.Written, nil
	}
	return res.Written, errors.Unwrap(err)
}

// errEnd is the end of a stream's reader: io.EOF, renamed so that
// io.ReadFull passes it on instead of calling a short read unexpected.
var errEnd = errors.New("end of stream")

// quotaReader reserves on the stream's quota what it reads, before
// anyone sees it.
type quotaReader struct {
	r      io.Reader
	s      *Stream
	before int64 // bytes the stream had written when the copy began
	read   int64
}

func (q *quotaReader) Read(p []byte) (int, error) {
	n, err := q.r.Read(p)
	if n > 0 {
		if rerr := q.s.reserve(q.before + q.read + int64(n)); rerr != nil {
			return 0, rerr
		}
		q.read += int64(n)
	}
	if err == io.EOF {
		err = errEnd
	}
	return n, err
}

// reserve makes the stream's reservation cover held bytes written after
// its offset (less the size of the file it replaces).
func (s *Stream) reserve(held int64) error {
	u := s.u
	if need := max(held-s.replaces, 0) - u.reserved; need > 0 {
		if err := u.mt.acct.reserve(need); err != nil {
			return fmt.Errorf("put %s: %w", u.name, err)
		}
		u.reserved += need
	}
	return nil
}

// Commit takes what was written as the whole file: it syncs the partial,
// renames it onto the name (replacing a file atomically) and counts it on
// the quota, as Upload.Commit does. On failure nothing changes under the
// name and the partial is gone.
func (s *Stream) Commit() error { return s.u.Commit(s.u.Sum()) }

// CommitMD5 is Commit for a sender that knows the file's MD5: only when
// what was written has the MD5 want does it go in place; else the error
// is ErrMD5 and, as on any failure, nothing changes under the name.
func (s *Stream) CommitMD5(want string) error { return s.u.Commit(want) }

// Sync makes what was written durable where the store allows before the
// commit and saves a resume point there, as Upload.Sync does; it returns
// that point's offset.
func (s *Stream) Sync() (int64, error) { return s.u.Sync() }

// Suspend keeps the partial and its MD5 state for a later BeginStream
// with Offset()+Written() as the offset; its bytes stay on the quota.
func (s *Stream) Suspend() error { return s.u.Suspend() }

// Abort removes the partial and gives its bytes back to the quota.
func (s *Stream) Abort() error { return s.u.Abort() }

// Offset returns where the stream resumed: the bytes held when it began.
func (s *Stream) Offset() int64 { return s.u.Offset() }

// Written returns the bytes this stream has written after Offset.
func (s *Stream) Written() int64 { return s.u.Written() }

// Sum returns the lower-case hex MD5 of the whole file so far.
func (s *Stream) Sum() string { return s.u.Sum() }
