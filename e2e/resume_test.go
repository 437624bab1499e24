package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"ftpx/client"
)

const mib = 1 << 20

// resumeSetup starts a server with one user (no quota) and returns it,
// a working directory and the client's environment.
func resumeSetup(t *testing.T) (*daemon, string, []string) {
	t.Helper()
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "alex", "pw", "")
	d := startDaemon(t, accounts)
	return d, t.TempDir(), []string{"FTPX_SERVER=" + d.addr, "FTPX_USER=alex", "FTPX_PASSWORD=pw"}
}

// killMidPut starts a slow put of name and kills it once the server holds
// at least atLeast bytes of it.
func killMidPut(t *testing.T, d *daemon, work string, env []string, name string, atLeast int64) {
	t.Helper()
	b := startFtpx(t, work, env, "--limit-rate", "16MB", "put", name)
	waitUntil(t, 20*time.Second, "the server to hold part of the put", func() bool { return heldOnServer(d.root, "alex") >= atLeast })
	b.kill()
}

// killMidGet starts a slow get of name into work and kills it once its
// resume record has reached an offset.
func killMidGet(t *testing.T, work string, env []string, name string) {
	t.Helper()
	b := startFtpx(t, work, env, "--limit-rate", "16MB", "get", name)
	waitUntil(t, 20*time.Second, "a checkpoint of the get", func() bool { return recordOffset(t, work, "get") > 0 })
	b.kill()
}

func TestKilledClientResumesPutAndGet(t *testing.T) {
	r := seeded(t, 2)
	d, work, env := resumeSetup(t)
	const size = 24 * mib
	sum := writeSeeded(t, filepath.Join(work, "big.bin"), size, r)

	killMidPut(t, d, work, env, "big.bin", 1)
	out, errOut, code := ftpx(t, work, env, "--json", "--retry-delay", "10ms", "put", "big.bin")
	res := onlyResult(t, out)
	if code != 0 || res.Offset <= 0 || res.Sent != size-res.Offset || res.MD5 != sum {
		t.Fatalf("rerun of the put: exit %d, %+v, stderr %q; want offset > 0", code, res, errOut)
	}
	if got := md5File(t, filepath.Join(d.root, "alex", "big.bin")); got != sum {
		t.Fatalf("stored md5 %s, want %s", got, sum)
	}
	t.Logf("put resumed at %d of %d", res.Offset, size)

	down := t.TempDir()
	killMidGet(t, down, env, "big.bin")
	out, errOut, code = ftpx(t, down, env, "--json", "get", "big.bin")
	res = onlyResult(t, out)
	if code != 0 || res.Offset <= 0 || res.Sent != size-res.Offset || res.MD5 != sum {
		t.Fatalf("rerun of the get: exit %d, %+v, stderr %q; want offset > 0", code, res, errOut)
	}
	if got := md5File(t, filepath.Join(down, "big.bin")); got != sum {
		t.Fatalf("downloaded md5 %s, want %s", got, sum)
	}
	t.Logf("get resumed at %d of %d", res.Offset, size)
	for _, dir := range []string{work, down} {
		if recs := stateRecords(t, dir); len(recs) != 0 {
			t.Fatalf("finished transfers left records: %v", recs)
		}
	}
	if n, _ := localPartial(down, "big.bin"); n != 0 {
		t.Fatal("the get left its partial file")
	}
}

