package conf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"ftpx/internal/iniline"
	"ftpx/internal/s3url"
	"ftpx/protocol"
)

// Config is the server's configuration.
type Config struct {
	Listen      string        `ini:"listen"`       // address to listen on; default "127.0.0.1:2121"
	Root        string        `ini:"root"`         // data root, each user's home is ROOT/NAME (a directory, or s3://BUCKET[/PREFIX]); default "var/data"
	Accounts    string        `ini:"accounts"`     // accounts file; default "var/accounts.ini"
	MaxConns    int           `ini:"max_conns"`    // connection limit, at least 1; default 256
	IdleTimeout time.Duration `ini:"idle_timeout"` // more than 0; default 5m
	LogFormat   string        `ini:"log_format"`   // "text" (the default) or "json"
	LogFile     string        `ini:"log_file"`     // "" for standard error
	TLS         string        `ini:"tls"`          // "" or "auto"
	TLSCert     string        `ini:"tls_cert"`     // certificate file
	TLSKey      string        `ini:"tls_key"`      // key file
	RequireTLS  bool          `ini:"require_tls"`  // refuse everything but starttls on a plaintext connection

	PartialMaxAge time.Duration `ini:"partial_max_age"` // interrupted uploads untouched this long are removed; default 168h

	MaxConnsPerIP    int           `ini:"max_conns_per_ip"`   // connections from one address; default 64
	MaxLoginFailures int           `ini:"max_login_failures"` // failed logins from one address before a ban; default 10
	LoginBanTime     time.Duration `ini:"login_ban_time"`     // how long such a ban lasts; default 15m

	Fsync bool `ini:"fsync"` // sync every upload to disk before acknowledging it; default true

	MinFreeSpace int64 `ini:"min_free_space"` // a put must leave this free on the file system, or it is refused (286); AutoMinFreeSpace: 1%, at most 1GB

	AnonymousRoot     string `ini:"anonymous_root"`      // served read-only to the user anonymous (any password); "" for off
	AnonymousMaxConns int    `ini:"anonymous_max_conns"` // anonymous sessions at once; default 16
	Welcome           string `ini:"welcome"`             // sent in the greeting; "\n" in the file is a line break
	WelcomeFile       string `ini:"welcome_file"`        // or the content of this file
	Goodbye           string `ini:"goodbye"`             // sent in the answer to quit
	RunAs             string `ini:"run_as"`              // started as root: drop to this user once the port, root and logs are open
	MetricsListen     string `ini:"metrics_listen"`      // address serving Prometheus metrics at /metrics; "" for off

	FTPListen       string `ini:"ftp_listen"`        // address of the FTP front end; "" for off
	FTPPassivePorts string `ini:"ftp_passive_ports"` // FIRST-LAST ports of passive data connections; "" for any free port

	SFTPListen  string `ini:"sftp_listen"`   // address of the SFTP front end; "" for off
	HTTPListen  string `ini:"http_listen"`   // address of the web client and HTTP API; "" for off
	SFTPHostKey string `ini:"sftp_host_key"` // its host key (an OpenSSH private key); "" for one made on first start and kept

	S3Endpoint string `ini:"s3_endpoint"`  // the object store of an s3:// root or folder: http:// (loopback only) or https://
	S3Region   string `ini:"s3_region"`    // default "us-east-1"
	S3PartSize int64  `ini:"s3_part_size"` // parts of a big upload (at least 5 MiB); default 16 MiB
	StateDir   string `ini:"state_dir"`    // what the server keeps on local disk when the root is s3:// (the --tls auto certificate); default "var/state"
}

// MaxWelcome bounds the welcome text (inline or from welcome_file) and
// the goodbye text, in bytes.
const MaxWelcome = 16 << 10

// Default returns the built-in configuration: each setting's Default.
func Default() Config {
	var c Config
	for _, s := range settings {
		if s.Default == "" {
			continue
		}
		if err := s.set(&c, s.Default, ""); err != nil {
			panic("conf: the default of " + s.Key + ": " + err.Error()) // a broken table, caught by the tests
		}
	}
	return c
}

// AutoMinFreeSpace as min_free_space ("auto", the default) keeps 1% of
// the file system free, at most 1GB.
const AutoMinFreeSpace int64 = -1

// ParseMinFreeSpace reads a min_free_space value: "auto" or a size (0
// keeps nothing in reserve: a put is refused only when it cannot fit).
func ParseMinFreeSpace(v string) (int64, error) {
	if strings.EqualFold(strings.TrimSpace(v), "auto") {
		return AutoMinFreeSpace, nil
	}
	n, err := protocol.ParseSize(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is neither auto nor a size (e.g. 0, 500MB, 2GB)", v)
	}
	return n, nil
}

