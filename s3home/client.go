package s3home

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"ftpx/internal/s3url"

	"github.com/google/uuid"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Config says how to reach the object store.
type Config struct {
	Endpoint string // http://HOST:PORT (loopback hosts only) or https://HOST[:PORT]
	Region   string // "" means DefaultRegion

	// Credentials: from the standard AWS environment variables
	// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or the AWS shared
	// credentials file (~/.aws/credentials, AWS_PROFILE), never argv.

	Timeout   time.Duration     // bound of each call (and of each silence in a body); 0 means DefaultTimeout
	Transport http.RoundTripper // nil means one tuned for a nearby store (tests wrap it to watch the traffic)
	ServerID  string            // this server in leases and locks; "" means host name, pid and a random suffix
	PartSize  int64             // 0 means DefaultPartSize
	Parallel  int               // parts of one upload in flight; 0 means DefaultParallel
}

const (
	DefaultRegion  = "us-east-1"
	DefaultTimeout = 30 * time.Second
	// DefaultPartSize and DefaultParallel: measured with bench/cmd/s3put
	// against MinIO on the same machine (see the README's table).
	DefaultPartSize = 16 << 20
	DefaultParallel = 4
	// MinPartSize is S3's smallest part but the last; maxPartSize its
	// largest.
	MinPartSize = 5 << 20
	maxPartSize = 5 << 30
)

// Client is a connection to one object store, shared by every tree on it.
type Client struct {
	mc      *minio.Client
	core    minio.Core
	timeout time.Duration
	id      string
	part    int64
	par     int
	mem     *budget // bytes of small uploads held in memory, across trees
	bufs    *bufferPool
	halted  context.Context // done once Halt is called: every call ends
	halt    context.CancelFunc
}

// ProbeTimeout bounds the store call a login makes (the home's marker):
// a store that stopped answering is reported (287) within it.
const ProbeTimeout = 5 * time.Second

// errHalted is the failure of a call cut short by Halt.
var errHalted = errors.New("the server is stopping")

// Halt ends every call to the store in flight and fails every later one
// at once. The daemon calls it when its shutdown's grace period is over,
// so that it does not wait out the store's timeouts (a stalled store
// answers nothing for Timeout, 30 s, a call).
func (c *Client) Halt() { c.halt() }

// New checks cfg and returns a Client; it does not reach the store yet.
func New(cfg Config) (*Client, error) {
	u, err := s3url.CheckEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	region := cfg.Region
	if region == "" {
		region = DefaultRegion
	}
	tr := cfg.Transport
	if tr == nil {
		tr = newTransport(u.Scheme == "https", cfg.Timeout)
	}
	creds := credentials.NewChainCredentials([]credentials.Provider{&credentials.EnvAWS{}, &credentials.FileAWSCredentials{}})
	mc, err := minio.New(u.Host, &minio.Options{
		Creds: creds, Secure: u.Scheme == "https", Transport: tr, Region: region,
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   2, // then the caller sees the store as unavailable; it is bounded by Timeout too
	})
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	c := &Client{mc: mc, core: minio.Core{Client: mc}, timeout: cfg.Timeout, id: cfg.ServerID,
		part: cfg.PartSize, par: cfg.Parallel, mem: newBudget(smallMemory)}
	c.halted, c.halt = context.WithCancel(context.Background())
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.part <= 0 {
		c.part = DefaultPartSize
	}
	if c.part < MinPartSize {
		return nil, fmt.Errorf("s3: part size %d is below S3's minimum of %d", c.part, MinPartSize)
	}
	if c.par <= 0 {
		c.par = DefaultParallel
	}
	if c.id == "" {
		host, _ := os.Hostname()
		c.id = host + "-" + strconv.Itoa(os.Getpid()) + "-" + uuid.NewString()[:8]
	}
	c.bufs = newBufferPool(c.part, partBuffers)
	c.bufs.halted = c.halted.Done()
	return c, nil
}

// ServerID returns this server's name in leases and locks.
func (c *Client) ServerID() string { return c.id }

// newTransport is an HTTP transport for one store: many connections kept
// open, each step bounded.
func newTransport(secure bool, timeout time.Duration) http.RoundTripper {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: 5 * time.Second,
		DisableCompression:    true,
		WriteBufferSize:       256 << 10,
		ReadBufferSize:        256 << 10,
	}
	if secure {
		tr.ForceAttemptHTTP2 = false
	}
	return tr
}

// EnsureBucket creates the bucket when it does not exist. A store that
// does not answer is waited for up to wait (it may be starting beside
// the server), then reported as unavailable.
func (c *Client) EnsureBucket(ctx context.Context, bucket string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := c.ensureBucket(ctx, bucket)
		if err == nil || !unavailable(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (c *Client) ensureBucket(ctx context.Context, bucket string) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ok, err := c.mc.BucketExists(ctx, bucket)
	if err != nil {
		return fmt.Errorf("s3 bucket %s: %w", bucket, kindOf(err))
	}
	if ok {
		return nil
	}
	err = c.mc.MakeBucket(ctx, bucket, minio.MakeBucketOptions{})
	if code := minio.ToErrorResponse(err).Code; code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
		err = nil // another server made it meanwhile
	}
	if err != nil {
		return fmt.Errorf("s3 bucket %s: create: %w", bucket, kindOf(err))
	}
	return nil
}

// ctx returns a context bounded by the client's timeout.
func (c *Client) ctx() (context.Context, context.CancelFunc) { return c.ctxFrom(nil) }

// ctxFrom returns a context bounded by the client's timeout that also ends
// with parent (an upload's session; nil for none).
// It ends on Halt too.
func (c *Client) ctxFrom(parent context.Context) (context.Context, context.CancelFunc) {
	if parent == nil {
		return context.WithTimeout(c.halted, c.timeout)
	}
	ctx, cancel := context.WithTimeout(parent, c.timeout)
	unhook := context.AfterFunc(c.halted, cancel)
	return ctx, func() {
		unhook()
		cancel()
	}
}
