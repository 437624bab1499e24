package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"ftpx/client"
	"ftpx/internal/miniotest"
	"ftpx/protocol"

	"github.com/google/uuid"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Several ftpx-servers on one MinIO, behind one address: the real
// binaries, a real MinIO, and a TCP forwarder as the load balancer.

const s3Bucket = "ftpx-e2e"

// putDoneRE finds where the put of big2.bin resumed in a server's log.
var putDoneRE = regexp.MustCompile(`msg="put done" .* path=/big2\.bin .* offset=(\d+)`)

// s3Setup is servers sharing homes under one s3:// root.
type s3Setup struct {
	minio    *miniotest.Server
	prefix   string // the root's prefix in s3Bucket
	accounts string
	daemons  []*daemon
	lb       *balancer
	mc       *minio.Client // the test's own look into the store
	flags    []string      // more flags for every server
}

// s3Servers starts n servers on the MinIO srv with the user alex (quota
// as ftpx-server user add takes it; "" for none), behind a balancer.
func s3Servers(t *testing.T, srv *miniotest.Server, n int, quota string) *s3Setup {
	t.Helper()
	return s3ServersWith(t, srv, n, quota, filepath.Join(t.TempDir(), "accounts.ini"))
}

// s3ServersWith is s3Servers with the accounts file given (a local path,
// or an s3:// URL on srv) and more flags for every server (a flag given
// again wins).
func s3ServersWith(t *testing.T, srv *miniotest.Server, n int, quota, accounts string, flags ...string) *s3Setup {
	t.Helper()
	srv.SetEnv(t) // the servers inherit the credentials, never in argv
	s := &s3Setup{minio: srv, prefix: "e-" + uuid.NewString()[:8], accounts: accounts, flags: flags}
	args := []string{"add", "--password-stdin"}
	if quota != "" {
		args = append(args, "--quota", quota)
	}
	if _, errOut, code := s.user(t, "pw\n", append(args, "alex")...); code != 0 {
		t.Fatalf("user add alex: exit %d %s", code, errOut)
	}
	for range n {
		s.daemons = append(s.daemons, s.start(t))
	}
	addrs := make([]string, n)
	for i, d := range s.daemons {
		addrs[i] = d.addr
	}
	s.lb = newBalancer(t, addrs...)
	mc, err := minio.New(srv.Addr, &minio.Options{Creds: credentials.NewStaticV4(miniotest.AccessKey, miniotest.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	s.mc = mc
	return s
}

// start runs one more server on the setup's root.
func (s *s3Setup) start(t *testing.T) *daemon {
	t.Helper()
	return startDaemonAt(t, "s3://"+s3Bucket+"/"+s.prefix, "127.0.0.1:0", s.accounts,
		append([]string{"--s3-endpoint", s.minio.Endpoint, "--s3-part-size", "5MB", "--state-dir", t.TempDir()}, s.flags...)...)
}

// user runs `ftpx-server user SUBCOMMAND` on the setup's accounts file
// and store, with stdin, and returns stdout, stderr and the exit status.
func (s *s3Setup) user(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "ftpx-server"),
		append([]string{"user", args[0], "--accounts", s.accounts, "--s3-endpoint", s.minio.Endpoint}, args[1:]...)...)
	cmd.Stdin = strings.NewReader(stdin)
	return runCmd(t, cmd)
}

// env is the client's environment for the server at addr.
func (s *s3Setup) env(addr string) []string {
	return []string{"FTPX_SERVER=" + addr, "FTPX_USER=alex", "FTPX_PASSWORD=pw"}
}

// stored returns the files of alex's home in the store, with their sizes
// (the server's bookkeeping left out).
func (s *s3Setup) stored(t *testing.T) map[string]int64 {
	t.Helper()
	home := s.prefix + "/alex/"
	files := map[string]int64{}
	for o := range s.mc.ListObjects(context.Background(), s3Bucket, minio.ListObjectsOptions{Prefix: home, Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		rel := strings.TrimPrefix(o.Key, home)
		if rel != "" && !strings.HasPrefix(rel, ".ftpx-partial/") && !strings.HasSuffix(rel, "/") {
			files[rel] = o.Size
		}
	}
	return files
}

// held returns the bytes the store holds of alex's interrupted uploads,
// as their state objects say.
func (s *s3Setup) held(t *testing.T) int64 {
	t.Helper()
	dir := s.prefix + "/alex/.ftpx-partial/"
	var n int64
	for o := range s.mc.ListObjects(context.Background(), s3Bucket, minio.ListObjectsOptions{Prefix: dir}) {
		if o.Err != nil || !strings.HasSuffix(o.Key, ".state") {
			continue
		}
		obj, err := s.mc.GetObject(context.Background(), s3Bucket, o.Key, minio.GetObjectOptions{})
		if err != nil {
			continue
		}
		var rec struct{ Held int64 }
		if json.NewDecoder(obj).Decode(&rec) == nil {
			n += rec.Held
		}
		obj.Close()
	}
	return n
}

func TestS3ServersShareOneNamespace(t *testing.T) {
	s := s3Servers(t, miniotest.Shared(t), 3, "")
	work := t.TempDir()
	sum := writeRandom(t, filepath.Join(work, "big.bin"), 12*mib+7)
	if _, errOut, code := ftpx(t, work, s.env(s.daemons[0].addr), "put", "big.bin"); code != 0 {
		t.Fatalf("put through server 0: exit %d: %s", code, errOut)
	}
	os.Mkdir(filepath.Join(work, "many"), 0o755)
	for i := range 10 {
		writeRandom(t, filepath.Join(work, "many", fmt.Sprintf("f%02d", i)), 100+i)
	}
	if _, errOut, code := ftpx(t, work, s.env(s.daemons[1].addr), "put", "-r", "many"); code != 0 {
		t.Fatalf("put -r through server 1: exit %d: %s", code, errOut)
	}
	// At once, through every server: listed and got, verified.
	for i, d := range s.daemons {
		out, errOut, code := ftpx(t, work, s.env(d.addr), "ls", "--json")
		var entries []map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &entries) != nil || len(entries) != 2 ||
			entries[0]["name"] != "big.bin" || entries[0]["size"] != float64(12*mib+7) || entries[1]["name"] != "many" {
			t.Fatalf("ls through server %d: exit %d %s %s", i, code, out, errOut)
		}
		if out, _, _ := ftpx(t, work, s.env(d.addr), "ls", "many"); strings.Count(out, "\n") != 10 {
			t.Fatalf("ls many through server %d: %q", i, out)
		}
		down := t.TempDir()
		out, errOut, code = ftpx(t, down, s.env(d.addr), "--json", "get", "big.bin")
		if res := onlyResult(t, out); code != 0 || res.MD5 != sum || md5File(t, filepath.Join(down, "big.bin")) != sum {
			t.Fatalf("get through server %d: exit %d %+v %s", i, code, res, errOut)
		}
	}
	got := s.stored(t)
	var total int64
	for _, n := range got {
		total += n
	}
	if len(got) != 11 || got["big.bin"] != 12*mib+7 {
		t.Fatalf("the store holds %v", got)
	}
	// user list --used reads the store of the config's s3_endpoint.
	cfg := writeFile(t, filepath.Join(t.TempDir(), "ftpx-server.ini"), fmt.Sprintf("root = s3://%s/%s\ns3_endpoint = %s\naccounts = %s\n",
		s3Bucket, s.prefix, s.minio.Endpoint, s.accounts))
	out, err := exec.Command(filepath.Join(binDir, "ftpx-server"), "user", "list", "--used", "--config", cfg).CombinedOutput()
	if want := "alex\tunlimited\t" + protocol.FormatSize(total) + "\n"; err != nil || string(out) != want {
		t.Fatalf("user list --used: %v %q, want %q", err, out, want)
	}
}

func TestS3InterruptedTransfersResumeThroughAnotherServer(t *testing.T) {
	s := s3Servers(t, miniotest.Shared(t), 3, "")
	work := t.TempDir()
	const size = 40 * mib
	sum := writeSeeded(t, filepath.Join(work, "big.bin"), size, seeded(t, 13))
	env := s.env(s.lb.addr())

	// The client is killed mid-put; the put run again goes to another
	// server and resumes from what the store holds.
	b := startFtpx(t, work, env, "--limit-rate", "8MB", "put", "big.bin")
	waitUntil(t, 30*time.Second, "the store to hold part of the put", func() bool { return s.held(t) >= 5*mib })
	b.kill()
	first := s.lb.log()[len(s.lb.log())-1]
	out, errOut, code := ftpx(t, work, env, "--json", "--retry-delay", "200ms", "put", "big.bin")
	res := onlyResult(t, out)
	if code != 0 || res.Offset <= 0 || res.Sent != size-res.Offset || res.MD5 != sum {
		t.Fatalf("put again: exit %d, %+v, stderr %q; want offset > 0", code, res, errOut)
	}
	if log := s.lb.log(); log[len(log)-1] == first {
		t.Fatalf("the resumed put went to the same server %d: %v", first, log)
	}
	t.Logf("put resumed at %d of %d, server %d then %d", res.Offset, size, first, s.lb.log()[len(s.lb.log())-1])
	if got := s.stored(t); got["big.bin"] != size {
		t.Fatalf("the store holds %v", got)
	}

	// The same for a get.
	down := t.TempDir()
	g := startFtpx(t, down, env, "--limit-rate", "8MB", "get", "big.bin")
	waitUntil(t, 30*time.Second, "a checkpoint of the get", func() bool { return recordOffset(t, down, "get") > 0 })
	g.kill()
	out, errOut, code = ftpx(t, down, env, "--json", "get", "big.bin")
	res = onlyResult(t, out)
	if code != 0 || res.Offset <= 0 || res.MD5 != sum || md5File(t, filepath.Join(down, "big.bin")) != sum {
		t.Fatalf("get again: exit %d, %+v, stderr %q; want offset > 0", code, res, errOut)
	}

	// The server is killed mid-put: the client's own retry reaches
	// another server through the balancer, which waits for the dead
	// server's claim on the transfer to lapse, and resumes.
	sum2 := writeSeeded(t, filepath.Join(work, "big2.bin"), size, seeded(t, 14))
	b = startFtpx(t, work, env, "--json", "--limit-rate", "8MB", "--retries", "20", "--retry-delay", "500ms", "put", "big2.bin")
	waitUntil(t, 30*time.Second, "the store to hold part of the second put", func() bool { return s.held(t) >= 5*mib })
	victim := s.daemons[s.lb.log()[len(s.lb.log())-1]]
	victim.cmd.Process.Kill()
	victim.cmd.Wait()
	if code := b.exited(t, 120*time.Second); code != 0 {
		t.Fatalf("put after its server was killed: exit %d, stderr %q", code, b.err.String())
	}
	// The run's result says where the run began (0); the server that
	// finished it logs where it resumed.
	res = onlyResult(t, b.out.String())
	resumed := int64(-1)
	for i, d := range s.daemons {
		if m := putDoneRE.FindStringSubmatch(d.logText()); m != nil && d != victim {
			fmt.Sscan(m[1], &resumed)
			t.Logf("server %d finished the put, resuming at %d", i, resumed)
		}
	}
	if res.MD5 != sum2 || resumed <= 0 || res.Sent >= 2*size {
		t.Fatalf("put after its server was killed: %+v, resumed at %d; want a verified put resumed past 0", res, resumed)
	}
	if got := s.stored(t); got["big2.bin"] != size {
		t.Fatalf("the store holds %v", got)
	}
}

func TestS3QuotaHoldsAcrossThreeServers(t *testing.T) {
	s := s3Servers(t, miniotest.Shared(t), 3, "20MB")
	work := t.TempDir()
	for i := range 4 {
		writeRandom(t, filepath.Join(work, fmt.Sprintf("f%d.bin", i)), 3*mib)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var codes []int
	for i, d := range s.daemons {
		for j := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dir := t.TempDir()
				os.Link(filepath.Join(work, fmt.Sprintf("f%d.bin", j)), filepath.Join(dir, "f.bin"))
				_, errOut, code := ftpx(t, dir, s.env(d.addr), "put", "f.bin", fmt.Sprintf("s%d-%d.bin", i, j))
				if code != 0 && code != client.ExitQuota {
					t.Errorf("put s%d-%d: exit %d: %s", i, j, code, errOut)
				}
				mu.Lock()
				codes = append(codes, code)
				mu.Unlock()
			}()
		}
		wg.Wait() // the puts of one server at once; the next server's against what is left
	}
	var total int64
	files := s.stored(t)
	for _, n := range files {
		total += n
	}
	if total > 20*mib {
		t.Fatalf("the store holds %d bytes in %d files, over the 20 MiB quota", total, len(files))
	}
	// Six fit; a lease another server still holds for its next upload may
	// make one refused earlier than need be, never one too many stored.
	if len(files) < 4 {
		t.Errorf("%d files of 3 MiB stored under a 20 MiB quota; exits %v", len(files), codes)
	}
	t.Logf("one server after another, 4 puts of 3 MiB each, quota 20 MiB: %d stored", len(files))
	// And all at once, through all three.
	for name := range files {
		ftpx(t, work, s.env(s.lb.addr()), "rm", name)
	}
	results := make(chan int, 12)
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dir := t.TempDir()
			os.Link(filepath.Join(work, fmt.Sprintf("f%d.bin", i%4)), filepath.Join(dir, "f.bin"))
			_, _, code := ftpx(t, dir, s.env(s.daemons[i%3].addr), "put", "f.bin", fmt.Sprintf("c%d.bin", i))
			results <- code
		}()
	}
	wg.Wait()
	close(results)
	total = 0
	for _, n := range s.stored(t) {
		total += n
	}
	if total > 20*mib {
		t.Fatalf("concurrent puts through three servers stored %d bytes, over the 20 MiB quota", total)
	}
	ok := 0
	for code := range results {
		if code == 0 {
			ok++
		}
	}
	if int64(ok)*3*mib != total {
		t.Fatalf("%d puts acknowledged, the store holds %d bytes", ok, total)
	}
	t.Logf("12 concurrent puts of 3 MiB through 3 servers, quota 20 MiB: %d stored", ok)
}

