package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockName is the file under a local data root that the serving process
// holds locked: two servers on one local root would each keep their own
// count of every quota and of the uploads in progress, so together they
// could pass a quota or write one partial from two sides.
const lockName = ".ftpx-server.lock"

// lockRoot takes the root's lock until unlock is called (or the process
// ends), or says which process holds it.
func lockRoot(root string) (unlock func(), err error) {
	path := filepath.Join(root, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, os.ErrPermission) { // made by another user (root, before run_as): a lock needs no write
		f, err = os.Open(path)
	}
	if err != nil {
		return nil, fmt.Errorf("root: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := "another process"
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				holder = fmt.Sprintf("process %d", pid)
			}
			return nil, fmt.Errorf("root %s is served by another ftpx-server (%s): two servers on one local root would each count the quotas alone; stop it first, or give this one another root", root, holder)
		}
		return nil, fmt.Errorf("root: lock %s: %w", path, err)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	// f stays open, and locked, until unlock.
	return func() { f.Close() }, nil
}
