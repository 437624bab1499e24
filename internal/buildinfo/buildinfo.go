// Package buildinfo says which build of ftpx is running, for --version.
package buildinfo

import (
	"runtime/debug"
	"strings"

	"ftpx/server"
)

// Version is the release, as the server announces it (without "ftpx/").
var Version = strings.TrimPrefix(server.Version, "ftpx/")

// commit is set by the Makefile's build (-ldflags -X), for builds that
// carry no VCS stamp (GOFLAGS=-buildvcs=false).
var commit string

// String is the version, the commit the binary was built from (with
// "+changes" when the tree had uncommitted ones; "unknown" when the build
// did not say, as under go test) and the Go version: "0.1.0 (commit 3beda12,
// go1.26.8)".
func String() string {
	built, goVersion := commit, "unknown"
	if built == "" {
		built = "unknown"
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		var rev string
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if rev != "" && built == "unknown" {
			built = rev[:min(len(rev), 7)]
			if modified {
				built += "+changes"
			}
		}
	}
	return Version + " (commit " + built + ", " + goVersion + ")"
}
