package ftpd_test

import (
	"io"
	"strconv"
	"testing"

	"ftpx/accounts"
	"ftpx/server"
)

// BenchmarkStorSmallFiles is lftp mirror -R's pattern, with the server's
// fsync off as vsftpd runs: per 4 KiB file an EPSV, a STOR, the bytes on a
// new data connection and the 226, over one control connection.
func BenchmarkStorSmallFiles(b *testing.B) {
	_, addr := setupB(b)
	rc, _, _ := dialRaw(b, addr)
	rc.login("alex", "pw")
	data := randomBytes(4096)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := range b.N {
		d := rc.pasv()
		if code, text := rc.cmd("STOR f" + strconv.Itoa(i)); code != 150 {
			b.Fatalf("STOR: %d %s", code, text)
		}
		d.Write(data)
		d.Close()
		if code, text := rc.read(); code != 226 {
			b.Fatalf("STOR end: %d %s", code, text)
		}
	}
}

// BenchmarkRetrSmallFiles is lftp mirror's pattern: EPSV, RETR, the bytes.
func BenchmarkRetrSmallFiles(b *testing.B) {
	_, addr := setupB(b)
	rc, _, _ := dialRaw(b, addr)
	rc.login("alex", "pw")
	d := rc.pasv()
	rc.cmd("STOR f")
	d.Write(randomBytes(4096))
	d.Close()
	rc.read()
	b.SetBytes(4096)
	b.ResetTimer()
	for range b.N {
		d := rc.pasv()
		if code, text := rc.cmd("RETR f"); code != 150 {
			b.Fatalf("RETR: %d %s", code, text)
		}
		io.Copy(io.Discard, d)
		d.Close()
		if code, text := rc.read(); code != 226 {
			b.Fatalf("RETR end: %d %s", code, text)
		}
	}
}

func setupB(b *testing.B) (interface{ Home(string) string }, string) {
	ts, addr := setup(b, accounts.Unlimited, nil, func(s *server.Server) { s.Homes.NoSync = true })
	return ts, addr
}

// BenchmarkStorBig is curl -T of a 64 MiB file, fsync off.
func BenchmarkStorBig(b *testing.B) {
	_, addr := setupB(b)
	rc, _, _ := dialRaw(b, addr)
	rc.login("alex", "pw")
	data := randomBytes(64 << 20)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		d := rc.pasv()
		if code, text := rc.cmd("STOR big.bin"); code != 150 {
			b.Fatalf("STOR: %d %s", code, text)
		}
		d.Write(data)
		d.Close()
		if code, text := rc.read(); code != 226 {
			b.Fatalf("STOR end: %d %s", code, text)
		}
	}
}

// BenchmarkRetrBig is curl of a 64 MiB file (sendfile).
func BenchmarkRetrBig(b *testing.B) {
	_, addr := setupB(b)
	rc, _, _ := dialRaw(b, addr)
	rc.login("alex", "pw")
	d := rc.pasv()
	rc.cmd("STOR big.bin")
	d.Write(randomBytes(64 << 20))
	d.Close()
	rc.read()
	b.SetBytes(64 << 20)
	b.ResetTimer()
	for range b.N {
		d := rc.pasv()
		if code, text := rc.cmd("RETR big.bin"); code != 150 {
			b.Fatalf("RETR: %d %s", code, text)
		}
		io.Copy(io.Discard, d)
		d.Close()
		if code, text := rc.read(); code != 226 {
			b.Fatalf("RETR end: %d %s", code, text)
		}
	}
}
