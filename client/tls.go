package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"

	"ftpx/protocol"
)

// TLSOptions say how to switch a connection to TLS and whom to trust.
type TLSOptions struct {
	// CA is a PEM file of certificates to trust instead of the system
	// roots; "" means the system roots.
	CA string
	// KnownServers is the file of pinned fingerprints; "" means
	// DefaultKnownServers().
	KnownServers string
	// TrustNew pins the certificate of a server that cannot be verified
	// and that is not pinned yet, without asking (for scripts).
	TrustNew bool
	// Ask, when set, is asked whether to trust and pin such a server
	// (on a terminal); nil refuses it unless TrustNew.
	Ask func(addr, fingerprint string) bool
}

// ErrTLS marks a refused server certificate: never retried (exit 1).
var ErrTLS = errors.New("server certificate refused")

// StartTLS asks the server to switch to TLS and runs the handshake. The
// certificate is accepted when it matches the fingerprint pinned for this
// server; a pinned server whose fingerprint changed is refused, naming
// both, whatever the options say. A server not pinned is accepted when its
// chain verifies against the roots (the system's, or opts.CA) for its host
// name, else pinned on first use if opts.TrustNew or opts.Ask says so.
func (c *Client) StartTLS(ctx context.Context, opts TLSOptions) error {
	if !c.greeting.TLS {
		return &opError{op: "starttls", path: c.addr, kind: ErrTLS, err: errors.New("the server does not offer TLS")}
	}
	resp, err := c.roundTrip1(ctx, "starttls", c.addr, &protocol.Request{Action: protocol.ActionStartTLS})
	if err != nil {
		return err
	}
	if err := expect(resp, "starttls", c.addr, protocol.StatusOK); err != nil {
		return err
	}
	if c.br.Buffered() > 0 {
		return c.fail(ctx, "starttls", c.addr, ErrProtocol, errors.New("data after the starttls answer"))
	}
	v := &verifier{addr: c.addr, opts: opts}
	host, _, _ := net.SplitHostPort(c.addr)
	tc := tls.Client(c.conn, &tls.Config{
		ServerName:         host,
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // verifier.check does the verification, pins included
		VerifyConnection:   v.check,
	})
	stop := c.watch(ctx)
	err = tc.HandshakeContext(ctx)
	stop()
	if err != nil {
		c.conn.Close()
		c.err = ErrClosed
		if v.refused != nil {
			return v.refused
		}
		return &opError{op: "starttls", path: c.addr, kind: ErrConnection, err: err}
	}
	c.conn = tc
	c.rw = &deadlineConn{Conn: tc, timeout: ioTimeout}
	c.br = bufio.NewReader(c.rw)
	return nil
}

// verifier checks a server certificate against the pins and the roots.
type verifier struct {
	addr    string
	opts    TLSOptions
	refused error // why check refused, for StartTLS to return as is
}

func (v *verifier) check(cs tls.ConnectionState) error {
	err := v.decide(cs)
	if err != nil {
		v.refused = &opError{op: "starttls", path: v.addr, kind: ErrTLS, err: err}
	}
	return err
}

func (v *verifier) decide(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("no certificate")
	}
	leaf := cs.PeerCertificates[0]
	fp := protocol.Fingerprint(leaf)
	known, err := loadKnown(v.knownFile())
	if err != nil {
		return err
	}
	if pinned, ok := known[v.addr]; ok {
		if pinned != fp {
			return fmt.Errorf("the certificate changed: pinned %s, now %s; if the change is expected, remove %s from %s", pinned, fp, v.addr, v.knownFile())
		}
		return nil
	}
	roots, err := v.roots()
	if err != nil {
		return err
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, verr := leaf.Verify(x509.VerifyOptions{DNSName: cs.ServerName, Roots: roots, Intermediates: inter}); verr == nil {
		return nil
	} else if !v.opts.TrustNew && (v.opts.Ask == nil || !v.opts.Ask(v.addr, fp)) {
		return fmt.Errorf("cannot verify the certificate (%v); its fingerprint is %s: check it with the server's operator, then trust it with --trust-new-server", verr, fp)
	}
	return pin(v.knownFile(), v.addr, fp)
}

func (v *verifier) knownFile() string {
	if v.opts.KnownServers != "" {
		return v.opts.KnownServers
	}
	return DefaultKnownServers()
}

// roots returns the pool to verify against: opts.CA, or the system's.
func (v *verifier) roots() (*x509.CertPool, error) {
	if v.opts.CA == "" {
		return nil, nil // x509 uses the system roots
	}
	b, err := os.ReadFile(v.opts.CA)
	if err != nil {
		return nil, fmt.Errorf("--ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("--ca %s: no PEM certificate in it", v.opts.CA)
	}
	return pool, nil
}
