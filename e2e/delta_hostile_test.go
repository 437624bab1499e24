package e2e

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ftpx/internal/delta"
	"ftpx/protocol"
)

// A lying server against the real client, for deltas: signatures whose
// header does not describe them or whose body is cut, and get answers
// with a delta the client did not ask for, or a malformed or endless
// one. The client fails with a clear error and the documented exit
// status, leaves the file it had as it was, writes nothing outside the
// target's directory, and does not hang.

// deltaLiar is a fake server holding one file, remote.bin, whose old
// version the client holds (a get) or whose new version the client sends
// (a put). It answers quota and stat as a real server would, and the
// signature action and gets as the case says.
type deltaLiar struct {
	mu      sync.Mutex
	actions []string
	file    []byte                                                             // the server's remote.bin
	sign    func(c net.Conn, req *protocol.Request) bool                       // the answer to signature
	get     func(c net.Conn, req *protocol.Request, sig *delta.Signature) bool // the answer to get, after its signature
	put     func(c net.Conn, req *protocol.Request) bool                       // the answer to put
}

func (l *deltaLiar) start(t *testing.T) string {
	hello := protocol.Response{Status: protocol.StatusReady, Msg: "ready", Version: "delta-liar/1"}
	return fakeServer(t, hello, func(c net.Conn, req *protocol.Request) bool {
		l.mu.Lock()
		l.actions = append(l.actions, req.Action)
		l.mu.Unlock()
		switch req.Action {
		case protocol.ActionQuota:
			protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusOK, Msg: "ok", Used: protocol.Int64(0), Quota: protocol.Int64(-1)})
		case protocol.ActionStat:
			protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusOK, Msg: "ok",
				Stat: &protocol.Entry{Name: "remote.bin", Size: int64(len(l.file)), MTime: time.Unix(1e9, 0)}})
		case protocol.ActionSignature:
			if l.sign != nil {
				return l.sign(c, req)
			}
			protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusNotExist, Msg: "no"})
		case protocol.ActionGet:
			var sig *delta.Signature
			if req.Delta != nil {
				var err error
				if sig, err = delta.ReadSignature(c, *req.Delta); err != nil {
					return false
				}
			}
			return l.get(c, req, sig)
		case protocol.ActionPut:
			return l.put(c, req)
		case protocol.ActionQuit:
			protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusGoodbye, Msg: "bye"})
			return false
		default:
			protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusBadCommand, Msg: "no"})
		}
		return true
	})
}

func (l *deltaLiar) seen() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.actions, " ")
}

func seededBytes(seed uint64, n int) []byte { return randomBytes(rand.New(rand.NewPCG(seed, 1)), n) }

// dstream builds a delta body instruction by instruction.
type dstream []byte

func (s dstream) copy(first, count uint64) dstream {
	s = append(s, protocol.DeltaCopy)
	return binary.AppendUvarint(binary.AppendUvarint(s, first), count)
}

func (s dstream) data(b []byte) dstream {
	s = binary.AppendUvarint(append(s, protocol.DeltaData), uint64(len(b)))
	return append(s, b...)
}

func (s dstream) end() dstream { return append(s, protocol.DeltaEnd) }

func (s dstream) raw(b ...byte) dstream { return append(s, b...) }

// onlyThese lists what is in dir other than the names given and the
// client's state directory: what a client wrote where it should not, or
// left behind.
func onlyThese(t *testing.T, dir string, names ...string) []string {
	t.Helper()
	var extra []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == ".state" {
			return filepath.SkipDir
		}
		for _, n := range names {
			if rel == n {
				return nil
			}
		}
		extra = append(extra, rel)
		return nil
	})
	return extra
}

// liarRun is one run of the client against a lying server.
type liarRun struct {
	out, err string
	code     int
	took     time.Duration
}

func runAgainst(t *testing.T, addr, work string, args ...string) liarRun {
	t.Helper()
	env := []string{"FTPX_SERVER=" + addr, "FTPX_USER=u", "FTPX_PASSWORD=p"}
	start := time.Now()
	out, errOut, code := ftpx(t, work, env, args...)
	r := liarRun{out, errOut, code, time.Since(start)}
	t.Logf("exit %d after %.1f s: %s", r.code, r.took.Seconds(), strings.TrimSpace(r.err))
	return r
}

