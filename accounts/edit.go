package accounts

import (
	"context"
	"errors"
	"fmt"
	"ftpx/protocol"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The editor works on the lines of the file as written: it appends a new
// section at the end, replaces the value of one password line, or removes
// the lines of one section, and leaves every other byte as it was. A local
// file's new content goes to a temporary file in the same directory, which
// is synced and then renamed over the old one, so a reader sees the old
// file or the new one, never a mix; an object in a store is replaced whole
// on condition of its version (Source), so that editors running at once on
// it never lose a change.

// AddUser adds the user name with a bcrypt hash of password, a quota
// (bytes, or Unlimited for none) and folders (each a folder.NAME line) to
// the accounts file of src, creating the file (mode 0600 for a local one)
// when it is missing. It fails with ErrExists when the user is already there and with
// ErrBadName for an invalid name.
func AddUser(ctx context.Context, src Source, name, password string, quota int64, cost int, folders ...Folder) error {
	if !ValidName(name) {
		return fmt.Errorf("user %q: %w", name, ErrBadName)
	}
	if quota < 0 && quota != Unlimited {
		return fmt.Errorf("user %s: negative quota %d", name, quota)
	}
	var folderLines []string
	for i, fo := range folders {
		line, err := folderLine(fo)
		if err != nil {
			return fmt.Errorf("user %s: %w", name, err)
		}
		for _, prev := range folders[:i] {
			if strings.EqualFold(prev.Name, fo.Name) {
				return fmt.Errorf("user %s: folder %s is given twice", name, fo.Name)
			}
		}
		folderLines = append(folderLines, line)
	}
	hash, err := HashPassword(password, cost)
	if err != nil {
		return fmt.Errorf("user %s: %w", name, err)
	}
	return edit(ctx, src, true, func(f *file, eol string) error {
		if prev := f.sameButCase(name); prev != nil {
			return fmt.Errorf("user %s: %w (as %s)", name, ErrExists, prev.name)
		}
		if n := len(f.lines); n > 0 {
			if !strings.HasSuffix(f.lines[n-1], "\n") {
				f.lines[n-1] += eol
			}
			if !isBlank(f.lines[n-1]) {
				f.lines = append(f.lines, eol)
			}
		}
		f.lines = append(f.lines, "["+name+"]"+eol, "password = "+hash+eol)
		if quota != Unlimited {
			f.lines = append(f.lines, "quota    = "+protocol.FormatSize(quota)+eol)
		}
		for _, l := range folderLines {
			f.lines = append(f.lines, l+eol)
		}
		return nil
	})
}

// folderLine checks a folder as the parser would read it back and returns
// its line, without the line ending. A directory that holds ';' or '#' or
// blanks at its ends is quoted; one with '"' cannot be written.
func folderLine(fo Folder) (string, error) {
	if strings.ContainsAny(fo.Dir, "\"\r\n") {
		return "", fmt.Errorf("folder %s: directory %q cannot be written in the accounts file", fo.Name, fo.Dir)
	}
	v := fo.Value()
	back, err := parseFolder(fo.Name, v)
	if err != nil {
		return "", fmt.Errorf("folder %s: %v", fo.Name, err)
	}
	if back.Dir != fo.Dir {
		return "", fmt.Errorf("folder %s: directory %q: want a clean absolute path (%s)", fo.Name, fo.Dir, back.Dir)
	}
	if strings.ContainsAny(v, ";#") {
		v = `"` + v + `"`
	}
	return "folder." + fo.Name + " = " + v, nil
}

// SetPassword replaces the password of the user name with a bcrypt hash of
// password, keeping the rest of its line. It fails with ErrNoUser for an
// unknown user.
func SetPassword(ctx context.Context, src Source, name, password string, cost int) error {
	hash, err := HashPassword(password, cost)
	if err != nil {
		return fmt.Errorf("user %s: %w", name, err)
	}
	return edit(ctx, src, false, func(f *file, eol string) error {
		sec, ok := f.byName[name]
		if !ok {
			return fmt.Errorf("user %s: %w", name, ErrNoUser)
		}
		for _, k := range sec.keys {
			if k.key == "password" {
				line := f.lines[k.index]
				f.lines[k.index] = line[:k.start] + hash + line[k.end:]
			}
		}
		return nil
	})
}

// SetQuota sets the quota of the user name, keeping the rest of the file
// byte for byte: the value of its quota line is replaced (a legacy
// quotation line is renamed quota), a line is added after the section's
// last when it has none, and Unlimited removes the line. It fails with
// ErrNoUser for an unknown user.
func SetQuota(ctx context.Context, src Source, name string, quota int64) error {
	if quota < 0 && quota != Unlimited {
		return fmt.Errorf("user %s: negative quota %d", name, quota)
	}
	return edit(ctx, src, false, func(f *file, eol string) error {
		sec, ok := f.byName[name]
		if !ok {
			return fmt.Errorf("user %s: %w", name, ErrNoUser)
		}
		var found []keyLine
		for _, k := range sec.keys {
			if k.key == "quota" || k.key == "quotation" {
				found = append(found, k)
			}
		}
		switch {
		case quota == Unlimited:
			for i := len(found) - 1; i >= 0; i-- {
				f.lines = append(f.lines[:found[i].index], f.lines[found[i].index+1:]...)
			}
		case len(found) > 0:
			k := found[0]
			line := f.lines[k.index]
			f.lines[k.index] = line[:k.start] + protocol.FormatSize(quota) + line[k.end:]
			if k.key == "quotation" {
				f.lines[k.index] = strings.Replace(f.lines[k.index], k.raw, "quota", 1)
			}
		default:
			at := sec.last + 1
			if !strings.HasSuffix(f.lines[sec.last], "\n") {
				f.lines[sec.last] += eol
			}
			f.lines = append(f.lines[:at], append([]string{"quota    = " + protocol.FormatSize(quota) + eol}, f.lines[at:]...)...)
		}
		return nil
	})
}

// DeleteUser removes the section of the user name, from its [name] line to
// its last key line, and one blank line around it when it stood between
// blank lines. It fails with ErrNoUser for an unknown user.
func DeleteUser(ctx context.Context, src Source, name string) error {
	return edit(ctx, src, false, func(f *file, eol string) error {
		sec, ok := f.byName[name]
		if !ok {
			return fmt.Errorf("user %s: %w", name, ErrNoUser)
		}
		lo, hi := sec.header, sec.last+1
		blankAt := func(i int) bool { return i >= 0 && i < len(f.lines) && isBlank(f.lines[i]) }
		switch {
		case blankAt(hi) && (lo == 0 || blankAt(lo-1)):
			hi++
		case hi == len(f.lines) && blankAt(lo-1):
			lo--
		}
		f.lines = append(f.lines[:lo:lo], f.lines[hi:]...)
		return nil
	})
}

func isBlank(line string) bool { return strings.TrimSpace(line) == "" }

// editAttempts bounds how often an edit is made again after another
// edit changed the file between its read and its write.
const editAttempts = 10

// edit reads and parses the accounts file of src, lets change edit its
// lines (eol is the file's line ending), checks that the result parses,
// and writes it on condition that the file has not changed meanwhile;
// when it has, the edit is made again on the new content, after a short
// random pause (the other editors pause too, so they stop colliding). A
// missing file is an empty one when create is set. A file that does not
// parse is never written: its error is returned.
func edit(ctx context.Context, src Source, create bool, change func(f *file, eol string) error) error {
	for attempt := 1; ; attempt++ {
		err := editOnce(ctx, src, create, change)
		if !errors.Is(err, ErrConflict) {
			return err
		}
		if attempt == editAttempts {
			return fmt.Errorf("%s: %w, %d times: try again", src.Name(), ErrConflict, attempt)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff(attempt)):
		}
	}
}

