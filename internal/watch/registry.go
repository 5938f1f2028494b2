package watch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Registry is the watcher's narrow view of image registries: list tags,
// resolve one tag. Implementations must not fetch manifests while listing.
type Registry interface {
	// Tags lists the tags of repo following pagination, stopping after max
	// tags; truncated is true when more tags existed.
	Tags(ctx context.Context, repo name.Repository, max int) (tags []string, truncated bool, err error)
	// Head returns the digest tag points to, with one HEAD request.
	Head(ctx context.Context, tag name.Tag) (string, error)
	// Describe returns the digest tag points to and, for a single-platform
	// image, the creation time from its config (zero for an index).
	Describe(ctx context.Context, tag name.Tag) (Image, error)
}

// Image is what the watcher learns about the one candidate it promotes.
type Image struct {
	Digest  string
	Created time.Time
}

// RemoteRegistry implements Registry with go-containerregistry. One Puller
// is shared by all calls so each repository authenticates (and pings /v2/)
// once per process, not once per request.
type RemoteRegistry struct {
	puller   *remote.Puller
	pageSize int
}

type registryOptions struct {
	keychain  authn.Keychain
	transport http.RoundTripper
	pageSize  int
	userAgent string
}

// RegistryOption configures NewRemoteRegistry.
type RegistryOption func(*registryOptions) error

// WithKeychain sets where registry credentials come from (default: anonymous).
func WithKeychain(k authn.Keychain) RegistryOption {
	return func(o *registryOptions) error {
		if k == nil {
			return errors.New("nil keychain")
		}
		o.keychain = k
		return nil
	}
}

// WithTransport sets the HTTP transport under go-containerregistry's auth;
// the watcher passes the polite (rate-limited, back-off) and counting stack.
func WithTransport(rt http.RoundTripper) RegistryOption {
	return func(o *registryOptions) error {
		if rt == nil {
			return errors.New("nil transport")
		}
		o.transport = rt
		return nil
	}
}

// WithPageSize sets the n= page size of tag-list requests (default 1000).
func WithPageSize(n int) RegistryOption {
	return func(o *registryOptions) error {
		if n < 1 {
			return fmt.Errorf("page size %d: must be at least 1", n)
		}
		o.pageSize = n
		return nil
	}
}

// WithUserAgent sets the User-Agent sent to registries.
func WithUserAgent(ua string) RegistryOption {
	return func(o *registryOptions) error { o.userAgent = ua; return nil }
}

// NewRemoteRegistry returns a Registry talking to real registries.
func NewRemoteRegistry(opts ...RegistryOption) (*RemoteRegistry, error) {
	o := registryOptions{keychain: authn.NewMultiKeychain(), transport: remote.DefaultTransport, pageSize: 1000}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	ropts := []remote.Option{
		remote.WithAuthFromKeychain(o.keychain),
		remote.WithTransport(o.transport),
		remote.WithPageSize(o.pageSize),
		// Status codes are retried (with Retry-After) by the polite transport
		// underneath; retrying them again here would multiply requests.
		remote.WithRetryStatusCodes(),
	}
	if o.userAgent != "" {
		ropts = append(ropts, remote.WithUserAgent(o.userAgent))
	}
	p, err := remote.NewPuller(ropts...)
	if err != nil {
		return nil, fmt.Errorf("creating registry client: %w", err)
	}
	return &RemoteRegistry{puller: p, pageSize: o.pageSize}, nil
}

// Tags implements Registry.
func (r *RemoteRegistry) Tags(ctx context.Context, repo name.Repository, max int) ([]string, bool, error) {
	l, err := r.puller.Lister(ctx, repo)
	if err != nil {
		return nil, false, fmt.Errorf("listing tags of %s: %w", repo, err)
	}
	var tags []string
	for l.HasNext() {
		page, err := l.Next(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("listing tags of %s: %w", repo, err)
		}
		tags = append(tags, page.Tags...)
		if max > 0 && len(tags) >= max {
			truncated := len(tags) > max || l.HasNext()
			return tags[:max], truncated, nil
		}
	}
	return tags, false, nil
}

// Head implements Registry.
func (r *RemoteRegistry) Head(ctx context.Context, tag name.Tag) (string, error) {
	d, err := r.puller.Head(ctx, tag)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", tag, err)
	}
	return d.Digest.String(), nil
}

// Describe implements Registry.
func (r *RemoteRegistry) Describe(ctx context.Context, tag name.Tag) (Image, error) {
	d, err := r.puller.Get(ctx, tag)
	if err != nil {
		return Image{}, fmt.Errorf("fetching manifest of %s: %w", tag, err)
	}
	out := Image{Digest: d.Digest.String()}
	if d.MediaType.IsImage() {
		img, err := d.Image()
		if err != nil {
			return Image{}, fmt.Errorf("reading image %s: %w", tag, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return Image{}, fmt.Errorf("reading config of %s: %w", tag, err)
		}
		out.Created = cf.Created.Time
	}
	return out, nil
}

var _ Registry = (*RemoteRegistry)(nil)
