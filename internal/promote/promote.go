// Package promote owns promotion — gate, copy, write-back — for `automator
// run`, `promote`, `rollback` and `watch`. Promoter is the one type that
// promotes: it takes a resolved Target (environment, compiled gate policy,
// upstream, registry), gates each image against the target's policy, copies
// it into the target's registry when that differs, and lands the result
// through internal/gitops' Writer as one commit or one pull request.
//
// Dependencies point down only: pipeline and watch call promote, promote
// calls gitops (write-back) and the Gate and Copier interfaces declared here;
// gitops knows nothing of gates or promotion.
package promote

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gate"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/holds"
	"github.com/deployment-automator/automator/internal/registry"
)

// Gate decides whether an image may enter a target. pipeline.Gate (the scan
// gate with its per-digest report cache) satisfies it; a nil Gate lets every
// image in unscanned.
type Gate interface {
	// Check scans image (REPOSITORY@DIGEST) against t's policy. allowed is
	// false when the policy blocks it; the summary is shown to reviewers.
	Check(ctx context.Context, t *Target, image string) (summary gitops.ScanSummary, allowed bool, err error)
}

// Copier copies an image between registries keeping its digest (the build
// stage's copy), for targets whose registry differs.
type Copier interface {
	// Copy copies src (REPOSITORY@DIGEST) to dst (REPOSITORY:TAG) and returns
	// the digest at dst. mountFrom are repositories that may hold the
	// image's blobs already (the same service in other environments): hints
	// for mounting instead of uploading.
	Copy(ctx context.Context, src, dst string, mountFrom ...string) (digest string, err error)
}

// DryRunCopier copies nothing: a dry run proposes each image under the
// target's registry, as a real copy would leave it, so the diff and the
// pull request shown are those of a real run, and no registry sees a write.
type DryRunCopier struct{}

var _ Copier = DryRunCopier{}

// Copy implements Copier by answering with src's digest.
func (DryRunCopier) Copy(_ context.Context, src, dst string, _ ...string) (string, error) {
	_, d, ok := strings.Cut(src, "@")
	if !ok || d == "" {
		return "", fmt.Errorf("copying %s to %s: the source names no digest", src, dst)
	}
	return d, nil
}

// RegistryCopier adapts the registry client's Copy to Copier. It never
// forces: a destination tag already pointing at another digest is a
// *registry.TagConflictError, not overwritten.
type RegistryCopier struct {
	Registry interface {
		Copy(ctx context.Context, src, dst string, force bool, opts ...registry.CopyOption) (*registry.Copied, error)
	}
}

var _ Copier = RegistryCopier{}

// Copy implements Copier.
func (r RegistryCopier) Copy(ctx context.Context, src, dst string, mountFrom ...string) (string, error) {
	res, err := r.Registry.Copy(ctx, src, dst, false, registry.MountFrom(mountFrom...))
	if err != nil {
		return "", err
	}
	return res.Digest.String(), nil
}

// Promoter proposes images for a target from its upstream environment, from
// explicit references, or from an earlier commit (rollback). It is the only
// type that promotes; run, promote, rollback and watch all go through it.
type Promoter struct {
	Writer gitops.Writer
	Gate   Gate
	Copier Copier
	// Images maps service names to image repositories as the upstream
	// environment's manifests name them (config services and watch rules).
	Images map[string]string
	// Logger reports what is skipped (may be nil).
	Logger *zap.Logger
	// Registries are the registry prefixes of every environment
	// (RegistriesFromConfig): a copy into one environment's registry is told
	// the same service's repositories in the others, to mount blobs from.
	Registries []string
	// Holds says which services automation must not promote (holds and
	// reverts); nil holds nothing.
	Holds Holds
	// Now is the clock that dates holds and decides freeze windows and
	// soak times (nil: time.Now).
	Now func() time.Time
	// Since reads since when an upstream runs a digest, for soak times
	// (nil: soak times are not enforced).
	Since Since
	// Override is an emergency override of freeze windows: non-empty, it is
	// the reason, which lands in the commit's Automator-Freeze-Override
	// trailer.
	Override string
}

// RegistriesFromConfig lists the environments' registry prefixes, in config
// order, for Promoter.Registries.
func RegistriesFromConfig(cfg *config.Config) []string {
	var out []string
	for _, e := range cfg.Environments {
		if e.Registry != "" {
			out = append(out, e.Registry)
		}
	}
	return out
}

