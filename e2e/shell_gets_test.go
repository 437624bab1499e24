package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A batch script's consecutive single gets are made durable and named
// together (client.GetGroup): what a user of the script sees must be what
// one get a line gave, file by file.

// putFiles uploads n files of different sizes as remote dir/f000...,
// returning their MD5s by name.
func putFiles(t *testing.T, env []string, n int) map[string]string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "dir")
	os.Mkdir(src, 0o755)
	sums := map[string]string{}
	for i := range n {
		name := fmt.Sprintf("f%03d", i)
		sums[name] = writeRandom(t, filepath.Join(src, name), 100+i*13)
	}
	if _, errOut, code := ftpx(t, filepath.Dir(src), env, "put", "-r", "dir"); code != 0 {
		t.Fatalf("put -r: exit %d: %s", code, errOut)
	}
	return sums
}

// getLines returns the script lines "get dir/fNNN" for i in [from, to).
func getLines(from, to int) []string {
	var lines []string
	for i := from; i < to; i++ {
		lines = append(lines, fmt.Sprintf("get dir/f%03d", i))
	}
	return lines
}

// hidden returns the names starting with "." in dir (partial files), but
// the state directory.
func hidden(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	for _, n := range localNames(t, dir) {
		if strings.HasPrefix(n, ".") {
			names = append(names, n)
		}
	}
	return names
}

// checkResults checks that the --json lines name the files from..to-1 of
// dir, in order, each with its MD5.
func checkResults(t *testing.T, out string, sums map[string]string, from, to int) {
	t.Helper()
	rs := parseResults(t, out)
	if len(rs) != to-from {
		t.Fatalf("%d --json lines, want %d: %q", len(rs), to-from, out)
	}
	for k, r := range rs {
		name := fmt.Sprintf("f%03d", from+k)
		if r.Action != "get" || r.Remote != "dir/"+name || r.Local != name || r.MD5 != sums[name] {
			t.Fatalf("--json line %d: %+v, want the get of dir/%s", k+1, r, name)
		}
	}
}

// checkFiles checks that each file of sums is in work with its MD5.
func checkFiles(t *testing.T, work string, sums map[string]string) {
	t.Helper()
	for name, sum := range sums {
		if got := md5Of(filepath.Join(work, name)); got != sum {
			t.Fatalf("%s: md5 %q, want %s", name, got, sum)
		}
	}
}

// leftClean checks that a script left no partial file and no resume
// point in work.
func leftClean(t *testing.T, work string) {
	t.Helper()
	if h := hidden(t, work); len(h) > 0 {
		t.Errorf("left behind: %v", h)
	}
	if recs := stateRecords(t, work); len(recs) > 0 {
		t.Errorf("resume points left: %v", recs)
	}
}

func TestShellScriptOfGetsLandsEveryFile(t *testing.T) {
	_, work, env := shellSetup(t, "")
	sums := putFiles(t, env, 300)
	out, errOut, code := ftpxStdin(t, work, env, strings.Join(getLines(0, 300), "\n")+"\n", "--json", "shell")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	checkFiles(t, work, sums)
	checkResults(t, out, sums, 0, 300)
	leftClean(t, work)
}

func TestShellScriptOfGetsStopsAtTheMissingFile(t *testing.T) {
	_, work, env := shellSetup(t, "")
	sums := putFiles(t, env, 300)
	lines := getLines(0, 300)
	lines[149] = "get dir/missing.bin" // line 150
	out, errOut, code := ftpxStdin(t, work, env, strings.Join(lines, "\n")+"\n", "--json", "shell")
	if code != 1 || errOut != "ftpx: line 150: get dir/missing.bin: 256 file does not exist\n" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for i := range 300 {
		name := fmt.Sprintf("f%03d", i)
		switch got := md5Of(filepath.Join(work, name)); {
		case i < 149 && got != sums[name]:
			t.Fatalf("line %d: %s has md5 %q, want %s", i+1, name, got, sums[name])
		case i >= 149 && exists(filepath.Join(work, name)):
			t.Fatalf("line %d ran: %s is there", i+1, name)
		}
	}
	checkResults(t, out, sums, 0, 149)
	if h := hidden(t, work); len(h) > 0 {
		t.Errorf("left behind: %v", h)
	}
}

