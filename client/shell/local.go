package shell

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"ftpx/client"
	"ftpx/protocol"
)

// localError is a failure of the local file system: "lcd DIR: no such
// file or directory".
func localError(op, path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%s %s: %w", op, client.Printable(path), err)
}

func (s *Shell) lcd(_ context.Context, a *Call) error {
	dir := homeDir()
	if len(a.args) > 0 {
		dir = a.args[0].text
	}
	if err := os.Chdir(dir); err != nil {
		return localError("lcd", dir, err)
	}
	return nil
}

func (s *Shell) lpwd(context.Context, *Call) error {
	wd, err := os.Getwd()
	if err != nil {
		return localError("lpwd", ".", err)
	}
	fmt.Fprintln(s.out, client.Printable(wd))
	return nil
}

func (s *Shell) lls(_ context.Context, a *Call) error {
	p := "."
	if len(a.args) > 0 {
		p = a.args[0].text
	}
	fi, err := os.Stat(p)
	if err != nil {
		return localError("lls", p, err)
	}
	var entries []protocol.Entry
	if !fi.IsDir() {
		entries = append(entries, protocol.Entry{Name: filepath.Base(p), Size: fi.Size(), MTime: fi.ModTime()})
	} else {
		des, err := os.ReadDir(p)
		if err != nil {
			return localError("lls", p, err)
		}
		for _, d := range des {
			info, err := os.Stat(filepath.Join(p, d.Name())) // follows symlinks
			if err != nil {
				info, err = d.Info()
			}
			if err != nil {
				continue
			}
			entries = append(entries, protocol.Entry{Name: d.Name(), Size: info.Size(), IsDir: info.IsDir(), MTime: info.ModTime()})
		}
	}
	writeListing(s.out, entries, ListOptions{Long: a.has("l"), Human: a.has("h")})
	return nil
}
