package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzReadRequest feeds arbitrary bytes to the frame reader and header
// decoder: it must never panic, never allocate past the limit, and whatever
// it accepts must survive a write and re-read unchanged.
func FuzzReadRequest(f *testing.F) {
	for _, s := range []string{
		`{"action":"auth","username":"demo","password":"x"}`,
		`{"action":"put","filename":"a","size":3,"md5":"abc"}`,
		`{"action":"ls","Action":"put"}`,
		`{"md5":"d41d8cd98f00b204e9800998ecf8427e"}`,
		`[]`,
	} {
		f.Add(frame(s))
	}
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		req, err := ReadRequest(bytes.NewReader(in), MaxRequestHeader)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := WriteFrame(&buf, req); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := ReadRequest(&buf, MaxRequestHeader+1024)
		if err != nil {
			t.Fatalf("re-read of %q: %v", buf.Bytes(), err)
		}
		if again.Action != req.Action || again.Filename != req.Filename || again.Path != req.Path || again.Offset != req.Offset {
			t.Fatalf("round trip changed %+v into %+v", req, again)
		}
	})
}

// FuzzChunkReader feeds arbitrary bytes to the reader of streamed put
// bodies: it must never panic or return more than the chunks announced,
// and a body it reads to its end chunk must write back as the same bytes.
func FuzzChunkReader(f *testing.F) {
	f.Add([]byte{0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 0})
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0, 0x10, 0, 1})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0, 5, 'a'})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		got, err := io.ReadAll(NewChunkReader(r))
		if len(got) > len(in) {
			t.Fatalf("%d bytes out of %d in", len(got), len(in))
		}
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		used := in[:len(in)-r.Len()]
		var again bytes.Buffer
		w := NewChunkWriter(&again)
		w.Write(got)
		w.Close()
		back, err := io.ReadAll(NewChunkReader(&again))
		if err != nil || !bytes.Equal(back, got) {
			t.Fatalf("rewritten body of %d bytes read back as %d, %v", len(got), len(back), err)
		}
		if len(used) < len(got)+4 {
			t.Fatalf("%d body bytes from %d bytes of input", len(got), len(used))
		}
	})
}

// FuzzCheckKeys compares the one-pass key scanner with a reference built
// on encoding/json's tokenizer: on every valid JSON text they agree.
func FuzzCheckKeys(f *testing.F) {
	for _, s := range []string{
		`{"action":"ls","Action":"put"}`, `{"a":{"a":1,"A":2},"b":[1,{"c":"}"}]}`,
		`{"\u0061ction":"x","action":"y"}`, `{"ſize":1}`, `{"\u017fize":1}`, ` { } `,
		`{"a":"\"}","b":true,"c":null,"d":-1.5e3}`, `[]`, `"x"`, `{"a":1}{"b":2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			checkKeys(b) // must not panic
			return
		}
		got, want := checkKeys(b), checkKeysReference(b)
		if (got == nil) != (want == nil) {
			t.Fatalf("%q: scanner says %v, reference %v", b, got, want)
		}
	})
}

// checkKeysReference is the former checkKeys: slower, obviously right.
func checkKeysReference(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("not an object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		if !isASCII(key) || seen[strings.ToLower(key)] {
			return errors.New("bad key")
		}
		seen[strings.ToLower(key)] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after")
	}
	return nil
}
