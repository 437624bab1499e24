package xfer

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DirectWriter writes a file being filled front to back. The block-aligned
// part of each write from a block-aligned buffer goes straight to the
// device (O_DIRECT): no copy into the page cache, and nothing left to flush
// at the final sync, so the disk works while the transfer runs instead of
// after it. Any other write (an unaligned head after a resume, the tail of
// the file) goes through the page cache as usual. Where the file system
// refuses O_DIRECT (tmpfs, some network file systems) every write is a
// plain one. It is not safe for concurrent use.
//
// It does not embed the file: a promoted ReadFrom or WriteAt would bypass
// the alignment rules while O_DIRECT is set.
type DirectWriter struct {
	f      *os.File
	fd     uintptr
	off    int64 // the file offset: where the next write lands
	flags  int   // the descriptor's status flags without O_DIRECT
	direct bool  // O_DIRECT is set on the descriptor now
	able   bool  // the file system accepted O_DIRECT
}

// NewDirectWriter returns a DirectWriter for f, opened for writing and
// positioned where the next byte goes.
func NewDirectWriter(f *os.File) *DirectWriter {
	d := &DirectWriter{f: f, fd: f.Fd()}
	off, err := f.Seek(0, 1)
	if err != nil {
		return d // not seekable: plain writes only
	}
	flags, err := unix.FcntlInt(d.fd, unix.F_GETFL, 0)
	if err != nil {
		return d
	}
	d.off, d.flags = off, flags&^unix.O_DIRECT
	d.able = d.set(true)
	return d
}

// Sync commits the file to stable storage (fsync).
func (d *DirectWriter) Sync() error { return d.f.Sync() }

// Close closes the file.
func (d *DirectWriter) Close() error { return d.f.Close() }

// Name returns the file's name.
func (d *DirectWriter) Name() string { return d.f.Name() }

// Plain turns O_DIRECT off again, for whoever writes to the file next.
func (d *DirectWriter) Plain() { d.set(false) }

// Direct reports whether the file system accepted direct writes.
func (d *DirectWriter) Direct() bool { return d.able }

// set turns O_DIRECT on or off and reports whether it is as asked.
func (d *DirectWriter) set(on bool) bool {
	if d.direct == on {
		return true
	}
	fl := d.flags
	if on {
		fl |= unix.O_DIRECT
	}
	if _, err := unix.FcntlInt(d.fd, unix.F_SETFL, fl); err != nil {
		return false
	}
	d.direct = on
	return true
}

// Write writes p at the file offset: its aligned middle directly when it
// can, the rest through the page cache.
func (d *DirectWriter) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		q := p[done:]
		var n int
		var err error
		switch k := d.alignedLen(q); {
		case k > 0:
			n, err = d.write(q[:k], true)
		case d.able && d.off%Align != 0:
			// Bring the offset to a block boundary through the cache;
			// the buffer then must be realigned by the caller's next
			// chunk (Options.First does this for Copy).
			n, err = d.write(q[:min(len(q), int(Align-d.off%Align))], false)
		default:
			n, err = d.write(q, false)
		}
		done += n
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// alignedLen is how much of q can go directly: a whole number of blocks,
// from an aligned address, at an aligned offset.
func (d *DirectWriter) alignedLen(q []byte) int {
	if !d.able || d.off%Align != 0 || len(q) < Align || alignOf(q) != 0 {
		return 0
	}
	return len(q) &^ (Align - 1)
}

func (d *DirectWriter) write(b []byte, direct bool) (int, error) {
	if !d.set(direct) && direct {
		d.able = false
	}
	n, err := d.f.Write(b)
	d.off += int64(n)
	return n, err
}

// alignOf returns the address of b's first byte modulo Align.
func alignOf(b []byte) int {
	if cap(b) == 0 {
		return 0
	}
	return int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) % Align)
}
