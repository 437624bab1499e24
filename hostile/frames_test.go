package hostile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ftpx/protocol"
	"ftpx/server"
)

// malformed is a frame (or a run of bytes) sent right after a successful
// auth, and what the server must do with it.
type malformed struct {
	name   string
	raw    []byte
	want   protocol.Status // the answer
	closes bool            // the server closes after answering; else the connection goes on, in sync
}

func padTo(n int, head, tail string) []byte {
	// head + "pad":"xxx..." + tail, exactly n bytes.
	b := []byte(head + `"pad":"`)
	rest := n - len(b) - len(`"`) - len(tail)
	b = append(b, bytes.Repeat([]byte("x"), rest)...)
	return append(b, `"`+tail...)
}

func atLimitFrame() []byte {
	return padTo(protocol.MaxRequestHeader, `{"action":"pwd","id":"at-limit",`, `}`)
}

func malformedFrames() []malformed {
	f := func(s string) []byte { return frame([]byte(s)) }
	atLimit := atLimitFrame()
	over := padTo(protocol.MaxRequestHeader+1, `{"action":"pwd",`, `}`)
	manyKeys := new(bytes.Buffer)
	manyKeys.WriteString(`{"action":"pwd"`)
	for i := 0; manyKeys.Len() < 60000; i++ {
		fmt.Fprintf(manyKeys, `,"k%d":%d`, i, i)
	}
	manyKeys.WriteString(`}`)
	deep := `{"action":"pwd","x":` + strings.Repeat("[", 30000) + strings.Repeat("]", 30000) + `}`

	m := []malformed{
		{"length 0", prefix(0), protocol.StatusBadFormat, false},
		{"length 2^32-1", append(prefix(1<<32-1), "{}"...), protocol.StatusHeaderTooLarge, true},
		{"length 65536+1", frame(over), protocol.StatusHeaderTooLarge, true},
		{"length 65536+1, prefix only", prefix(protocol.MaxRequestHeader + 1), protocol.StatusHeaderTooLarge, true},
		{"length exactly 65536, valid", frame(atLimit), protocol.StatusOK, false},
		{"length exactly 65536, not JSON", frame(bytes.Repeat([]byte("x"), protocol.MaxRequestHeader)), protocol.StatusBadFormat, false},
		{"an HTTP request", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), protocol.StatusHeaderTooLarge, true},
		{"a TLS client hello", []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}, protocol.StatusHeaderTooLarge, true},
		{"60 KB of distinct keys", f(manyKeys.String()), protocol.StatusOK, false},
		{"30000 nested arrays", f(deep), protocol.StatusBadFormat, false},
	}
	for _, s := range []string{`{"action":`, `not json`, `{"action":"pwd"}}`, `{"action":"pwd"} x`,
		`{"action":"pwd"}{"action":"pwd"}`, `{action:"pwd"}`, `{'action':'pwd'}`, `{"action":"pwd",}`,
		"\xff\xfe{}", `{"action":"pwd"`, "{\"action\":\"pwd\"}\x00", ` `, `{"action":"pwd","id":"\ud800`,
		// not objects
		`[]`, `[{"action":"pwd"}]`, `"pwd"`, `42`, `null`, `true`, `{}`, `{"action":""}`, `{"action":null}`,
		// wrong types
		`{"action":"put","filename":"w.bin","size":"12"}`, `{"action":"get","filename":"top.txt","offset":"x"}`,
		`{"action":"get","filename":5}`, `{"action":"rm","filename":"top.txt","recursive":"yes"}`,
		`{"action":["pwd"]}`, `{"action":"ls","path":{}}`, `{"action":"put","filename":"w.bin","size":1.5}`,
		`{"action":"put","filename":"w.bin","size":1e400}`, `{"action":"put","filename":"w.bin","size":9223372036854775808}`,
		`{"action":"put","filename":"w.bin","file_size":"3"}`, `{"action":"auth","username":1,"password":2}`,
		`{"action":"stat","filename":"top.txt","checksum":1}`, `{"action":"mv","filename":"top.txt","to":[]}`,
		`{"action":"put","filename":"w.bin","size":3,"transfer":7}`, `{"action":"pwd","id":42}`,
		// duplicate keys, and keys differing only in case
		`{"action":"ls","Action":"put"}`, `{"action":"pwd","action":"pwd"}`, `{"action":"pwd","ACTION":"pwd"}`,
		`{"action":"pwd","\u0041ction":"put"}`, `{"action":"ls","path":"/","PATH":"../.."}`,
		`{"action":"pwd","x":1,"X":2}`, `{"action":"get","filename":"top.txt","FileName":"../../outside/secret.txt"}`,
		`{"action":"put","filename":"w.bin","size":3,"Size":1000000}`,
	} {
		m = append(m, malformed{fmt.Sprintf("%q", s), f(s), protocol.StatusBadFormat, false})
	}
	return m
}