// retries are the flags of a run: one quick retry, none when the server
// stalls (each try would wait for the stall timeout).
func retries(stall bool, args ...string) []string {
	if stall {
		return append([]string{"--retries", "0"}, args...)
	}
	return append([]string{"--retries", "1", "--retry-delay", "10ms"}, args...)
}

// The client's own stall timeout (protocol.DefaultTransferTimeout), and
// what a run that stalls once may take at most.
const (
	clientStall = 60 * time.Second
	stallBound  = clientStall + 30*time.Second
)

// TestDeltaLiarSignatureFailsPut: a put onto a file the server says it
// has asks for its signature. A signature header that does not describe
// a signature is a protocol violation (exit 1); a body cut short or
// stalled is a lost connection (exit 3, after the retries, or the stall
// timeout). Either way no put follows: nothing is sent onto a lie.
func TestDeltaLiarSignatureFailsPut(t *testing.T) {
	t.Parallel() // its stalled case waits for the client's stall timeout
	old := seededBytes(1, 256<<10)
	local := append(append(append([]byte{}, old[:64<<10]...), seededBytes(2, 5000)...), old[68<<10:]...)
	mtime := time.Unix(1e9, 0).UTC()
	answer := func(d protocol.Delta, body []byte, then func(c net.Conn) bool) func(c net.Conn, req *protocol.Request) bool {
		return func(c net.Conn, req *protocol.Request) bool {
			d.BasisMTime = &mtime
			protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusOK, Msg: "ok", Path: "/remote.bin", Delta: &d})
			c.Write(body)
			return then(c)
		}
	}
	sig, err := delta.Sign(bytes.NewReader(old), int64(len(old)), delta.BlockSize(int64(len(old))))
	if err != nil {
		t.Fatal(err)
	}
	var sums bytes.Buffer
	sig.WriteTo(&sums)
	good := sig.Delta()
	goOn := func(net.Conn) bool { return true }
	hangUp := func(net.Conn) bool { return false }
	stall := func(c net.Conn) bool { io.Copy(io.Discard, c); return false } // until the client gives up
	noMTime := func(c net.Conn, req *protocol.Request) bool {
		protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusOK, Msg: "ok", Delta: &good})
		c.Write(sums.Bytes())
		return true
	}
	for _, tc := range []struct {
		name  string
		sign  func(c net.Conn, req *protocol.Request) bool
		code  int
		says  string
		stall bool
	}{
		{"blocks disagree with basis_size", answer(protocol.Delta{Block: 1024, Blocks: 5, BasisSize: int64(len(old))}, nil, goOn), 1, "protocol violation", false},
		{"blocks MaxDeltaBlocks+1", answer(protocol.Delta{Block: 1024, Blocks: protocol.MaxDeltaBlocks + 1, BasisSize: (protocol.MaxDeltaBlocks + 1) * 1024}, nil, goOn), 1, "protocol violation", false},
		{"block below the minimum", answer(protocol.Delta{Block: 512, Blocks: 512, BasisSize: int64(len(old))}, nil, goOn), 1, "protocol violation", false},
		{"block above the maximum", answer(protocol.Delta{Block: protocol.MaxDeltaBlock + 1, Blocks: 1, BasisSize: int64(len(old))}, nil, goOn), 1, "protocol violation", false},
		{"negative basis_size", answer(protocol.Delta{Block: 1024, Blocks: 0, BasisSize: -1}, nil, goOn), 1, "protocol violation", false},
		{"no basis_mtime", noMTime, 1, "protocol violation", false},
		{"the body cut short", answer(good, sums.Bytes()[:sums.Len()/2], hangUp), 3, "connection", false},
		{"the body stalled", answer(good, sums.Bytes()[:sums.Len()/2], stall), 3, "timeout", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.stall {
				if testing.Short() {
					t.Skip("waits for the client's stall timeout")
				}
				t.Parallel()
			}
			l := &deltaLiar{file: old, sign: tc.sign}
			l.put = func(c net.Conn, req *protocol.Request) bool {
				protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusPermission, Msg: "no"})
				return true
			}
			addr := l.start(t)
			work := t.TempDir()
			if err := os.WriteFile(filepath.Join(work, "local.bin"), local, 0o644); err != nil {
				t.Fatal(err)
			}
			r := runAgainst(t, addr, work, retries(tc.stall, "put", "local.bin", "remote.bin")...)
			if r.code != tc.code || !strings.Contains(r.err, tc.says) {
				t.Errorf("exit %d, %q; want %d, saying %q", r.code, r.err, tc.code, tc.says)
			}
			if strings.Contains(l.seen(), "put") {
				t.Errorf("the client sent a put after the lie: %s", l.seen())
			}
			if b, err := os.ReadFile(filepath.Join(work, "local.bin")); err != nil || !bytes.Equal(b, local) {
				t.Errorf("the local file changed: %v", err)
			}
			if extra := onlyThese(t, work, "local.bin"); len(extra) > 0 {
				t.Errorf("the client wrote %v", extra)
			}
			if bound := map[bool]time.Duration{false: 30 * time.Second, true: stallBound}[tc.stall]; r.took > bound {
				t.Errorf("the client took %v, over %v", r.took, bound)
			}
		})
	}
	// The same server, honest: the put goes as a delta and is applied.
	t.Run("honest", func(t *testing.T) {
		l := &deltaLiar{file: old, sign: answer(good, sums.Bytes(), goOn)}
		var got []byte
		l.put = func(c net.Conn, req *protocol.Request) bool {
			size, _ := req.Size()
			if req.Delta == nil {
				t.Errorf("the put carries no delta")
				return false
			}
			protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusReadyToSend, Msg: "ready"})
			var b bytes.Buffer
			if _, err := delta.Apply(&b, &byteReader{c}, bytes.NewReader(old), int64(len(old)), good.Block, size); err != nil {
				t.Errorf("apply: %v", err)
				return false
			}
			trailer, err := protocol.ReadRequest(c, protocol.MaxRequestHeader)
			if err != nil || trailer.MD5 != md5hex(b.Bytes()) {
				t.Errorf("md5 frame %+v %v", trailer, err)
				return false
			}
			got = b.Bytes()
			protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusMD5OK, Msg: "ok", MD5: trailer.MD5, Size: protocol.Int64(size)})
			return true
		}
		addr := l.start(t)
		work := t.TempDir()
		os.WriteFile(filepath.Join(work, "local.bin"), local, 0o644)
		if r := runAgainst(t, addr, work, "put", "local.bin", "remote.bin"); r.code != 0 || !bytes.Equal(got, local) {
			t.Errorf("exit %d; the server built %d bytes, want the local %d", r.code, len(got), len(local))
		}
	})
}

