package client

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"ftpx/protocol"
)

// Result describes one finished transfer, as "ftpx --json" prints it.
type Result struct {
	Action  string  `json:"action"` // "get" or "put"
	Local   string  `json:"local"`
	Remote  string  `json:"remote"`
	Size    int64   `json:"size"`   // the whole file
	Offset  int64   `json:"offset"` // where this run resumed (0: from the start)
	Sent    int64   `json:"sent"`   // bytes moved by this run
	MD5     string  `json:"md5"`    // lower-case hex of the whole file
	Seconds float64 `json:"seconds"`
	Skipped bool    `json:"skipped,omitempty"` // the destination had the file: nothing was sent
	Delta   bool    `json:"delta,omitempty"`   // sent as a delta: Sent is the delta's bytes
	DryRun  bool    `json:"dry_run,omitempty"` // what a run would do: nothing was done

	mtime time.Time // a get's: the server's, given to the local file (zero: not known)
}

// basis is what a transfer knows of an older version of the file at its
// destination, which a delta could be sent onto.
type basis int

const (
	basisAsk   basis = iota // not known: a put asks the server, a get looks at the local file
	basisNone               // nothing worth a delta is there
	basisThere              // an older version is there: send a delta
)

// Progress follows the body of one transfer. Start is called once the
// size is known (-1: it is not, a stream), before the first byte, with the
// offset a resumed transfer starts at (0 otherwise): the bytes already
// held, which this run does not move; Add after every chunk this run moves; Finish once at the end, with
// nil on success. A nil Progress is allowed everywhere.
type Progress interface {
	Start(size, offset int64)
	Add(n int)
	Finish(err error)
}

// bufSize is the chunk size of body copies.
const bufSize = 256 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// Resume points are saved after every checkpointBytes moved, or after
// checkpointEvery when fewer moved (a slow, rate-limited transfer), and
// when a transfer stops without finishing.
const (
	checkpointBytes = 4 << 20
	checkpointEvery = 2 * time.Second
)

// transferState is what Put and Get share: the result being built, the
// progress shown, the resume point and when it was last saved.
type transferState struct {
	c   *Client
	op  string // "put" or "get"
	arg string // the remote path as given, for messages and requests
	res Result
	p   Progress

	rec      *Record // the resume point; without Records only its ID is used
	started  bool    // p.Start was called
	furthest int64   // the furthest offset reached in this run
	savedAt  time.Time
	saved    int64 // rec.Offset at the last save
	warned   bool  // a failure to save was reported
}

// begin starts the progress of a body that resumes at offset.
func (t *transferState) begin(offset int64) {
	if t.res.Offset < 0 || offset < t.res.Offset {
		t.res.Offset = offset
	}
	if t.p != nil && !t.started {
		t.started = true
		t.p.Start(t.res.Size, offset)
	}
}

// advanced reports whether offset is further than any reached before in
// this run: the progress that resets the count of retries.
func (t *transferState) advanced(offset int64) bool {
	if offset > t.furthest {
		t.furthest = offset
		return true
	}
	return false
}

// moved accounts n body bytes of this run.
func (t *transferState) moved(n int) {
	t.res.Sent += int64(n)
	if t.p != nil {
		t.p.Add(n)
	}
}

// end finishes the progress and the result.
func (t *transferState) end(start time.Time, err error) {
	if t.res.Offset < 0 {
		t.res.Offset = 0
	}
	if t.p != nil && t.started {
		t.p.Finish(err)
	}
	if err == nil {
		t.res.Seconds = time.Since(start).Seconds()
	}
}

// due reports whether a checkpoint at offset is due.
func (t *transferState) due(offset int64) bool {
	return offset-t.saved >= checkpointBytes || offset != t.saved && time.Since(t.savedAt) >= checkpointEvery
}

// save writes the resume point, reporting the first failure only: a
// transfer goes on without resume points rather than failing.
func (t *transferState) save() {
	st := t.c.records()
	if st == nil {
		return
	}
	t.saved, t.savedAt = t.rec.Offset, time.Now()
	if err := st.Save(t.rec); err != nil && !t.warned {
		t.warned = true
		t.c.notice("%s %s: cannot save the resume point: %v", t.op, Printable(t.arg), err)
	}
}

// forget removes the resume point.
func (t *transferState) forget() {
	if st := t.c.records(); st != nil {
		st.Remove(t.rec)
	}
}

// worthKeeping reports whether a transfer that failed with err may be
// resumed later: it was cut off (connection lost, retries exhausted,
// interrupted), not refused.
func worthKeeping(err error) bool {
	return Retryable(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
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

// createPartial creates the hidden file a get writes into, beside
// localPath (an absolute path) and named after the transfer id:
// ".NAME.ftpx-part-ID".
func createPartial(localPath, id string) (*os.File, error) {
	return createFile(partialName(localPath, id), 0o666)
}

// createFile creates a new file (O_EXCL) for reading and writing. Unlike
// os.OpenFile it does not offer the descriptor to the network poller,
// which refuses regular files: five system calls fewer a file, which a
// script of small gets feels.
func createFile(name string, perm uint32) (*os.File, error) {
	for {
		fd, err := unix.Open(name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, perm)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return nil, &os.PathError{Op: "open", Path: name, Err: err}
		}
		return os.NewFile(uintptr(fd), name), nil
	}
}

// renameFile is os.Rename for a file, without the Lstat os.Rename makes of
// newname (to refuse replacing a directory, which rename(2) refuses by
// itself when the source is a file).
func renameFile(oldname, newname string) error {
	for {
		err := unix.Rename(oldname, newname)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
		}
		return nil
	}
}

// partialName is the hidden name of a partial file for localPath.
func partialName(localPath, id string) string {
	dir, name := filepath.Split(localPath)
	if len(name) > 100 {
		name = name[:100]
	}
	return filepath.Join(dir, "."+name+".ftpx-part-"+id)
}

// unnamedPrefix begins the Name of a file from createUnnamed.
const unnamedPrefix = "(unnamed in) "

// createUnnamed creates a file with no name (O_TMPFILE) in dir, for a
// small download that is named only once verified (linkUnnamed): nothing
// is left behind if the client dies. It fails where the file system has
// no such files.
func createUnnamed(dir string) (*os.File, error) {
	if !procFD() {
		return nil, errors.ErrUnsupported // it could not be named
	}
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o666)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), unnamedPrefix+dir), nil
}

// procFD reports whether /proc/self/fd can name descriptors.
var procFD = sync.OnceValue(func() bool {
	_, err := os.Stat("/proc/self/fd")
	return err == nil
})

// linkUnnamed gives the unnamed file f the name path (which must not
// exist): from its descriptor where the process may, else through
// /proc/self/fd.
func linkUnnamed(f *os.File, path string) error {
	fd := int(f.Fd())
	err := unix.Linkat(fd, "", unix.AT_FDCWD, path, unix.AT_EMPTY_PATH)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EPERM) {
		err = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), unix.AT_FDCWD, path, unix.AT_SYMLINK_FOLLOW)
	}
	return err
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
