package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Decode parses a header into v (a *Request or *Response). The header must
// be one JSON object whose keys are unique even ignoring case: encoding/json
// matches keys case-insensitively and keeps the last, so
// {"action":"ls","Action":"put"} would otherwise mean whatever the last key
// says. Such headers, and anything that is not an object of the right field
// types, give an error wrapping ErrFormat.
func Decode(b []byte, v any) error {
	if err := checkKeys(b); err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return nil
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
