package e2e

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"ftpx/server"
)

// TestSFTPSigtermKeepsUploadForResume: SIGTERM while an SFTP upload runs
// (Go client, 32 KiB writes, each acknowledged). The upload goes on
// during the grace period; when the client's connection is cut the
// server exits 0 at once (well within its grace period), keeping every
// acknowledged byte as a partial: not listed, but stat shows the name at
// the bytes held. After a restart on the same root, the client reopens
// the name without O_TRUNC, writes from the offset Stat reports, and the
// file is complete (MD5) with no partial left.
func TestSFTPSigtermKeepsUploadForResume(t *testing.T) {
	d, f := sftpDaemon(t)
	data := randomBytes(seeded(t, 9005), 12*mib+321)
	sum := md5.Sum(data)
	want := hex.EncodeToString(sum[:])

	tcp, _, cl := goSFTP(t, f, "alex", sftpPassword)
	w, err := cl.OpenFile("/big.bin", os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		t.Fatal(err)
	}
	const chunk = 32 << 10
	sent := 0
	write := func(upTo int) {
		t.Helper()
		for sent < upTo {
			n, err := w.Write(data[sent:min(sent+chunk, upTo)])
			if err != nil {
				t.Fatalf("write at %d: %v", sent, err)
			}
			sent += n
		}
	}
	write(4 * mib)
	if held := heldOnServer(d.root, "alex"); held != 4*mib {
		t.Fatalf("the server holds %d bytes of the upload, want the %d acknowledged", held, 4*mib)
	}

	d.cmd.Process.Signal(syscall.SIGTERM)
	waitUntil(t, 10*time.Second, "the server to begin its shutdown", func() bool { return strings.Contains(d.logText(), "shutting down") })
	write(5*mib + 77) // the upload runs on during the grace period
	stopped := time.Now()
	tcp.Close() // the client is gone, the file still open
	code, _ := d.waitExit(t, server.DefaultGracePeriod+10*time.Second)
	took := time.Since(stopped)
	if code != 0 {
		t.Fatalf("exit %d after SIGTERM:\n%s", code, d.logText())
	}
	waitUntil(t, 10*time.Second, "the server's last log line", func() bool { return strings.Contains(d.logText(), "msg=stopped") })
	if took > server.DefaultGracePeriod/2 || strings.Contains(d.logText(), "grace period over") {
		t.Errorf("the server took %v to exit after the client went away (grace %v):\n%s", took, server.DefaultGracePeriod, d.logText())
	}
	if !strings.Contains(d.logText(), `msg="put interrupted"`) {
		t.Errorf("the cut upload is not logged as interrupted:\n%s", d.logText())
	}
	if held := heldOnServer(d.root, "alex"); held != int64(sent) {
		t.Fatalf("the server holds %d bytes after SIGTERM, want the %d acknowledged", held, sent)
	}
	if _, err := os.Stat(filepath.Join(d.root, "alex", "big.bin")); !os.IsNotExist(err) {
		t.Fatalf("the cut upload appeared under its name: %v", err)
	}

	d2 := startDaemonAt(t, d.root, "127.0.0.1:0", d.accounts, "--sftp-listen", "127.0.0.1:0")
	f2 := d2.sftpFront(t)
	_, sc, cl2 := goSFTP(t, f2, "alex", sftpPassword)
	ents, err := cl2.ReadDir("/")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() == "big.bin" || strings.HasPrefix(e.Name(), ".ftpx") {
			t.Errorf("the listing shows %s (%d bytes) while the upload is not complete", e.Name(), e.Size())
		}
	}
	fi, err := cl2.Stat("/big.bin")
	if err != nil || fi.Size() != int64(sent) {
		t.Fatalf("stat of the held upload: %v, size %d; want %d", err, statSize(fi), sent)
	}
	off := fi.Size()
	w2, err := cl2.OpenFile("/big.bin", os.O_WRONLY|os.O_CREATE)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w2.Seek(off, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if n, err := io.Copy(w2, bytes.NewReader(data[off:])); err != nil || n != int64(len(data))-off {
		t.Fatalf("the rest of the upload: %d bytes, %v", n, err)
	}
	if err := w2.Close(); err != nil {
		t.Fatalf("close of the resumed upload: %v", err)
	}
	if got := md5File(t, filepath.Join(d.root, "alex", "big.bin")); got != want {
		t.Fatalf("the resumed upload on disk: md5 %s, want %s", got, want)
	}
	if held := heldOnServer(d.root, "alex"); held != 0 {
		t.Errorf("%d bytes still held after the resumed upload completed", held)
	}
	s, err := sc.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := s.Output("md5sum /big.bin"); err != nil || string(out) != want+"  /big.bin\n" {
		t.Errorf("md5sum over ssh after the resume: %q %v, want %s", out, err, want)
	}
}

func statSize(fi os.FileInfo) int64 {
	if fi == nil {
		return -1
	}
	return fi.Size()
}

// TestSFTPSigtermLetsRunningUploadFinish: SIGTERM while an SFTP upload
// runs; the client goes on writing and closes the file within the grace
// period: the close is answered OK, the file is complete under its name
// (MD5), no partial is left, and the server then exits 0 without waiting
// for the rest of its grace period.
func TestSFTPSigtermLetsRunningUploadFinish(t *testing.T) {
	d, f := sftpDaemon(t)
	data := randomBytes(seeded(t, 9008), 6*mib+5)
	_, _, cl := goSFTP(t, f, "alex", sftpPassword)
	w, err := cl.OpenFile("/done.bin", os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data[:2*mib]); err != nil {
		t.Fatal(err)
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	waitUntil(t, 10*time.Second, "the server to begin its shutdown", func() bool { return strings.Contains(d.logText(), "shutting down") })
	if _, err := w.Write(data[2*mib:]); err != nil {
		t.Fatalf("writing on during the grace period: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close of the upload during the grace period: %v", err)
	}
	closed := time.Now()
	code, _ := d.waitExit(t, server.DefaultGracePeriod+10*time.Second)
	if took := time.Since(closed); code != 0 || took > server.DefaultGracePeriod/2 {
		t.Fatalf("exit %d, %v after the last file closed:\n%s", code, took, d.logText())
	}
	if got := md5File(t, filepath.Join(d.root, "alex", "done.bin")); got != md5hex(data) {
		t.Fatalf("the upload finished in the grace period: md5 %s, want %s", got, md5hex(data))
	}
	if held := heldOnServer(d.root, "alex"); held != 0 {
		t.Errorf("%d bytes held after the upload completed", held)
	}
}