// ParsePorts parses a port range "FIRST-LAST" (1024-65535, FIRST <=
// LAST); "" is 0, 0: any free port.
func ParsePorts(v string) (first, last int, err error) {
	if v == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(v, "-")
	first, err1 := strconv.Atoi(strings.TrimSpace(a))
	last, err2 := strconv.Atoi(strings.TrimSpace(b))
	switch {
	case !ok || err1 != nil || err2 != nil:
		return 0, 0, fmt.Errorf("%q is not a port range (want FIRST-LAST, e.g. 30000-30099)", v)
	case first < 1024 || last > 65535 || first > last:
		return 0, 0, fmt.Errorf("%q: want 1024 <= FIRST <= LAST <= 65535", v)
	}
	return first, last, nil
}

// WelcomeText returns the welcome text: welcome, or the content of
// welcome_file (read now, so that a reload sees a new one).
func (c Config) WelcomeText() (string, error) {
	if c.WelcomeFile == "" {
		return c.Welcome, nil
	}
	b, err := os.ReadFile(c.WelcomeFile)
	if err != nil {
		return "", fmt.Errorf("welcome_file: %w", err)
	}
	if len(b) > MaxWelcome {
		return "", fmt.Errorf("welcome_file: %s: %d bytes is too long (at most %d)", c.WelcomeFile, len(b), MaxWelcome)
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("welcome_file: %s: not UTF-8 text", c.WelcomeFile)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// Load reads the config file at path over Default. An unknown key, a
// section, a key given twice or a bad value gives an error
// "PATH:LINE: what is wrong"; a missing file an error wrapping
// fs.ErrNotExist.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	c := Default()
	dir := filepath.Dir(path)
	seen := map[string]int{}
	lines := strings.Split(strings.TrimPrefix(string(data), "\ufeff"), "\n")
	for i, line := range lines {
		errorf := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s", path, i+1, fmt.Sprintf(format, args...))
		}
		l, err := scanLine(line)
		if err != nil {
			return Config{}, errorf("%v", err)
		}
		switch l.Kind {
		case iniline.Blank:
			continue
		case iniline.Section:
			return Config{}, errorf("sections are not allowed: [%s] (the settings go outside any section)", l.Name)
		}
		key := strings.ToLower(l.Key)
		s, ok := byKey[key]
		if !ok {
			return Config{}, errorf("unknown key %q", l.Key)
		}
		if first, dup := seen[key]; dup {
			return Config{}, errorf("%s is given twice (first on line %d)", key, first)
		}
		seen[key] = i + 1
		if err := s.set(&c, l.Value, dir); err != nil {
			return Config{}, errorf("%s: %v", key, err)
		}
	}
	return c, nil
}

// scanLine takes one line of the config file apart (the byte order mark
// already removed). Trailing white space of any kind, a '\r' included, is
// not part of an unquoted value, and the messages for a broken line do not
// suggest a [section], which the config file does not allow.
func scanLine(line string) (iniline.Line, error) {
	l, err := iniline.Scan(strings.TrimRightFunc(line, unicode.IsSpace), 0)
	var syn *iniline.SyntaxError
	switch {
	case !errors.As(err, &syn):
		return l, err
	case syn.Section:
		return l, fmt.Errorf("broken section line %q", syn.Text)
	default:
		return l, fmt.Errorf("broken line %q (want key = value)", syn.Text)
	}
}

