package accounts

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"ftpx/protocol"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

var (
	// ErrBadPassword means an unknown user or a wrong password: callers
	// cannot tell which.
	ErrBadPassword = errors.New("wrong username or password")
	// ErrExists means the user is already in the accounts file.
	ErrExists = errors.New("user already exists")
	// ErrNoUser means the user is not in the accounts file.
	ErrNoUser = errors.New("no such user")
	// ErrBadName means a user name that ValidName refuses.
	ErrBadName = errors.New("invalid user name")
)

// Account is one user of the accounts file.
type Account struct {
	Name      string
	Quota     int64 // bytes, or Unlimited
	Plaintext bool  // the password in the file is not a bcrypt hash

	Perms        protocol.Perm // on the home itself; all three unless perms is given
	MaxSessions  int           // simultaneous sessions; 0 for no limit
	UploadRate   int64         // bytes per second into the server, per session; 0 for no limit
	DownloadRate int64         // bytes per second out of the server, per session; 0 for no limit
	Folders      []Folder      // in the order of the file
	SSHKeys      []string      // public keys that log in over SFTP, as authorized_keys lines (ssh_key)
}

// maxNameLen bounds a user name, in bytes.
const maxNameLen = 64

// ValidName reports whether name can be a user name: 1 to 64 bytes of
// A-Z, a-z, 0-9, '.', '_' and '-', not starting with '.' or '-'. A valid
// name is always a safe single path element.
func ValidName(name string) bool {
	if name == "" || len(name) > maxNameLen || name[0] == '.' || name[0] == '-' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Store is a loaded accounts file. It is safe for concurrent use; Reload
// and Refresh swap in the new content at once.
type Store struct {
	src     Source
	reload  sync.Mutex // serialises Reload and Refresh, and guards seen
	seen    string     // the version last read, good or broken
	current atomic.Pointer[content]
	ok      verified // passwords bcrypt verified lately (verified.go)
}

// content is one loaded version of the file.
type content struct {
	users    map[string]user
	warnings []string
	dummy    []byte // a bcrypt hash that matches no password, for Authenticate
}

// user is an account with its secret.
type user struct {
	Account
	hash  []byte // bcrypt hash, or nil
	plain []byte // plaintext password, or nil
}

// Load reads and checks the accounts file at path. A malformed file gives an
// error "PATH:LINE: what is wrong"; a missing file an error wrapping
// fs.ErrNotExist.
func Load(path string) (*Store, error) {
	return LoadFrom(context.Background(), File(path))
}

// LoadFrom reads and checks the accounts file of src, as Load does.
func LoadFrom(ctx context.Context, src Source) (*Store, error) {
	s := &Store{src: src}
	if _, err := s.read(ctx, ""); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload reads the file again. On error the content loaded before stays in
// force and the error is returned.
func (s *Store) Reload() error {
	s.reload.Lock()
	defer s.reload.Unlock()
	_, err := s.read(context.Background(), "")
	return err
}

// Refresh reads the file again unless its source says it is still at the
// version read last, and reports whether new content is in force. Content
// that does not parse is reported once (the next Refresh finds it
// unchanged) and the content loaded before stays in force, as with Reload.
// A local file has no versions: it is read every time.
func (s *Store) Refresh(ctx context.Context) (bool, error) {
	s.reload.Lock()
	defer s.reload.Unlock()
	return s.read(ctx, s.seen)
}

// read loads the source's content unless it is still at version known;
// s.reload is held (or s is not shared yet).
func (s *Store) read(ctx context.Context, known string) (bool, error) {
	data, version, err := s.src.Read(ctx, known)
	if errors.Is(err, ErrUnchanged) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s.seen = version
	c, err := load(s.src.Name(), data)
	if err != nil {
		return false, err
	}
	s.current.Store(c)
	return true, nil
}

func load(name string, data []byte) (*content, error) {
	f, err := parse(name, data)
	if err != nil {
		return nil, err
	}
	c := &content{users: make(map[string]user, len(f.sections))}
	var hashes [][]byte
	for _, sec := range f.sections {
		u := user{Account: sec.acct}
		if sec.acct.Plaintext {
			u.plain = []byte(sec.secret)
			c.warnings = append(c.warnings, fmt.Sprintf(
				"user %q has a plaintext password; hash it with: ftpx-server user passwd %s", sec.name, sec.name))
		} else {
			u.hash = []byte(sec.secret)
			hashes = append(hashes, u.hash)
		}
		c.users[sec.name] = u
	}
	c.dummy = dummyHash(hashes)
	return c, nil
}

// Path returns the accounts file's path, as given to Load, or its
// source's name.
func (s *Store) Path() string { return s.src.Name() }

// Warnings returns one line per problem that did not stop loading, such as
// a plaintext password, for the caller to log.
func (s *Store) Warnings() []string {
	return slices.Clone(s.current.Load().warnings)
}

// Lookup returns the account called name.
func (s *Store) Lookup(name string) (Account, bool) {
	u, ok := s.current.Load().users[name]
	return u.Account, ok
}

// Users returns every account, sorted by name.
func (s *Store) Users() []Account {
	c := s.current.Load()
	list := make([]Account, 0, len(c.users))
	for _, u := range c.users {
		list = append(list, u.Account)
	}
	slices.SortFunc(list, func(a, b Account) int { return strings.Compare(a.Name, b.Name) })
	return list
}

// PasswordStamp returns a digest of user's stored password (its hash, or
// the plaintext's digest), which changes when the password does: a front
// end that keeps a session past its login (a web session) ends it when
// the stamp changes. It is false for an unknown user.
func (s *Store) PasswordStamp(name string) (uint64, bool) {
	u, ok := s.current.Load().users[name]
	if !ok {
		return 0, false
	}
	d := sha256.New()
	d.Write(u.hash)
	d.Write([]byte{0})
	d.Write(u.plain)
	return binary.BigEndian.Uint64(d.Sum(nil)), true
}
