package accounts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds Load hand-edited garbage: it must never panic, and what it
// accepts must make sense.
func FuzzLoad(f *testing.F) {
	h := "$2a$04$abcdefghijklmnopqrstuu5ZRRq7nbsXwpHvyy3Qoo6AOzkd8vtKa"
	for _, seed := range []string{
		"",
		"[alex]\npassword = " + h + " ; c\nquota = 100MB\n",
		"; c\n[bob]\nPassword = plain\nQuotation = 5\n\n[carl]\npassword = \"a;b\"\n",
		"\ufeff[x]\r\npassword=" + h + "\r\nquota=unlimited\r\n",
		"[a]\npassword=x\nperms=read,write\nmax_sessions=2\nupload_rate=1MB\nfolder.s=/srv/a b read,modify quota=1GB\n",
		"[a\n", "k=v\n", "[a]\nquota=1.5GB\nquota=2\n", "[a]\npassword=$2y$31$" + h[7:] + "\n",
	} {
		f.Add(seed)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data string) {
		path := filepath.Join(dir, "accounts.ini")
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Load(path)
		if err != nil {
			if !strings.HasPrefix(err.Error(), path+":") {
				t.Fatalf("error without file name: %v", err)
			}
			return
		}
		for _, a := range s.Users() {
			if !ValidName(a.Name) || a.Quota < 0 && a.Quota != Unlimited {
				t.Fatalf("accepted %+v", a)
			}
		}
	})
}