// A run of gets with a blank line and a comment inside, one get to a
// local name that exists (no pipelining from there on), a "-get" of a
// missing file, then another run: every file lands, the --json lines come
// in line order, the "-get" failure is reported under its line.
func TestShellScriptOfGetsMixedRuns(t *testing.T) {
	_, work, env := shellSetup(t, "")
	sums := putFiles(t, env, 80)
	os.WriteFile(filepath.Join(work, "f050"), []byte("old"), 0o644)
	lines := append(getLines(0, 40), "", "# more")
	lines = append(append(lines, getLines(40, 60)...), "-get dir/missing.bin") // line 63
	lines = append(lines, getLines(60, 80)...)
	out, errOut, code := ftpxStdin(t, work, env, strings.Join(lines, "\n")+"\n", "--json", "shell")
	if code != 0 || errOut != "ftpx: line 63: get dir/missing.bin: 256 file does not exist\n" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	checkFiles(t, work, sums)
	checkResults(t, out, sums, 0, 80)
	leftClean(t, work)
}

// A line that is not a get sees the files of the gets before it in place:
// lls lists them (and no partial file), and lcd does not move them.
func TestShellScriptOfGetsNamesThemBeforeOtherLines(t *testing.T) {
	_, work, env := shellSetup(t, "")
	sums := putFiles(t, env, 4)
	here := filepath.Join(work, "here") // away from the state directory
	os.MkdirAll(filepath.Join(here, "sub"), 0o755)
	out, errOut, code := ftpxStdin(t, work, env,
		"lcd here\nget dir/f000\nget dir/f001\nlls\nget dir/f002\nlcd sub\nget dir/f003\nlls\n", "shell")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if want := "f000\nf001\nsub/\n" + "f003\n"; out != want {
		t.Errorf("stdout %q, want %q (the first lls, then the one in sub)", out, want)
	}
	for name, where := range map[string]string{"f000": here, "f001": here, "f002": here, "f003": filepath.Join(here, "sub")} {
		if got := md5Of(filepath.Join(where, name)); got != sums[name] {
			t.Errorf("%s in %s: md5 %q, want %s", name, where, got, sums[name])
		}
	}
}

// Gets to a local name already waiting: the last one wins, and the same
// remote got twice to one name shares nothing with the first get.
func TestShellScriptOfGetsToOneNameKeepsTheLast(t *testing.T) {
	_, work, env := shellSetup(t, "")
	sums := putFiles(t, env, 2)
	out, errOut, code := ftpxStdin(t, work, env,
		"get dir/f000 x\nget dir/f001 x\nget dir/f000 y\nget dir/f000 y\n", "--json", "shell")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if md5Of(filepath.Join(work, "x")) != sums["f001"] || md5Of(filepath.Join(work, "y")) != sums["f000"] {
		t.Error("x is not dir/f001, or y is not dir/f000")
	}
	var got []string
	for _, r := range parseResults(t, out) {
		got = append(got, r.Remote+">"+r.Local)
	}
	if want := "dir/f000>x dir/f001>x dir/f000>y dir/f000>y"; strings.Join(got, " ") != want {
		t.Errorf("--json lines %q, want %q", got, want)
	}
	leftClean(t, work)
}

// interruptedScript runs a script of gets (two small files, then 3 and 6
// MiB at 2 MB/s) until the last get is under way, then sends sig. It
// returns the client, the work directory, its environment, the script
// and the MD5s.
func interruptedScript(t *testing.T, sig os.Signal) (*background, string, []string, string, map[string]string) {
	t.Helper()
	_, work, env := shellSetup(t, "")
	src := filepath.Join(t.TempDir(), "dir")
	os.Mkdir(src, 0o755)
	sums := map[string]string{}
	for name, size := range map[string]int{"f000": 4096, "f001": 5000, "big.bin": 3 << 20, "big2.bin": 6 << 20} {
		sums[name] = writeRandom(t, filepath.Join(src, name), size)
	}
	if _, errOut, code := ftpx(t, filepath.Dir(src), env, "put", "-r", "dir"); code != 0 {
		t.Fatalf("put -r: exit %d: %s", code, errOut)
	}
	script := filepath.Join(t.TempDir(), "gets.ftpx")
	os.WriteFile(script, []byte("get dir/f000\nget dir/f001\nget dir/big.bin\nget dir/big2.bin\n"), 0o644)
	b := startFtpx(t, work, env, "--limit-rate", "2MB", "shell", "-f", script)
	waitUntil(t, 30*time.Second, "the last get to be under way", func() bool {
		n, _ := localPartial(work, "big2.bin")
		return n >= 1<<20
	})
	b.cmd.Process.Signal(sig)
	return b, work, env, script, sums
}

