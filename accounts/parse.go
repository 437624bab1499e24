package accounts

import (
	"fmt"
	"ftpx/protocol"
	"strconv"
	"strings"

	"ftpx/internal/iniline"

	"golang.org/x/crypto/bcrypt"
)

// This file is the parser shared by Load and the editor: it keeps every
// line of the file as written, so that an edit replaces or removes
// exactly the lines of one section and leaves the rest byte for byte.

// file is a parsed accounts file.
type file struct {
	lines    []string // as written, each with its line terminator (the last may have none)
	sections []*section
	byName   map[string]*section
}

// section is one [user] section.
type section struct {
	name   string
	header int // index in file.lines of the [name] line
	last   int // index of the section's last key line (header when it has none)
	keys   []keyLine
	acct   Account
	secret string // the password value: a bcrypt hash, or plaintext
}

// keyLine is one "key = value" line.
type keyLine struct {
	index      int    // in file.lines
	key        string // lower-cased
	raw        string // as written (a folder's name keeps its case)
	value      string // comment stripped, unquoted
	start, end int    // the value as written (quotes included) within the line
}

// parse reads an accounts file's content. Errors are "PATH:LINE: what".
func parse(path string, content []byte) (*file, error) {
	f := &file{byName: map[string]*section{}}
	text := strings.TrimPrefix(string(content), "\ufeff")
	bom := len(content) - len(text)
	f.lines = strings.SplitAfter(string(content), "\n")
	if f.lines[len(f.lines)-1] == "" {
		f.lines = f.lines[:len(f.lines)-1]
	}
	var cur *section
	for i, raw := range f.lines {
		errorf := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s", path, i+1, fmt.Sprintf(format, args...))
		}
		line := strings.TrimRight(raw, "\r\n")
		skip := 0
		if i == 0 {
			skip = bom
		}
		l, err := iniline.Scan(line, skip)
		if err != nil {
			return nil, errorf("%v", err)
		}
		switch l.Kind {
		case iniline.Blank:
			continue
		case iniline.Section:
			if err := cur.finish(path); err != nil {
				return nil, err
			}
			if !ValidName(l.Name) {
				return nil, errorf("invalid user name %q (1-64 of A-Z a-z 0-9 . _ -, not starting with . or -)", l.Name)
			}
			if prev, dup := f.byName[l.Name]; dup {
				return nil, errorf("user %q is already defined on line %d", l.Name, prev.header+1)
			}
			if prev := f.sameButCase(l.Name); prev != nil {
				return nil, errorf("user %q differs from %q (line %d) only in case; homes would clash on a case-insensitive file system", l.Name, prev.name, prev.header+1)
			}
			cur = &section{name: l.Name, header: i, last: i}
			f.sections = append(f.sections, cur)
			f.byName[l.Name] = cur
		case iniline.Key:
			if cur == nil {
				return nil, errorf("key %q is outside any [user] section", l.Key)
			}
			if err := cur.add(keyLine{index: i, key: strings.ToLower(l.Key), raw: l.Key, value: l.Value, start: l.Start, end: l.End}); err != nil {
				return nil, errorf("%v", err)
			}
		}
	}
	if err := cur.finish(path); err != nil {
		return nil, err
	}
	return f, nil
}

// sameButCase returns the section whose name equals name ignoring case,
// or nil.
func (f *file) sameButCase(name string) *section {
	for _, s := range f.sections {
		if strings.EqualFold(s.name, name) {
			return s
		}
	}
	return nil
}

