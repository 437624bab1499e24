package sftpd

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"ftpx/home"
	"ftpx/protocol"
	"ftpx/server"

	"github.com/pkg/sftp"
)

// maxAhead bounds the bytes of writes held because they arrived before
// the bytes that precede them: OpenSSH keeps 64 writes of 32 KiB in
// flight, and the request server runs them on several goroutines, so
// some come out of order; a client that writes further ahead (a sparse
// file) is refused rather than buffered.
const maxAhead = 16 << 20

// writer takes an upload's writes at offsets and hands them to the stream
// in order, so that the stream hashes the file as it goes (its MD5 is
// stored at the commit, for stat, XMD5 and md5sum).
type writer struct {
	h     *handlers
	name  string
	start time.Time
	begin func(offset int64) (*home.Stream, error) // starts over at 0

	mu      sync.Mutex
	s       *home.Stream
	base    int64            // where this open began: held or appended bytes
	next    int64            // the offset the stream takes next
	ahead   map[int64][]byte // writes past next, by offset
	held    int64            // bytes in ahead
	wrote   bool             // a write came
	cause   error            // the first failure
	err     error            // its SFTP status: every later write gets it
	lost    error            // the connection ended with the file open
	mtime   time.Time        // set by a setstat while open; zero: the time of the commit
	closeMu sync.Once
}

func newWriter(h *handlers, name string, s *home.Stream, base int64, begin func(int64) (*home.Stream, error)) *writer {
	return &writer{h: h, name: name, start: time.Now(), begin: begin, s: s, base: base, next: base, ahead: make(map[int64][]byte)}
}

// WriteAt takes p at off: at once when off is where the stream is, held
// when it is ahead (up to maxAhead), refused when it is behind (bytes
// already taken cannot be changed).
func (w *writer) WriteAt(p []byte, off int64) (_ int, err error) {
	defer w.h.c.catch("Write", &err)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	if !w.wrote && off == 0 && w.base > 0 {
		// A client that writes the whole file again onto a name with
		// bytes held or a file there: start over.
		if err := w.restart(); err != nil {
			return 0, w.failLocked(err)
		}
	}
	w.wrote = true
	switch {
	case off == w.next:
		if err := w.take(p); err != nil {
			return 0, w.failLocked(err)
		}
		for {
			q, ok := w.ahead[w.next]
			if !ok {
				break
			}
			delete(w.ahead, w.next)
			w.held -= int64(len(q))
			if err := w.take(q); err != nil {
				return 0, w.failLocked(err)
			}
		}
	case off > w.next:
		if _, dup := w.ahead[off]; dup || off-w.next > maxAhead || w.held+int64(len(p)) > maxAhead {
			return 0, w.failLocked(fmt.Errorf("write at %d while the file has %d bytes: too far ahead: %w", off, w.next, sftp.ErrSSHFxFailure))
		}
		w.ahead[off] = append([]byte(nil), p...)
		w.held += int64(len(p))
	default:
		return 0, w.failLocked(fmt.Errorf("write at %d: the bytes before %d are taken already: %w", off, w.next, sftp.ErrSSHFxOpUnsupported))
	}
	return len(p), nil
}

// setMTime is the time the file gets when it is named.
func (w *writer) setMTime(t time.Time) {
	w.mu.Lock()
	w.mtime = t
	w.mu.Unlock()
}

// take hands p to the stream.
func (w *writer) take(p []byte) error {
	n, err := w.s.Write(p)
	w.next += int64(n)
	return err
}

// restart drops this open's stream and begins anew at 0.
func (w *writer) restart() error {
	w.s.Abort()
	s, err := w.begin(0)
	if err != nil {
		return err
	}
	w.s, w.base, w.next = s, 0, 0
	return nil
}

// failLocked records the first failure as the status every later write
// gets.
func (w *writer) failLocked(err error) error {
	if w.err == nil {
		w.cause, w.err = err, statusOf(err)
	}
	return w.err
}

// sync answers fsync@openssh.com: what arrived in order is made durable
// and a resume point saved at its end. On an object-store home only
// whole parts are stored before the close: a sync that cannot cover
// every byte fails, saying how far it got.
func (w *writer) sync() (err error) {
	defer w.h.c.catch("Sync", &err)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	saved, err := w.s.Sync()
	if err != nil {
		return statusOf(err)
	}
	w.h.c.log.Info("fsync", "path", w.name, "bytes", w.next, "synced", saved)
	if saved < w.next {
		return &status{code: sftp.ErrSSHFxFailure, msg: fmt.Sprintf("fsync %s: %d of %d bytes stored; the rest is stored when the file is closed", w.name, saved, w.next)}
	}
	return nil
}

// TransferError is told by the request server that the connection ended
// with the file open: Close then keeps what arrived rather than name it.
func (w *writer) TransferError(err error) {
	w.mu.Lock()
	w.lost = err
	w.mu.Unlock()
}

// Close ends the upload: named in place (verified, committed) when every
// byte up to the last one written arrived and nothing failed; kept, to be
// resumed, when the connection was lost or writes are missing; dropped
// when the quota refused it.
func (w *writer) Close() (err error) {
	defer w.h.c.catch("Close", &err)
	w.closeMu.Do(func() {
		defer w.h.c.leave()
		w.h.mu.Lock()
		if w.h.writing[w.name] == w {
			delete(w.h.writing, w.name)
		}
		w.h.mu.Unlock()
		w.mu.Lock()
		defer w.mu.Unlock()
		err = w.finish()
	})
	return err
}

func (w *writer) finish() error {
	n := w.next - w.base
	d := time.Since(w.start)
	log := w.h.c.log.With("path", w.name, "bytes", w.next, "seconds", d.Seconds())
	switch {
	case errors.Is(w.cause, home.ErrQuota):
		w.s.Abort() // it cannot be finished in this quota: its bytes are freed at once
		log.Warn("put refused", "status", "quota")
		w.record(n, d, home.ErrQuota)
		return w.err
	case w.lost != nil || w.err != nil || len(w.ahead) > 0:
		why := w.lost
		if why == nil {
			why = w.cause
		}
		if why == nil {
			why = fmt.Errorf("closed with %d bytes written past a gap at %d", w.held, w.next)
		}
		held := w.suspend()
		log.Warn("put interrupted", "err", why.Error(), "held", held)
		w.record(n, d, why)
		if w.err != nil {
			return w.err
		}
		return statusOf(why)
	}
	if err := w.s.Commit(); err != nil {
		log.Warn("put failed", "err", err.Error())
		w.record(n, d, err)
		return statusOf(err)
	}
	if !w.mtime.IsZero() {
		if err := w.h.home.SetMTime(w.name, w.mtime); err != nil {
			log.Warn("put: setting the mtime failed", "err", err.Error())
		}
	}
	log.Info("put done", "md5", w.s.Sum())
	w.record(n, d, nil)
	return nil
}

// suspend keeps what arrived in order, to be resumed; an upload that got
// nothing is dropped.
func (w *writer) suspend() int64 {
	if w.next == 0 {
		w.s.Abort()
		return 0
	}
	if err := w.s.Suspend(); err != nil {
		w.h.c.log.Error("put: suspend failed", "path", w.name, "err", err)
		return 0
	}
	return w.next
}

func (w *writer) record(n int64, d time.Duration, err error) {
	w.h.c.srv.Core.RecordTransfer(server.ProtocolSFTP, protocol.ActionPut, n, d, err)
}