// Ctrl-C: the files verified before it are put in place, the get under
// way keeps its resume point, and the same script again resumes it.
func TestShellScriptOfGetsCtrlC(t *testing.T) {
	b, work, env, script, sums := interruptedScript(t, os.Interrupt)
	if code := b.exited(t, 20*time.Second); code != 130 || !strings.Contains(b.err.String(), "ftpx: line 4: get dir/big2.bin: ") {
		t.Fatalf("exit %d, stderr %q", code, b.err.String())
	}
	for _, name := range []string{"f000", "f001", "big.bin"} {
		if got := md5Of(filepath.Join(work, name)); got != sums[name] {
			t.Errorf("%s: md5 %q after Ctrl-C, want it in place", name, got)
		}
	}
	kept := recordOffset(t, work, "get")
	if kept <= 0 || exists(filepath.Join(work, "big2.bin")) {
		t.Fatalf("big2.bin: resume point at %d, or in place", kept)
	}
	out, errOut, code := ftpx(t, work, env, "--json", "shell", "-f", script)
	if code != 0 || md5Of(filepath.Join(work, "big2.bin")) != sums["big2.bin"] {
		t.Fatalf("the script again: exit %d, %s", code, errOut)
	}
	if rs := parseResults(t, out); len(rs) != 4 || rs[3].Offset != kept {
		t.Errorf("the script again: %+v, want big2.bin resumed at %d", rs, kept)
	}
}

// SIGKILL: the small files waiting leave nothing behind, the big one
// waiting keeps a resume point at its end, the one under way its own; the
// same script again fetches only what is missing.
func TestShellScriptOfGetsKilled(t *testing.T) {
	b, work, env, script, sums := interruptedScript(t, os.Kill)
	b.exited(t, 20*time.Second)
	if h := hidden(t, work); len(h) != 2 || !strings.HasPrefix(h[0], ".big.bin.ftpx-part-") || !strings.HasPrefix(h[1], ".big2.bin.ftpx-part-") {
		t.Fatalf("left after SIGKILL: %v, want the partial files of big.bin and big2.bin only", h)
	}
	offsets := map[string]float64{}
	for _, r := range stateRecords(t, work) {
		offsets[filepath.Base(r["local"].(string))], _ = r["offset"].(float64)
	}
	if len(offsets) != 2 || offsets["big.bin"] != 3<<20 || offsets["big2.bin"] < 0 {
		t.Fatalf("resume points after SIGKILL: %v, want big.bin's at its end and big2.bin's", offsets)
	}
	out, errOut, code := ftpx(t, work, env, "--json", "shell", "-f", script)
	if code != 0 {
		t.Fatalf("the script again: exit %d, %s", code, errOut)
	}
	for name, sum := range sums {
		if got := md5Of(filepath.Join(work, name)); got != sum {
			t.Errorf("%s: md5 %q, want %s", name, got, sum)
		}
	}
	if rs := parseResults(t, out); len(rs) != 4 || rs[2].Offset != 3<<20 || rs[2].Sent != 0 {
		t.Errorf("the script again: %+v, want big.bin resumed at its end", rs)
	}
	if h := hidden(t, work); len(h) > 0 {
		t.Errorf("left behind: %v", h)
	}
}

// A program that feeds the script a line at a time and waits for each
// line's result gets it: a get that waits in the group (a big file, not
// pipelined) is named, and reported, as soon as no next line is there.
func TestShellScriptOfGetsFedALineAtATime(t *testing.T) {
	_, work, env := shellSetup(t, "")
	src := filepath.Join(t.TempDir(), "big.bin")
	sum := writeRandom(t, src, 3<<20)
	if _, errOut, code := ftpx(t, filepath.Dir(src), env, "put", "big.bin"); code != 0 {
		t.Fatalf("put: exit %d %s", code, errOut)
	}
	cmd := exec.Command(filepath.Join(binDir, "ftpx"), "--json", "shell")
	cmd.Dir = work
	cmd.Env = append(append(os.Environ(), "FTPX_STATE_DIR="+filepath.Join(work, ".state")), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	stdin.Write([]byte("get big.bin\n"))
	waitUntil(t, 20*time.Second, "big.bin named and reported while the script waits for its next line", func() bool {
		return strings.Contains(out.String(), `"remote":"big.bin"`)
	})
	if got := md5Of(filepath.Join(work, "big.bin")); got != sum {
		t.Fatalf("big.bin: md5 %q once reported, want %s", got, sum)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the shell at the end of its input: %v", err)
	}
}
