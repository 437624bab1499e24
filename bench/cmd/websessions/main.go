// Command websessions measures what an idle logged-in web session costs
// the server: it logs in N web sessions (POST /api/v1/login, each on its
// own connection, closed once the answer is read, a few at a time), waits,
// and reads the server's VmRSS and Threads from /proc/PID/status and
// go_goroutines and go_memstats_heap_inuse_bytes from its Prometheus
// metrics, before them (after a few logins) and after; with -n2, it logs
// in more sessions, up to n2 in all, and reads again, so that the cost of
// one more session shows apart from what the first burst of logins left
// (the heap the garbage grew, buffers). Then it checks that
// every session is still logged in (GET /api/v1/session with its cookie
// answers 200 with the user). The password comes from FTPX_PASSWORD.
//
//	websessions -url http://127.0.0.1:8080 -metrics http://127.0.0.1:9121/metrics -pid 1234 -n 1000
//
// It prints one line:
//
//	sessions=1000 rss_before_kib=.. rss_after_kib=.. per_session_kib=.. goroutines_before=.. goroutines_after=.. ...
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"ftpx/bench/internal/fanout"
)

func main() {
	base := flag.String("url", "", "the server's HTTP base URL")
	metrics := flag.String("metrics", "", "the server's metrics URL (http://ADDR/metrics)")
	user := flag.String("user", "bench", "user name (password from FTPX_PASSWORD)")
	pid := flag.Int("pid", 0, "the server's process id")
	n := flag.Int("n", 1000, "sessions to log in")
	n2 := flag.Int("n2", 0, "then log in more, up to this many in all, and read again: the cost of each session past the first n")
	workers := flag.Int("workers", 4, "logins at once")
	warm := flag.Int("warm", 20, "sessions logged in before the first reading")
	hold := flag.Duration("hold", 2*time.Second, "wait after the logins before each reading")
	timeout := flag.Duration("timeout", 5*time.Minute, "give up after this long")
	flag.Parse()
	if *base == "" || *metrics == "" || *pid <= 0 {
		fmt.Fprintln(os.Stderr, "usage: websessions -url URL -metrics URL -pid SERVER_PID [-n N]")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, *base, *metrics, *user, os.Getenv("FTPX_PASSWORD"), *pid, *n, *n2, *workers, *warm, *hold); err != nil {
		fmt.Fprintln(os.Stderr, "websessions:", err)
		os.Exit(1)
	}
}

// reading is the server's state at one moment.
type reading struct {
	rssKiB, threads int64
	goroutines      int64
	heapInuse       int64
}

func run(ctx context.Context, base, metricsURL, user, password string, pid, n, n2, workers, warm int, hold time.Duration) error {
	// a fresh connection per request, closed after the answer: the
	// sessions left are idle ones with no connection
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	creds, _ := json.Marshal(map[string]string{"user": user, "password": password})
	login := func() (*http.Cookie, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/login", bytes.NewReader(creds))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("login: %s", resp.Status)
		}
		for _, c := range resp.Cookies() {
			if c.Name == "ftpx_session" && c.Value != "" {
				return c, nil
			}
		}
		return nil, errors.New("login: no ftpx_session cookie")
	}
	read := func() (reading, error) {
		var r reading
		var err error
		if r.rssKiB, err = procStatus(pid, "VmRSS:"); err != nil {
			return r, err
		}
		if r.threads, err = procStatus(pid, "Threads:"); err != nil {
			return r, err
		}
		m, err := scrape(ctx, metricsURL)
		if err != nil {
			return r, err
		}
		r.goroutines, r.heapInuse = int64(m["go_goroutines"]), int64(m["go_memstats_heap_inuse_bytes"])
		return r, nil
	}

	for range warm {
		if _, err := login(); err != nil {
			return err
		}
	}
	time.Sleep(hold)
	before, err := read()
	if err != nil {
		return err
	}

	// loginMany logs in sessions from, ..., to-1 into cookies
	cookies := make([]*http.Cookie, max(n, n2))
	loginMany := func(from, to int) error {
		return fanout.Each(context.Background(), from, to, workers, "session", func(i int) error {
			c, err := login()
			cookies[i] = c
			return err
		})
	}
	start := time.Now()
	if err := loginMany(0, n); err != nil {
		return err
	}
	logins := time.Since(start)
	time.Sleep(hold)
	after, err := read()
	if err != nil {
		return err
	}
	after2 := after
	if n2 > n {
		if err := loginMany(n, n2); err != nil {
			return err
		}
		time.Sleep(hold)
		if after2, err = read(); err != nil {
			return err
		}
	} else {
		n2 = n
	}

	// every session is still logged in (after the readings: these
	// requests are not counted)
	kc := &http.Client{}
	for i, c := range cookies {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/session", nil)
		if err != nil {
			return err
		}
		req.AddCookie(c)
		resp, err := kc.Do(req)
		if err != nil {
			return err
		}
		var s struct {
			User string `json:"user"`
		}
		err = json.NewDecoder(resp.Body).Decode(&s)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil || s.User != user {
			return fmt.Errorf("session %d is not logged in any more: %s (user %q, %v)", i+1, resp.Status, s.User, err)
		}
	}

	fmt.Printf("sessions=%d rss_before_kib=%d rss_after_kib=%d per_session_kib=%.2f threads_before=%d threads_after=%d goroutines_before=%d goroutines_after=%d heap_inuse_before=%d heap_inuse_after=%d heap_per_session_b=%.0f logins_per_s=%.1f",
		n, before.rssKiB, after.rssKiB, float64(after.rssKiB-before.rssKiB)/float64(n),
		before.threads, after.threads, before.goroutines, after.goroutines,
		before.heapInuse, after.heapInuse, float64(after.heapInuse-before.heapInuse)/float64(n),
		float64(n)/logins.Seconds())
	if n2 > n {
		fmt.Printf(" sessions2=%d rss_after2_kib=%d marginal_per_session_kib=%.2f goroutines_after2=%d heap_inuse_after2=%d marginal_heap_per_session_b=%.0f",
			n2, after2.rssKiB, float64(after2.rssKiB-after.rssKiB)/float64(n2-n), after2.goroutines,
			after2.heapInuse, float64(after2.heapInuse-after.heapInuse)/float64(n2-n))
	}
	fmt.Printf(" alive=%d\n", len(cookies))
	return nil
}

// procStatus reads the number after field (e.g. "VmRSS:") in
// /proc/PID/status.
func procStatus(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), field); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// scrape reads the unlabelled samples of a Prometheus text exposition.
func scrape(ctx context.Context, url string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	// a connection of its own each time, so that every reading counts
	// the one goroutine serving it and no kept-alive one
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: %s", resp.Status)
	}
	m := map[string]float64{}
	s := bufio.NewScanner(resp.Body)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		line := s.Text()
		if line == "" || line[0] == '#' || strings.Contains(line, "{") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			m[name] = v
		}
	}
	return m, s.Err()
}
