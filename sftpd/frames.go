package sftpd

import (
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/pkg/sftp"
)

// SFTP packet types that the stream reads or writes itself
// (draft-ietf-secsh-filexfer-02, section 3).
const (
	fxpInit     = 1
	fxpVersion  = 2
	fxpOpen     = 3
	fxpClose    = 4
	fxpStatus   = 101
	fxpHandle   = 102
	fxpExtended = 200
)

// sftpVersion is the protocol version the server speaks.
const sftpVersion = 3

// extensions are those the server lists in its VERSION answer, with their
// versions: pkg/sftp's request server serves the first two, the stream
// the third. Not hardlink@openssh.com, which handlers refuse: a link would
// be a second name that the quota and the jail would have to follow.
var extensions = []struct{ name, data string }{
	{"posix-rename@openssh.com", "1"},
	{"statvfs@openssh.com", "2"},
	{"fsync@openssh.com", "1"},
}

// maxPacket is the longest request the request server takes (pkg/sftp's
// limit): the stream reads nothing more of a longer one, which the request
// server refuses at once by its length.
const maxPacket = 256 << 10

// maxOwnPacket bounds the requests the stream reads whole to look at
// (INIT, CLOSE, EXTENDED); a longer one passes through as it is.
const maxOwnPacket = 64 << 10

// maxAnswerHead is how much of each answer the stream keeps to read: a
// HANDLE answer's handle (pkg/sftp's are short decimal numbers).
const maxAnswerHead = 4 + 1 + 4 + 4 + 256

// stream carries the SFTP packets of one session channel to and from
// pkg/sftp's request server. It passes the client's requests on one
// packet at a time, and answers itself the two the request server cannot:
// INIT (its VERSION answer lists fsync@openssh.com) and fsync@openssh.com,
// which waits until every request before it has been answered and then
// syncs the session's open uploads. It counts requests passed and answers
// written, and knows the handles open: with none open and every request
// answered, it can stop the request server of an idle session (next).
type stream struct {
	rw    io.ReadWriteCloser // the channel
	fsync func(string) error // fsync of an open handle

	// Read is called by the request server's receiving goroutine only.
	pend      []byte // a packet's bytes read ahead, passed on first
	left      int64  // the rest of the packet being passed, still in rw
	parkAfter time.Duration
	heads     chan head // the start of a request read while the request server may stop
	waiting   bool      // a head is coming on heads
	ahead     *head     // a head read for the next request server
	timer     *time.Timer
	resume    func() // the work handed to the goroutine reading ahead (mu)
	alloc     bool   // the request server reuses its packet buffers

	mu       sync.Mutex
	answered *sync.Cond // an answer was written, or the stream ended
	passed   uint64     // requests passed on
	answers  uint64     // answers the request server wrote
	ended    bool
	head     []byte   // the start of the answer being written
	wleft    int64    // its bytes still to be written
	queue    [][]byte // the stream's own answers, waiting for the end of the one being written
	handles  map[string]bool
}

func newStream(rw io.ReadWriteCloser, fsync func(handle string) error) *stream {
	s := &stream{rw: rw, fsync: fsync, handles: make(map[string]bool), heads: make(chan head, 1)}
	s.answered = sync.NewCond(&s.mu)
	return s
}

// Close ends the stream and closes the channel.
func (s *stream) Close() error {
	s.end()
	return s.rw.Close()
}

// end makes a wait for answers give up: the session is over.
func (s *stream) end() {
	s.mu.Lock()
	s.ended = true
	s.answered.Broadcast()
	s.mu.Unlock()
}

