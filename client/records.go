package client

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Record is the resume point of one get or put: enough to continue it
// after the client died, from another process, and to tell whether its
// source changed meanwhile. It is stored as one JSON file in a Records
// directory.
type Record struct {
	Version   int    `json:"version"`
	ID        string `json:"id"` // the transfer id (a uuid), sent with every put as "transfer"
	Server    string `json:"server"`
	User      string `json:"user"`
	Direction string `json:"direction"` // "get" or "put"
	Local     string `json:"local"`     // absolute
	Remote    string `json:"remote"`    // a home path, starting with "/"

	Size        int64     `json:"size"`         // the whole file
	SourceSize  int64     `json:"source_size"`  // the source's size when the transfer started
	SourceMTime time.Time `json:"source_mtime"` // and its modification time
	Offset      int64     `json:"offset"`       // bytes done at the last checkpoint

	// Get only: the partial file beside Local, and the MD5 state of its
	// first Offset bytes (a marshalled crypto/md5 digest), so that a
	// resumed get need not read the partial again.
	Partial  string `json:"partial,omitempty"`
	MD5State []byte `json:"md5_state,omitempty"`

	Updated time.Time `json:"updated"`
}

const recordVersion = 1

// ErrCorruptRecord is wrapped by the errors for a record file that cannot
// be used: truncated, not JSON, or with values that make no sense.
var ErrCorruptRecord = errors.New("corrupt resume record")

// Records is the directory of resume points (the contract's state dir).
// A record's file name is derived from what identifies the transfer
// (server, user, direction, local and remote path), so running the same
// get or put again finds it, even when its content is damaged.
type Records struct {
	Dir string
}

// DefaultStateDir returns $FTPX_STATE_DIR, else $XDG_STATE_HOME/ftpx,
// else ~/.local/state/ftpx.
func DefaultStateDir() (string, error) {
	if d := os.Getenv("FTPX_STATE_DIR"); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "ftpx"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no state directory: set FTPX_STATE_DIR (%v)", err)
	}
	return filepath.Join(home, ".local", "state", "ftpx"), nil
}

// newRecord starts the record of a transfer with a fresh id.
func newRecord(server, user, direction, local, remote string) *Record {
	return &Record{Version: recordVersion, ID: uuid.NewString(), Server: server, User: user,
		Direction: direction, Local: local, Remote: remote}
}

// file is the path of the record of the transfer r describes.
func (s *Records) file(r *Record) string {
	h := sha256.Sum256([]byte(strings.Join([]string{r.Server, r.User, r.Direction, r.Local, r.Remote}, "\x00")))
	return filepath.Join(s.Dir, r.Direction+"-"+hex.EncodeToString(h[:12])+".json")
}

