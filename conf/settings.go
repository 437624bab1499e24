package conf

import (
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"ftpx/internal/s3url"
	"ftpx/protocol"
)

// Setting is one server setting: a key of the config file and, with '-'
// for '_', a flag of `ftpx-server serve`. The file's value and the flag's
// go through the same setter, so both are checked alike and the same
// message says what is wrong.
type Setting struct {
	Key     string // in the config file: max_conns
	Arg     string // what the flag takes, named in Usage: ADDR, N, SIZE ("" for a switch)
	Usage   string // what the setting does, for --help and the README
	Default string // the built-in value, as the file would write it; "" for none
	Unset   string // what no value means, when Default is "": "off", "standard error"
	Bool    bool   // true or false: on the command line a switch (--fsync, --fsync=false)
	set     setter
}

// setter checks one value and stores it in c. dir is the config file's
// folder, for relative paths ("" for the working directory).
type setter func(c *Config, value, dir string) error

// Flag is the setting's flag, without its dashes: max-conns.
func (s Setting) Flag() string { return strings.ReplaceAll(s.Key, "_", "-") }

// Set checks value and stores it in c; a relative path is taken relative
// to dir ("" for the working directory). The error says what is wrong
// with the value, without naming where it came from.
func (s Setting) Set(c *Config, value, dir string) error { return s.set(c, value, dir) }

// DefaultText is the default as --help shows it: the value, or what no
// value means.
func (s Setting) DefaultText() string {
	if s.Default != "" {
		return s.Default
	}
	return s.Unset
}

// Settings returns every setting, in the order of the sample config file.
func Settings() []Setting { return slices.Clone(settings) }

// byKey finds a setting by its key, for Load.
var byKey = func() map[string]Setting {
	m := make(map[string]Setting, len(settings))
	for _, s := range settings {
		m[s.Key] = s
	}
	return m
}()

