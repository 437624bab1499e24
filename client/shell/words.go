package shell

import (
	"strings"

	"ftpx/client"
)

// word is one argument of a command line. Quotes and backslashes work as
// in sh: 'single' keeps everything, "double" and a backslash outside
// quotes escape the next character.
type word struct {
	text    string // the argument, unquoted
	pattern string // text with the quoted characters escaped for path.Match
	glob    bool   // holds an unquoted * ? or [
}

const globChars = `*?[`

// argWords are the words of a one-shot command's arguments, which the
// local shell has already unquoted: one that holds a wildcard is a remote
// pattern, in which a backslash makes the next character literal.
func argWords(args []string) []word {
	words := make([]word, len(args))
	for i, a := range args {
		words[i] = word{text: a, pattern: a, glob: strings.ContainsAny(a, globChars)}
	}
	return words
}

// splitWords splits a command line into words.
func splitWords(line string) ([]word, error) {
	var (
		words   []word
		cur     strings.Builder
		pat     strings.Builder
		glob    bool
		inWord  bool
		quote   rune // 0, '\'' or '"'
		escaped bool
	)
	literal := func(r rune) {
		cur.WriteRune(r)
		if strings.ContainsRune(globChars+`\`, r) {
			pat.WriteByte('\\')
		}
		pat.WriteRune(r)
	}
	for _, r := range line {
		switch {
		case escaped:
			literal(r)
			escaped = false
		case quote == '\'' && r != '\'':
			literal(r)
		case quote == '"' && r == '\\':
			escaped = true
		case quote == '"' && r != '"':
			literal(r)
		case quote != 0: // the closing quote
			quote = 0
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == '\\':
			escaped, inWord = true, true
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if inWord {
				words = append(words, word{text: cur.String(), pattern: pat.String(), glob: glob})
				cur.Reset()
				pat.Reset()
				glob, inWord = false, false
			}
		default:
			inWord = true
			cur.WriteRune(r)
			pat.WriteRune(r)
			if strings.ContainsRune(globChars, r) {
				glob = true
			}
		}
	}
	if quote != 0 || escaped {
		return nil, client.Usagef("%s: unterminated quote or escape", client.Printable(firstWord(line)))
	}
	if inWord {
		words = append(words, word{text: cur.String(), pattern: pat.String(), glob: glob})
	}
	return words, nil
}

// splitCommands splits the text of "ftpx shell -c" into command lines at
// every newline and every ";" outside quotes.
func splitCommands(s string) []string {
	var (
		lines   []string
		cur     strings.Builder
		quote   rune
		escaped bool
	)
	for _, r := range s {
		switch {
		case escaped:
			escaped = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			}
		case r == '\\':
			escaped = true
		case quote == '"':
			if r == '"' {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == ';' || r == '\n':
			lines = append(lines, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteRune(r)
	}
	return append(lines, cur.String())
}

// quoteWord escapes what splitWords would otherwise split or expand, for
// tab completion.
func quoteWord(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(" \t'\"\\;"+globChars, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func firstWord(line string) string {
	if f := strings.Fields(line); len(f) > 0 {
		return f[0]
	}
	return ""
}
