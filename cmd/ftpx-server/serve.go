package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"ftpx/conf"
	"ftpx/ftpd"
	"ftpx/internal/logbuf"
	"ftpx/internal/s3url"
	"ftpx/server"
	"ftpx/sftpd"
	"ftpx/webd"

	"github.com/urfave/cli/v2"
	"golang.org/x/crypto/ssh"
)

// gracePeriod bounds how long running transfers may finish on SIGINT/SIGTERM.
const gracePeriod = server.DefaultGracePeriod

func serve(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q (flags come before arguments, and serve takes none)", c.Args().First())
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	welcome, err := cfg.WelcomeText()
	if err != nil {
		return err
	}
	var drop *runAs
	if cfg.RunAs != "" {
		if drop, err = lookupRunAs(cfg.RunAs); err != nil {
			return err
		}
	}
	logger, closeLog, err := newLogger(cfg, c.App.ErrWriter)
	if err != nil {
		return err
	}
	defer closeLog()
	store, err := openAccounts(cfg, logger)
	if err != nil {
		return err
	}
	for _, w := range store.Warnings() {
		logger.Warn(w)
	}
	warnFolders(store, logger)
	live, err := liveOf(cfg, welcome, store)
	if err != nil {
		return err
	}
	_, statErr := os.Stat(localDir(cfg))
	homes, halt, err := openHomes(cfg, logger)
	if err != nil {
		return err
	}
	defer homes.Close()
	if !s3url.Is(cfg.Root) { // many servers on one store is the point of an s3 root
		unlock, err := lockRoot(cfg.Root)
		if err != nil {
			return err
		}
		defer unlock()
	}
	if drop != nil && statErr != nil { // made just now, by root: give it to the user
		if err := drop.own(localDir(cfg)); err != nil {
			return fmt.Errorf("root: %w", err)
		}
	}
	homes.NoSync, homes.MinFreeSpace = !cfg.Fsync, cfg.MinFreeSpace
	tlsConfig, err := loadTLS(cfg, logger)
	if err != nil {
		return err
	}
	srv := &server.Server{
		Homes: homes, Accounts: store, Logger: logger, TLSConfig: tlsConfig, RequireTLS: cfg.RequireTLS,
		MaxConns: cfg.MaxConns, MaxConnsPerIP: cfg.MaxConnsPerIP, IdleTimeout: cfg.IdleTimeout,
		PartialMaxAge: cfg.PartialMaxAge, MaxLoginFailures: cfg.MaxLoginFailures, LoginBanTime: cfg.LoginBanTime,
	}
	srv.SetLive(live)
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	var fl net.Listener
	if cfg.FTPListen != "" {
		if fl, err = net.Listen("tcp", cfg.FTPListen); err != nil {
			return fmt.Errorf("ftp_listen: %w", err)
		}
	}
	var sl net.Listener
	var hostKey ssh.Signer
	if cfg.SFTPListen != "" {
		if hostKey, err = sftpd.LoadHostKey(cfg.SFTPHostKey, localDir(cfg)); err != nil {
			return err
		}
		if sl, err = net.Listen("tcp", cfg.SFTPListen); err != nil {
			return fmt.Errorf("sftp_listen: %w", err)
		}
	}
	var hl net.Listener
	if cfg.HTTPListen != "" {
		if hl, err = net.Listen("tcp", cfg.HTTPListen); err != nil {
			return fmt.Errorf("http_listen: %w", err)
		}
		if tlsConfig == nil && !webd.Loopback(hl.Addr()) {
			hl.Close()
			return fmt.Errorf("http_listen %s: %w", cfg.HTTPListen, webd.ErrPlainNotLoopback)
		}
	}
	var ml net.Listener
	if cfg.MetricsListen != "" {
		if ml, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			return fmt.Errorf("metrics_listen: %w", err)
		}
	}
	if drop != nil {
		if err := drop.drop(); err != nil {
			return err
		}
		if err := canUse(localDir(cfg)); err != nil {
			return err
		}
		logger.Info("running as", "user", drop.name, "uid", drop.uid, "gid", drop.gid)
	}
	// Signals are caught before the address is logged: whoever waits for
	// that line may signal at once. The end of run's context stops the
	// server as they do.
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	logger.Info("listening", "addr", l.Addr().String(), "root", cfg.Root, "accounts", cfg.Accounts, "users", len(store.Users()), "version", server.Version,
		"anonymous", live.AnonymousRoot != "")
	if ml != nil {
		metrics, hs := newMetrics(logger)
		srv.Metrics = metrics
		go serveMetrics(hs, ml, logger)
		defer hs.Close()
		logger.Info("metrics", "addr", ml.Addr().String(), "path", "/metrics")
	}

	accountsChanged := make(chan struct{}, 1)
	go reloadOnHangup(ctx, hup, accountsChanged, c, cfg, welcome, store, srv, logger)
	go watchAccounts(ctx, cfg, store, logger, accountsChanged)
	errc := make(chan error, 4)
	go func() { errc <- srv.Serve(l) }()
	var fronts []frontEnd // the other front ends, on srv's logins and limits
	if fl != nil {
		first, last, _ := conf.ParsePorts(cfg.FTPPassivePorts) // checked by loadConfig
		ftp := &ftpd.Server{Core: srv, PassiveMin: first, PassiveMax: last, Logger: logger}
		logger.Info("ftp listening", "ftp_addr", fl.Addr().String(), "passive_ports", cfg.FTPPassivePorts, "tls", tlsConfig != nil)
		fronts = append(fronts, frontEnd{"FTP", ftp.Shutdown})
		go func() { errc <- ftp.Serve(fl) }()
	}
	if sl != nil {
		sftp := &sftpd.Server{Core: srv, HostKey: hostKey, Logger: logger}
		logger.Info("sftp listening", "sftp_addr", sl.Addr().String(), "host_key", sftpd.Fingerprint(hostKey), "key_type", hostKey.PublicKey().Type())
		fronts = append(fronts, frontEnd{"SFTP", sftp.Shutdown})
		go func() { errc <- sftp.Serve(sl) }()
	}
	if hl != nil {
		web := &webd.Server{Core: srv, TLS: tlsConfig, Logger: logger}
		scheme := "http"
		if tlsConfig != nil {
			scheme = "https"
		}
		logger.Info("http listening", "http_addr", hl.Addr().String(), "url", scheme+"://"+hl.Addr().String()+"/", "tls", tlsConfig != nil)
		fronts = append(fronts, frontEnd{"HTTP", web.Shutdown})
		go func() { errc <- web.Serve(hl) }()
	}
	if err := sdNotify("READY=1"); err != nil {
		logger.Warn("systemd notification failed", "err", err)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sdNotify("STOPPING=1")
	logger.Info("shutting down", "grace", gracePeriod.String())
	sctx, cancel := context.WithTimeout(context.Background(), gracePeriod)
	defer cancel()
	// Once the grace period is over, calls to an object store end at once:
	// a stalled store would hold each session for its timeout, call after
	// call (saving, then dropping, an upload's state).
	defer context.AfterFunc(sctx, halt)()
	var wg sync.WaitGroup
	for _, f := range fronts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.shutdown(sctx); err != nil {
				logger.Warn("grace period over; closed remaining "+f.name+" connections", "err", err)
			}
			<-errc
		}()
	}
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("grace period over; closed remaining connections", "err", err)
	}
	wg.Wait()
	<-errc
	logger.Info("stopped")
	return nil
}