// TestMalformedFrames sends each malformed frame on its own logged-in
// connection: the answer must be the documented one, the connection must
// go on in sync (a pwd right after is answered with its id) or be closed
// as documented, and after each a second, well-behaved connection must do
// a put and a get.
func TestMalformedFrames(t *testing.T) {
	a := newArena(t)
	crashes := 0
	cases := malformedFrames()
	for i, m := range cases {
		rc := login(t, a.ts, attacker, attackerPW, a.g)
		if err := rc.write(m.raw); err != nil {
			t.Fatalf("%s: write: %v", m.name, err)
		}
		resp, _, err := rc.read()
		switch {
		case err != nil:
			t.Errorf("%s: no answer: %v", m.name, err)
		case resp.Status != m.want:
			t.Errorf("%s: %d %s, want %d", m.name, resp.Status, resp.Msg, m.want)
		case m.want == protocol.StatusOK && resp.ID != "at-limit" && strings.Contains(m.name, "65536"):
			t.Errorf("%s: answer %+v is not pwd's", m.name, resp)
		}
		if m.closes {
			if !rc.closedByServer(5 * time.Second) {
				t.Errorf("%s: connection left open after %d", m.name, m.want)
			}
		} else if resp, err := rc.do(obj("action", "pwd", "id", "after")); err != nil || resp.Status != protocol.StatusOK || resp.ID != "after" {
			t.Errorf("%s: the connection does not go on in sync: %+v %v", m.name, resp, err)
		}
		rc.Close()
		if panics(a.ts) > 0 {
			crashes++
			t.Fatalf("%s: the server logged a panic", m.name)
		}
		roundTrip(t, a.ts, neighbour, neighbourPW, fmt.Sprintf("rt%d.txt", i))
	}
	// Truncated frames: the client sends part of a frame and closes. There
	// is no one to answer; the server ends the session and the others go
	// on.
	truncated := [][]byte{
		{0}, {0, 0, 0}, prefix(100), append(prefix(100), `{"action":"pwd"`...),
		frame(atLimitFrame())[:40000], append(prefix(protocol.MaxRequestHeader), 'x'),
	}
	before := strings.Count(a.ts.Log(), `reason="truncated frame"`)
	for i, raw := range truncated {
		rc := login(t, a.ts, attacker, attackerPW, a.g)
		if err := rc.write(raw); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		roundTrip(t, a.ts, neighbour, neighbourPW, fmt.Sprintf("trunc%d.txt", i))
	}
	if !waitFor(10*time.Second, func() bool {
		return strings.Count(a.ts.Log(), `reason="truncated frame"`)-before >= len(truncated)-1 // {0} ends before a whole prefix
	}) {
		t.Errorf("truncated frames: the server did not end those sessions")
	}
	if panics(a.ts) > 0 {
		crashes++
	}
	a.escapes(t, "malformed frames")
	t.Logf("malformed frames: %d tried (%d answered, %d truncated), server crashes: %d, handler panics: %d",
		len(cases)+len(truncated), len(cases), len(truncated), crashes, panics(a.ts))
}

