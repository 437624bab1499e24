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
// keys equal under case folding.
func checkKeys(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("%w: not a JSON object", ErrFormat)
	}
	seen := make(map[string]bool, 8)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%w: %v", ErrFormat, err)
		}
		key, _ := tok.(string)
		if !isASCII(key) {
			// encoding/json folds keys with Unicode rules ("ſize" is
			// "size"); no field of ours needs more than ASCII.
			return fmt.Errorf("%w: key %q is not ASCII", ErrFormat, key)
		}
		folded := strings.ToLower(key)
		if seen[folded] {
			return fmt.Errorf("%w: duplicate key %q", ErrFormat, key)
		}
		seen[folded] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return fmt.Errorf("%w: %v", ErrFormat, err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: data after the object", ErrFormat)
	}
	return nil
}
