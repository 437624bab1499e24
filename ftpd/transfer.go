package ftpd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"ftpx/home"
	"ftpx/protocol"
	"ftpx/server"
)

// Errors ending a transfer that the control connection decided.
var (
	errAborted = errors.New("transfer aborted by ABOR")
	errNoData  = errors.New("cannot open the data connection")
)

func transferID(user, name string) string { return home.StreamID(user, name) }

// held returns the bytes held of an interrupted upload to name, if any.
func (c *session) held(name string) (int64, bool) {
	if c.login == nil || c.login.Anonymous {
		return 0, false
	}
	h, err := c.home.StreamHeld(name)
	if err != nil {
		return 0, false
	}
	return h.Offset, true
}

// handleRest sets the offset of the next RETR, STOR or APPE.
func (c *session) handleRest(arg string) error {
	n, err := parseRest(arg)
	if err != nil {
		return c.reply(501, "REST needs a byte offset (a number, 0 or more)")
	}
	c.rest, c.restSet = n, true
	return c.reply(350, "restarting at "+strconv.FormatInt(n, 10)+"; send RETR, STOR or APPE")
}

// handleAbor answers an ABOR that came with no transfer running (one
// during a transfer is handled by watch).
func (c *session) handleAbor(string) error {
	c.closeData()
	return c.reply(226, "no transfer to abort")
}

