package protocol

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"strings"
)

// Fingerprint is how ftpx shows and pins a server certificate: the SHA-256
// of its DER bytes, as "SHA256:" and colon-separated upper-case hex, the
// form `openssl x509 -noout -fingerprint -sha256` prints, so an operator
// can compare the two.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return "SHA256:" + colonHex(sum[:])
}

// FingerprintSHA1 is the SHA-1 of the certificate's DER bytes, as
// "SHA1:" and colon-separated upper-case hex: what lftp and FileZilla
// show a user asked to trust a certificate (`openssl x509 -noout
// -fingerprint -sha1` prints the same hex). The server logs it beside
// Fingerprint; ftpx pins only the SHA-256.
func FingerprintSHA1(cert *x509.Certificate) string {
	sum := sha1.Sum(cert.Raw)
	return "SHA1:" + colonHex(sum[:])
}

func colonHex(sum []byte) string {
	var b strings.Builder
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}
