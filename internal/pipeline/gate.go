package pipeline

import (
	"context"
	"fmt"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gate"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/promote"
)

// Scanner scans one image; internal/scan's Trivy (behind its per-digest
// Caching decorator) satisfies it.
type Scanner interface {
	Scan(ctx context.Context, ref string, img v1.Image) (*gate.Report, error)
}

// RemoteOpener opens a remote image by reference (REPOSITORY@DIGEST).
type RemoteOpener func(ctx context.Context, ref string) (v1.Image, error)

// Gate applies environments' scan policies to images. One scan per digest
// serves every environment: reports are kept by digest, so an image scanned
// from its OCI layout before push is not scanned again when it is promoted.
// It satisfies promote.Gate. A nil Scanner means scanning is disabled: every
// image passes with the verdict "skipped". Policies come compiled with each
// promote.Target; Default (scan.policy, compiled once) gates a build that
// targets no environment.
//
// Reports given to Remember (from the build, or from fan-out result files)
// are reused as they are. Reports the gate obtained from Scanner are reused
// only while Scanner, when it describes its DB (a DB() gate.DBInfo method,
// as internal/scan's scanners have), still uses the DB they were made with:
// a long-running watcher whose DB was refreshed scans again.
type Gate struct {
	Scanner  Scanner
	Open     RemoteOpener
	Default  gate.Policy
	Ignores  *gate.IgnoreList
	Now      func() time.Time
	mu       sync.Mutex
	byDigest map[string]remembered
}

// remembered is a report and whether the gate's own Scanner made it.
type remembered struct {
	report  *gate.Report
	scanned bool
}

// dbDescriber is a Scanner that tells which vulnerability DB it scans with.
type dbDescriber interface {
	DB() gate.DBInfo
}

var _ promote.Gate = (*Gate)(nil)

// Remember records a report so that later checks of its digest reuse it.
// Extra digests (the index digest of a multi-platform image whose platform
// image was scanned) map to the same report.
func (g *Gate) Remember(r *gate.Report, digests ...string) {
	g.remember(remembered{report: r}, digests...)
}

func (g *Gate) remember(e remembered, digests ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.byDigest == nil {
		g.byDigest = map[string]remembered{}
	}
	for _, d := range append(digests, e.report.Image.Digest) {
		g.byDigest[d] = e
	}
}

func (g *Gate) report(digest string) *gate.Report {
	g.mu.Lock()
	e, ok := g.byDigest[digest]
	g.mu.Unlock()
	if !ok {
		return nil
	}
	if d, describes := g.Scanner.(dbDescriber); e.scanned && describes && d.DB().Version() != e.report.DB.Version() {
		return nil // made with an older DB than the scanner's now
	}
	return e.report
}

func (g *Gate) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

// Verdicts evaluates report against the targets' policies; with no target,
// against Default (labelled "default").
func (g *Gate) Verdicts(r *gate.Report, targets []*promote.Target) []gate.Verdict {
	policies := []gate.EnvPolicy{{Env: "default", Policy: g.Default}}
	if len(targets) > 0 {
		policies = make([]gate.EnvPolicy, len(targets))
		for i, t := range targets {
			policies[i] = t.EnvPolicy()
		}
	}
	return gate.EvaluateAll(r, policies, g.Ignores, g.now())
}

// Check scans image (REPOSITORY@DIGEST) — or reuses the report of its digest
// — and applies t's policy.
func (g *Gate) Check(ctx context.Context, t *promote.Target, image string) (gitops.ScanSummary, bool, error) {
	if g.Scanner == nil {
		return gitops.ScanSummary{Verdict: "skipped"}, true, nil
	}
	r, err := g.scanRemote(ctx, image)
	if err != nil {
		return gitops.ScanSummary{}, false, err
	}
	vs := g.Verdicts(r, []*promote.Target{t})
	return Summary(vs[0]), vs[0].Outcome != gate.Block, nil
}

func (g *Gate) scanRemote(ctx context.Context, image string) (*gate.Report, error) {
	if _, digest, ok := cutDigest(image); ok {
		if r := g.report(digest); r != nil {
			return r, nil
		}
	}
	if g.Open == nil {
		return nil, fmt.Errorf("scanning %s: no way to pull remote images", image)
	}
	img, err := g.Open(ctx, image)
	if err != nil {
		return nil, fmt.Errorf("opening %s for scanning: %w", image, err)
	}
	r, err := g.Scanner.Scan(ctx, image, img)
	if err != nil {
		return nil, err
	}
	g.remember(remembered{report: r, scanned: true})
	return r, nil
}

func cutDigest(ref string) (repo, digest string, ok bool) {
	for i := len(ref) - 1; i >= 0; i-- {
		if ref[i] == '@' {
			return ref[:i], ref[i+1:], true
		}
	}
	return ref, "", false
}

// Summary converts a verdict into what reviewers see in PR bodies and
// commit messages.
func Summary(v gate.Verdict) gitops.ScanSummary {
	word := string(v.Outcome)
	if v.Outcome == gate.Block {
		word = "fail"
	}
	s := gitops.ScanSummary{Verdict: word, Counts: map[string]int{}}
	for sev, n := range v.Counts {
		s.Counts[string(sev)] = n
	}
	for _, f := range v.Deciding {
		s.Blocking = append(s.Blocking, gitops.Finding{ID: f.ID, Severity: string(f.Severity), Package: f.Package, Installed: f.Installed, Fixed: f.Fixed, Title: f.Title})
	}
	return s
}

// NewGate is the gate cfg describes, without a scanner: scan.policy
// compiled as every environment's default and scan.ignoreFile loaded. A
// policy or ignore file that does not load is a *UsageError (the CLI exits
// 2). The caller adds Scanner and Open when scanning is enabled.
func NewGate(cfg *config.Config) (*Gate, error) {
	ignores, err := gate.LoadIgnores(cfg, "")
	if err != nil {
		return nil, &UsageError{Err: err}
	}
	def, err := gate.PolicyFromConfig("scan.policy", cfg.Scan.Policy)
	if err != nil {
		return nil, &UsageError{Err: err}
	}
	return &Gate{Default: def, Ignores: ignores}, nil
}