// mountHints are the repositories repo has in environments other than t:
// t's upstream chain first (the image passed through it), then the others.
func (p *Promoter) mountHints(t *Target, repo string) []string {
	var out []string
	seen := map[string]bool{retarget(t, repo): true, repo: true}
	add := func(registry string) {
		r := retarget(&Target{Registry: registry}, repo)
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	visited := map[*Target]bool{t: true}
	for f := t.From; f != nil && !visited[f]; f = f.From {
		visited[f] = true
		if f.Registry != "" {
			add(f.Registry)
		}
	}
	for _, r := range p.Registries {
		add(r)
	}
	return out
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

// retarget maps repo into t's registry when one is set.
func retarget(t *Target, repo string) string {
	if t.Registry == "" {
		return repo
	}
	return strings.TrimRight(t.Registry, "/") + "/" + path.Base(repo)
}

// Promote proposes for t exactly the digests its upstream (t.From) runs now
// (or, when explicit is non-empty, those updates), after t's own gate and
// after copying images into t's registry when it differs. Images the gate
// blocks are listed in the PR; when it blocks all of them the result is a
// *gate.BlockedError. Failures that a retry cannot mend are *TerminalError.
// Held services (p.Holds) are not proposed, and the result lists them
// (Result.Held); when every candidate is held nothing is written, except that
// an open pull request stops carrying their updates.
func (p *Promoter) Promote(ctx context.Context, t *Target, explicit []gitops.Update) (*gitops.Result, error) {
	fz, trailers := p.frozen(t)
	if fz != nil && t.Env.Mode == "commit" {
		p.logger().Info("not committing: the environment is in a freeze window", zap.String("environment", t.Name()),
			zap.Time("until", fz.Until), zap.String("reason", fz.Reason))
		return &gitops.Result{Env: t.Name(), Repo: t.Env.Repo, Branch: t.Env.Branch, Mode: t.Env.Mode, Frozen: fz}, nil
	}
	candidates := explicit
	if len(candidates) == 0 {
		var err error
		if candidates, err = p.upstream(ctx, t); err != nil {
			return nil, err
		}
	}
	candidates, held, err := p.held(ctx, t, candidates)
	if err != nil {
		return nil, err
	}
	var soaking []gitops.Held
	if candidates, soaking, err = p.soaked(ctx, t, candidates); err != nil {
		return nil, err
	}
	held = append(held, soaking...)
	var updates []gitops.Update
	var blocked []gitops.Blocked
	for _, u := range candidates {
		src := u.Repository + "@" + u.Digest
		if p.Gate != nil && u.Digest != "" {
			sum, ok, err := p.Gate.Check(ctx, t, src)
			if err != nil {
				return nil, fmt.Errorf("environment %q: gating %s: %w", t.Name(), src, err)
			}
			if !ok {
				blocked = append(blocked, gitops.Blocked{Service: u.Service, Image: src, Scan: sum})
				continue
			}
			u.Scan = &sum
		}
		u, err := p.copy(ctx, t, u)
		if err != nil {
			return nil, err
		}
		updates = append(updates, u)
	}
	if len(updates) == 0 && len(blocked) > 0 {
		return nil, blockedError(t, blocked)
	}
	res, err := p.Writer.Apply(ctx, gitops.Request{Env: t.Env, Updates: updates, Blocked: blocked, Services: t.Services, Held: held,
		Freeze: fz, Trailers: trailers})
	if errors.Is(err, gitops.ErrProtectedBranch) {
		return nil, &TerminalError{Err: err}
	}
	if err != nil {
		return nil, err
	}
	if len(blocked) > 0 {
		return res, blockedError(t, blocked)
	}
	return res, nil
}

// PromoteUpstream proposes for t, which has an upstream (promoteFrom),
// those of published whose digest the upstream runs now for the same
// service, under published's tags: a release tag names the very digests
// staging already runs, so prod pins them as `2.1.1@sha256:…` and still
// only receives what its upstream runs. A published image the upstream does
// not run is left out with a warning; when none is left the result is a
// *TerminalError (promote the release candidate first). With published
// empty it is Promote with no explicit update.
func (p *Promoter) PromoteUpstream(ctx context.Context, t *Target, published []gitops.Update) (*gitops.Result, error) {
	if len(published) == 0 {
		return p.Promote(ctx, t, nil)
	}
	runs, err := p.upstream(ctx, t)
	if err != nil {
		return nil, err
	}
	digests := map[string]string{}
	for _, u := range runs {
		digests[u.Service] = u.Digest
	}
	var keep []gitops.Update
	var missing []string
	for _, u := range published {
		if digests[u.Service] != u.Digest || u.Digest == "" {
			missing = append(missing, u.Service+"@"+u.Digest)
			p.logger().Warn("not promoting an image the upstream environment does not run", zap.String("environment", t.Name()),
				zap.String("from", t.From.Name()), zap.String("service", u.Service), zap.String("digest", u.Digest), zap.String("upstream", digests[u.Service]))
			continue
		}
		u.PromotedFrom = t.From.Name()
		keep = append(keep, u)
	}
	if len(keep) == 0 {
		return nil, &TerminalError{Err: fmt.Errorf("environment %q takes only what %q runs, which runs none of %s: promote them to %q first",
			t.Name(), t.From.Name(), strings.Join(missing, ", "), t.From.Name())}
	}
	return p.Promote(ctx, t, keep)
}

// upstream reads the digests t's upstream environment pins now.
func (p *Promoter) upstream(ctx context.Context, t *Target) ([]gitops.Update, error) {
	from := t.From
	if from == nil {
		return nil, &TerminalError{Err: fmt.Errorf("environment %q has no promoteFrom; pass --set SERVICE=REPOSITORY:TAG", t.Name())}
	}
	imgs, err := p.Writer.Current(ctx, from.Env, "", p.Images)
	if err != nil {
		return nil, fmt.Errorf("reading what %q runs: %w", from.Name(), err)
	}
	var candidates []gitops.Update
	var byTag []string
	for _, im := range imgs {
		if im.Digest == "" {
			// Promotion proposes digests only: a tag can move under us.
			byTag = append(byTag, fmt.Sprintf("%s (%s:%d)", im.Service, im.File, im.Line))
			p.logger().Warn("not promoting an image pinned by tag only: promotion needs a digest",
				zap.String("environment", from.Name()), zap.String("service", im.Service), zap.String("file", im.File), zap.Int("line", im.Line))
			continue
		}
		candidates = append(candidates, gitops.Update{Service: im.Service, Repository: im.Repository, Tag: im.Tag, Digest: im.Digest, PromotedFrom: from.Name()})
	}
	if len(candidates) == 0 && len(byTag) > 0 {
		return nil, &TerminalError{Err: fmt.Errorf("environment %q pins %s by tag only; promotion needs digests", from.Name(), strings.Join(byTag, ", "))}
	}
	if len(candidates) == 0 {
		return nil, &TerminalError{Err: fmt.Errorf("environment %q pins none of the known images", from.Name())}
	}
	return candidates, nil
}

// copy copies u into t's registry when it differs, keeping the digest.
func (p *Promoter) copy(ctx context.Context, t *Target, u gitops.Update) (gitops.Update, error) {
	src := u.Repository + "@" + u.Digest
	dst := retarget(t, u.Repository)
	if dst == u.Repository {
		return u, nil
	}
	if p.Copier == nil {
		return u, &TerminalError{Err: fmt.Errorf("environment %q: registry %q differs from %s and no image copier is configured", t.Name(), t.Registry, u.Repository)}
	}
	tag := u.Tag
	if tag == "" {
		tag = strings.ReplaceAll(u.Digest, ":", "-")
	}
	d, err := p.Copier.Copy(ctx, src, dst+":"+tag, p.mountHints(t, u.Repository)...)
	if err != nil {
		return u, fmt.Errorf("environment %q: copying %s to %s: %w", t.Name(), src, dst, err)
	}
	if d != u.Digest {
		return u, &TerminalError{Err: fmt.Errorf("environment %q: copying %s to %s changed the digest to %s", t.Name(), src, dst, d)}
	}
	u.Repository = dst
	return u, nil
}

// blockedError is the gate's blocked error for t's images, naming each with
// the findings that blocked it.
func blockedError(t *Target, blocked []gitops.Blocked) error {
	e := &gate.BlockedError{Env: t.Name()}
	for _, b := range blocked {
		repo, digest, _ := strings.Cut(b.Image, "@")
		v := gate.Verdict{Env: t.Name(), Outcome: gate.Block}
		if e := b.Scan.Evidence; e != nil && e.Problem != "" {
			v.Reasons = append(v.Reasons, "unverified: "+e.Problem)
		}
		for _, f := range b.Scan.Blocking {
			v.Deciding = append(v.Deciding, gate.Finding{ID: f.ID, Severity: gate.Severity(f.Severity), Package: f.Package,
				Installed: f.Installed, Fixed: f.Fixed, Title: f.Title})
		}
		e.Images = append(e.Images, gate.Blocked{Service: b.Service, Image: gate.Image{Ref: repo, Digest: digest}, Verdicts: []gate.Verdict{v}})
	}
	return e
}

// ErrNothingToRollBack is returned when the environment already runs what
// the target commit pinned.
var ErrNothingToRollBack = errors.New("the environment already runs the images of that commit")

// Rollback opens a pull request (on automator/rollback-<env>) that restores
// the image values t's files had at commit to ("" = the commit before the
// latest change to its files). The same pull request records a hold on
// every service it rolls back (by and reason say who and why), so that once
// it is merged automation does not promote over it until `automator
// release`.
func (p *Promoter) Rollback(ctx context.Context, t *Target, to, by, reason string) (*gitops.Result, error) {
	env := t.Env
	if to == "" {
		prev, err := p.Writer.Previous(ctx, env)
		if err != nil {
			return nil, err
		}
		to = prev
	}
	images := map[string]string{}
	for s, r := range p.Images {
		images[s] = retarget(t, r)
	}
	then, err := p.Writer.Current(ctx, env, to, images)
	if err != nil {
		return nil, fmt.Errorf("reading environment %q at %s: %w", env.Name, short(to), err)
	}
	now, err := p.Writer.Current(ctx, env, "", images)
	if err != nil {
		return nil, fmt.Errorf("reading environment %q: %w", env.Name, err)
	}
	cur := map[string]gitops.Image{}
	for _, im := range now {
		cur[im.Service] = im
	}
	var updates []gitops.Update
	for _, im := range then {
		c, ok := cur[im.Service]
		if ok && c.Tag == im.Tag && c.Digest == im.Digest {
			continue
		}
		updates = append(updates, gitops.Update{Service: im.Service, Repository: im.Repository, Tag: im.Tag, Digest: im.Digest})
	}
	if len(updates) == 0 {
		return nil, fmt.Errorf("environment %q at %s: %w", env.Name, short(to), ErrNothingToRollBack)
	}
	env.Mode = "pull-request"
	if reason == "" {
		reason = "rolled back to " + short(to)
	}
	at := p.now().UTC().Truncate(time.Second)
	var edits []gitops.FileEdit
	var trailers []string
	for _, u := range updates {
		edits = append(edits, holds.AddEdit(env, holds.Hold{Environment: env.Name, Service: u.Service, By: by, At: at, Reason: reason}))
		trailers = append(trailers, "Automator-Hold: "+u.Service)
	}
	trailers = append(trailers, holdTrailers("Automator-Rollback", short(to), by, reason)...)
	return p.Writer.Apply(ctx, gitops.Request{
		Env: env, Updates: updates, Branch: "automator/rollback-" + env.Name, Services: t.Services,
		Title:      fmt.Sprintf("Roll back %s to %s", env.Name, short(to)),
		Note:       fmt.Sprintf("Restores the image values `%s` had at commit `%s`, and holds the services it rolls back (%s) until `automator release`.", env.Name, to, reason),
		Edits:      edits,
		Trailers:   trailers,
		RollbackTo: to,
	})
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// TerminalError marks a promotion failure that retrying the same promotion
// cannot mend (the upstream pins no digest, the registry copy changed the
// digest, the branch refuses direct commits): only a change of config, of
// the manifests or of the image can. Everything else — network, rate
// limits, a branch that kept moving — is retryable. The watcher retries only
// retryable failures; see IsTerminal.
type TerminalError struct{ Err error }

func (e *TerminalError) Error() string { return e.Err.Error() }

// Unwrap returns the failure.
func (e *TerminalError) Unwrap() error { return e.Err }

// IsTerminal reports whether err (or an error it wraps) is a *TerminalError.
func IsTerminal(err error) bool {
	var te *TerminalError
	return errors.As(err, &te)
}
