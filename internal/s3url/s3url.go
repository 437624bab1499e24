// Package s3url reads the s3://BUCKET[/PREFIX] URLs that name a tree on
// an object store: the server's root, or a folder in the accounts file.
// conf, accounts and s3home share it so that all three accept the same
// URLs and spell them the same way.
package s3url

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Scheme starts every URL this package reads.
const Scheme = "s3://"

// Is reports whether s is meant as an object-store URL.
func Is(s string) bool { return strings.HasPrefix(s, Scheme) }

// URL is a bucket and a key prefix within it.
type URL struct {
	Bucket string
	Prefix string // "" (the whole bucket) or clean elements joined by '/', without a leading or trailing '/'
}

// Parse reads s3://BUCKET[/PREFIX]. The bucket name follows S3's rules
// (3-63 of a-z 0-9 . -, starting and ending with a letter or digit); the
// prefix may not hold empty, "." or ".." elements, control characters or
// a backslash, nor any element starting with ".ftpx" (the server's own
// names). A trailing '/' is dropped.
func Parse(s string) (URL, error) {
	rest, ok := strings.CutPrefix(s, Scheme)
	if !ok {
		return URL{}, fmt.Errorf("%q does not start with %s", s, Scheme)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if err := checkBucket(bucket); err != nil {
		return URL{}, fmt.Errorf("%q: %v", s, err)
	}
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix != "" {
		for _, e := range strings.Split(prefix, "/") {
			switch {
			case e == "" || e == "." || e == "..":
				return URL{}, fmt.Errorf("%q: prefix element %q is not allowed", s, e)
			case strings.HasPrefix(e, ".ftpx"):
				return URL{}, fmt.Errorf("%q: prefix element %q is reserved", s, e)
			case strings.ContainsFunc(e, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }):
				return URL{}, fmt.Errorf("%q: control character or backslash in the prefix", s)
			}
		}
		if len(prefix) > 512 {
			return URL{}, fmt.Errorf("%q: prefix longer than 512 bytes", s)
		}
	}
	return URL{Bucket: bucket, Prefix: prefix}, nil
}

// String returns the URL in its canonical spelling.
func (u URL) String() string {
	if u.Prefix == "" {
		return Scheme + u.Bucket
	}
	return Scheme + u.Bucket + "/" + u.Prefix
}

// KeyPrefix returns the prefix of every key of the tree: "" for a whole
// bucket, else PREFIX/.
func (u URL) KeyPrefix() string {
	if u.Prefix == "" {
		return ""
	}
	return u.Prefix + "/"
}

func checkBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("bucket name %q must be 3 to 63 characters", b)
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		edge := i == 0 || i == len(b)-1
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '.' || c == '-') && !edge:
		default:
			return fmt.Errorf("bucket name %q: only a-z 0-9 . - (starting and ending with a letter or digit)", b)
		}
	}
	if strings.Contains(b, "..") {
		return fmt.Errorf("bucket name %q: two dots in a row", b)
	}
	return nil
}

// CheckEndpoint reads the URL of a store: http:// for a loopback host
// only (anything else would send the data in the clear), https:// for any
// host; SCHEME://HOST[:PORT] and nothing more.
func CheckEndpoint(endpoint string) (*url.URL, error) {
	u, err := url.Parse(endpoint)
	switch {
	case endpoint == "":
		return nil, errors.New("s3 endpoint: none given (--s3-endpoint URL)")
	case err != nil:
		return nil, fmt.Errorf("s3 endpoint %q: %v", endpoint, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("s3 endpoint %q: want http:// or https://", endpoint)
	case u.Host == "" || u.User != nil || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("s3 endpoint %q: want SCHEME://HOST[:PORT] and nothing more", endpoint)
	case u.Scheme == "http" && !loopback(u.Hostname()):
		return nil, fmt.Errorf("s3 endpoint %q: http:// is for loopback addresses only; use https://", endpoint)
	}
	return u, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