// Read passes the client's requests on to the request server.
func (s *stream) Read(p []byte) (int, error) {
	for len(s.pend) == 0 && s.left == 0 {
		if err := s.next(); err != nil {
			return 0, err
		}
	}
	if len(s.pend) > 0 {
		n := copy(p, s.pend)
		s.pend = s.pend[n:]
		return n, nil
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	n, err := s.rw.Read(p)
	s.left -= int64(n)
	return n, err
}

// head is the start of a request: its length and type.
type head struct {
	b   [5]byte
	err error
}

// readHead reads the start of the next request: its length, and its type
// when the length leaves room for one. io.EOF between requests is the
// client's end.
func (s *stream) readHead() (h head) {
	if _, h.err = io.ReadFull(s.rw, h.b[:4]); h.err != nil {
		return h
	}
	if n := binary.BigEndian.Uint32(h.b[:4]); n > 0 && n <= maxPacket {
		_, err := io.ReadFull(s.rw, h.b[4:])
		h.err = noEOF(err)
	}
	return h
}

// errParked ends the request server of a session that has been idle for
// parkAfter with nothing open: it is made again for the next request.
var errParked = errors.New("sftp: idle, the request server stopped")

// errSwitch ends a request server without the allocator when a file is
// opened while nothing else runs: one with it takes the request.
var errSwitch = errors.New("sftp: a file opened, the request server stopped for one that reuses its buffers")

// next reads the next request: one the stream answers itself is read
// whole and answered; any other is set up to be passed. With no handle
// open the start of the next request is read on a goroutine of its own,
// so that when none comes for parkAfter, and every request has been
// answered, the request server (a dozen goroutines and its buffers) can
// stop (errParked) while that goroutine waits; wait takes the request.
func (s *stream) next() error {
	var h head
	switch {
	case s.parkAfter > 0 && s.noHandles():
		go s.readAhead()
		if s.timer == nil {
			s.timer = time.NewTimer(s.parkAfter)
		} else {
			s.timer.Reset(s.parkAfter)
		}
	wait:
		for {
			select {
			case h = <-s.heads:
				s.timer.Stop()
				break wait
			case <-s.timer.C:
				if s.idle() {
					s.waiting = true
					return errParked
				}
				s.timer.Reset(s.parkAfter) // a request is still being answered, or has just come
			}
		}
	default:
		h = s.readHead()
	}
	if h.err == nil && h.b[4] == fxpOpen && binary.BigEndian.Uint32(h.b[:4]) > 0 && s.parkAfter > 0 && !s.alloc && s.idle() {
		// A file is being opened on a request server without the
		// allocator: stop it, for one with (transfers need it).
		s.ahead = &h
		return errSwitch
	}
	_, err := s.take(h)
	return err
}

// opening reports that the request waiting to be passed opens a file.
func (s *stream) opening() bool { return len(s.pend) > 4 && s.pend[4] == fxpOpen }

// wait reads requests while no request server runs (before the first, and
// once one has stopped), answering those the stream serves itself, until
// one is to be passed on: the next request server's first Read takes it.
// It returns the client's end (io.EOF) or a failure.
func (s *stream) wait() error {
	var h head
	switch {
	case s.ahead != nil:
		h, s.ahead = *s.ahead, nil
	case s.waiting:
		h = <-s.heads
		s.waiting = false
	default:
		h = s.readHead()
	}
	for {
		answered, err := s.take(h)
		if err != nil || !answered {
			return err
		}
		h = s.readHead()
	}
}

// take deals with the request that begins with h: answered when the
// stream answered it itself, else set up to be passed on.
func (s *stream) take(h head) (answered bool, err error) {
	if h.err != nil {
		return false, h.err
	}
	n := binary.BigEndian.Uint32(h.b[:4])
	if n == 0 || n > maxPacket {
		s.pass(append([]byte(nil), h.b[:4]...), 0) // the request server refuses it
		return false, nil
	}
	switch h.b[4] {
	case fxpInit, fxpClose, fxpExtended:
		if n <= maxOwnPacket {
			pkt := make([]byte, 4+n)
			copy(pkt, h.b[:])
			if _, err := io.ReadFull(s.rw, pkt[5:]); err != nil {
				return false, noEOF(err)
			}
			if done, err := s.own(pkt); done || err != nil {
				return done, err
			}
			s.pass(pkt, 0)
			return false, nil
		}
	}
	s.pass(append([]byte(nil), h.b[:]...), int64(n)-1)
	return false, nil
}

// readAhead reads the start of the next request for next, or, when the
// request server has stopped meanwhile and handed its work over (handOff),
// goes on with that work itself.
func (s *stream) readAhead() {
	h := s.readHead()
	s.mu.Lock()
	if fn := s.resume; fn != nil {
		s.resume = nil
		s.mu.Unlock()
		s.ahead, s.waiting = &h, false
		fn()
		return
	}
	s.heads <- h // never blocks: one read ahead at a time
	s.mu.Unlock()
}

// handOff makes fn run on the goroutine reading the next request once it
// has come, and reports true; false when it has come already (the caller
// takes it with wait).
func (s *stream) handOff(fn func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.heads) > 0 {
		return false
	}
	s.resume = fn
	return true
}

// noHandles reports that no handle is open.
func (s *stream) noHandles() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.handles) == 0
}

// idle reports that the request server may stop: no handle is open,
// every request passed has been answered and the next has not come.
func (s *stream) idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.answers == s.passed && len(s.handles) == 0 && len(s.queue) == 0 && len(s.heads) == 0
}

// pass sets pend (and left more bytes from the channel) to be read by the
// request server as one request.
func (s *stream) pass(pend []byte, left int64) {
	s.mu.Lock()
	s.passed++
	s.mu.Unlock()
	s.pend, s.left = pend, left
}

// noEOF is err, with the end of the stream inside a packet unexpected.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// own answers pkt (a whole request) when it is one the stream serves
// itself, and notes a CLOSE's handle as closed. done reports that pkt
// was answered and is not to be passed on.
func (s *stream) own(pkt []byte) (done bool, err error) {
	body := pkt[5:]
	switch pkt[4] {
	case fxpInit:
		// The client's version and extensions change nothing: the server
		// speaks version 3, which every client speaks.
		return true, s.send(versionPacket())
	case fxpClose:
		if _, rest, ok := takeUint32(body); ok { // the request's id
			if h, _, ok := takeString(rest); ok {
				s.mu.Lock()
				delete(s.handles, h)
				s.mu.Unlock()
			}
		}
		return false, nil
	}
	id, rest, ok := takeUint32(body)
	if !ok {
		return false, nil
	}
	name, rest, ok := takeString(rest)
	if !ok || name != "fsync@openssh.com" {
		return false, nil
	}
	handle, _, ok := takeString(rest)
	if !ok {
		return true, s.send(statusPacket(id, sftp.ErrSSHFxBadMessage, "fsync: no handle"))
	}
	if !s.drain() {
		return true, io.ErrUnexpectedEOF
	}
	s.mu.Lock()
	open := s.handles[handle]
	s.mu.Unlock()
	if !open {
		return true, s.send(statusPacket(id, sftp.ErrSSHFxFailure, "fsync: no such handle"))
	}
	if err := s.fsync(handle); err != nil {
		return true, s.send(statusPacket(id, codeOf(err), err.Error()))
	}
	return true, s.send(statusPacket(id, sftp.ErrSSHFxOk, "Success"))
}