// handleRetr sends a file from REST's offset. It reads through the home,
// and with a clear data connection the kernel moves the bytes (sendfile).
func (c *session) handleRetr(arg string) error {
	start := time.Now()
	name, err := c.readable(arg)
	if err != nil {
		return c.fail("RETR", arg, err)
	}
	f, err := c.home.FS.Open(name)
	if err != nil {
		return c.fail("RETR", arg, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return c.fail("RETR", arg, err)
	}
	size, offset := fi.Size(), c.rest
	if offset > size {
		return c.fail("RETR", arg, fmt.Errorf("get %s: offset %d of %d: %w", name, offset, size, home.ErrBadOffset))
	}
	if code, msg := c.dataRefusal(); code != 0 {
		return c.reply(code, msg)
	}
	if offset > 0 {
		if s, ok := f.(io.Seeker); ok {
			_, err = s.Seek(offset, io.SeekStart)
		} else {
			_, err = io.CopyN(io.Discard, f, offset)
		}
		if err != nil {
			return c.fail("RETR", arg, err)
		}
	}
	if err := c.reply(150, fmt.Sprintf("sending %s (%d bytes)", name, size-offset)); err != nil {
		return err
	}
	conn, err := c.openData()
	if err != nil {
		c.logTransfer(slog.LevelWarn, "get failed", protocol.ActionGet, name, offset, 0, start, errNoData, "err", err.Error())
		return c.reply(425, "cannot open the data connection")
	}
	var n int64
	err = c.watch(conn, func() error {
		var err error
		n, err = c.sendFile(conn, f, size-offset)
		return err
	})
	c.endData(conn)
	if err != nil {
		c.logTransfer(slog.LevelWarn, "get failed", protocol.ActionGet, name, offset, n, start, err)
	} else {
		c.logTransfer(slog.LevelInfo, "get done", protocol.ActionGet, name, offset, n, start, nil)
	}
	return c.finish(err, "transfer complete")
}

// sendChunk is how much one copy moves under one write deadline.
const sendChunk = 1 << 20

// sendFile copies n bytes of f to conn, in chunks, each under the
// transfer timeout. io.CopyN hands an *os.File to a *net.TCPConn through
// sendfile.
func (c *session) sendFile(conn net.Conn, f io.Reader, n int64) (int64, error) {
	_, timeout := c.core.Timeouts()
	var done int64
	for done < n {
		conn.SetWriteDeadline(time.Now().Add(timeout))
		m, err := io.CopyN(conn, f, min(sendChunk, n-done))
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

func (c *session) handleStor(arg string) error { return c.store("STOR", arg) }
func (c *session) handleAppe(arg string) error { return c.store("APPE", arg) }

// store receives a file into a home.Stream: a hidden partial, renamed
// into place when the data connection ends normally (EOF, with neither
// ABOR nor the control connection gone), kept when the transfer is cut
// so that REST+STOR (REST n must be the bytes held) or APPE resume it.
// APPE onto a complete file with nothing held appends to a copy that
// replaces the file when done. Every refusal the home can give comes
// before 150; running out of quota mid-way gives 552 and keeps nothing.
func (c *session) store(verb, arg string) error {
	start := time.Now()
	name, err := c.resolve(arg)
	if err != nil {
		return c.fail(verb, arg, err)
	}
	if code, msg := c.dataRefusal(); code != 0 {
		return c.reply(code, msg)
	}
	s, err := c.beginStream(verb, name)
	if err != nil {
		c.logTransfer(slog.LevelInfo, "put refused", protocol.ActionPut, name, 0, 0, start, err)
		return c.fail(verb, arg, err)
	}
	defer s.Abort() // a no-op once committed or suspended
	if err := c.reply(150, "ok to send "+name); err != nil {
		c.suspend(s, name)
		return err
	}
	conn, err := c.openData()
	if err != nil {
		c.suspend(s, name)
		c.logTransfer(slog.LevelWarn, "put failed", protocol.ActionPut, name, s.Offset(), 0, start, errNoData, "err", err.Error())
		return c.reply(425, "cannot open the data connection")
	}
	err = c.watch(conn, func() error { return c.receive(conn, s) })
	if err == nil && c.controlClosed() {
		// A client killed mid-upload: the kernel closed both its
		// connections, the control one first. The data ended, but not
		// normally.
		err = errGone
	}
	if errors.Is(err, home.ErrQuota) {
		drain(conn)
	}
	c.endData(conn)
	n := s.Written()
	switch {
	case err == nil:
		if err := s.Commit(); err != nil {
			c.logTransfer(slog.LevelWarn, "put failed", protocol.ActionPut, name, s.Offset(), n, start, err)
			return c.fail(verb, arg, err)
		}
		c.logTransfer(slog.LevelInfo, "put done", protocol.ActionPut, name, s.Offset(), n, start, nil, "md5", s.Sum())
		return c.reply(226, fmt.Sprintf("%s stored (%d bytes, md5 %s)", name, s.Offset()+n, s.Sum()))
	case errors.Is(err, home.ErrQuota):
		s.Abort() // it cannot be finished in this quota: its bytes are freed at once
		c.logTransfer(slog.LevelWarn, "put refused", protocol.ActionPut, name, s.Offset(), n, start, err)
		return c.fail(verb, arg, err)
	}
	held := c.suspend(s, name)
	c.logTransfer(slog.LevelWarn, "put interrupted", protocol.ActionPut, name, s.Offset(), n, start, err, "held", held)
	if errors.Is(err, home.ErrNoSpace) { // the disk filled up: what arrived is kept
		return c.reply(452, "insufficient storage space; what arrived is kept, to resume once there is room")
	}
	return c.finish(err, "")
}

// beginStream starts or resumes the upload of a STOR or APPE.
func (c *session) beginStream(verb, name string) (*home.Stream, error) {
	id := transferID(c.login.User, name)
	if verb == "STOR" && c.rest == 0 {
		return c.home.BeginStream(name, id, 0) // the common case: no look for what is held
	}
	held, holding := c.held(name)
	switch {
	case c.restSet && c.rest > 0 && holding && c.rest == held:
		return c.home.BeginStream(name, id, held)
	case c.restSet && c.rest > 0 && !holding && c.sizeIs(name, c.rest):
		return c.home.BeginAppend(name, id) // REST at the end of a complete file
	case c.restSet && c.rest > 0:
		have := "nothing held"
		if holding {
			have = fmt.Sprintf("%d bytes held", held)
		}
		return nil, fmt.Errorf("%s %s: REST %d, %s: %w", verb, name, c.rest, have, home.ErrBadOffset)
	case verb == "APPE" && holding:
		return c.home.BeginStream(name, id, held)
	case verb == "APPE":
		return c.home.BeginAppend(name, id)
	}
	return c.home.BeginStream(name, id, 0)
}

// sizeIs reports whether name is a file of n bytes.
func (c *session) sizeIs(name string, n int64) bool {
	fi, err := c.home.FS.Stat(name)
	return err == nil && !fi.IsDir() && fi.Size() == n
}

// receive copies the data connection into the stream until EOF (the
// client closed it: the end of the file), each read under the transfer
// timeout. Any other end of the connection (a reset, a timeout, a TLS
// record cut short) is an error.
func (c *session) receive(conn net.Conn, s *home.Stream) error {
	_, timeout := c.core.Timeouts()
	_, err := s.Receive(deadlineReader{conn, timeout})
	return err
}

// deadlineReader moves conn's read deadline before each read.
type deadlineReader struct {
	conn    net.Conn
	timeout time.Duration
}

func (d deadlineReader) Read(p []byte) (int, error) {
	d.conn.SetReadDeadline(time.Now().Add(d.timeout))
	return d.conn.Read(p)
}

// drain reads and drops what the client still sends, up to drainMax or
// for drainTime, so that a client refused mid-upload finishes sending and
// reads the refusal, rather than failing on a reset connection.
func drain(conn net.Conn) {
	conn.SetReadDeadline(time.Now().Add(drainTime))
	io.CopyN(io.Discard, conn, drainMax)
}

// The drain's bounds: a client that sends more than drainMax past the
// refusal, or for longer than drainTime, has its data connection closed
// with what it still sends unread (a reset, to it). 8 MiB was too little:
// curl 16 MB past the quota got a reset (exit 55) instead of 552, and
// ftplib read the 552 as the reply to its next command.
const (
	drainMax  = 64 << 20
	drainTime = 30 * time.Second
)

// suspend keeps what a cut upload received, to be resumed, and returns
// the bytes held; an upload that never got a byte is dropped instead.
func (c *session) suspend(s *home.Stream, name string) int64 {
	held := s.Offset() + s.Written()
	if held == 0 {
		s.Abort()
		return 0
	}
	if err := s.Suspend(); err != nil {
		c.log.Error("put: suspend failed", "path", name, "err", err)
		return 0
	}
	return held
}

// handleXmd5 answers a file's MD5: the one the server remembers (every
// upload's), or computed once and remembered.
func (c *session) handleXmd5(arg string) error {
	name, sum, _, err := c.checksum(arg)
	if err != nil {
		return c.fail("XMD5", arg, err)
	}
	c.log.Info("md5 sent", "path", name, "md5", sum)
	return c.reply(250, sum)
}

// handleHash answers a file's MD5 in the form of draft-bryan-ftpext-hash:
// "213 MD5 0-SIZE HEX NAME".
func (c *session) handleHash(arg string) error {
	name, sum, size, err := c.checksum(arg)
	if err != nil {
		return c.fail("HASH", arg, err)
	}
	return c.reply(213, fmt.Sprintf("MD5 0-%d %s %s", size, sum, name))
}

// checksum is the MD5 and size of the file arg names.
func (c *session) checksum(arg string) (string, string, int64, error) {
	name, err := c.readable(arg)
	if err != nil {
		return "", "", 0, err
	}
	fi, err := c.home.FS.Stat(name)
	if err == nil && fi.IsDir() {
		err = fmt.Errorf("%s: %w", name, home.ErrIsDir)
	}
	if err != nil {
		return "", "", 0, err
	}
	sum, err := c.home.Checksum(name)
	return name, sum, fi.Size(), err
}

// watch runs move (the copy over conn) on its own goroutine while it
// reads the control connection: an ABOR, or the control connection going
// away, closes conn and ends the transfer with errAborted or errGone; any
// other command waits until the transfer is over. An ABOR that races the
// end of the copy still counts: an upload is committed only when the
// client did not ask to abort it.
func (c *session) watch(conn net.Conn, move func() error) error {
	c.tcp.SetReadDeadline(time.Time{}) // the transfer keeps its own deadlines
	c.permit()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil { // this transfer fails, not the server
				c.log.Error("panic in transfer", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				done <- errPanic
			}
		}()
		done <- move()
	}()
	var err error
	var got *line
	select {
	case err = <-done:
		select {
		case l := <-c.lines:
			got = &l
		default:
		}
	case l := <-c.lines:
		got = &l
		if isAbort(l) || l.err != nil {
			conn.Close()
		}
		err = <-done
	}
	if got == nil {
		return err
	}
	c.reading = false
	switch {
	case got.err != nil:
		conn.Close()
		c.pending = got // the session ends with it
		return errGone
	case isAbort(*got):
		return errAborted
	}
	c.pending = got
	return err
}

// controlClosed reports whether the client has closed the control
// connection, as far as the kernel knows now: a peek that reads nothing,
// without waiting. The reader goroutine will see the same end; this only
// learns it sooner.
func (c *session) controlClosed() bool {
	sc, ok := c.tcp.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	raw.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = n == 0 && err == nil
	})
	return closed
}

