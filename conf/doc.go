// Package conf owns the server's settings and its configuration file: an
// INI file of "key = value" lines outside any section. Settings is the one
// list of them: each is a key of the file and, with '-' for '_', a flag of
// ftpx-server serve, and its value is checked by the same setter from
// either. Load reads the file over Default and checks every value, naming
// the file and line of anything wrong; relative paths are resolved against
// the file's folder. It also embeds the sample files that `make run` and
// the tests use.
//
// It never logs, and it does not import accounts: the two are siblings.
package conf