// TestDuplicateKeysUnderUnicodeFoldingRefused: encoding/json matches keys
// case-insensitively with Unicode simple folding, so "ſize" (U+017F, long
// s) is "size" and "checKsum" (U+212A, Kelvin sign) is "checksum" to it,
// and the last one wins. protocol.Decode's duplicate check folds with
// strings.ToLower, which maps neither to ASCII: such a header passes the
// check and means what its last key says, exactly the ambiguity that the
// rule "keys are unique, also ignoring case" (250) is there to refuse.
func TestDuplicateKeysUnderUnicodeFoldingRefused(t *testing.T) {
	a := newArena(t)
	rc := login(t, a.ts, attacker, attackerPW, a.g)
	for _, s := range []string{
		"{\"action\":\"stat\",\"filename\":\"top.txt\",\"checksum\":false,\"chec\u212asum\":true}",
		"{\"action\":\"put\",\"filename\":\"w.bin\",\"size\":3,\"\u017fize\":1000000}",
		"{\"action\":\"get\",\"filename\":\"top.txt\",\"offset\":0,\"off\u017fet\":5}",
		"{\"action\":\"rm\",\"filename\":\"a\",\"recursive\":false,\"recur\u017five\":true}",
	} {
		resp, err := rc.do([]byte(s))
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if resp.Status != protocol.StatusBadFormat {
			t.Errorf("BUG: %s: %d %s, want 250 (two keys equal under JSON's case folding)", s, resp.Status, resp.Msg)
			if resp.Status == protocol.StatusReadyToSend { // a get or put went ahead: resync by dropping the connection
				rc.Close()
				rc = login(t, a.ts, attacker, attackerPW, a.g)
			}
		}
		a.reset(t)
	}
}

// TestRawInvalidUTF8PathRefused: encoding/json would replace each invalid
// byte of a JSON string with U+FFFD, so that "\xff" and "\xfe" would name
// one file; the server refuses a header that is not valid UTF-8 with 250
// before decoding it.
func TestRawInvalidUTF8PathRefused(t *testing.T) {
	a := newArena(t)
	rc := login(t, a.ts, attacker, attackerPW, a.g)
	var got []string
	for _, raw := range []string{"\xff", "\xfe", "a\xc0\xafb"} {
		_, last, err := rc.put(obj("action", "put", "filename", jsonRaw("\""+raw+"\""), "size", len(putBody)), putBody, true)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%q: %d", raw, last.Status))
		if last.Status != protocol.StatusBadFormat {
			t.Errorf("put with the raw invalid UTF-8 name %q: %d %s, want 250", raw, last.Status, last.Msg)
		}
	}
	ents, _ := os.ReadDir(a.home)
	var names []string
	for _, e := range ents {
		names = append(names, fmt.Sprintf("%q", e.Name()))
	}
	t.Logf("raw invalid UTF-8 names: %s; the home now holds %s", strings.Join(got, ", "), strings.Join(names, " "))
	a.escapes(t, "raw invalid UTF-8")
}

