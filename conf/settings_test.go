package conf

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"ftpx/internal/iniline"
)

var update = flag.Bool("update", false, "rewrite the README's table of settings from the table")

// TestSettingsAreTheSampleKeys: the sample config file shows every
// setting, in the table's order, and nothing else.
func TestSettingsAreTheSampleKeys(t *testing.T) {
	var inSample []string
	for i, line := range strings.Split(string(SampleConfig), "\n") {
		l, err := scanLine(line)
		if err != nil {
			t.Fatalf("ftpx-server.ini:%d: %v", i+1, err)
		}
		if l.Kind == iniline.Key {
			inSample = append(inSample, l.Key)
		}
	}
	var keys []string
	for _, s := range Settings() {
		keys = append(keys, s.Key)
	}
	if !slices.Equal(inSample, keys) {
		t.Errorf("the sample's keys:\n%v\nthe settings:\n%v", inSample, keys)
	}
}

// TestSettingsTableIsWhole checks each entry can make its flag, its
// --help line and its README row.
func TestSettingsTableIsWhole(t *testing.T) {
	if len(byKey) != len(settings) {
		t.Errorf("%d settings but %d keys: a key is listed twice", len(settings), len(byKey))
	}
	for _, s := range Settings() {
		switch {
		case s.set == nil:
			t.Errorf("%s: no setter", s.Key)
		case s.Usage == "" || strings.Contains(s.Usage, "|"):
			t.Errorf("%s: usage %q (wanted: some text, without the README table's |)", s.Key, s.Usage)
		case (s.Default == "") == (s.Unset == ""):
			t.Errorf("%s: default %q, unset %q: want exactly one", s.Key, s.Default, s.Unset)
		case s.Bool && (s.Arg != "" || s.Default != "true" && s.Default != "false"):
			t.Errorf("%s: a switch with arg %q and default %q", s.Key, s.Arg, s.Default)
		case !s.Bool && !strings.Contains(s.Usage, s.Arg):
			t.Errorf("%s: usage %q does not name its arg %q", s.Key, s.Usage, s.Arg)
		}
	}
}

// TestSettingSetIsTheFilesCheck: a value refused in the file is refused by
// Set with the same words, without the file and line.
func TestSettingSetIsTheFilesCheck(t *testing.T) {
	path := writeConfig(t, "max_conns = lots\n")
	_, fileErr := Load(path)
	s := byKey["max_conns"]
	c := Default()
	err := s.Set(&c, "lots", "")
	if err == nil || fileErr == nil || fileErr.Error() != path+":1: max_conns: "+err.Error() {
		t.Errorf("Set: %v; Load: %v", err, fileErr)
	}
	if c.MaxConns != Default().MaxConns {
		t.Errorf("a refused value changed the config: max_conns %d", c.MaxConns)
	}
}

// The README's table of settings is made from the table: after a change,
// go test ./conf -run TestREADMESettingsTable -update rewrites it.
func TestREADMESettingsTable(t *testing.T) {
	const begin, end = "<!-- settings: made from conf's table by go test ./conf -run TestREADMESettingsTable -update -->\n", "<!-- end of settings -->\n"
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	i, j := bytes.Index(readme, []byte(begin)), bytes.Index(readme, []byte(end))
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q ... %q", begin, end)
	}
	table := settingsTable()
	if got := string(readme[i+len(begin) : j]); got == table {
		return
	}
	if !*update {
		t.Fatalf("README.md's table of settings is not the table's; run go test ./conf -run TestREADMESettingsTable -update. Want:\n%s", table)
	}
	out := slices.Concat(readme[:i+len(begin)], []byte(table), readme[j:])
	if err := os.WriteFile("../README.md", out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// settingsTable renders the settings as a Markdown table.
func settingsTable() string {
	var b strings.Builder
	b.WriteString("| Key | Flag | Default | Meaning |\n|---|---|---|---|\n")
	for _, s := range Settings() {
		flag := "`--" + s.Flag() + " " + s.Arg + "`"
		if s.Bool {
			flag = "`--" + s.Flag() + "`, `--" + s.Flag() + "=false`"
		}
		def := s.Unset
		if s.Default != "" {
			def = "`" + s.Default + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", s.Key, flag, def, s.Usage)
	}
	return b.String()
}
