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
	"ftpx/protocol"
	"ftpx/server"
	"ftpx/sftpd"

	"github.com/urfave/cli/v2"
	"golang.org/x/crypto/ssh"
)

// serveFlags are the server's settings. They are accepted before and
// after "serve" (which is the default command), and override the config
// file, which overrides conf.Default().
var serveFlags = []cli.Flag{
	&cli.StringFlag{Name: "config", Usage: "INI config `FILE` (flags override it)"},
	&cli.StringFlag{Name: "listen", Usage: "listen on `ADDR` (port 0 picks one)", DefaultText: conf.Default().Listen},
	&cli.StringFlag{Name: "root", Usage: "data root `DIR` or s3://BUCKET[/PREFIX]: each user's home is DIR/NAME", DefaultText: conf.Default().Root},
	&cli.StringFlag{Name: "accounts", Usage: "accounts `FILE`", DefaultText: conf.Default().Accounts},
	&cli.IntFlag{Name: "max-conns", Usage: "maximum simultaneous connections", DefaultText: fmt.Sprint(conf.Default().MaxConns)},
	&cli.IntFlag{Name: "max-conns-per-ip", Usage: "maximum simultaneous connections from one address", DefaultText: fmt.Sprint(conf.Default().MaxConnsPerIP)},
	&cli.DurationFlag{Name: "idle-timeout", Usage: "close a connection idle this long", DefaultText: conf.Default().IdleTimeout.String()},
	&cli.DurationFlag{Name: "partial-max-age", Usage: "remove interrupted uploads untouched this long", DefaultText: conf.Default().PartialMaxAge.String()},
	&cli.StringFlag{Name: "min-free-space", Usage: "refuse (286) a put that would leave less than `SIZE` free on the file system (auto: 1%, at most 1GB)", DefaultText: "auto"},
	&cli.BoolFlag{Name: "fsync", Usage: "sync every upload to disk before acknowledging it (--fsync=false: faster, for benchmarks)", DefaultText: "true"},
	&cli.StringFlag{Name: "tls", Usage: "auto: a self-signed certificate made on first start and kept under the data root"},
	&cli.StringFlag{Name: "tls-cert", Usage: "TLS certificate `FILE` (PEM)"},
	&cli.StringFlag{Name: "tls-key", Usage: "TLS key `FILE` (PEM)"},
	&cli.StringFlag{Name: "ftp-listen", Usage: "also serve FTP (and explicit FTPS) on `ADDR` (port 0 picks one)", DefaultText: "off"},
	&cli.StringFlag{Name: "ftp-passive-ports", Usage: "`FIRST-LAST` ports for FTP passive data connections", DefaultText: "any free port"},
	&cli.StringFlag{Name: "sftp-listen", Usage: "also serve SFTP (and scp) on `ADDR` (port 0 picks one)", DefaultText: "off"},
	&cli.StringFlag{Name: "sftp-host-key", Usage: "SFTP host key `FILE` (an OpenSSH private key)", DefaultText: "an Ed25519 key made on first start and kept under the data root"},
	&cli.StringFlag{Name: "log-format", Usage: "text or json", DefaultText: conf.Default().LogFormat},
	&cli.StringFlag{Name: "log-file", Usage: "append logs to `FILE`", DefaultText: "standard error"},
	&cli.StringFlag{Name: "s3-endpoint", Usage: "object store `URL` of an s3://BUCKET[/PREFIX] root or folder (http:// for loopback only); credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or ~/.aws/credentials"},
	&cli.StringFlag{Name: "s3-region", Usage: "object store `REGION`", DefaultText: conf.Default().S3Region},
	&cli.StringFlag{Name: "s3-part-size", Usage: "`SIZE` of the parts of a big upload to the object store (5MB to 5GB)", DefaultText: protocol.FormatSize(conf.Default().S3PartSize)},
	&cli.StringFlag{Name: "state-dir", Usage: "`DIR` for what the server keeps on local disk when the root is s3:// (the --tls auto certificate)", DefaultText: conf.Default().StateDir},
}