// drain waits until every request passed on has been answered, so that
// an fsync covers every write sent before it. It reports false when the
// stream ended first.
func (s *stream) drain() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.answers < s.passed && !s.ended {
		s.answered.Wait()
	}
	return !s.ended
}

// Write writes the request server's answers (a packet may come in several
// writes), keeping count of them and of the handles they open.
func (s *stream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.rw.Write(p)
	s.track(p[:n])
	if err == nil && len(s.head) == 0 {
		err = s.flushLocked()
	}
	return n, err
}

// track follows the answers' framing through b.
func (s *stream) track(b []byte) {
	for len(b) > 0 {
		if len(s.head) < 4 {
			k := min(4-len(s.head), len(b))
			s.head = append(s.head, b[:k]...)
			b = b[k:]
			if len(s.head) == 4 {
				s.wleft = int64(binary.BigEndian.Uint32(s.head))
				if s.wleft == 0 {
					s.answerLocked()
				}
			}
			continue
		}
		k := min(int64(len(b)), s.wleft)
		if room := maxAnswerHead - len(s.head); room > 0 {
			s.head = append(s.head, b[:min(k, int64(room))]...)
		}
		b = b[k:]
		s.wleft -= k
		if s.wleft == 0 {
			s.answerLocked()
		}
	}
}

// answerLocked counts the answer just written, noting the handle a
// HANDLE answer opened.
func (s *stream) answerLocked() {
	if len(s.head) > 9 && s.head[4] == fxpHandle {
		if h, _, ok := takeString(s.head[9:]); ok {
			s.handles[h] = true
		}
	}
	s.head = s.head[:0]
	s.answers++
	s.answered.Broadcast()
}

// send writes one of the stream's own answers: now, or after the end of
// the answer the request server is in the middle of.
func (s *stream) send(pkt []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, pkt)
	if len(s.head) > 0 {
		return nil
	}
	return s.flushLocked()
}

func (s *stream) flushLocked() error {
	for len(s.queue) > 0 {
		pkt := s.queue[0]
		s.queue = s.queue[1:]
		if _, err := s.rw.Write(pkt); err != nil {
			return err
		}
	}
	s.queue = nil
	return nil
}

// versionPacket is the answer to INIT.
func versionPacket() []byte {
	b := []byte{0, 0, 0, 0, fxpVersion}
	b = binary.BigEndian.AppendUint32(b, sftpVersion)
	for _, e := range extensions {
		b = appendString(appendString(b, e.name), e.data)
	}
	return framed(b)
}

// statusPacket is a STATUS answer to request id.
func statusPacket(id uint32, code error, msg string) []byte {
	b := []byte{0, 0, 0, 0, fxpStatus}
	b = binary.BigEndian.AppendUint32(b, id)
	b = binary.BigEndian.AppendUint32(b, statusCode(code))
	b = appendString(appendString(b, msg), "en")
	return framed(b)
}

// framed fills in b's length, the first four bytes.
func framed(b []byte) []byte {
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// codes are the SFTP status codes of pkg/sftp's errors, in order.
var codes = []error{sftp.ErrSSHFxOk, sftp.ErrSSHFxEOF, sftp.ErrSSHFxNoSuchFile, sftp.ErrSSHFxPermissionDenied,
	sftp.ErrSSHFxFailure, sftp.ErrSSHFxBadMessage, sftp.ErrSSHFxNoConnection, sftp.ErrSSHFxConnectionLost,
	sftp.ErrSSHFxOpUnsupported}

// statusCode is the number of one of codes (SSH_FX_FAILURE for another).
func statusCode(code error) uint32 {
	for i, c := range codes {
		if code == c {
			return uint32(i)
		}
	}
	return 4
}

// codeOf is the status code that err (from statusOf) carries.
func codeOf(err error) error {
	for _, c := range codes {
		if errors.Is(err, c) {
			return c
		}
	}
	return sftp.ErrSSHFxFailure
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func takeUint32(b []byte) (uint32, []byte, bool) {
	if len(b) < 4 {
		return 0, nil, false
	}
	return binary.BigEndian.Uint32(b), b[4:], true
}

func takeString(b []byte) (string, []byte, bool) {
	n, b, ok := takeUint32(b)
	if !ok || uint64(n) > uint64(len(b)) {
		return "", nil, false
	}
	return string(b[:n]), b[n:], true
}
