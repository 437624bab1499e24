// Package e2e holds the end-to-end tests: they build both binaries, start
// ftpx-server as a user would, and drive it with the ftpx command, checking
// files, MD5s and exit statuses. The browser tests (browser*_test.go)
// drive the web client in a headless Chromium ($FTPX_CHROMIUM, else
// chromium on $PATH; skipped without one), through a TCP switch that can
// slow, mute or cut the browser's network, and save a screenshot of each
// step under $FTPX_ARTEFACTS (default: the test's temporary directory).
package e2e
