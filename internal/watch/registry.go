package watch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/deployment-automator/automator/internal/registry"
)

// Registry is the watcher's narrow view of image registries: parse a
// repository name with the registry settings (insecure hosts), list tags,
// resolve one tag. Implementations must not fetch manifests while listing.
// *registry.Client implements it.
type Registry interface {
	// ParseRepository parses a repository name, applying the registries'
	// settings (plain HTTP for insecure hosts).
	ParseRepository(s string) (name.Repository, error)
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
type Image = registry.ImageInfo

var _ Registry = (*registry.Client)(nil)

// ObserveRegistryRequest counts one HTTP exchange with a registry in
// registry_requests_total (by host, method and status, "error" for transport
// failures); pass it to registry.WithRequestObserver so every attempt,
// each 429 included, is counted once.
func (m *Metrics) ObserveRegistryRequest(req *http.Request, resp *http.Response, err error) {
	code := "error"
	if err == nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	m.registryRequests.WithLabelValues(req.URL.Host, req.Method, code).Inc()
}

// budgetKey carries the deadline of one repository's registry work in a
// context (see withBudget).
type budgetKey struct{}

// withBudget marks ctx with the time by which the current repository check
// must be done with the registry.
func withBudget(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, budgetKey{}, time.Now().Add(d))
}

// budgeted bounds every registry call of a repository check by the check's
// budget, so that one hung registry holds up only its own repositories: the
// check fails when the budget runs out, the cycle ends, and the others have
// been polled meanwhile. Promotions are not bounded by it (they have the
// grace period).
type budgeted struct{ Registry }

func (b budgeted) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if at, ok := ctx.Value(budgetKey{}).(time.Time); ok {
		return context.WithDeadlineCause(ctx, at, ErrBudgetExceeded)
	}
	return ctx, func() {}
}

// ErrBudgetExceeded is the cause of a registry call cut short by
// watch.repositoryTimeout.
var ErrBudgetExceeded = errors.New("repository check exceeded watch.repositoryTimeout")

func (b budgeted) Tags(ctx context.Context, repo name.Repository, max int) ([]string, bool, error) {
	ctx, cancel := b.bound(ctx)
	defer cancel()
	tags, trunc, err := b.Registry.Tags(ctx, repo, max)
	return tags, trunc, budgetErr(ctx, err)
}

func (b budgeted) Head(ctx context.Context, tag name.Tag) (string, error) {
	ctx, cancel := b.bound(ctx)
	defer cancel()
	d, err := b.Registry.Head(ctx, tag)
	return d, budgetErr(ctx, err)
}

func (b budgeted) Describe(ctx context.Context, tag name.Tag) (Image, error) {
	ctx, cancel := b.bound(ctx)
	defer cancel()
	img, err := b.Registry.Describe(ctx, tag)
	return img, budgetErr(ctx, err)
}

// budgetErr names the budget when it is why err happened.
func budgetErr(ctx context.Context, err error) error {
	if err != nil && errors.Is(context.Cause(ctx), ErrBudgetExceeded) {
		return fmt.Errorf("%w: %w", ErrBudgetExceeded, err)
	}
	return err
}
