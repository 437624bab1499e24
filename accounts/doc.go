// Package accounts owns the accounts file: one INI section per user with a
// bcrypt password hash and an optional quota. It loads and validates the file
// (every error names the file and line), checks passwords in constant time
// for known and unknown users alike, and edits the file atomically for the
// `ftpx-server user` commands, keeping every other line byte for byte. The
// file's bytes come from a Source: a local file, or an object of a store
// (s3home), whose versions let servers reload only what changed and make
// concurrent edits retry instead of overwriting each other. It never
// imports a store's client.
//
// It never logs: problems that do not stop loading, such as a plaintext
// password, are returned by Store.Warnings for the caller to log.
//
// The format:
//
//	; a comment
//	[alex]
//	password = $2a$10$...   ; a bcrypt hash (plaintext is accepted, with a warning)
//	quota    = 100MB        ; B, KB, MB, GB, TB (powers of 1024), or unlimited
//
// Keys are case-insensitive; the older keys Password and Quotation (a number
// of MB) are read too. A comment starts at a ';' or '#' at the start of a
// value or after a space or tab, so a plaintext password may contain them
// elsewhere; a value may also be written in double quotes.
package accounts
