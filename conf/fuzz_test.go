package conf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds Load garbage: it must never panic, every error names the
// file, and what it accepts passes each setting's own check.
func FuzzLoad(f *testing.F) {
	f.Add(string(SampleConfig))
	for _, seed := range []string{
		"", "listen = :21 ; c\n", "[x]\n", "max_conns = many\n", "root = \"a;b\" # c\n",
		"\ufeffidle_timeout = 1h\r\n", "k\n", "tls = auto\nrequire_tls = 1\n",
	} {
		f.Add(seed)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data string) {
		path := filepath.Join(dir, "ftpx-server.ini")
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path)
		if err != nil {
			if !strings.HasPrefix(err.Error(), path+":") {
				t.Fatalf("error without file name: %v", err)
			}
			return
		}
		if c.MaxConns < 1 || c.IdleTimeout <= 0 || c.Root == "" || c.Accounts == "" || c.Listen == "" ||
			c.LogFormat != "text" && c.LogFormat != "json" || c.TLS != "" && c.TLS != "auto" {
			t.Fatalf("accepted %+v", c)
		}
	})
}
