package protocol

import (
	"bytes"
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
