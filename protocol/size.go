package protocol

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Unlimited is the size of a limit that does not limit: a quota without a
// limit, a rate without a cap. ParseSize("unlimited") gives it.
const Unlimited int64 = -1

// units in descending order; FormatSize uses the first that divides exactly.
var units = []struct {
	name string
	size int64
}{
	{"TB", 1 << 40},
	{"GB", 1 << 30},
	{"MB", 1 << 20},
	{"KB", 1 << 10},
	{"B", 1},
}

// unitSizes maps every accepted (lower-case) unit spelling to its size.
var unitSizes = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
	"t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
}

// maxDigits bounds the number part of a size, to keep junk cheap to reject.
const maxDigits = 40

// ParseSize parses a size such as "100MB", "100 MB", "1.5GB", "512",
// "10KiB" or "unlimited" (which gives Unlimited). The units B, KB, MB, GB and
// TB are powers of 1024; KiB, MiB, GiB, TiB and the bare K, M, G, T mean the
// same. Units are case-insensitive and a bare number is bytes. A fractional
// size is rounded down to a whole byte. Negative sizes, sizes that overflow
// an int64 and anything else give an error.
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "unlimited" {
		return Unlimited, nil
	}
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("%q is negative", s)
	}
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	mult, ok := unitSizes[unit]
	whole, frac, hasDot := strings.Cut(num, ".")
	if !ok || !allDigits(whole) || hasDot && !allDigits(frac) {
		return 0, fmt.Errorf("%q is not a size (e.g. 512, 100MB, 1.5GB, unlimited)", s)
	}
	if len(num) > maxDigits {
		return 0, fmt.Errorf("%q is too large", s)
	}
	// value = whole.frac * mult, rounded down, computed exactly.
	n, _ := new(big.Int).SetString(whole+frac, 10)
	n.Mul(n, big.NewInt(mult))
	n.Quo(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(frac))), nil))
	if !n.IsInt64() {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n.Int64(), nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// FormatSize returns the shortest exact form of n in the units B, KB, MB, GB
// and TB ("100MB", "1GB", "1536KB", "0B"), or "unlimited" for Unlimited.
// ParseSize(FormatSize(n)) == n for every n >= 0 and for Unlimited.
func FormatSize(n int64) string {
	switch {
	case n == Unlimited:
		return "unlimited"
	case n <= 0:
		return strconv.FormatInt(n, 10) + "B"
	}
	u := units[0]
	for _, u = range units {
		if n%u.size == 0 {
			break
		}
	}
	return strconv.FormatInt(n/u.size, 10) + u.name
}

// HumanSize rounds n for people: "1.9MB", "512B", "unlimited".
func HumanSize(n int64) string {
	if n < 0 {
		return "unlimited"
	}
	for _, u := range units {
		if n >= u.size && u.size > 1 {
			return strconv.FormatFloat(float64(n)/float64(u.size), 'f', 1, 64) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
