package hostile

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"golang.org/x/crypto/ssh"
)

// The suite's own SFTP client: packets built byte by byte (uint32 length,
// byte type, uint32 id, strings as uint32 length + bytes), so a test can
// send what no client library would, over an SSH session channel of the
// "sftp" subsystem; every byte it receives goes past the guard.

// SFTP v3 packet types.
const (
	fxpInit     = 1
	fxpVersion  = 2
	fxpOpen     = 3
	fxpClose    = 4
	fxpRead     = 5
	fxpWrite    = 6
	fxpLstat    = 7
	fxpSetstat  = 9
	fxpOpendir  = 11
	fxpReaddir  = 12
	fxpRemove   = 13
	fxpMkdir    = 14
	fxpRmdir    = 15
	fxpRealpath = 16
	fxpStat     = 17
	fxpRename   = 18
	fxpReadlink = 19
	fxpSymlink  = 20
	fxpStatus   = 101
	fxpHandle   = 102
	fxpData     = 103
	fxpName     = 104
	fxpAttrs    = 105
	fxpExtended = 200
)

// SFTP v3 status codes.
const (
	fxOK               = 0
	fxEOF              = 1
	fxNoSuchFile       = 2
	fxPermissionDenied = 3
	fxFailure          = 4
	fxBadMessage       = 5
	fxOpUnsupported    = 8
)

// Open flags and attribute flags.
const (
	pflagRead   = 0x01
	pflagWrite  = 0x02
	pflagAppend = 0x04
	pflagCreat  = 0x08
	pflagTrunc  = 0x10
	attrSize    = 0x01
	attrTimes   = 0x08
)

// sftpIOTimeout bounds every wait for an answer.
const sftpIOTimeout = 20 * time.Second

// maxSFTPAnswer bounds an answer packet as this client reads it.
const maxSFTPAnswer = 1 << 20

// pkt builds one request.
type pkt struct{ b []byte }

// req starts a request of type typ with id.
func req(typ byte, id uint32) *pkt { return (&pkt{b: []byte{typ}}).u32(id) }

func (p *pkt) u32(v uint32) *pkt  { p.b = binary.BigEndian.AppendUint32(p.b, v); return p }
func (p *pkt) u64(v uint64) *pkt  { p.b = binary.BigEndian.AppendUint64(p.b, v); return p }
func (p *pkt) str(s string) *pkt  { return p.u32(uint32(len(s))).raw([]byte(s)...) }
func (p *pkt) raw(b ...byte) *pkt { p.b = append(p.b, b...); return p }

// frame is the packet with its length in front.
func (p *pkt) frame() []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(p.b))), p.b...)
}

// noAttrs is an ATTRS with no field set.
func (p *pkt) noAttrs() *pkt { return p.u32(0) }

// answer is one packet from the server, parsed as far as its type says.
type answer struct {
	typ     byte
	id      uint32
	code    uint32 // STATUS
	msg     string // STATUS
	handle  string // HANDLE
	data    []byte // DATA
	names   []string
	version uint32   // VERSION
	exts    []string // VERSION: the extension names
	raw     []byte
}

func (a answer) String() string {
	switch a.typ {
	case fxpStatus:
		return fmt.Sprintf("STATUS %d %q", a.code, truncated(a.msg, 120))
	case fxpHandle:
		return "HANDLE"
	case fxpData:
		return fmt.Sprintf("DATA of %d bytes", len(a.data))
	case fxpName:
		return fmt.Sprintf("NAME %q", a.names)
	case fxpAttrs:
		return "ATTRS"
	case fxpVersion:
		return fmt.Sprintf("VERSION %d %q", a.version, a.exts)
	}
	return fmt.Sprintf("type %d", a.typ)
}

