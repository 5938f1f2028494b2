package registry

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// WriteImage writes img under ref (a tag or digest) through this client's
// keychain, transport stack, retries and rate limits: what other packages
// use to write registry artifacts that are not built images, such as
// internal/evidence's signatures and attestations.
func (c *Client) WriteImage(ctx context.Context, ref string, img v1.Image) error {
	r, err := c.ParseReference(ref)
	if err != nil {
		return err
	}
	if err := remote.Write(r, img, append(c.baseOptions(), remote.WithContext(ctx))...); err != nil {
		return fmt.Errorf("writing %q: %w", ref, err)
	}
	return nil
}

// Referrers lists the manifest digests of the OCI 1.1 referrers of digest
// (REPOSITORY@DIGEST): from the registry's referrers API, or the tag-schema
// fallback where it has none. A registry that knows none returns none.
func (c *Client) Referrers(ctx context.Context, digest string) ([]v1.Hash, error) {
	r, err := c.ParseReference(digest)
	if err != nil {
		return nil, err
	}
	d, ok := r.(interface{ DigestStr() string })
	if !ok {
		return nil, fmt.Errorf("listing the referrers of %q: not a digest reference", digest)
	}
	idx, err := remote.Referrers(r.Context().Digest(d.DigestStr()), append(c.baseOptions(), remote.WithContext(ctx))...)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing the referrers of %q: %w", digest, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("listing the referrers of %q: %w", digest, err)
	}
	out := make([]v1.Hash, 0, len(m.Manifests))
	for _, desc := range m.Manifests {
		out = append(out, desc.Digest)
	}
	return out, nil
}
