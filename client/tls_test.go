package client_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ftpx/client"
	"ftpx/ftpxtest"
	"ftpx/server"
)

// caSigned makes a CA and a server certificate for 127.0.0.1 signed by
// it, and returns the CA's PEM file and the server's certificate.
func caSigned(t *testing.T) (caFile string, cert tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "ftpx test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	cert, err = tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644)
	return caFile, cert
}

func tlsServer(t *testing.T, cert tls.Certificate) *ftpxtest.Server {
	ts := ftpxtest.NewServer(t, func(s *server.Server) { s.TLSConfig = server.TLSConfig(cert) })
	ts.AddUser(t, "alex", "pw-alex", -1)
	return ts
}

func dialTLS(t *testing.T, addr string, opts client.TLSOptions) error {
	t.Helper()
	c, err := client.Dial(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(t.Context(), opts); err != nil {
		return err
	}
	if err := c.Auth(t.Context(), "alex", "pw-alex"); err != nil {
		t.Fatalf("auth over TLS: %v", err)
	}
	local := filepath.Join(t.TempDir(), "f")
	os.WriteFile(local, bytes.Repeat([]byte("x"), 100_000), 0o644)
	if _, err := c.Put(t.Context(), local, "f", nil); err != nil {
		t.Fatalf("put over TLS: %v", err)
	}
	return nil
}

func TestTLSWithCASignedCertificate(t *testing.T) {
	caFile, cert := caSigned(t)
	ts := tlsServer(t, cert)
	known := filepath.Join(t.TempDir(), "known_servers")
	if err := dialTLS(t, ts.Addr, client.TLSOptions{CA: caFile, KnownServers: known}); err != nil {
		t.Fatalf("CA-signed: %v", err)
	}
	if _, err := os.Stat(known); !os.IsNotExist(err) {
		t.Fatal("a verified server was pinned")
	}
	// Without the CA (system roots only) it cannot be verified: refused.
	err := dialTLS(t, ts.Addr, client.TLSOptions{KnownServers: known})
	if !errors.Is(err, client.ErrTLS) || client.ExitCode(err) != 1 || !strings.Contains(err.Error(), "SHA256:") {
		t.Fatalf("unverifiable without --trust-new-server: %v", err)
	}
}

func TestTLSTrustOnFirstUseThenPinned(t *testing.T) {
	cert, err := server.AutoCert(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ts := tlsServer(t, cert)
	known := filepath.Join(t.TempDir(), "cfg", "known_servers")
	if err := dialTLS(t, ts.Addr, client.TLSOptions{KnownServers: known, TrustNew: true}); err != nil {
		t.Fatalf("first use: %v", err)
	}
	fp, _ := server.CertFingerprint(cert)
	if b, _ := os.ReadFile(known); string(b) != ts.Addr+" "+fp+"\n" {
		t.Fatalf("known_servers: %q", b)
	}
	if err := dialTLS(t, ts.Addr, client.TLSOptions{KnownServers: known}); err != nil {
		t.Fatalf("pinned, without --trust-new-server: %v", err)
	}
	asked := false
	ask := func(addr, f string) bool { asked = true; return f == fp }
	other := filepath.Join(t.TempDir(), "known_servers")
	if err := dialTLS(t, ts.Addr, client.TLSOptions{KnownServers: other, Ask: ask}); err != nil || !asked {
		t.Fatalf("asked %v: %v", asked, err)
	}
}

func TestTLSChangedCertificateRefused(t *testing.T) {
	first, _ := server.AutoCert(t.TempDir())
	second, _ := server.AutoCert(t.TempDir())
	ts := tlsServer(t, first)
	known := filepath.Join(t.TempDir(), "known_servers")
	if err := dialTLS(t, ts.Addr, client.TLSOptions{KnownServers: known, TrustNew: true}); err != nil {
		t.Fatal(err)
	}
	ts2 := tlsServer(t, second)
	b, _ := os.ReadFile(known)
	os.WriteFile(known, []byte(strings.Replace(string(b), ts.Addr, ts2.Addr, 1)), 0o600)
	err := dialTLS(t, ts2.Addr, client.TLSOptions{KnownServers: known, TrustNew: true})
	fp1, _ := server.CertFingerprint(first)
	fp2, _ := server.CertFingerprint(second)
	if !errors.Is(err, client.ErrTLS) || !strings.Contains(err.Error(), fp1) || !strings.Contains(err.Error(), fp2) {
		t.Fatalf("changed certificate with --trust-new-server: %v; want a refusal naming both fingerprints", err)
	}
}
