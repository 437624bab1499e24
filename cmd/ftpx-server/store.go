package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"ftpx/conf"
	"ftpx/home"
	"ftpx/internal/s3url"
	"ftpx/s3home"
)

// storeWait is how long a server starting beside its object store waits
// for it to answer.
const storeWait = 30 * time.Second

// localDir is the directory of what the server keeps on its own disk: the
// data root, or state_dir when the homes are in an object store.
func localDir(cfg conf.Config) string {
	if s3url.Is(cfg.Root) {
		return cfg.StateDir
	}
	return cfg.Root
}

// openHomes returns the Manager of the homes: under a local root, or in
// the bucket of an s3:// root (made when missing). With an object store
// configured, folders may be s3:// URLs too, and halt ends every call to
// the store (s3home.Client.Halt; without a store it does nothing).
func openHomes(cfg conf.Config, logger *slog.Logger) (homes *home.Manager, halt func(), err error) {
	halt = func() {}
	var client *s3home.Client
	if cfg.S3Endpoint != "" {
		if client, err = s3home.New(s3home.Config{Endpoint: cfg.S3Endpoint, Region: cfg.S3Region, PartSize: cfg.S3PartSize}); err != nil {
			return nil, halt, err
		}
		halt = client.Halt
	}
	if s3url.Is(cfg.Root) {
		u, err := s3url.Parse(cfg.Root)
		if err != nil {
			return nil, halt, fmt.Errorf("root: %w", err)
		}
		if err := client.EnsureBucket(context.Background(), u.Bucket, storeWait); err != nil {
			return nil, halt, fmt.Errorf("root %s: %w", u, err)
		}
		if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
			return nil, halt, fmt.Errorf("state_dir: %w", err)
		}
		homes = home.NewManagerOn(client.Homes(u))
		logger.Info("homes in an object store", "root", u.String(), "endpoint", cfg.S3Endpoint, "server_id", client.ServerID(), "state_dir", cfg.StateDir)
	} else {
		if homes, err = home.NewManager(cfg.Root); err != nil {
			return nil, halt, fmt.Errorf("root: %w", err)
		}
	}
	if client != nil {
		homes.OpenURL = folderOpener(client)
	}
	return homes, halt, nil
}

// folderOpener opens s3:// folders on the store, making each bucket on
// first use.
func folderOpener(client *s3home.Client) func(string) (home.FS, error) {
	var mu sync.Mutex
	made := make(map[string]bool)
	return func(url string) (home.FS, error) {
		u, err := s3url.Parse(url)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		ok := made[u.Bucket]
		mu.Unlock()
		if !ok {
			if err := client.EnsureBucket(context.Background(), u.Bucket, 0); err != nil {
				return nil, err
			}
			mu.Lock()
			made[u.Bucket] = true
			mu.Unlock()
		}
		return client.Tree(u), nil
	}
}

// storeUsage returns how to read the bytes each home holds under an
// s3:// root, on the store of cfg's s3_endpoint (user list --used).
func storeUsage(root string, cfg conf.Config) (func(string) (int64, error), error) {
	u, err := s3url.Parse(root)
	if err != nil {
		return nil, err
	}
	if cfg.S3Endpoint == "" {
		return nil, fmt.Errorf("root %s: --used needs s3_endpoint (--s3-endpoint URL, or --config FILE)", u)
	}
	client, err := s3home.New(s3home.Config{Endpoint: cfg.S3Endpoint, Region: cfg.S3Region})
	if err != nil {
		return nil, err
	}
	return func(name string) (int64, error) {
		h := u
		h.Prefix = strings.TrimPrefix(u.Prefix+"/"+name, "/")
		return client.Tree(h).Usage()
	}, nil
}
