package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"ftpx/internal/miniotest"
	"ftpx/protocol"

	"github.com/google/uuid"
	"github.com/minio/minio-go/v7"
)

// One accounts file in the store for three servers behind the
// forwarder: the real binaries, a real MinIO.

// propagation bounds the wait for every server to apply an edit: the
// contract's 2 s, and a margin for a machine under load.
const propagation = 2*time.Second + 3*time.Second

// s3AccountsServers starts three servers on one root whose accounts file,
// with the user alex, is an object of the same bucket, outside the root.
func s3AccountsServers(t *testing.T) *s3Setup {
	t.Helper()
	return s3ServersWith(t, miniotest.Shared(t), 3, "", "s3://"+s3Bucket+"/etc-"+uuid.NewString()[:8]+"/accounts.ini")
}

// key is the accounts file's key in s3Bucket.
func (s *s3Setup) key() string { return strings.TrimPrefix(s.accounts, "s3://"+s3Bucket+"/") }

// applied waits until every server has logged "accounts reloaded" with
// users users, n times in all, and returns how long each took after since.
func (s *s3Setup) applied(t *testing.T, since time.Time, users, n int) []time.Duration {
	t.Helper()
	line := `msg="accounts reloaded" users=` + fmt.Sprint(users) + "\n"
	took := make([]time.Duration, len(s.daemons))
	waitUntil(t, propagation, fmt.Sprintf("every server to apply the edit (users=%d)", users), func() bool {
		done := true
		for i, d := range s.daemons {
			if took[i] == 0 && strings.Count(d.logText(), line) >= n {
				took[i] = time.Since(since)
			}
			done = done && took[i] != 0
		}
		return done
	})
	return took
}

// login runs ftpx ls as user through the forwarder and returns its
// stderr, exit status and the server it went to.
func (s *s3Setup) login(t *testing.T, user, password string) (string, int, int) {
	t.Helper()
	_, errOut, code := ftpx(t, t.TempDir(), []string{"FTPX_SERVER=" + s.lb.addr(), "FTPX_USER=" + user, "FTPX_PASSWORD=" + password}, "ls")
	log := s.lb.log()
	return errOut, code, log[len(log)-1]
}

// loginEverywhere logs user in through the forwarder until each server
// was tried once, and fails unless each gave the exit status want (and,
// for a failure, the stderr wantErr).
func (s *s3Setup) loginEverywhere(t *testing.T, user, password string, want int, wantErr string) {
	t.Helper()
	var served []int
	for range len(s.daemons) {
		errOut, code, server := s.login(t, user, password)
		if code != want || want != 0 && errOut != wantErr {
			t.Fatalf("%s through server %d: exit %d %q, want %d %q", user, server, code, errOut, want, wantErr)
		}
		served = append(served, server)
	}
	if slices.Sort(served); !slices.Equal(served, []int{0, 1, 2}) {
		t.Fatalf("the forwarder sent the logins to servers %v", served)
	}
}

// session opens a protocol session through the forwarder, logged in as
// user.
func (s *s3Setup) session(t *testing.T, user, password string) *session {
	t.Helper()
	sess := dialSession(t, s.lb.addr())
	if resp := sess.do(protocol.Request{Action: "auth", Username: user, Password: password}); resp.Status != protocol.StatusLoggedIn {
		t.Fatalf("auth %s: %+v", user, resp)
	}
	return sess
}

