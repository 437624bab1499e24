package sftpd

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"testing"
)

// pipeEnds is a stream's channel in memory: what the client sent, and what
// the server wrote back.
type pipeEnds struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func (p *pipeEnds) Read(b []byte) (int, error)  { return p.in.Read(b) }
func (p *pipeEnds) Write(b []byte) (int, error) { return p.out.Write(b) }
func (p *pipeEnds) Close() error                { return nil }

// request is an SFTP packet of type typ with id and body.
func request(typ byte, id uint32, body ...[]byte) []byte {
	b := []byte{0, 0, 0, 0, typ}
	b = binary.BigEndian.AppendUint32(b, id)
	for _, p := range body {
		b = append(b, p...)
	}
	return framed(b)
}

func str(s string) []byte { return appendString(nil, s) }

// readAll reads what the stream passes on, in reads of odd sizes as the
// request server's would be.
func readAll(t *testing.T, s *stream) []byte {
	t.Helper()
	var got []byte
	buf := make([]byte, 7)
	for {
		n, err := s.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		buf = make([]byte, 1+len(got)%5000)
	}
}

// packets splits b into its SFTP packets.
func packets(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			t.Fatalf("%d bytes left over", len(b))
		}
		n := 4 + int(binary.BigEndian.Uint32(b))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// Every request but INIT and fsync@openssh.com reaches the request server
// byte for byte; INIT is answered with the server's own extensions, an
// fsync of a handle never opened with a failure.
func TestStreamPassesRequestsAndAnswersInitAndFsync(t *testing.T) {
	write := request(6, 7, str("1"), binary.BigEndian.AppendUint64(nil, 0), str(string(bytes.Repeat([]byte{'x'}, 32<<10))))
	stat := request(17, 8, str("/a b"))
	rename := request(fxpExtended, 9, str("posix-rename@openssh.com"), str("/a"), str("/b"))
	closeReq := request(fxpClose, 10, str("1"))
	fsync := request(fxpExtended, 11, str("fsync@openssh.com"), str("1"))
	init := framed(binary.BigEndian.AppendUint32([]byte{0, 0, 0, 0, fxpInit}, 3))
	var in []byte
	for _, p := range [][]byte{init, write, stat, rename, closeReq, fsync} {
		in = append(in, p...)
	}
	ends := &pipeEnds{in: bytes.NewReader(in)}
	s := newStream(ends, func(string) error { t.Error("fsync of a handle never opened reached the uploads"); return nil })
	// Each request passed is answered, so the fsync does not wait.
	s.answers = 4
	got := readAll(t, s)
	want := bytes.Join([][]byte{write, stat, rename, closeReq}, nil)
	if !bytes.Equal(got, want) {
		t.Fatalf("passed %d bytes, want the %d of the four requests", len(got), len(want))
	}
	answers := packets(t, ends.out.Bytes())
	if len(answers) != 2 {
		t.Fatalf("%d answers written, want VERSION and STATUS", len(answers))
	}
	if !bytes.Equal(answers[0], versionPacket()) {
		t.Errorf("answer to INIT: %x", answers[0])
	}
	v := answers[0][5:]
	if version, rest, _ := takeUint32(v); version != 3 || !bytes.Contains(rest, str("fsync@openssh.com")) {
		t.Errorf("VERSION %d does not list fsync@openssh.com", version)
	}
	st := answers[1]
	if st[4] != fxpStatus || binary.BigEndian.Uint32(st[5:]) != 11 || binary.BigEndian.Uint32(st[9:]) != 4 {
		t.Errorf("answer to fsync of an unknown handle: %x, want STATUS 11 SSH_FX_FAILURE", st)
	}
}

// The stream follows the request server's answers through writes split
// anywhere: a HANDLE answer opens its handle, and the stream's own answer
// waits for the end of the one being written.
func TestStreamTracksAnswersSplitAcrossWrites(t *testing.T) {
	ends := &pipeEnds{in: bytes.NewReader(nil)}
	s := newStream(ends, nil)
	handle := framed(append(binary.BigEndian.AppendUint32([]byte{0, 0, 0, 0, fxpHandle}, 5), str("42")...))
	data := framed(append(binary.BigEndian.AppendUint32([]byte{0, 0, 0, 0, 103}, 6), str("payload")...))
	r := rand.New(rand.NewPCG(1, 2))
	all := append(append([]byte(nil), handle...), data...)
	// The first part of the DATA answer, then one of the stream's own.
	cut := len(handle) + 6
	for p := all[:cut]; len(p) > 0; {
		n := 1 + r.IntN(len(p))
		s.Write(p[:n])
		p = p[n:]
	}
	own := statusPacket(12, nil, "x")
	if err := s.send(own); err != nil {
		t.Fatal(err)
	}
	if ends.out.Len() != cut {
		t.Fatalf("the stream's answer went out in the middle of another: %d bytes written, want %d", ends.out.Len(), cut)
	}
	s.Write(all[cut:])
	if want := append(append([]byte(nil), all...), own...); !bytes.Equal(ends.out.Bytes(), want) {
		t.Fatalf("written %x\nwant %x", ends.out.Bytes(), want)
	}
	if s.answers != 2 || !s.handles["42"] {
		t.Errorf("answers %d, handles %v; want 2 and handle 42 open", s.answers, s.handles)
	}
}

// FuzzStream: whatever a client sends, the stream passes on at most what
// came, one packet at a time, without a panic, and answers INIT and fsync
// requests with whole packets.
func FuzzStream(f *testing.F) {
	f.Add(request(fxpInit, 3))
	f.Add(append(request(fxpExtended, 1, str("fsync@openssh.com"), str("1")), request(17, 2, str("/"))...))
	f.Add(request(fxpClose, 1, str("1")))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1, fxpExtended})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 6})
	f.Fuzz(func(t *testing.T, in []byte) {
		ends := &pipeEnds{in: bytes.NewReader(in)}
		s := newStream(ends, func(string) error { return nil })
		s.end() // nothing answers the requests passed: an fsync gives up
		var passed int
		buf := make([]byte, 1000)
		for {
			n, err := s.Read(buf)
			if n > len(buf) {
				t.Fatalf("read %d into %d", n, len(buf))
			}
			passed += n
			if err != nil {
				break
			}
		}
		if passed > len(in) {
			t.Fatalf("passed %d bytes of %d", passed, len(in))
		}
		out := ends.out.Bytes()
		for len(out) > 0 {
			if len(out) < 5 || 4+int(binary.BigEndian.Uint32(out)) > len(out) {
				t.Fatalf("a torn answer: %x", out)
			}
			if typ := out[4]; typ != fxpVersion && typ != fxpStatus {
				t.Fatalf("answer of type %d", typ)
			}
			out = out[4+binary.BigEndian.Uint32(out):]
		}
	})
}
