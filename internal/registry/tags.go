package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"go.uber.org/zap"
)

// DefaultMaxTagPages caps the tag-list pages fetched per listing: 200 pages of up to 1000 tags is
// far beyond any real repository, and stops a registry that answers with empty pages forever.
const DefaultMaxTagPages = 200

// WithMaxTagPages caps the pages one tag listing fetches, empty pages included (default
// DefaultMaxTagPages). A listing that reaches the cap is returned truncated.
func WithMaxTagPages(n int) Option {
	return func(c *Client) error {
		if n < 1 {
			return fmt.Errorf("max tag pages %d: must be at least 1", n)
		}
		c.maxPages = n
		return nil
	}
}

// ImageInfo is what the watcher learns about the one candidate it promotes.
type ImageInfo struct {
	// Digest is the digest of the manifest or index the tag points to.
	Digest string
	// Created is the creation time from a single-platform image's config (zero for an index).
	Created time.Time
}

// Tags lists the tags of repo following pagination (Link headers), stopping after max tags (0: no
// cap), after the page cap (WithMaxTagPages, empty pages count), or when a Link repeats an earlier
// page; truncated is true when more tags may exist. It never fetches manifests.
func (c *Client) Tags(ctx context.Context, repo name.Repository, max int) (tags []string, truncated bool, err error) {
	l, err := c.puller.Lister(ctx, repo)
	if err != nil {
		return nil, false, fmt.Errorf("listing tags of %s: %w", repo, err)
	}
	seen := map[string]bool{}
	for pages := 0; l.HasNext(); {
		page, err := l.Next(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("listing tags of %s: %w", repo, err)
		}
		pages++
		tags = append(tags, page.Tags...)
		if max > 0 && len(tags) >= max {
			return tags[:max], len(tags) > max || l.HasNext(), nil
		}
		if !l.HasNext() {
			break
		}
		switch {
		case seen[page.Next]:
			c.log.Warn("tag list pagination stopped: the registry links to a page already read",
				zap.String("repository", repo.String()), zap.Int("pages", pages), zap.Int("tags", len(tags)))
			return tags, true, nil
		case pages >= c.maxPages:
			c.log.Warn("tag list pagination stopped at the page cap",
				zap.String("repository", repo.String()), zap.Int("pages", pages), zap.Int("tags", len(tags)))
			return tags, true, nil
		}
		seen[page.Next] = true
	}
	return tags, false, nil
}

// ErrNotImage is returned when a tag resolves to something that is not an image manifest or an
// index (an HTML error page, an artifact of another kind): its digest must never be promoted.
var ErrNotImage = errors.New("not an image manifest or index")

// requireImage refuses descriptors of any media type but an image manifest or an index. A HEAD
// answer is only headers, so a registry (or a proxy in front of it) answering an error page with a
// 200 would otherwise hand over the digest of that page.
func requireImage(tag name.Tag, mt types.MediaType) error {
	if mt.IsImage() || mt.IsIndex() {
		return nil
	}
	return fmt.Errorf("resolving %s: media type %q: %w", tag, mt, ErrNotImage)
}

// Head returns the digest tag points to, with one HEAD request; the answer must name an image
// manifest or index media type (ErrNotImage otherwise).
func (c *Client) Head(ctx context.Context, tag name.Tag) (string, error) {
	d, err := c.puller.Head(ctx, tag)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", tag, err)
	}
	if err := requireImage(tag, d.MediaType); err != nil {
		return "", err
	}
	return d.Digest.String(), nil
}

// Describe returns the digest tag points to and, for a single-platform image, the creation time from
// its config (one manifest GET, one config blob GET); anything but an image manifest or index is
// ErrNotImage.
func (c *Client) Describe(ctx context.Context, tag name.Tag) (ImageInfo, error) {
	d, err := c.puller.Get(ctx, tag)
	if err != nil {
		return ImageInfo{}, fmt.Errorf("fetching manifest of %s: %w", tag, err)
	}
	if err := requireImage(tag, d.MediaType); err != nil {
		return ImageInfo{}, err
	}
	out := ImageInfo{Digest: d.Digest.String()}
	if d.MediaType.IsImage() {
		img, err := d.Image()
		if err != nil {
			return ImageInfo{}, fmt.Errorf("reading image %s: %w", tag, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return ImageInfo{}, fmt.Errorf("reading config of %s: %w", tag, err)
		}
		out.Created = cf.Created.Time
	}
	return out, nil
}
