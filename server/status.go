package server

import (
	"errors"

	"ftpx/accounts"
	"ftpx/home"
	"ftpx/protocol"
)

// StatusOf is the status the native protocol answers err with, for a
// front end that reports the protocol's codes in its own way (the HTTP
// API's JSON errors).
func StatusOf(err error) protocol.Status { return statusFor(err) }

// statusFor is the one place where an error becomes a status code.
func statusFor(err error) protocol.Status {
	switch {
	case err == nil:
		return protocol.StatusOK
	case errors.Is(err, home.ErrNotExist):
		return protocol.StatusNotExist
	case errors.Is(err, home.ErrCrossFolder):
		return protocol.StatusCrossFolder
	case errors.Is(err, home.ErrOutside), errors.Is(err, home.ErrPermission):
		return protocol.StatusPermission
	case errors.Is(err, home.ErrBadPath):
		return protocol.StatusBadPath
	case errors.Is(err, home.ErrQuota):
		return protocol.StatusQuota
	case errors.Is(err, home.ErrNotDir):
		return protocol.StatusNotDir
	case errors.Is(err, home.ErrIsDir):
		return protocol.StatusIsDir
	case errors.Is(err, home.ErrExists):
		return protocol.StatusExists
	case errors.Is(err, home.ErrMD5):
		return protocol.StatusMD5Mismatch
	case errors.Is(err, home.ErrSize), errors.Is(err, errBadSize):
		return protocol.StatusBadSize
	case errors.Is(err, home.ErrBadOffset):
		return protocol.StatusBadOffset
	case errors.Is(err, home.ErrBadTransfer):
		return protocol.StatusBadFormat
	case errors.Is(err, home.ErrForeign):
		return protocol.StatusForeignTransfer
	case errors.Is(err, home.ErrBusy):
		return protocol.StatusTransferBusy
	case errors.Is(err, home.ErrNotEmpty):
		return protocol.StatusNotEmpty
	case errors.Is(err, home.ErrNoSpace):
		return protocol.StatusNoSpace
	case errors.Is(err, home.ErrPrefix):
		return protocol.StatusPrefixMismatch
	case errors.Is(err, home.ErrUnavailable):
		return protocol.StatusUnavailable
	case errors.Is(err, errNoFilename):
		return protocol.StatusNoFilename
	case errors.Is(err, errBasisChanged):
		return protocol.StatusBasisChanged
	case errors.Is(err, protocol.ErrFormat):
		return protocol.StatusBadFormat
	case errors.Is(err, accounts.ErrBadPassword):
		return protocol.StatusWrongLogin
	}
	return protocol.StatusServerError
}

// message is the status_msg of a refusal: the status's own text, and the
// reason home gave, when it gave one the client can act on ("263 permission
// denied (the path leaves the home)"). Other detail stays in the log.
func message(st protocol.Status, err error) string {
	if why := home.Reason(err); why != "" {
		return st.String() + " (" + why + ")"
	}
	return st.String()
}

// Request errors found by the server itself, before home/ is involved.
var (
	errNoFilename = errors.New("filename not provided")
	errBadSize    = errors.New("invalid size")
)
