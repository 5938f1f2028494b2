package registry

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"go.uber.org/zap"
)

// TagConflictError is returned by Copy when the destination tag already points to another digest and
// moving it was not forced. Release tags are meant to be immutable; callers branch on it with errors.As.
type TagConflictError struct {
	Tag      string
	Existing v1.Hash
	Want     v1.Hash
}

func (e *TagConflictError) Error() string {
	return fmt.Sprintf("tag %s already points to %s, not %s (force to move it)", e.Tag, e.Existing, e.Want)
}

// Copied is the result of Copy.
type Copied struct {
	// Digest is the digest of the copied image or index; the same at source and destination.
	Digest v1.Hash
	// Reference is the destination as "repo:tag@sha256:…" (or "repo@sha256:…").
	Reference string
	// Changed is false when the destination already held the image under that tag or digest.
	Changed bool
}

// Copy copies the image or index src (a tag or digest reference) to dst (a tag, a digest or
// "tag@digest" reference; a bare repository takes src's tag). A "tag@digest" destination creates the
// tag once src is checked to have that digest, and refuses otherwise. Within one repository it only writes the manifest under the new
// tag (a re-tag uploads nothing); within one registry blobs are mounted from the source repository;
// across registries only blobs the destination lacks are transferred. If dst is a tag that already
// points to a different digest, Copy returns *TagConflictError unless force is set.
func (c *Client) Copy(ctx context.Context, src, dst string, force bool) (*Copied, error) {
	srcRef, err := c.ParseReference(src)
	if err != nil {
		return nil, err
	}
	dstRef, wantDigest, err := c.destination(srcRef, dst)
	if err != nil {
		return nil, err
	}
	puller, err := remote.NewPuller(c.remoteOptions(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("creating puller: %w", err)
	}
	desc, err := puller.Get(ctx, srcRef)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", srcRef, err)
	}
	out := &Copied{Digest: desc.Digest, Reference: pinned(dstRef, desc.Digest)}
	if d, ok := dstRef.(name.Digest); ok && wantDigest == "" {
		wantDigest = d.DigestStr()
	}
	if wantDigest != "" && wantDigest != desc.Digest.String() {
		return nil, fmt.Errorf("copying %s to %s: source has digest %s, not %s", srcRef, dst, desc.Digest, wantDigest)
	}
	existing, err := puller.Head(ctx, dstRef)
	switch {
	case err == nil && existing.Digest == desc.Digest:
		c.log.Info("destination already holds image", zap.String("destination", out.Reference))
		return out, nil
	case err == nil && !force:
		return nil, &TagConflictError{Tag: dstRef.String(), Existing: existing.Digest, Want: desc.Digest}
	case err != nil && !isNotFound(err):
		return nil, fmt.Errorf("checking destination %s: %w", dstRef, err)
	}
	opts := c.remoteOptions(ctx)
	if srcRef.Context() == dstRef.Context() {
		// Re-tag: every blob and child manifest is already there.
		err = remote.Put(dstRef, desc, opts...)
	} else {
		var pusher *remote.Pusher
		pusher, err = remote.NewPusher(opts...)
		if err == nil {
			err = pusher.Push(ctx, dstRef, desc)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("copying %s to %s: %w", srcRef, dstRef, err)
	}
	out.Changed = true
	c.log.Info("copied image", zap.String("source", srcRef.String()), zap.String("destination", out.Reference))
	return out, nil
}

// destination parses dst; a reference without tag or digest takes src's tag (a digest source needs an
// explicit destination tag or digest, since "latest" is never what a promotion means). For
// "repo:tag@digest" it returns the tag and the digest the tag must get.
func (c *Client) destination(src name.Reference, dst string) (name.Reference, string, error) {
	last := dst[strings.LastIndex(dst, "/")+1:]
	if at := strings.LastIndex(dst, "@"); at >= 0 && strings.Contains(last[:strings.Index(last, "@")], ":") {
		tag, err := c.ParseReference(dst[:at])
		if err != nil {
			return nil, "", err
		}
		d, err := name.NewDigest(tag.Context().String() + dst[at:])
		if err != nil {
			return nil, "", fmt.Errorf("parsing reference %q: %w", dst, err)
		}
		return tag, d.DigestStr(), nil
	}
	if strings.ContainsAny(last, ":@") {
		ref, err := c.ParseReference(dst)
		return ref, "", err
	}
	repo, err := c.ParseRepository(dst)
	if err != nil {
		return nil, "", err
	}
	if t, ok := src.(name.Tag); ok {
		return repo.Tag(t.TagStr()), "", nil
	}
	return repo.Digest(src.Identifier()), "", nil
}
