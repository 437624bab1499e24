package ids

import (
	"testing"

	"github.com/google/uuid"
)

// TestNewIsAUniqueUUID: every id parses as a version-4 uuid, and none
// repeats.
func TestNewIsAUniqueUUID(t *testing.T) {
	seen := map[string]bool{}
	for range 100_000 {
		id := New()
		u, err := uuid.Parse(id)
		if err != nil || len(id) != 36 || u.Version() != 4 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("%q: %v, version %d, variant %v", id, err, u.Version(), u.Variant())
		}
		if seen[id] {
			t.Fatalf("%q twice", id)
		}
		seen[id] = true
	}
}
