package conf

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"ftpx/accounts"
	"ftpx/protocol"
)

// writeConfig writes content to a config file in a new folder.
func writeConfig(t testing.TB, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ftpx-server.ini")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefault(t *testing.T) {
	want := Config{
		Listen:      "127.0.0.1:2121",
		Root:        "var/data",
		Accounts:    "var/accounts.ini",
		MaxConns:    256,
		IdleTimeout: 5 * time.Minute,
		LogFormat:   "text",

		PartialMaxAge: 168 * time.Hour,

		MaxConnsPerIP:    64,
		MaxLoginFailures: 10,
		LoginBanTime:     15 * time.Minute,

		Fsync:        true,
		MinFreeSpace: AutoMinFreeSpace,

		AnonymousMaxConns: 16,

		S3Region:   "us-east-1",
		S3PartSize: 16 << 20,
		StateDir:   "var/state",
	}
	if got := Default(); got != want {
		t.Errorf("Default() = %+v, want %+v", got, want)
	}
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
}

func TestLoadEmptyFileGivesDefaults(t *testing.T) {
	c, err := Load(writeConfig(t, "; nothing set\n\n# at all\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c != Default() {
		t.Errorf("Load = %+v, want Default()", c)
	}
}

func TestLoadEveryKey(t *testing.T) {
	path := writeConfig(t, `
listen       = 0.0.0.0:2200    ; trailing comment
ROOT         = data            # other comment style
accounts     = /etc/ftpx/accounts.ini
max_conns    = 10
idle_timeout = 90s
log_format   = json
log_file     = "logs/ftpx server.log"
tls          = auto
tls_cert     = cert.pem
tls_key      = key.pem
require_tls  = true
partial_max_age = 36h
max_conns_per_ip = 5
max_login_failures = 3
login_ban_time = 1h
fsync = false
min_free_space = 2GB
anonymous_root = pub
anonymous_max_conns = 3
welcome = "Hello; welcome\nto ftpx"
goodbye = bye now
run_as = ftpx
metrics_listen = 127.0.0.1:9121
s3_endpoint = https://s3.example.com
s3_region = eu-west-3
s3_part_size = 32MB
state_dir = state
ftp_listen = 0.0.0.0:21
ftp_passive_ports = 30000-30099
`)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(path)
	want := Config{
		Listen:      "0.0.0.0:2200",
		Root:        filepath.Join(dir, "data"),
		Accounts:    "/etc/ftpx/accounts.ini",
		MaxConns:    10,
		IdleTimeout: 90 * time.Second,
		LogFormat:   "json",
		LogFile:     filepath.Join(dir, "logs/ftpx server.log"),
		TLS:         "auto",
		TLSCert:     filepath.Join(dir, "cert.pem"),
		TLSKey:      filepath.Join(dir, "key.pem"),
		RequireTLS:  true,

		PartialMaxAge: 36 * time.Hour,

		MaxConnsPerIP:    5,
		MaxLoginFailures: 3,
		LoginBanTime:     time.Hour,

		MinFreeSpace: 2 << 30,

		AnonymousRoot:     filepath.Join(dir, "pub"),
		AnonymousMaxConns: 3,
		Welcome:           "Hello; welcome\nto ftpx",
		Goodbye:           "bye now",
		RunAs:             "ftpx",
		MetricsListen:     "127.0.0.1:9121",

		S3Endpoint:      "https://s3.example.com",
		S3Region:        "eu-west-3",
		S3PartSize:      32 << 20,
		StateDir:        filepath.Join(dir, "state"),
		FTPListen:       "0.0.0.0:21",
		FTPPassivePorts: "30000-30099",
	}
	if c != want {
		t.Errorf("Load =\n%+v\nwant\n%+v", c, want)
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope.ini")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadErrorsNameTheLine(t *testing.T) {
	head := "; config\nlisten = 127.0.0.1:2121\n\n" // lines 1-3
	for _, tc := range []struct {
		name, content string
		line          int
		msg           string
	}{
		{"unknown key", head + "colour = blue\n", 4, `unknown key "colour"`},
		{"section", head + "[server]\nlisten = :21\n", 4, "sections are not allowed"},
		{"broken section", head + "[server\n", 4, "broken section line"},
		{"no equals", head + "max_conns\n", 4, "broken line"},
		{"no key", head + " = 5\n", 4, "missing key"},
		{"duplicate key", head + "Listen = :21\n", 4, "listen is given twice (first on line 2)"},
		{"max_conns not a number", head + "max_conns = many\n", 4, `max_conns: "many" is not a number`},
		{"max_conns zero", head + "max_conns = 0\n", 4, "max_conns: 0 is too small"},
		{"max_conns with comment glued", head + "max_conns = 5;x\n", 4, `max_conns: "5;x" is not a number`},
		{"idle_timeout no unit", head + "idle_timeout = 5\n", 4, `idle_timeout: "5" is not a duration`},
		{"idle_timeout zero", head + "idle_timeout = 0s\n", 4, "idle_timeout: \"0s\" is not positive"},
		{"idle_timeout negative", head + "idle_timeout = -1m\n", 4, "not positive"},
		{"log_format", head + "log_format = xml\n", 4, `log_format: "xml" is neither text nor json`},
		{"tls", head + "tls = yes\n", 4, `tls: "yes" is not auto`},
		{"require_tls", head + "require_tls = maybe\n", 4, `require_tls: "maybe" is neither true nor false`},
		{"min_free_space", head + "min_free_space = lots\n", 4, `min_free_space: "lots" is neither auto nor a size`},
		{"min_free_space unlimited", head + "min_free_space = unlimited\n", 4, `min_free_space: "unlimited" is neither auto nor a size`},
		{"duplicate key later", head + "max_conns = 3\nlisten = localhost\n", 5, "listen is given twice"},
		{"listen bad", "listen = localhost\n", 1, `listen: "localhost" is not an address`},
		{"listen empty", "listen =\n", 1, "listen:"},
		{"root empty", "root =\n", 1, "root: empty path"},
		{"accounts empty", "\n\naccounts = ; nothing\n", 3, "accounts: empty path"},
		{"unclosed quote", "root = \"data\n", 1, "missing closing quote"},
		{"crlf", "listen = :21\r\nmax_conns = x\r\n", 2, `max_conns: "x" is not a number`},
		{"ftp_listen bad", head + "ftp_listen = 2122\n", 4, `ftp_listen: "2122" is not an address`},
		{"ftp_passive_ports not a range", head + "ftp_passive_ports = 30000\n", 4, `ftp_passive_ports: "30000" is not a port range`},
		{"ftp_passive_ports backwards", head + "ftp_passive_ports = 30099-30000\n", 4, "want 1024 <= FIRST <= LAST <= 65535"},
		{"ftp_passive_ports privileged", head + "ftp_passive_ports = 20-30\n", 4, "want 1024 <= FIRST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.content)
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			prefix := fmt.Sprintf("%s:%d: ", path, tc.line)
			if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q, want %q...%q", err, prefix, tc.msg)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Config)
		msg    string // "" for valid
	}{
		{"tls auto", func(c *Config) { c.TLS = "auto"; c.RequireTLS = true }, ""},
		{"cert and key", func(c *Config) { c.TLSCert, c.TLSKey = "c", "k" }, ""},
		{"cert without key", func(c *Config) { c.TLSCert = "c" }, "tls_cert and tls_key"},
		{"auto and cert", func(c *Config) { c.TLS = "auto"; c.TLSCert, c.TLSKey = "c", "k" }, "choose one"},
		{"require_tls alone", func(c *Config) { c.RequireTLS = true }, "require_tls"},
		{"max_conns", func(c *Config) { c.MaxConns = 0 }, "max_conns"},
		{"idle_timeout", func(c *Config) { c.IdleTimeout = 0 }, "idle_timeout"},
		{"log_format", func(c *Config) { c.LogFormat = "xml" }, "log_format"},
		{"tls", func(c *Config) { c.TLS = "on" }, "tls:"},
		{"listen", func(c *Config) { c.Listen = "" }, "listen"},
	} {
		c := Default()
		tc.change(&c)
		err := c.Validate()
		if tc.msg == "" && err != nil || tc.msg != "" && (err == nil || !strings.Contains(err.Error(), tc.msg)) {
			t.Errorf("%s: Validate() = %v, want %q", tc.name, err, tc.msg)
		}
	}
}

func TestSampleConfigIsTheFile(t *testing.T) {
	onDisk, err := os.ReadFile("ftpx-server.ini")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, SampleConfig) {
		t.Error("SampleConfig differs from ftpx-server.ini")
	}
}

// TestSampleConfigLoads checks the sample sets every key to its default,
// except root, accounts and state_dir, which point at ../var relative to
// the file.
func TestSampleConfigLoads(t *testing.T) {
	repo := t.TempDir()
	path := filepath.Join(repo, "conf", "ftpx-server.ini")
	os.Mkdir(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, SampleConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Root = filepath.Join(repo, "var", "data")
	want.Accounts = filepath.Join(repo, "var", "accounts.ini")
	want.StateDir = filepath.Join(repo, "var", "state")
	if c != want {
		t.Errorf("sample config =\n%+v\nwant\n%+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}

	// As `make run` uses it: from the repository's root, conf/ftpx-server.ini.
	c, err = Load("ftpx-server.ini")
	if err != nil {
		t.Fatal(err)
	}
	if c.Root != filepath.Join("..", "var", "data") || c.Accounts != filepath.Join("..", "var", "accounts.ini") {
		t.Errorf("from conf/: root %q, accounts %q", c.Root, c.Accounts)
	}
}

func TestSampleAccountsAuthenticatesDemo(t *testing.T) {
	onDisk, err := os.ReadFile("accounts.ini")
	if err != nil || !bytes.Equal(onDisk, SampleAccounts) {
		t.Fatalf("SampleAccounts differs from accounts.ini (%v)", err)
	}
	path := filepath.Join(t.TempDir(), "accounts.ini")
	if err := os.WriteFile(path, SampleAccounts, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := accounts.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if w := s.Warnings(); len(w) != 0 {
		t.Errorf("Warnings() = %q", w)
	}
	a, err := s.Authenticate("demo", "demo-password")
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "demo" || a.Quota != 10<<30 || a.Perms != protocol.PermAll || len(a.Folders) != 0 {
		t.Errorf("demo = %+v", a)
	}
	if _, err := s.Authenticate("demo", "wrong"); !errors.Is(err, accounts.ErrBadPassword) {
		t.Errorf("wrong password: %v", err)
	}
}

func TestWelcomeFileAndValidation(t *testing.T) {
	dir := t.TempDir()
	wf := filepath.Join(dir, "motd.txt")
	os.WriteFile(wf, []byte("Line one\nLine two\n"), 0o644)
	c, err := Load(writeConfig(t, "welcome_file = "+wf+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.WelcomeText(); err != nil || got != "Line one\nLine two" {
		t.Errorf("WelcomeText() = %q, %v", got, err)
	}
	c.Welcome = "both"
	if err := c.Validate(); err == nil {
		t.Error("welcome and welcome_file together validated")
	}
	c = Default()
	c.MetricsListen = c.Listen
	if err := c.Validate(); err == nil {
		t.Error("metrics_listen on the file-transfer address validated")
	}
	c = Default()
	c.FTPListen = c.Listen
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "ftp_listen") {
		t.Errorf("ftp_listen on the file-transfer address: %v", err)
	}
	c.Listen, c.FTPListen = "127.0.0.1:0", "127.0.0.1:0" // two free ports
	if err := c.Validate(); err != nil {
		t.Errorf("both on port 0: %v", err)
	}
	c.FTPPassivePorts = "1-2" // as a flag sets it, past Load's check
	if err := c.Validate(); err == nil {
		t.Error("a bad ftp_passive_ports from a flag validated")
	}
	for _, bad := range []string{"metrics_listen = nowhere\n", "anonymous_max_conns = 0\n", "run_as = a b\n"} {
		if _, err := Load(writeConfig(t, bad)); err == nil || !strings.Contains(err.Error(), ":1: ") {
			t.Errorf("%q: %v, want an error on line 1", bad, err)
		}
	}
}

func TestChangedNamesKeys(t *testing.T) {
	a, b := Default(), Default()
	b.Welcome, b.MaxConnsPerIP = "hi", 3
	if got := Changed(a, b); fmt.Sprint(got) != "[max_conns_per_ip welcome]" {
		t.Errorf("Changed = %v", got)
	}
	// Every field is named by a key of the file, and every key names a field.
	typ := reflect.TypeOf(Config{})
	tags := map[string]bool{}
	for i := range typ.NumField() {
		tag := typ.Field(i).Tag.Get("ini")
		if _, ok := byKey[tag]; !ok {
			t.Errorf("field %s: tag %q is not a key", typ.Field(i).Name, tag)
		}
		tags[tag] = true
	}
	for k := range byKey {
		if !tags[k] {
			t.Errorf("key %s has no field", k)
		}
	}
}

// An s3:// root is kept as written (not made relative to the file) and
// needs an endpoint; http:// is for loopback stores only.
func TestS3Root(t *testing.T) {
	c, err := Load(writeConfig(t, "root = s3://ftpx/team/\ns3_endpoint = http://127.0.0.1:9000\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Root != "s3://ftpx/team" || c.S3Endpoint != "http://127.0.0.1:9000" || c.Validate() != nil {
		t.Errorf("root %q endpoint %q: %v", c.Root, c.S3Endpoint, c.Validate())
	}
	for content, want := range map[string]string{
		"root = s3://ftpx\n":                                   "needs s3_endpoint",
		"root = s3://Bad_Bucket\n":                             "bucket name",
		"s3_endpoint = http://minio.lan:9000\n":                "loopback",
		"root = s3://ftpx/../x\ns3_endpoint = https://s3.io\n": "not allowed",
		"s3_region =\n":                                        "not a region",
		"s3_part_size = 1MB\n":                                 "outside 5MB to 5GB",
	} {
		c, err := Load(writeConfig(t, content))
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error with %q", content, err, want)
		}
	}
}

// An s3:// accounts file is kept as written too; it names one object.
func TestS3Accounts(t *testing.T) {
	c, err := Load(writeConfig(t, "accounts = s3://ftpx/etc/accounts.ini\n"))
	if err != nil || c.Accounts != "s3://ftpx/etc/accounts.ini" {
		t.Fatalf("accounts %q: %v", c.Accounts, err)
	}
	path := writeConfig(t, "accounts = s3://ftpx/\n")
	if _, err := Load(path); err == nil || err.Error() != path+`:1: accounts: "s3://ftpx/" names no object (want s3://BUCKET/KEY)` {
		t.Errorf("accounts = s3://ftpx/: %v", err)
	}
}
