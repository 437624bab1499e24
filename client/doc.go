// Package client speaks the ftpx protocol to a server: it dials, reads the
// greeting, authenticates, lists and moves files, verifying every transfer
// by MD5 while it streams, and maps what went wrong to the exit statuses of
// the ftpx command (ExitCode).
//
// A Client is one connection and is not safe for concurrent use. Operations
// with cp-like destinations (PutPaths, GetPaths) live here too, so that
// cmd/ftpx only parses flags and prints. The package never prints: it
// reports through return values and the callbacks in TransferOptions.
//
// Everything the server sends is untrusted: sizes are checked before use,
// answers must echo the request's id, and names from listings are never
// used as local paths.
package client
