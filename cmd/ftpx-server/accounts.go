package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"ftpx/accounts"
	"ftpx/conf"
	"ftpx/home"
	"ftpx/internal/s3url"
	"ftpx/s3home"
)

// accountsPoll is how often a server asks the store whether its accounts
// file changed: every server applies an edit within two seconds (the
// contract), a slow answer included. An unchanged file costs one request
// without a body.
const accountsPoll = time.Second

// openAccounts loads the accounts file of cfg: a local file, or an
// object of cfg's store, which a server starting beside it waits for (as
// for its root) up to storeWait.
func openAccounts(cfg conf.Config, logger *slog.Logger) (*accounts.Store, error) {
	src, err := accountsSource(cfg)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(storeWait)
	for waited := false; ; waited = true {
		store, err := accounts.LoadFrom(context.Background(), src)
		if err == nil || !errors.Is(err, home.ErrUnavailable) || time.Now().After(deadline) {
			return store, err
		}
		if !waited {
			logger.Warn("accounts unreadable; waiting for the store", "err", err, "wait", storeWait.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// accountsSource returns where cfg's accounts file is kept. One in a store
// is reached with the root's endpoint, region and credentials, and may not
// lie inside a home of the root, where its user could rewrite it.
func accountsSource(cfg conf.Config) (accounts.Source, error) {
	if !s3url.Is(cfg.Accounts) {
		return accounts.File(cfg.Accounts), nil
	}
	u, err := s3url.Parse(cfg.Accounts)
	if err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	if cfg.S3Endpoint == "" {
		return nil, fmt.Errorf("accounts %s: an accounts file in a store needs s3_endpoint (--s3-endpoint URL)", u)
	}
	if home := homeHolding(cfg.Root, u); home != "" {
		return nil, fmt.Errorf("accounts %s: inside the home of user %s under root %s, who could rewrite it: keep it outside the root's homes", u, home, cfg.Root)
	}
	client, err := s3home.New(s3home.Config{Endpoint: cfg.S3Endpoint, Region: cfg.S3Region})
	if err != nil {
		return nil, err
	}
	return client.AccountsFile(u)
}

// homeHolding returns the user whose home under root holds the object u,
// or "" when none does (a home is the prefix ROOT/NAME/).
func homeHolding(root string, u s3url.URL) string {
	r, err := s3url.Parse(root)
	if err != nil || r.Bucket != u.Bucket {
		return ""
	}
	rest, ok := strings.CutPrefix(u.Prefix, r.KeyPrefix())
	name, _, inside := strings.Cut(rest, "/")
	if !ok || !inside {
		return ""
	}
	return name
}

// watchAccounts applies each new version of an accounts file kept in a
// store, polling it every accountsPoll, until ctx ends, and says so on
// changed (for what depends on the accounts: anonymous access). A local
// file is left to SIGHUP: it returns at once.
func watchAccounts(ctx context.Context, cfg conf.Config, store *accounts.Store, logger *slog.Logger, changed chan<- struct{}) {
	if !s3url.Is(cfg.Accounts) {
		return
	}
	tick := time.NewTicker(accountsPoll)
	defer tick.Stop()
	logged := "" // the failure logged last: a store that stays down is logged once
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		pctx, cancel := context.WithTimeout(ctx, s3home.ProbeTimeout)
		fresh, err := reloadAccounts(pctx, store, logger)
		cancel()
		switch {
		case err == nil:
			logged = ""
			if fresh {
				select {
				case changed <- struct{}{}:
				default: // one is waiting already
				}
			}
		case ctx.Err() != nil:
			return
		case err.Error() != logged:
			logged = err.Error()
			logger.Error("accounts reload failed; keeping the old accounts", "err", err)
		}
	}
}

// reloadAccounts reads the accounts file again (one in a store only when
// it changed), logs what the new one brings and reports whether it
// changed. On error the accounts in force stay; a file that does not
// parse is reported once.
func reloadAccounts(ctx context.Context, store *accounts.Store, logger *slog.Logger) (bool, error) {
	changed, err := store.Refresh(ctx)
	if err != nil || !changed {
		return false, err
	}
	for _, w := range store.Warnings() {
		logger.Warn(w)
	}
	warnFolders(store, logger)
	logger.Info("accounts reloaded", "users", len(store.Users()))
	return true, nil
}
