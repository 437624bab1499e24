// Package faults holds the tests of what a user meets when things go
// wrong on the server's side: a disk that fails or fills up under a put,
// interrupted uploads given up. They run the real client against a real
// server in process, whose disk fails on cue (internal/faultfs); the
// binaries on a real full file system are tested in e2e.
package faults
