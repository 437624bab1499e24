// Command parallel measures many clients moving files at once: N clients,
// each on its own authenticated connection, start together, GETS of them
// downloading a SIZE file and the others uploading one. It prints the
// aggregate MB/s (all bytes over the time until the last one finished),
// the p50 and p99 of the clients' completion times, and the MB/s of one
// client alone moving the same mix (a put then a get over one connection),
// each the median of RUNS runs. The password comes from FTPX_PASSWORD.
//
//	parallel -addr 127.0.0.1:2121 -user bench -clients 100 -gets 50 -size-mib 10 -dir /tmp/scratch
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"ftpx/client"
)

type config struct {
	addr, user, password, dir string
	clients, gets, runs       int
	size                      int64
}

func main() {
	var cfg config
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:2121", "server address")
	flag.StringVar(&cfg.user, "user", "bench", "user name (password from FTPX_PASSWORD)")
	flag.StringVar(&cfg.dir, "dir", "", "local scratch directory (created; fresh files every run)")
	flag.IntVar(&cfg.clients, "clients", 100, "clients moving a file at once")
	flag.IntVar(&cfg.gets, "gets", 50, "how many of them download (the others upload)")
	flag.IntVar(&cfg.runs, "runs", 3, "runs; every figure is their median")
	sizeMiB := flag.Int64("size-mib", 10, "MiB each client moves")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after this long")
	flag.Parse()
	cfg.size = *sizeMiB << 20
	cfg.password = os.Getenv("FTPX_PASSWORD")
	if cfg.dir == "" || cfg.clients < 1 || cfg.gets < 0 || cfg.gets > cfg.clients || cfg.runs < 1 {
		fmt.Fprintln(os.Stderr, "usage: parallel -dir SCRATCH [-addr ADDR] [-user NAME] [-clients N] [-gets N] [-size-mib N] [-runs N]")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "parallel:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config) error {
	if err := os.MkdirAll(cfg.dir, 0o755); err != nil {
		return err
	}
	src := filepath.Join(cfg.dir, "src.bin")
	buf := make([]byte, cfg.size)
	rand.Read(buf)
	if err := os.WriteFile(src, buf, 0o644); err != nil {
		return err
	}
	c, err := login(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()

	// One client alone: a put then a get of the same size.
	var single []float64
	for r := 1; r <= cfg.runs; r++ {
		syscall.Sync()
		remote := fmt.Sprintf("single-%d.bin", r)
		t0 := time.Now()
		if _, err := c.Put(ctx, src, remote, nil); err != nil {
			return err
		}
		if _, err := c.Get(ctx, remote, filepath.Join(cfg.dir, remote), nil); err != nil {
			return err
		}
		single = append(single, mbps(2*cfg.size, time.Since(t0)))
	}
	// The files the downloading clients fetch, one each.
	for i := range cfg.gets {
		if _, err := c.Put(ctx, src, fmt.Sprintf("src-%d.bin", i), nil); err != nil {
			return err
		}
	}

	var agg, p50, p99 []float64
	for r := 1; r <= cfg.runs; r++ {
		// The last run's writes go to disk now, not during this one.
		syscall.Sync()
		times, total, err := together(ctx, cfg, r, src)
		if err != nil {
			return err
		}
		slices.Sort(times)
		a := mbps(int64(cfg.clients)*cfg.size, total)
		agg, p50, p99 = append(agg, a), append(p50, pct(times, 50)), append(p99, pct(times, 99))
		fmt.Fprintf(os.Stderr, "run %d: %d clients (%d gets, %d puts) of %d MiB: %.0f MB/s, p50 %.2fs, p99 %.2fs, last %.2fs\n",
			r, cfg.clients, cfg.gets, cfg.clients-cfg.gets, cfg.size>>20, a, pct(times, 50), pct(times, 99), total.Seconds())
	}
	s, a := median(single), median(agg)
	fmt.Printf("single_mbps=%.0f aggregate_mbps=%.0f p50_s=%.2f p99_s=%.2f ratio=%.2f\n", s, a, median(p50), median(p99), a/s)
	return nil
}

// together logs every client in, then starts their transfers at once and
// returns each one's completion time (from the common start) and the time
// until the last finished.
func together(ctx context.Context, cfg config, r int, src string) ([]float64, time.Duration, error) {
	conns := make([]*client.Client, cfg.clients)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	var mu sync.Mutex
	var first error
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
	}
	// Log in four at a time (bcrypt), before anything moves.
	var wg sync.WaitGroup
	next := make(chan int)
	for range 4 {
		wg.Go(func() {
			for i := range next {
				c, err := login(ctx, cfg)
				if err != nil {
					fail(err)
					continue
				}
				conns[i] = c
			}
		})
	}
	for i := range conns {
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		return nil, 0, first
	}

	times := make([]float64, cfg.clients)
	local := filepath.Join(cfg.dir, fmt.Sprintf("run%d", r))
	if err := os.MkdirAll(local, 0o755); err != nil {
		return nil, 0, err
	}
	start := time.Now()
	for i, c := range conns {
		wg.Go(func() {
			var err error
			if i < cfg.gets {
				_, err = c.Get(ctx, fmt.Sprintf("src-%d.bin", i), filepath.Join(local, fmt.Sprintf("get-%d.bin", i)), nil)
			} else {
				_, err = c.Put(ctx, src, fmt.Sprintf("run%d-put-%d.bin", r, i), nil)
			}
			if err != nil {
				fail(err)
			}
			times[i] = time.Since(start).Seconds()
		})
	}
	wg.Wait()
	return times, time.Since(start), first
}

func login(ctx context.Context, cfg config) (*client.Client, error) {
	c, err := client.Dial(ctx, cfg.addr)
	if err != nil {
		return nil, err
	}
	if err := c.Auth(ctx, cfg.user, cfg.password); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func mbps(bytes int64, d time.Duration) float64 { return float64(bytes) / d.Seconds() / 1e6 }

// pct is the p-th percentile of sorted xs, by nearest rank.
func pct(xs []float64, p int) float64 {
	i := (p*len(xs)+99)/100 - 1
	return xs[max(i, 0)]
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
