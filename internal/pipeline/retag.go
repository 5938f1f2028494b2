package pipeline

import (
	"context"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/build"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/promote"
	"github.com/deployment-automator/automator/internal/registry"
)

// Retagger finds a commit's image already published and tags it again by
// digest, so that a commit is built once whatever the event (a push to
// main, then its release-candidate and release tags); registry.Client
// satisfies it.
type Retagger interface {
	// Digest is the digest ref (REPOSITORY:TAG) points to; an error for
	// which registry.IsNotFound holds means there is no such tag.
	Digest(ctx context.Context, ref string) (v1.Hash, error)
	// Copy tags src (REPOSITORY@DIGEST) as dst (REPOSITORY:TAG), keeping
	// the digest. Without force a tag that already points to another
	// digest is a *registry.TagConflictError, never moved.
	Copy(ctx context.Context, src, dst string, force bool, opts ...registry.CopyOption) (*registry.Copied, error)
}

var _ Retagger = (*registry.Client)(nil)

// published returns the digest the registry holds under one of p's commit
// tags in p's primary repository, and false when it holds none of them.
// A registry that cannot answer is an error, not a reason to build: the
// build's push could then move a commit tag.
func (s *BuildStage) published(ctx context.Context, p build.Plan) (v1.Hash, bool, error) {
	for _, tag := range p.CommitTags {
		ref := p.Image + ":" + tag
		d, err := s.Registry.Digest(ctx, ref)
		switch {
		case err == nil:
			return d, true, nil
		case !registry.IsNotFound(err):
			return v1.Hash{}, false, fmt.Errorf("looking up the commit's image %s: %w", ref, err)
		}
	}
	return v1.Hash{}, false, nil
}

// keepCommitTags refuses to push digest when one of p's commit tags already
// names another digest (another run of the same commit published first, and
// the build did not reproduce its digest): a tag that names a commit is
// never re-pointed.
func (s *BuildStage) keepCommitTags(ctx context.Context, p build.Plan, digest v1.Hash) error {
	if s.Registry == nil {
		return nil
	}
	for _, tag := range p.CommitTags {
		ref := p.Image + ":" + tag
		d, err := s.Registry.Digest(ctx, ref)
		switch {
		case err == nil && d != digest:
			return &registry.TagConflictError{Tag: ref, Existing: d, Want: digest}
		case err != nil && !registry.IsNotFound(err):
			return fmt.Errorf("checking the commit tag %s: %w", ref, err)
		}
	}
	return nil
}

// retag publishes the commit's image found at digest under every tag of p,
// in every repository of p, by digest: nothing is built and nothing but
// manifests (and, for mirrors, missing blobs) is sent. The gate judges the
// registry's image, scanned once per digest, as it judges a fresh build.
func (s *BuildStage) retag(ctx context.Context, log *zap.Logger, p build.Plan, digest v1.Hash, targets []*promote.Target, source *gitops.Source, at time.Time) (*Image, error) {
	im := &Image{Service: p.Service, Image: p.Image, Tags: p.Tags, Digest: digest.String(), Source: source, BuiltAt: at, Retagged: true}
	log = log.With(zap.String("digest", im.Digest))
	log.Info("the commit's image is already published: tagging it again instead of building", zap.Strings("tags", p.Tags))
	if s.Gate != nil && s.Gate.Scanner != nil {
		report, err := s.Gate.scanRemote(ctx, p.Image+"@"+im.Digest)
		if err != nil {
			return im, fmt.Errorf("scanning %s: %w", p.Service, err)
		}
		if !s.judge(log, im, report, targets) {
			return im, nil
		}
	} else {
		allowAll(im, targets)
	}
	src := p.Image + "@" + im.Digest
	for _, repo := range p.Repositories {
		for _, tag := range p.Tags {
			c, err := s.Registry.Copy(ctx, src, repo+":"+tag, false)
			if err != nil {
				return im, fmt.Errorf("tagging %s as %s:%s: %w", src, repo, tag, err)
			}
			im.References = append(im.References, c.Reference)
		}
	}
	im.Pushed = true
	log.Info("tagged image", zap.Strings("references", im.References))
	return im, nil
}