func TestS3HalfUploadedFileNeverListed(t *testing.T) {
	s := s3Servers(t, miniotest.Shared(t), 2, "")
	work := t.TempDir()
	const size = 24 * mib
	sum := writeSeeded(t, filepath.Join(work, "big.bin"), size, seeded(t, 15))
	b := startFtpx(t, work, s.env(s.daemons[0].addr), "--limit-rate", "16MB", "put", "big.bin")
	seen := 0
	for {
		finished := false
		select {
		case <-b.done:
			finished = true
		default:
		}
		out, errOut, code := ftpx(t, work, s.env(s.daemons[1].addr), "ls", "--json")
		if code != 0 {
			t.Fatalf("ls: exit %d %s", code, errOut)
		}
		var entries []map[string]any
		json.Unmarshal([]byte(out), &entries)
		if len(entries) > 0 {
			if entries[0]["name"] != "big.bin" || entries[0]["size"] != float64(size) {
				t.Fatalf("listed during the put: %s", out)
			}
			seen++
		}
		if finished {
			break
		}
	}
	if b.cmd.ProcessState.ExitCode() != 0 || seen == 0 {
		t.Fatalf("put: exit %d, listed whole %d times; %s", b.cmd.ProcessState.ExitCode(), seen, b.err.String())
	}
	down := t.TempDir()
	if out, _, code := ftpx(t, down, s.env(s.daemons[1].addr), "--json", "get", "big.bin"); code != 0 || onlyResult(t, out).MD5 != sum {
		t.Fatalf("get: exit %d %s", code, out)
	}
}

