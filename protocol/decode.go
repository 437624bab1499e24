package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"
)

// Decode parses a header into v (a *Request or *Response). The header must
// be valid UTF-8, and one JSON object whose keys are ASCII and unique even
// ignoring case: encoding/json
// matches keys case-insensitively and keeps the last, so
// {"action":"ls","Action":"put"} would otherwise mean whatever the last key
// says. Such headers, and anything that is not an object of the right field
// types, give an error wrapping ErrFormat.
func Decode(b []byte, v any) error {
	if !utf8.Valid(b) {
		// encoding/json would turn each bad byte into U+FFFD, making two
		// different names one.
		return fmt.Errorf("%w: not valid UTF-8", ErrFormat)
	}
	if err := checkKeys(b); err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("%w: %q is a JSON %s, want a %s", ErrFormat, te.Field, te.Value, jsonKind(te.Type.Kind()))
		}
		return fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// jsonKind names a Go kind as the JSON type that decodes into it.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "object"
	}
	return "number"
}

// PeekID returns the "id" of a header that Decode refused, when the header
// is at least a JSON object with a string id, so that even the answer to a
// malformed request can carry its id.
func PeekID(b []byte) string {
	var h struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(b, &h) != nil {
		var m map[string]json.RawMessage
		if json.Unmarshal(b, &m) != nil || json.Unmarshal(m["id"], &h.ID) != nil {
			return ""
		}
	}
	return h.ID
}

// checkKeys verifies that b is a single JSON object with no two top-level
// keys equal under case folding, and only ASCII keys. It scans the bytes
// once without decoding the values: this runs for every request, and
// json.Unmarshal checks the syntax of the whole right after. On text that
// is valid JSON it is exact (keys with escapes are unquoted by
// encoding/json); on anything else it may give either answer, and
// Unmarshal refuses it.
func checkKeys(b []byte) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return fmt.Errorf("%w: not a JSON object", ErrFormat)
	}
	var seen [16]string // few keys: a linear search beats a map
	keys := seen[:0]
	i = skipSpace(b, i+1)
	for i < len(b) && b[i] != '}' {
		if b[i] != '"' {
			return fmt.Errorf("%w: expected a key at byte %d", ErrFormat, i)
		}
		end := skipString(b, i)
		if end < 0 {
			return fmt.Errorf("%w: unterminated key", ErrFormat)
		}
		key := string(b[i+1 : end-1])
		if bytes.IndexByte(b[i:end], '\\') >= 0 {
			if json.Unmarshal(b[i:end], &key) != nil {
				return fmt.Errorf("%w: bad key at byte %d", ErrFormat, i)
			}
		}
		if !isASCII(key) {
			// encoding/json folds keys with Unicode rules ("ſize" is
			// "size"); no field of ours needs more than ASCII.
			return fmt.Errorf("%w: key %q is not ASCII", ErrFormat, key)
		}
		for _, k := range keys {
			if strings.EqualFold(k, key) {
				return fmt.Errorf("%w: duplicate key %q", ErrFormat, key)
			}
		}
		keys = append(keys, key)
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return fmt.Errorf("%w: expected ':' at byte %d", ErrFormat, i)
		}
		if i = skipValue(b, skipSpace(b, i+1)); i < 0 {
			return fmt.Errorf("%w: bad value", ErrFormat)
		}
		i = skipSpace(b, i)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
			if i < len(b) && b[i] == '}' {
				return fmt.Errorf("%w: trailing comma", ErrFormat)
			}
		}
	}
	if i >= len(b) {
		return fmt.Errorf("%w: unterminated object", ErrFormat)
	}
	if skipSpace(b, i+1) != len(b) {
		return fmt.Errorf("%w: data after the object", ErrFormat)
	}
	return nil
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i]
// ('"'), or -1 when it does not end.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index just past the value starting at b[i], or -1
// when it does not end: strings are skipped whole, objects and arrays by
// their depth, anything else up to the next delimiter.
func skipValue(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch c := b[i]; c {
		case '"':
			if i = skipString(b, i); i < 0 {
				return -1
			}
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i // the end of the enclosing object
			}
			if depth--; depth == 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		case ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	if depth > 0 {
		return -1
	}
	return i
}