// permit lets the reader goroutine read the next command line, unless it
// is reading already.
func (c *session) permit() {
	if !c.reading {
		c.reading = true
		c.next <- struct{}{}
	}
}

// isAbort reports whether l is an ABOR command.
func isAbort(l line) bool {
	verb, _ := parseLine(l.text)
	return l.err == nil && verb == "ABOR"
}

// finish answers a data transfer that ended: 226 with ok, or 426 for one
// cut off (then 226 for the ABOR that cut it). Once the control
// connection is gone, the session ends.
func (c *session) finish(err error, ok string) error {
	switch {
	case errors.Is(err, errGone):
		return errGone
	case errors.Is(err, errAborted):
		c.reply(426, "transfer aborted; what arrived is kept, to resume")
		return c.reply(226, "ABOR ok")
	case err != nil:
		return c.reply(426, "data connection closed; transfer aborted")
	}
	return c.reply(226, ok)
}

// logTransfer writes the one line every transfer gets and counts it in
// the metrics.
func (c *session) logTransfer(level slog.Level, msg, direction, name string, offset, n int64, start time.Time, err error, extra ...any) {
	attrs := []any{"path", name, "bytes", n, "seconds", secondsSince(start)}
	if offset != 0 {
		attrs = append(attrs, "offset", offset)
	}
	if err != nil {
		attrs = append(attrs, "err", err.Error())
	}
	c.log.Log(context.Background(), level, msg, append(attrs, extra...)...)
	c.core.RecordTransfer(server.ProtocolFTP, direction, n, time.Since(start), err)
}
