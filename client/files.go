package client

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"ftpx/protocol"
)

// Rm removes a remote file or empty directory; with recursive, a whole
// tree. A directory that is not empty, without recursive, is a
// *StatusError with 281.
func (c *Client) Rm(ctx context.Context, name string, recursive bool) error {
	resp, err := c.roundTrip(ctx, "rm", name, &protocol.Request{Action: protocol.ActionRm, Filename: name, Recursive: recursive})
	if err != nil {
		return err
	}
	return expect(resp, "rm", name, protocol.StatusOK)
}

// Mv renames a remote file or directory, replacing a file at to, and
// returns the new home path. As with mv(1), when to is an existing
// directory, from moves inside it under its base name; a to ending in
// "/" must be an existing directory.
func (c *Client) Mv(ctx context.Context, from, to string) (string, error) {
	if strings.HasSuffix(to, "/") {
		e, err := c.Stat(ctx, to)
		if err != nil {
			return "", retarget(err, "mv", to)
		}
		if !e.IsDir {
			return "", &StatusError{Op: "mv", Path: to, Status: protocol.StatusNotDir, Msg: protocol.StatusNotDir.String()}
		}
		return c.mv(ctx, from, path.Join(to, path.Base(path.Clean(from))))
	}
	dest, err := c.mv(ctx, from, to)
	var se *StatusError
	if !errors.As(err, &se) || se.Status != protocol.StatusIsDir {
		return dest, err
	}
	// 268: the target is a directory (or the source is one and the target
	// a file): move inside it when it is a directory.
	if e, serr := c.Stat(ctx, to); serr != nil || !e.IsDir {
		return "", err
	}
	return c.mv(ctx, from, path.Join(to, path.Base(path.Clean(from))))
}

func (c *Client) mv(ctx context.Context, from, to string) (string, error) {
	resp, err := c.roundTrip(ctx, "mv", from, &protocol.Request{Action: protocol.ActionMv, Filename: from, To: to})
	if err != nil {
		return "", err
	}
	if err := expect(resp, "mv", from, protocol.StatusOK); err != nil {
		return "", err
	}
	return resp.Path, nil
}

// StatMD5 describes one remote file or directory and, for a file, returns
// the MD5 of its content as the server computes it (lower-case hex).
func (c *Client) StatMD5(ctx context.Context, name string) (protocol.Entry, string, error) {
	resp, err := c.roundTrip(ctx, "stat", name, &protocol.Request{Action: protocol.ActionStat, Filename: name, Checksum: true})
	if err != nil {
		return protocol.Entry{}, "", err
	}
	if err := expect(resp, "stat", name, protocol.StatusOK); err != nil {
		return protocol.Entry{}, "", err
	}
	if resp.Stat == nil {
		return protocol.Entry{}, "", c.fail(ctx, "stat", name, ErrProtocol, errors.New("answer without \"stat\""))
	}
	return *resp.Stat, strings.ToLower(resp.MD5), nil
}

// Quota returns the bytes this user has in use (partial uploads included)
// and the limit, protocol.Unlimited (-1) for none.
func (c *Client) Quota(ctx context.Context) (used, limit int64, err error) {
	resp, err := c.roundTrip(ctx, "quota", "", &protocol.Request{Action: protocol.ActionQuota})
	if err != nil {
		return 0, 0, err
	}
	if err := expect(resp, "quota", "", protocol.StatusOK); err != nil {
		return 0, 0, err
	}
	if resp.Used == nil || resp.Quota == nil {
		return 0, 0, c.fail(ctx, "quota", "", ErrProtocol, errors.New("answer without \"used\" or \"quota\""))
	}
	return *resp.Used, *resp.Quota, nil
}

// retarget names path, as op, in a refusal that came from a helper
// request (a stat before a mv or a put), so the line the user reads names
// what they asked for.
func retarget(err error, op, path string) error {
	var se *StatusError
	if errors.As(err, &se) {
		return &StatusError{Op: op, Path: path, Status: se.Status, Msg: se.Msg}
	}
	return err
}

// quotaError is the refusal of a batch put that would not fit.
func quotaError(what string, need, used, limit int64) error {
	return &StatusError{Op: "put", Path: what, Status: protocol.StatusQuota,
		Msg: fmt.Sprintf("quota exceeded (need %s, %s of %s used)", protocol.HumanSize(need), protocol.HumanSize(used), protocol.HumanSize(limit))}
}
