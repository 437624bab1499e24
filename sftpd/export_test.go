package sftpd

import "time"

// SetParkAfter sets how long an idle request server waits before it stops,
// for a test; it returns the function that puts the old value back.
func SetParkAfter(d time.Duration) (restore func()) {
	old := parkAfter
	parkAfter = d
	return func() { parkAfter = old }
}
