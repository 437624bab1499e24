package s3home

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"

	"ftpx/accounts"
	"ftpx/internal/s3url"

	"github.com/minio/minio-go/v7"
)

// maxAccountsSize bounds an accounts file read from the store (some
// 200,000 users), so that a wrong key cannot fill the server's memory.
const maxAccountsSize = 32 << 20

// AccountsFile is an accounts file kept as one object of the store, so
// that every server reads the same one: an accounts.Source whose versions
// are the object's ETags. A reader that has a version asks for the object
// only if it changed (If-None-Match), which the store answers without a
// body when it did not, so servers can poll it every second; a write
// names the version it replaces (If-Match, or If-None-Match: * for a new
// file), so that of two edits at once the second is refused and made
// again on the first one's result.
type AccountsFile struct {
	c   *Client
	url s3url.URL
}

// AccountsFile returns the accounts file at u, whose prefix is the
// object's key.
func (c *Client) AccountsFile(u s3url.URL) (*AccountsFile, error) {
	if u.Prefix == "" {
		return nil, fmt.Errorf("accounts %s: no key (want s3://BUCKET/KEY)", u)
	}
	return &AccountsFile{c: c, url: u}, nil
}

// Name returns the file's s3:// URL.
func (a *AccountsFile) Name() string { return a.url.String() }

// Read returns the object's content and ETag, or accounts.ErrUnchanged
// when its ETag is still known. A missing object (or bucket) gives an
// error wrapping fs.ErrNotExist.
func (a *AccountsFile) Read(ctx context.Context, known string) ([]byte, string, error) {
	ctx, cancel := a.c.ctxFrom(ctx)
	defer cancel()
	var opts minio.GetObjectOptions
	if known != "" {
		opts.SetMatchETagExcept(known)
	}
	body, info, _, err := a.c.core.GetObject(ctx, a.url.Bucket, a.url.Prefix, opts)
	if minio.ToErrorResponse(err).StatusCode == http.StatusNotModified {
		return nil, known, accounts.ErrUnchanged
	}
	if notFound(err) {
		return nil, "", fmt.Errorf("accounts %s: %w (%s)", a.url, fs.ErrNotExist, minio.ToErrorResponse(err).Code)
	}
	if err != nil {
		return nil, "", a.fail("read", err)
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, maxAccountsSize+1))
	switch {
	case err != nil:
		return nil, "", a.fail("read", err)
	case len(data) > maxAccountsSize:
		return nil, "", fmt.Errorf("accounts %s: larger than %d bytes", a.url, maxAccountsSize)
	}
	return data, strings.Trim(info.ETag, `"`), nil
}

// Write replaces the object if its ETag is still version, or creates it
// if none exists when version is "" (and its bucket, as a server makes
// its root's).
func (a *AccountsFile) Write(ctx context.Context, data []byte, version string) error {
	ctx, cancel := a.c.ctxFrom(ctx)
	defer cancel()
	opts := minio.PutObjectOptions{ContentType: "text/plain; charset=utf-8", DisableContentSha256: true}
	if version == "" {
		opts.SetMatchETagExcept("*")
	} else {
		opts.SetMatchETag(version)
	}
	put := func() error {
		_, err := a.c.core.PutObject(ctx, a.url.Bucket, a.url.Prefix, bytes.NewReader(data), int64(len(data)), md5Base64(data), "", opts)
		return err
	}
	err := put()
	if version == "" && minio.ToErrorResponse(err).Code == minio.NoSuchBucket {
		if err = a.c.ensureBucket(ctx, a.url.Bucket); err == nil {
			err = put()
		}
	}
	// A store answers 409 rather than 412 when another conditional write
	// of the key is in progress (S3 does): the same lost race.
	if code := minio.ToErrorResponse(err).StatusCode; code == http.StatusPreconditionFailed || code == http.StatusConflict {
		return fmt.Errorf("accounts %s: %w", a.url, accounts.ErrConflict)
	}
	return a.fail("write", err)
}

// fail names a failure of the store with the file's URL: the admin's
// own, unlike a home's keys, which never reach a client.
func (a *AccountsFile) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("accounts %s: %s: %w", a.url, op, kindOf(err))
}
