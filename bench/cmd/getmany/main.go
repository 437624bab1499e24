// Command getmany downloads every file of one remote directory into a local
// directory, one client.Get after the other over a single connection: the
// batch get that bench/files.sh measures next to the CLI's, since the CLI
// has no recursive get. The password comes from FTPX_PASSWORD.
//
//	getmany -addr 127.0.0.1:2121 -user bench -remote run1 -local /tmp/got
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"time"

	"ftpx/client"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2121", "server address")
	user := flag.String("user", "bench", "user name (password from FTPX_PASSWORD)")
	remote := flag.String("remote", "", "remote directory to download")
	local := flag.String("local", "", "local directory to download into (created)")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after this long")
	flag.Parse()
	if *remote == "" || *local == "" {
		fmt.Fprintln(os.Stderr, "usage: getmany -remote DIR -local DIR [-addr ADDR] [-user NAME]")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, *addr, *user, *remote, *local); err != nil {
		fmt.Fprintln(os.Stderr, "getmany:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, user, remote, local string) error {
	if err := os.MkdirAll(local, 0o755); err != nil {
		return err
	}
	c, err := client.Dial(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Auth(ctx, user, os.Getenv("FTPX_PASSWORD")); err != nil {
		return err
	}
	start := time.Now()
	entries, err := c.Ls(ctx, remote)
	if err != nil {
		return err
	}
	var n, bytes int64
	for _, e := range entries {
		if e.IsDir {
			continue
		}
		res, err := c.Get(ctx, path.Join(remote, e.Name), filepath.Join(local, filepath.Base(e.Name)), nil)
		if err != nil {
			return err
		}
		n++
		bytes += res.Size
	}
	fmt.Printf("files=%d bytes=%d seconds=%.3f\n", n, bytes, time.Since(start).Seconds())
	return nil
}
