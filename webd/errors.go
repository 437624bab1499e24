package webd

import (
	"encoding/json"
	"net/http"
	"strconv"

	"ftpx/protocol"
	"ftpx/server"
)

// statusMD5Mismatch is the HTTP status of an upload whose bytes do not
// match the MD5 it was created with (the contract's 460): nothing is
// stored.
const statusMD5Mismatch = 460

// apiError is the body of every error answer.
type apiError struct {
	Error  string `json:"error"`
	Status int    `json:"status"` // the protocol's status code
}

// httpStatus is the HTTP status answering a protocol status: the one
// place where one becomes the other.
func httpStatus(st protocol.Status) int {
	switch st {
	case protocol.StatusBadAuthData, protocol.StatusWrongLogin, protocol.StatusNotLoggedIn, protocol.StatusBanned:
		return http.StatusUnauthorized // a login refused (the contract's 401); the status tells a ban
	case protocol.StatusTooManySessions, protocol.StatusTooManyConns:
		return http.StatusServiceUnavailable // the contract's 503, with Retry-After
	case protocol.StatusPermission:
		return http.StatusForbidden
	case protocol.StatusNotExist, protocol.StatusForeignTransfer:
		return http.StatusNotFound // another user's upload is not revealed
	case protocol.StatusExists, protocol.StatusNotEmpty, protocol.StatusBadOffset, protocol.StatusIsDir, protocol.StatusNotDir, protocol.StatusCrossFolder:
		return http.StatusConflict
	case protocol.StatusQuota:
		return http.StatusRequestEntityTooLarge
	case protocol.StatusNoSpace:
		return http.StatusInsufficientStorage
	case protocol.StatusMD5Mismatch:
		return statusMD5Mismatch
	case protocol.StatusTransferBusy:
		return http.StatusLocked
	case protocol.StatusUnavailable, protocol.StatusShuttingDown:
		return http.StatusServiceUnavailable
	case protocol.StatusServerError:
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// writeError answers err: its protocol status (server.StatusOf) in the
// JSON body, and the HTTP status of that.
func writeError(w http.ResponseWriter, err error) {
	st := server.StatusOf(err)
	msg := err.Error()
	if st == protocol.StatusMD5Mismatch {
		msg += ": nothing was stored"
	}
	writeStatus(w, st, msg)
}

// writeStatus answers with the protocol status st and the message msg.
func writeStatus(w http.ResponseWriter, st protocol.Status, msg string) {
	code := httpStatus(st)
	if code == http.StatusServiceUnavailable || code == http.StatusLocked || st == protocol.StatusBanned {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, code, apiError{Error: msg, Status: int(st)})
}

// writeJSON answers code with v as JSON.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // plain data: cannot happen
		code, b = http.StatusInternalServerError, []byte(`{"error":"encoding the answer failed","status":272}`)
	}
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(b)
}

// badRequest answers 400 with msg.
func badRequest(w http.ResponseWriter, msg string) {
	writeStatus(w, protocol.StatusBadFormat, msg)
}
