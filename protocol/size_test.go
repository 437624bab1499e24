package protocol

import "testing"

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"512", 512},
		{"512B", 512},
		{"100MB", 100 << 20},
		{"100 MB", 100 << 20},
		{"  100mb  ", 100 << 20},
		{"1.5GB", 3 << 29},
		{"1.5 gib", 3 << 29},
		{"10KiB", 10 << 10},
		{"10K", 10 << 10},
		{"2TB", 2 << 40},
		{"1MiB", 1 << 20},
		{"0.5KB", 512},
		{"0.1KB", 102}, // rounded down to whole bytes
		{"unlimited", Unlimited},
		{"Unlimited", Unlimited},
		{"8388607TB", 8388607 << 40},
		{"9223372036854775807", 1<<63 - 1},
	} {
		got, err := ParseSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestParseSizeRejects(t *testing.T) {
	for _, in := range []string{
		"", " ", "lots", "MB", "-1", "-1MB", "+1MB", "1.", ".5MB", "1..5MB", "1.5.5MB",
		"1e6", "10 M B", "10XB", "0x10", "8388608TB", "9223372036854775808",
		"99999999999999999999999999999999999999999999999999",
	} {
		if n, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, n)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{
		{Unlimited, "unlimited"},
		{0, "0B"},
		{1, "1B"},
		{1023, "1023B"},
		{1024, "1KB"},
		{1536 << 10, "1536KB"},
		{100 << 20, "100MB"},
		{1 << 30, "1GB"},
		{3 << 29, "1536MB"},
		{5 << 40, "5TB"},
		{1 << 50, "1024TB"},
	} {
		if got := FormatSize(tc.in); got != tc.want {
			t.Errorf("FormatSize(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzParseSize checks that ParseSize never panics and that every size it
// accepts survives FormatSize and back.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"100MB", "1.5GB", "512", "unlimited", "10 KiB", "-1", "0.1KB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			return
		}
		if n < 0 && n != Unlimited {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
		back, err := ParseSize(FormatSize(n))
		if err != nil || back != n {
			t.Fatalf("ParseSize(FormatSize(%d)) = %d, %v", n, back, err)
		}
	})
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 1023: "1023B", 1024: "1.0KB", 2_000_000: "1.9MB", 1 << 30: "1.0GB", Unlimited: "unlimited"} {
		if got := HumanSize(n); got != want {
			t.Errorf("HumanSize(%d) = %q, want %q", n, got, want)
		}
	}
}