// byteReader reads a connection a byte at a time where it must not read
// past what it is given (a delta's END).
type byteReader struct{ c net.Conn }

func (b *byteReader) Read(p []byte) (int, error) { return b.c.Read(p) }

func (b *byteReader) ReadByte() (byte, error) {
	var one [1]byte
	_, err := io.ReadFull(b.c, one[:])
	return one[0], err
}

// TestDeltaLiarGetAnswers: a get of remote.bin onto an older local.bin
// sends the local file's signature, and the server answers with a delta
// against it. A delta the client did not ask for, or one that is
// malformed, is a protocol violation (exit 1); one whose MD5 is wrong is
// exit 6; one cut short or stalled is a lost connection (exit 3). The
// local file stays as it was; nothing is left but it (and, after a lost
// connection, the hidden partial a later get resumes).
func TestDeltaLiarGetAnswers(t *testing.T) {
	t.Parallel() // its stalled cases wait for the client's stall timeout
	old := seededBytes(1, 256<<10)
	lit := seededBytes(2, 5000)
	newer := append(append(append([]byte{}, old[:64<<10]...), lit...), old[68<<10:]...)
	const blocks = 256 // delta.BlockSize gives 1 KiB blocks for 256 KiB
	honest := dstream{}.copy(0, 64).data(lit).copy(68, blocks-68).end()
	type answer struct {
		size   int64
		s      dstream
		md5    string // the md5 frame's
		unread bool   // the client has no local file: it asks for no delta, but gets one
		cut    bool   // the server hangs up after the stream
		stall  bool   // the server sends the stream and then nothing
		resume bool   // a get from an offset is answered honestly: the rest as literals
	}
	for _, tc := range []struct {
		name string
		a    answer
		code int
		says string
	}{
		{"a delta not asked for", answer{size: int64(len(newer)), s: dstream{}.data(newer).end(), unread: true}, 1, "a delta that was not asked for"},
		{"opcode 0x03", answer{size: int64(len(newer)), s: dstream{}.copy(0, 64).raw(0x03)}, 1, "protocol violation"},
		{"copy past the last block", answer{size: int64(len(newer)), s: dstream{}.copy(blocks, 1)}, 1, "protocol violation"},
		{"copy of 2^63 blocks from 2^63", answer{size: int64(len(newer)), s: dstream{}.copy(1<<63, 1<<63)}, 1, "protocol violation"},
		{"copy of 0 blocks", answer{size: int64(len(newer)), s: dstream{}.copy(0, 0)}, 1, "protocol violation"},
		{"data of 0 bytes", answer{size: int64(len(newer)), s: dstream{}.raw(protocol.DeltaData, 0)}, 1, "protocol violation"},
		{"data of 1 MiB + 1", answer{size: 4 << 20, s: binary.AppendUvarint(dstream{}.raw(protocol.DeltaData), protocol.MaxDeltaLiteral+1)}, 1, "protocol violation"},
		{"varint of 11 bytes", answer{size: int64(len(newer)), s: dstream{}.raw(protocol.DeltaCopy, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01)}, 1, "protocol violation"},
		{"more than the size", answer{size: 1000, s: dstream{}.copy(0, 1)}, 1, "protocol violation"},
		{"end before the size", answer{size: int64(len(newer)), s: dstream{}.copy(0, 64).end()}, 1, "protocol violation"},
		{"the basis copied into 64 MiB, with a wrong md5", answer{size: 64 << 20, s: copies(blocks, 256).end(), md5: md5hex(newer)}, 6, "md5 mismatch"},
		{"a wrong md5", answer{size: int64(len(newer)), s: honest, md5: md5hex(old)}, 6, "md5 mismatch"},
		{"cut short", answer{size: int64(len(newer)), s: honest[:2], cut: true}, 3, "connection"},
		{"cut short, then resumed", answer{size: int64(len(newer)), s: honest[:len(honest)/2], cut: true, resume: true}, 0, ""},
		{"stalled", answer{size: int64(len(newer)), s: honest[:len(honest)/2], stall: true}, 3, "timeout"},
		{"stalled before the end", answer{size: int64(len(newer)), s: honest[:len(honest)-1], stall: true}, 3, "timeout"},
		{"honest", answer{size: int64(len(newer)), s: honest}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.a.stall {
				if testing.Short() {
					t.Skip("waits for the client's stall timeout")
				}
				t.Parallel()
			}
			l := &deltaLiar{file: newer}
			mtime := time.Unix(1e9, 0).UTC()
			l.get = func(c net.Conn, req *protocol.Request, sig *delta.Signature) bool {
				d := req.Delta
				if tc.a.resume && req.Offset > 0 {
					protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusReadyToSend, Msg: "ready",
						Size: protocol.Int64(tc.a.size), Offset: req.Offset, MTime: &mtime, Delta: d, MD5: md5hex(newer)})
					c.Write(dstream{}.data(newer[req.Offset:]).end())
					return true
				}
				if tc.a.unread {
					d = &protocol.Delta{Block: 1024, Blocks: blocks, BasisSize: int64(len(old))}
				}
				protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusReadyToSend, Msg: "ready",
					Size: protocol.Int64(tc.a.size), Offset: req.Offset, MTime: &mtime, Delta: d})
				c.Write(tc.a.s)
				switch {
				case tc.a.cut:
					return false
				case tc.a.stall:
					io.Copy(io.Discard, c)
					return false
				}
				sum := tc.a.md5
				if sum == "" {
					sum = md5hex(newer)
				}
				protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusOK, Msg: "md5", MD5: sum, Size: protocol.Int64(tc.a.size)})
				return true
			}
			addr := l.start(t)
			work := t.TempDir()
			local := filepath.Join(work, "local.bin")
			if !tc.a.unread {
				if err := os.WriteFile(local, old, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			r := runAgainst(t, addr, work, retries(tc.a.stall, "get", "remote.bin", "local.bin")...)
			if r.code != tc.code || !strings.Contains(r.err, tc.says) {
				t.Errorf("exit %d, %q; want %d, saying %q", r.code, r.err, tc.code, tc.says)
			}
			b, err := os.ReadFile(local)
			switch {
			case tc.code == 0:
				if !bytes.Equal(b, newer) {
					t.Errorf("local.bin: %d bytes, md5 %s, want the server's", len(b), md5hex(b))
				}
			case tc.a.unread:
				if err == nil {
					t.Errorf("local.bin: %d bytes under the final name, from a refused delta", len(b))
				}
			case !bytes.Equal(b, old):
				t.Errorf("the old local.bin changed: %d bytes, md5 %s (%v)", len(b), md5hex(b), err)
			}
			var partials []string
			for _, e := range onlyThese(t, work, "local.bin") {
				if tc.code == 3 && strings.HasPrefix(e, ".local.bin.ftpx-part-") {
					partials = append(partials, e) // kept to resume
					continue
				}
				t.Errorf("the client wrote or left %s", e)
			}
			if len(partials) > 0 {
				t.Logf("kept to resume: %v", partials)
			}
			if bound := map[bool]time.Duration{false: 30 * time.Second, true: stallBound}[tc.a.stall]; r.took > bound {
				t.Errorf("the client took %v, over %v", r.took, bound)
			}
		})
	}
}