func truncated(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// ok reports whether the answer is a success of any kind.
func (a answer) ok() bool { return a.typ != fxpStatus || a.code == fxOK }

// cursor reads the fields of a packet, remembering the first shortfall.
type cursor struct {
	b   []byte
	err error
}

func (c *cursor) u32() uint32 {
	if len(c.b) < 4 {
		c.err = errors.New("short packet")
		return 0
	}
	v := binary.BigEndian.Uint32(c.b)
	c.b = c.b[4:]
	return v
}

func (c *cursor) u64() uint64 { return uint64(c.u32())<<32 | uint64(c.u32()) }

func (c *cursor) str() string {
	n := c.u32()
	if uint64(n) > uint64(len(c.b)) {
		c.err = errors.New("string past the packet")
		return ""
	}
	s := string(c.b[:n])
	c.b = c.b[n:]
	return s
}

// attrs skips an ATTRS.
func (c *cursor) attrs() {
	flags := c.u32()
	if flags&attrSize != 0 {
		c.u64()
	}
	if flags&0x02 != 0 {
		c.u32()
		c.u32()
	}
	if flags&0x04 != 0 {
		c.u32()
	}
	if flags&attrTimes != 0 {
		c.u32()
		c.u32()
	}
	if flags&0x80000000 != 0 {
		for n := c.u32(); n > 0 && c.err == nil; n-- {
			c.str()
			c.str()
		}
	}
}

func parseAnswer(b []byte) (answer, error) {
	a := answer{typ: b[0], raw: b}
	c := &cursor{b: b[1:]}
	if a.typ == fxpVersion {
		a.version = c.u32()
		for len(c.b) > 0 && c.err == nil {
			a.exts = append(a.exts, c.str())
			c.str()
		}
		return a, c.err
	}
	a.id = c.u32()
	switch a.typ {
	case fxpStatus:
		a.code = c.u32()
		a.msg = c.str()
	case fxpHandle:
		a.handle = c.str()
	case fxpData:
		a.data = []byte(c.str())
	case fxpName:
		for n := c.u32(); n > 0 && c.err == nil; n-- {
			a.names = append(a.names, c.str())
			c.str()
			c.attrs()
		}
	case fxpAttrs:
		c.attrs()
	}
	return a, c.err
}

// sftpChan is one session channel of the sftp subsystem, spoken by hand.
type sftpChan struct {
	s       *ssh.Session
	w       io.WriteCloser
	g       *guard
	answers chan answer
	ended   chan struct{} // closed when the server ends the channel
	endErr  error         // why, once ended is closed
	nextID  uint32
}

// openSFTP opens a session channel on sc and starts the sftp subsystem;
// no INIT is sent.
func openSFTP(sc *ssh.Client, g *guard) (*sftpChan, error) {
	s, err := sc.NewSession()
	if err != nil {
		return nil, err
	}
	w, err := s.StdinPipe()
	if err != nil {
		return nil, err
	}
	r, err := s.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.RequestSubsystem("sftp"); err != nil {
		s.Close()
		return nil, err
	}
	c := &sftpChan{s: s, w: w, g: g, answers: make(chan answer, 4096), ended: make(chan struct{}), nextID: 1000}
	go c.readLoop(bufio.NewReaderSize(r, 64<<10))
	return c, nil
}

func (c *sftpChan) readLoop(r *bufio.Reader) {
	defer close(c.ended)
	for {
		var prefix [4]byte
		if _, err := io.ReadFull(r, prefix[:]); err != nil {
			c.endErr = err
			return
		}
		n := binary.BigEndian.Uint32(prefix[:])
		if n == 0 || n > maxSFTPAnswer {
			c.endErr = fmt.Errorf("answer packet of %d bytes", n)
			return
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			c.endErr = err
			return
		}
		c.g.check("SFTP answer", b)
		a, err := parseAnswer(b)
		if err != nil {
			c.endErr = fmt.Errorf("answer %s: %w", a, err)
			return
		}
		c.answers <- a
	}
}

// id returns a fresh request id.
func (c *sftpChan) id() uint32 { c.nextID++; return c.nextID }

// send writes raw bytes, giving up after sftpIOTimeout (a server that
// stops reading must not hang the suite).
func (c *sftpChan) send(b []byte) error {
	done := make(chan error, 1)
	go func() { _, err := c.w.Write(b); done <- err }()
	select {
	case err := <-done:
		return err
	case <-time.After(sftpIOTimeout):
		return errors.New("write timed out")
	}
}

// next returns the next answer, or an error when the channel ended or
// nothing came in time.
func (c *sftpChan) next() (answer, error) {
	select {
	case a := <-c.answers:
		return a, nil
	case <-c.ended:
		select {
		case a := <-c.answers:
			return a, nil
		default:
		}
		return answer{}, fmt.Errorf("channel ended: %v", c.endErr)
	case <-time.After(sftpIOTimeout):
		return answer{}, errors.New("no answer in time")
	}
}

// do sends p and returns its answer, which must carry its id.
func (c *sftpChan) do(p *pkt) (answer, error) {
	id := binary.BigEndian.Uint32(p.b[1:5])
	if err := c.send(p.frame()); err != nil {
		return answer{}, err
	}
	a, err := c.next()
	if err == nil && a.id != id {
		err = fmt.Errorf("answer %s carries id %d, the request %d", a, a.id, id)
	}
	return a, err
}

// init sends INIT with version and returns the answer.
func (c *sftpChan) init(version uint32) (answer, error) {
	if err := c.send((&pkt{b: []byte{fxpInit}}).u32(version).frame()); err != nil {
		return answer{}, err
	}
	return c.next()
}

// endedWithin reports whether the server ended the channel within d.
func (c *sftpChan) endedWithin(d time.Duration) bool {
	select {
	case <-c.ended:
		return true
	case <-time.After(d):
		return false
	}
}

func (c *sftpChan) Close() { c.s.Close() }

// sshLogin dials addr and logs in with a password (the host key is not
// what these tests are about).
func sshLogin(addr, user, pw string) (*ssh.Client, error) {
	nc, err := net.DialTimeout("tcp", addr, sftpIOTimeout)
	if err != nil {
		return nil, err
	}
	nc.SetDeadline(time.Now().Add(sftpIOTimeout))
	cfg := &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.Password(pw)}, HostKeyCallback: ssh.InsecureIgnoreHostKey()}
	conn, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	if err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	return ssh.NewClient(conn, chans, reqs), nil
}
