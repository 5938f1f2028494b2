// Package registry pushes built OCI layouts to registries and copies images between them with
// go-containerregistry, so that every environment pins the same digest ("build once, deploy many").
//
// HTTP concerns are stacked RoundTrippers under go-containerregistry's auth transport: retries with
// back-off honouring Retry-After (NewRetryTransport) over the base transport. Blobs already present are
// never uploaded again (HEAD checks), blobs in another repository of the same registry are mounted, and
// a manifest already in place under a tag is not re-sent.
package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/config"
)

// Client talks to registries with one set of credentials and transport settings. It is safe for
// concurrent use.
type Client struct {
	log       *zap.Logger
	keychain  authn.Keychain
	static    staticKeychain
	base      http.RoundTripper
	retry     []RetryOption
	insecure  map[string]bool
	jobs      int
	userAgent string
	replaced  bool
	ghToken   string
	ghUser    string
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

// WithRegistries applies per-registry settings from config: credentials from the named environment
// variables (read through getenv) and plain-HTTP access for insecure registries. A registry whose
// password variable is empty is skipped with a warning naming the variable, never its value.
func WithRegistries(regs []config.Registry, getenv func(string) string) Option {
	return func(c *Client) error {
		for i, r := range regs {
			if r.Host == "" {
				return fmt.Errorf("registries[%d]: empty host", i)
			}
			// Keys are go-containerregistry's registry names, so that
			// docker.io in config matches Docker Hub images (index.docker.io).
			reg, err := name.NewRegistry(r.Host)
			if err != nil {
				return fmt.Errorf("registries[%d].host %q: %w", i, r.Host, err)
			}
			host := reg.RegistryStr()
			if r.Insecure {
				c.insecure[host] = true
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
// name (GITHUB_ACTOR; any non-empty name works).
func WithGitHubToken(user, token string) Option {
	return func(c *Client) error {
		c.ghUser, c.ghToken = user, token
		return nil
	}
}

// WithTransport sets the base HTTP transport (default http.DefaultTransport); retries are layered on it.
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
func WithRetry(opts ...RetryOption) Option {
	return func(c *Client) error {
		c.retry = append(c.retry, opts...)
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
	c := &Client{log: zap.NewNop(), static: staticKeychain{}, base: http.DefaultTransport, insecure: map[string]bool{}, jobs: 4, userAgent: "automator"}
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
	c.retry = append([]RetryOption{WithRetryLogger(c.log)}, c.retry...)
	return c, nil
}

// remoteOptions are the go-containerregistry options for one operation. go-containerregistry's own
// status-code retries are turned off because ours (which honour Retry-After) sit underneath.
func (c *Client) remoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(c.keychain),
		remote.WithTransport(NewRetryTransport(c.base, c.retry...)),
		remote.WithRetryStatusCodes(),
		remote.WithJobs(c.jobs),
		remote.WithUserAgent(c.userAgent),
	}
}

// ParseReference parses an image reference, applying the insecure setting of its registry.
func (c *Client) ParseReference(s string) (name.Reference, error) {
	ref, err := name.ParseReference(s)
	if err != nil {
		return nil, fmt.Errorf("parsing reference %q: %w", s, err)
	}
	if c.insecure[ref.Context().RegistryStr()] {
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
	if c.insecure[repo.RegistryStr()] {
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
	desc, err := remote.Head(r, c.remoteOptions(ctx)...)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("resolving %q: %w", ref, err)
	}
	return desc.Digest, nil
}
