package ftpd

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"ftpx/server"
)

// handleUser takes the user name; PASS logs in. With require_tls, a login
// on a plaintext control connection is refused before the password is
// even asked for.
func (c *session) handleUser(arg string) error {
	if c.login != nil {
		return c.reply(503, "already logged in as "+c.login.User)
	}
	if c.core.RequireTLS && !c.tls {
		c.log.Info("user refused: tls required", "user", arg)
		return c.reply(530, "TLS required: send AUTH TLS first")
	}
	c.user = arg
	if arg == server.AnonymousUser && c.core.LiveSettings().AnonymousRoot != "" {
		return c.reply(331, "anonymous login: any password (your e-mail address)")
	}
	return c.reply(331, "password required for "+arg)
}

// handlePass logs the user in through the server's Login: the same
// accounts, throttling, bans, anonymous access and session limits as the
// native protocol.
func (c *session) handlePass(arg string) error {
	switch {
	case c.login != nil:
		return c.reply(503, "already logged in as "+c.login.User)
	case c.user == "":
		return c.reply(503, "send USER first")
	case c.core.RequireTLS && !c.tls:
		return c.reply(530, "TLS required: send AUTH TLS first")
	}
	user := c.user
	c.user = ""
	l, err := c.core.Login(c.ctx, c.log, server.ProtocolFTP, c.remote.String(), user, arg)
	if err != nil {
		code, _ := codeFor(err)
		if code == 451 {
			c.reply(421, "cannot open your home; try later")
			return errors.New("login: cannot open the home")
		}
		return c.reply(code, err.Error())
	}
	c.login, c.home, c.cwd = l, l.Home, "/"
	c.log = c.log.With("user", l.User)
	if l.Anonymous {
		return c.reply(230, "logged in as anonymous (read only)")
	}
	return c.reply(230, "logged in as "+l.User)
}

// handleQuit says goodbye, with the goodbye text; the session ends.
func (c *session) handleQuit(string) error {
	text := "goodbye"
	if g := c.core.LiveSettings().Goodbye; g != "" {
		text = g + "\n" + text
	}
	c.reply(221, text)
	return errQuit
}

// handleAuth switches the control connection to TLS (explicit FTPS, RFC
// 4217) with the server's certificate.
func (c *session) handleAuth(arg string) error {
	mech := strings.ToUpper(strings.TrimSpace(arg))
	switch {
	case mech != "TLS" && mech != "TLS-C" && mech != "SSL":
		return c.reply(504, "AUTH "+arg+" not supported; use AUTH TLS")
	case c.core.TLSConfig == nil:
		return c.reply(534, "TLS is not configured on this server")
	case c.tls:
		return c.reply(503, "already TLS")
	case c.r.Buffered() > 0:
		// Sent before our answer, it would be read as plaintext.
		c.reply(503, "data after AUTH TLS before its answer")
		return errors.New("auth tls: data before the handshake")
	}
	if err := c.reply(234, "AUTH TLS ok; start the handshake"); err != nil {
		return err
	}
	tc := tls.Server(c.tcp, c.core.TLSConfig)
	_, timeout := c.core.Timeouts()
	c.tcp.SetDeadline(time.Now().Add(timeout))
	if err := tc.Handshake(); err != nil {
		c.log.Warn("tls handshake failed", "err", err)
		return errors.New("tls handshake failed")
	}
	c.tcp.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	c.log.Info("tls on", "version", tls.VersionName(st.Version), "cipher", tls.CipherSuiteName(st.CipherSuite))
	c.conn, c.tls = tc, true
	c.r = bufio.NewReaderSize(tc, maxLine)
	return nil
}

// handlePbsz accepts the only buffer size of TLS over a stream: 0.
func (c *session) handlePbsz(arg string) error {
	if !c.tls {
		return c.reply(503, "PBSZ needs AUTH TLS first")
	}
	return c.reply(200, "PBSZ=0")
}

// handleProt sets the protection of data connections: P (TLS) or C
// (clear; refused with require_tls).
func (c *session) handleProt(arg string) error {
	level, err := parseProt(arg)
	switch {
	case err != nil:
		return c.reply(504, "PROT "+arg+" unknown; use P or C")
	case !c.tls:
		return c.reply(503, "PROT needs AUTH TLS first")
	case level == 'P':
		c.protected = true
		return c.reply(200, "PROT P: data connections are TLS")
	case level == 'C' && c.core.RequireTLS:
		return c.reply(534, "this server requires PROT P")
	case level == 'C':
		c.protected = false
		return c.reply(200, "PROT C: data connections are clear")
	}
	return c.reply(536, "PROT "+string(level)+" not supported; use P or C")
}

// handleFeat lists the extensions (RFC 2389).
func (c *session) handleFeat(string) error {
	feats := []string{"Features:"}
	if c.core.TLSConfig != nil {
		feats = append(feats, " AUTH TLS", " PBSZ", " PROT")
	}
	feats = append(feats, " EPRT", " EPSV", " MDTM", " MFMT", " SIZE", " REST STREAM", " TVFS", " UTF8",
		" MLST "+mlstFacts, " XMD5", " HASH MD5*", "End")
	return c.reply(211, strings.Join(feats, "\n"))
}

// handleOpts sets options: UTF8 (always on), MLST facts (all are sent),
// HASH's algorithm (MD5, the only one).
func (c *session) handleOpts(arg string) error {
	cmd, opts := parseOpts(arg)
	switch {
	case cmd == "UTF8" && (opts == "" || strings.EqualFold(opts, "ON")):
		return c.reply(200, "UTF8 is always on")
	case cmd == "MLST":
		return c.reply(200, "MLST OPTS "+mlstFacts)
	case cmd == "HASH" && (opts == "" || strings.EqualFold(opts, "MD5")):
		return c.reply(200, "MD5")
	case cmd == "HASH":
		return c.reply(501, "HASH "+opts+" not supported; MD5 is")
	}
	return c.reply(501, "OPTS "+arg+" not supported")
}

func (c *session) handleSyst(string) error { return c.reply(215, "UNIX Type: L8") }
func (c *session) handleNoop(string) error { return c.reply(200, "ok") }
func (c *session) handleAllo(string) error { return c.reply(202, "no storage allocation needed") }

// handleHelp lists the commands.
func (c *session) handleHelp(string) error {
	var b strings.Builder
	b.WriteString("commands:\n")
	n := 0
	for _, v := range sortedVerbs() {
		fmt.Fprintf(&b, " %-5s", v)
		if n++; n%10 == 0 {
			b.WriteString("\n")
		}
	}
	return c.reply(214, strings.TrimRight(b.String(), "\n")+"\nok")
}
