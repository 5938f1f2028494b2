package registry

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
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

// CopyOption tunes one Copy.
type CopyOption func(*copyOptions)

type copyOptions struct {
	mountFrom []string
	onSource  func(name.Digest)
}

// OnSource calls f with the source image's repository and digest as soon as its manifest is read
// and checked, before anything is written: work that needs only the source (finding its
// signatures) can run while the copy goes on. f must not block.
func OnSource(f func(name.Digest)) CopyOption {
	return func(o *copyOptions) { o.onSource = f }
}

// MountFrom names repositories expected to hold the image's blobs already (for example the same
// service's repositories of other environments): a blob the destination lacks is mounted from the
// first of them in the destination's registry, unless the source repository or this process's memory
// knows a better one. A hint that does not hold the blob costs nothing but the declined mount
// request: the blob is then uploaded.
func MountFrom(repos ...string) CopyOption {
	return func(o *copyOptions) { o.mountFrom = append(o.mountFrom, repos...) }
}

// Copy copies the image or index src (a tag or digest reference) to dst (a tag, a digest or
// "tag@digest" reference; a bare repository takes src's tag). A "tag@digest" destination creates the
// tag once src is checked to have that digest, and refuses otherwise. If dst is a tag that already
// points to a different digest, Copy returns *TagConflictError unless force is set.
//
// What crosses the wire: the source manifest once, the destination manifest checked once (HEAD), and
// within one repository nothing but the manifest under the new tag (a re-tag). Otherwise blobs the
// destination lacks are mounted when a repository of its registry is known to hold them (the source
// repository, repositories this process copied or pushed them to or read them from, MountFrom hints)
// and uploaded otherwise, WithJobs at a time. Registry pings, tokens and per-repository knowledge of
// blobs already present are kept for the process (one Client), so later copies skip them.
func (c *Client) Copy(ctx context.Context, src, dst string, force bool, opts ...CopyOption) (*Copied, error) {
	var o copyOptions
	for _, f := range opts {
		f(&o)
	}
	srcRef, err := c.ParseReference(src)
	if err != nil {
		return nil, err
	}
	dstRef, wantDigest, err := c.destination(srcRef, dst)
	if err != nil {
		return nil, err
	}
	hints := make([]name.Repository, 0, len(o.mountFrom))
	for _, h := range o.mountFrom {
		r, err := c.ParseRepository(h)
		if err != nil {
			return nil, fmt.Errorf("copying %s to %s: mount hint: %w", src, dst, err)
		}
		hints = append(hints, r)
	}
	// The destination's tag is checked while the source manifest is read:
	// neither waits for the other (nor for the other registry's ping).
	type head struct {
		desc *v1.Descriptor
		err  error
	}
	dstHead := make(chan head, 1)
	go func() {
		d, err := c.puller.Head(ctx, dstRef)
		dstHead <- head{d, err}
	}()
	desc, err := c.puller.Get(ctx, srcRef)
	h := <-dstHead
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
	if o.onSource != nil {
		o.onSource(srcRef.Context().Digest(desc.Digest.String()))
	}
	// The one manifest check of the destination's tag: the push below writes without asking again.
	existing, err := h.desc, h.err
	switch {
	case err == nil && existing.Digest == desc.Digest:
		c.log.Info("destination already holds image", zap.String("destination", out.Reference))
		return out, nil
	case err == nil && !force:
		return nil, &TagConflictError{Tag: dstRef.String(), Existing: existing.Digest, Want: desc.Digest}
	case err != nil && !isNotFound(err):
		return nil, fmt.Errorf("checking destination %s: %w", dstRef, err)
	}
	pusher := c.currentPusher()
	m := &mounter{dst: dstRef.Context(), src: srcRef.Context(), hints: hints, memory: c.blobs}
	err = nil
	if !sameRepository(srcRef.Context(), dstRef.Context()) && !c.holdsManifest(ctx, dstRef.Context(), desc, m) {
		// A re-tag skips this: every blob and child manifest is already there; so does a
		// destination repository that holds the manifest under another tag.
		err = c.pushDeps(ctx, pusher, m, desc)
	}
	if err == nil {
		err = pusher.Put(ctx, dstRef, desc)
	}
	if err != nil {
		c.dropPusher(pusher)
		return nil, fmt.Errorf("copying %s to %s: %w", srcRef, dstRef, err)
	}
	m.remember()
	out.Changed = true
	c.log.Info("copied image", zap.String("source", srcRef.String()), zap.String("destination", out.Reference))
	return out, nil
}

// holdsManifest tells whether repo already holds desc's manifest (by digest, under any tag or
// none): a registry accepts a manifest only once the repository holds every blob and child
// manifest it names, so none of them needs checking again, as go-containerregistry's pusher
// reasons for the child manifests of an index. An image's blobs are then remembered as held there,
// for mounts into other repositories. Any answer but "found" means: push the dependencies.
func (c *Client) holdsManifest(ctx context.Context, repo name.Repository, desc *remote.Descriptor, m *mounter) bool {
	if _, err := c.puller.Head(ctx, repo.Digest(desc.Digest.String())); err != nil {
		return false
	}
	if desc.MediaType.IsImage() {
		if mf, err := v1.ParseManifest(bytes.NewReader(desc.Manifest)); err == nil {
			m.saw(mf.Config.Digest)
			for _, l := range mf.Layers {
				m.saw(l.Digest)
			}
		}
	}
	return true
}

// pushDeps writes what desc's manifest refers to into m.dst, WithJobs blobs or child manifests at a
// time: an image's layers and config, an index's child manifests (each checked by digest first, with
// its own blobs). The manifest itself is left to the caller. It is the place to add what travels with
// an image.
func (c *Client) pushDeps(ctx context.Context, pusher *remote.Pusher, m *mounter, desc *remote.Descriptor) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.jobs)
	upload := func(l v1.Layer) {
		g.Go(func() error {
			ml, err := m.layer(l)
			if err != nil {
				return err
			}
			return pusher.Upload(gctx, m.dst, ml)
		})
	}
	switch {
	case desc.MediaType.IsImage():
		img, err := desc.Image()
		if err != nil {
			return err
		}
		ls, err := img.Layers()
		if err != nil {
			return err
		}
		cl, err := partial.ConfigLayer(img)
		if err != nil {
			return err
		}
		for _, l := range append(ls, cl) {
			upload(l)
		}
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return err
		}
		children, err := partial.Manifests(idx)
		if err != nil {
			return err
		}
		for _, child := range children {
			switch ch := child.(type) {
			case v1.Image:
				g.Go(func() error { return pushChild(gctx, pusher, m.dst, mountImage{Image: ch, m: m}) })
			case v1.ImageIndex:
				g.Go(func() error { return pushChild(gctx, pusher, m.dst, ch) })
			case v1.Layer:
				upload(ch)
			}
		}
	}
	return g.Wait()
}

// pushChild pushes a manifest an index refers to, by digest; the pusher checks it first.
func pushChild(ctx context.Context, pusher *remote.Pusher, repo name.Repository, t interface {
	remote.Taggable
	Digest() (v1.Hash, error)
}) error {
	d, err := t.Digest()
	if err != nil {
		return err
	}
	return pusher.Push(ctx, repo.Digest(d.String()), t)
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
