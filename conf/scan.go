package conf

import (
	"fmt"
	"strings"
)

// The line scanner of the INI format, the same as the accounts file's.

type lineKind int

const (
	lineBlank   lineKind = iota // empty or a comment
	lineSection                 // [name]
	lineKey                     // key = value
)

// scannedLine is one line taken apart.
type scannedLine struct {
	kind       lineKind
	name       string // section name
	key, value string
}

// scanLine takes one line apart (without its terminator). A comment starts
// at ';' or '#' at the start of a line or value, or after a space or tab; a
// value may be double-quoted to hold them.
func scanLine(line string) (scannedLine, error) {
	body := strings.TrimSpace(line)
	switch {
	case body == "" || body[0] == ';' || body[0] == '#':
		return scannedLine{kind: lineBlank}, nil
	case body[0] == '[':
		end := strings.IndexByte(body, ']')
		if end < 0 || !isComment(body[end+1:]) {
			return scannedLine{}, fmt.Errorf("broken section line %q", body)
		}
		return scannedLine{kind: lineSection, name: strings.TrimSpace(body[1:end])}, nil
	}
	key, rest, ok := strings.Cut(body, "=")
	if !ok {
		return scannedLine{}, fmt.Errorf("broken line %q (want key = value)", body)
	}
	l := scannedLine{kind: lineKey, key: strings.TrimSpace(key)}
	if l.key == "" {
		return scannedLine{}, fmt.Errorf("missing key before '='")
	}
	rest = strings.TrimLeft(rest, " \t")
	if strings.HasPrefix(rest, `"`) {
		closing := strings.IndexByte(rest[1:], '"')
		if closing < 0 {
			return scannedLine{}, fmt.Errorf("%s: missing closing quote", l.key)
		}
		l.value = rest[1 : 1+closing]
		if !isComment(rest[closing+2:]) {
			return scannedLine{}, fmt.Errorf("%s: text after the closing quote", l.key)
		}
		return l, nil
	}
	n := len(rest)
	for i := 0; i < len(rest); i++ {
		if (rest[i] == ';' || rest[i] == '#') && (i == 0 || rest[i-1] == ' ' || rest[i-1] == '\t') {
			n = i
			break
		}
	}
	l.value = strings.TrimRight(rest[:n], " \t")
	return l, nil
}

// isComment reports whether s is blank or a comment.
func isComment(s string) bool {
	s = strings.TrimSpace(s)
	return s == "" || s[0] == ';' || s[0] == '#'
}
