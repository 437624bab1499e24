package hostile

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// Malformed SFTP packets after the login: each case on a channel of its
// own, on one SSH connection. The server may answer with a refusal or end
// the channel, never crash, never answer a success to garbage, and the
// connection's other channels, and other users, go on being served.

// packetCase is one malformed input. send returns the bytes to write
// after INIT; then the case judges what came back.
type packetCase struct {
	name string
	send func(c *sftpChan) []byte
	// want: "end" (the channel ends, no answer), "refuse" (a non-OK STATUS
	// or the channel ends), "unsupported" (STATUS OP_UNSUPPORTED with the
	// request's id, and the channel goes on).
	want string
}

func lengthPrefix(n uint32, rest ...byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, n), rest...)
}

func packetCases() []packetCase {
	return []packetCase{
		{"length 2^31", func(*sftpChan) []byte { return lengthPrefix(1<<31, 17, 0, 0, 0, 1) }, "end"},
		{"length 2^32-1", func(*sftpChan) []byte { return lengthPrefix(0xFFFFFFFF, 17, 0, 0, 0, 1) }, "end"},
		{"length 256 KiB + 1, nothing after", func(*sftpChan) []byte { return lengthPrefix(256<<10 + 1) }, "end"},
		{"length 0", func(*sftpChan) []byte { return lengthPrefix(0) }, "end"},
		{"type 0", func(c *sftpChan) []byte { return req(0, c.id()).str("/top.txt").frame() }, "refuse"},
		{"type 2 (VERSION, sent by the client)", func(c *sftpChan) []byte { return req(fxpVersion, 3).frame() }, "refuse"},
		{"type 99", func(c *sftpChan) []byte { return req(99, c.id()).str("/top.txt").frame() }, "refuse"},
		{"type 101 (STATUS, sent by the client)", func(c *sftpChan) []byte { return req(fxpStatus, c.id()).u32(0).str("").str("").frame() }, "refuse"},
		{"type 255", func(c *sftpChan) []byte { return req(255, c.id()).frame() }, "refuse"},
		{"type only, no id", func(*sftpChan) []byte { return (&pkt{b: []byte{fxpStat}}).frame() }, "refuse"},
		{"OPEN without a filename", func(c *sftpChan) []byte { return req(fxpOpen, c.id()).frame() }, "refuse"},
		{"OPEN with pflags missing", func(c *sftpChan) []byte { return req(fxpOpen, c.id()).str("/top.txt").frame() }, "refuse"},
		{"STAT with a string of 2^32-1 bytes", func(c *sftpChan) []byte { return req(fxpStat, c.id()).u32(0xFFFFFFFF).raw('x').frame() }, "refuse"},
		{"RENAME with one path", func(c *sftpChan) []byte { return req(fxpRename, c.id()).str("/top.txt").frame() }, "refuse"},
		{"WRITE with data longer than the packet", func(c *sftpChan) []byte {
			return req(fxpWrite, c.id()).str("h").u64(0).u32(1 << 20).raw([]byte("short")...).frame()
		}, "refuse"},
		{"EXTENDED with an unknown name", func(c *sftpChan) []byte {
			return req(fxpExtended, c.id()).str("evil@example.com").str("/top.txt").frame()
		}, "unsupported"},
		{"EXTENDED with its name past the packet", func(c *sftpChan) []byte {
			return req(fxpExtended, c.id()).u32(1000).raw([]byte("posix-rename@openssh.com")...).frame()
		}, "refuse"},
		{"posix-rename with one path", func(c *sftpChan) []byte {
			return req(fxpExtended, c.id()).str("posix-rename@openssh.com").str("/top.txt").frame()
		}, "refuse"},
		{"READ of a handle never given", func(c *sftpChan) []byte { return req(fxpRead, c.id()).str("999").u64(0).u32(100).frame() }, "refuse"},
		{"WRITE to a handle never given", func(c *sftpChan) []byte { return req(fxpWrite, c.id()).str("999").u64(0).str("x").frame() }, "refuse"},
		{"CLOSE of a handle never given", func(c *sftpChan) []byte { return req(fxpClose, c.id()).str("999").frame() }, "refuse"},
		{"READDIR of a handle never given", func(c *sftpChan) []byte { return req(fxpReaddir, c.id()).str("").frame() }, "refuse"},
		{"half a packet, then the channel's EOF", func(c *sftpChan) []byte {
			return lengthPrefix(100, fxpStat, 0, 0, 0, 9, 0, 0, 0, 50, 'h', 'a', 'l', 'f')
		}, "eof"},
	}
}

