package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// paramiko, Python's SSH library, against the SFTP front end: writes out
// of order, reads at offsets, and the odd requests a hand-written client
// sends. The script (testdata/sftp_paramiko.py) reports; this test judges.

// SFTP v3 status codes.
const (
	fxNoSuchFile    = 2
	fxFailure       = 4
	fxOpUnsupported = 8
)

// paramikoPython returns a python3 that imports paramiko, or skips t.
func paramikoPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if err := exec.Command(py, "-c", "import paramiko").Run(); err == nil {
			return py
		}
	}
	t.Skip(`skipped: no python3 that can "import paramiko" (Debian: python3-paramiko; .ci/run installs it)`)
	return ""
}

// attempt is how one step of the script went.
type attempt struct {
	OK    bool            `json:"ok"`
	Value json.RawMessage `json:"value"`
	Code  *int            `json:"code"`
	Msg   string          `json:"msg"`
}

// TestSFTPParamikoOutOfOrderWritesAndOddRequests: 1 MiB written by
// paramiko in 32 KiB chunks at shuffled offsets is stored whole (MD5 on
// disk), read back at offsets (seek+read and readv) byte for byte, stat'ed,
// listed and renamed; each odd request gets its refusal (a directory
// opened for writing, rmdir of a file, remove of a directory, mkdir of an
// existing name, a setstat that changes the size: FAILURE or
// OP_UNSUPPORTED, nothing changed), posix-rename replaces its target as
// POSIX rename does, and the host key paramiko saw is the logged one.
func TestSFTPParamikoOutOfOrderWritesAndOddRequests(t *testing.T) {
	py := paramikoPython(t)
	d, f := sftpDaemon(t)
	home := filepath.Join(d.root, "alex")
	work := t.TempDir()
	r := seeded(t, 9020)
	data := randomBytes(r, 1<<20)
	dataFile := filepath.Join(work, "data.bin")
	if err := os.WriteFile(dataFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	const chunk = 32 << 10
	var order []int
	for _, i := range r.Perm(len(data) / chunk) {
		order = append(order, i*chunk)
	}
	if order[0] == 0 {
		order[0], order[1] = order[1], order[0] // the first write is never the first chunk
	}
	reads := [][2]int{{0, 100}, {len(data) - 7, 7}, {5*chunk + 3, 70_000}, {12_345, chunk}, {500_000, 200_000}}
	port, _ := strconv.Atoi(f.port)
	cfg, _ := json.Marshal(map[string]any{"host": "127.0.0.1", "port": port, "user": "alex", "password": sftpPassword,
		"data": dataFile, "order": order, "reads": reads})

	cmd := exec.Command(py, filepath.Join("testdata", "sftp_paramiko.py"))
	cmd.Stdin = bytes.NewReader(cfg)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sftp_paramiko.py: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
		}
	case <-time.After(120 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("sftp_paramiko.py still running after 120 s\n%s", stderr.String())
	}
	var res struct {
		HostKey   string             `json:"host_key"`
		KeyType   string             `json:"key_type"`
		Write     attempt            `json:"write"`
		Stat      attempt            `json:"stat"`
		Read      attempt            `json:"read"`
		List      attempt            `json:"list"`
		Rename    attempt            `json:"rename"`
		StatOld   attempt            `json:"stat_old_name"`
		StatNew   attempt            `json:"stat_new_name"`
		Odd       map[string]attempt `json:"odd"`
		FinalList attempt            `json:"final_list"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("the script's report %q: %v\n%s", stdout.String(), err, stderr.String())
	}
	if res.HostKey != f.fingerprint || res.KeyType != f.keyType {
		t.Errorf("paramiko saw host key %s %s, the daemon logged %s %s", res.HostKey, res.KeyType, f.fingerprint, f.keyType)
	}

	// The out-of-order upload.
	if !res.Write.OK {
		t.Fatalf("the out-of-order writes: %+v", res.Write)
	}
	if got := md5File(t, filepath.Join(home, "renamed.bin")); got != md5hex(data) {
		t.Errorf("the file written out of order, on disk: md5 %s, want %s", got, md5hex(data))
	}
	if !res.Stat.OK || string(res.Stat.Value) != strconv.Itoa(len(data)) {
		t.Errorf("stat after the upload: %+v, want size %d", res.Stat, len(data))
	}
	var read struct {
		SeekRead []string `json:"seek_read"`
		Readv    []string `json:"readv"`
		PastEnd  int      `json:"past_end"`
	}
	if !res.Read.OK || json.Unmarshal(res.Read.Value, &read) != nil {
		t.Fatalf("reads at offsets: %+v", res.Read)
	}
	for i, rd := range reads {
		want := md5hex(data[rd[0] : rd[0]+rd[1]])
		if i >= len(read.SeekRead) || read.SeekRead[i] != want {
			t.Errorf("seek %d + read %d: md5 %v, want %s", rd[0], rd[1], read.SeekRead, want)
		}
		if i >= len(read.Readv) || read.Readv[i] != want {
			t.Errorf("readv (%d, %d): md5 %v, want %s", rd[0], rd[1], read.Readv, want)
		}
	}
	if read.PastEnd != 0 {
		t.Errorf("a read past the end returned %d bytes", read.PastEnd)
	}
	if !res.List.OK || !bytes.Contains(res.List.Value, []byte(`["ooo.bin", `+strconv.Itoa(len(data))+`]`)) {
		t.Errorf("listdir_attr /: %s %+v, want ooo.bin of %d bytes", res.List.Value, res.List, len(data))
	}
	if !res.Rename.OK || res.StatOld.OK || res.StatOld.Code == nil || *res.StatOld.Code != fxNoSuchFile ||
		!res.StatNew.OK || string(res.StatNew.Value) != strconv.Itoa(len(data)) {
		t.Errorf("rename: %+v; stat of the old name %+v (want NO_SUCH_FILE), of the new %+v", res.Rename, res.StatOld, res.StatNew)
	}

	// The odd requests: each refused with its code, or done.
	for _, c := range []struct {
		name string
		code int // 0: must succeed
	}{
		{"open_dir_for_writing", fxFailure},
		{"rmdir_file", fxFailure},
		{"remove_dir", fxFailure},
		{"mkdir_existing_dir", fxFailure},
		{"mkdir_existing_file", fxFailure},
		{"setstat_smaller_size", fxOpUnsupported},
		{"setstat_larger_size", fxOpUnsupported},
		{"setstat_same_size", 0},
		{"rename_onto_existing", fxFailure}, // SFTP v3's rename never replaces
		{"posix_rename_onto_existing", 0},   // posix-rename@openssh.com does, as rename(2)
		{"symlink", fxOpUnsupported},
		{"readlink", fxOpUnsupported},
		{"open_missing", fxNoSuchFile},
		{"stat_missing", fxNoSuchFile},
		{"rmdir_missing", fxNoSuchFile},
		{"remove_missing", fxNoSuchFile},
		{"listdir_file", fxFailure},
		{"chmod", 0}, // accepted and ignored: the server decides modes
		{"utime", 0},
	} {
		a, ok := res.Odd[c.name]
		switch {
		case !ok:
			t.Errorf("%s: not in the report", c.name)
		case c.code == 0 && !a.OK:
			t.Errorf("%s: refused (%+v), want done", c.name, a)
		case c.code != 0 && (a.OK || a.Code == nil || *a.Code != c.code):
			t.Errorf("%s: %+v, want status %d", c.name, a, c.code)
		case c.code != 0 && a.Msg == "":
			t.Errorf("%s: refused with no message", c.name)
		}
	}
	if a := res.Odd["stat_after_utime"]; !a.OK || string(a.Value) != "1234567890" {
		t.Errorf("stat after utime: %+v, want mtime 1234567890", a)
	}

	// And on disk: nothing the refusals touched changed.
	if fi, err := os.Stat(filepath.Join(home, "d")); err != nil || !fi.IsDir() {
		t.Errorf("d is no longer a directory: %v", err)
	} else if ents, _ := os.ReadDir(filepath.Join(home, "d")); len(ents) != 0 {
		t.Errorf("d holds %d entries after being opened for writing", len(ents))
	}
	fi, err := os.Stat(filepath.Join(home, "renamed.bin"))
	if err != nil || fi.Size() != int64(len(data)) || fi.ModTime().Unix() != 1234567890 {
		t.Errorf("renamed.bin after the refused setstats: %v %v", fi, err)
	}
	if got := md5File(t, filepath.Join(home, "renamed.bin")); got != md5hex(data) {
		t.Errorf("renamed.bin changed after the refused requests: md5 %s", got)
	}
	if b, err := os.ReadFile(filepath.Join(home, "other.txt")); err != nil || string(b) != "other\n" {
		t.Errorf("other.txt after its refused rename onto victim.txt: %q %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(home, "victim.txt")); err != nil || string(b) != "mover\n" {
		t.Errorf("victim.txt after posix-rename of mover.txt onto it: %q %v, want %q", b, err, "mover\n")
	}
	if _, err := os.Lstat(filepath.Join(home, "link")); !os.IsNotExist(err) {
		t.Errorf("a symlink was made: %v", err)
	}
	if !res.FinalList.OK || string(res.FinalList.Value) != `["d", "other.txt", "renamed.bin", "victim.txt"]` {
		t.Errorf("the final listing: %s %+v", res.FinalList.Value, res.FinalList)
	}
}
