// Package ftpd serves the ftpx homes to standard FTP clients (curl, lftp,
// FileZilla, Python's ftplib), with explicit FTPS (AUTH TLS, PBSZ, PROT).
//
// It is a front end only: every connection is admitted, every user logged
// in and every transfer counted through package server (Server.Admit,
// Server.Login, Server.RecordTransfer), so the connection limits, login
// throttling, anonymous access, welcome text, TLS certificate and metrics
// are the native server's own. Every file operation goes through the
// user's *home.Home, as the native server's do: the same os.Root jail,
// permissions and quota. An upload (STOR, APPE) is a home.Stream: a hidden
// partial renamed into place only when the data connection ends normally,
// kept when it is cut so that REST+STOR or APPE resume it.
//
// Like the native server, it is a table of commands (commands.go) with
// one handler each, grouped by theme (auth.go, dirs.go, list.go, data.go,
// transfer.go); the one place where errors become reply codes is
// reply.go, and everything read from the network is parsed in parse.go.
// ftpd never opens a path itself.
package ftpd
