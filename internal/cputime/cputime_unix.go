//go:build unix

// Package cputime reads the CPU time the process has used, for tests and
// benchmarks that measure work rather than the wall clock (which a busy
// machine stretches).
package cputime

import (
	"syscall"
	"time"
)

// Self returns the user and system CPU time of this process so far, all
// threads; 0 where it cannot be read.
func Self() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