// TestRequestFieldAbuse: sizes and offsets out of range, transfer ids
// that are not uuids. Each gets its specific code and changes nothing.
func TestRequestFieldAbuse(t *testing.T) {
	a := newArena(t)
	rc := login(t, a.ts, attacker, attackerPW, a.g)
	q := login(t, a.ts, quotaUser, quotaPW, a.g)
	tid := "0b9f2a4c-5d6e-4f70-8192-a3b4c5d6e7f8"
	for _, tc := range []struct {
		who  *rawConn
		hdr  []byte
		want protocol.Status
	}{
		{rc, obj("action", "put", "filename", "w.bin", "size", -1), protocol.StatusBadSize},
		{rc, obj("action", "put", "filename", "w.bin", "file_size", -5), protocol.StatusBadSize},
		{rc, obj("action", "put", "filename", "w.bin"), protocol.StatusBadSize},
		{rc, obj("action", "put", "filename", "w.bin", "size", nil), protocol.StatusBadSize},
		{q, obj("action", "put", "filename", "w.bin", "size", int64(1)<<62), protocol.StatusQuota},
		{q, obj("action", "put", "filename", "w.bin", "size", int64(1<<63-1)), protocol.StatusQuota},
		{q, obj("action", "put", "filename", "w.bin", "size", quotaLimit+1), protocol.StatusQuota},
		{rc, obj("action", "get", "filename", "top.txt", "offset", -1), protocol.StatusBadOffset},
		{rc, obj("action", "get", "filename", "top.txt", "offset", 1000), protocol.StatusBadOffset},
		{rc, obj("action", "get", "filename", "top.txt", "offset", int64(1<<63-1)), protocol.StatusBadOffset},
		{rc, obj("action", "get", "filename", "top.txt", "offset", 3, "md5", md5hex([]byte("xxx"))), protocol.StatusPrefixMismatch},
		{rc, obj("action", "put", "filename", "w.bin", "size", 10, "offset", 5), protocol.StatusBadOffset},
		{rc, obj("action", "put", "filename", "w.bin", "size", 10, "offset", 11, "transfer", tid), protocol.StatusBadOffset},
		{rc, obj("action", "put", "filename", "w.bin", "size", 10, "offset", -1, "transfer", tid), protocol.StatusBadOffset},
		{rc, obj("action", "put", "filename", "w.bin", "size", 10, "offset", 5, "transfer", tid), protocol.StatusBadOffset},
		{rc, obj("action", "put", "filename", "w.bin", "size", 10, "transfer", "../../../../../../outside/x"), protocol.StatusBadFormat},
		{rc, obj("action", "put", "filename", "w.bin", "size", 10, "transfer", "../../../../../../../../etc/x"), protocol.StatusBadFormat},
		{rc, obj("action", "put", "filename", "w.bin", "size", 10, "transfer", "{"+tid+"}"), protocol.StatusBadFormat},
		{rc, obj("action", "put", "filename", "w.bin", "size", 10, "transfer", "urn:uuid:"+tid), protocol.StatusBadFormat},
		{rc, obj("action", "breakpoint", "filename", "w.bin"), protocol.StatusBadFormat},
		{rc, obj("action", "breakpoint", "filename", "w.bin", "transfer", "not-a-uuid"), protocol.StatusBadFormat},
		{rc, obj("action", "breakpoint", "filename", "w.bin", "transfer", strings.Repeat("a", 5000)), protocol.StatusBadFormat},
		{rc, obj("action", "auth", "username", attacker, "password", attackerPW), protocol.StatusBadCommand},
		{rc, obj("action", "nope"), protocol.StatusBadCommand},
		{rc, obj("action", "GET", "filename", "top.txt"), protocol.StatusBadCommand},
		{rc, obj("action", "mv", "filename", "top.txt"), protocol.StatusNoFilename},
		{rc, obj("action", "rm", "filename", "/"), protocol.StatusPermission},
		{rc, obj("action", "rm", "filename", "/", "recursive", true), protocol.StatusPermission},
		{rc, obj("action", "mv", "filename", "/", "to", "/x"), protocol.StatusPermission},
		{rc, obj("action", "mv", "filename", "a", "to", "a/b/c/a"), protocol.StatusPermission},
	} {
		resp, err := tc.who.do(tc.hdr)
		if err != nil {
			t.Fatalf("%s: %v", tc.hdr, err)
		}
		if resp.Status != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.hdr, resp.Status, resp.Msg, tc.want)
			if resp.Status == protocol.StatusReadyToSend {
				t.Fatalf("%s: a put or get went ahead: stream out of sync", tc.hdr)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(a.home, "w.bin")); err == nil {
		t.Errorf("a refused put left w.bin")
	}
	// A size of 2^62 for a user without a quota: no disk can hold it, so
	// it is refused before the body (286); if it were not, nothing must
	// remain once the client gives up.
	resp, err := rc.do(obj("action", "put", "filename", "huge.bin", "size", int64(1)<<62))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != protocol.StatusNoSpace {
		t.Errorf("put of 2^62 bytes without a quota: %d %s, want 286", resp.Status, resp.Msg)
	}
	if resp.Status == protocol.StatusReadyToSend {
		rc.write(bytes.Repeat([]byte("h"), 1000))
		rc.Close()
		if !waitFor(10*time.Second, func() bool { return partialCount(a.home) == 0 }) {
			t.Errorf("the partial of an abandoned 2^62-byte put was left behind")
		}
	}
	if _, err := os.Stat(filepath.Join(a.home, "huge.bin")); err == nil {
		t.Errorf("an abandoned put left huge.bin")
	}
	a.escapes(t, "request field abuse")
}