// add checks one key line of the section and records it.
func (s *section) add(k keyLine) error {
	for _, prev := range s.keys {
		if prev.key == k.key && k.key != "ssh_key" {
			return fmt.Errorf("duplicate key %q (first on line %d)", k.key, prev.index+1)
		}
		if prev.key == "quota" && k.key == "quotation" || prev.key == "quotation" && k.key == "quota" {
			return fmt.Errorf("both quota and quotation are given (the other on line %d); keep quota", prev.index+1)
		}
	}
	switch k.key {
	case "password":
		if k.value == "" {
			return fmt.Errorf("password is empty")
		}
		if isHash(k.value) {
			if err := checkHash(k.value); err != nil {
				return fmt.Errorf("password: %v", err)
			}
		} else {
			s.acct.Plaintext = true
		}
		s.secret = k.value
	case "quota":
		n, err := protocol.ParseSize(k.value)
		if err != nil {
			return fmt.Errorf("quota: %v", err)
		}
		s.acct.Quota = n
	case "quotation":
		n, err := parseQuotation(k.value)
		if err != nil {
			return fmt.Errorf("quotation: %v", err)
		}
		s.acct.Quota = n
	case "perms":
		p, err := protocol.ParsePerms(k.value)
		if err != nil {
			return fmt.Errorf("perms: %v", err)
		}
		s.acct.Perms = p
	case "max_sessions":
		n, err := strconv.Atoi(k.value)
		if err != nil || n < 1 {
			return fmt.Errorf("max_sessions: %q is not a number of at least 1", k.value)
		}
		s.acct.MaxSessions = n
	case "upload_rate", "download_rate":
		n, err := parseRate(k.value)
		if err != nil {
			return fmt.Errorf("%s: %v", k.key, err)
		}
		if k.key == "upload_rate" {
			s.acct.UploadRate = n
		} else {
			s.acct.DownloadRate = n
		}
	case "ssh_key":
		if _, err := parseSSHKey(k.value); err != nil {
			return fmt.Errorf("ssh_key: %v", err)
		}
		s.acct.SSHKeys = append(s.acct.SSHKeys, k.value)
	default:
		const prefix = "folder."
		if len(k.raw) < len(prefix) || !strings.EqualFold(k.raw[:len(prefix)], prefix) {
			return fmt.Errorf("unknown key %q (want password, quota, perms, max_sessions, upload_rate, download_rate, ssh_key or folder.NAME)", k.key)
		}
		f, err := parseFolder(k.raw[len(prefix):], k.value)
		if err != nil {
			return fmt.Errorf("%s: %v", k.raw, err)
		}
		s.acct.Folders = append(s.acct.Folders, f)
	}
	s.keys = append(s.keys, k)
	s.last = k.index
	return nil
}

// finish checks what a whole section needs; s may be nil (no section yet).
func (s *section) finish(path string) error {
	if s == nil {
		return nil
	}
	if s.secret == "" {
		return fmt.Errorf("%s:%d: user %q has no password", path, s.header+1, s.name)
	}
	s.acct.Name = s.name
	if !s.hasKey("quota") && !s.hasKey("quotation") {
		s.acct.Quota = Unlimited
	}
	if !s.hasKey("perms") {
		s.acct.Perms = protocol.PermAll
	}
	return nil
}

func (s *section) hasKey(key string) bool {
	for _, k := range s.keys {
		if k.key == key {
			return true
		}
	}
	return false
}

// parseQuotation reads the older Quotation key: a number of MB.
func parseQuotation(v string) (int64, error) {
	whole, frac, _ := strings.Cut(v, ".")
	if whole == "" || strings.Trim(whole, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" || strings.HasSuffix(v, ".") {
		return 0, fmt.Errorf("%q is not a number of MB", v)
	}
	return protocol.ParseSize(v + "MB")
}

// isHash tells a bcrypt hash from a plaintext password by its prefix.
func isHash(v string) bool {
	return strings.HasPrefix(v, "$2a$") || strings.HasPrefix(v, "$2b$") || strings.HasPrefix(v, "$2y$")
}

// checkHash checks the shape of a bcrypt hash: "$2a$NN$" then 53 characters
// of bcrypt's base64 alphabet, with a cost bcrypt accepts.
func checkHash(v string) error {
	const alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	if len(v) != 60 || v[6] != '$' || strings.Trim(v[7:], alphabet) != "" {
		return fmt.Errorf("not a well-formed bcrypt hash")
	}
	if _, err := bcrypt.Cost([]byte(v)); err != nil {
		return fmt.Errorf("not a well-formed bcrypt hash (%v)", err)
	}
	return nil
}