func TestS3StoreDownThenBack(t *testing.T) {
	srv := miniotest.Start(t, 1)
	s := s3Servers(t, srv, 2, "")
	work := t.TempDir()
	sum := writeRandom(t, filepath.Join(work, "f.bin"), 100_000)
	if _, errOut, code := ftpx(t, work, s.env(s.lb.addr()), "put", "f.bin"); code != 0 {
		t.Fatalf("put: exit %d: %s", code, errOut)
	}
	srv.Stop()
	for i, d := range s.daemons {
		for _, args := range [][]string{{"ls"}, {"get", "f.bin", "g.bin"}, {"put", "f.bin", "h.bin"}} {
			b := startFtpx(t, work, s.env(d.addr), args...)
			code := b.exited(t, 90*time.Second) // a bounded wait, never a hang
			if code != client.ExitConnection || !strings.Contains(b.err.String(), "287") {
				t.Fatalf("server %d, %v with the store down: exit %d, stderr %q; want 3 and 287", i, args, code, b.err.String())
			}
		}
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	for i, d := range s.daemons {
		down := t.TempDir()
		out, errOut, code := ftpx(t, down, s.env(d.addr), "--json", "get", "f.bin")
		if code != 0 || onlyResult(t, out).MD5 != sum {
			t.Fatalf("server %d once the store is back: exit %d %s %s", i, code, out, errOut)
		}
		if _, errOut, code := ftpx(t, work, s.env(d.addr), "put", "f.bin", fmt.Sprintf("again%d.bin", i)); code != 0 {
			t.Fatalf("put through server %d once the store is back: exit %d %s", i, code, errOut)
		}
	}
}

func TestS3ErasureSetSurvivesAWipedDrive(t *testing.T) {
	srv := miniotest.Start(t, 4)
	s := s3Servers(t, srv, 1, "")
	work := t.TempDir()
	sums := map[string]string{"small.bin": writeRandom(t, filepath.Join(work, "small.bin"), 10_000),
		"big.bin": writeRandom(t, filepath.Join(work, "big.bin"), 11*mib)}
	for name := range sums {
		if _, errOut, code := ftpx(t, work, s.env(s.lb.addr()), "put", name); code != 0 {
			t.Fatalf("put %s: exit %d: %s", name, code, errOut)
		}
	}
	// One drive's directory wiped, as a disk replaced by an empty one.
	ents, err := os.ReadDir(srv.Dirs[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(srv.Dirs[1], e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	for name, sum := range sums {
		down := t.TempDir()
		out, errOut, code := ftpx(t, down, s.env(s.lb.addr()), "--json", "get", name)
		if code != 0 || onlyResult(t, out).MD5 != sum {
			t.Fatalf("get %s with a drive wiped: exit %d %s %s", name, code, out, errOut)
		}
	}
	sum := writeRandom(t, filepath.Join(work, "after.bin"), 7*mib)
	if _, errOut, code := ftpx(t, work, s.env(s.lb.addr()), "put", "after.bin"); code != 0 {
		t.Fatalf("put with a drive wiped: exit %d: %s", code, errOut)
	}
	down := t.TempDir()
	if out, errOut, code := ftpx(t, down, s.env(s.lb.addr()), "--json", "get", "after.bin"); code != 0 || onlyResult(t, out).MD5 != sum {
		t.Fatalf("get after.bin: exit %d %s %s", code, out, errOut)
	}
}
