package s3home

import (
	"encoding/hex"
	"strings"

	"github.com/minio/minio-go/v7"
)

// The MD5 of a file ftpx verified is kept where a get reads it without
// reading the file: a small PUT carries it in the object's metadata; a
// multipart upload, whose metadata is fixed before the content is known
// (and which a copy onto itself would rewrite whole), keeps it in a
// sidecar, PartialDir/sums/ETAG, named by the ETag the store gave the
// object. A replaced object has another ETag, so a sidecar is never taken
// for another content; one whose object is gone is a few bytes that
// nothing reads (rm of a file removes it).

// sumKey is the sidecar of the object with the given multipart ETag.
func (t *FS) sumKey(etag string) string { return t.partials() + "sums/" + etag }

// multipartETag reports whether etag is a multipart object's ("HEX-N"),
// whose content MD5 is not its ETag and may have a sidecar.
func multipartETag(etag string) bool {
	hexPart, n, ok := strings.Cut(etag, "-")
	_, err := hex.DecodeString(hexPart)
	return ok && err == nil && n != "" && !strings.ContainsAny(n, "/")
}

// keepSum writes the sidecar of the object whose ETag is etag.
func (t *FS) keepSum(etag, md5 string) {
	if multipartETag(etag) {
		t.putSmall(t.sumKey(etag), []byte(md5), minio.PutObjectOptions{})
	}
}

// knownSum fills in fi's MD5 from its sidecar, if it has one.
func (t *FS) knownSum(fi *info) {
	if fi.md5 != "" || !multipartETag(fi.etag) {
		return
	}
	if b, _, err := t.getSmall(t.sumKey(fi.etag)); err == nil && len(b) == 32 {
		if _, err := hex.DecodeString(string(b)); err == nil {
			fi.md5 = string(b)
		}
	}
}

// dropSum removes the sidecar of a file being removed.
func (t *FS) dropSum(etag string) {
	if multipartETag(etag) {
		t.delete("rm", "sum", t.sumKey(etag))
	}
}
