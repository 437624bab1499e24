package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSFTPExtensionsOfTheContract: the server announces OpenSSH's
// posix-rename@openssh.com and statvfs@openssh.com, and each works
// through github.com/pkg/sftp's client: posix-rename replaces the target,
// statvfs answers df. fsync@openssh.com, which the contract names too, is
// a known gap (pkg/sftp's request server has no route for it): it is not
// announced, a client's fsync is answered "unsupported", and the file is
// stored whole (synced when it is named).
func TestSFTPExtensionsOfTheContract(t *testing.T) {
	d, f := sftpDaemon(t)
	home := filepath.Join(d.root, "alex")
	_, _, cl := goSFTP(t, f, "alex", sftpPassword)
	for _, ext := range []string{"posix-rename@openssh.com", "statvfs@openssh.com", "fsync@openssh.com"} {
		if _, ok := cl.HasExtension(ext); !ok {
			t.Errorf("the server does not announce %s", ext)
		}
	}

	put := func(name, body string) {
		t.Helper()
		w, err := cl.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	put("/a.txt", "new a\n")
	put("/b.txt", "old b\n")
	if err := cl.PosixRename("/a.txt", "/b.txt"); err != nil {
		t.Errorf("posix-rename onto an existing file: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(home, "b.txt")); err != nil || string(b) != "new a\n" {
		t.Errorf("b.txt after posix-rename of a.txt onto it: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(home, "a.txt")); !os.IsNotExist(err) {
		t.Errorf("a.txt still there after posix-rename: %v", err)
	}

	if st, err := cl.StatVFS("/"); err != nil {
		t.Errorf("statvfs /: %v", err)
	} else if st.Bsize == 0 || st.Blocks == 0 || st.Bfree > st.Blocks || st.Bavail > st.Blocks {
		t.Errorf("statvfs /: %+v", st)
	}

	data := randomBytes(seeded(t, 9030), 300_001)
	w, err := cl.Create("/synced.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Errorf("fsync@openssh.com of a file being written: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close after fsync: %v", err)
	}
	if got := md5File(t, filepath.Join(home, "synced.bin")); got != md5hex(data) {
		t.Errorf("synced.bin on disk: md5 %s, want %s", got, md5hex(data))
	}
}

// TestSFTPSetstatWithShortAttributesKeepsDaemon: a logged-in user sends
// SETSTAT whose attribute flags announce the times but carry no bytes
// (21 bytes in all). The request is refused, and the daemon goes on
// serving every user: a new login works and its upload lands.
func TestSFTPSetstatWithShortAttributesKeepsDaemon(t *testing.T) {
	d, f := sftpDaemon(t)
	_, sc, _ := goSFTP(t, f, "alex", sftpPassword)
	r, w := mustPipes(t, sc)
	// INIT 3, then SETSTAT id 7 "/x" with ATTRS flags = ACMODTIME and nothing after.
	packets := []byte{0, 0, 0, 5, 1, 0, 0, 0, 3,
		0, 0, 0, 15, 9, 0, 0, 0, 7, 0, 0, 0, 2, '/', 'x', 0, 0, 0, 8}
	if _, err := w.Write(packets); err != nil {
		t.Fatal(err)
	}
	answers := make(chan []byte, 2)
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := r.Read(b)
			if n > 0 {
				answers <- append([]byte(nil), b[:n]...)
			}
			if err != nil {
				close(answers)
				return
			}
		}
	}()
	select {
	case <-answers:
	case <-time.After(10 * time.Second):
	}
	time.Sleep(500 * time.Millisecond) // an answer, or a process that died
	_, sc2, cl, err := goSFTPClientE(f, "alex", sftpPassword)
	if err != nil {
		t.Fatalf("no login after the SETSTAT with short attributes (%v); the daemon's log ends:\n%s", err, lastLogLines(d, 30))
	}
	defer sc2.Close()
	defer cl.Close()
	wc, err := cl.Create("/after.txt")
	if err == nil {
		_, err = wc.Write([]byte("still here\n"))
		if cerr := wc.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		t.Fatalf("an upload after the SETSTAT with short attributes: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(d.root, "alex", "after.txt")); err != nil || string(b) != "still here\n" {
		t.Fatalf("after.txt: %q %v", b, err)
	}
}
