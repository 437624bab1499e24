// Package home owns a user's jailed file tree under ROOT/NAME: it resolves
// wire paths into home paths, exposes the tree through the small FS
// interface (every operation goes through an os.Root, so nothing outside
// the home can be reached), lists directories, keeps each user's quota
// account and writes uploads as partial files renamed into place once
// verified.
//
// A home may have virtual folders: other directories of the server mounted
// at /NAME, each behind its own os.Root, with its own permissions (read,
// write, modify) and optionally its own quota account, shared by every
// user who mounts it (mount.go). The anonymous tree is a read-only home
// over one directory. home enforces the permissions of what it changes
// (uploads, rm, mv); Allowed tells the server those of what it reads.
//
// Errors carry an operation and a home-relative path, never the server's
// own paths, and wrap one of the sentinels below. home never logs; the
// server does.
package home
