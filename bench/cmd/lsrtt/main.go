// Command lsrtt measures the round trip of ls: CALLS client.Ls calls of
// one remote directory over one authenticated connection, after a few
// unmeasured ones, and prints their p50, p99 and mean in milliseconds.
// The password comes from FTPX_PASSWORD.
//
//	lsrtt -addr 127.0.0.1:2121 -user bench -path lsdir -calls 1000 -want 1000
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"ftpx/client"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2121", "server address")
	user := flag.String("user", "bench", "user name (password from FTPX_PASSWORD)")
	dir := flag.String("path", "", "remote directory to list")
	calls := flag.Int("calls", 1000, "measured ls calls")
	warm := flag.Int("warm", 20, "unmeasured calls first")
	want := flag.Int("want", -1, "fail unless the listing has this many entries")
	timeout := flag.Duration("timeout", 5*time.Minute, "give up after this long")
	flag.Parse()
	if *calls < 1 {
		fmt.Fprintln(os.Stderr, "usage: lsrtt [-addr ADDR] [-user NAME] [-path DIR] [-calls N] [-want N]")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, *addr, *user, *dir, *calls, *warm, *want); err != nil {
		fmt.Fprintln(os.Stderr, "lsrtt:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, user, dir string, calls, warm, want int) error {
	c, err := client.Dial(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Auth(ctx, user, os.Getenv("FTPX_PASSWORD")); err != nil {
		return err
	}
	ms := make([]float64, 0, calls)
	var sum float64
	for i := range warm + calls {
		t0 := time.Now()
		entries, err := c.Ls(ctx, dir)
		d := float64(time.Since(t0).Microseconds()) / 1000
		if err != nil {
			return err
		}
		if want >= 0 && len(entries) != want {
			return fmt.Errorf("ls %s: %d entries, want %d", dir, len(entries), want)
		}
		if i >= warm {
			ms = append(ms, d)
			sum += d
		}
	}
	slices.Sort(ms)
	pct := func(p int) float64 { return ms[max((p*len(ms)+99)/100-1, 0)] }
	fmt.Printf("calls=%d entries=%d p50_ms=%.3f p99_ms=%.3f mean_ms=%.3f\n", calls, want, pct(50), pct(99), sum/float64(calls))
	return nil
}
