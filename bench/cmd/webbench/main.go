// Command webbench measures an upload through the web page in headless
// Chromium: it starts Chromium (a fresh profile), logs in through the
// page's form, sets the page's file input to FILE and waits for the
// upload's li.upload to reach data-state=done. A MutationObserver in the
// page notes when data-state changes (performance.now()), so the page's
// phases are timed in the page itself: hashing (the MD5 computed by the
// page as it reads the file) and uploading (tus creation and one PATCH,
// until the server has checked the MD5 and placed the file). Before
// closing Chromium it reads the CPU seconds of its processes from /proc,
// by process type (browser, renderer, network service, ...), in all and
// in each phase (with the server's, given -server-pid). The password
// comes from FTPX_PASSWORD. It prints one line (also appended to -report):
//
//	total_s=9.1 hash_s=3.2 upload_s=5.9 bytes=1073741824 cpu_browser_s=.. cpu_renderer_s=.. ...
//
//	webbench -url http://127.0.0.1:8080 -user bench -file big.bin
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

func main() {
	base := flag.String("url", "", "the server's HTTP base URL (the page is at URL/)")
	user := flag.String("user", "bench", "user name (password from FTPX_PASSWORD)")
	file := flag.String("file", "", "the file to upload through the page")
	chromium := flag.String("chromium", "/usr/bin/chromium", "the Chromium binary")
	profile := flag.String("profile", "", "Chromium's user data directory (default: a fresh temporary one, removed)")
	report := flag.String("report", "", "append the line of figures to this file too")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after this long")
	flag.BoolVar(&verbose, "v", false, "log each step")
	flag.IntVar(&serverPid, "server-pid", 0, "the server's process id: its CPU seconds in each phase are reported too")
	flag.BoolVar(&probe, "probe", false, "after the upload, time in the page reading the file alone (8 MiB Blob slices, arrayBuffer) and md5.js alone (8 MiB in memory, hashed again and again)")
	flag.Parse()
	if *base == "" || *file == "" {
		fmt.Fprintln(os.Stderr, "usage: webbench -url URL -file FILE [-user NAME] [-chromium PATH]")
		os.Exit(2)
	}
	if os.Getenv("FTPX_PASSWORD") == "" {
		fmt.Fprintln(os.Stderr, "webbench: set FTPX_PASSWORD")
		os.Exit(2)
	}
	abs, err := filepath.Abs(*file)
	if err == nil {
		var line string
		line, err = run(*base, *user, os.Getenv("FTPX_PASSWORD"), abs, *chromium, *profile, *timeout)
		if err == nil {
			fmt.Println(line)
			if *report != "" {
				err = appendLine(*report, line)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "webbench:", err)
		os.Exit(1)
	}
}

var (
	verbose, probe bool
	serverPid      int
)

// probeJS reads the file of input#bench-probe the way the page does (8 MiB
// slices, arrayBuffer()) without hashing, then hashes an 8 MiB buffer
// held in memory with the page's FtpxMD5 until as many bytes went through
// it as the file holds: the two halves of the page's hashing phase; then
// both in turn, as the page's hashing does, without its progress updates;
// then reading the file through file.stream() alone, another way to read it.
const probeJS = `(async () => {
  const f = document.getElementById('bench-probe').files[0];
  const S = 8 << 20;
  let t = performance.now();
  for (let p = 0; p < f.size; p += S) await f.slice(p, p + S).arrayBuffer();
  const read = performance.now() - t;
  const buf = new Uint8Array(await f.slice(0, S).arrayBuffer());
  const h = new globalThis.FtpxMD5();
  t = performance.now();
  for (let n = 0; n < f.size; n += buf.length) h.update(buf);
  h.hex();
  const md5 = performance.now() - t;
  const h2 = new globalThis.FtpxMD5();
  t = performance.now();
  for (let p = 0; p < f.size; p += S) h2.update(new Uint8Array(await f.slice(p, p + S).arrayBuffer()));
  h2.hex();
  const both = performance.now() - t;
  t = performance.now();
  const r = f.stream().getReader();
  let chunks = 0;
  for (;;) { const x = await r.read(); if (x.done) break; chunks++; }
  const stream = performance.now() - t;
  return {read_s: read / 1000, md5_s: md5 / 1000, both_s: both / 1000, stream_s: stream / 1000, stream_chunks: chunks};
})()`

// observe records, in window.__benchStates, every data-state an upload's
// li takes and when (performance.now(), ms).
const observe = `(() => {
  window.__benchStates = [];
  const list = document.getElementById('uploads');
  const note = (li) => window.__benchStates.push({name: li.getAttribute('data-name'), state: li.getAttribute('data-state'), t: performance.now()});
  new MutationObserver((muts) => {
    for (const m of muts) {
      if (m.type === 'attributes' && m.target.matches && m.target.matches('li.upload')) note(m.target);
      for (const n of m.addedNodes || []) if (n.matches && n.matches('li.upload')) note(n);
    }
  }).observe(list, {subtree: true, childList: true, attributes: true, attributeFilter: ['data-state']});
  return true;
})()`

// probeResult is what probeJS measured, in seconds.
type probeResult struct {
	Read   float64 `json:"read_s"`
	MD5    float64 `json:"md5_s"`
	Both   float64 `json:"both_s"`
	Stream float64 `json:"stream_s"`
	Chunks int     `json:"stream_chunks"`
}

// state is one data-state change seen in the page.
type state struct {
	Name  string  `json:"name"`
	State string  `json:"state"`
	T     float64 `json:"t"`
}

func run(base, user, password, file, chromium, profile string, timeout time.Duration) (string, error) {
	st, err := os.Stat(file)
	if err != nil {
		return "", err
	}
	if profile == "" {
		dir, err := os.MkdirTemp("", "webbench-chromium-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(dir)
		profile = dir
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, timeout)
	defer cancelT()

	name := filepath.Base(file)
	sel := fmt.Sprintf(`li.upload[data-name=%q]`, name)
	step := func(what string) chromedp.Action[chromedp.Void] {
		return func(context.Context, *chromedp.Target) (chromedp.Void, error) {
			if verbose {
				fmt.Fprintf(os.Stderr, "webbench: %s %s\n", time.Now().Format("15:04:05.000"), what)
			}
			return chromedp.Void{}, nil
		}
	}
	err = chromedp.Do(ctx,
		step("starting"),
		chromedp.Navigate(base+"/"),
		step("page loaded"),
		chromedp.WaitVisible(chromedp.CSS(`#login-user`)),
		chromedp.SendKeys(chromedp.CSS(`#login-user`), user),
		chromedp.SendKeys(chromedp.CSS(`#login-password`), password),
		chromedp.Click(chromedp.CSS(`#login-submit`)),
		step("login sent"),
	)
	if err != nil {
		return "", fmt.Errorf("logging in: %w", err)
	}
	// the page shows #app once logged in, or says why not in #login-error
	for i := 0; ; i++ {
		why, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
  if (!document.getElementById('app').hidden) return 'ok';
  return document.getElementById('login-error').textContent;
})()`))
		if err != nil {
			return "", fmt.Errorf("logging in: %w", err)
		}
		if why == "ok" {
			break
		}
		if why != "" || i == 200 {
			dump, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({user: document.getElementById('login-user').value, password: document.getElementById('login-password').value.length, url: location.href, login: document.getElementById('login').hidden})`))
			return "", fmt.Errorf("logging in: the page says %q (%s)", why, dump)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS(`#file-input`)), chromedp.Evaluate[chromedp.Void](observe), step("logged in")); err != nil {
		return "", fmt.Errorf("after logging in: %w", err)
	}
	t0, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`performance.now()`))
	if err == nil {
		err = chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS(`#file-input`), []string{file}))
	}
	if err != nil {
		return "", fmt.Errorf("choosing the file: %w", err)
	}

	// wait for the upload to end, one way or the other
	check := chromedp.Evaluate[string](fmt.Sprintf(`(() => {
  const li = document.querySelector(%q);
  if (!li) return '';
  const s = li.getAttribute('data-state');
  return s === 'done' || s === 'failed' || s === 'interrupted' ? s + ': ' + (li.querySelector('.state') || li).textContent : s;
})()`, sel))
	// CPU seconds of Chromium's processes and of the server when the
	// file was chosen, when the page began uploading, and at the end (seen
	// by polling every 50 ms)
	var cpuAt [3]map[string]float64
	cpuAt[0] = cpuNow(ctx, serverPid)
	var end string
	for {
		if end, err = chromedp.Run(ctx, check); err != nil {
			return "", fmt.Errorf("waiting for the upload: %w", err)
		}
		if end == "uploading" && cpuAt[1] == nil {
			cpuAt[1] = cpuNow(ctx, serverPid)
		}
		if strings.Contains(end, ": ") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cpuAt[2] = cpuNow(ctx, serverPid)
	if cpuAt[1] == nil { // the upload was over before a poll saw it
		cpuAt[1] = cpuAt[2]
	}
	states, err := chromedp.Run(ctx, chromedp.Evaluate[[]state](`window.__benchStates`))
	if err != nil {
		return "", err
	}
	cpu := chromiumCPU(ctx)
	if !strings.HasPrefix(end, "done: ") {
		return "", fmt.Errorf("the upload ended %q (states %v)", end, states)
	}
	var probed probeResult
	if probe {
		// a file input of our own, which the page does not watch
		err := chromedp.Do(ctx,
			chromedp.Evaluate[chromedp.Void](`(() => { const i = document.createElement('input'); i.type = 'file'; i.id = 'bench-probe'; i.hidden = true; document.body.append(i); })()`),
			chromedp.SetUploadFiles(chromedp.CSS(`#bench-probe`), []string{file}, chromedp.NodeReady))
		if err == nil {
			probed, err = chromedp.Run(ctx, chromedp.Evaluate[probeResult](probeJS, chromedp.EvalAwaitPromise))
		}
		if err != nil {
			return "", fmt.Errorf("probe: %w", err)
		}
	}

	first := map[string]float64{}
	for _, s := range states {
		if s.Name != name {
			continue
		}
		if _, ok := first[s.State]; !ok {
			first[s.State] = s.T
		}
	}
	done, ok := first["done"]
	if !ok {
		return "", fmt.Errorf("no data-state=done seen (states %v)", states)
	}
	up, ok := first["uploading"]
	if !ok {
		return "", fmt.Errorf("no data-state=uploading seen (states %v)", states)
	}
	hashStart, ok := first["hashing"]
	if !ok {
		hashStart = t0
	}
	var b strings.Builder
	fmt.Fprintf(&b, "total_s=%.4f hash_s=%.4f upload_s=%.4f start_s=%.4f bytes=%d",
		(done-t0)/1000, (up-hashStart)/1000, (done-up)/1000, (hashStart-t0)/1000, st.Size())
	types := make([]string, 0, len(cpu))
	for t := range cpu {
		types = append(types, t)
	}
	sort.Strings(types)
	var total float64
	for _, t := range types {
		fmt.Fprintf(&b, " cpu_%s_s=%.2f", t, cpu[t])
		total += cpu[t]
	}
	fmt.Fprintf(&b, " cpu_chromium_s=%.2f", total)
	for i, phase := range []string{"hashing", "uploading"} {
		for _, t := range []string{"renderer", "browser", "networkservice", "server"} {
			fmt.Fprintf(&b, " %s_cpu_%s_s=%.2f", phase, t, cpuAt[i+1][t]-cpuAt[i][t])
		}
	}
	if probe {
		fmt.Fprintf(&b, " probe_read_s=%.4f probe_md5_s=%.4f probe_both_s=%.4f probe_stream_s=%.4f probe_stream_chunks=%d",
			probed.Read, probed.MD5, probed.Both, probed.Stream, probed.Chunks)
	}
	return b.String(), nil
}

