package ftpd

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"time"
)

// Everything ftpd reads from the network is taken apart here, by
// functions on strings that a fuzz target feeds garbage.

// maxLine bounds a command line, CRLF included: a path of
// protocol.MaxPathLen bytes fits with room for the verb.
const maxLine = 8 << 10

// errSyntax is a command argument that does not parse.
var errSyntax = errors.New("syntax error in parameters")

// parseLine splits a command line into its verb (upper-cased) and its
// argument (everything after the first space, as sent). The line ending
// (CRLF, or a bare LF) goes, and so do Telnet commands (IAC and the byte
// after it), which clients send before ABOR: IAC IP IAC DM. A verb is
// ASCII letters and digits, at most 4 of them; anything else gives "".
func parseLine(line string) (verb, arg string) {
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	if strings.IndexByte(line, 0xff) >= 0 {
		var b strings.Builder
		for i := 0; i < len(line); i++ {
			if line[i] == 0xff {
				i++ // the Telnet command byte
				continue
			}
			b.WriteByte(line[i])
		}
		line = b.String()
	}
	verb, arg, _ = strings.Cut(line, " ")
	if len(verb) == 0 || len(verb) > 4 {
		return "", arg
	}
	for i := 0; i < len(verb); i++ {
		c := verb[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return "", arg
		}
	}
	return strings.ToUpper(verb), arg
}

// parsePort parses PORT's h1,h2,h3,h4,p1,p2: an IPv4 address and a port.
func parsePort(arg string) (*net.TCPAddr, error) {
	f := strings.Split(strings.TrimSpace(arg), ",")
	if len(f) != 6 {
		return nil, errSyntax
	}
	var b [6]byte
	for i, s := range f {
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 8)
		if err != nil {
			return nil, errSyntax
		}
		b[i] = byte(n)
	}
	port := int(b[4])<<8 | int(b[5])
	if port == 0 {
		return nil, errSyntax
	}
	return &net.TCPAddr{IP: net.IPv4(b[0], b[1], b[2], b[3]), Port: port}, nil
}

// parseEPRT parses EPRT's |PROTO|ADDRESS|PORT| (RFC 2428), where the
// delimiter is the first character: PROTO 1 is IPv4, 2 IPv6.
func parseEPRT(arg string) (*net.TCPAddr, error) {
	if len(arg) < 2 {
		return nil, errSyntax
	}
	d := arg[:1]
	f := strings.Split(arg, d)
	if len(f) != 5 || f[0] != "" || f[4] != "" {
		return nil, errSyntax
	}
	ip := net.ParseIP(f[2])
	switch {
	case ip == nil:
		return nil, errSyntax
	case f[1] == "1" && ip.To4() == nil, f[1] == "2" && ip.To4() != nil, f[1] != "1" && f[1] != "2":
		return nil, errSyntax
	}
	port, err := strconv.ParseUint(f[3], 10, 16)
	if err != nil || port == 0 {
		return nil, errSyntax
	}
	return &net.TCPAddr{IP: ip, Port: int(port)}, nil
}

// parseMfmt parses MFMT's "YYYYMMDDHHMMSS[.sss] PATH" (draft-somers-ftp-mfxx):
// a time in UTC, to the second or finer, then the path. The time must fit
// a count of nanoseconds since 1970 (1678 to 2262), which is how it is set
// on a file: one outside would land on another date.
func parseMfmt(arg string) (time.Time, string, error) {
	stamp, p, ok := strings.Cut(arg, " ")
	if !ok || p == "" || len(stamp) < len(mdtmLayout) {
		return time.Time{}, "", errSyntax
	}
	t, err := time.Parse(mdtmLayout, stamp) // a fraction after the seconds is read too
	if err != nil || !time.Unix(0, t.UnixNano()).Equal(t) {
		return time.Time{}, "", errSyntax
	}
	return t, p, nil
}

// parseRest parses REST's offset: a decimal number of bytes, 0 or more.
func parseRest(arg string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(arg), 10, 64)
	if err != nil || n < 0 {
		return 0, errSyntax
	}
	return n, nil
}

// listArg returns the path of a LIST, NLST or STAT argument: leading
// words starting with '-' are options (ls's -a, -l, -la: all ignored).
func listArg(arg string) string {
	for strings.HasPrefix(arg, "-") {
		opt, rest, found := strings.Cut(arg, " ")
		if strings.ContainsAny(opt, "/") {
			break // a path such as "-odd/name"
		}
		if !found {
			return ""
		}
		arg = strings.TrimLeft(rest, " ")
	}
	return arg
}

// parseOpts splits OPTS's argument into the command it is about (upper
// case) and that command's options.
func parseOpts(arg string) (cmd, opts string) {
	cmd, opts, _ = strings.Cut(strings.TrimSpace(arg), " ")
	return upper(cmd), strings.TrimSpace(opts)
}

// upper upper-cases ASCII letters only, so the result is as long as s.
func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// parseProt parses PROT's level: C (clear) or P (private); S and E are
// refused as unsupported by the caller.
func parseProt(arg string) (byte, error) {
	s := strings.ToUpper(strings.TrimSpace(arg))
	if len(s) != 1 || !strings.Contains("CSEP", s) {
		return 0, errSyntax
	}
	return s[0], nil
}
