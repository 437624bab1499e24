// Package iniline takes apart the lines of the INI files ftpx reads (the
// accounts file and the server config): blank/comment, [section] and
// key = value lines, with the value's position so an editor can replace it in
// place.
package iniline

import (
	"fmt"
	"strings"
)

// Kind is what a line is.
type Kind int

const (
	Blank   Kind = iota // empty or a comment
	Section             // [name]
	Key                 // key = value
)

// Line is one line, taken apart.
type Line struct {
	Kind       Kind
	Name       string // Section: the section name, trimmed
	Key, Value string // Key: the key as written but trimmed; the value, comment stripped, unquoted
	Start, End int    // Key: the value as written (quotes included) is line[Start:End]
}

// SyntaxError is Scan's error for a line that is neither blank, a [section]
// line nor a key = value line. Its message hints at both forms; a caller
// whose file has no sections may word its own from the fields.
type SyntaxError struct {
	Section bool   // the line starts with '[' but is not [NAME] (and maybe a comment)
	Text    string // the line, trimmed
}

func (e *SyntaxError) Error() string {
	if e.Section {
		return fmt.Sprintf("broken section line %q (want [NAME])", e.Text)
	}
	return fmt.Sprintf("broken line %q (want key = value, or [NAME])", e.Text)
}

// Scan takes one line apart (without its terminator). skip is a prefix to
// ignore, such as a byte order mark; it must be at most len(line). A comment
// starts at ';' or '#' at the start of a line or value, or after a space or
// tab. A value may be double-quoted, to hold those characters or blanks at
// its ends; it then runs to the next '"', and only blanks or a comment may
// follow.
func Scan(line string, skip int) (Line, error) {
	body := strings.TrimSpace(line[skip:])
	switch {
	case body == "" || body[0] == ';' || body[0] == '#':
		return Line{Kind: Blank}, nil
	case body[0] == '[':
		end := strings.IndexByte(body, ']')
		if end < 0 || !isComment(body[end+1:]) {
			return Line{}, &SyntaxError{Section: true, Text: body}
		}
		return Line{Kind: Section, Name: strings.TrimSpace(body[1:end])}, nil
	}
	eq := strings.IndexByte(line[skip:], '=')
	if eq < 0 {
		return Line{}, &SyntaxError{Text: body}
	}
	eq += skip
	l := Line{Kind: Key, Key: strings.TrimSpace(line[skip:eq])}
	if l.Key == "" {
		return Line{}, fmt.Errorf("missing key before '='")
	}
	l.Start = eq + 1
	for l.Start < len(line) && (line[l.Start] == ' ' || line[l.Start] == '\t') {
		l.Start++
	}
	rest := line[l.Start:]
	if strings.HasPrefix(rest, `"`) {
		closing := strings.IndexByte(rest[1:], '"')
		if closing < 0 {
			return Line{}, fmt.Errorf("%s: missing closing quote", l.Key)
		}
		l.Value = rest[1 : 1+closing]
		l.End = l.Start + closing + 2
		if !isComment(line[l.End:]) {
			return Line{}, fmt.Errorf("%s: text after the closing quote", l.Key)
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
	l.Value = strings.TrimRight(rest[:n], " \t")
	l.End = l.Start + len(l.Value)
	return l, nil
}

// isComment reports whether s is blank or a comment.
func isComment(s string) bool {
	s = strings.TrimSpace(s)
	return s == "" || s[0] == ';' || s[0] == '#'
}
