package protocol

import (
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
	var b strings.Builder
	b.WriteString("SHA256:")
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}