// partialCount returns the number of entries in a home's partial
// directory.
func partialCount(home string) int {
	ents, _ := os.ReadDir(filepath.Join(home, ".ftpx-partial"))
	return len(ents)
}

func jsonRaw(s string) json.RawMessage { return json.RawMessage(s) }

// TestPutBodyAbuse: bodies shorter or longer than announced, missing or
// garbage md5 trailers. Nothing but the announced length with the right
// MD5 may ever appear under the name.
func TestPutBodyAbuse(t *testing.T) {
	a := newArena(t)
	body := bytes.Repeat([]byte("0123456789"), 1000) // 10000 bytes
	sum := md5hex(body)
	stored := func(name string) ([]byte, bool) {
		b, err := os.ReadFile(filepath.Join(a.home, name))
		return b, err == nil
	}
	checkStored := func(name string) {
		t.Helper()
		if b, ok := stored(name); ok && (len(b) != len(body) || md5hex(b) != sum) {
			t.Errorf("%s: %d bytes stored with md5 %s, want nothing or the announced %d bytes", name, len(b), md5hex(b), len(body))
		}
	}
	header := func(name string, kv ...any) []byte {
		return obj(append([]any{"action", "put", "filename", name, "size", len(body)}, kv...)...)
	}
	subtests := 0
	run := func(name string, f func(t *testing.T)) {
		subtests++
		t.Run(name, func(t *testing.T) {
			f(t)
			roundTrip(t, a.ts, neighbour, neighbourPW, fmt.Sprintf("after-body-abuse-%d.txt", subtests))
		})
	}
	begin := func(hdr []byte) *rawConn {
		t.Helper()
		rc := login(t, a.ts, attacker, attackerPW, a.g)
		if resp, err := rc.do(hdr); err != nil || resp.Status != protocol.StatusReadyToSend {
			t.Fatalf("put: %d %s %v", resp.Status, resp.Msg, err)
		}
		return rc
	}

	run("short body then close", func(t *testing.T) {
		rc := begin(header("short.bin"))
		rc.write(body[:4000])
		rc.Close()
		if !waitFor(10*time.Second, func() bool { return partialCount(a.home) == 0 }) {
			t.Errorf("the partial of a cut put without a transfer id was kept")
		}
		if _, ok := stored("short.bin"); ok {
			t.Errorf("a cut put left short.bin")
		}
	})
	run("short body then close, with a transfer id", func(t *testing.T) {
		const tid = "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
		rc := begin(header("shortt.bin", "transfer", tid))
		rc.write(body[:4000])
		rc.Close()
		check := login(t, a.ts, attacker, attackerPW, a.g)
		var resp protocol.Response
		if !waitFor(10*time.Second, func() bool {
			resp, _ = check.do(obj("action", "breakpoint", "filename", "shortt.bin", "transfer", tid))
			return resp.Status == protocol.StatusOK && resp.Offset > 0
		}) {
			t.Fatalf("nothing held for a cut resumable put: %+v", resp)
		}
		if resp.Offset != 4000 || resp.MD5 != md5hex(body[:4000]) {
			t.Errorf("breakpoint after 4000 bytes: offset %d md5 %s", resp.Offset, resp.MD5)
		}
		if _, ok := stored("shortt.bin"); ok {
			t.Errorf("a cut put left shortt.bin")
		}
		// Resuming it with the rest gives the whole file.
		if first, last, err := check.put(header("shortt.bin", "transfer", tid, "offset", 4000), body, true); err != nil || first.Offset != 4000 || last.Status != protocol.StatusMD5OK {
			t.Errorf("resume: %+v %+v %v", first, last, err)
		}
		checkStored("shortt.bin")
	})
	run("body longer than announced, md5 trailer", func(t *testing.T) {
		// The 20 extra bytes are read where the md5 frame should be: as a
		// length prefix of 0x45585452 ("EXTR"), over the limit.
		rc := begin(header("long.bin"))
		rc.write(append(append([]byte{}, body...), "EXTRAEXTRAEXTRAEXTRA"...))
		rc.send(obj("md5", sum))
		resp, _, err := rc.read()
		if err != nil {
			t.Errorf("BUG: no answer at all after a body longer than announced (the extra bytes are the md5 frame's length prefix, over the limit): %v; PROTOCOL.md: a longer length prefix is answered 271", err)
		} else if resp.Status != protocol.StatusHeaderTooLarge && resp.Status != protocol.StatusBadFormat {
			t.Errorf("after a body longer than announced: %d %s, want 271 or 250", resp.Status, resp.Msg)
		}
		rc.closedByServer(5 * time.Second)
		checkStored("long.bin")
	})
	run("body longer than announced, extra is a small junk frame", func(t *testing.T) {
		rc := begin(header("long2.bin"))
		rc.write(append(append([]byte{}, body...), frame([]byte("junk!"))...))
		rc.send(obj("md5", sum))
		for i, want := range []protocol.Status{protocol.StatusBadFormat, protocol.StatusBadFormat} {
			resp, _, err := rc.read()
			if err != nil || resp.Status != want {
				t.Errorf("answer %d: %d %s %v, want %d", i, resp.Status, resp.Msg, err, want)
			}
		}
		if resp, err := rc.do(obj("action", "pwd", "id", "sync")); err != nil || resp.ID != "sync" {
			t.Errorf("out of sync: %+v %v", resp, err)
		}
		checkStored("long2.bin")
	})
	run("body longer than announced, md5 in the header", func(t *testing.T) {
		rc := begin(header("long3.bin", "md5", sum))
		rc.write(append(append([]byte{}, body...), 0xff, 0xff, 0xff, 0xff))
		resp, _, err := rc.read()
		if err != nil || resp.Status != protocol.StatusMD5OK {
			t.Errorf("announced bytes with their md5: %d %s %v, want 258", resp.Status, resp.Msg, err)
		}
		if resp, _, err := rc.read(); err != nil || resp.Status != protocol.StatusHeaderTooLarge {
			t.Errorf("the extra bytes as a frame: %d %s %v, want 271", resp.Status, resp.Msg, err)
		}
		checkStored("long3.bin")
		if _, ok := stored("long3.bin"); !ok {
			t.Errorf("long3.bin not stored")
		}
	})
	run("md5 trailer missing", func(t *testing.T) {
		rc := begin(header("notrailer.bin"))
		rc.write(body)
		rc.Close()
		if !waitFor(10*time.Second, func() bool { return partialCount(a.home) == 0 }) {
			t.Errorf("the partial of a put without its md5 frame was kept")
		}
		if _, ok := stored("notrailer.bin"); ok {
			t.Errorf("a put without its md5 frame was stored")
		}
	})
	for _, tc := range []struct {
		name    string
		trailer []byte
		want    protocol.Status
		closes  bool
	}{
		{"md5 trailer of the wrong digest", frame(obj("md5", md5hex([]byte("other")))), protocol.StatusMD5Mismatch, false},
		{"md5 trailer not hex", frame(obj("md5", "zz")), protocol.StatusMD5Mismatch, false},
		{"md5 trailer empty string", frame(obj("md5", "")), protocol.StatusBadFormat, false},
		{"md5 trailer a number", frame([]byte(`{"md5":5}`)), protocol.StatusBadFormat, false},
		{"md5 trailer is a request", frame(obj("action", "pwd")), protocol.StatusBadFormat, false},
		{"md5 trailer not JSON", frame([]byte("garbage")), protocol.StatusBadFormat, false},
		{"md5 trailer with duplicate keys", frame([]byte(`{"md5":"` + sum + `","MD5":"` + sum + `"}`)), protocol.StatusBadFormat, false},
		{"md5 trailer of length 0", prefix(0), protocol.StatusBadFormat, false},
		{"md5 trailer of length 2^32-1", prefix(1<<32 - 1), protocol.StatusHeaderTooLarge, true},
		{"md5 trailer in upper case", frame(obj("md5", strings.ToUpper(sum))), protocol.StatusMD5OK, false},
	} {
		run(tc.name, func(t *testing.T) {
			name := strings.ReplaceAll(tc.name, " ", "_") + ".bin"
			rc := begin(header(name))
			rc.write(body)
			rc.write(tc.trailer)
			resp, _, err := rc.read()
			switch {
			case err != nil:
				t.Errorf("BUG: no answer (%v), want %d", err, tc.want)
			case resp.Status != tc.want:
				t.Errorf("%d %s, want %d", resp.Status, resp.Msg, tc.want)
			}
			if tc.closes {
				if !rc.closedByServer(5 * time.Second) {
					t.Errorf("connection left open")
				}
			} else if err == nil {
				if resp, err := rc.do(obj("action", "pwd", "id", "sync")); err != nil || resp.ID != "sync" {
					t.Errorf("out of sync after the answer: %+v %v", resp, err)
				}
			}
			checkStored(name)
			if _, ok := stored(name); ok != (tc.want == protocol.StatusMD5OK) {
				t.Errorf("stored: %v", ok)
			}
		})
	}
	run("body sent without waiting for 257, put refused for quota", func(t *testing.T) {
		// A refused put reads no body byte: the body that follows anyway
		// is read as frames ("0123" is a length prefix over the limit).
		q := login(t, a.ts, quotaUser, quotaPW, a.g)
		big := bytes.Repeat([]byte("0123456789"), quotaLimit/10+1)
		q.write(frame(obj("action", "put", "filename", "pushed.bin", "size", len(big))))
		q.write(big[:1000])
		resp, _, err := q.read()
		if err != nil || resp.Status != protocol.StatusQuota {
			t.Errorf("put over quota: %d %s %v, want 264", resp.Status, resp.Msg, err)
		}
		if resp, _, err := q.read(); err != nil || resp.Status != protocol.StatusHeaderTooLarge {
			t.Errorf("the pushed body read as a frame: %d %s %v, want 271", resp.Status, resp.Msg, err)
		}
		if !q.closedByServer(5 * time.Second) {
			t.Errorf("connection left open after 271")
		}
		if _, err := os.Stat(filepath.Join(a.ts.Home(quotaUser), "pushed.bin")); err == nil {
			t.Errorf("a put refused for quota stored its pushed body")
		}
	})
	if n := panics(a.ts); n > 0 {
		t.Errorf("%d handler panics", n)
	}
	a.escapes(t, "put body abuse")
	t.Logf("put body abuse: %d cases, each followed by a well-behaved round trip; handler panics: %d", subtests, panics(a.ts))
}

