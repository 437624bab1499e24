package sftpd

import (
	"errors"
	"io"
	"runtime/debug"

	"github.com/pkg/sftp"
)

// guarded is handlers with each request's panic caught: the request
// server runs handlers on goroutines of its own, where a panic would end
// the whole process, every protocol's sessions with it. A request that
// panics is logged with its stack and answered SSH_FX_FAILURE; the
// session goes on. A request of a user removed from the accounts is
// refused, and ends the session.
type guarded struct{ h *handlers }

func (g guarded) Fileread(r *sftp.Request) (_ io.ReaderAt, err error) {
	defer g.h.c.catch(r.Method, &err)
	if err := g.h.c.removed(); err != nil {
		return nil, err
	}
	return g.h.Fileread(r)
}

func (g guarded) Filewrite(r *sftp.Request) (_ io.WriterAt, err error) {
	defer g.h.c.catch(r.Method, &err)
	if err := g.h.c.removed(); err != nil {
		return nil, err
	}
	return g.h.Filewrite(r)
}

func (g guarded) Filecmd(r *sftp.Request) (err error) {
	defer g.h.c.catch(r.Method, &err)
	if err := g.h.c.removed(); err != nil {
		return err
	}
	return g.h.Filecmd(r)
}

func (g guarded) PosixRename(r *sftp.Request) (err error) {
	defer g.h.c.catch(r.Method, &err)
	if err := g.h.c.removed(); err != nil {
		return err
	}
	return g.h.PosixRename(r)
}

func (g guarded) StatVFS(r *sftp.Request) (_ *sftp.StatVFS, err error) {
	defer g.h.c.catch(r.Method, &err)
	if err := g.h.c.removed(); err != nil {
		return nil, err
	}
	return g.h.StatVFS(r)
}

func (g guarded) Filelist(r *sftp.Request) (_ sftp.ListerAt, err error) {
	defer g.h.c.catch(r.Method, &err)
	if err := g.h.c.removed(); err != nil {
		return nil, err
	}
	return g.h.Filelist(r)
}

func (g guarded) Lstat(r *sftp.Request) (_ sftp.ListerAt, err error) {
	defer g.h.c.catch(r.Method, &err)
	if err := g.h.c.removed(); err != nil {
		return nil, err
	}
	return g.h.Lstat(r)
}

func (g guarded) RealPath(p string) (_ string, err error) {
	defer g.h.c.catch("Realpath", &err)
	if err := g.h.c.removed(); err != nil {
		return "", err
	}
	return g.h.RealPath(p)
}

// errPanic answers a request that panicked.
var errPanic = errors.New("internal error")

// catch turns a panic of the request op into *err, logged with its stack.
func (c *session) catch(op string, err *error) {
	if v := recover(); v != nil {
		c.log.Error("panic in an sftp request", "op", op, "panic", v, "stack", string(debug.Stack()))
		*err = &status{code: sftp.ErrSSHFxFailure, msg: errPanic.Error()}
	}
}

// removed refuses the request of a user removed from the accounts, and
// ends the session once what runs (a transfer under way) has ended, as
// the other front ends do.
func (c *session) removed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.login == nil || !c.login.Removed() {
		return nil
	}
	c.closing = true
	c.endWhenIdleLocked()
	return &status{code: sftp.ErrSSHFxPermissionDenied, msg: "the account was removed"}
}
