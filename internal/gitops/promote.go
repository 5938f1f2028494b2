package gitops

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/config"
)

// Gate decides whether an image may enter an environment. It is satisfied by
// the scan gate's adapter in cmd; nil allows everything unscanned.
type Gate interface {
	// Check scans image (REPOSITORY@DIGEST) against env's policy. allowed is
	// false when the policy blocks it; the summary is shown to reviewers.
	Check(ctx context.Context, env config.Environment, image string) (summary ScanSummary, allowed bool, err error)
}

// Copier copies an image between registries keeping its digest (the build
// stage's copy), for environments whose registry differs.
type Copier interface {
	// Copy copies src (REPOSITORY@DIGEST) to dst (REPOSITORY:TAG) and returns
	// the digest at dst.
	Copy(ctx context.Context, src, dst string) (digest string, err error)
}

// DryRunCopier copies nothing: a dry run proposes each image under the
// environment's registry, as a real copy would leave it, so the diff and the
// pull request shown are those of a real run, and no registry sees a write.
type DryRunCopier struct{}

var _ Copier = DryRunCopier{}

// Copy implements Copier by answering with src's digest.
func (DryRunCopier) Copy(_ context.Context, src, dst string) (string, error) {
	_, d, ok := strings.Cut(src, "@")
	if !ok || d == "" {
		return "", fmt.Errorf("copying %s to %s: the source names no digest", src, dst)
	}
	return d, nil
}

// Promoter proposes images for an environment from its promoteFrom
// environment, from explicit references, or from an earlier commit.
type Promoter struct {
	Writer Writer
	Gate   Gate
	Copier Copier
	// Images maps service names to image repositories as the upstream
	// environment's manifests name them (config services and watch rules).
	Images map[string]string
	// Logger reports what is skipped (may be nil).
	Logger *zap.Logger
}

func (p *Promoter) logger() *zap.Logger {
	if p.Logger == nil {
		return zap.NewNop()
	}
	return p.Logger
}

// ImagesFromConfig maps every service and watch rule to its image.
func ImagesFromConfig(cfg *config.Config) map[string]string {
	m := map[string]string{}
	for _, s := range cfg.Services {
		m[s.Name] = s.Image
	}
	if cfg.Watch != nil {
		for _, r := range cfg.Watch.Rules {
			m[r.Name] = r.Image
		}
	}
	return m
}

// retarget maps repo into env's registry when one is set.
func retarget(env config.Environment, repo string) string {
	if env.Registry == "" {
		return repo
	}
	return strings.TrimRight(env.Registry, "/") + "/" + path.Base(repo)
}

