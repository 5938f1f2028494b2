package pipeline

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/build"
	"github.com/deployment-automator/automator/internal/evidence"
	"github.com/deployment-automator/automator/internal/gate"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/promote"
	"github.com/deployment-automator/automator/internal/registry"
)

// Builder builds one service into an OCI layout; build.Builder satisfies it.
type Builder interface {
	Build(ctx context.Context, req build.Request) (*build.Result, error)
}

// LayoutOpener opens the image of an OCI layout for scanning
// (scan.OpenLayout).
type LayoutOpener func(dir string) (v1.Image, error)

// Pusher pushes an OCI layout to repositories; registry.Client satisfies it.
type Pusher interface {
	Push(ctx context.Context, dir string, digest v1.Hash, repos []string, tags []string) (*registry.Pushed, error)
}

// EvidenceWriter signs a pushed image (REPOSITORY@DIGEST) and attests its
// scan report (nil when not scanned); evidence.Writer satisfies it.
type EvidenceWriter interface {
	Write(ctx context.Context, image string, report *gate.Report) ([]evidence.Attached, error)
}

// Image is the outcome of one service's build, scan and push. Its JSON form
// is the result file a fan-out matrix job uploads and `promote --results`
// reads back, so it is stable.
type Image struct {
	Service    string   `json:"service"`
	Image      string   `json:"image"`
	Tags       []string `json:"tags"`
	Digest     string   `json:"digest"`
	Pushed     bool     `json:"pushed"`
	References []string `json:"references,omitempty"`
	// Layout is the OCI layout directory when it is kept.
	Layout string `json:"layout,omitempty"`
	// Verdicts are the gate's verdicts per target environment.
	Verdicts []gate.Verdict `json:"verdicts,omitempty"`
	// Allowed are the environments the image may enter; Blocked those whose
	// gate blocks it.
	Allowed []string `json:"allowed,omitempty"`
	Blocked []string `json:"blocked,omitempty"`
	// Report is the scan report, kept so that promotion does not scan again.
	Report *gate.Report `json:"report,omitempty"`
	// Source is the app commit range the image was built from.
	Source *gitops.Source `json:"source,omitempty"`
	// Evidence are the signatures and attestations written for the pushed
	// image, one set per repository (sign in the config).
	Evidence []evidence.Attached `json:"evidence,omitempty"`
	// BuiltAt is when the image was built; the newest update per service wins.
	BuiltAt time.Time `json:"builtAt"`
	// Retagged is true when the run did not build the image but found the
	// commit's image published (under a commit tag) and tagged it again.
	Retagged bool `json:"retagged,omitempty"`
	// Error is the one-line reason the service failed (its build, scan or
	// push), set only on the entries ForReport returns; such an entry is
	// never promoted.
	Error string `json:"error,omitempty"`
}

// ServiceError is the failure of one service's build, scan or push, with
// what the service was to produce, so that reports list it like the others.
// Its text is the cause's.
type ServiceError struct {
	Service string
	Image   string
	Tags    []string
	Err     error
}

func (e *ServiceError) Error() string { return e.Err.Error() }
func (e *ServiceError) Unwrap() error { return e.Err }

// BuildStage builds, scans and pushes services. An image blocked for every
// target environment is not pushed; one blocked only for some is pushed and
// promoted to the others.
type BuildStage struct {
	Builder    Builder
	OpenLayout LayoutOpener
	Gate       *Gate
	Pusher     Pusher // nil: build (and scan) only
	// Registry, when set with Pusher, is asked first whether the commit's
	// image is already published under one of the plan's commit tags: then
	// nothing is built, and the published image is scanned and tagged again
	// by digest (build once per commit, whatever the event). It also keeps
	// a build's push from re-pointing a commit tag. Nil builds every time.
	Registry Retagger
	// Evidence signs and attests every pushed image (nil: unsigned).
	Evidence    EvidenceWriter
	Logger      *zap.Logger
	Parallelism int
	// KeepLayouts records layout directories in the results.
	KeepLayouts bool
	// Group, when set, wraps each service's work (GitHub Actions ::group::).
	Group func(service string, work func(log *zap.Logger) error) error
	Now   func() time.Time
	// ProgressEvery logs a progress line (services done of total, built,
	// pushed, blocked, failed, elapsed time) each time that many services
	// finished, and when the last one did: with hundreds of services a
	// person watching the job sees it advance. 0 means every twentieth of
	// the services, at least every 10.
	ProgressEvery int
}

