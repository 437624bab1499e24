package ftpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"ftpx/protocol"
	"ftpx/server"
)

// Data connections. Passive ones (PASV, EPSV) listen on the address the
// client reached the control connection at, on a port of the configured
// range, and accept only a connection from the control connection's own
// peer address. Active ones (PORT, EPRT) connect only to that address too
// (no FTP bounce, RFC 2577), from ours. With PROT P both are TLS.

// handlePasv opens a passive listener and gives its address (IPv4 only).
func (c *session) handlePasv(string) error {
	ip := c.local.To4()
	if ip == nil {
		return c.reply(425, "PASV works over IPv4 only; use EPSV")
	}
	port, err := c.listenPassive()
	if err != nil {
		return c.reply(425, "cannot open a passive data connection")
	}
	return c.reply(227, fmt.Sprintf("Entering Passive Mode (%d,%d,%d,%d,%d,%d)", ip[0], ip[1], ip[2], ip[3], port>>8, port&0xff))
}

// handleEpsv opens a passive listener and gives its port (RFC 2428);
// "EPSV ALL" refuses PORT and EPRT from then on.
func (c *session) handleEpsv(arg string) error {
	switch strings.ToUpper(strings.TrimSpace(arg)) {
	case "ALL":
		c.epsvAll = true
		return c.reply(200, "EPSV ALL: passive data connections only")
	case "", "1", "2":
	default:
		return c.reply(522, "network protocol not supported, use (1,2)")
	}
	port, err := c.listenPassive()
	if err != nil {
		return c.reply(425, "cannot open a passive data connection")
	}
	return c.reply(229, fmt.Sprintf("Entering Extended Passive Mode (|||%d|)", port))
}

// listenPassive replaces the session's passive listener with a new one on
// the control connection's local address, and returns its port.
func (c *session) listenPassive() (int, error) {
	c.closeData()
	l, err := c.srv.listenOn(c.local)
	if err != nil {
		c.log.Warn("passive listen failed", "err", err)
		return 0, err
	}
	c.dataMu.Lock()
	c.pasv = l
	c.dataMu.Unlock()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// listenOn listens on ip at a free port of the passive range (any free
// port without one), trying each port of the range once, from a point
// that moves with every call.
func (s *Server) listenOn(ip net.IP) (*net.TCPListener, error) {
	lo, hi := s.PassiveMin, s.PassiveMax
	ranged := lo > 0 && hi >= lo
	if !ranged {
		// Any free port: picked here, at random in the kernel's
		// ephemeral range, as vsftpd does. Asking the kernel for port 0
		// makes it search that range for one, which with the thousands
		// of connections in TIME_WAIT that a mirror of small files
		// leaves behind cost about 2 ms a PASV (73% of the server's CPU
		// during an lftp mirror of 10,000 files).
		lo, hi = ephemeralPorts()
	}
	n := hi - lo + 1
	start := int(s.nextPort.Add(1))
	if !ranged {
		start = rand.IntN(n)
	}
	tries := n
	if !ranged {
		tries = min(n, 64)
	}
	var err error
	for i := range tries {
		var l *net.TCPListener
		if l, err = listenTCP(&net.TCPAddr{IP: ip, Port: lo + (start+i)%n}); err == nil {
			return l, nil
		}
	}
	if !ranged {
		return listenTCP(&net.TCPAddr{IP: ip})
	}
	return nil, fmt.Errorf("no free port in %d-%d: %w", lo, hi, err)
}

// listenTCP listens on a for one data connection: plain TCP (Go would
// otherwise ask for MPTCP, which a data connection has no use for).
func listenTCP(a *net.TCPAddr) (*net.TCPListener, error) {
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	l, err := lc.Listen(context.Background(), "tcp", a.String())
	if err != nil {
		return nil, err
	}
	return l.(*net.TCPListener), nil
}

// ephemeralPorts is the kernel's range for ports picked for the asker
// (/proc/sys/net/ipv4/ip_local_port_range), or Linux's default.
var ephemeralPorts = sync.OnceValues(func() (int, int) {
	lo, hi := 32768, 60999
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var a, z int
		if k, _ := fmt.Sscan(string(b), &a, &z); k == 2 && a > 1023 && z >= a && z < 65536 {
			lo, hi = a, z
		}
	}
	return lo, hi
})

// handlePort takes the address of an active data connection: only the
// control connection's peer, at an unprivileged port.
func (c *session) handlePort(arg string) error {
	a, err := parsePort(arg)
	if err != nil {
		return c.reply(501, "PORT h1,h2,h3,h4,p1,p2 expected")
	}
	return c.activeTo("PORT", a)
}

// handleEprt is PORT for IPv4 and IPv6 (RFC 2428).
func (c *session) handleEprt(arg string) error {
	a, err := parseEPRT(arg)
	if err != nil {
		return c.reply(501, "EPRT |1|h.h.h.h|port| or |2|h::h|port| expected")
	}
	return c.activeTo("EPRT", a)
}

func (c *session) activeTo(verb string, a *net.TCPAddr) error {
	switch {
	case c.epsvAll:
		return c.reply(503, verb+" refused after EPSV ALL")
	case !a.IP.Equal(c.remote):
		c.log.Warn("ftp bounce refused", "command", verb, "to", a.String())
		return c.reply(504, verb+" refused: data connections go to the control connection's address only")
	case a.Port < 1024:
		return c.reply(504, verb+" refused: privileged port")
	}
	c.closeData()
	c.dataMu.Lock()
	c.port = a
	c.dataMu.Unlock()
	return c.reply(200, verb+" ok")
}