// overrides applies each flag that was given to the config.
var overrides = map[string]func(c *cli.Context, cfg *conf.Config){
	"listen":           func(c *cli.Context, cfg *conf.Config) { cfg.Listen = c.String("listen") },
	"root":             func(c *cli.Context, cfg *conf.Config) { cfg.Root = c.String("root") },
	"accounts":         func(c *cli.Context, cfg *conf.Config) { cfg.Accounts = c.String("accounts") },
	"max-conns":        func(c *cli.Context, cfg *conf.Config) { cfg.MaxConns = c.Int("max-conns") },
	"max-conns-per-ip": func(c *cli.Context, cfg *conf.Config) { cfg.MaxConnsPerIP = c.Int("max-conns-per-ip") },
	"idle-timeout":     func(c *cli.Context, cfg *conf.Config) { cfg.IdleTimeout = c.Duration("idle-timeout") },
	"partial-max-age":  func(c *cli.Context, cfg *conf.Config) { cfg.PartialMaxAge = c.Duration("partial-max-age") },
	"log-format":       func(c *cli.Context, cfg *conf.Config) { cfg.LogFormat = c.String("log-format") },
	"log-file":         func(c *cli.Context, cfg *conf.Config) { cfg.LogFile = c.String("log-file") },
	"tls":              func(c *cli.Context, cfg *conf.Config) { cfg.TLS = c.String("tls") },
	"tls-cert":         func(c *cli.Context, cfg *conf.Config) { cfg.TLSCert = c.String("tls-cert") },
	"tls-key":          func(c *cli.Context, cfg *conf.Config) { cfg.TLSKey = c.String("tls-key") },
	"fsync":            func(c *cli.Context, cfg *conf.Config) { cfg.Fsync = c.Bool("fsync") },
	"s3-endpoint":      func(c *cli.Context, cfg *conf.Config) { cfg.S3Endpoint = c.String("s3-endpoint") },
	"s3-region":        func(c *cli.Context, cfg *conf.Config) { cfg.S3Region = c.String("s3-region") },
	"state-dir":        func(c *cli.Context, cfg *conf.Config) { cfg.StateDir = c.String("state-dir") },
	"s3-part-size": func(c *cli.Context, cfg *conf.Config) {
		if n, err := protocol.ParseSize(c.String("s3-part-size")); err == nil {
			cfg.S3PartSize = n
		} else {
			cfg.S3PartSize = -1 // Validate says what is wrong
		}
	},
	"ftp-listen":    func(c *cli.Context, cfg *conf.Config) { cfg.FTPListen = c.String("ftp-listen") },
	"sftp-listen":   func(c *cli.Context, cfg *conf.Config) { cfg.SFTPListen = c.String("sftp-listen") },
	"sftp-host-key": func(c *cli.Context, cfg *conf.Config) { cfg.SFTPHostKey = c.String("sftp-host-key") },
	"ftp-passive-ports": func(c *cli.Context, cfg *conf.Config) {
		cfg.FTPPassivePorts = c.String("ftp-passive-ports")
	},
}

// minFreeSpaceFlag applies --min-free-space, whose value may be wrong.
func minFreeSpaceFlag(c *cli.Context, cfg *conf.Config) error {
	cc := setBy(c, "min-free-space")
	if cc == nil {
		return nil
	}
	n, err := conf.ParseMinFreeSpace(cc.String("min-free-space"))
	if err != nil {
		return fmt.Errorf("--min-free-space: %w", err)
	}
	cfg.MinFreeSpace = n
	return nil
}

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
	logger, closeLog, err := newLogger(cfg)
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
		if err := lockRoot(cfg.Root); err != nil {
			return err
		}
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
	// that line may signal at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
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

	go reloadOnHangup(ctx, hup, c, cfg, welcome, store, srv, logger)
	go watchAccounts(ctx, cfg, store, logger)
	errc := make(chan error, 3)
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

// loadConfig layers the flags over the config file over the defaults.
func loadConfig(c *cli.Context) (conf.Config, error) {
	cfg := conf.Default()
	if cc := setBy(c, "config"); cc != nil {
		var err error
		if cfg, err = conf.Load(cc.String("config")); err != nil {
			return cfg, err
		}
	}
	for name, apply := range overrides {
		if cc := setBy(c, name); cc != nil {
			apply(cc, &cfg)
		}
	}
	if err := minFreeSpaceFlag(c, &cfg); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// setBy returns the context in which the flag was given: the serve
// command's or, for flags before "serve", the app's; nil when neither.
func setBy(c *cli.Context, name string) *cli.Context {
	for _, cc := range c.Lineage() {
		if cc.IsSet(name) {
			return cc
		}
	}
	return nil
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

// newLogger builds the server's logger; its lines are gathered into
// fewer writes (logbuf): the returned function flushes them and closes the
// log file.
func newLogger(cfg conf.Config) (*slog.Logger, func(), error) {
	var out io.Writer = os.Stderr
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
