// Package registry is the project's one registry client: it pushes built OCI layouts, copies images
// between registries (so that every environment pins the same digest, "build once, deploy many"),
// lists and resolves tags for the watcher and opens remote images for the scanner. It is the only
// package that imports go-containerregistry's remote.
//
// One Client carries one keychain (config registries, Docker config and credential helpers,
// GITHUB_TOKEN for ghcr.io), one host normalisation (NormalizeHost) and one transport stack built at
// construction (internal/transport: deadlines, plain-HTTP refusal except for insecure hosts,
// credentials never sent across a redirect to another host, request observers, per-host rate limits
// and retries honouring Retry-After), under go-containerregistry's auth. Blobs already present are
// never uploaded again (HEAD checks), blobs in another repository of the same registry are mounted,
// and a manifest already in place under a tag is not re-sent. One Client is meant to live as long as
// the process: it pings each registry once, authenticates each repository once (one shared puller
// and pusher) and remembers which repositories hold which blobs, so that later copies mount them.
package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/transport"
)

// Client talks to registries with one set of credentials and transport settings. It is safe for
// concurrent use; build one per process and share it, so that rate limits and authentication are
// shared too.
type Client struct {
	log        *zap.Logger
	keychain   authn.Keychain
	static     staticKeychain
	base       http.RoundTripper
	retry      []transport.RetryOption
	observers  []func(*http.Request, *http.Response, error)
	insecure   hostSet
	rps        map[string]float64
	defaultRPS float64
	jobs       int
	pageSize   int
	maxPages   int
	userAgent  string
	replaced   bool
	ghToken    string
	ghUser     string

	rt     http.RoundTripper // the transport stack, built once by New
	limits *transport.Limits
	puller *remote.Puller // shared by reads, so each repository authenticates once per process
	blobs  *blobMemory    // which repositories hold which blobs, for mounts

	mu     sync.Mutex
	pusher *remote.Pusher // shared by copies, so each repository authenticates once per process
}

// Option configures a Client.
type Option func(*Client) error

// WithLogger sets the logger (retries and progress; never credentials).
func WithLogger(l *zap.Logger) Option {
	return func(c *Client) error {
		if l == nil {
			return errors.New("nil logger")
		}
		c.log = l
		return nil
	}
}

// WithKeychain replaces the default credential chain entirely (tests; embedding).
func WithKeychain(k authn.Keychain) Option {
	return func(c *Client) error {
		if k == nil {
			return errors.New("nil keychain")
		}
		c.keychain, c.replaced = k, true
		return nil
	}
}

// WithConfig applies everything the config and the environment say about registries: registries[]
// (WithRegistries), the GitHub token for ghcr.io (github.tokenEnv, default GITHUB_TOKEN, with
// GITHUB_ACTOR as user name), the network deadlines and watch.maxTagPages. cfg may be nil (no config file): then only the
// environment's GITHUB_TOKEN is used.
func WithConfig(cfg *config.Config, getenv func(string) string) Option {
	return func(c *Client) error {
		tokenEnv := "GITHUB_TOKEN"
		if cfg != nil {
			if cfg.GitHub.TokenEnv != "" {
				tokenEnv = cfg.GitHub.TokenEnv
			}
			if err := WithRegistries(cfg.Registries, getenv)(c); err != nil {
				return err
			}
			t, err := transport.ConfigTimeouts(cfg.Network)
			if err != nil {
				return err
			}
			c.base = transport.Base(t)
			if cfg.Watch != nil && cfg.Watch.MaxTagPages > 0 {
				c.maxPages = cfg.Watch.MaxTagPages
			}
		}
		return WithGitHubToken(getenv("GITHUB_ACTOR"), getenv(tokenEnv))(c)
	}
}

