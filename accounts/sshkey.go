package accounts

import (
	"bufio"
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// parseSSHKey reads one public key as an authorized_keys line gives it
// ("ssh-ed25519 AAAA... comment"; options before the type are refused: an
// ssh_key line grants a login, nothing narrower).
func parseSSHKey(line string) (ssh.PublicKey, error) {
	key, _, options, rest, err := ssh.ParseAuthorizedKey([]byte(line))
	switch {
	case err != nil:
		return nil, errors.New("not an OpenSSH public key (want TYPE BASE64 [COMMENT], e.g. ssh-ed25519 AAAA... alice@laptop)")
	case len(options) > 0:
		return nil, fmt.Errorf("authorized_keys options (%s) are not taken", strings.Join(options, ","))
	case len(bytes.TrimSpace(rest)) > 0:
		return nil, errors.New("one key per ssh_key line")
	}
	return key, nil
}

// Authorizes reports whether key (in the SSH wire format, as
// ssh.PublicKey.Marshal gives it) is one of the account's ssh_key lines.
func (a Account) Authorizes(key []byte) bool {
	for _, line := range a.SSHKeys {
		if k, err := parseSSHKey(line); err == nil && subtle.ConstantTimeCompare(k.Marshal(), key) == 1 {
			return true
		}
	}
	return false
}

// ParseKeys reads an authorized_keys file's content (blank lines and #
// comments skipped) and returns each key as an ssh_key line: its type,
// base64 and comment. An empty content gives no keys.
func ParseKeys(content []byte) ([]string, error) {
	var keys []string
	sc := bufio.NewScanner(bytes.NewReader(content))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, err := parseSSHKey(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		_, comment, _, _, _ := ssh.ParseAuthorizedKey([]byte(line))
		l := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
		if comment = strings.TrimSpace(comment); comment != "" && !strings.ContainsAny(comment, ";#\"") {
			l += " " + comment
		}
		keys = append(keys, l)
	}
	return keys, sc.Err()
}

// SetKeys replaces the ssh_key lines of the user name with keys (ssh_key
// lines as ParseKeys gives them; none removes them all), where the first
// one stood or after the section's last line, keeping every other byte of
// the file. It fails with ErrNoUser for an unknown user.
func SetKeys(ctx context.Context, src Source, name string, keys []string) error {
	for _, k := range keys {
		if _, err := parseSSHKey(k); err != nil {
			return fmt.Errorf("user %s: ssh_key: %v", name, err)
		}
	}
	return edit(ctx, src, false, func(f *file, eol string) error {
		sec, ok := f.byName[name]
		if !ok {
			return fmt.Errorf("user %s: %w", name, ErrNoUser)
		}
		drop := map[int]bool{}
		at := sec.last + 1 // where the new lines go, in the old numbering
		for _, k := range sec.keys {
			if k.key == "ssh_key" {
				if len(drop) == 0 {
					at = k.index
				}
				drop[k.index] = true
			}
		}
		if at == len(f.lines) && at > 0 && !strings.HasSuffix(f.lines[at-1], "\n") {
			f.lines[at-1] += eol
		}
		var out []string
		for i := 0; i <= len(f.lines); i++ {
			if i == at {
				for _, k := range keys {
					out = append(out, "ssh_key  = "+k+eol)
				}
			}
			if i < len(f.lines) && !drop[i] {
				out = append(out, f.lines[i])
			}
		}
		f.lines = out
		return nil
	})
}
