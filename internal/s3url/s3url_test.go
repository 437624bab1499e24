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

func TestCheckEndpoint(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:9000", "http://localhost:9000", "http://[::1]:9000", "http://127.1.2.3", "https://s3.example.com", "https://minio.lan:9000/"} {
		if _, err := CheckEndpoint(ok); err != nil {
			t.Errorf("CheckEndpoint(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "127.0.0.1:9000", "ftp://127.0.0.1", "http://minio.lan:9000", "http://10.0.0.1:9000", "https://u:p@host", "https://host/bucket", "https://host?x=1"} {
		if _, err := CheckEndpoint(bad); err == nil {
			t.Errorf("CheckEndpoint(%q) accepted", bad)
		}
	}
}
