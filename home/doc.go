// Package home owns a user's jailed file tree under ROOT/NAME: it resolves
// wire paths into home paths, exposes the tree through the small FS
// interface (every operation goes through an os.Root, so nothing outside
// the home can be reached), lists directories, keeps each user's quota
// account and writes uploads as partial files renamed into place once
// verified.
//
// Errors carry an operation and a home-relative path, never the server's
// own paths, and wrap one of the sentinels below. home never logs; the
// server does.
package home
