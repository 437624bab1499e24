package s3home

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"syscall"

	"ftpx/home"

	"github.com/minio/minio-go/v7"
)

// storeErr is a failure of the store, as the home sentinel it means and a
// short cause. Its text never holds a key, a URL or the store's address:
// those are the server's own, and errors reach clients.
type storeErr struct {
	kind  error  // a home sentinel, or nil
	cause string // "connection refused", "timeout", an S3 error code...
}

func (e *storeErr) Error() string {
	if e.kind == nil {
		return "store error: " + e.cause
	}
	return e.kind.Error() + " (" + e.cause + ")"
}

func (e *storeErr) Unwrap() error { return e.kind }

// kindOf turns an error from minio-go into a storeErr: ErrNotExist for a
// missing key, ErrChanged for a failed condition, ErrBadPath for a name
// the store refuses (400), ErrUnavailable for a
// store that cannot be reached, does not answer in time, or fails on its
// side (5xx), or refuses the server's credentials.
func kindOf(err error) error {
	if err == nil {
		return nil
	}
	var se *storeErr
	if errors.As(err, &se) {
		return err
	}
	resp := minio.ToErrorResponse(err)
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return &storeErr{home.ErrNotExist, resp.Code}
	case resp.StatusCode == http.StatusPreconditionFailed, resp.Code == "PreconditionFailed":
		return &storeErr{home.ErrChanged, resp.Code}
	case resp.StatusCode == http.StatusBadRequest:
		// Built from a home path: the store does not take that name
		// (MinIO refuses some that a file system allows, such as ". ").
		return &storeErr{home.ErrBadPath, resp.Code}
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusForbidden, resp.StatusCode == http.StatusUnauthorized:
		return &storeErr{home.ErrUnavailable, resp.Code}
	case resp.StatusCode != 0:
		return &storeErr{nil, resp.Code}
	}
	return &storeErr{home.ErrUnavailable, causeOf(err)}
}

// causeOf names a transport failure without its URL.
func causeOf(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}

// unavailable reports whether err means the store cannot be used now.
func unavailable(err error) bool { return errors.Is(kindOf(err), home.ErrUnavailable) }

// notFound reports whether err is the store saying there is no such key.
func notFound(err error) bool { return errors.Is(kindOf(err), home.ErrNotExist) }

// opErr wraps a store failure as "op name: kind (cause)", name being a
// home path.
func opErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %s: %w", op, name, kindOf(err))
}
