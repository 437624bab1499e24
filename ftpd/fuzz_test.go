package ftpd

import (
	"net"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Everything ftpd parses from the network: command lines and the
// arguments of PORT, EPRT, REST, LIST, OPTS, PROT and MFMT.

func FuzzParseLine(f *testing.F) {
	for _, s := range []string{"USER alex\r\n", "RETR a b c\r\n", "\xff\xf4\xff\xf2ABOR\r\n", "noop\n", "", "\xff", "XMD5 f", "TOOLONG x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		verb, arg := parseLine(line)
		if len(verb) > 4 || verb != strings.ToUpper(verb) {
			t.Fatalf("verb %q", verb)
		}
		if verb != "" && strings.ContainsAny(verb, " \r\n\xff") {
			t.Fatalf("verb %q from %q", verb, line)
		}
		if len(arg) > len(line) {
			t.Fatalf("arg %q longer than line %q", arg, line)
		}
		if utf8.ValidString(line) && !strings.Contains(line, "\xff") && verb != "" && strings.ContainsAny(arg, "\n") && !strings.Contains(strings.TrimSuffix(line, "\n"), "\n") {
			t.Fatalf("arg %q keeps the line end of %q", arg, line)
		}
	})
}

func FuzzParseAddresses(f *testing.F) {
	for _, s := range []string{"127,0,0,1,4,1", "1,2,3,4,0,0", " 10, 0 ,0,1,255,255", "|1|127.0.0.1|2121|", "|2|::1|21|", "!1!1.2.3.4!5!", "|3|x|1|", "|", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		for _, parse := range []func(string) (*net.TCPAddr, error){parsePort, parseEPRT} {
			a, err := parse(arg)
			if err != nil {
				continue
			}
			if a.Port < 1 || a.Port > 65535 || a.IP == nil {
				t.Fatalf("%q gave %v", arg, a)
			}
		}
	})
}

func FuzzParseArguments(f *testing.F) {
	for _, s := range []string{"0", "123", "-1", "99999999999999999999", "-la dir", "-a", "-odd/name", "UTF8 ON", "HASH MD5", "P", "c", "PP",
		"20200102030405 f.txt", "20200102030405.123 a b", "16000101000000 f", "20200102030405"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		if n, err := parseRest(arg); err == nil && n < 0 {
			t.Fatalf("REST %q gave %d", arg, n)
		}
		if p := listArg(arg); len(p) > len(arg) || !strings.HasSuffix(arg, p) {
			t.Fatalf("listArg(%q) = %q", arg, p)
		}
		cmd, opts := parseOpts(arg)
		if cmd != upper(cmd) || len(cmd)+len(opts) > len(arg) {
			t.Fatalf("parseOpts(%q) = %q, %q", arg, cmd, opts)
		}
		if lvl, err := parseProt(arg); err == nil && !strings.ContainsRune("CSEP", rune(lvl)) {
			t.Fatalf("parseProt(%q) = %c", arg, lvl)
		}
		if mtime, p, err := parseMfmt(arg); err == nil && (p == "" || !strings.HasSuffix(arg, " "+p) || mtime.Location() != time.UTC ||
			!time.Unix(0, mtime.UnixNano()).Equal(mtime)) {
			t.Fatalf("parseMfmt(%q) = %v, %q", arg, mtime, p)
		}
	})
}

func TestParseLine(t *testing.T) {
	for _, tc := range []struct{ line, verb, arg string }{
		{"USER alex\r\n", "USER", "alex"},
		{"retr  two spaces.txt\r\n", "RETR", " two spaces.txt"},
		{"STOR name with spaces\n", "STOR", "name with spaces"},
		{"\xff\xf4\xff\xf2ABOR\r\n", "ABOR", ""},
		{"NOOP", "NOOP", ""},
		{"BOGUS x", "", "x"},
		{"RE-T x", "", "x"},
	} {
		if verb, arg := parseLine(tc.line); verb != tc.verb || arg != tc.arg {
			t.Errorf("parseLine(%q) = %q, %q; want %q, %q", tc.line, verb, arg, tc.verb, tc.arg)
		}
	}
	if a, err := parsePort("127,0,0,1,4,1"); err != nil || a.String() != "127.0.0.1:1025" {
		t.Errorf("PORT: %v %v", a, err)
	}
	if a, err := parseEPRT("|2|::1|2121|"); err != nil || a.String() != "[::1]:2121" {
		t.Errorf("EPRT: %v %v", a, err)
	}
	if p := listArg("-la sub dir"); p != "sub dir" {
		t.Errorf("listArg: %q", p)
	}
	for arg, want := range map[string]time.Time{
		"20200102030405 f.txt":           time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC),
		"20200102030405.25 name with sp": time.Date(2020, 1, 2, 3, 4, 5, 25e7, time.UTC),
		"16780101000000 f":               time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		if got, p, err := parseMfmt(arg); err != nil || !got.Equal(want) || !strings.HasSuffix(arg, " "+p) {
			t.Errorf("parseMfmt(%q) = %v, %q, %v; want %v", arg, got, p, err, want)
		}
	}
	for _, arg := range []string{"16770101000000 f", "22630101000000 f", "00000101000000 f", "20200102030405", "2020010203040 f"} {
		if got, _, err := parseMfmt(arg); err == nil {
			t.Errorf("parseMfmt(%q) = %v, want an error", arg, got)
		}
	}
}
