// Package conf owns the server's configuration file: an INI file of
// "key = value" lines outside any section, each key named as the long flag of
// ftpx-server with '_' for '-'. Load reads it over Default and checks every
// value, naming the file and line of anything wrong; relative paths are
// resolved against the file's folder. It also embeds the sample files that
// `make run` and the tests use.
//
// It never logs, and it does not import accounts: the two are siblings.
package conf