// settings is the one list of the server's settings: Default, Load and
// the flags of serve are all made from it.
var settings = []Setting{
	{Key: "listen", Arg: "ADDR", Usage: "listen on ADDR (port 0 picks one)", Default: "127.0.0.1:2121",
		set: addrSetter(func(c *Config) *string { return &c.Listen }, "127.0.0.1:2121", true)},
	{Key: "root", Arg: "DIR", Usage: "the data root DIR: each user's home is DIR/NAME; or s3://BUCKET[/PREFIX], in an object store", Default: "var/data",
		set: pathOrURLSetter(func(c *Config) *string { return &c.Root }, false)},
	{Key: "accounts", Arg: "FILE", Usage: "the accounts FILE (ftpx-server user add, passwd, del, quota); or s3://BUCKET/KEY, in the object store", Default: "var/accounts.ini",
		set: pathOrURLSetter(func(c *Config) *string { return &c.Accounts }, true)},
	{Key: "max_conns", Arg: "N", Usage: "serve N connections at once; more are refused", Default: "256",
		set: countSetter(func(c *Config) *int { return &c.MaxConns })},
	{Key: "max_conns_per_ip", Arg: "N", Usage: "serve N connections at once from one address", Default: "64",
		set: countSetter(func(c *Config) *int { return &c.MaxConnsPerIP })},
	{Key: "max_login_failures", Arg: "N", Usage: "ban an address after N failed logins within login_ban_time", Default: "10",
		set: countSetter(func(c *Config) *int { return &c.MaxLoginFailures })},
	{Key: "login_ban_time", Arg: "DURATION", Usage: "ban such an address for DURATION", Default: "15m",
		set: durationSetter(func(c *Config) *time.Duration { return &c.LoginBanTime })},
	{Key: "idle_timeout", Arg: "DURATION", Usage: "close a connection silent for DURATION (30s, 5m, 1h)", Default: "5m",
		set: durationSetter(func(c *Config) *time.Duration { return &c.IdleTimeout })},
	{Key: "partial_max_age", Arg: "DURATION", Usage: "remove interrupted uploads untouched for DURATION", Default: "168h",
		set: durationSetter(func(c *Config) *time.Duration { return &c.PartialMaxAge })},
	{Key: "fsync", Bool: true, Usage: "sync every upload to disk before acknowledging it (false is faster, but a crash may lose an acknowledged file: for benchmarks)", Default: "true",
		set: boolSetter(func(c *Config) *bool { return &c.Fsync })},
	{Key: "min_free_space", Arg: "SIZE", Usage: "refuse (286) a put that would leave less than SIZE free on the file system (auto: 1%, at most 1GB)", Default: "auto",
		set: minFreeSpaceSetter},
	{Key: "log_format", Arg: "FORMAT", Usage: "log in FORMAT: text or json", Default: "text",
		set: logFormatSetter},
	{Key: "log_file", Arg: "FILE", Usage: "append logs to FILE", Unset: "standard error",
		set: pathSetter(func(c *Config) *string { return &c.LogFile }, false)},
	{Key: "tls", Arg: "auto", Usage: "auto: TLS with a self-signed certificate made on first start and kept under the data root (or state_dir)", Unset: "none",
		set: tlsSetter},
	{Key: "tls_cert", Arg: "FILE", Usage: "TLS certificate FILE (PEM), with tls_key", Unset: "none",
		set: pathSetter(func(c *Config) *string { return &c.TLSCert }, false)},
	{Key: "tls_key", Arg: "FILE", Usage: "TLS key FILE (PEM)", Unset: "none",
		set: pathSetter(func(c *Config) *string { return &c.TLSKey }, false)},
	{Key: "require_tls", Bool: true, Usage: "refuse everything but starttls on a plaintext connection (needs TLS)", Default: "false",
		set: boolSetter(func(c *Config) *bool { return &c.RequireTLS })},
	{Key: "anonymous_root", Arg: "DIR", Usage: "serve DIR read-only to the user anonymous (any password)", Unset: "off",
		set: pathSetter(func(c *Config) *string { return &c.AnonymousRoot }, false)},
	{Key: "anonymous_max_conns", Arg: "N", Usage: "serve N anonymous sessions at once; more are refused (285)", Default: "16",
		set: countSetter(func(c *Config) *int { return &c.AnonymousMaxConns })},
	{Key: "welcome", Arg: "TEXT", Usage: `send TEXT in the greeting (\n is a line break)`, Unset: "none",
		set: textSetter(func(c *Config) *string { return &c.Welcome })},
	{Key: "welcome_file", Arg: "FILE", Usage: "or send the content of FILE (read again on SIGHUP)", Unset: "none",
		set: pathSetter(func(c *Config) *string { return &c.WelcomeFile }, false)},
	{Key: "goodbye", Arg: "TEXT", Usage: "send TEXT in the answer to quit", Unset: "none",
		set: textSetter(func(c *Config) *string { return &c.Goodbye })},
	{Key: "run_as", Arg: "USER", Usage: "started as root: run as USER once the port, the data root and the logs are open", Unset: "stay as started",
		set: runAsSetter},
	{Key: "metrics_listen", Arg: "ADDR", Usage: "serve Prometheus metrics at http://ADDR/metrics (never the file-transfer port)", Unset: "off",
		set: addrSetter(func(c *Config) *string { return &c.MetricsListen }, "127.0.0.1:9121", false)},
	{Key: "ftp_listen", Arg: "ADDR", Usage: "also serve FTP (and explicit FTPS) on ADDR (port 0 picks one)", Unset: "off",
		set: addrSetter(func(c *Config) *string { return &c.FTPListen }, "127.0.0.1:2122", false)},
	{Key: "ftp_passive_ports", Arg: "FIRST-LAST", Usage: "ports of FTP passive data connections, FIRST-LAST", Unset: "any free port",
		set: portsSetter},
	{Key: "sftp_listen", Arg: "ADDR", Usage: "also serve SFTP (and scp) on ADDR (port 0 picks one)", Unset: "off",
		set: addrSetter(func(c *Config) *string { return &c.SFTPListen }, "127.0.0.1:2222", false)},
	{Key: "sftp_host_key", Arg: "FILE", Usage: "SFTP host key FILE (an OpenSSH private key)", Unset: "an Ed25519 key made on first start and kept under the data root (or state_dir)",
		set: pathSetter(func(c *Config) *string { return &c.SFTPHostKey }, false)},
	{Key: "http_listen", Arg: "ADDR", Usage: "also serve the web client and the HTTP API on ADDR (port 0 picks one): HTTPS with the server's certificate, plain HTTP on loopback only", Unset: "off",
		set: addrSetter(func(c *Config) *string { return &c.HTTPListen }, "127.0.0.1:8080", false)},
	{Key: "s3_endpoint", Arg: "URL", Usage: "the object store URL of an s3:// root or folder (http:// on loopback only); credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or ~/.aws/credentials", Unset: "none",
		set: endpointSetter},
	{Key: "s3_region", Arg: "REGION", Usage: "the object store's REGION", Default: "us-east-1",
		set: regionSetter},
	{Key: "s3_part_size", Arg: "SIZE", Usage: "upload to the object store in parts of SIZE (5MB to 5GB)", Default: "16MB",
		set: partSizeSetter},
	{Key: "state_dir", Arg: "DIR", Usage: "with an s3:// root, keep what the server keeps on local disk (the tls auto certificate) in DIR", Default: "var/state",
		set: pathSetter(func(c *Config) *string { return &c.StateDir }, true)},
}