// handleType accepts ASCII and image (binary); files are always sent as
// they are, as most servers do today.
func (c *session) handleType(arg string) error {
	switch strings.ToUpper(strings.Join(strings.Fields(arg), " ")) {
	case "I", "L 8":
		return c.reply(200, "type set to I (binary)")
	case "A", "A N":
		return c.reply(200, "type set to A (files are sent as they are)")
	}
	return c.reply(504, "TYPE "+arg+" not supported; use I")
}

func (c *session) handleMode(arg string) error {
	if strings.EqualFold(strings.TrimSpace(arg), "S") {
		return c.reply(200, "mode S (stream)")
	}
	return c.reply(504, "only MODE S (stream) is supported")
}

func (c *session) handleStru(arg string) error {
	if strings.EqualFold(strings.TrimSpace(arg), "F") {
		return c.reply(200, "structure F (file)")
	}
	return c.reply(504, "only STRU F (file) is supported")
}

// dataRefusal returns why a data transfer cannot start now ("" when it
// can): no PASV/EPSV/PORT/EPRT before it, or PROT C with require_tls.
func (c *session) dataRefusal() (int, string) {
	c.dataMu.Lock()
	ready := c.pasv != nil || c.port != nil
	c.dataMu.Unlock()
	switch {
	case !ready:
		return 425, "use PASV, EPSV, PORT or EPRT first"
	case c.core.RequireTLS && !c.protected:
		return 521, "data connections must be protected: send PBSZ 0 and PROT P"
	}
	return 0, ""
}

// openData makes the data connection of the command running: it accepts
// on the passive listener (the control connection's peer only) or
// connects to the PORT address, within the transfer timeout, and runs the
// TLS handshake with PROT P. The listener or address is used up. The
// connection is slowed to the user's rates.
func (c *session) openData() (net.Conn, error) {
	c.dataMu.Lock()
	l, a := c.pasv, c.port
	c.pasv, c.port = nil, nil
	c.dataMu.Unlock()
	_, timeout := c.core.Timeouts()
	var conn net.Conn
	var err error
	switch {
	case l != nil:
		conn, err = c.accept(l.(*net.TCPListener), time.Now().Add(timeout))
		l.Close()
	case a != nil:
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: c.local}, Timeout: protocol.DefaultDialTimeout}
		conn, err = d.Dial("tcp", a.String())
	default:
		return nil, errors.New("no data connection set up")
	}
	if err != nil {
		return nil, err
	}
	if c.login != nil {
		conn = server.LimitRates(conn, c.login.UploadRate, c.login.DownloadRate)
	}
	if c.protected {
		tc := tls.Server(conn, c.core.TLSConfig)
		conn.SetDeadline(time.Now().Add(timeout))
		if err := tc.Handshake(); err != nil {
			conn.Close()
			return nil, fmt.Errorf("data connection tls: %w", err)
		}
		conn.SetDeadline(time.Time{})
		conn = tc
	}
	c.dataMu.Lock()
	c.data = conn
	c.dataMu.Unlock()
	return conn, nil
}

// accept waits for the data connection from the control connection's
// peer; others are closed at once (a passive port hijack).
func (c *session) accept(l *net.TCPListener, deadline time.Time) (net.Conn, error) {
	l.SetDeadline(deadline)
	for {
		conn, err := l.AcceptTCP()
		if err != nil {
			return nil, err
		}
		if ip := conn.RemoteAddr().(*net.TCPAddr).IP; ip.Equal(c.remote) {
			return conn, nil
		}
		c.log.Warn("data connection from another address refused", "from", conn.RemoteAddr().String())
		conn.Close()
	}
}

// endData closes the data connection of a finished command.
func (c *session) endData(conn net.Conn) {
	c.dataMu.Lock()
	if c.data == conn {
		c.data = nil
	}
	c.dataMu.Unlock()
	conn.Close()
}

// closeData closes whatever data connection or listener the session has;
// Close uses it from another goroutine.
func (c *session) closeData() {
	c.dataMu.Lock()
	defer c.dataMu.Unlock()
	if c.pasv != nil {
		c.pasv.Close()
		c.pasv = nil
	}
	if c.data != nil {
		c.data.Close()
	}
	c.port = nil
}

// sendListing sends a listing over a data connection: 150, the bytes,
// 226.
func (c *session) sendListing(verb, text string) error {
	if code, msg := c.dataRefusal(); code != 0 {
		return c.reply(code, msg)
	}
	if err := c.reply(150, "here comes the listing"); err != nil {
		return err
	}
	conn, err := c.openData()
	if err != nil {
		c.log.Info(strings.ToLower(verb)+" failed", "err", err)
		return c.reply(425, "cannot open the data connection")
	}
	_, timeout := c.core.Timeouts()
	err = c.watch(conn, func() error {
		conn.SetWriteDeadline(time.Now().Add(timeout))
		_, err := io.WriteString(conn, text)
		return err
	})
	c.endData(conn)
	return c.finish(err, "listing sent ("+strconv.Itoa(len(text))+" bytes)")
}