func TestKilledServerPutResumesAfterRestart(t *testing.T) {
	r := seeded(t, 3)
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "alex", "pw", "")
	d := startDaemon(t, accounts)
	work := t.TempDir()
	env := []string{"FTPX_SERVER=" + d.addr, "FTPX_USER=alex", "FTPX_PASSWORD=pw"}
	const size = 40 * mib
	sum := writeSeeded(t, filepath.Join(work, "big.bin"), size, r)

	b := startFtpx(t, work, env, "--quiet", "--limit-rate", "16MB", "--retries", "1", "--retry-delay", "10ms", "put", "big.bin")
	waitUntil(t, 20*time.Second, "the server to hold 9 MiB", func() bool { return heldOnServer(d.root, "alex") >= 9*mib })
	d.cmd.Process.Kill()
	d.cmd.Wait()
	if code := b.exited(t, 20*time.Second); code != client.ExitConnection {
		t.Fatalf("client after the server died: exit %d, want 3; stderr %q", code, b.err.String())
	}
	// Even with --quiet: a line for the retry, then the give-up line,
	// which names the put and says how to go on.
	lines := strings.Split(strings.TrimSpace(b.err.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ftpx: put big.bin: ") || !strings.HasSuffix(lines[0], "; retry 1 of 1 in 10ms") ||
		!strings.HasPrefix(lines[1], "ftpx: put big.bin: ") || !strings.HasSuffix(lines[1], "(gave up after 1 retries; run the same command again, or ftpx resume, to continue)") {
		t.Errorf("stderr of the put the server died under (--quiet):\n%s", b.err.String())
	}
	t.Logf("stderr of the put the server died under:\n%s", b.err.String())

	startDaemonAt(t, d.root, d.addr, accounts)
	out, errOut, code := ftpx(t, work, env, "--json", "--retry-delay", "10ms", "put", "big.bin")
	res := onlyResult(t, out)
	if code != 0 || res.Offset < 8*mib || res.MD5 != sum {
		t.Fatalf("rerun after the server restart: exit %d, %+v, stderr %q; want offset >= 8 MiB", code, res, errOut)
	}
	if got := md5File(t, filepath.Join(d.root, "alex", "big.bin")); got != sum {
		t.Fatalf("stored md5 %s, want %s", got, sum)
	}
	t.Logf("resumed at %d of %d after the server was killed", res.Offset, size)
}

// A server killed early in an upload, before any byte-counted checkpoint,
// keeps everything that reached its partial: the rerun resumes at least
// from what the server held two seconds before the kill.
func TestServerKilledEarlyInAPutLosesNothing(t *testing.T) {
	r := seeded(t, 4)
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "alex", "pw", "")
	d := startDaemon(t, accounts)
	work := t.TempDir()
	env := []string{"FTPX_SERVER=" + d.addr, "FTPX_USER=alex", "FTPX_PASSWORD=pw"}
	const size = 24 * mib
	sum := writeSeeded(t, filepath.Join(work, "big.bin"), size, r)

	b := startFtpx(t, work, env, "--limit-rate", "2MB", "--retries", "1", "--retry-delay", "10ms", "put", "big.bin")
	waitUntil(t, 20*time.Second, "the put to begin", func() bool { return heldOnServer(d.root, "alex") > 0 })
	time.Sleep(time.Second)
	early := heldOnServer(d.root, "alex")
	time.Sleep(2 * time.Second)
	d.cmd.Process.Kill()
	d.cmd.Wait()
	b.exited(t, 20*time.Second)

	startDaemonAt(t, d.root, d.addr, accounts)
	out, errOut, code := ftpx(t, work, env, "--json", "--retry-delay", "10ms", "put", "big.bin")
	res := onlyResult(t, out)
	if code != 0 || res.Offset < early || res.Offset <= 0 || res.MD5 != sum {
		t.Fatalf("rerun after the kill: exit %d, %+v, stderr %q; want offset >= %d (held 2 s before the kill)", code, res, errOut, early)
	}
	if got := md5File(t, filepath.Join(d.root, "alex", "big.bin")); got != sum {
		t.Fatalf("stored md5 %s, want %s", got, sum)
	}
	t.Logf("held %d two seconds before the kill; resumed at %d", early, res.Offset)
}