// pathOrURLSetter sets a path, or an s3:// URL in its canonical spelling:
// a root (s3://BUCKET[/PREFIX]) or, with key set, one object
// (s3://BUCKET/KEY).
func pathOrURLSetter(field func(*Config) *string, key bool) setter {
	return func(c *Config, v, dir string) error {
		if !s3url.Is(v) {
			return pathSetter(field, true)(c, v, dir)
		}
		u, err := s3url.Parse(v)
		if err != nil {
			return err
		}
		if key && u.Prefix == "" {
			return fmt.Errorf("%q names no object (want s3://BUCKET/KEY)", v)
		}
		*field(c) = u.String()
		return nil
	}
}

func endpointSetter(c *Config, v, _ string) error {
	if v != "" {
		if _, err := s3url.CheckEndpoint(v); err != nil {
			return err
		}
	}
	c.S3Endpoint = v
	return nil
}

func regionSetter(c *Config, v, _ string) error {
	if v == "" || strings.ContainsAny(v, " \t/") {
		return fmt.Errorf("%q is not a region (e.g. us-east-1)", v)
	}
	c.S3Region = v
	return nil
}

func partSizeSetter(c *Config, v, _ string) error {
	n, err := protocol.ParseSize(v)
	if err != nil {
		return err
	}
	c.S3PartSize = n
	return checkPartSize(n)
}

func logFormatSetter(c *Config, v, _ string) error {
	if v != "text" && v != "json" {
		return fmt.Errorf("%q is neither text nor json", v)
	}
	c.LogFormat = v
	return nil
}

func tlsSetter(c *Config, v, _ string) error {
	if v != "" && v != "auto" {
		return fmt.Errorf("%q is not auto (leave it empty, or set tls_cert and tls_key)", v)
	}
	c.TLS = v
	return nil
}

func minFreeSpaceSetter(c *Config, v, _ string) error {
	n, err := ParseMinFreeSpace(v)
	if err != nil {
		return err
	}
	c.MinFreeSpace = n
	return nil
}

func runAsSetter(c *Config, v, _ string) error {
	if strings.ContainsAny(v, " \t:/") {
		return fmt.Errorf("%q is not a user name", v)
	}
	c.RunAs = v
	return nil
}

func portsSetter(c *Config, v, _ string) error {
	if _, _, err := ParsePorts(v); err != nil {
		return err
	}
	c.FTPPassivePorts = v
	return nil
}

// textSetter sets a text shown to clients, where the two characters "\n"
// stand for a line break.
func textSetter(field func(*Config) *string) setter {
	return func(c *Config, v, _ string) error {
		if len(v) > MaxWelcome {
			return fmt.Errorf("%d bytes is too long (at most %d)", len(v), MaxWelcome)
		}
		*field(c) = strings.ReplaceAll(v, `\n`, "\n")
		return nil
	}
}

// boolSetter sets true or false.
func boolSetter(field func(*Config) *bool) setter {
	return func(c *Config, v, _ string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is neither true nor false", v)
		}
		*field(c) = b
		return nil
	}
}

// countSetter sets a number that is at least 1.
func countSetter(field func(*Config) *int) setter {
	return func(c *Config, v, _ string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
		if n < 1 {
			return fmt.Errorf("%d is too small (at least 1)", n)
		}
		*field(c) = n
		return nil
	}
}

// durationSetter sets a positive Go duration.
func durationSetter(field func(*Config) *time.Duration) setter {
	return func(c *Config, v, _ string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%q is not a duration (e.g. 30s, 5m, 1h)", v)
		}
		if d <= 0 {
			return fmt.Errorf("%q is not positive", v)
		}
		*field(c) = d
		return nil
	}
}

// addrSetter sets a HOST:PORT; example is shown in the error. An empty
// value is an error when required, else it unsets.
func addrSetter(field func(*Config) *string, example string, required bool) setter {
	return func(c *Config, v, _ string) error {
		if v != "" || required {
			if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
				return fmt.Errorf("%q is not an address (want HOST:PORT, e.g. %s)", v, example)
			}
		}
		*field(c) = v
		return nil
	}
}

// pathSetter sets a path, relative to the config file's folder unless it is
// absolute. An empty value is an error when required, else it unsets.
func pathSetter(field func(*Config) *string, required bool) setter {
	return func(c *Config, v, dir string) error {
		switch {
		case v == "" && required:
			return fmt.Errorf("empty path")
		case v != "" && !filepath.IsAbs(v):
			v = filepath.Join(dir, v)
		}
		*field(c) = v
		return nil
	}
}
