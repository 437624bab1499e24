package webd

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestPageMD5MatchesGo runs the web client's md5.js under node on inputs of many sizes,
// fed whole, in uneven pieces, from unaligned offsets and after a reset, and loaded both
// as a CommonJS module and as a browser loads a plain script (globalThis.FtpxMD5); every
// answer must equal crypto/md5's.
func TestPageMD5MatchesGo(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the page's md5.js is not checked")
	}
	src, err := filepath.Abs(filepath.Join("page", "md5.js"))
	if err != nil {
		t.Fatal(err)
	}
	harness, err := filepath.Abs(filepath.Join("testdata", "md5_harness.js"))
	if err != nil {
		t.Fatal(err)
	}

	var sizes []int
	for n := 0; n <= 130; n++ {
		sizes = append(sizes, n)
	}
	sizes = append(sizes, 1000, 4095, 4096, 4097, 65535, 65536, 65537, 1<<20+3, 3<<20+61)

	rng := rand.New(rand.NewChaCha8([32]byte{'f', 't', 'p', 'x'}))
	dir := t.TempDir()
	want := map[string][]byte{}
	args := []string{harness, src}
	for _, n := range sizes {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		name := filepath.Join(dir, fmt.Sprintf("in-%d", n))
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
		want[name] = data
		args = append(args, name)
	}

	var stderr bytes.Buffer
	cmd := exec.Command(node, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", filepath.Base(harness), err, stderr.String())
	}

	type result struct {
		Name           string `json:"name"`
		Whole          string `json:"whole"`
		Chunks         string `json:"chunks"`
		Unaligned      string `json:"unaligned"`
		UnalignedWhole string `json:"unaligned_whole"`
		Buffer         string `json:"buffer"`
		AfterReset     string `json:"after_reset"`
		Prefix         string `json:"prefix"`
		PrefixAgain    string `json:"prefix_again"`
		AfterPrefix    string `json:"after_prefix"`
		Page           string `json:"page"`
	}
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("harness line %q: %v", sc.Text(), err)
		}
		data, ok := want[r.Name]
		if !ok {
			t.Fatalf("harness names an input it was not given: %q", r.Name)
		}
		seen++
		sum := md5.Sum(data)
		full := hex.EncodeToString(sum[:])
		half := md5.Sum(data[:len(data)/2])
		prefix := hex.EncodeToString(half[:])
		for _, c := range []struct{ how, got, want string }{
			{"whole", r.Whole, full},
			{"uneven pieces", r.Chunks, full},
			{"uneven pieces at offset 1", r.Unaligned, full},
			{"whole at offset 1", r.UnalignedWhole, full},
			{"an ArrayBuffer", r.Buffer, full},
			{"after reset()", r.AfterReset, full},
			{"first half", r.Prefix, prefix},
			{"first half, hex() again", r.PrefixAgain, prefix},
			{"rest after hex()", r.AfterPrefix, full},
			{"loaded as a page script", r.Page, full},
		} {
			if c.got != c.want {
				t.Errorf("%d bytes, %s: md5.js says %s, crypto/md5 %s", len(data), c.how, c.got, c.want)
			}
		}
	}
	if seen != len(sizes) {
		t.Fatalf("harness answered for %d inputs of %d\n%s", seen, len(sizes), stderr.String())
	}
}