func TestChangedSourceOrBrokenRecordStartsOver(t *testing.T) {
	r := seeded(t, 4)
	d, work, env := resumeSetup(t)
	stored := filepath.Join(d.root, "alex", "big.bin")
	const size = 12 * mib

	t.Run("local file changed", func(t *testing.T) {
		writeSeeded(t, filepath.Join(work, "big.bin"), size, r)
		killMidPut(t, d, work, env, "big.bin", 1)
		sum := writeSeeded(t, filepath.Join(work, "big.bin"), size, r)
		out, errOut, code := ftpx(t, work, env, "--json", "--retry-delay", "10ms", "put", "big.bin")
		res := onlyResult(t, out)
		if code != 0 || res.Offset != 0 || md5File(t, stored) != sum {
			t.Fatalf("exit %d, %+v, stderr %q", code, res, errOut)
		}
		if errOut != "ftpx: put big.bin: source changed since the interrupted transfer; starting over\n" {
			t.Fatalf("stderr %q, want one line saying the source changed", errOut)
		}
	})

	t.Run("put record truncated", func(t *testing.T) {
		sum := writeSeeded(t, filepath.Join(work, "big.bin"), size, r)
		killMidPut(t, d, work, env, "big.bin", 1)
		spoilRecords(t, work, func(b []byte) []byte { return b[:len(b)/2] })
		out, errOut, code := ftpx(t, work, env, "--json", "--retry-delay", "10ms", "put", "big.bin")
		res := onlyResult(t, out)
		if code != 0 || res.Offset != 0 || md5File(t, stored) != sum {
			t.Fatalf("exit %d, %+v, stderr %q", code, res, errOut)
		}
		if !strings.HasPrefix(errOut, "ftpx: put big.bin: resume record unreadable") || strings.Count(errOut, "\n") != 1 {
			t.Fatalf("stderr %q, want one line reporting the record", errOut)
		}
	})

	t.Run("get record garbage", func(t *testing.T) {
		down := t.TempDir()
		sum := md5File(t, stored)
		killMidGet(t, down, env, "big.bin")
		spoilRecords(t, down, func([]byte) []byte { return []byte("\x00\xffnot json") })
		out, errOut, code := ftpx(t, down, env, "--json", "get", "big.bin")
		res := onlyResult(t, out)
		if code != 0 || res.Offset != 0 || md5File(t, filepath.Join(down, "big.bin")) != sum {
			t.Fatalf("exit %d, %+v, stderr %q", code, res, errOut)
		}
		if !strings.HasPrefix(errOut, "ftpx: get big.bin: resume record unreadable") || strings.Count(errOut, "\n") != 1 {
			t.Fatalf("stderr %q, want one line reporting the record", errOut)
		}
		if n, _ := localPartial(down, "big.bin"); n != 0 {
			t.Fatal("a partial file was left behind")
		}
	})

	t.Run("remote prefix changed, same size and mtime", func(t *testing.T) {
		down := t.TempDir()
		killMidGet(t, down, env, "big.bin")
		fi, _ := os.Stat(stored)
		sum := writeSeeded(t, stored, size, r)
		os.Chtimes(stored, fi.ModTime(), fi.ModTime())
		out, errOut, code := ftpx(t, down, env, "--json", "get", "big.bin")
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		res := onlyResult(t, out)
		if code != 0 || res.Offset != 0 || md5File(t, filepath.Join(down, "big.bin")) != sum {
			t.Fatalf("exit %d, %+v, stderr %q", code, res, errOut)
		}
		if !strings.Contains(errOut, "no longer starts with the bytes already received; starting over") || strings.Count(errOut, "\n") != 1 {
			t.Fatalf("stderr %q, want one line saying why it starts over", errOut)
		}
	})
}