// progress counts finished services for BuildStage's progress lines.
type progress struct {
	log   *zap.Logger
	every int
	total int
	start time.Time
	now   func() time.Time

	mu                                   sync.Mutex
	done, built, pushed, blocked, failed int
}

func (p *progress) finished(im *Image, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	switch {
	case err != nil:
		p.failed++
	case im != nil && len(im.Blocked) > 0 && len(im.Allowed) == 0:
		p.blocked++
	}
	if im != nil && im.Digest != "" {
		p.built++
	}
	if im != nil && im.Pushed {
		p.pushed++
	}
	if p.done%p.every == 0 || p.done == p.total {
		p.log.Info("build progress", zap.Int("done", p.done), zap.Int("total", p.total), zap.Int("built", p.built),
			zap.Int("pushed", p.pushed), zap.Int("blocked", p.blocked), zap.Int("failed", p.failed),
			zap.Duration("elapsed", p.now().Sub(p.start).Round(time.Millisecond)))
	}
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

// Run builds every plan (at most Parallelism at once) and returns the images
// that were built, in plan order, and an error that names what failed: a
// *build.FailedError when a build, scan or push failed (exit 1), else a
// *gate.BlockedError when the gate blocked an image for every target (exit
// 3). targets are the environments whose policies decide; with none, the
// default policy (scan.policy) decides whether to push.
func (s *BuildStage) Run(ctx context.Context, plans []build.Plan, targets []*promote.Target, source *gitops.Source) ([]*Image, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	log := s.Logger
	if log == nil {
		log = zap.NewNop()
	}
	images := make([]*Image, len(plans))
	index := make(map[string]int, len(plans))
	for i, p := range plans {
		if _, ok := index[p.Service]; !ok {
			index[p.Service] = i
		}
	}
	every := s.ProgressEvery
	if every <= 0 {
		every = max(10, (len(plans)+19)/20)
	}
	prog := &progress{log: log, every: every, total: len(plans), start: now(), now: now}
	outcomes := build.ForEach(ctx, s.Parallelism, plans, func(ctx context.Context, p build.Plan) error {
		i := index[p.Service]
		work := func(l *zap.Logger) error {
			im, err := s.one(ctx, l, p, targets, source, now())
			images[i] = im
			prog.finished(im, err)
			return err
		}
		var err error
		if s.Group != nil {
			err = s.Group(p.Service, work)
		} else {
			err = work(log.With(zap.String("service", p.Service)))
		}
		if err != nil {
			return &ServiceError{Service: p.Service, Image: p.Image, Tags: p.Tags, Err: err}
		}
		return nil
	})
	var out []*Image
	var blocked []*Image
	for _, im := range images {
		if im == nil {
			continue
		}
		out = append(out, im)
		if len(im.Blocked) > 0 && len(im.Allowed) == 0 {
			blocked = append(blocked, im)
		}
	}
	if err := build.Summarize(outcomes, func(p build.Plan) string { return p.Service }); err != nil {
		return out, err
	}
	if len(blocked) > 0 {
		return out, blockedError(blocked)
	}
	return out, nil
}

// blockedError is the gate's blocked error for images blocked everywhere.
func blockedError(images []*Image) error {
	e := &gate.BlockedError{}
	for _, im := range images {
		b := gate.Blocked{Service: im.Service, Image: gate.Image{Ref: im.Image, Digest: im.Digest}}
		for _, v := range im.Verdicts {
			if v.Outcome == gate.Block {
				b.Verdicts = append(b.Verdicts, v)
			}
		}
		e.Images = append(e.Images, b)
	}
	return e
}

func (s *BuildStage) one(ctx context.Context, log *zap.Logger, p build.Plan, targets []*promote.Target, source *gitops.Source, at time.Time) (*Image, error) {
	if s.Pusher != nil && s.Registry != nil {
		digest, ok, err := s.published(ctx, p)
		if err != nil {
			return nil, err
		}
		if ok {
			return s.retag(ctx, log, p, digest, targets, source, at)
		}
	}
	log.Info("building image", zap.Strings("tags", p.Tags))
	// The builder's own output lines go to this service's log (its group
	// in GitHub Actions), never to a log shared with the other builds.
	req := p.Request
	req.Log = log
	res, err := s.Builder.Build(ctx, req)
	if err != nil {
		return nil, err
	}
	im := &Image{Service: p.Service, Image: p.Image, Tags: p.Tags, Digest: res.Digest.String(), Source: source, BuiltAt: at}
	if s.KeepLayouts {
		im.Layout = res.Layout
	}
	log = log.With(zap.String("digest", im.Digest))
	log.Info("built image")

	if s.Gate != nil && s.Gate.Scanner != nil {
		img, err := s.OpenLayout(res.Layout)
		if err != nil {
			return im, fmt.Errorf("opening the built image of %s: %w", p.Service, err)
		}
		report, err := s.Gate.Scanner.Scan(ctx, p.Image+"@"+im.Digest, img)
		if err != nil {
			return im, fmt.Errorf("scanning %s: %w", p.Service, err)
		}
		s.Gate.Remember(report, im.Digest)
		if !s.judge(log, im, report, targets) {
			return im, nil
		}
	} else {
		allowAll(im, targets)
	}
	if s.Pusher == nil {
		return im, nil
	}
	if err := s.keepCommitTags(ctx, p, res.Digest); err != nil {
		return im, fmt.Errorf("pushing %s: %w", p.Service, err)
	}
	pushed, err := s.Pusher.Push(ctx, res.Layout, res.Digest, p.Repositories, p.Tags)
	if err != nil {
		return im, fmt.Errorf("pushing %s: %w", p.Service, err)
	}
	im.Pushed, im.References = true, pushed.References
	log.Info("pushed image", zap.Strings("references", pushed.References))
	if s.Evidence != nil {
		for _, repo := range p.Repositories {
			att, err := s.Evidence.Write(ctx, repo+"@"+im.Digest, im.Report)
			if err != nil {
				return im, fmt.Errorf("signing %s: %w", p.Service, err)
			}
			im.Evidence = append(im.Evidence, att...)
		}
		log.Info("signed image", zap.Any("evidence", im.Evidence))
	}
	return im, nil
}

// judge records report and the targets' verdicts on im and reports whether
// any target lets it in (false: it must not be pushed).
func (s *BuildStage) judge(log *zap.Logger, im *Image, report *gate.Report, targets []*promote.Target) bool {
	im.Report = report
	im.Verdicts = s.Gate.Verdicts(report, targets)
	for _, v := range im.Verdicts {
		switch v.Outcome {
		case gate.Block:
			im.Blocked = append(im.Blocked, v.Env)
			log.Warn("vulnerability gate blocked the image", zap.String("environment", v.Env), zap.Strings("reasons", v.Reasons))
		case gate.Warn:
			im.Allowed = append(im.Allowed, v.Env)
			log.Warn("vulnerability gate warns", zap.String("environment", v.Env), zap.Strings("reasons", v.Reasons))
		default:
			im.Allowed = append(im.Allowed, v.Env)
		}
	}
	log.Info("scanned image", zap.Int("findings", len(report.Findings)), zap.Strings("allowed", im.Allowed), zap.Strings("blocked", im.Blocked))
	if len(im.Allowed) == 0 {
		log.Warn("not pushing: blocked for every target environment")
		return false
	}
	return true
}

// allowAll lets im into every target (scanning is disabled).
func allowAll(im *Image, targets []*promote.Target) {
	for _, t := range targets {
		im.Allowed = append(im.Allowed, t.Name())
	}
}

// Updates turns built images into write-back updates, one per service,
// newest build winning, sorted by service: pushed images, and images the
// gate blocked (the write-back's gate keeps those out again and lists them
// for reviewers with their findings). With requirePushed false (dry runs,
// which push nothing) every built image counts as if pushed.
func Updates(images []*Image, requirePushed bool) []gitops.Update {
	byService := map[string]*Image{}
	for _, im := range images {
		if im.Error != "" || (requirePushed && !im.Pushed && len(im.Blocked) == 0) {
			continue
		}
		if cur, ok := byService[im.Service]; !ok || im.BuiltAt.After(cur.BuiltAt) {
			byService[im.Service] = im
		}
	}
	out := make([]gitops.Update, 0, len(byService))
	for _, im := range byService {
		tag := ""
		if len(im.Tags) > 0 {
			tag = im.Tags[len(im.Tags)-1]
		}
		out = append(out, gitops.Update{Service: im.Service, Repository: im.Image, Tag: tag, Digest: im.Digest, Source: im.Source, At: im.BuiltAt})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out
}