// Promote proposes for env exactly the digests its promoteFrom environment
// runs now (or, when explicit is non-empty, those updates), after env's own
// gate and after copying images into env's registry when it differs. Images
// the gate blocks are listed in the PR; when it blocks all of them the
// result is a *BlockedError.
func (p *Promoter) Promote(ctx context.Context, env config.Environment, from *config.Environment, explicit []Update) (*Result, error) {
	var candidates []Update
	switch {
	case len(explicit) > 0:
		candidates = explicit
	case from == nil:
		return nil, fmt.Errorf("environment %q has no promoteFrom; pass --set SERVICE=REF@DIGEST", env.Name)
	default:
		imgs, err := p.Writer.Current(ctx, *from, "", p.Images)
		if err != nil {
			return nil, fmt.Errorf("reading what %q runs: %w", from.Name, err)
		}
		var byTag []string
		for _, im := range imgs {
			if im.Digest == "" {
				// Promotion proposes digests only: a tag can move under us.
				byTag = append(byTag, fmt.Sprintf("%s (%s:%d)", im.Service, im.File, im.Line))
				p.logger().Warn("not promoting an image pinned by tag only: promotion needs a digest",
					zap.String("environment", from.Name), zap.String("service", im.Service), zap.String("file", im.File), zap.Int("line", im.Line))
				continue
			}
			candidates = append(candidates, Update{Service: im.Service, Repository: im.Repository, Tag: im.Tag, Digest: im.Digest, PromotedFrom: from.Name})
		}
		if len(candidates) == 0 && len(byTag) > 0 {
			return nil, fmt.Errorf("environment %q pins %s by tag only; promotion needs digests", from.Name, strings.Join(byTag, ", "))
		}
		if len(candidates) == 0 {
			return nil, fmt.Errorf("environment %q pins none of the known images", from.Name)
		}
	}
	var updates []Update
	var blocked []Blocked
	for _, u := range candidates {
		src := u.Repository + "@" + u.Digest
		if p.Gate != nil && u.Digest != "" {
			sum, ok, err := p.Gate.Check(ctx, env, src)
			if err != nil {
				return nil, fmt.Errorf("environment %q: gating %s: %w", env.Name, src, err)
			}
			if !ok {
				blocked = append(blocked, Blocked{Service: u.Service, Image: src, Scan: sum})
				continue
			}
			u.Scan = &sum
		}
		if dst := retarget(env, u.Repository); dst != u.Repository {
			if p.Copier == nil {
				return nil, fmt.Errorf("environment %q: registry %q differs from %s and no image copier is configured", env.Name, env.Registry, u.Repository)
			}
			tag := u.Tag
			if tag == "" {
				tag = strings.ReplaceAll(u.Digest, ":", "-")
			}
			d, err := p.Copier.Copy(ctx, src, dst+":"+tag)
			if err != nil {
				return nil, fmt.Errorf("environment %q: copying %s to %s: %w", env.Name, src, dst, err)
			}
			if d != u.Digest {
				return nil, fmt.Errorf("environment %q: copying %s to %s changed the digest to %s", env.Name, src, dst, d)
			}
			u.Repository = dst
		}
		updates = append(updates, u)
	}
	if len(updates) == 0 && len(blocked) > 0 {
		return nil, &BlockedError{Env: env.Name, Blocked: blocked}
	}
	res, err := p.Writer.Apply(ctx, Request{Env: env, Updates: updates, Blocked: blocked, Services: p.Images})
	if err != nil {
		return nil, err
	}
	if len(blocked) > 0 {
		return res, &BlockedError{Env: env.Name, Blocked: blocked}
	}
	return res, nil
}

// ErrNothingToRollBack is returned when the environment already runs what
// the target commit pinned.
var ErrNothingToRollBack = errors.New("the environment already runs the images of that commit")

// Rollback opens a pull request (on automator/rollback-<env>) that restores
// the image values env's files had at commit to ("" = the commit before the
// latest change to its files).
func (p *Promoter) Rollback(ctx context.Context, env config.Environment, to string) (*Result, error) {
	if to == "" {
		prev, err := p.Writer.Previous(ctx, env)
		if err != nil {
			return nil, err
		}
		to = prev
	}
	images := map[string]string{}
	for s, r := range p.Images {
		images[s] = retarget(env, r)
	}
	then, err := p.Writer.Current(ctx, env, to, images)
	if err != nil {
		return nil, fmt.Errorf("reading environment %q at %s: %w", env.Name, short(to), err)
	}
	now, err := p.Writer.Current(ctx, env, "", images)
	if err != nil {
		return nil, fmt.Errorf("reading environment %q: %w", env.Name, err)
	}
	cur := map[string]Image{}
	for _, im := range now {
		cur[im.Service] = im
	}
	var updates []Update
	for _, im := range then {
		c, ok := cur[im.Service]
		if ok && c.Tag == im.Tag && c.Digest == im.Digest {
			continue
		}
		updates = append(updates, Update{Service: im.Service, Repository: im.Repository, Tag: im.Tag, Digest: im.Digest})
	}
	if len(updates) == 0 {
		return nil, fmt.Errorf("environment %q at %s: %w", env.Name, short(to), ErrNothingToRollBack)
	}
	env.Mode = "pull-request"
	return p.Writer.Apply(ctx, Request{
		Env: env, Updates: updates, Branch: "automator/rollback-" + env.Name, Services: p.Images,
		Title: fmt.Sprintf("Roll back %s to %s", env.Name, short(to)),
		Note:  fmt.Sprintf("Restores the image values `%s` had at commit `%s`.", env.Name, to),
	})
}
