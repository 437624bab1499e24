package sftpd_test

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ftpx/ftpxtest"
	"ftpx/home"
	"ftpx/sftpd"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// The SFTP front end is tested with clients nobody here wrote: the Go
// client github.com/pkg/sftp over golang.org/x/crypto/ssh, and OpenSSH's
// own sftp, scp, ssh and ssh-keyscan run as subprocesses, each against a
// real server on loopback with real homes under t.TempDir().

// The test user of every test.
const (
	user     = "alex"
	password = "pw"
)

// SFTP status codes, as the client reads them off the wire.
var (
	fxOK               = uint32(0)
	fxEOF              = uint32(1)
	fxNoSuchFile       = uint32(sftp.ErrSSHFxNoSuchFile)
	fxPermissionDenied = uint32(sftp.ErrSSHFxPermissionDenied)
	fxFailure          = uint32(sftp.ErrSSHFxFailure)
	fxOpUnsupported    = uint32(sftp.ErrSSHFxOpUnsupported)
)

// notStatus is what fxCode says of an error that carries no SFTP status
// (a lost connection, say).
const notStatus = ^uint32(0)

// fxCode returns the SFTP status code behind err. pkg/sftp's client turns
// SSH_FX_EOF, SSH_FX_NO_SUCH_FILE and SSH_FX_PERMISSION_DENIED into io.EOF,
// os.ErrNotExist and os.ErrPermission (only those codes), and returns a
// *sftp.StatusError for every other.
func fxCode(err error) uint32 {
	var se *sftp.StatusError
	switch {
	case err == nil:
		return fxOK
	case errors.As(err, &se):
		return se.Code
	case errors.Is(err, os.ErrNotExist):
		return fxNoSuchFile
	case errors.Is(err, os.ErrPermission):
		return fxPermissionDenied
	case errors.Is(err, io.EOF):
		return fxEOF
	}
	return notStatus
}

// codeName names an SFTP status code for failure messages.
func codeName(code uint32) string {
	switch code {
	case fxOK:
		return "SSH_FX_OK"
	case fxEOF:
		return "SSH_FX_EOF"
	case fxNoSuchFile:
		return "SSH_FX_NO_SUCH_FILE"
	case fxPermissionDenied:
		return "SSH_FX_PERMISSION_DENIED"
	case fxFailure:
		return "SSH_FX_FAILURE"
	case fxOpUnsupported:
		return "SSH_FX_OP_UNSUPPORTED"
	case notStatus:
		return "no SFTP status"
	}
	return fmt.Sprintf("SFTP status %d", code)
}

// wantCode fails the test unless err carries the SFTP status want.
func wantCode(t *testing.T, what string, err error, want uint32) {
	t.Helper()
	if got := fxCode(err); got != want {
		t.Errorf("%s: got %s (%v), want %s", what, codeName(got), err, codeName(want))
	}
}

// setup starts a native server with the SFTP front end and the user alex
// (password "pw", the given quota and extra account lines).
func setup(t *testing.T, quota int64, lines ...string) (*ftpxtest.Server, string) {
	t.Helper()
	ts := ftpxtest.NewServer(t)
	ts.AddUserWith(t, user, password, quota, lines...)
	return ts, ts.StartSFTP(t)
}

// conn is one SSH connection, logged in, with an SFTP session on it. tcp
// is the connection underneath: closing it cuts the client off as a
// network failure would.
type conn struct {
	tcp  net.Conn
	ssh  *ssh.Client
	sftp *sftp.Client
}

// hostKey is the public key of the server's host key, which StartSFTP
// makes in the data root on first start.
func hostKey(t testing.TB, ts *ftpxtest.Server) ssh.PublicKey {
	t.Helper()
	key, err := sftpd.LoadHostKey("", ts.Root)
	if err != nil {
		t.Fatal(err)
	}
	return key.PublicKey()
}