// spoilRecords rewrites every resume record under dir.
func spoilRecords(t *testing.T, dir string, spoil func([]byte) []byte) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, ".state", "*.json"))
	if len(files) != 1 {
		t.Fatalf("want one record, have %q", files)
	}
	b, _ := os.ReadFile(files[0])
	if err := os.WriteFile(files[0], spoil(b), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestTwentyKillsThenResume kills the client at 20 random points of one
// 64 MiB put, then of one 64 MiB get, resuming each time; meanwhile a
// watcher lists the destination directory and fails the test if an
// incomplete file ever shows under the final name.
func TestTwentyKillsThenResume(t *testing.T) {
	r := seeded(t, 5)
	d, work, env := resumeSetup(t)
	const size = 64 * mib
	sum := writeSeeded(t, filepath.Join(work, "big.bin"), size, r)
	targets := func() []int64 {
		var ts []int64
		for len(ts) < 20 {
			if x := mib + r.Int64N(size-2*mib); !slices.Contains(ts, x) {
				ts = append(ts, x)
			}
		}
		slices.Sort(ts)
		return ts
	}
	home := filepath.Join(d.root, "alex")
	os.MkdirAll(home, 0o700)

	t.Run("put", func(t *testing.T) {
		stop := watchFinalName(t, home, "big.bin", size, sum)
		for _, at := range targets() {
			b := startFtpx(t, work, env, "--limit-rate", "32MB", "--retry-delay", "10ms", "put", "big.bin")
			waitUntil(t, 20*time.Second, fmt.Sprintf("the server to hold %d bytes", at), func() bool { return heldOnServer(d.root, "alex") >= at })
			b.kill()
		}
		out, errOut, code := ftpx(t, work, env, "--json", "--retry-delay", "10ms", "put", "big.bin")
		res := onlyResult(t, out)
		listings := stop()
		if code != 0 || res.Offset <= 0 || res.MD5 != sum || md5File(t, filepath.Join(home, "big.bin")) != sum {
			t.Fatalf("last run: exit %d, %+v, stderr %q", code, res, errOut)
		}
		t.Logf("final run resumed at %d; %d listings of the home saw no incomplete big.bin", res.Offset, listings)
	})

	t.Run("get", func(t *testing.T) {
		down := t.TempDir()
		stop := watchFinalName(t, down, "big.bin", size, sum)
		for _, at := range targets() {
			b := startFtpx(t, down, env, "--limit-rate", "32MB", "get", "big.bin")
			// The rerun first cuts the partial back to its last checkpoint:
			// only a partial written by this run counts.
			waitUntil(t, 20*time.Second, fmt.Sprintf("the partial to hold %d bytes", at), func() bool {
				n, mtime := localPartial(down, "big.bin")
				return n >= at && mtime.After(b.started)
			})
			b.kill()
		}
		out, errOut, code := ftpx(t, down, env, "--json", "get", "big.bin")
		res := onlyResult(t, out)
		listings := stop()
		if code != 0 || res.Offset <= 0 || res.MD5 != sum || md5File(t, filepath.Join(down, "big.bin")) != sum {
			t.Fatalf("last run: exit %d, %+v, stderr %q", code, res, errOut)
		}
		t.Logf("final run resumed at %d; %d listings of the local directory saw no incomplete big.bin", res.Offset, listings)
	})
}

func TestResumeCommandFinishesRecordedTransfers(t *testing.T) {
	r := seeded(t, 7)
	d, work, env := resumeSetup(t)
	const size = 12 * mib
	upSum := writeSeeded(t, filepath.Join(work, "up.bin"), size, r)
	home := filepath.Join(d.root, "alex")
	os.MkdirAll(home, 0o700)
	downSum := writeSeeded(t, filepath.Join(home, "down.bin"), size, r)

	killMidPut(t, d, work, env, "up.bin", 1)
	killMidGet(t, work, env, "down.bin")

	out, errOut, code := ftpx(t, work, env, "resume", "--list", "--json")
	var listed []client.Record
	if code != 0 || jsonUnmarshal(out, &listed) != nil || len(listed) != 2 {
		t.Fatalf("resume --list --json: exit %d %q %q", code, out, errOut)
	}
	for _, rec := range listed {
		if rec.Server != d.addr || rec.User != "alex" || rec.Size != size || !filepath.IsAbs(rec.Local) {
			t.Fatalf("listed record %+v", rec)
		}
	}
	if out, _, _ := ftpx(t, work, env, "resume", "--list"); !strings.Contains(out, "OFFSET/SIZE") || strings.Count(out, "\n") != 3 {
		t.Fatalf("resume --list table:\n%s", out)
	}

	out, errOut, code = ftpx(t, work, env, "--json", "--retry-delay", "10ms", "resume")
	rs := parseResults(t, out)
	if code != 0 || len(rs) != 2 {
		t.Fatalf("resume: exit %d, %q, stderr %q", code, out, errOut)
	}
	for _, res := range rs {
		if res.Offset <= 0 || res.Sent != size-res.Offset {
			t.Fatalf("resume result %+v: want offset > 0", res)
		}
	}
	if md5File(t, filepath.Join(home, "up.bin")) != upSum || md5File(t, filepath.Join(work, "down.bin")) != downSum {
		t.Fatal("resumed files differ")
	}
	if out, _, _ := ftpx(t, work, env, "resume", "--list", "--json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("records left after resume: %s", out)
	}
	if _, errOut, code := ftpx(t, work, env, "resume"); code != 0 || !strings.Contains(errOut, "nothing to resume") {
		t.Fatalf("resume with nothing recorded: exit %d, %q", code, errOut)
	}
}

// TestProxyCutsHundredTransfers runs 100 gets and puts through a proxy
// that cuts each of their first connections at random points. Each must
// finish by reconnecting and resuming on its own, with the right MD5 and
// fewer than twice the file's bytes through the proxy.
func TestProxyCutsHundredTransfers(t *testing.T) {
	r := seeded(t, 1)
	d, work, env := resumeSetup(t)
	home := filepath.Join(d.root, "alex")
	os.MkdirAll(home, 0o700)
	state := t.TempDir()

	type job struct {
		i      int
		put    bool
		binary bool
		size   int64
		sum    string
		plan   []int64
	}
	var jobs []job
	for i := range 100 {
		j := job{i: i, put: r.IntN(2) == 0, binary: i%10 == 0}
		switch x := r.Float64(); {
		case x < 0.7:
			j.size = 64<<10 + r.Int64N(960<<10)
		case x < 0.93:
			j.size = mib + r.Int64N(3*mib)
		default:
			j.size = 4*mib + r.Int64N(12*mib)
		}
		for range 1 + r.IntN(3) { // 1 to 3 cuts, the first always inside the body
			j.plan = append(j.plan, 1<<10+r.Int64N(j.size*9/10/int64(1+len(j.plan))))
		}
		dir := work
		if !j.put {
			dir = home
		}
		j.sum = writeSeeded(t, filepath.Join(dir, fmt.Sprintf("f%03d.bin", i)), j.size, r)
		jobs = append(jobs, j)
	}

	var (
		mu            sync.Mutex
		bytes, totals int64
		conns, cuts   int
	)
	run := func(t *testing.T, j job) {
		name := fmt.Sprintf("f%03d.bin", j.i)
		p := newCutProxy(t, d.addr, j.put, j.plan)
		defer p.close()
		local := filepath.Join(work, name)
		if j.binary {
			args := []string{"--server", p.addr(), "--json", "--retries", "20", "--retry-delay", "2ms"}
			if j.put {
				args = append(args, "put", name)
			} else {
				args = append(args, "get", name, name)
			}
			out, errOut, code := ftpx(t, work, env, args...)
			if code != 0 {
				t.Errorf("%s: exit %d, stderr %q", name, code, errOut)
				return
			}
			if res := onlyResult(t, out); res.MD5 != j.sum {
				t.Errorf("%s: md5 %s, want %s", name, res.MD5, j.sum)
			}
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c, err := client.Connect(ctx, client.Config{Addr: p.addr(), User: "alex", Password: "pw",
				Retry:   client.RetryPolicy{Retries: 20, Delay: time.Duration(1+j.i%10) * time.Millisecond, MaxDelay: 100 * time.Millisecond},
				Records: &client.Records{Dir: state}})
			if err != nil {
				t.Errorf("%s: connect: %v", name, err)
				return
			}
			var res client.Result
			if j.put {
				res, err = c.Put(ctx, local, name, nil)
			} else {
				res, err = c.Get(ctx, name, local, nil)
			}
			c.Close()
			if err != nil || res.MD5 != j.sum {
				t.Errorf("%s: %v, md5 %s, want %s", name, err, res.MD5, j.sum)
				return
			}
		}
		p.close()
		final := local
		if j.put {
			final = filepath.Join(home, name)
		}
		if got := md5Of(final); got != j.sum {
			t.Errorf("%s: md5 on disk %s, want %s", name, got, j.sum)
		}
		n := p.counted.Load()
		if n >= 2*j.size {
			t.Errorf("%s: %d bytes through the proxy for %d", name, n, j.size)
		}
		if p.cuts == 0 {
			t.Errorf("%s: never cut", name)
		}
		mu.Lock()
		bytes, totals, conns, cuts = bytes+n, totals+j.size, conns+p.conns, cuts+p.cuts
		mu.Unlock()
	}

	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			run(t, j)
		}()
	}
	wg.Wait()
	ratio := float64(bytes) / float64(totals)
	t.Logf("100 transfers, %s of files: %s through the proxy (ratio %.4f), %d connections, %d cuts",
		strconv.FormatInt(totals, 10), strconv.FormatInt(bytes, 10), ratio, conns, cuts)
	if ratio >= 2 {
		t.Fatalf("ratio %.3f", ratio)
	}
	if recs, bad, _ := (&client.Records{Dir: state}).List(); len(recs)+len(bad) != 0 {
		t.Fatalf("%d records left", len(recs)+len(bad))
	}
}