// TestSFTPRawMalformedPackets sends each malformed packet after INIT on a
// channel of its own: huge and zero lengths end the channel, garbage
// types and truncated requests are refused or end it, an unknown
// extension is OP_UNSUPPORTED and the channel goes on; INIT with any
// version is answered with version 3; a read of 2^32-1 bytes answers
// the file's bytes only, a read at 2^63 is refused without naming the
// server's paths; 2000 pipelined requests
// are each answered once. The SSH connection, and other users, go on
// being served; no panic, nothing outside the home touched.
func TestSFTPRawMalformedPackets(t *testing.T) {
	a := newArena(t)
	addr := a.ts.StartSFTP(t)
	a.before = snapshot(t, a.top, a.skip...)
	sc, err := sshLogin(addr, attacker, attackerPW)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	fresh := func(what string) *sftpChan {
		t.Helper()
		c, err := openSFTP(sc, a.g)
		if err != nil {
			t.Fatalf("%s: a new channel on the same connection: %v", what, err)
		}
		t.Cleanup(c.Close)
		if v, err := c.init(3); err != nil || v.typ != fxpVersion || v.version != 3 {
			t.Fatalf("%s: INIT 3: %s %v", what, v, err)
		}
		return c
	}
	// alive checks that c still answers a well-formed request.
	alive := func(c *sftpChan) error {
		ans, err := c.do(req(fxpRealpath, c.id()).str("."))
		if err == nil && (ans.typ != fxpName || len(ans.names) != 1 || ans.names[0] != "/") {
			err = fmt.Errorf("REALPATH . answered %s", ans)
		}
		return err
	}

	for _, pc := range packetCases() {
		t.Run(pc.name, func(t *testing.T) {
			c := fresh(pc.name)
			b := pc.send(c)
			id := uint32(0)
			if len(b) >= 9 {
				id = binary.BigEndian.Uint32(b[5:9])
			}
			if err := c.send(b); err != nil {
				t.Fatalf("send: %v", err)
			}
			switch pc.want {
			case "eof":
				c.w.Close()
				if !c.endedWithin(10 * time.Second) {
					t.Errorf("the channel is still open 10 s after its EOF in the middle of a packet")
				}
			case "end":
				if !c.endedWithin(10 * time.Second) {
					t.Errorf("the channel still runs 10 s after the packet")
				}
				select {
				case ans := <-c.answers:
					t.Errorf("answered %s", ans)
				default:
				}
			case "refuse":
				ans, err := c.next()
				if err == nil && ans.ok() {
					t.Errorf("answered %s, want a refusal or the channel's end", ans)
				}
				if err == nil {
					t.Logf("answered %s", ans)
				} else {
					t.Logf("%v", err)
				}
			case "unsupported":
				ans, err := c.next()
				if err != nil || ans.typ != fxpStatus || ans.code != fxOpUnsupported || ans.id != id {
					t.Errorf("answered %s (id %d) %v, want STATUS %d for id %d", ans, ans.id, err, fxOpUnsupported, id)
				} else if err := alive(c); err != nil {
					t.Errorf("the channel after it: %v", err)
				}
			}
		})
	}

	t.Run("INIT with any version", func(t *testing.T) {
		for _, v := range []uint32{0, 1, 2, 4, 6, 0xFFFFFFFF} {
			c, err := openSFTP(sc, a.g)
			if err != nil {
				t.Fatal(err)
			}
			ans, err := c.init(v)
			if err != nil || ans.typ != fxpVersion || ans.version != 3 || !slices.Contains(ans.exts, "posix-rename@openssh.com") {
				t.Errorf("INIT %d: %s %v, want VERSION 3 with the extensions", v, ans, err)
			} else if err := alive(c); err != nil {
				t.Errorf("after INIT %d: %v", v, err)
			}
			// INIT again on the same channel.
			if ans, err := c.init(v); err != nil || ans.typ != fxpVersion || ans.version != 3 {
				t.Errorf("a second INIT %d: %s %v", v, ans, err)
			}
			c.Close()
		}
	})

	t.Run("reads of 2^32-1 bytes and at 2^63", func(t *testing.T) {
		c := fresh("reads")
		h, err := c.do(req(fxpOpen, c.id()).str("/top.txt").u32(pflagRead).noAttrs())
		if err != nil || h.typ != fxpHandle {
			t.Fatalf("OPEN /top.txt: %s %v", h, err)
		}
		ans, err := c.do(req(fxpRead, c.id()).str(h.handle).u64(0).u32(0xFFFFFFFF))
		if err != nil || ans.typ != fxpData || string(ans.data) != insideTop {
			t.Errorf("READ of 2^32-1 bytes: %s %v, want DATA %q", ans, err, insideTop)
		}
		// Past the end (and negative as an int64): EOF or a refusal, in
		// words that do not name the server's own directories.
		ans, err = c.do(req(fxpRead, c.id()).str(h.handle).u64(1 << 63).u32(100))
		if err != nil || ans.ok() {
			t.Errorf("READ at 2^63: %s %v, want EOF or a refusal", ans, err)
		}
		if strings.Contains(ans.msg, a.top) {
			t.Errorf("READ at 2^63: the refusal names the server's own path: %q", ans.msg)
		}
		if ans, err := c.do(req(fxpClose, c.id()).str(h.handle)); err != nil || !ans.ok() {
			t.Errorf("CLOSE: %s %v", ans, err)
		}
		if ans, err := c.do(req(fxpClose, c.id()).str(h.handle)); err != nil || ans.ok() {
			t.Errorf("a second CLOSE of the handle: %s %v, want a refusal", ans, err)
		}
	})

	t.Run("2000 pipelined requests", func(t *testing.T) {
		c := fresh("pipelined")
		const n = 2000
		var buf bytes.Buffer
		first := c.nextID + 1
		for range n {
			buf.Write(req(fxpStat, c.id()).str("/top.txt").frame())
		}
		if err := c.send(buf.Bytes()); err != nil {
			t.Fatal(err)
		}
		seen := map[uint32]bool{}
		for range n {
			ans, err := c.next()
			if err != nil {
				t.Fatalf("after %d answers: %v", len(seen), err)
			}
			if ans.typ != fxpAttrs || ans.id < first || ans.id >= first+n || seen[ans.id] {
				t.Fatalf("answer %s with id %d (ids %d..%d, %d seen)", ans, ans.id, first, first+n-1, len(seen))
			}
			seen[ans.id] = true
		}
	})

	// The connection survived every case: a new channel is served, and so
	// is another user; nothing panicked, nothing outside changed.
	if err := alive(fresh("after every case")); err != nil {
		t.Errorf("a channel opened after every case: %v", err)
	}
	if n := panics(a.ts); n != 0 || strings.Contains(a.ts.Log(), "panic") {
		t.Errorf("the server logged %d panics", n)
	}
	a.escapes(t, "malformed SFTP packets")
	sftpRoundTrip(t, addr, neighbour, neighbourPW, "after-packets.bin")
}

