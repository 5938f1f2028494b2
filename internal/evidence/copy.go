package evidence

import (
	"context"
	"fmt"

	"github.com/deployment-automator/automator/internal/registry"
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

// Carry copies the evidence of image (REPOSITORY@DIGEST) into dst's
// repository (dst may carry a tag or digest; only its repository counts)
// and returns the references written. Evidence the source lacks is
// skipped; a destination artifact tag is replaced by the source's.
func (c Carrier) Carry(ctx context.Context, image, dst string) ([]string, error) {
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
	var out []string
	for _, suffix := range []string{sigSuffix, attSuffix, sbomSuffix} {
		tag := artifactTag(d, suffix)
		if _, err := c.Registry.Digest(ctx, tag.String()); registry.IsNotFound(err) {
			continue
		} else if err != nil {
			return out, fmt.Errorf("reading %s: %w", tag, err)
		}
		target := to.Context().Tag(tag.TagStr()).String()
		if err := c.Copy(ctx, tag.String(), target); err != nil {
			return out, fmt.Errorf("copying %s to %s: %w", tag, target, err)
		}
		out = append(out, target)
	}
	refs, err := c.Registry.Referrers(ctx, d.String())
	if err != nil {
		return out, err
	}
	for _, r := range refs {
		target := to.Context().Digest(r.String()).String()
		if err := c.Copy(ctx, d.Context().Digest(r.String()).String(), target); err != nil {
			return out, fmt.Errorf("copying referrer %s of %s: %w", r, image, err)
		}
		out = append(out, target)
	}
	return out, nil
}