// copies is a stream that copies all the blocks of a basis n times.
func copies(blocks, n int) dstream {
	var s dstream
	for range n {
		s = s.copy(0, uint64(blocks))
	}
	return s
}

// TestDeltaLiarPipelinedGetRefusesDelta: get -r asks for small files
// pipelined, never as deltas. A 257 that says its body is a delta anyway
// is a protocol violation there too (exit 1), and no file is named.
func TestDeltaLiarPipelinedGetRefusesDelta(t *testing.T) {
	body := seededBytes(1, 1000)
	stream := dstream{}.data(body).end()
	addr := fakeServer(t, protocol.Response{Status: protocol.StatusReady, Msg: "ready"}, func(c net.Conn, req *protocol.Request) bool {
		switch req.Action {
		case protocol.ActionGet:
			// The delta's bytes, with their own size and md5: read as a
			// plain body they would pass every check.
			protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusReadyToSend, Msg: "ready",
				Size: protocol.Int64(int64(len(stream))), Delta: &protocol.Delta{Block: 1024, Blocks: 1, BasisSize: 1000}})
			c.Write(stream)
			protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusOK, Msg: "md5", MD5: md5hex(stream), Size: protocol.Int64(int64(len(stream)))})
		case protocol.ActionStat:
			protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusOK, Msg: "ok", Stat: &protocol.Entry{Name: "d", IsDir: true}})
		case protocol.ActionLs:
			protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusOK, Msg: "ok", Path: "/d",
				Entries: []protocol.Entry{{Name: "a.bin", Size: int64(len(stream))}, {Name: "b.bin", Size: int64(len(stream))}}})
		case protocol.ActionQuit:
			protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusGoodbye, Msg: "bye"})
			return false
		default: // tree: the client lists with ls
			protocol.WriteFrame(c, protocol.Response{ID: req.ID, Status: protocol.StatusBadCommand, Msg: "no"})
		}
		return true
	})
	work := t.TempDir()
	r := runAgainst(t, addr, work, "get", "-r", "d", "out")
	if r.code != 1 || !strings.Contains(r.err, "a delta that was not asked for") {
		t.Errorf("exit %d, %q; want 1, a protocol violation", r.code, r.err)
	}
	if extra := onlyThese(t, work, "out"); len(extra) > 0 {
		t.Errorf("the client named %v", extra)
	}
}
