package server_test

import (
	"bufio"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"ftpx/ftpxtest"
	"ftpx/protocol"
)

// raw speaks the protocol by hand, so that no client-side check can hide a
// server bug.
type raw struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	hi   protocol.Response // the greeting
}

func dialRaw(t testing.TB, addr string) *raw {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	rc := &raw{t: t, conn: c, r: bufio.NewReader(c)}
	rc.hi = rc.read()
	return rc
}

// login dials and authenticates.
func login(t testing.TB, ts *ftpxtest.Server, user, pw string) *raw {
	t.Helper()
	rc := dialRaw(t, ts.Addr)
	if resp := rc.do(protocol.Request{Action: "auth", Username: user, Password: pw}); resp.Status != protocol.StatusLoggedIn {
		t.Fatalf("auth %s: %d %s", user, resp.Status, resp.Msg)
	}
	return rc
}

func (rc *raw) send(req any) {
	rc.t.Helper()
	if err := protocol.WriteFrame(rc.conn, req); err != nil {
		rc.t.Fatalf("send: %v", err)
	}
}

func (rc *raw) sendBytes(b []byte) {
	rc.t.Helper()
	if _, err := rc.conn.Write(b); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
}

func (rc *raw) read() protocol.Response {
	rc.t.Helper()
	resp, err := protocol.ReadResponse(rc.r, protocol.MaxResponseHeader)
	if err != nil {
		rc.t.Fatalf("read response: %v", err)
	}
	return *resp
}

func (rc *raw) do(req protocol.Request) protocol.Response {
	rc.t.Helper()
	rc.send(req)
	return rc.read()
}

// put uploads body under name with the md5 sent as a trailer frame, and
// returns the final answer (or the refusal).
func (rc *raw) put(name string, body []byte, sum string) protocol.Response {
	rc.t.Helper()
	resp := rc.do(protocol.Request{Action: "put", Filename: name, SizeField: protocol.Int64(int64(len(body)))})
	if resp.Status != protocol.StatusReadyToSend {
		return resp
	}
	rc.sendBytes(body)
	rc.send(protocol.Request{MD5: sum})
	return rc.read()
}

// get downloads name and returns the answer, the body and the trailer's md5.
func (rc *raw) get(name string) (protocol.Response, []byte, string) {
	rc.t.Helper()
	return rc.getAt(name, 0, "")
}

// getAt downloads name from offset, giving the md5 of the prefix held.
func (rc *raw) getAt(name string, offset int64, prefix string) (protocol.Response, []byte, string) {
	rc.t.Helper()
	resp := rc.do(protocol.Request{Action: "get", Filename: name, Offset: offset, MD5: prefix})
	if resp.Status != protocol.StatusReadyToSend {
		return resp, nil, ""
	}
	if resp.Size == nil || *resp.Size < 0 {
		rc.t.Fatalf("257 without a size: %+v", resp)
	}
	body := make([]byte, *resp.Size-offset)
	if _, err := io.ReadFull(rc.r, body); err != nil {
		rc.t.Fatalf("get body: %v", err)
	}
	if resp.MD5 != "" { // announced up front: no trailer
		return resp, body, resp.MD5
	}
	trailer := rc.read()
	return resp, body, trailer.MD5
}

// closedByServer reports whether the server closes the connection within a
// few seconds, discarding whatever it sends before that.
func (rc *raw) closedByServer() bool {
	rc.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.Copy(io.Discard, rc.r)
	return err == nil || !errors.Is(err, os.ErrDeadlineExceeded)
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func lengthPrefix(n uint32) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], n)
	return b[:]
}
