package s3home

import (
	"context"
	"strings"

	"ftpx/home"
	"ftpx/internal/s3url"

	"github.com/minio/minio-go/v7"
)

// Homes is a home.Store: each user's home is the tree PREFIX/NAME/ of a
// bucket.
type Homes struct {
	c    *Client
	root s3url.URL
}

var _ home.Store = (*Homes)(nil)

// Homes returns the homes under the root u.
func (c *Client) Homes(u s3url.URL) *Homes { return &Homes{c: c, root: u} }

// Home returns the FS of the user's home (a plain name, checked by
// home.Manager), writing its marker when it has none, so that an empty
// home exists.
func (h *Homes) Home(user string) (home.FS, error) {
	u := h.root
	if u.Prefix == "" {
		u.Prefix = user
	} else {
		u.Prefix += "/" + user
	}
	t := h.c.Tree(u)
	// A login waits on this one: a store that does not answer is told in
	// a few seconds, not the Timeout of a transfer's calls.
	ctx, cancel := context.WithTimeout(h.c.halted, min(h.c.timeout, ProbeTimeout))
	defer cancel()
	if _, err := h.c.mc.StatObject(ctx, t.bucket, t.prefix, minio.StatObjectOptions{}); err != nil {
		if !notFound(err) {
			return nil, opErr("open home", user, err)
		}
		if err := t.putMarker("create home", user, t.prefix); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Users lists the homes: the directories right under the root.
func (h *Homes) Users() ([]string, error) {
	t := h.c.Tree(h.root)
	var users []string
	err := t.list(t.prefix, false, func(o minio.ObjectInfo) error {
		if name, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, t.prefix), "/"); ok && name != "" && !strings.HasPrefix(name, ".") {
			users = append(users, name)
		}
		return nil
	})
	if err != nil {
		return nil, opErr("list", "homes", err)
	}
	return users, nil
}

// Close has nothing to let go of: the Client is shared.
func (h *Homes) Close() error { return nil }