// TestStalledPeersAreDropped: a client that asks for a large file and
// stops reading, and one that stops sending in the middle of a put body,
// are dropped after the transfer timeout; other connections are served
// meanwhile and afterwards.
func TestStalledPeersAreDropped(t *testing.T) {
	a := newArena(t, func(s *server.Server) {
		s.TransferTimeout = 500 * time.Millisecond
		s.IdleTimeout = 5 * time.Second
	})
	big := filepath.Join(a.home, "big.bin")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 64<<20); err != nil { // sparse: more than any socket buffer
		t.Fatal(err)
	}
	stalled := login(t, a.ts, attacker, attackerPW, a.g)
	if err := stalled.send(obj("action", "get", "filename", "big.bin")); err != nil {
		t.Fatal(err)
	}
	slowPut := login(t, a.ts, attacker, attackerPW, a.g)
	if resp, err := slowPut.do(obj("action", "put", "filename", "slow.bin", "size", 1<<20)); err != nil || resp.Status != protocol.StatusReadyToSend {
		t.Fatalf("put: %d %v", resp.Status, err)
	}
	slowPut.write(bytes.Repeat([]byte("s"), 1000))

	// A client that pipelines requests and never reads an answer.
	flood := login(t, a.ts, attacker, attackerPW, a.g)
	go func() {
		req := frame(obj("action", "ls", "path", "/"))
		for range 100_000 {
			if flood.write(req) != nil {
				return
			}
		}
	}()

	roundTrip(t, a.ts, neighbour, neighbourPW, "while-stalled.txt")
	if !waitFor(20*time.Second, func() bool {
		// The three stalled sessions (get, put, pipelining) have ended on
		// the transfer timeout before this client reads anything from
		// them (reading would unblock them).
		l := a.ts.Log()
		closed := 0
		for _, line := range strings.Split(l, "\n") {
			if strings.Contains(line, `msg="connection closed"`) && strings.Contains(line, "user="+attacker) && strings.Contains(line, "i/o timeout") {
				closed++
			}
		}
		return strings.Contains(l, `msg="get failed"`) && strings.Contains(l, `msg="put interrupted"`) && closed >= 3
	}) {
		t.Fatalf("stalled transfers not dropped; server log:\n%s", a.ts.Log())
	}
	if !stalled.closedByServer(10 * time.Second) {
		t.Errorf("the connection of a client that stopped reading was not closed")
	}
	if !flood.closedByServer(20 * time.Second) {
		t.Errorf("the connection of a client that pipelines and never reads was not closed")
	}
	if !slowPut.closedByServer(10 * time.Second) {
		t.Errorf("the connection of a client that stopped sending was not closed")
	}
	if !waitFor(10*time.Second, func() bool { return partialCount(a.home) == 0 }) {
		t.Errorf("the partial of the stalled put was kept")
	}
	roundTrip(t, a.ts, neighbour, neighbourPW, "after-stalled.txt")
	roundTrip(t, a.ts, attacker, attackerPW, "after-stalled.txt")
}