// dialSSH logs in to the SFTP front end at addr with a password, checking
// that the server shows the host key kept in its data root.
func dialSSH(t testing.TB, ts *ftpxtest.Server, addr, name, pw string) (*ssh.Client, net.Conn, error) {
	t.Helper()
	tcp, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, nil, err
	}
	cfg := &ssh.ClientConfig{
		User:            name,
		Auth:            []ssh.AuthMethod{ssh.Password(pw)},
		HostKeyCallback: ssh.FixedHostKey(hostKey(t, ts)),
		Timeout:         10 * time.Second,
	}
	tcp.SetDeadline(time.Now().Add(10 * time.Second))
	c, chans, reqs, err := ssh.NewClientConn(tcp, addr, cfg)
	if err != nil {
		tcp.Close()
		return nil, nil, err
	}
	tcp.SetDeadline(time.Time{})
	client := ssh.NewClient(c, chans, reqs)
	t.Cleanup(func() { client.Close() })
	return client, tcp, nil
}

// dial logs alex in and starts an SFTP session.
func dial(t testing.TB, ts *ftpxtest.Server, addr string, opts ...sftp.ClientOption) *conn {
	t.Helper()
	sc, tcp, err := dialSSH(t, ts, addr, user, password)
	if err != nil {
		t.Fatalf("ssh login: %v", err)
	}
	c, err := sftp.NewClient(sc, opts...)
	if err != nil {
		t.Fatalf("sftp session: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &conn{tcp: tcp, ssh: sc, sftp: c}
}

// put uploads data to name (a new file: O_TRUNC) and fails the test on
// any error, the close's included.
func (c *conn) put(t testing.TB, name string, data []byte) {
	t.Helper()
	f, err := c.sftp.Create(name)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	if _, err := f.ReadFrom(bytes.NewReader(data)); err != nil {
		f.Close()
		t.Fatalf("write %s: %v", name, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close %s: %v", name, err)
	}
}

// get downloads name whole.
func (c *conn) get(t testing.TB, name string) []byte {
	t.Helper()
	f, err := c.sftp.Open(name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return b
}

// execCommand runs command in a session channel and returns its standard
// output, standard error and exit status (-1 when it gave none).
func execCommand(t testing.TB, client *ssh.Client, command string) (stdout, stderr string, status int) {
	t.Helper()
	s, err := client.NewSession()
	if err != nil {
		t.Fatalf("session for %q: %v", command, err)
	}
	defer s.Close()
	var out, errOut bytes.Buffer
	s.Stdout, s.Stderr = &out, &errOut
	err = s.Run(command)
	var ee *ssh.ExitError
	switch {
	case err == nil:
		status = 0
	case errors.As(err, &ee):
		status = ee.ExitStatus()
	default:
		t.Logf("%q: %v", command, err)
		status = -1
	}
	return out.String(), errOut.String(), status
}

// md5sumOf asks the server for md5sum 'PATH' (p has no single quote) and
// returns its output, failing the test unless it exits 0.
func md5sumOf(t testing.TB, client *ssh.Client, p string) string {
	t.Helper()
	s, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.Output("md5sum '" + p + "'")
	if err != nil {
		t.Fatalf("md5sum %s: %v (output %q)", p, err, out)
	}
	return string(out)
}

// randomBytes returns n bytes of a stream seeded by seed: the same every
// run.
func randomBytes(seed uint64, n int) []byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	b := make([]byte, n)
	rand.NewChaCha8(s).Read(b)
	return b
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// fileMD5 is the MD5 of a file on disk, or "" when it cannot be read.
func fileMD5(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Errorf("read %s: %v", p, err)
		return ""
	}
	return md5hex(b)
}

// partialBytes sums the data files under a home's partial directory: what
// the server holds of interrupted uploads.
func partialBytes(t testing.TB, dir string) int64 {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(dir, home.PartialDir))
	var n int64
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && !strings.HasSuffix(e.Name(), ".state") && !strings.HasSuffix(e.Name(), ".tmp") {
			n += fi.Size()
		}
	}
	return n
}

// waitFor polls cond every 10 ms for up to 10 s, and fails the test with
// what if it never holds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// names lists a directory on disk, without the partial directory.
func names(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read dir %s: %v", dir, err)
	}
	var out []string
	for _, e := range ents {
		if e.Name() != home.PartialDir {
			out = append(out, e.Name())
		}
	}
	return out
}
