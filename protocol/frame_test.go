package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
)

func frame(s string) []byte {
	b := make([]byte, 4+len(s))
	binary.BigEndian.PutUint32(b, uint32(len(s)))
	copy(b[4:], s)
	return b
}

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	req := Request{ID: "abc", Action: ActionPut, Filename: "a/b.txt", SizeField: Int64(0), MD5: "d41d8cd98f00b204e9800998ecf8427e"}
	if err := WriteFrame(&buf, req); err != nil {
		t.Fatal(err)
	}
	got, err := ReadRequest(&buf, MaxRequestHeader)
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := got.Size(); !ok || n != 0 {
		t.Fatalf("size = %d, %v; want 0, true (a zero size must survive the round trip)", n, ok)
	}
	if got.ID != "abc" || got.Action != "put" || got.Filename != "a/b.txt" || got.MD5 != req.MD5 {
		t.Fatalf("got %+v", got)
	}
}

func TestFileSizeAlias(t *testing.T) {
	got, err := ReadRequest(bytes.NewReader(frame(`{"action":"put","filename":"x","file_size":42}`)), MaxRequestHeader)
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := got.Size(); !ok || n != 42 {
		t.Fatalf("size = %d, %v; want 42, true", n, ok)
	}
}

func TestReadFrameRefuses(t *testing.T) {
	over := make([]byte, 4)
	binary.BigEndian.PutUint32(over, MaxRequestHeader+1)
	huge := []byte{0xff, 0xff, 0xff, 0xff}
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"zero length", []byte{0, 0, 0, 0}, ErrEmpty},
		{"just over the limit", over, ErrTooLarge},
		{"2^32-1", huge, ErrTooLarge},
		{"nothing", nil, io.EOF},
		{"short prefix", []byte{0, 0}, io.ErrUnexpectedEOF},
		{"truncated body", frame(`{"action":"ls"}`)[:8], io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadFrame(bytes.NewReader(tc.in), MaxRequestHeader)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDecodeRefusesAmbiguousOrMalformed(t *testing.T) {
	for _, in := range []string{
		`{"action":"ls","Action":"put"}`,
		`{"action":"ls","action":"put"}`,
		`[1,2]`,
		`"ls"`,
		`{"action":1}`,
		`{"action":"put","size":"12"}`,
		`{"action":"ls"}{"action":"ls"}`,
		`{"action":"ls"`,
		`{"size":1e400}`,
		`{"action":"put","filename":"x","size":3,"ſize":1000000}`,
		"{\"action\":\"ls\",\"path\":\"\xff\"}",
		`nul`,
	} {
		var r Request
		if err := Decode([]byte(in), &r); !errors.Is(err, ErrFormat) {
			t.Errorf("Decode(%s) = %v, want ErrFormat", in, err)
		}
	}
}

func TestStatusString(t *testing.T) {
	if got := StatusReadyToSend.String(); got != "ready to send file" {
		t.Fatalf("257 = %q", got)
	}
	if got := Status(999).String(); !strings.Contains(got, "999") {
		t.Fatalf("999 = %q", got)
	}
	for s := Status(250); s <= StatusTLSRequired; s++ {
		if !s.Known() {
			t.Errorf("code %d has no text", s)
		}
	}
}