// Save writes r atomically (a temporary file renamed over the old one),
// so a reader sees the old record or the new one, never a mix. It does
// not fsync: a record lost or truncated by a power failure is reported
// as corrupt and the transfer starts over.
func (s *Records) Save(r *Record) error {
	r.Version, r.Updated = recordVersion, time.Now().UTC()
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := s.createTemp()
	if errors.Is(err, fs.ErrNotExist) { // the first record: make the directory
		if err = os.MkdirAll(s.Dir, 0o700); err == nil {
			tmp, err = s.createTemp()
		}
	}
	if err != nil {
		return err
	}
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = renameFile(tmp.Name(), s.file(r))
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// createTemp creates a new hidden file in the directory, which List
// skips: a record being written.
func (s *Records) createTemp() (*os.File, error) {
	for {
		f, err := createFile(filepath.Join(s.Dir, ".tmp-"+strconv.FormatUint(rand.Uint64(), 36)), 0o600)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
}

// Load returns the record of the transfer that key describes (only its
// Server, User, Direction, Local and Remote matter): nil and no error
// when there is none, and an error wrapping ErrCorruptRecord when the
// file cannot be used.
func (s *Records) Load(key *Record) (*Record, error) {
	b, err := os.ReadFile(s.file(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r, err := parseRecord(b)
	if err != nil {
		return nil, err
	}
	if r.Server != key.Server || r.User != key.User || r.Direction != key.Direction || r.Local != key.Local || r.Remote != key.Remote {
		return nil, fmt.Errorf("%w: it describes another transfer", ErrCorruptRecord)
	}
	return r, nil
}

// names returns the file names in the records directory: a batch loads a
// record only for the files that have one, rather than trying each.
func (s *Records) names() map[string]bool {
	ents, err := os.ReadDir(s.Dir)
	if err != nil {
		return nil
	}
	m := make(map[string]bool, len(ents))
	for _, e := range ents {
		m[e.Name()] = true
	}
	return m
}

// Remove deletes the record of the transfer r describes; a missing one is
// not an error.
func (s *Records) Remove(r *Record) error {
	err := os.Remove(s.file(r))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// BadRecord is a record file List could not use.
type BadRecord struct {
	File string
	Err  error
}

// List returns every usable record, oldest update first, and the record
// files it could not use. A missing directory holds no records.
func (s *Records) List() ([]*Record, []BadRecord, error) {
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var recs []*Record
	var bad []BadRecord
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(name, ".json") || strings.HasPrefix(name, ".") {
			continue
		}
		file := filepath.Join(s.Dir, name)
		b, err := os.ReadFile(file)
		if err != nil {
			bad = append(bad, BadRecord{File: file, Err: err})
			continue
		}
		r, err := parseRecord(b)
		if err == nil && s.file(r) != file {
			err = fmt.Errorf("%w: its name does not match its transfer", ErrCorruptRecord)
		}
		if err != nil {
			bad = append(bad, BadRecord{File: file, Err: err})
			continue
		}
		recs = append(recs, r)
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Updated.Before(recs[j].Updated) })
	return recs, bad, nil
}

// RemoveFile deletes a record file by name (List's BadRecord.File).
func (s *Records) RemoveFile(file string) error {
	if filepath.Dir(file) != filepath.Clean(s.Dir) {
		return fmt.Errorf("%s is not in %s", file, s.Dir)
	}
	return os.Remove(file)
}

// parseRecord decodes and checks one record file.
func parseRecord(b []byte) (*Record, error) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorruptRecord, err)
	}
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorruptRecord, err)
	}
	return &r, nil
}

func (r *Record) check() error {
	switch {
	case r.Version != recordVersion:
		return fmt.Errorf("version %d, want %d", r.Version, recordVersion)
	case uuid.Validate(r.ID) != nil:
		return fmt.Errorf("bad id %q", r.ID)
	case r.Direction != "get" && r.Direction != "put":
		return fmt.Errorf("bad direction %q", r.Direction)
	case r.Server == "" || r.User == "":
		return errors.New("no server or user")
	case !filepath.IsAbs(r.Local) || !strings.HasPrefix(r.Remote, "/") || path.Clean(r.Remote) != r.Remote:
		return errors.New("bad local or remote path")
	case r.Size < 0 || r.SourceSize < 0 || r.Offset < 0 || r.Offset > r.Size:
		return fmt.Errorf("bad offset %d or size %d", r.Offset, r.Size)
	}
	if r.Direction == "get" {
		if filepath.Dir(r.Partial) != filepath.Dir(r.Local) || !strings.Contains(filepath.Base(r.Partial), r.ID) {
			return fmt.Errorf("bad partial file %q", r.Partial)
		}
		if _, err := restoreMD5(r.MD5State); err != nil {
			return err
		}
		if n, ok := md5StateLen(r.MD5State); !ok || n != r.Offset {
			return fmt.Errorf("md5 state of %d bytes for offset %d", n, r.Offset)
		}
	}
	return nil
}

// md5State marshals an MD5 digest in progress.
func md5State(h any) []byte {
	b, _ := h.(encoding.BinaryMarshaler).MarshalBinary()
	return b
}

// restoreMD5 returns an MD5 digest continuing from a marshalled state, or
// a fresh one for an empty state.
func restoreMD5(state []byte) (hash.Hash, error) {
	h := md5.New()
	if len(state) == 0 {
		return h, nil
	}
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		return nil, fmt.Errorf("bad md5 state: %v", err)
	}
	return h, nil
}

// md5StateLen returns how many bytes a marshalled MD5 state has hashed:
// crypto/md5 ends its state with that count, big-endian. An empty state
// has hashed nothing.
func md5StateLen(state []byte) (int64, bool) {
	if len(state) == 0 {
		return 0, true
	}
	if len(state) < 8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(state[len(state)-8:])), true
}
