package home

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"
)

// PartialInfo describes one partial upload's data file.
type PartialInfo struct {
	ID      string
	Size    int64
	ModTime time.Time
}

// stateSuffix names the file beside a partial that holds its saved state.
const stateSuffix = ".state"

// isStateFile reports whether the root-relative path p is a partial's
// saved state, which the quota does not count: it is the server's
// bookkeeping, a few hundred bytes, rewritten as the upload goes.
func isStateFile(p string) bool {
	return strings.HasPrefix(p, PartialDir+"/") && (strings.HasSuffix(p, stateSuffix) || strings.HasSuffix(p, stateSuffix+".tmp"))
}

func (d *dirFS) ReopenPartial(id string, offset int64) (WriteFile, error) {
	p, err := partial("resume", id)
	if err != nil {
		return nil, err
	}
	f, err := d.root.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return nil, opErr("resume", "partial "+id, err)
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() < offset {
		err = ErrSize
	}
	if err == nil {
		err = f.Truncate(offset)
	}
	if err == nil {
		_, err = f.Seek(offset, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, opErr("resume", "partial "+id, err)
	}
	return f, nil
}

func (d *dirFS) ReadPartial(id string, offset int64) (io.ReadCloser, error) {
	p, err := partial("resume", id)
	if err != nil {
		return nil, err
	}
	f, err := d.root.Open(p)
	if err != nil {
		return nil, opErr("resume", "partial "+id, err)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return nil, opErr("resume", "partial "+id, err)
	}
	return f, nil
}

func (d *dirFS) RemovePartial(id string) error {
	p, err := partial("abort", id)
	if err != nil {
		return err
	}
	if err := d.root.Remove(p + stateSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return opErr("abort", "partial "+id, err)
	}
	return opErr("abort", "partial "+id, d.root.Remove(p))
}

func (d *dirFS) SavePartialState(id string, state []byte) error {
	p, err := partial("save", id)
	if err != nil {
		return err
	}
	tmp := p + stateSuffix + ".tmp"
	if err := d.root.WriteFile(tmp, state, filePerm); err != nil {
		return opErr("save", "partial "+id, err)
	}
	return opErr("save", "partial "+id, d.root.Rename(tmp, p+stateSuffix))
}

func (d *dirFS) PartialState(id string) ([]byte, error) {
	p, err := partial("load", id)
	if err != nil {
		return nil, err
	}
	b, err := d.root.ReadFile(p + stateSuffix)
	if err != nil {
		return nil, opErr("load", "partial "+id, err)
	}
	return b, nil
}

func (d *dirFS) Partials() ([]PartialInfo, error) {
	dir, err := d.root.Open(PartialDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, opErr("list", "partials", err)
	}
	defer dir.Close()
	ents, err := dir.ReadDir(-1)
	if err != nil {
		return nil, opErr("list", "partials", err)
	}
	var out []PartialInfo
	for _, e := range ents {
		if !e.Type().IsRegular() || isStateFile(PartialDir+"/"+e.Name()) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, PartialInfo{ID: e.Name(), Size: fi.Size(), ModTime: fi.ModTime()})
	}
	return out, nil
}
