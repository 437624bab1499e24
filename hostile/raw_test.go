package hostile

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"ftpx/ftpxtest"
	"ftpx/protocol"
)

// This file is the suite's own raw client: it builds frames byte by byte
// (so a test can send duplicate keys, wrong types or invalid UTF-8 inside a
// JSON string), reads answers without any cleaning, and runs every byte it
// receives past a guard that knows what must never come back.

// ioTimeout bounds every single read or write of the raw client, so that a
// server that hangs fails a test instead of hanging the suite.
const ioTimeout = 20 * time.Second

// maxAnswer bounds an answer frame as this client reads it.
const maxAnswer = 64 << 20

// rawConn is one connection speaking the protocol by hand.
type rawConn struct {
	c  net.Conn
	r  *bufio.Reader
	hi protocol.Response // the greeting
	g  *guard            // may be nil
}

// dialFrom connects from the loopback address 127.0.0.<host> (0 lets the
// system choose) and reads the greeting. Spreading many connections over
// several loopback addresses keeps per-address limits out of tests that
// are about the global ones.
func dialFrom(addr string, host byte, g *guard) (*rawConn, error) {
	d := net.Dialer{Timeout: ioTimeout}
	if host != 0 {
		d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, host)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	rc := &rawConn{c: c, r: bufio.NewReaderSize(c, 4<<10), g: g}
	hi, _, err := rc.read()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	rc.hi = hi
	return rc, nil
}

func dial(t testing.TB, addr string, g *guard) *rawConn {
	t.Helper()
	rc, err := dialFrom(addr, 0, g)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	return rc
}

// loginE dials and authenticates, returning an error instead of failing,
// for use from goroutines.
func loginE(addr, user, pw string, g *guard) (*rawConn, error) {
	rc, err := dialFrom(addr, 0, g)
	if err != nil {
		return nil, err
	}
	if rc.hi.Status != protocol.StatusReady {
		rc.Close()
		return nil, fmt.Errorf("greeting %d %s", rc.hi.Status, rc.hi.Msg)
	}
	resp, err := rc.do(obj("action", "auth", "username", user, "password", pw))
	if err == nil && resp.Status != protocol.StatusLoggedIn {
		err = fmt.Errorf("auth %s: %d %s", user, resp.Status, resp.Msg)
	}
	if err != nil {
		rc.Close()
		return nil, err
	}
	return rc, nil
}

func login(t testing.TB, ts *ftpxtest.Server, user, pw string, g *guard) *rawConn {
	t.Helper()
	rc, err := loginE(ts.Addr, user, pw, g)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	return rc
}

func (rc *rawConn) Close() error { return rc.c.Close() }

// write sends raw bytes.
func (rc *rawConn) write(b []byte) error {
	rc.c.SetWriteDeadline(time.Now().Add(ioTimeout))
	_, err := rc.c.Write(b)
	return err
}

// send sends one frame holding hdr.
func (rc *rawConn) send(hdr []byte) error { return rc.write(frame(hdr)) }

