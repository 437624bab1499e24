package client

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"ftpx/protocol"
)

// Exit statuses of the ftpx command, as the contract defines them.
const (
	ExitOK         = 0 // everything asked for succeeded
	ExitFailure    = 1 // a transfer or command failed
	ExitUsage      = 2 // usage error
	ExitConnection = 3 // could not connect, or the connection was lost and retries ran out
	ExitAuth       = 4 // authentication failed
	ExitQuota      = 5 // quota exceeded
	ExitMD5        = 6 // MD5 verification failed
)

// StatusError is a refusal or failure reported with a status code: by the
// server, or by the client itself for an MD5 mismatch it detects on get.
type StatusError struct {
	Op     string // the action: "put", "get", "ls", "auth", "connect"...
	Path   string // the remote path (or user name, or address); may be empty
	Status protocol.Status
	Msg    string // the server's status_msg, or the client's explanation
}

// maxMsg bounds how much of a server's message is shown.
const maxMsg = 512

// Error returns "OP PATH: CODE MSG", with anything the server chose shown
// escaped when it holds control characters.
func (e *StatusError) Error() string {
	msg := e.Msg
	if msg == "" {
		msg = e.Status.String()
	}
	if len(msg) > maxMsg {
		msg = msg[:maxMsg] + "..."
	}
	return fmt.Sprintf("%s: %d %s", opPath(e.Op, e.Path), int(e.Status), Printable(msg))
}

// UsageError is a command line that cannot be carried out as written:
// exit status 2.
type UsageError struct {
	Msg string
}

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a *UsageError with a formatted message.
func Usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

var (
	// ErrConnection is wrapped by every failure to reach the server or to
	// keep talking to it (exit status 3).
	ErrConnection = errors.New("connection failed")
	// ErrProtocol is wrapped when the server says something this client
	// cannot accept (a wrong id, a negative size, a malformed frame). The
	// connection is closed: the stream can no longer be trusted.
	ErrProtocol = errors.New("protocol violation")
	// ErrClosed is returned by operations on a closed Client.
	ErrClosed = errors.New("client closed")
)

// opError carries an operation and path around a lower-level error.
type opError struct {
	op, path string
	kind     error // ErrConnection, ErrProtocol or nil
	err      error
}

func (e *opError) Error() string {
	if e.kind != nil {
		return fmt.Sprintf("%s: %v: %v", opPath(e.op, e.path), e.kind, e.err)
	}
	return fmt.Sprintf("%s: %v", opPath(e.op, e.path), e.err)
}

func (e *opError) Unwrap() error { return e.err }

// Is makes errors.Is(err, ErrConnection) and errors.Is(err, ErrProtocol)
// true for the failures of that kind.
func (e *opError) Is(target error) bool { return e.kind != nil && target == e.kind }

func opPath(op, path string) string {
	if path == "" {
		return op
	}
	return op + " " + Printable(path)
}

// ExitCode maps an error to the exit status of the ftpx command. An error
// joining several failures (errors.Join) gets the status of the first.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if errs := j.Unwrap(); len(errs) > 0 {
			return ExitCode(errs[0])
		}
	}
	var usage *UsageError
	if errors.As(err, &usage) {
		return ExitUsage
	}
	var se *StatusError
	if errors.As(err, &se) {
		switch se.Status {
		case protocol.StatusBadAuthData, protocol.StatusWrongLogin, protocol.StatusBanned:
			return ExitAuth
		case protocol.StatusQuota:
			return ExitQuota
		case protocol.StatusMD5Mismatch:
			return ExitMD5
		case protocol.StatusTooManyConns, protocol.StatusTimeout, protocol.StatusShuttingDown, protocol.StatusTransferBusy, protocol.StatusTooManySessions,
			protocol.StatusUnavailable:
			return ExitConnection
		}
		return ExitFailure
	}
	if errors.Is(err, ErrConnection) {
		return ExitConnection
	}
	return ExitFailure
}

// Printable returns s unchanged when every rune is printable, and
// strconv.Quote(s) otherwise, so that names and messages from an untrusted
// server cannot move the cursor, rewrite the line or hide text. A name
// that begins or ends with a space is quoted too, so the space shows.
func Printable(s string) string {
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) || strings.TrimSpace(s) != s {
		return strconv.Quote(s)
	}
	return s
}

// ErrorLines returns the failures an error joins (errors.Join), in order,
// each as one line of text, as ftpx prints them.
func ErrorLines(err error) []string {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var all []string
		for _, e := range j.Unwrap() {
			all = append(all, ErrorLines(e)...)
		}
		return all
	}
	return []string{strings.NewReplacer("\n", " ", "\r", " ").Replace(err.Error())}
}

// Failure is a failed transfer as --json prints it on stdout, beside the
// lines of those that succeeded: {"action","remote","error","status","exit"}
// (status the protocol code when there is one, else 0; exit the exit
// status it causes).
type Failure struct {
	Action string `json:"action"`
	Remote string `json:"remote"`
	Error  string `json:"error"`
	Status int    `json:"status"`
	Exit   int    `json:"exit"`
}

// Failures splits err (one failure, or several joined) into the failures
// it holds, each named by its action and remote path where it says them.
func Failures(err error) []Failure {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var all []Failure
		for _, e := range j.Unwrap() {
			all = append(all, Failures(e)...)
		}
		return all
	}
	f := Failure{Error: strings.NewReplacer("\n", " ", "\r", " ").Replace(err.Error()), Exit: ExitCode(err)}
	var se *StatusError
	var oe *opError
	var re *retryError
	switch {
	case errors.As(err, &re):
		f.Action, f.Remote = re.op, re.path
	case errors.As(err, &oe):
		f.Action, f.Remote = oe.op, oe.path
	case errors.As(err, &se):
		f.Action, f.Remote = se.Op, se.Path
	}
	if errors.As(err, &se) {
		f.Status = int(se.Status)
	}
	return []Failure{f}
}