// shortAttrsChild marks the child process of
// TestSFTPShortAttributesDoNotKillServer that runs the attack.
const shortAttrsChild = "FTPX_HOSTILE_SHORT_ATTRS_CHILD"

// TestSFTPShortAttributesDoNotKillServer sends requests whose ATTRS
// announce fields (size, times, everything) they do not carry: SETSTAT
// of a file, of a name being uploaded, FSETSTAT of an upload's handle,
// OPEN and MKDIR. Each must be refused (or end its channel) and the
// server must go on serving. The server runs in this test's process, so
// the attack runs in a child process of the test binary: a panic there
// fails this test with the child's output instead of ending the
// package's run.
func TestSFTPShortAttributesDoNotKillServer(t *testing.T) {
	if os.Getenv(shortAttrsChild) == "1" {
		shortAttributesAttack(t)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSFTPShortAttributesDoNotKillServer$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), shortAttrsChild+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the process serving SFTP did not survive (%v):\n%s", err, lastLines(out, 40))
	}
	if !bytes.Contains(out, []byte("--- PASS: TestSFTPShortAttributesDoNotKillServer")) {
		t.Fatalf("the child did not run the attack:\n%s", lastLines(out, 40))
	}
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// shortAttributesAttack is the child's part.
func shortAttributesAttack(t *testing.T) {
	a := newArena(t)
	addr := a.ts.StartSFTP(t)
	sc, err := sshLogin(addr, attacker, attackerPW)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	c, err := openSFTP(sc, a.g)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v, err := c.init(3); err != nil || v.typ != fxpVersion {
		t.Fatalf("INIT: %s %v", v, err)
	}
	upload, err := c.do(req(fxpOpen, c.id()).str("/up.bin").u32(pflagWrite | pflagCreat | pflagTrunc).noAttrs())
	if err != nil || upload.typ != fxpHandle {
		t.Fatalf("OPEN /up.bin for writing: %s %v", upload, err)
	}
	const fxpFsetstat = 10
	for _, tc := range []struct {
		name   string
		p      *pkt
		served bool // may be served: pkg/sftp reads no attributes of a MKDIR, and the server uses none
	}{
		{"SETSTAT of a file, times announced, none sent", req(fxpSetstat, c.id()).str("/top.txt").u32(attrTimes), false},
		{"SETSTAT of a file, size announced, none sent", req(fxpSetstat, c.id()).str("/top.txt").u32(attrSize), false},
		{"SETSTAT of a file, every field announced, none sent", req(fxpSetstat, c.id()).str("/top.txt").u32(0xFFFFFFFF), false},
		{"SETSTAT of a name being uploaded, times announced, none sent", req(fxpSetstat, c.id()).str("/up.bin").u32(attrTimes), false},
		{"FSETSTAT of an upload, times announced, none sent", req(fxpFsetstat, c.id()).str(upload.handle).u32(attrTimes), false},
		{"OPEN, every field announced, none sent", req(fxpOpen, c.id()).str("/new.txt").u32(pflagWrite | pflagCreat).u32(0xFFFFFFFF), false},
		{"MKDIR, every field announced, none sent", req(fxpMkdir, c.id()).str("/newdir").u32(0xFFFFFFFF), true},
	} {
		t.Logf("sending: %s", tc.name)
		ans, err := c.do(tc.p)
		if err == nil && ans.ok() && ans.typ == fxpStatus && !tc.served {
			t.Errorf("%s: answered %s, want a refusal", tc.name, ans)
		}
		t.Logf("%s: %s %v", tc.name, ans, err)
		if err != nil { // the channel ended: the next case needs one
			if c, err = openSFTP(sc, a.g); err != nil {
				t.Fatalf("a new channel after %s: %v", tc.name, err)
			}
			defer c.Close()
			if v, err := c.init(3); err != nil || v.typ != fxpVersion {
				t.Fatalf("INIT after %s: %s %v", tc.name, v, err)
			}
		}
		sftpRoundTrip(t, addr, neighbour, neighbourPW, "after-short-attrs.bin")
	}
	if n := panics(a.ts); n != 0 {
		t.Errorf("the server logged %d panics", n)
	}
}
