package s3url

import "testing"

func TestParse(t *testing.T) {
	good := map[string]URL{
		"s3://ftpx":              {Bucket: "ftpx"},
		"s3://ftpx/":             {Bucket: "ftpx"},
		"s3://my.bucket-1/a/b":   {Bucket: "my.bucket-1", Prefix: "a/b"},
		"s3://ftpx/team data/x/": {Bucket: "ftpx", Prefix: "team data/x"},
	}
	for in, want := range good {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"ftpx", "s3://", "s3://ab", "s3://Ftpx", "s3://-ftpx", "s3://ftpx-", "s3://a..b",
		"s3://ftpx//a", "s3://ftpx/a/../b", "s3://ftpx/./a", "s3://ftpx/.ftpx-partial", "s3://ftpx/a\x00b", `s3://ftpx/a\b`, "s3://ftpx_1"} {
		if u, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", in, u)
		}
	}
	if u, _ := Parse("s3://ftpx/a/b/"); u.String() != "s3://ftpx/a/b" || u.KeyPrefix() != "a/b/" {
		t.Errorf("String %q KeyPrefix %q", u.String(), u.KeyPrefix())
	}
	if u, _ := Parse("s3://ftpx"); u.String() != "s3://ftpx" || u.KeyPrefix() != "" {
		t.Errorf("String %q KeyPrefix %q", u.String(), u.KeyPrefix())
	}
}
