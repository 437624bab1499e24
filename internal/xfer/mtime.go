package xfer

import (
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A Descriptor is an open file: an *os.File, or a descriptor held as is.
type Descriptor interface {
	Fd() uintptr
	Name() string
}

// SetMTime sets the modification time of an open file, leaving its access
// time as it is: utimensat on the descriptor itself (what futimens does),
// so it works on a file that has no name yet (O_TMPFILE) and never
// follows a path.
func SetMTime(f Descriptor, mtime time.Time) error {
	ts := [2]unix.Timespec{{Nsec: unix.UTIME_OMIT}, unix.NsecToTimespec(mtime.UnixNano())}
	_, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, f.Fd(), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if errno != 0 {
		return &os.PathError{Op: "utimensat", Path: f.Name(), Err: errno}
	}
	return nil
}