// WithRegistries applies per-registry settings from config: credentials from the named environment
// variables (read through getenv), plain-HTTP access for insecure registries and request rates. Hosts
// are normalised (NormalizeHost). A registry whose password variable is empty is skipped with a
// warning naming the variable, never its value.
func WithRegistries(regs []config.Registry, getenv func(string) string) Option {
	return func(c *Client) error {
		for i, r := range regs {
			if r.Host == "" {
				return fmt.Errorf("registries[%d]: empty host", i)
			}
			if _, err := name.NewRegistry(r.Host); err != nil {
				return fmt.Errorf("registries[%d].host %q: %w", i, r.Host, err)
			}
			host := NormalizeHost(r.Host)
			if r.Insecure {
				c.insecure[host] = true
			}
			if r.RPS > 0 {
				c.rps[host] = r.RPS
			}
			if r.PasswordEnv == "" {
				continue
			}
			user := r.Username
			if r.UsernameEnv != "" {
				user = getenv(r.UsernameEnv)
			}
			pass := getenv(r.PasswordEnv)
			if pass == "" {
				c.log.Warn("registry password variable is empty; using other credentials", zap.String("registry", r.Host), zap.String("env", r.PasswordEnv))
				continue
			}
			if user == "" {
				// Token-style registries accept any user name with a token as password.
				user = "automator"
			}
			c.static[host] = authn.AuthConfig{Username: user, Password: pass}
		}
		return nil
	}
}

// WithGitHubToken makes token (GITHUB_TOKEN) the fallback credential for ghcr.io, with user as user
// name (GITHUB_ACTOR; any non-empty name works). An empty token adds nothing.
func WithGitHubToken(user, token string) Option {
	return func(c *Client) error {
		c.ghUser, c.ghToken = user, token
		return nil
	}
}

// WithTransport sets the base HTTP transport (default transport.Base(transport.DefaultTimeouts));
// the guards, observers, rate limits and retries are layered on it.
func WithTransport(t http.RoundTripper) Option {
	return func(c *Client) error {
		if t == nil {
			return errors.New("nil transport")
		}
		c.base = t
		return nil
	}
}

// WithRetry configures the retry decorator.
func WithRetry(opts ...transport.RetryOption) Option {
	return func(c *Client) error {
		c.retry = append(c.retry, opts...)
		return nil
	}
}

// WithRequestObserver calls f after every HTTP exchange with a registry (each retry attempt
// included): the hook for request metrics. f must not touch the body.
func WithRequestObserver(f func(req *http.Request, resp *http.Response, err error)) Option {
	return func(c *Client) error {
		if f == nil {
			return errors.New("nil request observer")
		}
		c.observers = append(c.observers, f)
		return nil
	}
}

// WithDefaultRPS sets the request rate per registry host for hosts whose registries[].rps is unset
// (default: no limit; the watcher uses transport.DefaultRPS).
func WithDefaultRPS(rps float64) Option {
	return func(c *Client) error {
		if rps <= 0 {
			return fmt.Errorf("default rps must be positive, got %v", rps)
		}
		c.defaultRPS = rps
		return nil
	}
}

// WithJobs sets how many blobs are uploaded at once per push (default 4).
func WithJobs(n int) Option {
	return func(c *Client) error {
		if n < 1 {
			return fmt.Errorf("jobs must be at least 1, got %d", n)
		}
		c.jobs = n
		return nil
	}
}

// WithPageSize sets the n= page size of tag-list requests (default 1000).
func WithPageSize(n int) Option {
	return func(c *Client) error {
		if n < 1 {
			return fmt.Errorf("page size %d: must be at least 1", n)
		}
		c.pageSize = n
		return nil
	}
}

// WithUserAgent sets the User-Agent sent to registries.
func WithUserAgent(ua string) Option {
	return func(c *Client) error {
		c.userAgent = ua
		return nil
	}
}

