package protocol

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Limits.
const (
	// MaxRequestHeader is the default limit on a request header's length.
	MaxRequestHeader = 64 << 10
	// MaxResponseHeader bounds a response header as the client reads it:
	// listings travel in headers, so this is larger than the request limit.
	MaxResponseHeader = 64 << 20
	// MaxPathLen bounds a path in a request, in bytes.
	MaxPathLen = 4096
	// MaxNameLen bounds one path element, in bytes.
	MaxNameLen = 255
	// MaxNoWaitSize bounds the body of a pipelined ("nowait") put, which the
	// server reads even when it refuses the put.
	MaxNoWaitSize = 16 << 20
	// NoWaitWindow is how many pipelined puts the server holds before it
	// syncs them to disk together and answers them.
	NoWaitWindow = 512
)

var (
	// ErrTooLarge means the length prefix exceeds the reader's limit. The
	// frame has not been read; the stream is no longer in sync.
	ErrTooLarge = errors.New("header too large")
	// ErrEmpty means a length prefix of zero.
	ErrEmpty = errors.New("empty header")
	// ErrFormat means the header is not a JSON object of the expected shape.
	ErrFormat = errors.New("invalid header format")
)

// ReadFrame reads one frame from r and returns its header bytes. The limit
// is checked before anything is allocated. A stream that ends before the
// length prefix gives io.EOF; one that ends inside a frame gives
// io.ErrUnexpectedEOF.
func ReadFrame(r io.Reader, max int) ([]byte, error) {
	var prefix [4]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(prefix[:])
	if n == 0 {
		return nil, ErrEmpty
	}
	if uint64(n) > uint64(max) {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, n, max)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

// WriteFrame marshals h to JSON and writes it as one frame, prefix and
// header in a single Write.
func WriteFrame(w io.Writer, h any) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if len(b) > 1<<32-1 {
		return ErrTooLarge
	}
	frame := make([]byte, 4+len(b))
	binary.BigEndian.PutUint32(frame, uint32(len(b)))
	copy(frame[4:], b)
	_, err = w.Write(frame)
	return err
}

// ReadRequest reads and decodes one request frame.
func ReadRequest(r io.Reader, max int) (*Request, error) {
	b, err := ReadFrame(r, max)
	if err != nil {
		return nil, err
	}
	req := new(Request)
	if err := Decode(b, req); err != nil {
		return nil, err
	}
	return req, nil
}

// ReadResponse reads and decodes one response frame.
func ReadResponse(r io.Reader, max int) (*Response, error) {
	b, err := ReadFrame(r, max)
	if err != nil {
		return nil, err
	}
	resp := new(Response)
	if err := Decode(b, resp); err != nil {
		return nil, err
	}
	return resp, nil
}
