// Package protocol is the vocabulary of ftpx: frames, request and response
// headers, action names, status codes and limits. Every other package imports
// it; it imports only the standard library.
//
// A frame is a 4-byte big-endian length followed by that many bytes of JSON
// (the header). A header that announces a body (a put request, a 257 answer
// to get) is followed by exactly that many raw bytes. PROTOCOL.md at the top
// of the repository describes every exchange.
package protocol
