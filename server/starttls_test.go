package server_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"testing"

	"ftpx/accounts"
	"ftpx/ftpxtest"
	"ftpx/protocol"
	"ftpx/server"
)

// startTLS switches rc to TLS, trusting only the given certificate.
func (rc *raw) startTLS(t *testing.T, cert tls.Certificate) *tls.ConnectionState {
	t.Helper()
	if resp := rc.do(protocol.Request{Action: "starttls", ID: "s"}); resp.Status != protocol.StatusOK || resp.ID != "s" {
		t.Fatalf("starttls: %d %s", resp.Status, resp.Msg)
	}
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	tc := tls.Client(rc.conn, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	rc.conn, rc.r = tc, bufio.NewReader(tc)
	st := tc.ConnectionState()
	return &st
}

func withTLS(t *testing.T, require bool) (*ftpxtest.Server, tls.Certificate) {
	cert, err := server.AutoCert(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ts := ftpxtest.NewServer(t, func(s *server.Server) { s.TLSConfig, s.RequireTLS = server.TLSConfig(cert), require })
	ts.AddUser(t, "alex", "pw-alex", accounts.Unlimited)
	return ts, cert
}

func TestStartTLSRoundTrip(t *testing.T) {
	ts, cert := withTLS(t, false)
	rc := dialRaw(t, ts.Addr)
	if !rc.hi.TLS {
		t.Fatal("greeting does not offer TLS")
	}
	if st := rc.startTLS(t, cert); st.Version != tls.VersionTLS13 {
		t.Fatalf("TLS version %x, want 1.3", st.Version)
	}
	if resp := rc.do(protocol.Request{Action: "auth", Username: "alex", Password: "pw-alex"}); resp.Status != protocol.StatusLoggedIn {
		t.Fatalf("auth over TLS: %d", resp.Status)
	}
	body := randomBytes(t, 3<<20)
	if resp := rc.put("f.bin", body, md5hex(body)); resp.Status != protocol.StatusMD5OK {
		t.Fatalf("put over TLS: %d %s", resp.Status, resp.Msg)
	}
	if _, data, sum := rc.get("f.bin"); !bytes.Equal(data, body) || sum != md5hex(body) {
		t.Fatal("get over TLS differs")
	}
	if resp := rc.do(protocol.Request{Action: "starttls"}); resp.Status != protocol.StatusBadCommand {
		t.Fatalf("starttls twice: %d", resp.Status)
	}
}

func TestRequireTLSRefusesPlaintext(t *testing.T) {
	ts, cert := withTLS(t, true)
	rc := dialRaw(t, ts.Addr)
	for _, req := range []protocol.Request{{Action: "auth", Username: "alex", Password: "pw-alex"}, {Action: "ls"}, {Action: "quit"}} {
		if resp := rc.do(req); resp.Status != protocol.StatusTLSRequired {
			t.Fatalf("%s in plaintext: %d, want 283", req.Action, resp.Status)
		}
	}
	rc.startTLS(t, cert)
	if resp := rc.do(protocol.Request{Action: "auth", Username: "alex", Password: "pw-alex"}); resp.Status != protocol.StatusLoggedIn {
		t.Fatalf("auth after starttls: %d", resp.Status)
	}
}

func TestStartTLSWithoutTLSRefused(t *testing.T) {
	ts := ftpxtest.NewServer(t)
	rc := dialRaw(t, ts.Addr)
	if rc.hi.TLS {
		t.Fatal("greeting offers TLS without a certificate")
	}
	if resp := rc.do(protocol.Request{Action: "starttls"}); resp.Status != protocol.StatusBadCommand {
		t.Fatalf("starttls: %d, want 251", resp.Status)
	}
}

func TestAutoCertIsKept(t *testing.T) {
	root := t.TempDir()
	a, err := server.AutoCert(root)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := server.AutoCert(root)
	fa, _ := server.CertFingerprint(a)
	fb, _ := server.CertFingerprint(b)
	if fa != fb || len(fa) != len("SHA256:")+32*3-1 {
		t.Fatalf("fingerprints %s and %s", fa, fb)
	}
}
