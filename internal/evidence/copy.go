package evidence

import (
	"context"
	"fmt"

	"github.com/deployment-automator/automator/internal/registry"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"
)

// CopyFunc copies src (REPOSITORY:TAG or REPOSITORY@DIGEST) to dst (the
// same forms), keeping its digest and replacing what a dst tag held — the
// registry client's Copy with force, whichever implementation it has.
type CopyFunc func(ctx context.Context, src, dst string) error

// Carrier copies an image's evidence along with the image, so that
// verification holds in the destination: cosign's sha256-<hex>.sig, .att and
// .sbom tags, and the image's OCI 1.1 referrers (read through the referrers
// API, or its fallback tag where the registry lacks it; written by digest,
// the client maintaining the destination's fallback tag where needed). The
// artifacts name the digest, not the repository, so they stay valid under
// any name and tag.
type Carrier struct {
	Registry Registry
	Copy     CopyFunc
}

// Found is the evidence Find found for an image, to be copied by CopyFound.
type Found struct {
	image     string
	from      name.Digest
	to        name.Repository
	tags      []name.Tag // cosign's .sig, .att and .sbom tags present, in that order
	referrers []v1.Hash
}

// Carry copies the evidence of image (REPOSITORY@DIGEST) into dst's
// repository (dst may carry a tag or digest; only its repository counts)
// and returns what it wrote. A re-tag within one repository copies nothing.
func (c Carrier) Carry(ctx context.Context, image, dst string) ([]string, error) {
	f, err := c.Find(ctx, image, dst)
	if err != nil {
		return nil, err
	}
	return c.CopyFound(ctx, f)
}

// Find looks up image's evidence for a copy to dst (see Carry): the three
// cosign tags and the referrers at once. It reads only the source, so it can
// run while the image itself is being copied. It returns nil for a re-tag.
func (c Carrier) Find(ctx context.Context, image, dst string) (*Found, error) {
	d, err := digestRef(c.Registry, image)
	if err != nil {
		return nil, err
	}
	to, err := c.Registry.ParseReference(dst)
	if err != nil {
		return nil, err
	}
	if to.Context().Name() == d.Context().Name() {
		return nil, nil // a re-tag: the evidence is already beside the digest
	}
	suffixes := []string{sigSuffix, attSuffix, sbomSuffix}
	present := make([]bool, len(suffixes))
	f := &Found{image: image, from: d, to: to.Context()}
	g, gctx := errgroup.WithContext(ctx)
	for i, suffix := range suffixes {
		g.Go(func() error {
			tag := artifactTag(d, suffix)
			if _, err := c.Registry.Digest(gctx, tag.String()); registry.IsNotFound(err) {
				return nil
			} else if err != nil {
				return fmt.Errorf("reading %s: %w", tag, err)
			}
			present[i] = true
			return nil
		})
	}
	g.Go(func() (err error) {
		f.referrers, err = c.Registry.Referrers(gctx, d.String())
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, suffix := range suffixes {
		if present[i] {
			f.tags = append(f.tags, artifactTag(d, suffix))
		}
	}
	return f, nil
}

// CopyFound copies what Find found and returns what it wrote; nil copies
// nothing.
func (c Carrier) CopyFound(ctx context.Context, f *Found) ([]string, error) {
	if f == nil {
		return nil, nil
	}
	var out []string
	for _, tag := range f.tags {
		target := f.to.Tag(tag.TagStr()).String()
		if err := c.Copy(ctx, tag.String(), target); err != nil {
			return out, fmt.Errorf("copying %s to %s: %w", tag, target, err)
		}
		out = append(out, target)
	}
	for _, r := range f.referrers {
		target := f.to.Digest(r.String()).String()
		if err := c.Copy(ctx, f.from.Context().Digest(r.String()).String(), target); err != nil {
			return out, fmt.Errorf("copying referrer %s of %s: %w", r, f.image, err)
		}
		out = append(out, target)
	}
	return out, nil
}
