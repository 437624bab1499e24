package client

import (
	"context"
	"fmt"
	"strings"

	"ftpx/protocol"
)

// Auth logs in. A refusal is a *StatusError with 252 (missing data) or 253
// (wrong username or password), for which ExitCode returns 4.
func (c *Client) Auth(ctx context.Context, user, password string) error {
	resp, err := c.roundTrip(ctx, "auth", user, &protocol.Request{Action: protocol.ActionAuth, Username: user, Password: password})
	if err != nil {
		return err
	}
	return expect(resp, "auth", user, protocol.StatusLoggedIn)
}

// Ls lists a remote directory (or describes a remote file), sorted by name
// as the server sends it. The names are the server's: display them with
// Printable, never use them as local paths.
func (c *Client) Ls(ctx context.Context, path string) ([]protocol.Entry, error) {
	resp, err := c.roundTrip(ctx, "ls", path, &protocol.Request{Action: protocol.ActionLs, Path: path})
	if err != nil {
		return nil, err
	}
	if err := expect(resp, "ls", path, protocol.StatusOK); err != nil {
		return nil, err
	}
	return resp.Entries, nil
}

// Stat describes one remote file or directory. Its Name is the base name,
// "/" for the home root.
func (c *Client) Stat(ctx context.Context, name string) (protocol.Entry, error) {
	resp, err := c.roundTrip(ctx, "stat", name, &protocol.Request{Action: protocol.ActionStat, Filename: name})
	if err != nil {
		return protocol.Entry{}, err
	}
	if err := expect(resp, "stat", name, protocol.StatusOK); err != nil {
		return protocol.Entry{}, err
	}
	if resp.Stat == nil {
		return protocol.Entry{}, c.fail(ctx, "stat", name, ErrProtocol, fmt.Errorf("answer without \"stat\""))
	}
	return *resp.Stat, nil
}

// Cd changes the remote current directory and returns the new one ("/"
// being the home root).
func (c *Client) Cd(ctx context.Context, path string) (string, error) {
	resp, err := c.roundTrip(ctx, "cd", path, &protocol.Request{Action: protocol.ActionCd, Path: path})
	if err != nil {
		return "", err
	}
	if err := expect(resp, "cd", path, protocol.StatusDirChanged); err != nil {
		return "", err
	}
	if strings.HasPrefix(resp.Path, "/") {
		c.cwd = resp.Path
	}
	return resp.Path, nil
}

// Pwd returns the remote current directory, "/" being the home root.
func (c *Client) Pwd(ctx context.Context) (string, error) {
	resp, err := c.roundTrip(ctx, "pwd", "", &protocol.Request{Action: protocol.ActionPwd})
	if err != nil {
		return "", err
	}
	if err := expect(resp, "pwd", "", protocol.StatusOK); err != nil {
		return "", err
	}
	return resp.Path, nil
}

// Mkdir creates a remote directory. With parents, missing parents are
// created too and an existing directory is not an error (mkdir -p).
func (c *Client) Mkdir(ctx context.Context, name string, parents bool) error {
	resp, err := c.roundTrip(ctx, "mkdir", name, &protocol.Request{Action: protocol.ActionMkdir, Filename: name, Parents: parents})
	if err != nil {
		return err
	}
	return expect(resp, "mkdir", name, protocol.StatusOK)
}

// expect turns an answer other than want into a *StatusError.
func expect(resp *protocol.Response, op, path string, want protocol.Status) error {
	if resp.Status == want {
		return nil
	}
	return &StatusError{Op: op, Path: path, Status: resp.Status, Msg: resp.Msg}
}
