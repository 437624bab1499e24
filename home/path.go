package home

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"ftpx/protocol"
)

// Resolve joins the wire path p onto the current directory cwd and returns
// the cleaned home path: absolute, slash-separated, "/" being the home root
// ("/a/b"). An empty p means cwd; a p starting with "/" starts from the home
// root.
//
// Refused: control bytes (< 0x20, 0x7f), invalid UTF-8, a backslash, a path
// longer than protocol.MaxPathLen or an element longer than
// protocol.MaxNameLen (ErrBadPath); ".." climbing above "/" (ErrOutside); an
// element equal to PartialDir (ErrPermission). ".", empty elements and
// "a/../b" are cleaned lexically as long as they stay inside.
//
// cwd is normally an earlier result of Resolve; it is checked the same way.
func Resolve(cwd, p string) (string, error) {
	if len(p) > protocol.MaxPathLen {
		return "", fmt.Errorf("resolve: path of %d bytes: %w", len(p), because(ErrBadPath, fmt.Sprintf("a path is at most %d bytes", protocol.MaxPathLen)))
	}
	var elems []string
	var err error
	if !strings.HasPrefix(p, "/") {
		if elems, err = appendElems(elems, cwd); err != nil {
			return "", err
		}
	}
	if elems, err = appendElems(elems, p); err != nil {
		return "", err
	}
	out := "/" + strings.Join(elems, "/")
	if len(out) > protocol.MaxPathLen {
		return "", fmt.Errorf("resolve: path of %d bytes: %w", len(out), because(ErrBadPath, fmt.Sprintf("a path is at most %d bytes", protocol.MaxPathLen)))
	}
	return out, nil
}

// appendElems checks the path s and pushes its elements onto elems,
// popping one for each "..".
func appendElems(elems []string, s string) ([]string, error) {
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("resolve %q: %w", s, because(ErrBadPath, "not UTF-8"))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return nil, fmt.Errorf("resolve %q: byte %#02x: %w", s, c, badByte(c))
		}
	}
	for rest := s; rest != ""; {
		var e string
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			e, rest = rest[:i], rest[i+1:]
		} else {
			e, rest = rest, ""
		}
		switch {
		case len(e) > protocol.MaxNameLen:
			return nil, fmt.Errorf("resolve %q: name of %d bytes: %w", s, len(e), because(ErrBadPath, fmt.Sprintf("a name is at most %d bytes", protocol.MaxNameLen)))
		case e == "" || e == ".":
		case e == "..":
			if len(elems) == 0 {
				return nil, fmt.Errorf("resolve %q: %w", s, because(ErrOutside, "the path leaves the home"))
			}
			elems = elems[:len(elems)-1]
		case e == PartialDir:
			return nil, fmt.Errorf("resolve %q: %w", s, because(ErrPermission, PartialDir+" is reserved"))
		default:
			elems = append(elems, e)
		}
	}
	return elems, nil
}

// badByte is the refusal of a byte no name may hold.
func badByte(c byte) error {
	if c == '\\' {
		return because(ErrBadPath, "no backslash in names")
	}
	return because(ErrBadPath, "no control characters in names")
}
