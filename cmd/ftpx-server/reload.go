package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"

	"ftpx/accounts"
	"ftpx/conf"
	"ftpx/internal/s3url"
	"ftpx/server"

	"github.com/urfave/cli/v2"
)

// liveKeys are the config settings a SIGHUP applies to the running server;
// a change to any other needs a restart.
var liveKeys = []string{"welcome", "welcome_file", "goodbye", "anonymous_root", "anonymous_max_conns"}

// liveOf returns the live settings of cfg, whose welcome text is welcome.
// With an account named anonymous, anonymous access stays off.
func liveOf(cfg conf.Config, welcome string, store *accounts.Store) (server.Live, error) {
	l := server.Live{Welcome: welcome, Goodbye: cfg.Goodbye, AnonymousRoot: cfg.AnonymousRoot, AnonymousMaxConns: cfg.AnonymousMaxConns}
	if err := checkAnonymous(cfg, store); err != nil {
		l.AnonymousRoot = ""
		return l, err
	}
	return l, nil
}

// checkAnonymous refuses anonymous_root next to an account named
// anonymous, and a root that is not a directory.
func checkAnonymous(cfg conf.Config, store *accounts.Store) error {
	if cfg.AnonymousRoot == "" {
		return nil
	}
	if _, ok := store.Lookup(server.AnonymousUser); ok {
		return fmt.Errorf("anonymous_root is set and %s has an account named %q: remove one of them", store.Path(), server.AnonymousUser)
	}
	if fi, err := os.Stat(cfg.AnonymousRoot); err != nil || !fi.IsDir() {
		return fmt.Errorf("anonymous_root %s: not a directory", cfg.AnonymousRoot)
	}
	return nil
}

// reloadOnHangup, on every SIGHUP, re-reads the accounts file (one in a
// store if it changed, at once rather than at the next poll) and the
// config (the file, then the flags over it, as at start), applies the
// settings that can change live and logs what changed; the others are
// logged as needing a restart.
//
// An accounts file in a store is applied by watchAccounts, which says so
// on accountsChanged: what depends on the accounts (anonymous access
// next to an account named anonymous) is then checked again, as here.
func reloadOnHangup(ctx context.Context, hup <-chan os.Signal, accountsChanged <-chan struct{}, c *cli.Context, cfg conf.Config, welcome string, store *accounts.Store, srv *server.Server, logger *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-accountsChanged:
			setLive(cfg, welcome, store, srv, logger)
			continue
		case <-hup:
		}
		sdNotify("RELOADING=1")
		if _, err := reloadAccounts(ctx, store, logger); err != nil {
			logger.Error("accounts reload failed; keeping the old accounts", "err", err)
		}
		next, err := loadConfig(c)
		var text string
		if err == nil {
			text, err = next.WelcomeText()
		}
		if err != nil {
			logger.Error("config reload failed; keeping the old settings", "err", err)
			sdNotify("READY=1")
			continue
		}
		setLive(next, text, store, srv, logger)
		changed := conf.Changed(cfg, next)
		if text != welcome && !slices.Contains(changed, "welcome") && !slices.Contains(changed, "welcome_file") {
			changed = append(changed, "welcome_file") // the file's content
		}
		var applied, restart []string
		for _, k := range changed {
			if slices.Contains(liveKeys, k) {
				applied = append(applied, k)
			} else {
				restart = append(restart, k)
			}
		}
		logger.Info("config reloaded", "changed", applied)
		if len(restart) > 0 {
			logger.Warn("config changes that need a restart", "keys", restart)
		}
		// What needs a restart keeps its old value, and is reported again
		// on the next reload until then.
		for _, k := range applied {
			setKey(&cfg, next, k)
		}
		welcome = text
		sdNotify("READY=1")
	}
}

// setLive applies the live settings of cfg, whose welcome text is
// welcome, to srv: anonymous access goes off, with a line in the log,
// while an account is named anonymous.
func setLive(cfg conf.Config, welcome string, store *accounts.Store, srv *server.Server, logger *slog.Logger) {
	live, err := liveOf(cfg, welcome, store)
	if err != nil {
		logger.Error("anonymous access off", "err", err)
	}
	srv.SetLive(live)
}

// setKey copies the live setting k from next into cfg.
func setKey(cfg *conf.Config, next conf.Config, k string) {
	switch k {
	case "welcome":
		cfg.Welcome = next.Welcome
	case "welcome_file":
		cfg.WelcomeFile = next.WelcomeFile
	case "goodbye":
		cfg.Goodbye = next.Goodbye
	case "anonymous_root":
		cfg.AnonymousRoot = next.AnonymousRoot
	case "anonymous_max_conns":
		cfg.AnonymousMaxConns = next.AnonymousMaxConns
	}
}

// warnFolders logs each folder whose directory is missing: its user's
// logins fail until it exists.
func warnFolders(store *accounts.Store, logger *slog.Logger) {
	for _, a := range store.Users() {
		for _, f := range a.Folders {
			if s3url.Is(f.Dir) {
				continue // on the object store: made when it is first used
			}
			if fi, err := os.Stat(f.Dir); err != nil || !fi.IsDir() {
				logger.Warn("folder is not a directory; the user cannot log in until it is", "user", a.Name, "folder", f.Name, "dir", f.Dir)
			}
		}
	}
}
