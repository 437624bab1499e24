// Command idleconns measures the server's memory per idle authenticated
// connection: it reads the server's VmRSS from /proc/PID/status, opens and
// authenticates N connections (client.Dial + Auth, a few at a time), holds
// them idle, reads VmRSS again, and prints both with their difference per
// connection. The password comes from FTPX_PASSWORD.
//
//	idleconns -addr 127.0.0.1:2121 -user bench -pid 1234 -n 1000
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"ftpx/bench/internal/fanout"
	"ftpx/client"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2121", "server address")
	user := flag.String("user", "bench", "user name (password from FTPX_PASSWORD)")
	pid := flag.Int("pid", 0, "the server's process id")
	n := flag.Int("n", 1000, "connections to hold")
	workers := flag.Int("workers", 4, "connections opened at once")
	warm := flag.Int("warm", 20, "connections opened and closed before the first reading")
	hold := flag.Duration("hold", 2*time.Second, "how long the connections stay idle before the second reading")
	timeout := flag.Duration("timeout", 5*time.Minute, "give up after this long")
	flag.Parse()
	if *pid <= 0 {
		fmt.Fprintln(os.Stderr, "usage: idleconns -pid SERVER_PID [-addr ADDR] [-user NAME] [-n N]")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, *addr, *user, *pid, *n, *workers, *warm, *hold); err != nil {
		fmt.Fprintln(os.Stderr, "idleconns:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, user string, pid, n, workers, warm int, hold time.Duration) error {
	password := os.Getenv("FTPX_PASSWORD")
	login := func() (*client.Client, error) {
		c, err := client.Dial(ctx, addr)
		if err != nil {
			return nil, err
		}
		if err := c.Auth(ctx, user, password); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}

	// A few logins first, so that the first reading already counts what
	// any session needs once (buffers, bcrypt, the user's home).
	for range warm {
		c, err := login()
		if err != nil {
			return err
		}
		c.Close()
	}
	time.Sleep(hold)
	before, err := vmRSS(pid)
	if err != nil {
		return err
	}

	conns := make([]*client.Client, n)
	start := time.Now()
	failed := fanout.Each(context.Background(), 0, n, workers, "connection", func(i int) error {
		c, err := login()
		conns[i] = c
		return err
	})
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	if failed != nil {
		return failed
	}
	logins := time.Since(start)

	time.Sleep(hold)
	after, err := vmRSS(pid)
	if err != nil {
		return err
	}
	fmt.Printf("conns=%d rss_before_kib=%d rss_after_kib=%d per_conn_kib=%.1f logins_per_s=%.1f\n",
		n, before, after, float64(after-before)/float64(n), float64(n)/logins.Seconds())
	return nil
}

// vmRSS is the resident set size of process pid in KiB.
func vmRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