// TestAuthAbuse: user names that are paths, huge or NUL-laden names and
// passwords, and path actions before auth. Every attempt is refused, no
// home is created for anything but an account, and nothing is read. Each
// attempt comes from its own loopback address so that the failed-login
// throttle does not slow the test down.
func TestAuthAbuse(t *testing.T) {
	a := newArena(t)
	for i, tc := range []struct {
		user, pw string
		want     protocol.Status
	}{
		{"../" + victim, victimPW, protocol.StatusWrongLogin},
		{"..", "x", protocol.StatusWrongLogin},
		{".", "x", protocol.StatusWrongLogin},
		{"/", "x", protocol.StatusWrongLogin},
		{victim + "/../" + attacker, attackerPW, protocol.StatusWrongLogin},
		{attacker + "\x00", attackerPW, protocol.StatusWrongLogin},
		{attacker + "\n", attackerPW, protocol.StatusWrongLogin},
		{"/etc/passwd", "x", protocol.StatusWrongLogin},
		{".ftpx-partial", "x", protocol.StatusWrongLogin},
		{"../outside", "x", protocol.StatusWrongLogin},
		{strings.Repeat("u", 60000), "x", protocol.StatusWrongLogin},
		{attacker, strings.Repeat("p", 60000), protocol.StatusWrongLogin},
		{attacker, attackerPW + "\x00", protocol.StatusWrongLogin},
		{"", "x", protocol.StatusBadAuthData},
		{victim, "", protocol.StatusBadAuthData},
	} {
		rc, err := dialFrom(a.ts.Addr, byte(100+i), a.g)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := rc.do(obj("action", "auth", "username", tc.user, "password", tc.pw))
		if err != nil || resp.Status != tc.want {
			t.Errorf("auth %.40q: %d %s %v, want %d", tc.user, resp.Status, resp.Msg, err, tc.want)
		}
		rc.Close()
	}
	rc, err := dialFrom(a.ts.Addr, 99, a.g)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	for _, p := range []string{"../" + victim + "/secret.txt", "secret.txt", "/"} {
		for _, act := range pathActions {
			resp, err := act.run(rc, jsonOf(p))
			if err != nil || resp.Status != protocol.StatusNotLoggedIn {
				t.Errorf("%s %q before auth: %d %s %v, want 262", act.name, p, resp.Status, resp.Msg, err)
			}
		}
	}
	a.escapes(t, "auth abuse")
}