// readFrame reads one answer frame, unparsed.
func (rc *rawConn) readFrame() ([]byte, error) {
	rc.c.SetReadDeadline(time.Now().Add(ioTimeout))
	var prefix [4]byte
	if _, err := io.ReadFull(rc.r, prefix[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(prefix[:])
	if n == 0 || n > maxAnswer {
		return nil, fmt.Errorf("answer frame of %d bytes", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(rc.r, b); err != nil {
		return nil, err
	}
	rc.g.check("answer header", b)
	return b, nil
}

// read reads and parses one answer.
func (rc *rawConn) read() (protocol.Response, []byte, error) {
	b, err := rc.readFrame()
	if err != nil {
		return protocol.Response{}, nil, err
	}
	var resp protocol.Response
	if err := json.Unmarshal(b, &resp); err != nil {
		return resp, b, fmt.Errorf("answer %q: %w", b, err)
	}
	if resp.Status == 0 {
		return resp, b, fmt.Errorf("answer without status: %q", b)
	}
	return resp, b, nil
}

// statusesUntilClosed reads answers until the server closes the
// connection (or one does not parse), and returns their statuses.
func (rc *rawConn) statusesUntilClosed() []string {
	var got []string
	for {
		resp, _, err := rc.read()
		if err != nil {
			return got
		}
		got = append(got, fmt.Sprint(int(resp.Status)))
	}
}

// do sends one request header and reads its answer.
func (rc *rawConn) do(hdr []byte) (protocol.Response, error) {
	if err := rc.send(hdr); err != nil {
		return protocol.Response{}, err
	}
	resp, _, err := rc.read()
	return resp, err
}

// readBody reads exactly n body bytes.
func (rc *rawConn) readBody(n int64) ([]byte, error) {
	if n < 0 || n > 1<<30 {
		return nil, fmt.Errorf("body of %d bytes announced", n)
	}
	rc.c.SetReadDeadline(time.Now().Add(ioTimeout))
	b := make([]byte, n)
	_, err := io.ReadFull(rc.r, b)
	rc.g.check("get body", b)
	return b, err
}

// getResult is what a get brought back.
type getResult struct {
	resp    protocol.Response
	body    []byte
	trailer protocol.Response
}

// get sends a get header and, on 257, reads the body and the md5 frame.
func (rc *rawConn) get(hdr []byte) (getResult, error) {
	var g getResult
	var err error
	if g.resp, err = rc.do(hdr); err != nil || g.resp.Status != protocol.StatusReadyToSend {
		return g, err
	}
	if g.resp.Size == nil {
		return g, fmt.Errorf("257 without a size")
	}
	if g.body, err = rc.readBody(*g.resp.Size - g.resp.Offset); err != nil {
		return g, err
	}
	if g.resp.MD5 != "" && g.resp.Offset == 0 {
		// The server knew the digest and announced it in the 257: no md5
		// frame follows the body.
		g.trailer = protocol.Response{Status: protocol.StatusOK, MD5: g.resp.MD5, Size: g.resp.Size}
		return g, nil
	}
	g.trailer, _, err = rc.read()
	return g, err
}

// put sends a put header and, on 257, the body and an md5 trailer (unless
// the header carried one); it returns the first answer and the final one
// (equal when the put was refused).
func (rc *rawConn) put(hdr, body []byte, trailer bool) (first, last protocol.Response, err error) {
	if first, err = rc.do(hdr); err != nil || first.Status != protocol.StatusReadyToSend {
		return first, first, err
	}
	if err = rc.write(body[min(int64(len(body)), first.Offset):]); err != nil {
		return first, last, err
	}
	if trailer {
		if err = rc.send(obj("md5", md5hex(body))); err != nil {
			return first, last, err
		}
	}
	last, _, err = rc.read()
	return first, last, err
}

// putSimple uploads body under name, with the md5 as a trailer.
func (rc *rawConn) putSimple(name string, body []byte) (protocol.Response, error) {
	_, last, err := rc.put(obj("action", "put", "filename", name, "size", len(body)), body, true)
	return last, err
}

// closedByServer reports whether the server closes the connection within
// wait, reading (and guarding) whatever it sends first.
func (rc *rawConn) closedByServer(wait time.Duration) bool {
	rc.c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 32<<10)
	for {
		n, err := rc.r.Read(buf)
		rc.g.check("bytes before close", buf[:n])
		if err != nil {
			return !errors.Is(err, os.ErrDeadlineExceeded)
		}
	}
}

// obj builds a JSON object from key/value pairs, in order and keeping
// duplicates. A key or value given as json.RawMessage is written as is
// (so it may hold raw invalid UTF-8 or a hand-made escape); anything else
// goes through json.Marshal.
func obj(kv ...any) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(jsonOf(kv[i]))
		b.WriteByte(':')
		b.Write(jsonOf(kv[i+1]))
	}
	b.WriteByte('}')
	return b.Bytes()
}

func jsonOf(v any) json.RawMessage {
	if r, ok := v.(json.RawMessage); ok {
		return r
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// frame prefixes hdr with its length.
func frame(hdr []byte) []byte {
	return append(prefix(uint32(len(hdr))), hdr...)
}

func prefix(n uint32) []byte {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, n)
	return b
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// guard knows byte strings that must never reach a client: the content of
// files outside the home, the server's own paths. Every byte the raw
// client receives goes past it.
type guard struct {
	mu      sync.Mutex
	names   []string
	markers [][]byte
	leaks   []string
	// echo, when set, is a request path the server may legitimately echo
	// back (as "path"): markers found only inside it are not leaks.
	echo []byte
}

func (g *guard) add(name string, marker []byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.names = append(g.names, name)
	g.markers = append(g.markers, marker)
}

// check records a leak if b holds any marker. A nil guard checks nothing.
func (g *guard) check(where string, b []byte) {
	if g == nil || len(b) == 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.echo) > 0 {
		b = bytes.ReplaceAll(b, g.echo, nil)
	}
	for i, m := range g.markers {
		if bytes.Contains(b, m) {
			g.leaks = append(g.leaks, fmt.Sprintf("%s holds %s", where, g.names[i]))
		}
	}
}

// setEcho sets the request path the server may echo (nil for none).
func (g *guard) setEcho(p []byte) {
	g.mu.Lock()
	g.echo = p
	g.mu.Unlock()
}

// takeLeaks returns and forgets the leaks recorded so far.
func (g *guard) takeLeaks() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	l := g.leaks
	g.leaks = nil
	return l
}

// treeState describes every entry under a directory (type, mode, size,
// mtime, and a hash of file content or a link's target), to prove that
// nothing outside a home was read into, created, changed or removed.
type treeState map[string]string

// snapshot walks dir, leaving out the subtrees in skip.
func snapshot(t testing.TB, dir string, skip ...string) treeState {
	t.Helper()
	st := treeState{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		for _, s := range skip {
			if p == s {
				return filepath.SkipDir
			}
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v %d %d", fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		st[p] = desc
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", dir, err)
	}
	return st
}

// diff lists what differs between two snapshots.
func (a treeState) diff(b treeState) []string {
	var out []string
	for p, d := range a {
		switch e, ok := b[p]; {
		case !ok:
			out = append(out, "removed "+p)
		case e != d:
			out = append(out, fmt.Sprintf("changed %s: %s -> %s", p, d, e))
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			out = append(out, "created "+p)
		}
	}
	sort.Strings(out)
	return out
}

func mustWrite(t testing.TB, name, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// emptyDir removes everything inside dir, keeping dir.
func emptyDir(t testing.TB, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
}

// panics counts the handler panics the server has logged.
func panics(ts *ftpxtest.Server) int {
	return strings.Count(ts.Log(), "panic in handler")
}

// homeUsage returns the bytes of the regular files in a home as the quota
// counts them: partial data included, the partials' saved *.state files
// not.
func homeUsage(t testing.TB, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if strings.HasPrefix(rel, ".ftpx-partial"+string(filepath.Separator)) &&
			(strings.HasSuffix(rel, ".state") || strings.HasSuffix(rel, ".state.tmp")) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		n += fi.Size()
		return nil
	})
	if err != nil {
		t.Fatalf("usage of %s: %v", dir, err)
	}
	return n
}

// roundTrip checks that a fresh, well-behaved connection is served: a put
// and a get of the same bytes.
func roundTrip(t testing.TB, ts *ftpxtest.Server, user, pw, name string) {
	t.Helper()
	rc, err := loginE(ts.Addr, user, pw, nil)
	if err != nil {
		t.Fatalf("well-behaved client: %v", err)
	}
	defer rc.Close()
	body := []byte("round trip " + name)
	if resp, err := rc.putSimple(name, body); err != nil || resp.Status != protocol.StatusMD5OK {
		t.Fatalf("well-behaved put %s: %d %s %v", name, resp.Status, resp.Msg, err)
	}
	g, err := rc.get(obj("action", "get", "filename", name))
	if err != nil || g.resp.Status != protocol.StatusReadyToSend || !bytes.Equal(g.body, body) || g.trailer.MD5 != md5hex(body) {
		t.Fatalf("well-behaved get %s: %d %q %v", name, g.resp.Status, g.body, err)
	}
}

// waitFor polls cond until it holds or the deadline passes; it reports
// whether it held. It never asserts on how long it took.
func waitFor(deadline time.Duration, cond func() bool) bool {
	end := time.Now().Add(deadline)
	for {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
