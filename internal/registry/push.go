package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"go.uber.org/zap"
)

// Pushed is the result of pushing one image to one or more repositories.
type Pushed struct {
	// Digest is the digest of the image or index; identical in every repository.
	Digest v1.Hash
	// References are "repo:tag@sha256:…", one per repository and tag, in the order pushed
	// ("repo@sha256:…" when no tag was given).
	References []string
}

// Push uploads the image or index with the given digest from the OCI layout at dir to every repository
// in repos under every tag in tags. Blobs already present are skipped; for further repositories on the
// same registry as an earlier one, blobs are mounted from that repository instead of uploaded again.
func (c *Client) Push(ctx context.Context, dir string, digest v1.Hash, repos []string, tags []string) (*Pushed, error) {
	if len(repos) == 0 {
		return nil, errors.New("pushing: no repository given")
	}
	t, err := fromLayout(dir, digest)
	if err != nil {
		return nil, err
	}
	pusher, puller := c.currentPusher(), c.puller
	out := &Pushed{Digest: digest}
	first := map[string]name.Digest{} // registry → first repository pushed there, by digest
	for _, r := range repos {
		repo, err := c.ParseRepository(r)
		if err != nil {
			return nil, err
		}
		src := remote.Taggable(t)
		if prev, ok := first[repo.RegistryStr()]; ok {
			// Same registry: push the remote copy so layers are mounted, not uploaded.
			desc, err := puller.Get(ctx, prev)
			if err != nil {
				return nil, fmt.Errorf("reading %s back for mounting into %s: %w", prev, repo, err)
			}
			src = desc
		}
		refs := targets(repo, digest, tags)
		for _, ref := range refs {
			if err := pusher.Push(ctx, ref, src); err != nil {
				c.dropPusher(pusher)
				return nil, fmt.Errorf("pushing %s: %w", ref, err)
			}
			out.References = append(out.References, pinned(ref, digest))
		}
		if _, ok := first[repo.RegistryStr()]; !ok {
			first[repo.RegistryStr()] = repo.Digest(digest.String())
		}
		c.log.Info("pushed image", zap.String("repository", repo.String()), zap.Stringer("digest", digest), zap.Strings("tags", tags))
	}
	return out, nil
}

func targets(repo name.Repository, digest v1.Hash, tags []string) []name.Reference {
	if len(tags) == 0 {
		return []name.Reference{repo.Digest(digest.String())}
	}
	refs := make([]name.Reference, len(tags))
	for i, tag := range tags {
		refs[i] = repo.Tag(tag)
	}
	return refs
}

func pinned(ref name.Reference, digest v1.Hash) string {
	if t, ok := ref.(name.Tag); ok {
		return t.String() + "@" + digest.String()
	}
	return ref.Context().String() + "@" + digest.String()
}

// fromLayout opens the image or index with digest in the OCI layout at dir.
func fromLayout(dir string, digest v1.Hash) (remote.Taggable, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("opening OCI layout %q: %w", dir, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %q: %w", dir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %q: %w", dir, err)
	}
	for _, d := range im.Manifests {
		if d.Digest != digest {
			continue
		}
		switch {
		case d.MediaType.IsIndex():
			return idx.ImageIndex(digest)
		case d.MediaType.IsImage():
			return idx.Image(digest)
		default:
			return nil, fmt.Errorf("OCI layout %q: %s has media type %q, not an image or index", dir, digest, d.MediaType)
		}
	}
	return nil, fmt.Errorf("OCI layout %q does not hold %s", dir, digest)
}

// isNotFound reports whether err is a registry 404 (or 403, which some registries send for absent tags).
func isNotFound(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && (terr.StatusCode == http.StatusNotFound || terr.StatusCode == http.StatusForbidden)
}
