package protocol

import "strconv"

// Status is the numeric code every response carries in "status_code".
// 250-259 keep the meanings of the original design; 260 and up are ftpx's.
type Status int

const (
	StatusBadFormat       Status = 250 // invalid command format: not a frame, not JSON, wrong types
	StatusBadCommand      Status = 251 // invalid command: unknown action
	StatusBadAuthData     Status = 252 // invalid auth data: username or password missing
	StatusWrongLogin      Status = 253 // wrong username or password
	StatusLoggedIn        Status = 254 // passed authentication
	StatusNoFilename      Status = 255 // filename not provided
	StatusNotExist        Status = 256 // file does not exist on server
	StatusReadyToSend     Status = 257 // ready to send file: the body follows (get) or may follow (put)
	StatusMD5OK           Status = 258 // md5 verification: the file is complete and in place
	StatusDirChanged      Status = 259 // directory has been switched
	StatusOK              Status = 260 // success of ls, pwd, stat, mkdir, quit
	StatusReady           Status = 261 // greeting: the server is ready for a request
	StatusNotLoggedIn     Status = 262 // the action needs a successful auth first
	StatusPermission      Status = 263 // permission denied, or the path leaves the home
	StatusQuota           Status = 264 // quota exceeded
	StatusMD5Mismatch     Status = 265 // md5 mismatch: nothing was stored under the name
	StatusBadOffset       Status = 266 // resume offset negative, past the end, or not resumable
	StatusNotDir          Status = 267 // not a directory
	StatusIsDir           Status = 268 // is a directory
	StatusExists          Status = 269 // already exists
	StatusTooManyConns    Status = 270 // too many connections: the server closes
	StatusHeaderTooLarge  Status = 271 // header length over the limit: the server closes
	StatusServerError     Status = 272 // server-side I/O or internal error
	StatusBadPath         Status = 273 // invalid path: NUL, control bytes, invalid UTF-8, too long
	StatusBadSize         Status = 274 // size missing, negative or over the limit
	StatusTimeout         Status = 275 // idle or transfer timeout: the server closes
	StatusShuttingDown    Status = 276 // the server is shutting down: the server closes
	StatusGoodbye         Status = 277 // answer to quit: the server closes
	StatusForeignTransfer Status = 278 // the transfer id belongs to another user
	StatusPrefixMismatch  Status = 279 // resume: the prefix md5 differs from the bytes held
	StatusTransferBusy    Status = 280 // the transfer is in progress on another connection: retry later
	StatusNotEmpty        Status = 281 // rm of a directory that is not empty, without recursive
	StatusBanned          Status = 282 // too many failed logins from this address or for this user: try later
	StatusTLSRequired     Status = 283 // the server requires TLS: send starttls first
	StatusCrossFolder     Status = 284 // mv between the home and a folder, or two folders: copy instead
	StatusTooManySessions Status = 285 // auth: the user (or anonymous) has all the sessions allowed
	StatusNoSpace         Status = 286 // put: the server's file system cannot hold the file (like FTP's 452)
	StatusUnavailable     Status = 287 // storage unavailable: the object store cannot be reached; try again later
	StatusBasisChanged    Status = 288 // a delta's basis is no longer the file at the name: send the file whole
)

var statusText = map[Status]string{
	StatusBadFormat:       "invalid command format",
	StatusBadCommand:      "invalid command",
	StatusBadAuthData:     "invalid auth data",
	StatusWrongLogin:      "wrong username or password",
	StatusLoggedIn:        "passed authentication",
	StatusNoFilename:      "filename not provided",
	StatusNotExist:        "file does not exist",
	StatusReadyToSend:     "ready to send file",
	StatusMD5OK:           "md5 verification",
	StatusDirChanged:      "directory has been switched",
	StatusOK:              "ok",
	StatusReady:           "ready",
	StatusNotLoggedIn:     "not authenticated",
	StatusPermission:      "permission denied",
	StatusQuota:           "quota exceeded",
	StatusMD5Mismatch:     "md5 mismatch",
	StatusBadOffset:       "bad resume offset",
	StatusNotDir:          "not a directory",
	StatusIsDir:           "is a directory",
	StatusExists:          "already exists",
	StatusTooManyConns:    "too many connections",
	StatusHeaderTooLarge:  "header too large",
	StatusServerError:     "server error",
	StatusBadPath:         "invalid path",
	StatusBadSize:         "invalid size",
	StatusTimeout:         "timeout",
	StatusShuttingDown:    "server shutting down",
	StatusGoodbye:         "goodbye",
	StatusForeignTransfer: "transfer belongs to another user",
	StatusPrefixMismatch:  "prefix md5 mismatch",
	StatusTransferBusy:    "transfer busy",
	StatusNotEmpty:        "directory not empty",
	StatusBanned:          "too many failed logins; try later",
	StatusTLSRequired:     "TLS required: send starttls first",
	StatusCrossFolder:     "cross-folder move",
	StatusTooManySessions: "too many sessions for this user",
	StatusNoSpace:         "insufficient storage on the server",
	StatusUnavailable:     "storage unavailable",
	StatusBasisChanged:    "delta basis changed",
}

// String returns the short English meaning of s, or "status N" for a code
// this version does not know.
func (s Status) String() string {
	if t, ok := statusText[s]; ok {
		return t
	}
	return "status " + strconv.Itoa(int(s))
}

// Known reports whether s is a code this version defines.
func (s Status) Known() bool {
	_, ok := statusText[s]
	return ok
}

// Closes reports whether the server closes the connection after sending s.
func (s Status) Closes() bool {
	switch s {
	case StatusTooManyConns, StatusHeaderTooLarge, StatusTimeout, StatusShuttingDown, StatusGoodbye:
		return true
	}
	return false
}