func TestS3AccountsEditedOnceAppliedByEveryServer(t *testing.T) {
	s := s3AccountsServers(t)

	// user add: every server lets bob in within 2 s, without a signal.
	if _, errOut, code := s.user(t, "pw-bob\n", "add", "--password-stdin", "bob"); code != 0 {
		t.Fatalf("user add bob: exit %d %s", code, errOut)
	}
	added := s.applied(t, time.Now(), 2, 1)
	s.loginEverywhere(t, "bob", "pw-bob", 0, "")
	t.Logf("user add: applied by the three servers after %v", added)

	// user quota: applied by itself too.
	if out, errOut, code := s.user(t, "", "quota", "bob", "1MB"); code != 0 || out != "user bob: quota 1MB\n" {
		t.Fatalf("user quota: exit %d %q %s", code, out, errOut)
	}
	s.applied(t, time.Now(), 2, 2)
	for range s.daemons {
		out, errOut, code := ftpx(t, t.TempDir(), []string{"FTPX_SERVER=" + s.lb.addr(), "FTPX_USER=bob", "FTPX_PASSWORD=pw-bob"}, "quota", "--json")
		var q struct{ Quota int64 }
		if code != 0 || json.Unmarshal([]byte(out), &q) != nil || q.Quota != 1<<20 {
			t.Fatalf("quota --json after user quota: exit %d %q %s", code, out, errOut)
		}
	}

	// user del: a session of bob open on each server ends at its next
	// request, and a new login is refused everywhere, within 2 s.
	var open []*session
	for range s.daemons {
		open = append(open, s.session(t, "bob", "pw-bob"))
	}
	if served := s.lb.log(); !slices.Equal(slices.Sorted(slices.Values(served[len(served)-3:])), []int{0, 1, 2}) {
		t.Fatalf("the sessions went to servers %v", served[len(served)-3:])
	}
	if _, errOut, code := s.user(t, "", "del", "bob"); code != 0 {
		t.Fatalf("user del bob: exit %d %s", code, errOut)
	}
	removed := s.applied(t, time.Now(), 1, 1)
	t.Logf("user del: applied by the three servers after %v", removed)
	for i, sess := range open {
		resp := sess.do(protocol.Request{Action: "ls"})
		if resp.Status != protocol.StatusNotLoggedIn || resp.Msg != "not authenticated (the account was removed)" {
			t.Fatalf("session %d's next request after user del: %+v", i, resp)
		}
		if _, err := protocol.ReadResponse(sess.r, protocol.MaxResponseHeader); err != io.EOF {
			t.Fatalf("session %d goes on after the answer: %v", i, err)
		}
	}
	s.loginEverywhere(t, "bob", "pw-bob", 4, "ftpx: auth bob: 253 wrong username or password\n")
	s.loginEverywhere(t, "alex", "pw", 0, "")
}

func TestS3AccountsConcurrentAddsAllLand(t *testing.T) {
	s := s3AccountsServers(t)
	var adds []*exec.Cmd
	var outs []*strings.Builder
	for i := range 10 {
		cmd := exec.Command(filepath.Join(binDir, "ftpx-server"), "user", "add", "--accounts", s.accounts,
			"--s3-endpoint", s.minio.Endpoint, "--password-stdin", fmt.Sprintf("user%d", i))
		cmd.Stdin = strings.NewReader(fmt.Sprintf("pw-%d\n", i))
		out := new(strings.Builder)
		cmd.Stdout, cmd.Stderr = out, out
		adds, outs = append(adds, cmd), append(outs, out)
	}
	start := time.Now()
	for _, cmd := range adds {
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, cmd := range adds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("user add user%d: %v %s", i, err, outs[i])
		}
	}
	t.Logf("10 concurrent user adds took %v", time.Since(start))
	want := "alex\tunlimited\n"
	for i := range 10 {
		want += fmt.Sprintf("user%d\tunlimited\n", i)
	}
	if out, errOut, code := s.user(t, "", "list"); code != 0 || out != want {
		t.Fatalf("user list: exit %d %q %s, want %q", code, out, errOut, want)
	}
	s.applied(t, time.Now(), 11, 1)
	for i := range 10 {
		if errOut, code, server := s.login(t, fmt.Sprintf("user%d", i), fmt.Sprintf("pw-%d", i)); code != 0 {
			t.Errorf("user%d through server %d: exit %d %s", i, server, code, errOut)
		}
	}
}

