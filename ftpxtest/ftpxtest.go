// Package ftpxtest starts real ftpx servers for tests, in the spirit of
// net/http/httptest: a Server on 127.0.0.1:0 with a temporary root and
// accounts file, stopped by t.Cleanup.
package ftpxtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/ftpd"
	"ftpx/home"
	"ftpx/internal/miniotest"
	"ftpx/internal/s3url"
	"ftpx/protocol"
	"ftpx/s3home"
	"ftpx/server"
	"ftpx/sftpd"
	"ftpx/webd"

	"golang.org/x/crypto/bcrypt"
)

// Server is a running test server.
type Server struct {
	*server.Server
	Addr     string // host:port to dial
	Root     string // the data root: user homes are Root/NAME
	Accounts string // the accounts file

	logMu sync.Mutex
	log   bytes.Buffer
}

// Option adjusts the server before it starts.
type Option func(*server.Server)

// NewServer starts a server with no users; add them with AddUser. The
// server and its files go away when the test ends.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	dir := t.TempDir()
	accounts := filepath.Join(dir, "accounts.ini")
	if err := os.WriteFile(accounts, []byte("; test accounts\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return start(t, filepath.Join(dir, "root"), accounts, opts)
}

// Restart stops the server, as SIGTERM would, and starts a new one on the
// same root and accounts (on a new port), as after a restart of the daemon.
func (ts *Server) Restart(t testing.TB, opts ...Option) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ts.Shutdown(ctx)
	return start(t, ts.Root, ts.Accounts, opts)
}

func start(t testing.TB, root, accountsFile string, opts []Option) *Server {
	ts := &Server{Root: root, Accounts: accountsFile}
	store, err := accounts.Load(ts.Accounts)
	if err != nil {
		t.Fatal(err)
	}
	homes, err := home.NewManager(ts.Root)
	if err != nil {
		t.Fatal(err)
	}
	ts.Server = &server.Server{
		Homes:    homes,
		Accounts: store,
		Logger:   slog.New(slog.NewTextHandler(lockedWriter{ts}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, o := range opts {
		o(ts.Server)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.Addr = l.Addr().String()
	done := make(chan error, 1)
	go func() { done <- ts.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ts.Shutdown(ctx)
		<-done
		homes.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", ts.Log())
		}
	})
	return ts
}

// AddUser adds an account and reloads the server's accounts. The hash is
// made at bcrypt's minimum cost, to keep tests fast; the server checks it
// like any other.
func (ts *Server) AddUser(t testing.TB, name, password string, quota int64) {
	t.Helper()
	ts.AddUserWith(t, name, password, quota)
}

// AddUserWith is AddUser with more lines in the user's section, such as
// "perms = read", "max_sessions = 2" or "folder.shared = /srv/team read".
func (ts *Server) AddUserWith(t testing.TB, name, password string, quota int64, lines ...string) {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	section := fmt.Sprintf("\n[%s]\npassword = %s\n", name, hash)
	if quota != accounts.Unlimited {
		section += "quota = " + protocol.FormatSize(quota) + "\n"
	}
	for _, l := range lines {
		section += l + "\n"
	}
	f, err := os.OpenFile(ts.Accounts, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString(section)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.Server.Accounts.Reload(); err != nil {
		t.Fatal(err)
	}
}

// FTPOption adjusts the FTP front end before it starts.
type FTPOption func(*ftpd.Server)

// StartFTP starts the FTP front end (package ftpd) of the server on
// 127.0.0.1:0 and returns its address. It shares everything with the
// native server: accounts, homes, limits, TLS, metrics. It is stopped by
// t.Cleanup, before the native server.
func (ts *Server) StartFTP(t testing.TB, opts ...FTPOption) string {
	t.Helper()
	fs := &ftpd.Server{Core: ts.Server, Logger: ts.Server.Logger}
	for _, o := range opts {
		o(fs)
	}
	return startFront(t, fs.Serve, fs.Shutdown)
}

// StartSFTP starts the SFTP front end (package sftpd) of the server on
// 127.0.0.1:0, with a host key made in the data root as the daemon makes
// it, and returns its address. It shares everything with the native
// server. It is stopped by t.Cleanup, before the native server.
func (ts *Server) StartSFTP(t testing.TB) string {
	t.Helper()
	key, err := sftpd.LoadHostKey("", ts.Root)
	if err != nil {
		t.Fatal(err)
	}
	ss := &sftpd.Server{Core: ts.Server, HostKey: key, Logger: ts.Server.Logger}
	return startFront(t, ss.Serve, ss.Shutdown)
}

// StartHTTP starts the web client and HTTP API (package webd) of the
// server on 127.0.0.1:0, plain HTTP, and returns its base URL
// ("http://127.0.0.1:PORT"). It shares everything with the native server.
// It is stopped by t.Cleanup, before the native server.
func (ts *Server) StartHTTP(t testing.TB) string {
	t.Helper()
	ws := &webd.Server{Core: ts.Server, Logger: ts.Server.Logger}
	return "http://" + startFront(t, ws.Serve, ws.Shutdown)
}

// startFront serves a front end on 127.0.0.1:0 until t's cleanup shuts it
// down, and returns its address.
func startFront(t testing.TB, serve func(net.Listener) error, shutdown func(context.Context) error) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shutdown(ctx)
		<-done
	})
	return l.Addr().String()
}

// Home returns the directory of a user's home on disk.
func (ts *Server) Home(name string) string { return filepath.Join(ts.Root, name) }

// Log returns what the server has logged so far.
func (ts *Server) Log() string {
	ts.logMu.Lock()
	defer ts.logMu.Unlock()
	return ts.log.String()
}

type lockedWriter struct{ ts *Server }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.ts.logMu.Lock()
	defer w.ts.logMu.Unlock()
	return w.ts.log.Write(p)
}

// S3Homes returns the homes of a server on the MinIO server srv, under
// s3://BUCKET/homes with S3's smallest parts (so that a file of a few MiB
// is a multipart object), and the Option that gives them to NewServer.
// srv's credentials must be in the environment (srv.SetEnv). The homes
// are closed when the test ends.
func S3Homes(t testing.TB, srv *miniotest.Server, bucket string) (Option, *home.Manager) {
	t.Helper()
	c, err := s3home.New(s3home.Config{Endpoint: srv.Endpoint, Timeout: 20 * time.Second, PartSize: s3home.MinPartSize})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureBucket(context.Background(), bucket, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	root, err := s3url.Parse("s3://" + bucket + "/homes")
	if err != nil {
		t.Fatal(err)
	}
	m := home.NewManagerOn(c.Homes(root))
	t.Cleanup(func() { m.Close() })
	return func(s *server.Server) { s.Homes = m }, m
}

// DialNative opens a connection of the native protocol to addr and reads
// its greeting (a refusal when the server is at a limit). The connection
// is closed when the test ends.
func DialNative(t testing.TB, addr string) (net.Conn, *bufio.Reader, *protocol.Response) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	hello, err := protocol.ReadResponse(r, protocol.MaxResponseHeader)
	if err != nil {
		t.Fatal(err)
	}
	return c, r, hello
}

// NativeAuth sends the auth action on a native connection and returns
// the answer's status.
func NativeAuth(t testing.TB, c net.Conn, r *bufio.Reader, user, password string) protocol.Status {
	t.Helper()
	if err := protocol.WriteFrame(c, protocol.Request{Action: protocol.ActionAuth, Username: user, Password: password}); err != nil {
		t.Fatal(err)
	}
	resp, err := protocol.ReadResponse(r, protocol.MaxResponseHeader)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Status
}