// frontEnd is a front end besides the native one, for the shutdown.
type frontEnd struct {
	name     string
	shutdown func(context.Context) error
}

// loadTLS loads the configured certificate, or the automatic one, and
// logs its fingerprint; no TLS setting gives nil.
func loadTLS(cfg conf.Config, logger *slog.Logger) (*tls.Config, error) {
	var cert tls.Certificate
	var err error
	switch {
	case cfg.TLS == "auto":
		cert, err = server.AutoCert(localDir(cfg))
	case cfg.TLSCert != "":
		cert, err = tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	default:
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	fp, err := server.CertFingerprint(cert)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	fp1, _ := server.CertFingerprintSHA1(cert) // parsed above
	logger.Info("tls ready", "fingerprint", fp, "fingerprint_sha1", fp1, "auto", cfg.TLS == "auto", "required", cfg.RequireTLS)
	return server.TLSConfig(cert), nil
}

// newLogger builds the server's logger, writing to log_file or else to
// stderr; its lines are gathered into fewer writes (logbuf): the returned
// function flushes them and closes the log file.
func newLogger(cfg conf.Config, stderr io.Writer) (*slog.Logger, func(), error) {
	out := stderr
	var f *os.File
	if cfg.LogFile != "" {
		var err error
		if f, err = os.OpenFile(cfg.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640); err != nil {
			return nil, nil, err
		}
		out = f
	}
	w := logbuf.New(out)
	closeLog := func() {
		w.Flush()
		if f != nil {
			f.Close()
		}
	}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, nil)), closeLog, nil
	}
	return slog.New(slog.NewTextHandler(w, nil)), closeLog, nil
}
