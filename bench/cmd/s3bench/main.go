// Command s3bench moves the same workloads as bench/s3.sh does through
// ftpx, with minio-go alone against the same store, for the ratios:
//
//	s3bench -endpoint URL -bucket B put FILE KEY    one object, multipart (-part, -par)
//	s3bench -endpoint URL -bucket B get KEY FILE    one object to a local file (-verify: MD5 and fsync)
//	s3bench -endpoint URL -bucket B small DIR PREFIX  every file of DIR, -par at once
//	s3bench freeport                                 a free loopback port
//
// Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. It
// prints the seconds the transfer took.
package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

func main() {
	endpoint := flag.String("endpoint", "", "store URL")
	bucket := flag.String("bucket", "", "bucket")
	part := flag.Int64("part", 16<<20, "part size of a multipart put")
	par := flag.Int("par", 4, "parts (put) or files (small) in flight")
	verify := flag.Bool("verify", false, "get: hash the file (MD5) as it is written and sync it, as ftpx get does")
	flag.Parse()
	args := flag.Args()
	if len(args) == 1 && args[0] == "freeport" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		check(err)
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
		l.Close()
		return
	}
	if len(args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: s3bench -endpoint URL -bucket B put FILE KEY | get KEY FILE | small DIR PREFIX")
		os.Exit(2)
	}
	u, err := url.Parse(*endpoint)
	check(err)
	mc, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewEnvAWS(), Secure: u.Scheme == "https", Region: "us-east-1"})
	check(err)
	ctx := context.Background()
	start := time.Now()
	switch args[0] {
	case "put":
		f, err := os.Open(args[1])
		check(err)
		fi, err := f.Stat()
		check(err)
		_, err = mc.PutObject(ctx, *bucket, args[2], f, fi.Size(), minio.PutObjectOptions{PartSize: uint64(*part), NumThreads: uint(*par)})
		check(err)
	case "get":
		o, err := mc.GetObject(ctx, *bucket, args[1], minio.GetObjectOptions{})
		check(err)
		f, err := os.Create(args[2])
		check(err)
		if *verify {
			h := md5.New()
			_, err = io.Copy(io.MultiWriter(f, h), o)
			check(err)
			check(f.Sync())
			fmt.Fprintf(os.Stderr, "md5 %x\n", h.Sum(nil))
		} else {
			_, err = io.Copy(f, o)
			check(err)
		}
		check(f.Close())
	case "small":
		ents, err := os.ReadDir(args[1])
		check(err)
		names := make(chan string)
		var wg sync.WaitGroup
		for range *par {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for name := range names {
					b, err := os.ReadFile(filepath.Join(args[1], name))
					check(err)
					_, err = mc.PutObject(ctx, *bucket, args[2]+"/"+name, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{})
					check(err)
				}
			}()
		}
		for _, e := range ents {
			names <- e.Name()
		}
		close(names)
		wg.Wait()
	default:
		fmt.Fprintln(os.Stderr, "s3bench: unknown workload", args[0])
		os.Exit(2)
	}
	fmt.Printf("%.3f\n", time.Since(start).Seconds())
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "s3bench:", err)
		os.Exit(1)
	}
}
