package shell

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"ftpx/client"
	"ftpx/protocol"
)

func (s *Shell) ls(ctx context.Context, a *Call) error {
	p := "" // the current directory
	if len(a.args) > 0 {
		p = a.args[0].text
	}
	return List(ctx, s.c, s.out, p, ListOptions{Long: a.has("l") || s.cfg.LongListing, Human: a.has("h"),
		Recursive: a.has("R"), JSON: s.cfg.JSON || a.has("json")})
}

func (s *Shell) cd(ctx context.Context, a *Call) error {
	p := "/"
	if len(a.args) > 0 {
		p = a.args[0].text
	}
	_, err := s.c.Cd(ctx, p)
	return err
}

func (s *Shell) pwd(ctx context.Context, _ *Call) error {
	p, err := s.c.Pwd(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(s.out, client.Printable(p))
	return nil
}

func (s *Shell) mkdir(ctx context.Context, a *Call) error {
	var errs []error
	for _, p := range a.texts() {
		if err := s.c.Mkdir(ctx, p, a.has("p")); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Shell) rm(ctx context.Context, a *Call) error {
	paths, err := expandRemote(ctx, s.c, "rm", a.args, a.has("r"))
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range paths {
		if err := s.c.Rm(ctx, p, a.has("r")); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Shell) mv(ctx context.Context, a *Call) error {
	_, err := s.c.Mv(ctx, a.args[0].text, a.args[1].text)
	return err
}

// statJSON is one entry of "stat --json".
type statJSON struct {
	Path  string    `json:"path"`
	Name  string    `json:"name"`
	Size  int64     `json:"size"`
	IsDir bool      `json:"is_dir"`
	MTime time.Time `json:"mtime"`
	MD5   string    `json:"md5,omitempty"`
}

func (s *Shell) stat(ctx context.Context, a *Call) error {
	var errs []error
	all := []statJSON{}
	asJSON := s.cfg.JSON || a.has("json")
	for i, p := range a.texts() {
		e, sum, err := s.c.StatMD5(ctx, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if asJSON {
			all = append(all, statJSON{Path: p, Name: e.Name, Size: e.Size, IsDir: e.IsDir, MTime: e.MTime, MD5: sum})
			continue
		}
		if i > 0 {
			fmt.Fprintln(s.out)
		}
		kind := "file"
		if e.IsDir {
			kind = "directory"
		}
		fmt.Fprintf(s.out, "path   %s\ntype   %s\nsize   %d (%s)\nmtime  %s\n", client.Printable(p), kind, e.Size,
			protocol.HumanSize(e.Size), e.MTime.Local().Format("2006-01-02 15:04:05 -07:00"))
		if sum != "" {
			fmt.Fprintf(s.out, "md5    %s\n", client.Printable(sum))
		}
	}
	if asJSON {
		if err := json.NewEncoder(s.out).Encode(all); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Shell) quota(ctx context.Context, a *Call) error {
	used, limit, err := s.c.Quota(ctx)
	if err != nil {
		return err
	}
	if s.cfg.JSON || a.has("json") {
		free := int64(-1)
		if limit >= 0 {
			free = max(limit-used, 0)
		}
		return json.NewEncoder(s.out).Encode(map[string]int64{"used": used, "quota": limit, "free": free})
	}
	if limit < 0 {
		fmt.Fprintf(s.out, "used %s (%d bytes), no quota\n", protocol.HumanSize(used), used)
		return nil
	}
	pct := 0.0
	if limit > 0 {
		pct = float64(used) * 100 / float64(limit)
	}
	fmt.Fprintf(s.out, "used %s of %s (%.1f%%), %s free (%d of %d bytes)\n", protocol.HumanSize(used), protocol.HumanSize(limit),
		pct, protocol.HumanSize(max(limit-used, 0)), used, limit)
	return nil
}
