package client

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DefaultKnownServers is the file of pinned server fingerprints:
// $FTPX_CONFIG_DIR/known_servers, else $XDG_CONFIG_HOME/ftpx/known_servers,
// else ~/.config/ftpx/known_servers.
func DefaultKnownServers() string {
	if d := os.Getenv("FTPX_CONFIG_DIR"); d != "" {
		return filepath.Join(d, "known_servers")
	}
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "ftpx", "known_servers")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "."
	}
	return filepath.Join(home, ".config", "ftpx", "known_servers")
}

// loadKnown reads the pins: one "ADDR FINGERPRINT" a line; blank lines and
// lines starting with # are skipped. A missing file holds no pins.
func loadKnown(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	known := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		addr, fp, ok := strings.Cut(line, " ")
		if !ok || !strings.HasPrefix(strings.TrimSpace(fp), "SHA256:") {
			return nil, fmt.Errorf("%s:%d: want ADDR SHA256:FINGERPRINT", path, n)
		}
		known[addr] = strings.TrimSpace(fp)
	}
	return known, sc.Err()
}

// pin adds addr's fingerprint to the file, creating it (0600) and its
// folder as needed.
func pin(path, addr, fp string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%s %s\n", addr, fp)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
