// Package miniotest runs real MinIO servers for tests: one shared by a
// test package (Main in its TestMain, Shared in its tests) or one of a
// test's own (Start), each on free loopback ports with its data in a
// temporary directory, stopped when the package or the test ends.
//
// The binary is bin/minio at the module's root (make minio builds it), or
// $FTPX_MINIO. Without it the tests that need MinIO are skipped with a
// message naming make minio, unless FTPX_REQUIRE_MINIO=1 (set by make
// test), which makes them fail instead.
package miniotest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The account of every test MinIO.
const (
	AccessKey = "ftpx-test"
	SecretKey = "ftpx-test-secret"
)

// Server is a running MinIO.
type Server struct {
	Addr     string   // 127.0.0.1:PORT
	Endpoint string   // http://127.0.0.1:PORT
	Dirs     []string // its drives' data directories

	bin string
	mu  sync.Mutex
	cmd *exec.Cmd
	log *lockedBuffer
}

// Binary returns the path of the MinIO binary, or an error saying how to
// get one.
func Binary() (string, error) {
	if p := os.Getenv("FTPX_MINIO"); p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "bin", "minio")
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("no MinIO at %s: run make minio (or make test, which builds it)", p)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: set FTPX_MINIO")
		}
		dir = parent
	}
}

// Required reports whether a missing MinIO fails the tests instead of
// skipping them (FTPX_REQUIRE_MINIO=1).
func Required() bool { return os.Getenv("FTPX_REQUIRE_MINIO") == "1" }

// need returns the binary, or skips (or fails) t.
func need(t testing.TB) string {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if Required() {
			t.Fatalf("FTPX_REQUIRE_MINIO=1: %v", err)
		}
		t.Skipf("skipped: %v", err)
	}
	return bin
}

var shared struct {
	once sync.Once
	srv  *Server
	dir  string
	err  error
}

// Main runs a test package's tests and then stops the shared MinIO, if
// Shared started one. Call it from TestMain: os.Exit(miniotest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if shared.srv != nil {
		shared.srv.Stop()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	return code
}

// Shared returns the test package's MinIO, starting it on first use; it
// runs until Main returns. Tests share it: each should use a bucket or a
// prefix of its own.
func Shared(t testing.TB) *Server {
	t.Helper()
	bin := need(t)
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "ftpx-minio-")
		if shared.err == nil {
			shared.srv, shared.err = start(bin, []string{filepath.Join(shared.dir, "data")})
		}
	})
	if shared.err != nil {
		t.Fatalf("shared MinIO: %v", shared.err)
	}
	return shared.srv
}

// Start starts a MinIO of t's own with drives drives (1: a single drive;
// 4: an erasure set over four directories), stopped when t ends.
func Start(t testing.TB, drives int) *Server {
	t.Helper()
	bin := need(t)
	dir := t.TempDir()
	var dirs []string
	for i := 1; i <= drives; i++ {
		dirs = append(dirs, filepath.Join(dir, "d"+strconv.Itoa(i)))
	}
	s, err := start(bin, dirs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("minio log:\n%s", s.Log())
		}
	})
	return s
}

// start runs MinIO on a free port, retrying with another port if the one
// picked was taken meanwhile.
func start(bin string, dirs []string) (*Server, error) {
	var err error
	for range 3 {
		var addr string
		if addr, err = freeAddr(); err != nil {
			return nil, err
		}
		s := &Server{Addr: addr, Endpoint: "http://" + addr, Dirs: dirs, bin: bin, log: new(lockedBuffer)}
		if err = s.run(); err == nil {
			return s, nil
		}
	}
	return nil, err
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// drivesArg is how MinIO is told its drives: one directory, or several
// with its own {1...N} notation.
func (s *Server) drivesArg() string {
	if len(s.Dirs) == 1 {
		return s.Dirs[0]
	}
	return filepath.Join(filepath.Dir(s.Dirs[0]), fmt.Sprintf("d{1...%d}", len(s.Dirs)))
}

// run starts the process and waits until it serves requests.
func (s *Server) run() error {
	cmd := exec.Command(s.bin, "server", "--quiet", "--address", s.Addr, s.drivesArg())
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+AccessKey, "MINIO_ROOT_PASSWORD="+SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=1")
	cmd.Stdout, cmd.Stderr = s.log, s.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the tests
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	// Generous: the machine may be loaded, and an erasure set formats
	// its drives first.
	deadline := time.Now().Add(90 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("minio exited: %v\n%s", err, s.log.String())
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := client.Get(s.Endpoint + "/minio/health/cluster")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				go func() { <-exited; s.exited(cmd) }()
				return nil
			}
		}
	}
	cmd.Process.Kill()
	<-exited
	return fmt.Errorf("minio on %s not ready after 90s\n%s", s.Addr, s.log.String())
}

// exited forgets cmd once it has ended.
func (s *Server) exited(cmd *exec.Cmd) {
	s.mu.Lock()
	if s.cmd == cmd {
		s.cmd = nil
	}
	s.mu.Unlock()
}

// Stop stops MinIO (SIGTERM, then SIGKILL after 10 s) and waits for it.
// Its data stays, for Restart.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		s.mu.Lock()
		running := s.cmd == cmd
		s.mu.Unlock()
		if !running {
			return
		}
		select {
		case <-ctx.Done():
			cmd.Process.Kill()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Restart starts MinIO again on the same address and data, after Stop.
func (s *Server) Restart() error {
	s.Stop()
	return s.run()
}

// Env returns the AWS variables that give its account to an ftpx-server.
func (s *Server) Env() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + AccessKey, "AWS_SECRET_ACCESS_KEY=" + SecretKey}
}

// SetEnv sets Env's variables for the rest of t (t.Setenv), for the
// ftpx servers and S3 clients the test starts; it cannot be used in
// parallel tests.
func (s *Server) SetEnv(t testing.TB) {
	t.Helper()
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// Log returns what MinIO has printed so far.
func (s *Server) Log() string { return s.log.String() }

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
