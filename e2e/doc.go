// Package e2e holds the end-to-end tests: they build both binaries, start
// ftpx-server as a user would, and drive it with the ftpx command, checking
// files, MD5s and exit statuses.
package e2e