// Validate checks the rules that span several settings, and each setting's
// own rule again, for a Config built from the file and then the flags.
func (c Config) Validate() error {
	switch {
	case c.Listen == "":
		return fmt.Errorf("listen: empty address")
	case c.Root == "":
		return fmt.Errorf("root: empty path")
	case c.Accounts == "":
		return fmt.Errorf("accounts: empty path")
	case c.MaxConns < 1:
		return fmt.Errorf("max_conns: %d is too small (at least 1)", c.MaxConns)
	case c.IdleTimeout <= 0:
		return fmt.Errorf("idle_timeout: %v is not positive", c.IdleTimeout)
	case c.PartialMaxAge <= 0:
		return fmt.Errorf("partial_max_age: %v is not positive", c.PartialMaxAge)
	case c.MaxConnsPerIP < 1:
		return fmt.Errorf("max_conns_per_ip: %d is too small (at least 1)", c.MaxConnsPerIP)
	case c.MaxLoginFailures < 1:
		return fmt.Errorf("max_login_failures: %d is too small (at least 1)", c.MaxLoginFailures)
	case c.LoginBanTime <= 0:
		return fmt.Errorf("login_ban_time: %v is not positive", c.LoginBanTime)
	case c.LogFormat != "text" && c.LogFormat != "json":
		return fmt.Errorf("log_format: %q is neither text nor json", c.LogFormat)
	case c.TLS != "" && c.TLS != "auto":
		return fmt.Errorf("tls: %q is not auto", c.TLS)
	case c.TLS == "auto" && (c.TLSCert != "" || c.TLSKey != ""):
		return fmt.Errorf("tls = auto and tls_cert/tls_key are both set; choose one")
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return fmt.Errorf("tls_cert and tls_key go together; set both or neither")
	case c.RequireTLS && c.TLS == "" && c.TLSCert == "":
		return fmt.Errorf("require_tls needs tls = auto or tls_cert and tls_key")
	case c.AnonymousMaxConns < 1:
		return fmt.Errorf("anonymous_max_conns: %d is too small (at least 1)", c.AnonymousMaxConns)
	case c.Welcome != "" && c.WelcomeFile != "":
		return fmt.Errorf("welcome and welcome_file are both set; choose one")
	case c.MetricsListen != "" && c.MetricsListen == c.Listen:
		return fmt.Errorf("metrics_listen: %s is the file-transfer address; metrics need their own", c.MetricsListen)
	case c.StateDir == "":
		return fmt.Errorf("state_dir: empty path")
	case c.FTPListen != "" && (c.FTPListen == c.Listen || c.FTPListen == c.MetricsListen) && !strings.HasSuffix(c.FTPListen, ":0"):
		return fmt.Errorf("ftp_listen: %s is taken by listen or metrics_listen; FTP needs its own address", c.FTPListen)
	case c.SFTPListen != "" && (c.SFTPListen == c.Listen || c.SFTPListen == c.MetricsListen || c.SFTPListen == c.FTPListen) && !strings.HasSuffix(c.SFTPListen, ":0"):
		return fmt.Errorf("sftp_listen: %s is taken by listen, metrics_listen or ftp_listen; SFTP needs its own address", c.SFTPListen)
	case c.HTTPListen != "" && (c.HTTPListen == c.Listen || c.HTTPListen == c.MetricsListen || c.HTTPListen == c.FTPListen || c.HTTPListen == c.SFTPListen) && !strings.HasSuffix(c.HTTPListen, ":0"):
		return fmt.Errorf("http_listen: %s is taken by listen, metrics_listen, ftp_listen or sftp_listen; HTTP needs its own address", c.HTTPListen)
	}
	if _, _, err := ParsePorts(c.FTPPassivePorts); err != nil {
		return fmt.Errorf("ftp_passive_ports: %v", err)
	}
	return c.validateS3()
}

// validateS3 checks the object-store settings: an s3:// root needs an
// endpoint, and each must read as it would in the file.
func (c Config) validateS3() error {
	if s3url.Is(c.Root) {
		if _, err := s3url.Parse(c.Root); err != nil {
			return fmt.Errorf("root: %v", err)
		}
		if c.S3Endpoint == "" {
			return fmt.Errorf("root %s: an s3:// root needs s3_endpoint (--s3-endpoint URL)", c.Root)
		}
	}
	if c.S3Endpoint != "" {
		if _, err := s3url.CheckEndpoint(c.S3Endpoint); err != nil {
			return fmt.Errorf("s3_endpoint: %v", err)
		}
	}
	if err := checkPartSize(c.S3PartSize); err != nil {
		return fmt.Errorf("s3_part_size: %v", err)
	}
	return nil
}

// checkPartSize keeps parts within S3's limits: at least 5 MiB (every
// part but the last), at most 5 GiB.
func checkPartSize(n int64) error {
	if n < 5<<20 || n > 5<<30 {
		return fmt.Errorf("%s is outside 5MB to 5GB", protocol.FormatSize(max(n, 0)))
	}
	return nil
}

// Changed returns the keys whose values differ between a and b, in the
// order of Config's fields.
func Changed(a, b Config) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var keys []string
	for i := range va.NumField() {
		if va.Field(i).Interface() != vb.Field(i).Interface() {
			keys = append(keys, va.Type().Field(i).Tag.Get("ini"))
		}
	}
	return keys
}