// cpuNow is chromiumCPU with the server's CPU seconds under "server"
// (when serverPid is not 0).
func cpuNow(ctx context.Context, serverPid int) map[string]float64 {
	m := chromiumCPU(ctx)
	if serverPid > 0 {
		if _, t, err := procStat(serverPid); err == nil {
			m["server"] = t / 100
		}
	}
	return m
}

// chromiumCPU sums the CPU seconds (user + system, and of the children
// each has waited for) of the Chromium processes, by their --type
// (browser for the main process). Nothing when they cannot be read.
func chromiumCPU(ctx context.Context) map[string]float64 {
	out := map[string]float64{}
	c := chromedp.FromContext(ctx)
	if c == nil || c.Browser == nil || c.Browser.Process() == nil {
		return out
	}
	root := c.Browser.Process().Pid
	tck := 100.0 // USER_HZ on Linux
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	parent := map[int]int{}
	ticks := map[int]float64{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ppid, t, err := procStat(pid)
		if err != nil {
			continue
		}
		parent[pid], ticks[pid] = ppid, t
	}
	under := func(pid int) bool {
		for i := 0; i < 64 && pid > 1; i++ {
			if pid == root {
				return true
			}
			pid = parent[pid]
		}
		return false
	}
	for pid, t := range ticks {
		if !under(pid) {
			continue
		}
		typ := "browser"
		if cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
			// Chromium rewrites its processes' titles: the arguments
			// may be one string, separated by spaces
			for _, a := range strings.FieldsFunc(string(cmd), func(r rune) bool { return r == 0 || r == ' ' }) {
				if v, ok := strings.CutPrefix(a, "--type="); ok {
					typ = v
				}
				if v, ok := strings.CutPrefix(a, "--utility-sub-type="); ok {
					typ = v[strings.LastIndex(v, ".")+1:]
				}
			}
		}
		typ = strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToLower(typ))
		out[typ] += t / tck
	}
	return out
}

// procStat returns a process's parent and its CPU clock ticks (utime,
// stime, cutime, cstime).
func procStat(pid int) (int, float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, errors.New("bad stat")
	}
	f := strings.Fields(s[i+1:]) // f[0] is the state, field 3 of stat
	if len(f) < 15 {
		return 0, 0, errors.New("short stat")
	}
	ppid, _ := strconv.Atoi(f[1])
	var t float64
	for _, k := range []int{11, 12, 13, 14} { // utime stime cutime cstime: fields 14-17
		v, _ := strconv.ParseFloat(f[k], 64)
		t += v
	}
	return ppid, t, nil
}

func appendLine(name, line string) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(f, line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
