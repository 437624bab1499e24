package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// runAs is the user named by run_as, looked up before anything is opened.
type runAs struct {
	name     string
	uid, gid int
	groups   []int
}

func lookupRunAs(name string) (*runAs, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("run_as: %w", err)
	}
	r := &runAs{name: name}
	if r.uid, err = strconv.Atoi(u.Uid); err == nil {
		r.gid, err = strconv.Atoi(u.Gid)
	}
	if err != nil {
		return nil, fmt.Errorf("run_as = %s: not a numeric uid/gid (%s/%s)", name, u.Uid, u.Gid)
	}
	ids, _ := u.GroupIds()
	for _, id := range ids {
		if g, err := strconv.Atoi(id); err == nil {
			r.groups = append(r.groups, g)
		}
	}
	if len(r.groups) == 0 {
		r.groups = []int{r.gid}
	}
	return r, nil
}

// own gives a directory the server made to the run_as user, so it can
// still use it after the switch.
func (r *runAs) own(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	return os.Chown(dir, r.uid, r.gid)
}

// drop switches the whole process (every thread) to the user, for good.
// A server not started as root can only already be that user.
func (r *runAs) drop() error {
	if os.Geteuid() != 0 {
		if os.Geteuid() == r.uid {
			return nil
		}
		return fmt.Errorf("run_as = %s: the server runs as uid %d, not root, so it cannot switch to uid %d", r.name, os.Geteuid(), r.uid)
	}
	if err := syscall.Setgroups(r.groups); err != nil {
		return fmt.Errorf("run_as = %s: setgroups: %w", r.name, err)
	}
	if err := syscall.Setgid(r.gid); err != nil {
		return fmt.Errorf("run_as = %s: setgid: %w", r.name, err)
	}
	if err := syscall.Setuid(r.uid); err != nil {
		return fmt.Errorf("run_as = %s: setuid: %w", r.name, err)
	}
	if os.Getuid() != r.uid || os.Geteuid() != r.uid || os.Getegid() != r.gid {
		return fmt.Errorf("run_as = %s: still uid %d/%d gid %d after the switch", r.name, os.Getuid(), os.Geteuid(), os.Getegid())
	}
	if r.uid != 0 && syscall.Setuid(0) == nil {
		return fmt.Errorf("run_as = %s: root could be regained after the switch", r.name)
	}
	return nil
}

// canUse checks, after the switch, that the data root is still usable.
func canUse(root string) error {
	f, err := os.Open(root)
	if err == nil {
		_, err = f.Readdirnames(1)
		f.Close()
		if errors.Is(err, io.EOF) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("run_as: the data root is not usable by that user: %w", err)
	}
	return nil
}

// sdNotify sends state (such as "READY=1") to systemd when it started the
// server with Type=notify: one datagram to $NOTIFY_SOCKET. Without the
// variable it does nothing.
func sdNotify(state string) error {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return nil
	}
	if addr[0] == '@' { // an abstract socket
		addr = "\x00" + addr[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	return nil
}
