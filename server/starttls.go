package server

import (
	"crypto/tls"
	"errors"
	"time"

	"ftpx/protocol"
)

// handleStartTLS answers 260, then runs the TLS handshake on the
// connection; everything after it, auth included, goes through TLS.
func (c *session) handleStartTLS(req *protocol.Request) error {
	switch {
	case c.srv.TLSConfig == nil:
		return c.reply(req, protocol.StatusBadCommand, "starttls: this server does not offer TLS")
	case c.tls:
		return c.reply(req, protocol.StatusBadCommand, "starttls: already TLS")
	case c.r.Buffered() > 0:
		// Bytes sent before our answer would be read as plaintext after
		// the switch: a client that does this is not speaking ftpx.
		c.reply(req, protocol.StatusBadFormat, "starttls: data after starttls before its answer")
		return errors.New("starttls: data before the handshake")
	}
	c.reply(req, protocol.StatusOK, "start TLS")
	if err := c.out.Flush(); err != nil {
		return err
	}
	tc := tls.Server(c.rate, c.srv.TLSConfig)
	c.tcp.SetDeadline(time.Now().Add(c.srv.transferTimeout()))
	if err := tc.Handshake(); err != nil {
		c.log.Warn("tls handshake failed", "id", req.ID, "err", err)
		return errors.New("tls handshake failed")
	}
	c.tcp.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	c.log.Info("tls on", "id", req.ID, "version", tls.VersionName(st.Version), "cipher", tls.CipherSuiteName(st.CipherSuite))
	c.conn, c.tls = tc, true
	c.out.dst, c.out.setDL = tc, tc.SetWriteDeadline
	c.r = newConnReader(flushingReader{tc, c.out})
	return nil
}