// TestCtrlCExits130AndTheSameCommandResumes: SIGINT (Ctrl-C) stops a put
// with exit status 130 and a line saying how to continue; running the
// same command again resumes it (it does not start over) and the file
// arrives whole.
func TestCtrlCExits130AndTheSameCommandResumes(t *testing.T) {
	d, work, env := shellSetup(t, "")
	sum := writeRandom(t, filepath.Join(work, "big.bin"), 24<<20)
	held := func() int64 {
		var n int64
		ents, _ := os.ReadDir(filepath.Join(d.root, "alex", ".ftpx-partial"))
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && !strings.HasSuffix(e.Name(), ".state") {
				n += fi.Size()
			}
		}
		return n
	}
	put := startFtpx(t, work, env, "--limit-rate", "4MB", "put", "big.bin")
	waitUntil(t, 30*time.Second, "the put to be under way", func() bool { return held() >= 4<<20 })
	put.cmd.Process.Signal(os.Interrupt)
	if code := put.exited(t, 20*time.Second); code != 130 || !strings.Contains(put.err.String(), "ftpx: interrupted; run the same command again, or ftpx resume, to continue") {
		t.Fatalf("put after Ctrl-C: exit %d, stderr %q; want 130 and the line saying how to continue", code, put.err.String())
	}
	kept := held()
	if kept < 4<<20 {
		t.Fatalf("the server holds %d bytes after Ctrl-C", kept)
	}
	out, errOut, code := ftpx(t, work, env, "--json", "put", "big.bin")
	if code != 0 || !strings.Contains(out, sum) {
		t.Fatalf("the same put again: exit %d %s %s", code, out, errOut)
	}
	if !strings.Contains(out, fmt.Sprintf(`"offset":%d,`, kept)) {
		t.Errorf("the second put did not resume from the %d bytes held: %s", kept, out)
	}
	if got := md5File(t, filepath.Join(d.root, "alex", "big.bin")); got != sum {
		t.Errorf("big.bin on the server: md5 %s, want %s", got, sum)
	}
}
