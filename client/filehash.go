package client

import (
	"crypto/md5"
	"encoding/hex"
	"hash"
	"io"

	"ftpx/internal/xfer"
)

// fileHash reads a local file front to back for a put and hashes what it
// reads, so the file is read once: the prefix a resumed put compares with
// the server's, then the rest as it is sent, through the same MD5. It
// keeps the MD5 state every snapEvery bytes (the last maxSnaps of them),
// so that going back a little (the server holds less than was sent
// before the connection dropped) re-reads at most snapEvery bytes.
type fileHash struct {
	f     io.ReaderAt
	h     hash.Hash
	pos   int64 // bytes read and hashed
	snaps []snapshot
}

type snapshot struct {
	pos   int64
	state []byte
}

const (
	snapEvery = 1 << 20
	maxSnaps  = 64
)

func newFileHash(f io.ReaderAt) *fileHash { return &fileHash{f: f, h: md5.New()} }

// Read reads at the current position, hashes and moves on. At the end of
// the file it returns 0, io.EOF.
func (fh *fileHash) Read(p []byte) (int, error) {
	n, err := fh.f.ReadAt(p, fh.pos)
	fh.hash(p[:n])
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// sendTo copies the next n bytes of the file to dst, hashing them on
// another goroutine once written (see xfer.Copy), and moves on by what
// was written. o's Hash and AfterHash are fh's own.
func (fh *fileHash) sendTo(dst io.Writer, n int64, o xfer.Options) (xfer.Result, error) {
	start := fh.pos
	last := start
	if len(fh.snaps) > 0 {
		last = fh.snaps[len(fh.snaps)-1].pos
	}
	o.Hash = fh.h
	o.AfterHash = func(hashed int64) {
		fh.pos = start + hashed
		if fh.pos-last >= snapEvery {
			fh.snap()
			last = fh.pos
		}
	}
	return xfer.Copy(dst, io.NewSectionReader(fh.f, start, n), n, o)
}

// snap keeps the MD5 state at the current position.
func (fh *fileHash) snap() {
	fh.snaps = append(fh.snaps, snapshot{fh.pos, md5State(fh.h)})
	if len(fh.snaps) > maxSnaps {
		fh.snaps = append(fh.snaps[:0], fh.snaps[1:]...)
	}
}

func (fh *fileHash) hash(b []byte) {
	for len(b) > 0 {
		next := (fh.pos/snapEvery + 1) * snapEvery
		k := min(int64(len(b)), next-fh.pos)
		fh.h.Write(b[:k])
		fh.pos += k
		b = b[k:]
		if fh.pos == next {
			fh.snap()
		}
	}
}

// seek moves to offset, the hash then being that of the first offset
// bytes: forward by reading on, back by restoring the last snapshot at
// or before offset (or the start) and reading on from there.
func (fh *fileHash) seek(offset int64, buf []byte) error {
	if offset < fh.pos {
		i := len(fh.snaps) - 1
		for i >= 0 && fh.snaps[i].pos > offset {
			i--
		}
		if i < 0 {
			fh.h.Reset()
			fh.pos, fh.snaps = 0, fh.snaps[:0]
		} else {
			h, err := restoreMD5(fh.snaps[i].state)
			if err != nil {
				return err
			}
			fh.h, fh.pos, fh.snaps = h, fh.snaps[i].pos, fh.snaps[:i+1]
		}
	}
	for fh.pos < offset {
		n, err := fh.Read(buf[:min(int64(len(buf)), offset-fh.pos)])
		if err == io.EOF || err == nil && n == 0 {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// sum returns the MD5 of the bytes read so far, in lower-case hex.
func (fh *fileHash) sum() string { return hex.EncodeToString(fh.h.Sum(nil)) }
