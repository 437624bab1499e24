// Package webd serves the users' homes to browsers and HTTP clients: a web
// client at / (one page of our own, embedded from page/), a JSON API under
// /api/v1/ and resumable, MD5-verified uploads by the tus 1.0 protocol at
// /api/v1/uploads/.
//
// It is one more front end on server.Server (Core), like ftpd and sftpd:
// every login goes through Core's Login (throttling, bans, max_sessions),
// every connection through Core's Admit, and every file operation through
// the user's home.Home. A tus upload is a home.Upload with the upload's id
// as its transfer id: a partial like any other, resumable on any server of
// a group on one store (home.Put.Shared: on an object store even a file
// smaller than one part is stored as parts, with its resume point, from
// its creation). webd keeps no file of its own.
//
// A web session is a row of a table in memory (a cookie's token, the user,
// a CSRF token and when it was last used): it holds no goroutine and no
// open home between requests. Each request opens the user's home and
// closes it when it ends.
package webd
