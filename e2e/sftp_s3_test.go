package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ftpx/internal/miniotest"

	"github.com/google/uuid"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// TestSFTPOnS3HomeRoundTrip: with an s3:// root on a real MinIO, the host
// key is made under the state directory (nothing local under the root),
// and OpenSSH's sftp puts a file of several parts that lands in the store
// with its MD5, gets it back the same, and ssh md5sum answers that MD5.
func TestSFTPOnS3HomeRoundTrip(t *testing.T) {
	srv := miniotest.Shared(t)
	srv.SetEnv(t) // the server inherits the credentials, never in argv
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "alex", sftpPassword, "")
	prefix := "sftp-" + uuid.NewString()[:8]
	state := t.TempDir()
	d := startDaemonAt(t, "s3://"+s3Bucket+"/"+prefix, "127.0.0.1:0", accounts,
		"--s3-endpoint", srv.Endpoint, "--s3-part-size", "5MB", "--state-dir", state, "--sftp-listen", "127.0.0.1:0")
	f := d.sftpFront(t)
	keyFile := filepath.Join(state, ".ftpx-ssh", "ssh_host_ed25519_key")
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("no host key under the state directory: %v %v", fi, err)
	}
	needOpenSSH(t)
	if fp, _, _ := keygenL(t, keyFile); fp != f.fingerprint {
		t.Fatalf("the key under the state directory is %s, the daemon logged %s", fp, f.fingerprint)
	}
	if fp, _ := keyscan(t, f); fp != f.fingerprint {
		t.Fatalf("ssh-keyscan sees %s, the daemon logged %s", fp, f.fingerprint)
	}

	work := t.TempDir()
	o := newOpenSSH(t, work, sftpPassword)
	const size = 11*mib + 13 // three parts of 5 MB
	sum := writeSeeded(t, filepath.Join(work, "big.bin"), size, seeded(t, 9006))
	small := writeSeeded(t, filepath.Join(work, "small.txt"), 1000, seeded(t, 9007))
	o.sftpBatch(t, f, "alex", "mkdir dir\nput big.bin dir/big.bin\nput small.txt\nget dir/big.bin back.bin\nget small.txt back.txt\n")
	if got := md5File(t, filepath.Join(work, "back.bin")); got != sum {
		t.Fatalf("big.bin got back from the store over SFTP: md5 %s, want %s", got, sum)
	}
	if got := md5File(t, filepath.Join(work, "back.txt")); got != small {
		t.Fatalf("small.txt got back from the store over SFTP: md5 %s, want %s", got, small)
	}

	// In the store: the object, whole, under the user's prefix.
	mc, err := minio.New(srv.Addr, &minio.Options{Creds: credentials.NewStaticV4(miniotest.AccessKey, miniotest.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	obj, err := mc.GetObject(context.Background(), s3Bucket, prefix+"/alex/dir/big.bin", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := md5.New()
	n, err := io.Copy(h, obj)
	obj.Close()
	if err != nil || n != size || hex.EncodeToString(h.Sum(nil)) != sum {
		t.Fatalf("the object in the store: %d bytes, md5 %x, %v; want %d bytes, md5 %s", n, h.Sum(nil), err, size, sum)
	}
	stdout, stderr, code := o.run(t, "", "ssh", "-p", f.port, "alex@127.0.0.1", "md5sum", "dir/big.bin", "/small.txt")
	if code != 0 || stdout != sum+"  dir/big.bin\n"+small+"  /small.txt\n" {
		t.Fatalf("ssh md5sum on the store: exit %d %q %q", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(state, "alex")); !os.IsNotExist(err) {
		t.Errorf("alex's home was made on local disk under the state directory: %v", err)
	}

	// fsync@openssh.com on the store: whole parts are stored before the
	// close, so a sync covers the last part's end and says so; the upload
	// goes on and is whole when closed.
	_, _, cl := goSFTP(t, f, "alex", sftpPassword)
	data := seededBytes(9008, 7*mib)
	up, err := cl.Create("/synced.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.Write(data[:6*mib]); err != nil {
		t.Fatal(err)
	}
	err = up.Sync()
	if err == nil || !strings.Contains(err.Error(), "5242880 of 6291456 bytes stored") {
		t.Errorf("fsync after 6 MiB with parts of 5 MiB (--s3-part-size 5MB): %v; want a failure saying 5242880 of 6291456 bytes are stored", err)
	}
	if _, err := up.Write(data[6*mib:]); err != nil {
		t.Fatal(err)
	}
	if err := up.Close(); err != nil {
		t.Fatalf("close after an fsync: %v", err)
	}
	obj, err = mc.GetObject(context.Background(), s3Bucket, prefix+"/alex/synced.bin", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h.Reset()
	n, err = io.Copy(h, obj)
	obj.Close()
	if want := md5.Sum(data); err != nil || n != int64(len(data)) || !bytes.Equal(h.Sum(nil), want[:]) {
		t.Errorf("synced.bin in the store: %d bytes, md5 %x, %v; want %d bytes, md5 %x", n, h.Sum(nil), err, len(data), want)
	}
}