func TestS3AccountsBrokenFileNeitherTakenNorEdited(t *testing.T) {
	s := s3AccountsServers(t)
	ctx := context.Background()
	read := func() (string, string) {
		t.Helper()
		obj, err := s.mc.GetObject(ctx, s3Bucket, s.key(), minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer obj.Close()
		b, err := io.ReadAll(obj)
		st, serr := obj.Stat()
		if err != nil || serr != nil {
			t.Fatal(err, serr)
		}
		return string(b), st.ETag
	}
	write := func(content string) {
		t.Helper()
		if _, err := s.mc.PutObject(ctx, s3Bucket, s.key(), strings.NewReader(content), int64(len(content)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	good, _ := read()
	withCarl := good + "\n[carl]\npassword = pw-carl\n"
	write(withCarl + "[broken\n")
	brokenLine := fmt.Sprintf("%s:%d: broken section line \"[broken\" (want [NAME])", s.accounts, strings.Count(withCarl, "\n")+1)
	logged := `msg="accounts reload failed; keeping the old accounts" err=` + strconv.Quote(brokenLine) + "\n"
	for i, d := range s.daemons {
		waitUntil(t, propagation, fmt.Sprintf("server %d to log the broken file", i), func() bool { return strings.Contains(d.logText(), logged) })
	}
	s.loginEverywhere(t, "alex", "pw", 0, "")
	s.loginEverywhere(t, "carl", "pw-carl", 4, "ftpx: auth carl: 253 wrong username or password\n")

	// An edit of a broken file is refused: nothing is written.
	content, etag := read()
	_, errOut, code := s.user(t, "pw-dave\n", "add", "--password-stdin", "dave")
	if code != 1 || errOut != "ftpx-server: "+brokenLine+"\n" {
		t.Fatalf("user add on the broken file: exit %d %q", code, errOut)
	}
	if after, etagAfter := read(); after != content || etagAfter != etag {
		t.Fatalf("the broken file was changed: ETag %s, then %s", etag, etagAfter)
	}

	// Mended, it is taken; the broken version was reported once.
	write(withCarl)
	s.applied(t, time.Now(), 2, 1)
	s.loginEverywhere(t, "carl", "pw-carl", 0, "")
	for i, d := range s.daemons {
		if n := strings.Count(d.logText(), "accounts reload failed"); n != 1 {
			t.Errorf("server %d logged the broken file %d times:\n%s", i, n, d.logText())
		}
	}
}

// TestS3AccountsInsideAHomeRefused: an accounts file under the root, in
// a user's home, could be rewritten by that user.
func TestS3AccountsInsideAHomeRefused(t *testing.T) {
	out, code := serverCmd(t, "user", "list", "--root", "s3://ftpx-e2e/homes", "--accounts", "s3://ftpx-e2e/homes/alex/accounts.ini",
		"--s3-endpoint", "http://127.0.0.1:9")
	want := "ftpx-server: accounts s3://ftpx-e2e/homes/alex/accounts.ini: inside the home of user alex under root s3://ftpx-e2e/homes, who could rewrite it: keep it outside the root's homes\n"
	if code != 1 || out != want {
		t.Fatalf("exit %d %q, want 1 %q", code, out, want)
	}
}

// TestS3AccountsWaitedForAtStart: a server started while its store is
// down waits for it to read its accounts file, as it does for its root.
func TestS3AccountsWaitedForAtStart(t *testing.T) {
	srv := miniotest.Start(t, 1)
	s := s3ServersWith(t, srv, 0, "", "s3://"+s3Bucket+"/etc/accounts.ini")
	srv.Stop()
	logFile := filepath.Join(t.TempDir(), "server.log")
	back := make(chan error, 1)
	go func() {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if b, _ := os.ReadFile(logFile); strings.Contains(string(b), `"msg":"accounts unreadable; waiting for the store"`) {
				back <- srv.Restart()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		back <- errors.New("the server never said it waits for the store")
	}()
	d := startDaemonAt(t, "s3://"+s3Bucket+"/"+s.prefix, "127.0.0.1:0", s.accounts,
		"--s3-endpoint", srv.Endpoint, "--state-dir", t.TempDir(), "--log-format", "json", "--log-file", logFile)
	if err := <-back; err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := ftpx(t, t.TempDir(), []string{"FTPX_SERVER=" + d.addr, "FTPX_USER=alex", "FTPX_PASSWORD=pw"}, "ls"); code != 0 {
		t.Fatalf("alex after the store came back: exit %d %s", code, errOut)
	}
}

// An account named anonymous, added to the store's accounts file while
// anonymous_root is set, turns anonymous access off as SIGHUP would: the
// name logs in to its account, not to the anonymous tree.
func TestS3AccountsNamedAnonymousTurnsAnonymousOff(t *testing.T) {
	pub := t.TempDir()
	if err := os.WriteFile(filepath.Join(pub, "pub.txt"), []byte("public\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := s3ServersWith(t, miniotest.Shared(t), 1, "", "s3://"+s3Bucket+"/etc-"+uuid.NewString()[:8]+"/accounts.ini", "--anonymous-root", pub)
	env := []string{"FTPX_SERVER=" + s.daemons[0].addr, "FTPX_USER=anonymous", "FTPX_PASSWORD=pw-anon"}
	if out, errOut, code := ftpx(t, t.TempDir(), env, "ls"); code != 0 || !strings.Contains(out, "pub.txt") {
		t.Fatalf("anonymous ls before: exit %d %q %s", code, out, errOut)
	}
	if _, errOut, code := s.user(t, "pw-anon\n", "add", "--password-stdin", "anonymous"); code != 0 {
		t.Fatalf("user add anonymous: exit %d %s", code, errOut)
	}
	waitUntil(t, propagation, "anonymous access off", func() bool { return strings.Contains(s.daemons[0].logText(), `msg="anonymous access off"`) })
	if out, errOut, code := ftpx(t, t.TempDir(), env, "ls"); code != 0 || strings.Contains(out, "pub.txt") {
		t.Fatalf("ls as the account anonymous: exit %d %q %s; want its own empty home", code, out, errOut)
	}
}
