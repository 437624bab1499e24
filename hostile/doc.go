// Package hostile holds the hostile-input test suite: it speaks the raw protocol to a real server, never through ftpx's client, so client-side cleaning cannot hide a server bug.
package hostile
