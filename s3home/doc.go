// Package s3home keeps homes on an S3-compatible object store (MinIO,
// Ceph RGW, AWS S3...), so that several ftpx servers share them: it is a
// second implementation of home.FS, with the seams home offers an object
// store (home.Sink and home.Concurrent for its uploads, home.LedgerFS, home.Claimer,
// home.Store), and the server never learns which one it talks to.
//
// A tree (a user's home, or a folder) is the key prefix PREFIX/NAME/ of a
// bucket; one function (FS.key) turns a home path into a key, and every
// key this package touches comes from it or from the tree's reserved
// PartialDir, so nothing a client sends names a key outside the tree.
// A file is an object; a directory is a marker object "dir/" or any key
// under it. A small upload is held in memory and written with one
// conditional PUT once verified; a big one is a multipart upload towards
// its final key, whose upload id, parts and MD5 state are kept in a state
// object beside it, so any server can resume it, and which is completed
// (one atomic step) once verified. Each tree's quota is a usage object
// changed only by conditional writes, with per-server leases that lapse
// when their server dies (ledger.go); transfer ids are claimed with lock
// objects that lapse the same way (lock.go).
//
// Every call to the store has a bounded time; a store that cannot be
// reached gives home.ErrUnavailable. s3home never logs; the server does.
package s3home