// New returns a Client. Credentials are resolved per registry, first match wins: config registries
// (env vars), then the Docker config keychain (~/.docker/config.json, $DOCKER_CONFIG, credential
// helpers), then GITHUB_TOKEN for ghcr.io; WithKeychain replaces this chain.
func New(opts ...Option) (*Client, error) {
	c := &Client{log: zap.NewNop(), static: staticKeychain{}, base: transport.Base(transport.DefaultTimeouts),
		insecure: hostSet{}, rps: map[string]float64{}, jobs: 4, pageSize: 1000,
		maxPages: DefaultMaxTagPages, userAgent: "automator"}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, fmt.Errorf("configuring registry client: %w", err)
		}
	}
	if !c.replaced {
		chain := []authn.Keychain{c.static, authn.DefaultKeychain}
		if c.ghToken != "" {
			user := c.ghUser
			if user == "" {
				user = "automator"
			}
			chain = append(chain, staticKeychain{GHCR: {Username: user, Password: c.ghToken}})
		}
		c.keychain = authn.NewMultiKeychain(chain...)
	}
	rt := transport.NoForeignCredentials(transport.RequireTLS(c.base, c.insecure.has))
	for _, f := range c.observers {
		rt = transport.Observe(rt, f)
	}
	c.limits = transport.NewLimits(c.rps, c.defaultRPS, NormalizeHost)
	rt, err := transport.NewRetry(rt, append([]transport.RetryOption{transport.WithLimits(c.limits), transport.WithLogger(c.log, "registry")}, c.retry...)...)
	if err != nil {
		return nil, fmt.Errorf("configuring registry client: %w", err)
	}
	// Outside the retries: a registry serving bytes that do not match their digest is not retried.
	c.rt = newPingCache(manifestDigestCheck{next: rt})
	if c.puller, err = remote.NewPuller(c.baseOptions()...); err != nil {
		return nil, fmt.Errorf("creating registry client: %w", err)
	}
	if c.pusher, err = remote.NewPusher(c.baseOptions()...); err != nil {
		return nil, fmt.Errorf("creating registry client: %w", err)
	}
	c.blobs = newBlobMemory()
	return c, nil
}

// currentPusher returns the pusher shared by copies. It remembers per repository its token and the
// blobs and manifests it found or wrote there.
func (c *Client) currentPusher() *remote.Pusher {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pusher
}

// dropPusher replaces p, after a failed copy through it, with a fresh pusher: what p remembers of
// blobs present may be what failed (a blob deleted since), and the next attempt must not trust it.
func (c *Client) dropPusher(p *remote.Pusher) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pusher != p {
		return
	}
	if fresh, err := remote.NewPusher(c.baseOptions()...); err == nil {
		c.pusher = fresh
	}
}

// baseOptions are the go-containerregistry options shared by every operation. Its own status-code
// retries are turned off because ours (which honour Retry-After) sit underneath; its retries of
// temporary network errors stay.
func (c *Client) baseOptions() []remote.Option {
	return []remote.Option{
		remote.WithAuthFromKeychain(c.keychain),
		remote.WithTransport(c.rt),
		remote.WithRetryStatusCodes(),
		remote.WithJobs(c.jobs),
		remote.WithUserAgent(c.userAgent),
		remote.WithPageSize(c.pageSize),
	}
}

// ParseReference parses an image reference, applying the insecure setting of its registry.
func (c *Client) ParseReference(s string) (name.Reference, error) {
	ref, err := name.ParseReference(s)
	if err != nil {
		return nil, fmt.Errorf("parsing reference %q: %w", s, err)
	}
	if c.insecure.has(ref.Context().RegistryStr()) {
		ref, err = name.ParseReference(s, name.Insecure)
		if err != nil {
			return nil, fmt.Errorf("parsing reference %q: %w", s, err)
		}
	}
	return ref, nil
}

// ParseRepository parses a repository name (no tag or digest), applying the insecure setting.
func (c *Client) ParseRepository(s string) (name.Repository, error) {
	repo, err := name.NewRepository(s)
	if err != nil {
		return name.Repository{}, fmt.Errorf("parsing repository %q: %w", s, err)
	}
	if c.insecure.has(repo.RegistryStr()) {
		return name.NewRepository(s, name.Insecure)
	}
	return repo, nil
}

// Digest returns the digest ref currently resolves to (a HEAD request).
func (c *Client) Digest(ctx context.Context, ref string) (v1.Hash, error) {
	r, err := c.ParseReference(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	desc, err := c.puller.Head(ctx, r)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("resolving %q: %w", ref, err)
	}
	return desc.Digest, nil
}

// Image opens the remote image ref for reading (the scanner's input). Only the manifest and config
// are fetched here; layers are fetched when read. An index resolves to its linux/amd64 image. Prefer a
// digest reference: a tag is resolved once, here.
func (c *Client) Image(ctx context.Context, ref string) (v1.Image, error) {
	r, err := c.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	desc, err := c.puller.Get(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("fetching image %q: %w", ref, err)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, fmt.Errorf("reading image %q: %w", ref, err)
	}
	return img, nil
}