// backoff is a random pause before the attempt after attempt: up to 20 ms,
// doubled each time up to 640 ms.
func backoff(attempt int) time.Duration {
	limit := 20 * time.Millisecond << min(attempt-1, 5)
	return time.Duration(rand.Int64N(int64(limit))) + time.Millisecond
}

func editOnce(ctx context.Context, src Source, create bool, change func(f *file, eol string) error) error {
	data, version, err := src.Read(ctx, "")
	if err != nil && !(create && errors.Is(err, fs.ErrNotExist)) {
		return err
	}
	f, err := parse(src.Name(), data)
	if err != nil {
		return err
	}
	eol := "\n"
	if len(f.lines) > 0 && strings.HasSuffix(f.lines[0], "\r\n") {
		eol = "\r\n"
	}
	if err := change(f, eol); err != nil {
		return err
	}
	out := []byte(strings.Join(f.lines, ""))
	if _, err := parse(src.Name(), out); err != nil {
		return fmt.Errorf("the edit would break the file, not written: %w", err)
	}
	return src.Write(ctx, out, version)
}

// writeAtomic replaces path with data: a temporary file in the same
// directory, synced, then renamed over path.
func writeAtomic(path string, data []byte, mode fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename in dir durable. Some file systems cannot sync a
// directory; the rename has happened anyway, so errors are ignored.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}
