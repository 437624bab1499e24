// Package server is the ftpx daemon's engine: it accepts connections, runs
// one session per connection, authenticates users against an accounts.Store
// and serves their homes from a home.Manager.
//
// Its shape is net/http's: a Server struct whose fields are its settings
// (zero values mean defaults), Serve / ListenAndServe / Shutdown, and a
// session per connection. Actions are a table (actions.go) with one handler
// method each, grouped by theme in auth.go, dirs.go and transfer.go; the one
// place where errors become status codes is status.go.
package server
