package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// shellSetup starts a server with alex (quota as given, "" for none) and
// returns it, a working directory and the client's environment.
func shellSetup(t *testing.T, quota string) (*daemon, string, []string) {
	t.Helper()
	accounts := filepath.Join(t.TempDir(), "accounts.ini")
	addUser(t, accounts, "alex", "pw", quota)
	d := startDaemon(t, accounts)
	return d, t.TempDir(), []string{"FTPX_SERVER=" + d.addr, "FTPX_USER=alex", "FTPX_PASSWORD=pw"}
}

// ftpxStdin runs the client with stdin from a string.
func ftpxStdin(t *testing.T, dir string, env []string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "ftpx"), args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "FTPX_STATE_DIR="+filepath.Join(dir, ".state")), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// The three ways of giving a script: stdin, -c and -f.
func runScript(t *testing.T, how, work string, env []string, lines ...string) (string, string, int) {
	t.Helper()
	switch how {
	case "stdin":
		return ftpxStdin(t, work, env, strings.Join(lines, "\n")+"\n", "shell")
	case "-c":
		return ftpx(t, work, env, "shell", "-c", strings.Join(lines, "; "))
	}
	script := filepath.Join(work, "script.ftpx")
	if err := os.WriteFile(script, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return ftpx(t, work, env, "shell", "-f", script)
}

func TestShellScriptRunsEveryLine(t *testing.T) {
	for _, how := range []string{"stdin", "-c", "-f"} {
		t.Run(how, func(t *testing.T) {
			d, work, env := shellSetup(t, "")
			sumA := writeRandom(t, filepath.Join(work, "a.log"), 20_000)
			sumB := writeRandom(t, filepath.Join(work, "b.log"), 30_000)
			writeRandom(t, filepath.Join(work, "c.txt"), 10)
			lines := []string{"mkdir -p logs/2026", "cd logs", "put *.log 2026", "pwd", "ls 2026", "-get missing.txt", "lcd sub", "get 2026/b.log copy.log"}
			if how != "-c" {
				lines = append([]string{"# nightly upload", ""}, lines...)
			}
			os.Mkdir(filepath.Join(work, "sub"), 0o755)
			out, errOut, code := runScript(t, how, work, env, lines...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if out != "/logs\na.log\nb.log\n" {
				t.Errorf("stdout %q", out)
			}
			// The line starting with "-" failed, was reported and did not stop the script.
			if !strings.Contains(errOut, "get missing.txt: 256 ") || strings.Count(errOut, "\n") != 1 {
				t.Errorf("stderr %q", errOut)
			}
			home := filepath.Join(d.root, "alex")
			if md5File(t, filepath.Join(home, "logs/2026/a.log")) != sumA || md5File(t, filepath.Join(home, "logs/2026/b.log")) != sumB {
				t.Error("uploaded files differ")
			}
			if exists(filepath.Join(home, "logs/2026/c.txt")) {
				t.Error("the glob matched c.txt")
			}
			if md5File(t, filepath.Join(work, "sub", "copy.log")) != sumB {
				t.Error("downloaded file differs")
			}
		})
	}
}

func TestShellScriptStopsAtFirstFailure(t *testing.T) {
	for _, how := range []string{"stdin", "-c", "-f"} {
		t.Run(how, func(t *testing.T) {
			d, work, env := shellSetup(t, "100KB")
			writeRandom(t, filepath.Join(work, "big.bin"), 200_000)
			home := filepath.Join(d.root, "alex")

			_, errOut, code := runScript(t, how, work, env, "mkdir one", "get missing.txt", "mkdir two")
			if code != 1 || errOut != "ftpx: line 2: get missing.txt: 256 file does not exist\n" {
				t.Errorf("missing file: exit %d, stderr %q", code, errOut)
			}
			if !exists(filepath.Join(home, "one")) || exists(filepath.Join(home, "two")) {
				t.Error("the line before the failure did not run, or the one after it did")
			}

			_, errOut, code = runScript(t, how, work, env, "put big.bin", "mkdir three")
			if code != 5 || !strings.HasPrefix(errOut, "ftpx: line 1: put big.bin: 264 quota exceeded") || exists(filepath.Join(home, "three")) {
				t.Errorf("quota: exit %d, stderr %q", code, errOut)
			}

			_, errOut, code = runScript(t, how, work, env, "bogus", "mkdir three")
			if code != 2 || !strings.HasPrefix(errOut, "ftpx: line 1: bogus: unknown command") || exists(filepath.Join(home, "three")) {
				t.Errorf("unknown command: exit %d, stderr %q", code, errOut)
			}
		})
	}
}

func TestBatchPutRefusedUpFrontOverQuota(t *testing.T) {
	d, work, env := shellSetup(t, "100KB")
	os.Mkdir(filepath.Join(work, "logs"), 0o755)
	for _, n := range []string{"a", "b", "c"} {
		writeRandom(t, filepath.Join(work, "logs", n+".log"), 40_000)
	}
	for _, args := range [][]string{{"put", "-r", "logs"}, {"shell", "-c", "put logs/*.log"}} {
		_, errOut, code := ftpx(t, work, env, args...)
		if code != 5 || !strings.Contains(errOut, "264 quota exceeded (need 117.2KB, 0B of 100.0KB used)") {
			t.Fatalf("%q: exit %d, stderr %q", args, code, errOut)
		}
		if entries, _ := os.ReadDir(filepath.Join(d.root, "alex")); len(entries) > 1 { // .ftpx-partial at most
			t.Fatalf("%q: something was sent: %v", args, entries)
		}
	}
	// Two of them fit.
	if _, errOut, code := ftpx(t, work, env, "shell", "-c", "put logs/a.log logs/b.log ."); code != 0 {
		t.Fatalf("two files: exit %d: %s", code, errOut)
	}
}

func TestBatchJournalSkipsFinishedFilesAfterACrash(t *testing.T) {
	d, work, env := shellSetup(t, "")
	os.Mkdir(filepath.Join(work, "tree"), 0o755)
	sums := map[string]string{}
	// Over 1 MiB each, so that they go one by one rather than pipelined
	// (small files are answered together, in groups).
	for _, n := range []string{"a", "b", "c"} {
		sums[n] = writeRandom(t, filepath.Join(work, "tree", n), 1_500_000)
	}
	// 1.5 s a file: the journal writes its lines a second at a time.
	b := startFtpx(t, work, env, "--limit-rate", "1MB", "put", "-r", "tree")
	journal := func() int {
		files, _ := filepath.Glob(filepath.Join(work, ".state", "batches", "put-*.jsonl"))
		if len(files) != 1 {
			return 0
		}
		data, _ := os.ReadFile(files[0])
		return bytes.Count(data, []byte(`"local":`)) // the files done; the first line has the destinations
	}
	waitUntil(t, 20*time.Second, "one file journaled", func() bool { return journal() >= 1 })
	b.kill()
	if journal() >= 3 {
		t.Skip("the batch finished before it was killed")
	}

	out, errOut, code := ftpx(t, work, env, "--json", "put", "-r", "tree")
	if code != 0 {
		t.Fatalf("rerun: exit %d: %s", code, errOut)
	}
	skipped := 0
	for _, r := range parseResults(t, out) {
		if r.Sent == 0 && r.Offset == r.Size && r.Size == 1_500_000 {
			skipped++
		}
	}
	if skipped < 1 {
		t.Errorf("no file was skipped: %s", out)
	}
	for n, sum := range sums {
		if got := md5File(t, filepath.Join(d.root, "alex", "tree", n)); got != sum {
			t.Errorf("tree/%s: md5 %s, want %s", n, got, sum)
		}
	}
	if journal() != 0 {
		t.Error("the journal of a finished batch is still there")
	}
}

func TestFileCommands(t *testing.T) {
	d, work, env := shellSetup(t, "100KB")
	home := filepath.Join(d.root, "alex")
	sum := writeRandom(t, filepath.Join(work, "f.bin"), 60_000)
	run := func(want int, args ...string) (string, string) {
		t.Helper()
		out, errOut, code := ftpx(t, work, env, args...)
		if code != want {
			t.Fatalf("ftpx %q: exit %d, want %d (stderr %q)", args, code, want, errOut)
		}
		return out, errOut
	}
	run(0, "mkdir", "-p", "a/b/c")
	run(0, "mkdir", "d")
	if _, errOut := run(1, "mkdir", "d"); errOut != "ftpx: mkdir d: 269 already exists\n" {
		t.Errorf("mkdir of an existing dir: %q", errOut)
	}
	run(0, "put", "f.bin", "a/b/c")
	out, _ := run(0, "stat", "--json", "a/b/c/f.bin", "a")
	var st []map[string]any
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st) != 2 || st[0]["md5"] != sum || st[0]["size"] != float64(60_000) || st[1]["is_dir"] != true {
		t.Fatalf("stat --json: %q", out)
	}
	if out, _ := run(0, "stat", "a/b/c/f.bin"); !strings.Contains(out, "md5    "+sum) || !strings.Contains(out, "size   60000") {
		t.Errorf("stat: %q", out)
	}
	run(0, "mv", "a/b/c/f.bin", "d") // into the directory
	if md5File(t, filepath.Join(home, "d", "f.bin")) != sum {
		t.Fatal("mv into a directory")
	}
	run(0, "mv", "d/f.bin", "g.bin")
	if _, errOut := run(1, "rm", "a"); !strings.Contains(errOut, "rm a: 281 ") {
		t.Errorf("rm of a non-empty dir: %q", errOut)
	}
	run(0, "rm", "-r", "a")
	if exists(filepath.Join(home, "a")) {
		t.Error("rm -r left the tree")
	}

	// Outside the home: refused with 263 and exit 1, and nothing changes.
	os.WriteFile(filepath.Join(d.root, "victim"), []byte("v"), 0o644)
	for _, args := range [][]string{
		{"mkdir", "../evil"}, {"mkdir", "-p", "/../../evil"}, {"rm", "../victim"}, {"rm", "-r", "/.."},
		{"mv", "g.bin", "../stolen"}, {"mv", "../victim", "mine"}, {"stat", "../victim"}, {"rm", "-r", "/"},
	} {
		if _, errOut := run(1, args...); !strings.Contains(errOut, " 263 ") {
			t.Errorf("ftpx %q: stderr %q, want 263", args, errOut)
		}
	}
	if !exists(filepath.Join(d.root, "victim")) || exists(filepath.Join(d.root, "evil")) || exists(filepath.Join(d.root, "stolen")) || exists(filepath.Join(home, "mine")) {
		t.Fatal("something outside the home changed")
	}

	// Quota: used and total; after rm the space can be used again.
	var q map[string]int64
	out, _ = run(0, "quota", "--json")
	if json.Unmarshal([]byte(out), &q) != nil || q["used"] != 60_000 || q["quota"] != 100<<10 {
		t.Fatalf("quota --json: %q", out)
	}
	if out, _ := run(0, "df"); !strings.HasPrefix(out, "used 58.6KB of 100.0KB") {
		t.Errorf("df: %q", out)
	}
	writeRandom(t, filepath.Join(work, "h.bin"), 60_000)
	if _, errOut := run(5, "put", "h.bin"); !strings.Contains(errOut, "put h.bin: 264 quota exceeded") {
		t.Errorf("over quota: %q", errOut)
	}
	run(0, "rm", "g.bin")
	out, _ = run(0, "quota", "--json")
	if json.Unmarshal([]byte(out), &q) != nil || q["used"] != 0 {
		t.Fatalf("quota after rm: %q", out)
	}
	run(0, "put", "h.bin")
}

func TestPutTrailingSlashNeedsADirectory(t *testing.T) {
	d, work, env := shellSetup(t, "")
	writeRandom(t, filepath.Join(work, "a.txt"), 10)
	ftpx(t, work, env, "put", "a.txt")
	_, errOut, code := ftpx(t, work, env, "put", "a.txt", "a.txt/")
	if code != 1 || errOut != "ftpx: put a.txt/: 267 not a directory\n" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if _, _, code := ftpx(t, work, env, "put", "a.txt", "nodir/"); code != 1 || exists(filepath.Join(d.root, "alex", "nodir")) {
		t.Fatalf("put into a missing dir/: exit %d", code)
	}
}
