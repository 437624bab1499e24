package conf

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"ftpx/internal/iniline"
)

// Config is the server's configuration.
type Config struct {
	Listen      string        // address to listen on; default "127.0.0.1:2121"
	Root        string        // data root, each user's home is ROOT/NAME; default "var/data"
	Accounts    string        // accounts file; default "var/accounts.ini"
	MaxConns    int           // connection limit, at least 1; default 256
	IdleTimeout time.Duration // more than 0; default 5m
	LogFormat   string        // "text" (the default) or "json"
	LogFile     string        // "" for standard error
	TLS         string        // "" or "auto"
	TLSCert     string        // certificate file
	TLSKey      string        // key file
	RequireTLS  bool          // refuse everything but starttls on a plaintext connection

	PartialMaxAge time.Duration // interrupted uploads untouched this long are removed; default 168h

	MaxConnsPerIP    int           // connections from one address; default 64
	MaxLoginFailures int           // failed logins from one address before a ban; default 10
	LoginBanTime     time.Duration // how long such a ban lasts; default 15m

	Fsync bool // sync every upload to disk before acknowledging it; default true
}

// Default returns the built-in configuration.
func Default() Config {
	return Config{
		Listen:      "127.0.0.1:2121",
		Root:        "var/data",
		Accounts:    "var/accounts.ini",
		MaxConns:    256,
		IdleTimeout: 5 * time.Minute,
		LogFormat:   "text",

		PartialMaxAge: 7 * 24 * time.Hour,

		MaxConnsPerIP:    64,
		MaxLoginFailures: 10,
		LoginBanTime:     15 * time.Minute,

		Fsync: true,
	}
}

// setter checks one value and stores it in c. dir is the config file's
// folder, for relative paths.
type setter func(c *Config, value, dir string) error

// keys maps every key of the config file to its setter.
var keys = map[string]setter{
	"listen": func(c *Config, v, _ string) error {
		if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
			return fmt.Errorf("%q is not an address (want HOST:PORT, e.g. 127.0.0.1:2121)", v)
		}
		c.Listen = v
		return nil
	},
	"root":               pathSetter(func(c *Config) *string { return &c.Root }, true),
	"accounts":           pathSetter(func(c *Config) *string { return &c.Accounts }, true),
	"log_file":           pathSetter(func(c *Config) *string { return &c.LogFile }, false),
	"tls_cert":           pathSetter(func(c *Config) *string { return &c.TLSCert }, false),
	"tls_key":            pathSetter(func(c *Config) *string { return &c.TLSKey }, false),
	"max_conns":          countSetter(func(c *Config) *int { return &c.MaxConns }),
	"max_conns_per_ip":   countSetter(func(c *Config) *int { return &c.MaxConnsPerIP }),
	"max_login_failures": countSetter(func(c *Config) *int { return &c.MaxLoginFailures }),
	"login_ban_time":     durationSetter(func(c *Config) *time.Duration { return &c.LoginBanTime }),
	"idle_timeout":       durationSetter(func(c *Config) *time.Duration { return &c.IdleTimeout }),
	"partial_max_age":    durationSetter(func(c *Config) *time.Duration { return &c.PartialMaxAge }),
	"log_format": func(c *Config, v, _ string) error {
		if v != "text" && v != "json" {
			return fmt.Errorf("%q is neither text nor json", v)
		}
		c.LogFormat = v
		return nil
	},
	"tls": func(c *Config, v, _ string) error {
		if v != "" && v != "auto" {
			return fmt.Errorf("%q is not auto (leave it empty, or set tls_cert and tls_key)", v)
		}
		c.TLS = v
		return nil
	},
	"require_tls": boolSetter(func(c *Config) *bool { return &c.RequireTLS }),
	"fsync":       boolSetter(func(c *Config) *bool { return &c.Fsync }),
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
		set, ok := keys[key]
		if !ok {
			return Config{}, errorf("unknown key %q", l.Key)
		}
		if first, dup := seen[key]; dup {
			return Config{}, errorf("%s is given twice (first on line %d)", key, first)
		}
		seen[key] = i + 1
		if err := set(&c, l.Value, dir); err != nil {
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
	}
	return nil
}
